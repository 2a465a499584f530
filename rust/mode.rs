// SPDX-License-Identifier: GPL-2.0

//! Which path page faults take, switchable at runtime.

use kernel::{
    prelude::*,
    sync::atomic::{ordering::Relaxed, Atomic},
};

/// A fault-path mode. The order is the order of the stats columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Mode {
    /// The hook passes: the unmodified kernel.
    Stock = 0,
    /// Every fault takes the careful mmap_lock path: the world of the 2008 thread.
    Mmap = 1,
    /// The kernel's own per-VMA lock path, extended to kernel-mode uaccess faults, no index.
    PerVma = 2,
    /// The shadow index first, then the per-VMA path, then the careful path.
    Shadow = 3,
}

impl Mode {
    /// Every mode, in column order.
    pub(crate) const ALL: [Mode; 4] = [Mode::Stock, Mode::Mmap, Mode::PerVma, Mode::Shadow];

    /// The name used in debugfs and in the module parameter's documentation.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Mode::Stock => "stock",
            Mode::Mmap => "mmap",
            Mode::PerVma => "pervma",
            Mode::Shadow => "shadow",
        }
    }

    /// Parses a mode name (surrounding whitespace ignored).
    pub(crate) fn parse(s: &str) -> Result<Mode> {
        let s = s.trim();
        Mode::ALL.into_iter().find(|m| m.name() == s).ok_or(EINVAL)
    }

    /// The mode with number `n` (the `mode` module parameter).
    pub(crate) fn from_index(n: u32) -> Result<Mode> {
        Mode::ALL.get(n as usize).copied().ok_or(EINVAL)
    }

    fn from_u32(v: u32) -> Mode {
        Mode::ALL.get(v as usize).copied().unwrap_or(Mode::Stock)
    }
}

static MODE: Atomic<u32> = Atomic::new(Mode::Stock as u32);
static KERNEL_FAULTS: Atomic<bool> = Atomic::new(true);

/// The current mode. Read on every fault, so a plain relaxed load: a fault racing with a
/// switch may take either path, and both are correct.
#[inline]
pub(crate) fn current() -> Mode {
    Mode::from_u32(MODE.load(Relaxed))
}

/// Switches mode.
pub(crate) fn set(mode: Mode) {
    MODE.store(mode as u32, Relaxed);
}

/// Whether `pervma` and `shadow` also serve kernel-mode uaccess faults.
#[inline]
pub(crate) fn kernel_faults() -> bool {
    KERNEL_FAULTS.load(Relaxed)
}

/// Sets the `kernel_faults` knob.
pub(crate) fn set_kernel_faults(on: bool) {
    KERNEL_FAULTS.store(on, Relaxed);
}
