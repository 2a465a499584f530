// SPDX-License-Identifier: GPL-2.0
//! vmashadow's coherence instrument: a QEMU TCG plugin that counts, per
//! vCPU and per symbol, instructions, atomic read-modify-writes, loads,
//! stores and cache-line transfers (see `lines` for the line model and
//! README.md for the whole story).
//!
//! Counting happens inside windows that the guest opens and closes with
//! magic NOPs (`decode::magic`). Instructions are counted by an execution
//! callback per run of instructions of one symbol (usually one per
//! translation block); atomics (decoded at translation), loads, stores and
//! transfers by a memory callback. Both return at once outside a window
//! and count into a per-vCPU scoreboard; a window's share is the
//! difference between the scoreboard at its start and at its stop.

mod decode;
mod lines;
mod report;
mod symbols;

use decode::{CMD_DUMP, CMD_RESET, CMD_START, CMD_STOP};
use lines::{Access, Lines, MAX_VCPUS};
use qemu_plugin::install::{Args, Info};
use qemu_plugin::plugin::{HasCallbacks, Register};
use qemu_plugin::register::RegisterDescriptor;
use qemu_plugin::sys::{
    qemu_plugin_cb_flags, qemu_plugin_get_hwaddr, qemu_plugin_hwaddr_is_io,
    qemu_plugin_hwaddr_phys_addr, qemu_plugin_id_t, qemu_plugin_insn_data, qemu_plugin_insn_vaddr,
    qemu_plugin_mem_is_store, qemu_plugin_mem_rw, qemu_plugin_meminfo_t, qemu_plugin_num_vcpus,
    qemu_plugin_register_vcpu_init_cb, qemu_plugin_register_vcpu_insn_exec_cb,
    qemu_plugin_register_vcpu_mem_cb, qemu_plugin_register_vcpu_tb_trans_cb,
    qemu_plugin_scoreboard, qemu_plugin_scoreboard_find, qemu_plugin_scoreboard_new,
    qemu_plugin_tb, qemu_plugin_tb_get_insn, qemu_plugin_tb_n_insns,
};
use std::collections::HashMap;
use std::ffi::{c_uint, c_void};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};
use symbols::{KERNEL_START, Symbols};

/// Per-vCPU scoreboard element, in u64 words: a header, then per slot
/// [`FIELDS`] counters.
const HDR: usize = 4;
/// Header: the last load's callback key, its line + 1 and whether it was a
/// transfer (to count a read-modify-write's load and store once).
const P_KEY: usize = 0;
const P_LINE: usize = 1;
const P_XFER: usize = 2;
/// Header: accesses not tracked (table full, or vCPU index >= 32).
const UNTRACKED: usize = 3;

pub const INSNS: usize = 0;
pub const ATOMICS: usize = 1;
pub const LOADS: usize = 2;
pub const STORES: usize = 3;
/// Transfers by a load (HITM-like) and by a store (ownership request).
pub const XLOAD: usize = 4;
pub const XSTORE: usize = 5;
pub const FIELDS: usize = 6;

/// Slots with fixed meaning; kernel symbols get the next ones as they are
/// first translated.
pub const SLOT_USER: usize = 0;
pub const SLOT_KERNEL: usize = 1;
pub const SLOT_OVERFLOW: usize = 2;
const FIRST_SYM_SLOT: usize = 3;

fn word(slot: usize, field: usize) -> usize {
    HDR + slot * FIELDS + field
}

#[derive(Debug)]
struct Config {
    report: PathBuf,
    each: bool,
    top: usize,
    slots: usize,
    lines_log2: u32,
    /// Lines in a vCPU's private cache; 0: unlimited.
    cache: u64,
    system: bool,
}

struct Slots {
    by_sym: HashMap<usize, usize>,
    names: Vec<String>,
}

struct Control {
    open: bool,
    windows: u64,
    tags: Vec<u8>,
    start: Vec<Vec<u64>>,
    acc: Vec<Vec<u64>>,
}

