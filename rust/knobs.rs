// SPDX-License-Identifier: GPL-2.0

//! The module's knobs, in one place: each with its default, its range and its setter, used
//! by the module parameters and by debugfs alike. A setter refuses a value out of range with
//! `EINVAL` and changes nothing.
//!
//! Every knob is read on the fault path with a relaxed load: a fault racing with a change may
//! see either value, and both are correct.

use crate::mode::Mode;
use kernel::{
    prelude::*,
    sync::atomic::{ordering::Relaxed, Atomic},
};

/// The path faults take. Changed only by `hook::set_mode()`, which keeps it and the core's
/// fault-path key in step.
static MODE: Atomic<Mode> = Atomic::new(Mode::Stock);

/// The current mode.
#[inline]
pub(crate) fn mode() -> Mode {
    MODE.load(Relaxed)
}

/// Sets the mode word only; see `hook::set_mode()`.
pub(crate) fn store_mode(mode: Mode) {
    MODE.store(mode, Relaxed);
}

static KERNEL_FAULTS: Atomic<bool> = Atomic::new(true);

/// Whether `pervma` and `shadow` also serve kernel-mode uaccess faults.
#[inline]
pub(crate) fn kernel_faults() -> bool {
    KERNEL_FAULTS.load(Relaxed)
}

/// Sets [`kernel_faults`].
pub(crate) fn set_kernel_faults(on: bool) {
    KERNEL_FAULTS.store(on, Relaxed);
}

/// Ranges one index may hold before it evicts: the default `vm.max_map_count` (65530),
/// rounded up, so that by default a process's index never evicts. Index memory is charged to
/// the process's memory cgroup.
pub(crate) const INDEX_CAP_DEFAULT: usize = 65536;

/// The largest `index_cap` accepted.
pub(crate) const INDEX_CAP_MAX: usize = 1 << 20;

static INDEX_CAP: Atomic<usize> = Atomic::new(INDEX_CAP_DEFAULT);

/// Sets the per-mm cap (1..=[`INDEX_CAP_MAX`]); applies from the next fill.
pub(crate) fn set_index_cap(cap: usize) -> Result {
    if !(1..=INDEX_CAP_MAX).contains(&cap) {
        return Err(EINVAL);
    }
    INDEX_CAP.store(cap, Relaxed);
    Ok(())
}

/// The per-mm cap.
#[inline]
pub(crate) fn index_cap() -> usize {
    INDEX_CAP.load(Relaxed)
}

/// How long a VMA must keep missing before it is indexed (in a process that has an index, or
/// is old enough for one: [`min_age_ms`]), by default: longer than a burst of
/// faults on a short-lived mapping, shorter than anything a steady workload would notice.
pub(crate) const ADMIT_MS_DEFAULT: u32 = 10;

/// The largest `admit_ms` accepted.
pub(crate) const ADMIT_MS_MAX: u32 = 10_000;

static ADMIT_MS: Atomic<u32> = Atomic::new(ADMIT_MS_DEFAULT);
static ADMIT_TICKS: Atomic<u32> = Atomic::new(0);

/// Sets the admission delay (0..=[`ADMIT_MS_MAX`] ms, 0: index a VMA at its first miss).
pub(crate) fn set_admit_ms(ms: u32) -> Result {
    if ms > ADMIT_MS_MAX {
        return Err(EINVAL);
    }
    // At least one tick more than asked for when asked for anything: the first miss may come
    // at the end of its tick.
    let ticks = if ms == 0 {
        0
    } else {
        kernel::time::msecs_to_jiffies(ms) as u32 + 1
    };
    ADMIT_MS.store(ms, Relaxed);
    ADMIT_TICKS.store(ticks, Relaxed);
    Ok(())
}

/// The admission delay in ms.
pub(crate) fn admit_ms() -> u32 {
    ADMIT_MS.load(Relaxed)
}

/// The admission delay in ticks.
#[inline]
pub(crate) fn admit_ticks() -> u32 {
    ADMIT_TICKS.load(Relaxed)
}

/// How old a process must be before its first index is created, by default: most short-lived
/// processes (a shell's pipeline, a build's compiler runs) exit before they would profit from
/// one.
pub(crate) const MIN_AGE_MS_DEFAULT: u32 = 10;

/// The largest `min_age_ms` accepted.
pub(crate) const MIN_AGE_MS_MAX: u32 = 10_000;

static MIN_AGE_MS: Atomic<u32> = Atomic::new(MIN_AGE_MS_DEFAULT);

/// Sets the minimum process age (0..=[`MIN_AGE_MS_MAX`] ms, 0: any process may get an index).
pub(crate) fn set_min_age_ms(ms: u32) -> Result {
    if ms > MIN_AGE_MS_MAX {
        return Err(EINVAL);
    }
    MIN_AGE_MS.store(ms, Relaxed);
    Ok(())
}

/// The minimum process age in ms.
#[inline]
pub(crate) fn min_age_ms() -> u32 {
    MIN_AGE_MS.load(Relaxed)
}
