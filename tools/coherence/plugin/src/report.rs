// SPDX-License-Identifier: GPL-2.0
//! The report: CSV rows whose first field says what the row is; `#` lines
//! are comments and name the columns.

use crate::{ATOMICS, FIELDS, HDR, INSNS, LOADS, SLOT_USER, STORES, UNTRACKED, XLOAD, XSTORE};
use std::fmt::Write;

pub struct Input<'a> {
    /// Per vCPU, the scoreboard words (header, then slots x fields).
    pub counts: &'a [Vec<u64>],
    /// Slot names; slots past the end were never used.
    pub names: &'a [String],
    pub windows: u64,
    pub tags: &'a [u8],
    pub system: bool,
    pub top: usize,
    pub lines_log2: u32,
    /// A note on how vCPUs were told apart, or why the counts are wrong
    /// (true).
    pub warning: Option<(bool, String)>,
}

const COLS: &str = "insns,atomics,loads,stores,transfers,xfer_load,xfer_store";

#[derive(Default, Clone, Copy)]
struct Sum([u64; FIELDS]);

impl Sum {
    fn add(&mut self, w: &[u64]) {
        for (a, b) in self.0.iter_mut().zip(w) {
            *a += b;
        }
    }
    fn transfers(&self) -> u64 {
        self.0[XLOAD] + self.0[XSTORE]
    }
    fn csv(&self) -> String {
        let f = &self.0;
        format!(
            "{},{},{},{},{},{},{}",
            f[INSNS],
            f[ATOMICS],
            f[LOADS],
            f[STORES],
            self.transfers(),
            f[XLOAD],
            f[XSTORE]
        )
    }
}

fn slot(row: &[u64], s: usize) -> &[u64] {
    &row[HDR + s * FIELDS..HDR + (s + 1) * FIELDS]
}

pub fn render(i: &Input) -> String {
    let nslots = i.names.len();
    let mut o = String::new();
    let tags: Vec<String> = i.tags.iter().map(|t| t.to_string()).collect();
    let untracked: u64 = i.counts.iter().map(|r| r[UNTRACKED]).sum();
    let _ = writeln!(
        o,
        "# vmashadow coherence report (tools/coherence/README.md)"
    );
    if let Some((bad, w)) = &i.warning {
        let kind = if *bad { "warning" } else { "note" };
        let _ = writeln!(o, "meta,{kind},{}", w.replace(',', ";"));
    }
    let _ = writeln!(o, "meta,windows,{}", i.windows);
    let _ = writeln!(o, "meta,tags,{}", tags.join(" "));
    let addr = if i.system { "physical" } else { "virtual" };
    let _ = writeln!(o, "meta,address,{addr}");
    let _ = writeln!(o, "meta,line_bytes,64");
    let _ = writeln!(o, "meta,table_lines,{}", 1u64 << i.lines_log2);
    let _ = writeln!(o, "meta,untracked_accesses,{untracked}");
    let _ = writeln!(o, "meta,vcpus,{}", i.counts.len());
    let _ = writeln!(o, "meta,symbols_seen,{}", nslots.saturating_sub(3));
    let _ = writeln!(o, "#vcpu,id,space,{COLS}");
    let mut tot = [Sum::default(); 3];
    let mut per_slot = vec![Sum::default(); nslots];
    for (v, row) in i.counts.iter().enumerate() {
        let mut s = [Sum::default(); 3]; // all, kernel, user
        for (k, ps) in per_slot.iter_mut().enumerate() {
            let w = slot(row, k);
            ps.add(w);
            s[0].add(w);
            s[if k == SLOT_USER { 2 } else { 1 }].add(w);
        }
        for (j, space) in ["all", "kernel", "user"].iter().enumerate() {
            let _ = writeln!(o, "vcpu,{v},{space},{}", s[j].csv());
            tot[j].add(&s[j].0);
        }
    }
    for (j, space) in ["all", "kernel", "user"].iter().enumerate() {
        let _ = writeln!(o, "total,all,{space},{}", tot[j].csv());
    }
    let mut order: Vec<usize> = (0..nslots)
        .filter(|&k| per_slot[k].0.iter().any(|&x| x != 0))
        .collect();
    order.sort_by_key(|&k| {
        let s = &per_slot[k];
        (
            std::cmp::Reverse(s.transfers()),
            std::cmp::Reverse(s.0[ATOMICS]),
            std::cmp::Reverse(s.0[INSNS]),
        )
    });
    let _ = writeln!(
        o,
        "#sym,name,{COLS} (top {} by transfers, then atomics, then insns, of {})",
        i.top,
        order.len()
    );
    for &k in order.iter().take(i.top) {
        let _ = writeln!(o, "sym,{},{}", i.names[k], per_slot[k].csv());
    }
    o
}
