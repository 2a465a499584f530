// SPDX-License-Identifier: GPL-2.0

//! The crash test's trigger, in the style of LKDTM. Present only when the module is loaded
//! with `crash_test=1`: `/sys/kernel/debug/vmashadow_crash/trigger` takes
//!
//! ```text
//! hold MS      hold the writer's mmap_lock for writing for MS (1..10000) milliseconds
//! read ADDR    read one byte at user address ADDR (hex) from kernel mode, with no
//!              exception table entry: on a contended mmap_lock this oopses
//! borrow ADDR  a kernel thread borrows the writer's mm (kthread_use_mm()) and reads one
//!              byte at ADDR with copy_from_user(): it must wait for a contended mmap_lock
//! ```
//!
//! The second one kills the task that writes it if the fault cannot be served. That is the
//! point: the 2008 rule says a kernel fault without a fixup must oops, not deadlock.

use crate::control;
use core::fmt;
use kernel::{
    debugfs::{Dir, File},
    prelude::*,
    uaccess::UserSliceReader,
};

extern "C" {
    fn vmashadow_crash_read_user(addr: *const c_void) -> u8;
    fn vmashadow_crash_hold_mmap_write(ms: c_uint) -> c_int;
    fn vmashadow_crash_kthread_read(addr: *const c_void) -> c_int;
}

/// The highest user address on x86-64 with 4-level paging (`TASK_SIZE_MAX`).
const USER_MAX: usize = 0x7fff_ffff_f000;

/// Parses a hex user address (with or without `0x`), refusing 0 and kernel addresses.
fn user_addr(arg: &str) -> Result<usize> {
    let hex = arg.strip_prefix("0x").unwrap_or(arg);
    let addr = usize::from_str_radix(hex, 16).map_err(|_| EINVAL)?;
    if addr == 0 || addr >= USER_MAX {
        return Err(EINVAL);
    }
    Ok(addr)
}

fn trigger_show(_: &(), f: &mut fmt::Formatter<'_>) -> fmt::Result {
    writeln!(f, "hold MS | read ADDR | borrow ADDR")
}

fn trigger_store(_: &(), r: &mut UserSliceReader) -> Result {
    let mut buf = [0u8; 32];
    let mut words = control::token(r, &mut buf)?.split_whitespace();
    let (cmd, arg) = (words.next().ok_or(EINVAL)?, words.next().ok_or(EINVAL)?);
    if words.next().is_some() {
        return Err(EINVAL);
    }
    match cmd {
        "hold" => {
            let ms = arg.parse::<u32>().map_err(|_| EINVAL)?;
            if !(1..=10000).contains(&ms) {
                return Err(EINVAL);
            }
            // SAFETY: Process context (a debugfs write), may sleep; the shim checks `current->mm`.
            kernel::error::to_result(unsafe { vmashadow_crash_hold_mmap_write(ms) })
        }
        "read" => {
            let addr = user_addr(arg)?;
            // SAFETY: Deliberately unsafe for the kernel, not for memory: the address is a user
            // address (checked above), read inside a user-access window. If the fault cannot be
            // served, the kernel oopses and kills this task; that is what the test asks for.
            let v = unsafe { vmashadow_crash_read_user(addr as *const c_void) };
            pr_info!("crash_test: read user byte {:#04x}\n", v);
            Ok(())
        }
        "borrow" => {
            let addr = user_addr(arg)?;
            // SAFETY: Process context, may sleep; the shim pins `current->mm` for the kernel
            // thread and reads the user address with `copy_from_user()`, which has a fixup.
            kernel::error::to_result(unsafe { vmashadow_crash_kthread_read(addr as *const c_void) })
        }
        _ => Err(EINVAL),
    }
}

/// The trigger file and its directory; removed on drop.
#[pin_data]
pub(crate) struct Trigger {
    #[pin]
    trigger: File<()>,
    _dir: Dir,
}

impl Trigger {
    /// Creates `/sys/kernel/debug/vmashadow_crash/trigger`.
    pub(crate) fn new() -> impl PinInit<Self, Error> {
        let dir = Dir::new(c"vmashadow_crash");
        try_pin_init!(Self {
            trigger <- dir.read_write_callback_file(c"trigger", (), &trigger_show, &trigger_store),
            _dir: dir,
        }? Error)
    }
}
