// SPDX-License-Identifier: GPL-2.0

//! Event counters by mode, per CPU.
//!
//! The lookup runs on every page fault: one shared counter would be exactly the cache line the
//! scaling benchmark measures. The counters are per-CPU variables (`shim/stats_shim.c`): a
//! count is one `this_cpu_add()`, which writes only the local CPU's line with no locked
//! read-modify-write; readers sum over the possible CPUs.

use crate::mode::Mode;

/// What happened, counted per mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(usize)]
pub(crate) enum Event {
    /// The hook saw a fault taken in kernel mode (counted on top of its answer).
    KernelFault,
    /// The hook answered "pass": a kernel fault with `kernel_faults` off. (In `stock` the core
    /// does not consult the hook at all, so nothing in that column counts faults.)
    Passed,
    /// The hook sent the fault to the careful mmap_lock path.
    Mmap,
    /// The hook sent the fault to the per-VMA path without a candidate (`pervma`).
    PerVma,
    /// The index had nothing for the address (`shadow`).
    NoCandidate,
    /// A VMA was found by the per-VMA path after the hook (a `fill` under the VMA lock).
    FillPerVma,
    /// A VMA was found under mmap_lock after the hook (a `fill` on the careful path).
    FillCareful,
    /// A fill left a VMA out of the index: it has not kept missing for `admit_ms` yet.
    Probation,
    /// A range was stored in an index.
    Stored,
    /// A fill found its exact range already stored.
    Present,
    /// Stale ranges removed because a fill overlapped them.
    Pruned,
    /// Ranges removed because their VMA was freed.
    Forgotten,
    /// Ranges removed because their index held `index_cap` ranges.
    Evicted,
    /// No memory (`GFP_NOWAIT`) for an index or a node.
    NoMem,
}

impl Event {
    /// Every event, in the order of the stats file.
    pub(crate) const ALL: [Event; 14] = [
        Event::KernelFault,
        Event::Passed,
        Event::Mmap,
        Event::PerVma,
        Event::NoCandidate,
        Event::FillPerVma,
        Event::FillCareful,
        Event::Probation,
        Event::Stored,
        Event::Present,
        Event::Pruned,
        Event::Forgotten,
        Event::Evicted,
        Event::NoMem,
    ];

    /// The name in the stats file.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Event::KernelFault => "kernel",
            Event::Passed => "passed",
            Event::Mmap => "mmap",
            Event::PerVma => "pervma",
            Event::NoCandidate => "no_candidate",
            Event::FillPerVma => "fill_pervma",
            Event::FillCareful => "fill_careful",
            Event::Stored => "stored",
            Event::Present => "present",
            Event::Pruned => "pruned",
            Event::Forgotten => "forgotten",
            Event::Probation => "probation",
            Event::Evicted => "evicted",
            Event::NoMem => "nomem",
        }
    }
}

const NR_MODES: usize = Mode::ALL.len();
const NR_EVENTS: usize = Event::ALL.len();
/// `VMASHADOW_NR_COUNTERS` in `shim/stats_shim.c` (a power of two there).
const NR_COUNTERS: usize = 128;
const _: () = assert!(NR_MODES * NR_EVENTS <= NR_COUNTERS);

// SAFETY: These are the definitions of `shim/stats_shim.c`, and each is sound for any
// argument, in any context, preemptible or not: `vmashadow_stat_add()` masks its index into the
// array and adds with `this_cpu_add()`, `vmashadow_stat_sum()` returns 0 for an index out of
// range, `vmashadow_stat_reset()` takes none.
#[allow(
    clippy::unnecessary_safety_comment,
    reason = "false positive: the compiler trusts these declarations, so they need one"
)]
unsafe extern "C" {
    safe fn vmashadow_stat_add(i: u32, n: u64);
    safe fn vmashadow_stat_sum(i: u32) -> u64;
    safe fn vmashadow_stat_reset();
}

#[inline]
fn at(mode: Mode, event: Event) -> u32 {
    // Below `NR_COUNTERS` (checked above), so it fits.
    (mode as usize * NR_EVENTS + event as usize) as u32
}

/// Counts `n` occurrences of `event` in `mode`.
#[inline]
pub(crate) fn add(mode: Mode, event: Event, n: u64) {
    vmashadow_stat_add(at(mode, event), n);
}

/// Counts one occurrence of `event` in `mode`.
#[inline]
pub(crate) fn inc(mode: Mode, event: Event) {
    add(mode, event, 1);
}

/// The total of `event` in `mode` over all CPUs.
pub(crate) fn sum(mode: Mode, event: Event) -> u64 {
    vmashadow_stat_sum(at(mode, event))
}

/// Zeroes every counter. Events racing with it may survive; that is fine for statistics.
pub(crate) fn reset() {
    vmashadow_stat_reset();
}