struct State {
    cfg: Config,
    syms: Symbols,
    lines: Lines,
    /// The scoreboard (a `*mut qemu_plugin_scoreboard`), freed never.
    sb: usize,
    enabled: AtomicBool,
    epoch: AtomicU64,
    slots: Mutex<Slots>,
    control: Mutex<Control>,
    /// The host thread of each vCPU, as seen by its init callback.
    threads: Mutex<HashMap<c_uint, std::thread::ThreadId>>,
    /// vCPUs in the machine (system mode; 0 in linux-user).
    smp: usize,
    /// Round-robin with several vCPUs, decided once every vCPU has
    /// started: callbacks then identify the running vCPU themselves.
    rr: OnceLock<bool>,
    /// gs_base and k_gs_base, read in a vCPU's init callback.
    gs_regs: OnceLock<Option<[RegisterDescriptor<'static>; 2]>>,
    /// Round-robin: the per-CPU base (kernel GS base) of the vCPU each
    /// scoreboard element counts for, in order of first appearance.
    ids: [AtomicU64; MAX_VCPUS as usize],
}

static STATE: OnceLock<State> = OnceLock::new();

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl State {
    fn sb(&self) -> *mut qemu_plugin_scoreboard {
        self.sb as *mut qemu_plugin_scoreboard
    }

    fn words(&self) -> usize {
        HDR + self.cfg.slots * FIELDS
    }

    /// vCPU `vcpu`'s scoreboard element.
    fn counters(&self, vcpu: c_uint) -> *mut u64 {
        // SAFETY: the scoreboard is live for the plugin's lifetime and
        // QEMU sizes it for every vCPU index it hands to a callback; it is
        // only reallocated with every vCPU stopped, so the pointer stays
        // valid for the callback that asked for it.
        unsafe { qemu_plugin_scoreboard_find(self.sb(), vcpu).cast() }
    }

    /// The slot counting instructions at `pc`.
    fn slot_of(&self, pc: u64) -> usize {
        if pc < KERNEL_START || !self.cfg.system {
            return SLOT_USER;
        }
        let Some(sym) = self.syms.lookup(pc) else {
            return SLOT_KERNEL;
        };
        let mut s = lock(&self.slots);
        if let Some(&slot) = s.by_sym.get(&sym) {
            return slot;
        }
        if s.names.len() >= self.cfg.slots {
            return SLOT_OVERFLOW;
        }
        let slot = s.names.len();
        s.names.push(self.syms.name(sym).to_string());
        s.by_sym.insert(sym, slot);
        slot
    }

    /// Every vCPU's counters, as they are now.
    fn read_all(&self) -> Vec<Vec<u64>> {
        // SAFETY: no arguments; QEMU is initialised once callbacks run.
        let n = unsafe { qemu_plugin_num_vcpus() }.max(0) as c_uint;
        (0..n)
            .map(|v| {
                let p = self.counters(v);
                (0..self.words())
                    // SAFETY: p points to this vCPU's element of words()
                    // u64s, 8-aligned. Its own thread updates it with plain
                    // 8-byte stores (TCG inline ops, `bump`), which an
                    // atomic load never sees torn on x86-64; a value a few
                    // increments old is fine for a window's edge.
                    .map(|i| unsafe { AtomicU64::from_ptr(p.add(i)) }.load(Ordering::Relaxed))
                    .collect()
            })
            .collect()
    }

    /// Why the per-vCPU counts cannot be trusted, if they cannot: under
    /// round-robin TCG (-accel tcg,thread=single, or -icount) with several
    /// vCPUs, QEMU 10.0 compiles the index of the vCPU that translated a
    /// block into it, and every vCPU runs the same blocks, so callbacks get
    /// the translating vCPU's index, not the executing one's.
    /// (true if the counts are wrong, why).
    fn shared_threads(&self) -> Option<(bool, String)> {
        let t = lock(&self.threads);
        let distinct: std::collections::HashSet<_> = t.values().collect();
        if t.len() < 2 || distinct.len() == t.len() {
            return None;
        }
        if self.rr.get() == Some(&true) && self.gs_regs.get().is_some_and(|r| r.is_some()) {
            return Some((
                false,
                format!(
                    "{} vCPUs on {} host thread(s): round-robin TCG; QEMU 10.0 hands plugins \
                 the index of the vCPU that translated the code; so the running vCPU is \
                 told by its per-CPU base (GS base in the kernel; kernel GS base in user \
                 mode); vCPU rows are in the order of those bases",
                    t.len(),
                    distinct.len()
                ),
            ));
        }
        Some((
            true,
            format!(
                "{} vCPUs on {} host thread(s): round-robin TCG, where QEMU 10.0 hands \
             plugins the index of the vCPU that translated the code, not the one \
             running it, and this QEMU shows no gs_base/k_gs_base registers to tell \
             them apart: per-vCPU counts and transfers are wrong",
                t.len(),
                distinct.len()
            ),
        ))
    }

    /// Round-robin with several vCPUs (known once they have all started).
    fn rr(&self) -> bool {
        if let Some(&rr) = self.rr.get() {
            return rr;
        }
        let t = lock(&self.threads);
        if self.smp < 2 || t.len() < self.smp {
            return false;
        }
        let distinct: std::collections::HashSet<_> = t.values().collect();
        *self.rr.get_or_init(|| distinct.len() < t.len())
    }

    /// The vCPU a callback runs on: QEMU's index, or under round-robin
    /// the scoreboard element of the running vCPU's per-CPU base.
    fn running_vcpu(&self, given: c_uint) -> c_uint {
        if self.rr.get() != Some(&true) {
            return given;
        }
        let Some(Some(regs)) = self.gs_regs.get() else {
            return given;
        };
        let read = |r: &RegisterDescriptor| {
            r.read()
                .ok()
                .and_then(|b| {
                    b.get(..8)
                        .map(|b| u64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
                })
                .unwrap_or(0)
        };
        let gs = read(&regs[0]);
        let base = if gs >= KERNEL_START {
            gs
        } else {
            read(&regs[1])
        };
        if base < KERNEL_START {
            return given; // no per-CPU base yet (early boot)
        }
        let n = self.smp.min(self.ids.len());
        for (i, id) in self.ids[..n].iter().enumerate() {
            let mut x = id.load(Ordering::Acquire);
            if x == 0 {
                x = match id.compare_exchange(0, base, Ordering::AcqRel, Ordering::Acquire) {
                    Ok(_) => base,
                    Err(now) => now,
                };
            }
            if x == base {
                return i as c_uint;
            }
        }
        given
    }

    fn command(&self, cmd: u8, tag: u8) {
        let mut c = lock(&self.control);
        match cmd {
            CMD_START if !c.open => {
                if c.windows == 0
                    && let Some((bad, w)) = self.shared_threads()
                {
                    let kind = if bad { "warning" } else { "note" };
                    eprintln!("coherence plugin: {kind}: {w}");
                }
                self.epoch.fetch_add(1, Ordering::Relaxed);
                c.start = self.read_all();
                c.open = true;
                c.tags.push(tag);
                self.enabled.store(true, Ordering::Release);
            }
            CMD_STOP if c.open => {
                self.enabled.store(false, Ordering::Release);
                let now = self.read_all();
                let words = self.words();
                let mut window = vec![vec![0u64; words]; now.len()];
                for (v, row) in now.iter().enumerate() {
                    for i in 0..words {
                        let before = c.start.get(v).map_or(0, |s| s[i]);
                        window[v][i] = row[i].wrapping_sub(before);
                    }
                }
                c.acc.resize(now.len(), vec![0; words]);
                for (a, w) in c.acc.iter_mut().zip(&window) {
                    for (x, y) in a.iter_mut().zip(w) {
                        *x = x.wrapping_add(*y);
                    }
                }
                c.open = false;
                c.windows += 1;
                if self.cfg.each {
                    let mut p = self.cfg.report.clone().into_os_string();
                    p.push(format!(".{}", c.windows));
                    self.write(&PathBuf::from(p), &window, 1, &[tag]);
                }
                self.write(&self.cfg.report, &c.acc, c.windows, &c.tags);
            }
            CMD_DUMP => self.write(&self.cfg.report, &c.acc, c.windows, &c.tags),
            CMD_RESET => {
                c.acc.clear();
                c.windows = 0;
                c.tags.clear();
            }
            _ => {} // a start inside a window, a stop outside one
        }
    }

    fn write(&self, path: &PathBuf, counts: &[Vec<u64>], windows: u64, tags: &[u8]) {
        let names = lock(&self.slots).names.clone();
        let mut counts = counts.to_vec();
        if self.rr.get() == Some(&true) {
            // Elements in the order of their vCPUs' per-CPU bases, which
            // the kernel lays out in CPU order.
            let key = |i: usize| {
                self.ids
                    .get(i)
                    .map(|a| a.load(Ordering::Relaxed))
                    .filter(|&x| x != 0)
                    .unwrap_or(u64::MAX)
            };
            let mut order: Vec<usize> = (0..counts.len()).collect();
            order.sort_by_key(|&i| key(i));
            counts = order.iter().map(|&i| counts[i].clone()).collect();
        }
        let counts = &counts;
        let text = report::render(&report::Input {
            counts,
            names: &names,
            windows,
            tags,
            system: self.cfg.system,
            top: self.cfg.top,
            lines_log2: self.cfg.lines_log2,
            warning: self.shared_threads(),
        });
        let tmp = path.with_extension("tmp");
        if let Err(e) = std::fs::write(&tmp, text).and_then(|()| std::fs::rename(&tmp, path)) {
            eprintln!("coherence: cannot write {}: {e}", path.display());
        }
    }
}

/// The calling vCPU's own scoreboard element: only its thread writes it
/// (TCG inline ops and these methods), other threads only read it
/// (`State::read_all`), so loads and plain stores suffice, no locked adds.
struct Own(*mut u64, usize);

impl Own {
    /// # Safety
    /// Only in a callback QEMU runs on vCPU `vcpu`'s thread.
    unsafe fn new(st: &State, vcpu: c_uint) -> Self {
        Own(st.counters(vcpu), st.words())
    }

    fn word(&self, i: usize) -> &AtomicU64 {
        assert!(i < self.1);
        // SAFETY: i is inside the element (words() u64s, 8-aligned), which
        // lives as long as the callback that made self (State::counters).
        unsafe { AtomicU64::from_ptr(self.0.add(i)) }
    }

    fn get(&self, i: usize) -> u64 {
        self.word(i).load(Ordering::Relaxed)
    }

    fn set(&self, i: usize, v: u64) {
        self.word(i).store(v, Ordering::Relaxed);
    }

    fn bump(&self, i: usize) {
        self.set(i, self.get(i) + 1);
    }
}

/// The memory callback's key: the instruction's address (low 48 bits,
/// which tell user and kernel addresses apart), whether it is an atomic
/// read-modify-write ([`KEY_ATOMIC`]) and its slot (15 bits).
fn mem_key(pc: u64, atomic: bool, slot: usize) -> u64 {
    debug_assert!(slot <= MAX_SLOTS);
    let flag = if atomic { KEY_ATOMIC } else { 0 };
    (pc & ((1 << 48) - 1)) << 16 | flag | slot as u64
}

const KEY_ATOMIC: u64 = 1 << 15;
const MAX_SLOTS: usize = 0x7fff;

unsafe extern "C" fn mem_cb(
    vcpu: c_uint,
    info: qemu_plugin_meminfo_t,
    vaddr: u64,
    ud: *mut c_void,
) {
    let Some(st) = STATE.get() else { return };
    if !st.enabled.load(Ordering::Relaxed) {
        return;
    }
    let key = ud as u64;
    let slot = (key & MAX_SLOTS as u64) as usize;
    // SAFETY: `info` is the handle QEMU passed to this callback.
    let store = unsafe { qemu_plugin_mem_is_store(info) };
    // SAFETY: as above; the handle is used within this callback only.
    let hw = unsafe { qemu_plugin_get_hwaddr(info, vaddr) };
    let addr = if hw.is_null() {
        vaddr // linux-user: the guest's one address space
    } else {
        // SAFETY: hw is a live handle of this callback.
        if unsafe { qemu_plugin_hwaddr_is_io(hw) } {
            return; // MMIO: no cache line
        }
        // SAFETY: as above.
        unsafe { qemu_plugin_hwaddr_phys_addr(hw) }
    };
    let vcpu = st.running_vcpu(vcpu);
    // SAFETY: QEMU runs memory callbacks on the accessing vCPU's thread
    // (under round-robin, the one thread of every vCPU).
    let c = unsafe { Own::new(st, vcpu) };
    c.bump(word(slot, if store { STORES } else { LOADS }));
    let atomic = key & KEY_ATOMIC != 0;
    // Every x86 atomic read-modify-write loads (QEMU calls back for its
    // load, then its store): counted at the load.
    if atomic && !store {
        c.bump(word(slot, ATOMICS));
    }
    if vcpu >= MAX_VCPUS {
        c.bump(UNTRACKED);
        return;
    }
    let line = addr >> 6;
    if atomic && store && c.get(P_KEY) == key && c.get(P_LINE) == line + 1 {
        // An atomic's store: its load already took the line (below). The
        // host did both at once; only the callbacks are apart, and another
        // vCPU's access between them is not one between the two halves.
        c.set(P_KEY, 0);
        return;
    }
    let epoch = st.epoch.load(Ordering::Relaxed);
    // An atomic takes the line for writing at its load, by a store's rule
    // (another vCPU wrote it, or read it since): one access, one transfer
    // at most, in the order its first callback reached the line.
    let take = store || atomic;
    let xfer = match st.lines.access(line, vcpu, take, epoch) {
        Access::Tracked(t) => t,
        Access::Untracked => {
            c.bump(UNTRACKED);
            c.set(P_KEY, 0);
            return;
        }
    };
    if store {
        // The store of a plain read-modify-write (same instruction, same
        // line, right after its load) is one access with its load: one
        // transfer at most.
        let rmw = c.get(P_KEY) == key && c.get(P_LINE) == line + 1;
        if xfer && !(rmw && c.get(P_XFER) != 0) {
            c.bump(word(slot, XSTORE));
        }
        c.set(P_KEY, 0);
    } else {
        if xfer {
            c.bump(word(slot, XLOAD));
        }
        c.set(P_KEY, key);
        c.set(P_LINE, line + 1);
        c.set(P_XFER, u64::from(xfer));
    }
}

/// Runs on the vCPU's own thread (QEMU queues it there).
unsafe extern "C" fn vcpu_init(_id: qemu_plugin_id_t, vcpu: c_uint) {
    if let Some(st) = STATE.get() {
        lock(&st.threads).insert(vcpu, std::thread::current().id());
        st.gs_regs.get_or_init(|| {
            let regs = qemu_plugin::qemu_plugin_get_registers().ok()?;
            let find = |n: &str| regs.iter().find(|r| r.name == n).cloned();
            Some([find("gs_base")?, find("k_gs_base")?])
        });
    }
}

unsafe extern "C" fn magic_cb(_vcpu: c_uint, ud: *mut c_void) {
    if let Some(st) = STATE.get() {
        let v = ud as u64;
        st.command((v & 0xff) as u8, (v >> 8) as u8);
    }
}

/// A run of instructions of one slot executes: `ud` = slot | instructions
/// << 16.
unsafe extern "C" fn insns_cb(vcpu: c_uint, ud: *mut c_void) {
    if let Some(st) = STATE.get()
        && st.enabled.load(Ordering::Relaxed)
    {
        let v = ud as u64;
        let vcpu = st.running_vcpu(vcpu);
        // SAFETY: QEMU runs execution callbacks on the executing vCPU's thread.
        let c = unsafe { Own::new(st, vcpu) };
        let w = word((v & 0xffff) as usize, INSNS);
        c.set(w, c.get(w) + (v >> 16));
    }
}

unsafe extern "C" fn tb_trans(_id: qemu_plugin_id_t, tb: *mut qemu_plugin_tb) {
    let Some(st) = STATE.get() else { return };
    // SAFETY: tb is the handle of this translation callback; insn handles
    // are used within it only.
    let n = unsafe { qemu_plugin_tb_n_insns(tb) };
    // (first instruction, slot, instructions) of the current run of
    // instructions of one slot, counted by a callback on its first
    // instruction. Not by an inline op: with -accel tcg,thread=single and
    // 2 vCPUs, QEMU 10.0.2's inline per-vCPU ops corrupt the guest (README.md,
    // "Limits").
    let mut run: Option<(*mut _, usize, u64)> = None;
    // Round-robin: the callbacks read the running vCPU's GS bases.
    let flags = if st.rr() {
        qemu_plugin_cb_flags::QEMU_PLUGIN_CB_R_REGS
    } else {
        qemu_plugin_cb_flags::QEMU_PLUGIN_CB_NO_REGS
    };
    let flush = |run: Option<(*mut _, usize, u64)>| {
        let Some((insn, slot, k)) = run else { return };
        // SAFETY: insn is a live handle of this translation; the userdata
        // is a plain value.
        unsafe {
            qemu_plugin_register_vcpu_insn_exec_cb(
                insn,
                Some(insns_cb),
                flags,
                (slot as u64 | k << 16) as *mut c_void,
            )
        };
    };
    for i in 0..n {
        // SAFETY: i < n; the handles are live during this callback, buf
        // is 16 writable bytes (an x86 instruction has at most 15).
        let (insn, pc, buf, len) = unsafe {
            let insn = qemu_plugin_tb_get_insn(tb, i);
            let mut buf = [0u8; 16];
            let len = qemu_plugin_insn_data(insn, buf.as_mut_ptr().cast(), buf.len());
            (insn, qemu_plugin_insn_vaddr(insn), buf, len)
        };
        let bytes = &buf[..len.min(buf.len())];
        let slot = st.slot_of(pc);
        match run {
            Some((_, s, ref mut k)) if s == slot => *k += 1,
            _ => {
                flush(run);
                run = Some((insn, slot, 1));
            }
        }
        if let Some(m) = decode::magic(bytes) {
            let ud = u64::from(m.cmd) | u64::from(m.tag) << 8;
            // SAFETY: live handle; magic_cb only decodes the userdata value.
            unsafe {
                qemu_plugin_register_vcpu_insn_exec_cb(
                    insn,
                    Some(magic_cb),
                    qemu_plugin_cb_flags::QEMU_PLUGIN_CB_NO_REGS,
                    ud as *mut c_void,
                )
            };
            continue;
        }
        // SAFETY: live handle; the userdata is a plain value, not a pointer.
        unsafe {
            qemu_plugin_register_vcpu_mem_cb(
                insn,
                Some(mem_cb),
                flags,
                qemu_plugin_mem_rw::QEMU_PLUGIN_MEM_RW,
                mem_key(pc, decode::is_atomic(bytes), slot) as *mut c_void,
            )
        };
    }
    flush(run);
}

/// A vCPU's private cache, in lines: 1 MiB, the L2 of one AMD Zen 4 or
/// Zen 5 core (the model's machine, docs/coherence-model.md).
const DEFAULT_CACHE: u64 = 16384;

const USAGE: &str = "arguments: report=FILE (required), map=System.map, top=N (40), \
                     slots=N (16384), lines=LOG2 (21), cache=LINES (16384; 0: unlimited), \
                     each=on|off (off), start=on|off (off)";

fn parse_args(raw: &[String], system: bool) -> Result<(Config, Symbols, bool), String> {
    let mut cfg = Config {
        report: PathBuf::new(),
        each: false,
        top: 40,
        slots: 16384,
        lines_log2: 21,
        cache: DEFAULT_CACHE,
        system,
    };
    let mut syms = Symbols::default();
    let mut start = false;
    let num = |k: &str, v: &str, lo: u64, hi: u64| match v.parse::<u64>() {
        Ok(x) if (lo..=hi).contains(&x) => Ok(x),
        _ => Err(format!("{k}={v}: must be an integer from {lo} to {hi}")),
    };
    let flag = |k: &str, v: &str| match v {
        "on" | "yes" | "true" => Ok(true),
        "off" | "no" | "false" => Ok(false),
        _ => Err(format!("{k}={v}: must be on or off")),
    };
    for a in raw {
        let Some((k, v)) = a.split_once('=') else {
            return Err(format!("argument '{a}' is not KEY=VALUE; {USAGE}"));
        };
        match k {
            "report" if !v.is_empty() => cfg.report = PathBuf::from(v),
            "map" => {
                let text = std::fs::read_to_string(v).map_err(|e| format!("map={v}: {e}"))?;
                syms = Symbols::parse(&text).map_err(|e| format!("map={v}: {e}"))?;
            }
            "top" => cfg.top = num(k, v, 1, 1_000_000)? as usize,
            "slots" => cfg.slots = num(k, v, 16, MAX_SLOTS as u64)? as usize,
            "lines" => cfg.lines_log2 = num(k, v, 10, 30)? as u32,
            "cache" => cfg.cache = num(k, v, 0, 1 << 30)?,
            "each" => cfg.each = flag(k, v)?,
            "start" => start = flag(k, v)?,
            _ => return Err(format!("unknown argument '{a}'; {USAGE}")),
        }
    }
    if cfg.report.as_os_str().is_empty() {
        return Err(format!("no report=FILE; {USAGE}"));
    }
    if !syms.is_empty() && !system {
        return Err("map= is for system emulation (linux-user counts all code as user)".into());
    }
    Ok((cfg, syms, start))
}

fn setup(id: qemu_plugin_id_t, args: &Args, info: &Info) -> Result<(), String> {
    if info.target_name != "x86_64" {
        return Err(format!(
            "the target is {}: the instruction decoder is x86-64's",
            info.target_name
        ));
    }
    if let Some(s) = &info.system
        && s.max_vcpus > i64::from(MAX_VCPUS)
    {
        return Err(format!(
            "{} vCPUs (max {}): the readers of a line are a {MAX_VCPUS}-bit set",
            s.smp_vcpus, s.max_vcpus
        ));
    }
    let (cfg, syms, start) = parse_args(&args.raw, info.system.is_some())?;
    std::fs::write(&cfg.report, "# coherence: no window closed yet\n")
        .map_err(|e| format!("report={}: {e}", cfg.report.display()))?;
    let words = HDR + cfg.slots * FIELDS;
    // SAFETY: a plain allocation; QEMU zeroes it and grows it with vCPUs.
    let sb = unsafe { qemu_plugin_scoreboard_new(words * 8) } as usize;
    let kernel = if syms.is_empty() {
        "kernel"
    } else {
        "[kernel: not in System.map]"
    };
    let names = vec![
        "user".into(),
        kernel.into(),
        "[kernel: slots= exhausted]".into(),
    ];
    debug_assert_eq!(names.len(), FIRST_SYM_SLOT);
    let st = State {
        lines: Lines::new(cfg.lines_log2, cfg.cache),
        cfg,
        syms,
        sb,
        enabled: AtomicBool::new(false),
        epoch: AtomicU64::new(0),
        slots: Mutex::new(Slots {
            by_sym: HashMap::new(),
            names,
        }),
        control: Mutex::new(Control {
            open: false,
            windows: 0,
            tags: Vec::new(),
            start: Vec::new(),
            acc: Vec::new(),
        }),
        threads: Mutex::new(HashMap::new()),
        smp: info
            .system
            .as_ref()
            .map_or(0, |s| s.smp_vcpus.max(0) as usize),
        rr: OnceLock::new(),
        gs_regs: OnceLock::new(),
        ids: std::array::from_fn(|_| AtomicU64::new(0)),
    };
    if STATE.set(st).is_err() {
        return Err("loaded twice".into());
    }
    // SAFETY: id is this plugin's; the callbacks have QEMU's signatures.
    unsafe {
        qemu_plugin_register_vcpu_tb_trans_cb(id, Some(tb_trans));
        qemu_plugin_register_vcpu_init_cb(id, Some(vcpu_init));
    }
    qemu_plugin::qemu_plugin_register_atexit_cb(id, |_| {
        if let Some(st) = STATE.get() {
            st.command(CMD_STOP, 0);
            st.command(CMD_DUMP, 0);
        }
    })
    .map_err(|e| e.to_string())?;
    if start && let Some(st) = STATE.get() {
        st.command(CMD_START, 0);
    }
    Ok(())
}

struct Coherence;

impl HasCallbacks for Coherence {}

impl Register for Coherence {
    fn register_default(
        &mut self,
        id: qemu_plugin_id_t,
        args: &Args,
        info: &Info,
    ) -> qemu_plugin::Result<()> {
        if let Err(e) = setup(id, args, info) {
            eprintln!("coherence plugin: error: {e}");
            std::process::exit(1);
        }
        Ok(())
    }
}

qemu_plugin::register!(Coherence);

/// The unit tests link this code without QEMU, which provides the
/// qemu_plugin_* functions to a loaded plugin: stand-ins that no test calls.
#[cfg(test)]
mod qemu_stubs {
    macro_rules! stubs {
        ($($f:ident)*) => {$(
            #[unsafe(no_mangle)]
            extern "C" fn $f() {
                unreachable!(concat!(stringify!($f), " called outside QEMU"));
            }
        )*};
    }
    stubs!(qemu_plugin_register_atexit_cb qemu_plugin_scoreboard_find
        qemu_plugin_scoreboard_new qemu_plugin_register_vcpu_tb_trans_cb
        qemu_plugin_num_vcpus qemu_plugin_mem_is_store qemu_plugin_get_hwaddr
        qemu_plugin_hwaddr_is_io qemu_plugin_hwaddr_phys_addr qemu_plugin_tb_n_insns
        qemu_plugin_register_vcpu_mem_cb qemu_plugin_tb_get_insn qemu_plugin_insn_data
        qemu_plugin_insn_vaddr qemu_plugin_register_vcpu_insn_exec_cb
        qemu_plugin_register_vcpu_init_cb);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Result<(Config, Symbols, bool), String> {
        parse_args(&a.iter().map(|s| s.to_string()).collect::<Vec<_>>(), true)
    }

    #[test]
    fn arguments() {
        let (c, _, s) = args(&["report=/tmp/x", "each=on", "top=5", "start=yes"]).unwrap();
        assert!(c.each && s && c.top == 5 && c.slots == 16384 && c.cache == DEFAULT_CACHE);
        assert_eq!(args(&["report=/x", "cache=0"]).unwrap().0.cache, 0);
        assert!(
            args(&["report=/x", "cache=-1"])
                .unwrap_err()
                .contains("cache=-1")
        );
        assert!(args(&[]).unwrap_err().contains("no report="));
        assert!(args(&["report=/x", "top=0"]).unwrap_err().contains("top=0"));
        assert!(args(&["report=/x", "lines=99"]).is_err());
        assert!(args(&["report=/x", "each=maybe"]).is_err());
        assert!(
            args(&["report=/x", "bogus=1"])
                .unwrap_err()
                .contains("unknown")
        );
        assert!(args(&["report"]).unwrap_err().contains("KEY=VALUE"));
        assert!(args(&["report=/x", "map=/nonexistent"]).is_err());
    }

    #[test]
    fn keys() {
        assert_ne!(
            mem_key(0x401000, false, 0),
            mem_key(0xffff_8000_0040_1000, false, 0)
        );
        assert_eq!(mem_key(0x401000, true, 7) & MAX_SLOTS as u64, 7);
        assert_ne!(mem_key(0x401000, true, 7) & KEY_ATOMIC, 0);
        assert_eq!(mem_key(0x401000, false, MAX_SLOTS) & KEY_ATOMIC, 0);
    }
}
