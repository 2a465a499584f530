// SPDX-License-Identifier: GPL-2.0
//! Kernel text symbols from a System.map (guest booted with `nokaslr`, so
//! the map's addresses are the running ones).

/// Addresses at or above this are the kernel's (x86-64 canonical upper half).
pub const KERNEL_START: u64 = 0xffff_8000_0000_0000;
/// A PC further than this past a symbol's start is not taken as inside it.
const MAX_SYMBOL_SIZE: u64 = 1 << 20;

#[derive(Debug, Default)]
pub struct Symbols {
    /// (address, name), sorted by address.
    syms: Vec<(u64, String)>,
}

impl Symbols {
    /// Parses the text of a System.map: `ADDRESS TYPE NAME` a line; keeps
    /// the text symbols (t, T, w, W). Errors name the first bad line.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut syms = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let mut f = line.split_whitespace();
            let (Some(a), Some(t), Some(name)) = (f.next(), f.next(), f.next()) else {
                return Err(format!("line {}: not 'ADDRESS TYPE NAME': {line:?}", n + 1));
            };
            let addr = u64::from_str_radix(a, 16)
                .map_err(|_| format!("line {}: bad address {a:?}", n + 1))?;
            if matches!(t, "t" | "T" | "w" | "W") && addr >= KERNEL_START {
                syms.push((addr, name.to_string()));
            }
        }
        if syms.is_empty() {
            return Err("no kernel text symbols (types t/T/w/W above 0xffff800000000000)".into());
        }
        syms.sort_by_key(|s| s.0);
        Ok(Symbols { syms })
    }

    pub fn is_empty(&self) -> bool {
        self.syms.is_empty()
    }

    /// The index of the symbol containing `pc`, if any.
    pub fn lookup(&self, pc: u64) -> Option<usize> {
        let i = self.syms.partition_point(|s| s.0 <= pc).checked_sub(1)?;
        (pc - self.syms[i].0 < MAX_SYMBOL_SIZE).then_some(i)
    }

    pub fn name(&self, i: usize) -> &str {
        &self.syms[i].1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup() {
        let s = Symbols::parse(
            "ffffffff81000000 T _stext\n\
             ffffffff81000100 t helper\n\
             ffffffff82000000 D some_data\n\
             0000000000000000 A fixed_percpu_data\n\
             ffffffff81000200 W weak_fn\n",
        )
        .unwrap();
        assert_eq!(
            s.lookup(0xffff_ffff_8100_0000).map(|i| s.name(i)),
            Some("_stext")
        );
        assert_eq!(
            s.lookup(0xffff_ffff_8100_01ff).map(|i| s.name(i)),
            Some("helper")
        );
        assert_eq!(
            s.lookup(0xffff_ffff_8100_0200).map(|i| s.name(i)),
            Some("weak_fn")
        );
        assert_eq!(s.lookup(0xffff_ffff_80ff_ffff), None);
        assert_eq!(s.lookup(0xffff_ffff_a000_0000), None);
        assert!(Symbols::parse("garbage\n").is_err());
        assert!(Symbols::parse("zz T x\n").is_err());
        assert!(Symbols::parse("0000000000001000 T user\n").is_err());
    }
}
