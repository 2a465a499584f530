// SPDX-License-Identifier: GPL-2.0
//! Per 64-byte line: the last writer vCPU and the set of vCPUs that read
//! the line since that write, in a fixed-size open-addressed table shared
//! by every vCPU thread.
//!
//! Interleaving model. Under MTTCG each vCPU is a host thread and calls
//! the memory callbacks concurrently; a callback runs after its access.
//! Every access is one linearizable update of its line's state word (one
//! compare-and-swap), so the table sees, per line, one total order of
//! accesses that respects each vCPU's program order: the order in which
//! the callbacks reached the line, which for two racing vCPUs may differ
//! from the order in which their accesses reached guest memory. Lines are
//! independent (no order across lines is modelled).
//!
//! A slot is two words. `key` = epoch (16 bits) << 48 | (line + 1); a key
//! of an older epoch (or 0) is free and is claimed with a compare-and-swap.
//! Within an epoch a slot only ever goes from free to one line, so a line
//! is always found at the first slot of its probe sequence that was free
//! when it was claimed: no duplicates, no locks. `state` = readers (32
//! bits) << 32 | epoch (24 bits) << 8 | (writer + 1) (8 bits); a state of
//! another epoch reads as "never accessed". A new window is a new epoch:
//! every line starts cold, nothing is cleared.

use std::sync::atomic::{AtomicU64, Ordering};

/// vCPUs whose accesses are tracked: the readers bitmap is 32 bits.
pub const MAX_VCPUS: u32 = 32;
/// Probes before an access is given up as untracked (table too full).
const MAX_PROBES: usize = 64;
const LINE_MASK: u64 = (1 << 48) - 1;

pub struct Lines {
    slots: Box<[Slot]>,
    shift: u32,
}

struct Slot {
    key: AtomicU64,
    state: AtomicU64,
}

/// What one access did to its line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Tracked; `true` if it was a transfer.
    Tracked(bool),
    /// The table had no room for the line.
    Untracked,
}

fn unpack(s: u64, epoch: u64) -> (u64, u64) {
    if (s >> 8) & 0xff_ffff == epoch & 0xff_ffff {
        (s & 0xff, s >> 32)
    } else {
        (0, 0)
    }
}

fn pack(writer1: u64, epoch: u64, readers: u64) -> u64 {
    readers << 32 | (epoch & 0xff_ffff) << 8 | writer1
}

impl Lines {
    /// A table of 2^`log2` lines (16 bytes each).
    pub fn new(log2: u32) -> Self {
        assert!((4..=30).contains(&log2));
        let slots = (0..1usize << log2)
            .map(|_| Slot {
                key: AtomicU64::new(0),
                state: AtomicU64::new(0),
            })
            .collect();
        Lines {
            slots,
            shift: 64 - log2,
        }
    }

    fn find(&self, line: u64, epoch: u64) -> Option<&Slot> {
        let want = (epoch & 0xffff) << 48 | ((line + 1) & LINE_MASK);
        let mask = self.slots.len() - 1;
        let mut i = (line.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> self.shift) as usize;
        for _ in 0..MAX_PROBES {
            let slot = &self.slots[i];
            let mut k = slot.key.load(Ordering::Acquire);
            loop {
                if k == want {
                    return Some(slot);
                }
                if k != 0 && k >> 48 == want >> 48 {
                    break; // another line of this epoch
                }
                match slot
                    .key
                    .compare_exchange(k, want, Ordering::AcqRel, Ordering::Acquire)
                {
                    Ok(_) => return Some(slot),
                    Err(now) => k = now,
                }
            }
            i = (i + 1) & mask;
        }
        None
    }

    /// vCPU `vcpu` (< [`MAX_VCPUS`]) loads or stores `line` in window
    /// `epoch`. A store is a transfer if another vCPU wrote the line, or
    /// read it since its last write; a load is a transfer if another vCPU
    /// wrote the line last and this one has not read it since.
    pub fn access(&self, line: u64, vcpu: u32, store: bool, epoch: u64) -> Access {
        debug_assert!(vcpu < MAX_VCPUS);
        let Some(slot) = self.find(line, epoch) else {
            return Access::Untracked;
        };
        let me1 = u64::from(vcpu) + 1;
        let bit = 1u64 << vcpu;
        let mut old = slot.state.load(Ordering::Acquire);
        loop {
            let (w1, r) = unpack(old, epoch);
            let (transfer, new) = if store {
                ((w1 != 0 && w1 != me1) || r & !bit != 0, pack(me1, epoch, 0))
            } else {
                (
                    w1 != 0 && w1 != me1 && r & bit == 0,
                    pack(w1, epoch, r | bit),
                )
            };
            if new == old {
                return Access::Tracked(transfer);
            }
            match slot
                .state
                .compare_exchange_weak(old, new, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return Access::Tracked(transfer),
                Err(now) => old = now,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    const T: Access = Access::Tracked(true);
    const F: Access = Access::Tracked(false);

    #[test]
    fn rules() {
        let l = Lines::new(8);
        // cold line: nothing is a transfer
        assert_eq!(l.access(1, 0, false, 1), F);
        assert_eq!(l.access(1, 0, true, 1), F);
        assert_eq!(l.access(1, 0, false, 1), F);
        // 1 loads what 0 wrote: transfer, once
        assert_eq!(l.access(1, 1, false, 1), T);
        assert_eq!(l.access(1, 1, false, 1), F);
        // 0 reads its own line: no; 0 writes it while 1 holds a copy: yes
        assert_eq!(l.access(1, 0, false, 1), F);
        assert_eq!(l.access(1, 0, true, 1), T);
        assert_eq!(l.access(1, 0, true, 1), F);
        // 1 writes what 0 wrote: yes
        assert_eq!(l.access(1, 1, true, 1), T);
        // a reader before any write, then a writer
        assert_eq!(l.access(2, 2, false, 1), F);
        assert_eq!(l.access(2, 3, true, 1), T);
        // a new epoch starts cold
        assert_eq!(l.access(1, 0, false, 2), F);
        assert_eq!(l.access(1, 0, true, 2), F);
    }

    #[test]
    fn fills_up() {
        let l = Lines::new(4);
        let tracked = (0..100)
            .filter(|&x| l.access(x, 0, true, 1) != Access::Untracked)
            .count();
        assert_eq!(tracked, 16);
        // the next epoch reuses every slot
        assert!((0..16).all(|x| l.access(x + 1000, 0, true, 2) != Access::Untracked));
    }

    /// Two threads hand a line back and forth in strict alternation: every
    /// store after the first is a transfer, whatever the host does.
    #[test]
    fn ping_pong() {
        let l = Arc::new(Lines::new(10));
        let turn = Arc::new(AtomicU64::new(0));
        let n = 10_000u64;
        let hs: Vec<_> = (0..2u32)
            .map(|me| {
                let (l, turn) = (l.clone(), turn.clone());
                std::thread::spawn(move || {
                    let mut t = 0;
                    for i in 0..n {
                        while turn.load(Ordering::Acquire) != 2 * i + u64::from(me) {
                            std::hint::spin_loop();
                        }
                        if l.access(7, me, true, 1) == T {
                            t += 1;
                        }
                        turn.fetch_add(1, Ordering::Release);
                    }
                    t
                })
            })
            .collect();
        let t: u64 = hs.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(t, 2 * n - 1);
    }
}
