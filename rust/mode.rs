// SPDX-License-Identifier: GPL-2.0

//! Which path page faults take, switchable at runtime.

use core::{fmt, str::FromStr};
use kernel::{prelude::*, sync::atomic::AtomicType};

/// A fault-path mode. The order is the order of the stats columns. `scripts/modes` lists the
/// modes for the scripts and reports; `make lint` checks that it matches this enum.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
pub(crate) enum Mode {
    /// The hook is not consulted: the unmodified kernel.
    Stock = 0,
    /// Every fault takes the careful mmap_lock path: the world of the 2008 thread.
    Mmap = 1,
    /// The kernel's own per-VMA lock path, extended to kernel-mode uaccess faults, no index.
    PerVma = 2,
    /// The shadow index first, then the per-VMA path, then the careful path.
    Shadow = 3,
    /// The shadow index, then a fault that locks nothing and is validated under the PTE lock,
    /// where the core can; otherwise as `Shadow`.
    Spec = 4,
}

// SAFETY: `Mode` is `repr(i32)`, so it has the size and alignment of `i32`, and every `Mode`
// round-trips through its `i32`; an `Atomic<Mode>` only ever holds values stored as a `Mode`.
unsafe impl AtomicType for Mode {
    type Repr = i32;
}

impl Mode {
    /// Every mode, in column order.
    pub(crate) const ALL: [Mode; 5] = [
        Mode::Stock,
        Mode::Mmap,
        Mode::PerVma,
        Mode::Shadow,
        Mode::Spec,
    ];

    /// The name used in debugfs and the stats file.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Mode::Stock => "stock",
            Mode::Mmap => "mmap",
            Mode::PerVma => "pervma",
            Mode::Shadow => "shadow",
            Mode::Spec => "spec",
        }
    }

    /// Whether faults in this mode consult, and fill, the index.
    pub(crate) fn indexes(self) -> bool {
        matches!(self, Mode::Shadow | Mode::Spec)
    }

    /// The mode with number `n` (the `mode` module parameter).
    pub(crate) fn from_index(n: u32) -> Result<Mode> {
        Mode::ALL.get(n as usize).copied().ok_or(EINVAL)
    }
}

impl FromStr for Mode {
    type Err = Error;

    /// Parses a mode name (surrounding whitespace ignored).
    fn from_str(s: &str) -> Result<Mode> {
        let s = s.trim();
        Mode::ALL.into_iter().find(|m| m.name() == s).ok_or(EINVAL)
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

// For `pr_*!`, which format through `kernel::fmt`.
impl kernel::fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
