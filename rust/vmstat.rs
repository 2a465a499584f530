// SPDX-License-Identifier: GPL-2.0

//! The core's own counts (`/proc/vmstat`): candidate hits and misses (`fault_vma_hook_hit`/
//! `_miss`) and what became of speculative faults (`fault_spec_*`), since the last reset.

use kernel::{
    mm::fault_hook::HookEvents,
    prelude::*,
    sync::atomic::{ordering::Relaxed, Atomic},
};

/// The outcomes of speculative faults, in the stats file's order: done, the fallbacks, then of
/// the `race` fallbacks those finished under the VMA lock with the page they had prepared.
pub(crate) const SPEC_NAMES: [&str; 9] = [
    "spec_done",
    "spec_fallback_vma",
    "spec_fallback_table",
    "spec_fallback_pte",
    "spec_fallback_nomem",
    "spec_fallback_race",
    "spec_fallback_locked",
    "spec_fallback_file",
    "spec_finished",
];

/// Hit, miss, then the [`SPEC_NAMES`] counts.
const N: usize = 2 + SPEC_NAMES.len();

static BASE: [Atomic<u64>; N] = [const { Atomic::new(0) }; N];

/// The core's all-time counts. May sleep.
fn read() -> Result<[u64; N]> {
    let e = HookEvents::read()?;
    Ok([
        e.hit,
        e.miss,
        e.spec_done,
        e.spec_vma,
        e.spec_table,
        e.spec_pte,
        e.spec_nomem,
        e.spec_race,
        e.spec_locked,
        e.spec_file,
        e.spec_finished,
    ])
}

/// The core's counts since the last [`reset`].
pub(crate) struct CoreCounts {
    /// Validated candidates.
    pub(crate) hits: u64,
    /// Failed candidates.
    pub(crate) misses: u64,
    /// Speculative faults by outcome, as [`SPEC_NAMES`].
    pub(crate) spec: [u64; SPEC_NAMES.len()],
}

/// The core's counts since the last [`reset`]. May sleep.
pub(crate) fn counts() -> Result<CoreCounts> {
    let now = read()?;
    let d = |i: usize| now[i].wrapping_sub(BASE[i].load(Relaxed));
    Ok(CoreCounts {
        hits: d(0),
        misses: d(1),
        spec: core::array::from_fn(|i| d(2 + i)),
    })
}

/// Starts counting from now.
pub(crate) fn reset() -> Result {
    for (base, v) in BASE.iter().zip(read()?) {
        base.store(v, Relaxed);
    }
    Ok(())
}
