// SPDX-License-Identifier: GPL-2.0
//! Per 64-byte line: the last writer vCPU and the set of vCPUs that read
//! the line since that write, in a fixed-size open-addressed table shared
//! by every vCPU thread; and, per vCPU, a bounded private cache.
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
//! Capacity model. Each vCPU has a private cache of `cache` lines (0: no
//! limit). Its *clock* counts its fills: accesses that found the line
//! neither written last by it nor read by it since. A line's state keeps
//! the writer's clock at its last access to the line (the *stamp*, in
//! granules of `cache / 64` fills, 14 bits). The writer's copy has been
//! evicted (written back) once the writer has made `cache` fills since:
//! another vCPU's access then finds no modified copy to take, and is not
//! a transfer. The writer refreshes the stamp when it touches the line
//! again (lazily, once it is a quarter of the way out), so a hot line
//! stays cached as under LRU. Readers' copies are not aged: a store to a
//! line other vCPUs read is a transfer however long ago they read it.
//!
//! A slot is two words. `key` = epoch (16 bits) << 48 | (line + 1); a key
//! of an older epoch (or 0) is free and is claimed with a compare-and-swap.
//! Within an epoch a slot only ever goes from free to one line, so a line
//! is always found at the first slot of its probe sequence that was free
//! when it was claimed: no duplicates, no locks. `state` = readers (32
//! bits) << 32 | stamp (14 bits) << 18 | epoch (12 bits) << 6 | writer
//! plus one (6 bits); a state of another epoch reads as "never accessed". A new
//! window is a new epoch: every line starts cold, nothing is cleared.

use std::sync::atomic::{AtomicU64, Ordering};

/// vCPUs whose accesses are tracked: the readers bitmap is 32 bits.
pub const MAX_VCPUS: u32 = 32;
/// Probes before an access is given up as untracked (table too full).
const MAX_PROBES: usize = 64;
const LINE_MASK: u64 = (1 << 48) - 1;
const EPOCH_MASK: u64 = 0xfff;
const STAMP_MASK: u64 = 0x3fff;
/// Granules in a cache: a copy is evicted `GRANULES` granules after its
/// stamp, and refreshed a quarter of the way there.
const GRANULES: u64 = 64;

pub struct Lines {
    slots: Box<[Slot]>,
    shift: u32,
    /// Fills per stamp granule; 0: no capacity limit.
    granule: u64,
    clocks: Box<[Clock]>,
}

struct Slot {
    key: AtomicU64,
    state: AtomicU64,
}

/// A vCPU's clock. Only that vCPU's thread writes it. Other vCPUs read
/// only `granules`, which changes once a granule: a callback that reads
/// it does not wait for a host cache line that the vCPU writes on every
/// fill (a slower callback would reorder more accesses, see above).
struct Clock {
    granules: Padded,
    fills: Padded,
}

#[repr(align(64))]
struct Padded(AtomicU64);

/// What one access did to its line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Tracked; `true` if it was a transfer.
    Tracked(bool),
    /// The table had no room for the line.
    Untracked,
}

/// (writer + 1, readers, stamp) of a state word read in `epoch`.
fn unpack(s: u64, epoch: u64) -> (u64, u64, u64) {
    if (s >> 6) & EPOCH_MASK == epoch & EPOCH_MASK {
        (s & 0x3f, s >> 32, (s >> 18) & STAMP_MASK)
    } else {
        (0, 0, 0)
    }
}

fn pack(writer1: u64, epoch: u64, readers: u64, stamp: u64) -> u64 {
    readers << 32 | (stamp & STAMP_MASK) << 18 | (epoch & EPOCH_MASK) << 6 | writer1
}

