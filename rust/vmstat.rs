// SPDX-License-Identifier: GPL-2.0

//! The core's own counts of candidate hits and misses (`/proc/vmstat`
//! `fault_vma_hook_hit`/`_miss`), since the last reset.

use kernel::{
    mm::fault_hook::HookEvents,
    prelude::*,
    sync::atomic::{ordering::Relaxed, Atomic},
};

static BASE_HIT: Atomic<u64> = Atomic::new(0);
static BASE_MISS: Atomic<u64> = Atomic::new(0);

/// The core's all-time `(hits, misses)`. May sleep.
fn read() -> Result<(u64, u64)> {
    let e = HookEvents::read()?;
    Ok((e.hit, e.miss))
}
/// Validated candidates (hits) and failed ones (misses) since the last [`reset`].
pub(crate) fn hits_misses() -> Result<(u64, u64)> {
    let (hit, miss) = read()?;
    Ok((
        hit.wrapping_sub(BASE_HIT.load(Relaxed)),
        miss.wrapping_sub(BASE_MISS.load(Relaxed)),
    ))
}

/// Starts counting from now.
pub(crate) fn reset() -> Result {
    let (hit, miss) = read()?;
    BASE_HIT.store(hit, Relaxed);
    BASE_MISS.store(miss, Relaxed);
    Ok(())
}
