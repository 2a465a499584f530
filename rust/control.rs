// SPDX-License-Identifier: GPL-2.0

//! `/sys/kernel/debug/vmashadow/`: the knobs and the statistics (root only).
//!
//! ```text
//! mode           rw  stock | mmap | pervma | shadow
//! kernel_faults  rw  0 | 1: pervma and shadow also serve kernel-mode uaccess faults
//! index_cap      rw  1..1048576: ranges per mm index before fills evict (round-robin)
//! admit_ms       rw  0..10000: how long a VMA keeps missing before it is indexed (0: at once)
//! min_age_ms     rw  0..10000: how old a process must be before it gets an index (0: any)
//! stats          r   the state, then one row per event with a column per mode
//! reset          w   1: zero the statistics
//! ```
//!
//! A write that does not parse fails with `EINVAL` and changes nothing.

use crate::{
    hook::Hook,
    knobs,
    mode::Mode,
    stats::{self, Event},
    vmstat,
};
use core::fmt;
use kernel::{debugfs::Scope, prelude::*, uaccess::UserSliceReader};

/// Reads one short token written to a knob. Longer writes are refused whole.
pub(crate) fn token<'b>(reader: &mut UserSliceReader, buf: &'b mut [u8; 32]) -> Result<&'b str> {
    let n = reader.len();
    if n == 0 || n > buf.len() {
        return Err(EINVAL);
    }
    reader.read_slice(&mut buf[..n])?;
    let s = core::str::from_utf8(&buf[..n]).map_err(|_| EINVAL)?.trim();
    if s.is_empty() {
        return Err(EINVAL);
    }
    Ok(s)
}

fn parse_bool(s: &str) -> Result<bool> {
    match s {
        "0" => Ok(false),
        "1" => Ok(true),
        _ => Err(EINVAL),
    }
}

fn mode_show(_: &Hook, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    writeln!(f, "{}", knobs::mode())
}

fn mode_store(hook: &Hook, r: &mut UserSliceReader) -> Result {
    let mut buf = [0; 32];
    hook.set_mode(token(r, &mut buf)?.parse()?)
}

fn kernel_faults_show(_: &Hook, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    writeln!(f, "{}", u8::from(knobs::kernel_faults()))
}

fn kernel_faults_store(_: &Hook, r: &mut UserSliceReader) -> Result {
    let mut buf = [0; 32];
    knobs::set_kernel_faults(parse_bool(token(r, &mut buf)?)?);
    Ok(())
}

fn index_cap_show(_: &Hook, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    writeln!(f, "{}", knobs::index_cap())
}

fn index_cap_store(_: &Hook, r: &mut UserSliceReader) -> Result {
    let mut buf = [0; 32];
    let cap = token(r, &mut buf)?.parse::<usize>().map_err(|_| EINVAL)?;
    knobs::set_index_cap(cap)
}

fn admit_ms_show(_: &Hook, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    writeln!(f, "{}", knobs::admit_ms())
}

fn admit_ms_store(_: &Hook, r: &mut UserSliceReader) -> Result {
    let mut buf = [0; 32];
    let ms = token(r, &mut buf)?.parse::<u32>().map_err(|_| EINVAL)?;
    knobs::set_admit_ms(ms)
}

fn min_age_ms_show(_: &Hook, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    writeln!(f, "{}", knobs::min_age_ms())
}

fn min_age_ms_store(_: &Hook, r: &mut UserSliceReader) -> Result {
    let mut buf = [0; 32];
    let ms = token(r, &mut buf)?.parse::<u32>().map_err(|_| EINVAL)?;
    knobs::set_min_age_ms(ms)
}

fn stats_show(hook: &Hook, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let (indexes, entries) = hook.census();
    let core = vmstat::counts().map_err(|_| fmt::Error)?;
    let (hits, misses) = (core.hits, core.misses);
    writeln!(f, "mode {}", knobs::mode())?;
    writeln!(f, "kernel_faults {}", u8::from(knobs::kernel_faults()))?;
    writeln!(f, "index_cap {}", knobs::index_cap())?;
    writeln!(f, "admit_ms {}", knobs::admit_ms())?;
    writeln!(f, "min_age_ms {}", knobs::min_age_ms())?;
    writeln!(f, "indexes {indexes}")?;
    writeln!(f, "entries {entries}")?;
    writeln!(f, "hits {hits}")?;
    writeln!(f, "misses {misses}")?;
    for (name, n) in vmstat::SPEC_NAMES.iter().zip(core.spec) {
        writeln!(f, "{name} {n}")?;
    }
    f.write_str("event")?;
    for m in Mode::ALL {
        write!(f, " {}", m.name())?;
    }
    writeln!(f)?;
    for e in Event::ALL {
        f.write_str(e.name())?;
        for m in Mode::ALL {
            write!(f, " {}", stats::sum(m, e))?;
        }
        writeln!(f)?;
        if e == Event::PerVma {
            // The index's candidates are the core's to count (every one is a hit or a miss,
            // or in `spec` handled speculatively, or finished under the VMA lock after its
            // validation failed), so that a hit pays no counter of ours.
            // Only `shadow` and `spec` offer any: the core's counts go to `spec` while it is
            // the mode, else to `shadow`.
            let (owner, n) = if knobs::mode() == Mode::Spec {
                (Mode::Spec, hits + misses + core.spec[0] + core.spec[8])
            } else {
                (Mode::Shadow, hits + misses)
            };
            f.write_str("candidates")?;
            for m in Mode::ALL {
                let n = if m == owner { n } else { 0 };
                write!(f, " {n}")?;
            }
            writeln!(f)?;
        }
    }
    Ok(())
}

fn reset_store(_: &Hook, r: &mut UserSliceReader) -> Result {
    let mut buf = [0; 32];
    if token(r, &mut buf)? != "1" {
        return Err(EINVAL);
    }
    vmstat::reset()?;
    stats::reset();
    Ok(())
}

/// The debugfs directory and its files, one [`Scope`] with the hook they steer: dropping it
/// removes the files, then unregisters the hook.
pub(crate) type Control = Scope<Hook>;

/// Creates `/sys/kernel/debug/vmashadow/` for `hook`.
pub(crate) fn new(hook: impl PinInit<Hook, Error> + 'static) -> impl PinInit<Control, Error> {
    Scope::dir(hook, c"vmashadow", |data, dir| {
        dir.read_write_callback_file(c"mode", data, &mode_show, &mode_store);
        dir.read_write_callback_file(
            c"kernel_faults",
            data,
            &kernel_faults_show,
            &kernel_faults_store,
        );
        dir.read_write_callback_file(c"index_cap", data, &index_cap_show, &index_cap_store);
        dir.read_write_callback_file(c"admit_ms", data, &admit_ms_show, &admit_ms_store);
        dir.read_write_callback_file(c"min_age_ms", data, &min_age_ms_show, &min_age_ms_store);
        dir.read_callback_file(c"stats", data, &stats_show);
        dir.write_only_callback_file(c"reset", data, &reset_store);
    })
}
