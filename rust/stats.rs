// SPDX-License-Identifier: GPL-2.0

//! Event counters by mode, per CPU.
//!
//! The lookup runs on every page fault: one shared counter would be exactly the cache line the
//! scaling benchmark measures. Each CPU adds to its own cache-line-aligned slot (atomically,
//! since the task may migrate between reading its CPU number and adding); readers sum the slots.

use crate::mode::Mode;
use kernel::{
    cpu::CpuId,
    sync::atomic::{ordering::Relaxed, Atomic},
};

/// What happened, counted per mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(usize)]
pub(crate) enum Event {
    /// The hook saw a fault taken in kernel mode (counted on top of its answer).
    KernelFault,
    /// The hook answered "pass" (stock mode; kernel faults with `kernel_faults` off).
    Passed,
    /// The hook sent the fault to the careful mmap_lock path.
    Mmap,
    /// The hook sent the fault to the per-VMA path without a candidate (`pervma`).
    PerVma,
    /// The index offered a candidate (`shadow`).
    Candidate,
    /// The index had nothing for the address (`shadow`).
    NoCandidate,
    /// A VMA was found by the per-VMA path after the hook (a `fill` under the VMA lock).
    FillPerVma,
    /// A VMA was found under mmap_lock after the hook (a `fill` on the careful path).
    FillCareful,
    /// A range was stored in an index.
    Stored,
    /// A fill found its exact range already stored.
    Present,
    /// Stale ranges removed because a fill overlapped them.
    Pruned,
    /// Ranges removed because their VMA was freed.
    Forgotten,
    /// An index was full and was emptied.
    Overflow,
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
        Event::Candidate,
        Event::NoCandidate,
        Event::FillPerVma,
        Event::FillCareful,
        Event::Stored,
        Event::Present,
        Event::Pruned,
        Event::Forgotten,
        Event::Overflow,
        Event::NoMem,
    ];

    /// The name in the stats file.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Event::KernelFault => "kernel",
            Event::Passed => "passed",
            Event::Mmap => "mmap",
            Event::PerVma => "pervma",
            Event::Candidate => "candidates",
            Event::NoCandidate => "no_candidate",
            Event::FillPerVma => "fill_pervma",
            Event::FillCareful => "fill_careful",
            Event::Stored => "stored",
            Event::Present => "present",
            Event::Pruned => "pruned",
            Event::Forgotten => "forgotten",
            Event::Overflow => "overflows",
            Event::NoMem => "nomem",
        }
    }
}

const NR_MODES: usize = Mode::ALL.len();
const NR_EVENTS: usize = Event::ALL.len();
/// Slots; CPUs beyond this share (correctly, just with some cache-line bouncing).
const NR_SLOTS: usize = 64;

#[repr(align(64))]
struct Slot([Atomic<u64>; NR_MODES * NR_EVENTS]);

impl Slot {
    const fn new() -> Self {
        Self([const { Atomic::new(0) }; NR_MODES * NR_EVENTS])
    }
}

static SLOTS: [Slot; NR_SLOTS] = [const { Slot::new() }; NR_SLOTS];

#[inline]
fn at(mode: Mode, event: Event) -> usize {
    mode as usize * NR_EVENTS + event as usize
}

/// Counts `n` occurrences of `event` in `mode`.
#[inline]
pub(crate) fn add(mode: Mode, event: Event, n: u64) {
    let slot = CpuId::current().as_u32() as usize % NR_SLOTS;
    SLOTS[slot].0[at(mode, event)].add(n, Relaxed);
}

/// Counts one occurrence of `event` in `mode`.
#[inline]
pub(crate) fn inc(mode: Mode, event: Event) {
    add(mode, event, 1);
}

/// The total of `event` in `mode` over all CPUs.
pub(crate) fn sum(mode: Mode, event: Event) -> u64 {
    SLOTS
        .iter()
        .map(|s| s.0[at(mode, event)].load(Relaxed))
        .fold(0u64, u64::wrapping_add)
}

/// Zeroes every counter. Events racing with it may survive; that is fine for statistics.
pub(crate) fn reset() {
    for slot in &SLOTS {
        for c in &slot.0 {
            c.store(0, Relaxed);
        }
    }
}
