// SPDX-License-Identifier: GPL-2.0
//! What the plugin needs to know about an x86-64 instruction, from its
//! bytes at translation time: is it an atomic read-modify-write, or one of
//! the plugin's magic control instructions?
//!
//! 64-bit code is assumed (0x40-0x4f are REX prefixes, not inc/dec).

/// A magic control instruction: `nopl 0x4f4fTTCC(%rax)`, encoded
/// `0f 1f 80 CC TT 4f 4f` (no prefixes). A NOP everywhere else.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Magic {
    /// CC: what to do ([`CMD_START`] ...).
    pub cmd: u8,
    /// TT: a tag the guest chooses, written into the report of the window.
    pub tag: u8,
}

/// Open a counting window.
pub const CMD_START: u8 = 1;
/// Close the window and write the report.
pub const CMD_STOP: u8 = 2;
/// Write the report now (closed windows only).
pub const CMD_DUMP: u8 = 3;
/// Forget every closed window.
pub const CMD_RESET: u8 = 4;

/// The magic instruction in `bytes`, if it is one (with a known command).
pub fn magic(bytes: &[u8]) -> Option<Magic> {
    match bytes {
        [
            0x0f,
            0x1f,
            0x80,
            cmd @ CMD_START..=CMD_RESET,
            tag,
            0x4f,
            0x4f,
        ] => Some(Magic {
            cmd: *cmd,
            tag: *tag,
        }),
        _ => None,
    }
}

/// Is the instruction an atomic read-modify-write of memory: any
/// LOCK-prefixed instruction, `xchg` with a memory operand (implicitly
/// locked), `cmpxchg` (0f b0/b1) or `cmpxchg8b/16b` (0f c7 /1) with a
/// memory operand, locked or not (the kernel's are always locked on SMP).
pub fn is_atomic(bytes: &[u8]) -> bool {
    let mut i = 0;
    let mut lock = false;
    while let Some(&b) = bytes.get(i) {
        match b {
            0xf0 => lock = true,
            0xf2 | 0xf3 | 0x2e | 0x36 | 0x3e | 0x26 | 0x64 | 0x65 | 0x66 | 0x67 => {}
            _ => break,
        }
        i += 1;
    }
    if lock {
        return true;
    }
    if bytes.get(i).is_some_and(|b| (0x40..=0x4f).contains(b)) {
        i += 1; // REX
    }
    let modrm_mem = |at: usize| bytes.get(at).is_some_and(|m| m >> 6 != 3);
    match bytes.get(i) {
        Some(0x86 | 0x87) => modrm_mem(i + 1),
        Some(0x0f) => match bytes.get(i + 1) {
            Some(0xb0 | 0xb1) => modrm_mem(i + 2),
            Some(0xc7) => bytes
                .get(i + 2)
                .is_some_and(|m| m >> 6 != 3 && (m >> 3) & 7 == 1),
            _ => false,
        },
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomics() {
        // lock xadd %eax,(%rdx)
        assert!(is_atomic(&[0xf0, 0x0f, 0xc1, 0x02]));
        // lock incq (%rdi): prefix, REX.W
        assert!(is_atomic(&[0xf0, 0x48, 0xff, 0x07]));
        // REX before LOCK is not how compilers emit it, but a segment
        // override before LOCK is legal
        assert!(is_atomic(&[0x65, 0xf0, 0x48, 0x0f, 0xb1, 0x3a]));
        // xchg %eax,(%rdi) and xchg %al,(%rdi)
        assert!(is_atomic(&[0x87, 0x07]));
        assert!(is_atomic(&[0x86, 0x07]));
        // xchg %rax,%rdi (register form: not a memory RMW)
        assert!(!is_atomic(&[0x48, 0x87, 0xc7]));
        // cmpxchg %ecx,(%rdx) without lock, cmpxchg16b (%rdi)
        assert!(is_atomic(&[0x0f, 0xb1, 0x0a]));
        assert!(is_atomic(&[0x48, 0x0f, 0xc7, 0x0f]));
        // rdrand %eax is 0f c7 /6, register
        assert!(!is_atomic(&[0x0f, 0xc7, 0xf0]));
        // plain add %eax,(%rdi), mov, xadd without lock
        assert!(!is_atomic(&[0x01, 0x07]));
        assert!(!is_atomic(&[0x48, 0x89, 0x07]));
        assert!(!is_atomic(&[0x0f, 0xc1, 0x02]));
        // xchg %ax,%ax style NOPs: 66 90
        assert!(!is_atomic(&[0x66, 0x90]));
        assert!(!is_atomic(&[]));
    }

    #[test]
    fn magics() {
        assert_eq!(
            magic(&[0x0f, 0x1f, 0x80, 0x01, 0x07, 0x4f, 0x4f]),
            Some(Magic { cmd: 1, tag: 7 })
        );
        assert_eq!(
            magic(&[0x0f, 0x1f, 0x80, 0x04, 0x00, 0x4f, 0x4f]),
            Some(Magic { cmd: 4, tag: 0 })
        );
        // unknown command, other displacement, prefixed
        assert_eq!(magic(&[0x0f, 0x1f, 0x80, 0x05, 0x00, 0x4f, 0x4f]), None);
        assert_eq!(magic(&[0x0f, 0x1f, 0x80, 0x01, 0x00, 0x4f, 0x4e]), None);
        assert_eq!(
            magic(&[0x66, 0x0f, 0x1f, 0x80, 0x01, 0x00, 0x4f, 0x4f]),
            None
        );
        assert_eq!(magic(&[0x0f, 0x1f, 0x44, 0x00, 0x00]), None);
    }
}
