//! The note payloads of an i386 (32-bit) Linux core file, in the kernel's
//! 32-bit layouts: `struct elf_prstatus` (144 bytes, `pr_reg` the 17-word
//! i386 `user_regs_struct`) and `struct elf_prpsinfo` (124 bytes).
//!
//! oxtrace keeps the registers of a 32-bit process in the 64-bit
//! `user_regs_struct` layout a 64-bit tracer gets from ptrace (see
//! [`crate::arch::i386`]); the conversion between the two is here.

use super::elf::LeReader;
use super::notes::ThreadStatus;
use crate::error::{Pid, Tid};
use crate::platform::ProcessInfo;

/// Size of i386 `struct elf_prstatus`.
pub const PRSTATUS_SIZE: usize = 144;
/// Offset of `pr_cursig`.
const PRSTATUS_CURSIG: usize = 12;
/// Offset of `pr_pid`.
const PRSTATUS_PID: usize = 24;
/// Offset of `pr_reg`.
const PRSTATUS_REG: usize = 72;
/// Offset of `pr_fpvalid`.
const PRSTATUS_FPVALID: usize = 140;
/// Size of i386 `struct elf_prpsinfo`.
pub const PRPSINFO_SIZE: usize = 124;
/// Size of the 64-bit `user_regs_struct` the registers are kept in.
const WIDE_REGS_SIZE: usize = 216;

/// For each word of the i386 `user_regs_struct` (ebx, ecx, edx, esi, edi,
/// ebp, eax, ds, es, fs, gs, orig_eax, eip, cs, eflags, esp, ss), its slot in
/// the 64-bit one.
const WIDE_SLOT: [usize; 17] = [5, 11, 12, 13, 14, 4, 10, 23, 24, 25, 26, 15, 16, 17, 18, 19, 20];
/// The index of `orig_eax`, which is sign-extended (-1 means "no system call").
const ORIG_EAX: usize = 11;

/// The i386 `user_regs_struct` of registers kept in the 64-bit layout.
pub fn narrow_registers(wide: &[u8]) -> [u8; 68] {
    let mut out = [0u8; 68];
    for (i, &slot) in WIDE_SLOT.iter().enumerate() {
        if let Some(bytes) = wide.get(slot * 8..slot * 8 + 4) {
            out[i * 4..i * 4 + 4].copy_from_slice(bytes);
        }
    }
    out
}

/// The 64-bit layout of an i386 `user_regs_struct` (the upper halves zero, `orig_eax` sign-extended).
pub fn widen_registers(narrow: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; WIDE_REGS_SIZE];
    for (i, &slot) in WIDE_SLOT.iter().enumerate() {
        let Some(word) = LeReader::new(narrow.get(i * 4..).unwrap_or_default()).u32() else { break };
        let value = if i == ORIG_EAX { word as i32 as i64 as u64 } else { u64::from(word) };
        out[slot * 8..slot * 8 + 8].copy_from_slice(&value.to_le_bytes());
    }
    out
}

/// i386 `struct elf_prstatus` of one thread; `general` is in the 64-bit layout.
pub fn prstatus(tid: Tid, pid: Pid, signal: Option<i32>, general: &[u8], fp_valid: bool) -> Vec<u8> {
    let mut out = vec![0u8; PRSTATUS_SIZE];
    if let Some(signal) = signal {
        out[0..4].copy_from_slice(&signal.to_le_bytes()); // si_signo
        out[PRSTATUS_CURSIG..PRSTATUS_CURSIG + 2].copy_from_slice(&(signal as i16).to_le_bytes());
    }
    out[PRSTATUS_PID..PRSTATUS_PID + 4].copy_from_slice(&tid.to_le_bytes());
    // pr_pgrp: the process (a thread's own parent and session are not tracked).
    out[PRSTATUS_PID + 8..PRSTATUS_PID + 12].copy_from_slice(&pid.to_le_bytes());
    out[PRSTATUS_REG..PRSTATUS_REG + 68].copy_from_slice(&narrow_registers(general));
    out[PRSTATUS_FPVALID..PRSTATUS_FPVALID + 4].copy_from_slice(&(fp_valid as i32).to_le_bytes());
    out
}

