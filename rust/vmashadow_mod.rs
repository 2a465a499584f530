// SPDX-License-Identifier: GPL-2.0

//! vmashadow: a lockless VMA lookup cache for the x86 page-fault path.
//!
//! The module will keep, per mm, a maple-tree shadow index of VMAs read under
//! RCU, and answer the fault path's lookup before any mmap_lock is taken. For
//! now it only creates its debugfs directory:
//!
//! ```text
//! # insmod vmashadow.ko
//! # ls /sys/kernel/debug/vmashadow/
//! # rmmod vmashadow
//! ```

use kernel::{debugfs::Dir, prelude::*};

module! {
    type: VmaShadow,
    name: "vmashadow",
    authors: ["vmashadow developers"],
    description: "Lockless VMA lookup cache for the x86 page-fault path",
    license: "GPL",
}

struct VmaShadow {
    /// Removes `/sys/kernel/debug/vmashadow/` (and all below it) on drop.
    _debugfs: Dir,
}

impl kernel::Module for VmaShadow {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let debugfs = Dir::new(c"vmashadow");
        pr_info!("loaded\n");
        Ok(Self { _debugfs: debugfs })
    }
}

impl Drop for VmaShadow {
    fn drop(&mut self) {
        pr_info!("unloaded\n");
    }
}
