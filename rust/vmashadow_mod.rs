// SPDX-License-Identifier: GPL-2.0

//! vmashadow: a lockless VMA lookup cache for the x86 page-fault path.
//!
//! Per mm, a maple-tree *shadow index* of VMAs, read under RCU, answers the fault path's
//! "which VMA?" before any lock is taken. The core (`kernel/patches/`) validates every answer
//! as `lock_vma_under_rcu()` does; a miss falls back to the kernel's per-VMA path, then to the
//! mmap_lock with the 2008 trylock-and-oops rule. Modes switch at runtime so that the classic
//! mmap_lock path, the per-VMA path and the shadow path are measured side by side:
//!
//! ```text
//! # insmod vmashadow.ko mode=3            # 0 stock, 1 mmap, 2 pervma, 3 shadow, 4 spec
//! # echo pervma > /sys/kernel/debug/vmashadow/mode
//! # cat /sys/kernel/debug/vmashadow/stats
//! # rmmod vmashadow                       # safe at any time, also under load
//! ```

use kernel::prelude::*;

mod control;
mod hook;
mod knobs;
mod mode;
mod probation;
mod shadow_index;
mod stats;
mod vmstat;

module! {
    type: VmaShadow,
    name: "vmashadow",
    authors: ["vmashadow developers"],
    description: "Lockless VMA lookup cache for the x86 page-fault path",
    license: "GPL",
    params: {
        mode: u32 {
            default: 3,
            description: "Initial mode: 0=stock 1=mmap 2=pervma 3=shadow 4=spec",
        },
        kernel_faults: bool {
            default: true,
            description: "pervma and shadow also serve kernel-mode uaccess faults",
        },
        index_cap: u32 {
            default: 65536,
            description: "Ranges a per-mm index holds before fills evict (1..1048576)",
        },
        admit_ms: u32 {
            default: 10,
            description: "How long a VMA keeps missing before it is indexed, ms (0..10000)",
        },
        min_age_ms: u32 {
            default: 10,
            description: "How old a process must be before it gets an index, ms (0..10000)",
        },
    },
}

#[pin_data]
struct VmaShadow {
    /// The debugfs files and the registered hook they steer. Dropping it removes the files,
    /// then unregisters the hook, after which no fault reaches this module and every index is
    /// gone.
    #[pin]
    control: control::Control,
}

impl kernel::InPlaceModule for VmaShadow {
    fn init(_module: &'static ThisModule) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            control <- {
                let m = mode::Mode::from_index(module_parameters::mode.value()).inspect_err(|_| {
                    pr_err!("mode must be 0..{}\n", mode::Mode::ALL.len() - 1);
                })?;
                knobs::set_index_cap(module_parameters::index_cap.value() as usize)
                    .inspect_err(|_| pr_err!("index_cap must be 1..{}\n", knobs::INDEX_CAP_MAX))?;
                knobs::set_admit_ms(module_parameters::admit_ms.value())
                    .inspect_err(|_| pr_err!("admit_ms must be 0..{}\n", knobs::ADMIT_MS_MAX))?;
                knobs::set_min_age_ms(module_parameters::min_age_ms.value()).inspect_err(|_| {
                    pr_err!("min_age_ms must be 0..{}\n", knobs::MIN_AGE_MS_MAX)
                })?;
                knobs::set_kernel_faults(module_parameters::kernel_faults.value());
                stats::reset();
                vmstat::reset()?;
                control::new(hook::register(m))
            },
            _: {
                pr_info!(
                    "loaded: mode {}, kernel_faults {}\n",
                    knobs::mode(),
                    u8::from(knobs::kernel_faults())
                );
            },
        }? Error)
    }
}