/// Parses an i386 `NT_PRSTATUS` payload, with the registers in the 64-bit layout;
/// `None` when it is too short.
pub fn parse_prstatus(desc: &[u8]) -> Option<ThreadStatus> {
    let general = widen_registers(desc.get(PRSTATUS_REG..PRSTATUS_REG + 68)?);
    let tid = LeReader::new(desc.get(PRSTATUS_PID..)?).u32()? as i32;
    let cursig = LeReader::new(desc.get(PRSTATUS_CURSIG..)?).u16()? as i16;
    Some(ThreadStatus { tid, signal: (cursig != 0).then_some(cursig as i32), general })
}

/// i386 `struct elf_prpsinfo`: `pr_flag` is 4 bytes and the ids 2, so every
/// field after them sits earlier than in the x86_64 layout.
pub fn prpsinfo(pid: Pid, info: &ProcessInfo) -> Vec<u8> {
    let mut out = vec![0u8; PRPSINFO_SIZE];
    let wide = super::notes::prpsinfo(pid, info);
    out[..4].copy_from_slice(&wide[..4]); // pr_state, pr_sname, pr_zomb, pr_nice
    out[8..10].copy_from_slice(&(info.uid as u16).to_le_bytes());
    out[10..12].copy_from_slice(&(info.gid as u16).to_le_bytes());
    for (i, value) in [pid, info.ppid, info.pgrp, info.sid].into_iter().enumerate() {
        out[12 + 4 * i..16 + 4 * i].copy_from_slice(&value.to_le_bytes());
    }
    // pr_fname[16] and pr_psargs[80], as in the 64-bit layout.
    out[28..124].copy_from_slice(&wide[40..136]);
    out
}

/// Parses an i386 `NT_PRPSINFO` payload: the pid and what else it holds.
pub fn parse_prpsinfo(desc: &[u8]) -> Option<(Pid, ProcessInfo)> {
    if desc.len() < PRPSINFO_SIZE {
        return None;
    }
    let word = |at: usize| i32::from_le_bytes(desc[at..at + 4].try_into().expect("4 bytes"));
    let half = |at: usize| u32::from(u16::from_le_bytes(desc[at..at + 2].try_into().expect("2 bytes")));
    let text = |range: std::ops::Range<usize>| {
        let bytes = &desc[range];
        String::from_utf8_lossy(bytes.split(|&b| b == 0).next().unwrap_or_default()).into_owned()
    };
    let info = ProcessInfo {
        state: desc[1],
        ppid: word(16),
        pgrp: word(20),
        sid: word(24),
        uid: half(8),
        gid: half(10),
        name: text(28..44),
        args: text(44..124),
    };
    Some((word(12), info))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registers_round_trip_through_the_32_bit_layout() {
        let mut wide = vec![0u8; WIDE_REGS_SIZE];
        for (i, &slot) in WIDE_SLOT.iter().enumerate() {
            wide[slot * 8..slot * 8 + 4].copy_from_slice(&(0x1000_0000 + i as u32).to_le_bytes());
        }
        wide[15 * 8..16 * 8].copy_from_slice(&u64::MAX.to_le_bytes()); // orig_eax = -1
        let desc = prstatus(4242, 4240, Some(11), &wide, true);
        assert_eq!(desc.len(), 144);
        let status = parse_prstatus(&desc).unwrap();
        assert_eq!((status.tid, status.signal), (4242, Some(11)));
        assert_eq!(status.general, wide);
        // eip is word 12 of pr_reg.
        assert_eq!(LeReader::new(&desc[72 + 48..]).u32(), Some(0x1000_000c));
        assert!(parse_prstatus(&desc[..100]).is_none());
    }

    #[test]
    fn prpsinfo_round_trips() {
        let info = ProcessInfo {
            state: b't',
            ppid: 1,
            pgrp: 2,
            sid: 3,
            uid: 4,
            gid: 5,
            name: "x".into(),
            args: "x -y".into(),
        };
        let desc = prpsinfo(77, &info);
        assert_eq!(desc.len(), 124);
        assert_eq!(parse_prpsinfo(&desc).unwrap(), (77, info));
    }
}