impl Lines {
    /// A table of 2^`log2` lines (16 bytes each); private caches of
    /// `cache` lines per vCPU (0: unlimited).
    pub fn new(log2: u32, cache: u64) -> Self {
        assert!((4..=30).contains(&log2));
        const { assert!(MAX_VCPUS < 0x3f) };
        let slots = (0..1usize << log2)
            .map(|_| Slot {
                key: AtomicU64::new(0),
                state: AtomicU64::new(0),
            })
            .collect();
        Lines {
            slots,
            shift: 64 - log2,
            granule: if cache == 0 {
                0
            } else {
                cache.div_ceil(GRANULES)
            },
            clocks: (0..MAX_VCPUS)
                .map(|_| Clock {
                    granules: Padded(AtomicU64::new(0)),
                    fills: Padded(AtomicU64::new(0)),
                })
                .collect(),
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

    /// Granules since `stamp` on vCPU `w`'s clock (0 without a capacity).
    fn age(&self, w: u64, stamp: u64) -> u64 {
        if self.granule == 0 {
            return 0;
        }
        let now = self.clocks[w as usize].granules.0.load(Ordering::Relaxed);
        let age = now.wrapping_sub(stamp) & STAMP_MASK;
        // A stamp ahead of the clock: `w` has stamped a fill whose clock
        // store another vCPU has not seen yet. Fresh, not 16,383 old.
        if age > STAMP_MASK / 2 { 0 } else { age }
    }

    /// vCPU `vcpu` (< [`MAX_VCPUS`]) loads or stores `line` in window
    /// `epoch`. A store is a transfer if another vCPU wrote the line and
    /// still holds it, or read it since that write; a load is a transfer
    /// if another vCPU wrote the line last, still holds it, and this one
    /// has not read it since.
    pub fn access(&self, line: u64, vcpu: u32, store: bool, epoch: u64) -> Access {
        debug_assert!(vcpu < MAX_VCPUS);
        let Some(slot) = self.find(line, epoch) else {
            return Access::Untracked;
        };
        let me1 = u64::from(vcpu) + 1;
        let bit = 1u64 << vcpu;
        let clock = &self.clocks[vcpu as usize];
        let mut old = slot.state.load(Ordering::Acquire);
        loop {
            let (mut w1, mut r, stamp) = unpack(old, epoch);
            if w1 != 0 && self.age(w1 - 1, stamp) >= GRANULES {
                // The writer's copy was evicted (written back): memory and
                // the other readers, if any, hold the line.
                r &= !(1 << (w1 - 1));
                w1 = 0;
            }
            let mine = w1 == me1;
            let fill = !mine && r & bit == 0;
            let transfer = if store {
                (w1 != 0 && !mine) || r & !bit != 0
            } else {
                w1 != 0 && !mine && r & bit == 0
            };
            let c = clock.fills.0.load(Ordering::Relaxed) + u64::from(fill);
            // The accessor's stamp: kept while it is fresh, so that a hot
            // line does not rewrite its state on every access.
            let stamp_me = if self.granule == 0 {
                0
            } else if mine && self.age(me1 - 1, stamp) < GRANULES / 4 {
                stamp
            } else {
                c / self.granule
            };
            let new = if store {
                pack(me1, epoch, 0, stamp_me)
            } else if mine {
                pack(w1, epoch, r | bit, stamp_me)
            } else {
                pack(w1, epoch, r | bit, stamp)
            };
            if new != old
                && let Err(now) =
                    slot.state
                        .compare_exchange_weak(old, new, Ordering::AcqRel, Ordering::Acquire)
            {
                old = now;
                continue;
            }
            if fill && self.granule != 0 {
                // Only this vCPU's thread writes its clock.
                clock.fills.0.store(c, Ordering::Relaxed);
                if c.is_multiple_of(self.granule) {
                    clock.granules.0.store(c / self.granule, Ordering::Relaxed);
                }
            }
            return Access::Tracked(transfer);
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
        let l = Lines::new(8, 0);
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
        let l = Lines::new(4, 0);
        let tracked = (0..100)
            .filter(|&x| l.access(x, 0, true, 1) != Access::Untracked)
            .count();
        assert_eq!(tracked, 16);
        // the next epoch reuses every slot
        assert!((0..16).all(|x| l.access(x + 1000, 0, true, 2) != Access::Untracked));
    }

    /// A copy lasts `cache` of its holder's fills, however long another
    /// vCPU waits; touching it keeps it.
    #[test]
    fn capacity() {
        let cache = 1024;
        let l = Lines::new(16, cache);
        // vCPU 0 writes line 1 and line 2, then fills cache - 100 lines
        assert_eq!(l.access(1, 0, true, 1), F);
        assert_eq!(l.access(2, 0, true, 1), F);
        for x in 0..cache - 100 {
            assert_eq!(l.access(1000 + x, 0, true, 1), F);
        }
        // still cached: 1 takes line 1 from 0
        assert_eq!(l.access(1, 1, false, 1), T);
        // 0 keeps line 3 hot while filling 2 * cache more lines
        assert_eq!(l.access(3, 0, true, 1), F);
        for x in 0..2 * cache {
            assert_eq!(l.access(100_000 + x, 0, true, 1), F);
            if x % 64 == 0 {
                assert_eq!(l.access(3, 0, true, 1), F);
            }
        }
        // line 2 was evicted long ago: memory serves it, no transfer
        assert_eq!(l.access(2, 1, false, 1), F);
        assert_eq!(l.access(2, 1, true, 1), F);
        // line 3 stayed: a transfer
        assert_eq!(l.access(3, 1, true, 1), T);
        // vCPU 1's own line 2 lasts while vCPU 1 makes no fills
        assert_eq!(l.access(2, 0, true, 1), T);
        // a line read by another vCPU is taken from it however old
        assert_eq!(l.access(5, 1, false, 1), F);
        for x in 0..2 * cache {
            assert_eq!(l.access(300_000 + x, 1, true, 1), F);
        }
        assert_eq!(l.access(5, 0, true, 1), T);
        // without a limit nothing is evicted
        let u = Lines::new(16, 0);
        assert_eq!(u.access(1, 0, true, 1), F);
        for x in 0..4 * cache {
            assert_eq!(u.access(1000 + x, 0, true, 1), F);
        }
        assert_eq!(u.access(1, 1, false, 1), T);
    }

    /// Two vCPUs take one line in turns of random length while each
    /// streams through lines of its own: every change of hands is one
    /// transfer, and the streams evict nothing that is still in use.
    #[test]
    fn runs() {
        let l = Lines::new(20, 16384);
        let mut x = 12345u64;
        let mut idx = [0u64; 2];
        let (mut switches, mut t) = (0, 0);
        let mut last = 9;
        for _ in 0..20000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let me = ((x >> 33) & 1) as u32;
            let run = (x >> 40) % 50 + 1;
            for _ in 0..run {
                if last != 9 && last != me {
                    switches += 1;
                }
                last = me;
                if l.access(7, me, true, 1) == T {
                    t += 1;
                }
                idx[me as usize] += 1;
                let own = 1_000_000 * (u64::from(me) + 1) + idx[me as usize] / 8;
                assert_eq!(l.access(own, me, true, 1), F);
            }
        }
        assert_eq!(t, switches);
    }

    /// Two threads hand a line back and forth in strict alternation: every
    /// store after the first is a transfer, whatever the host does.
    #[test]
    fn ping_pong() {
        let l = Arc::new(Lines::new(10, 16384));
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
