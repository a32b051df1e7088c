//! The payloads of the standard core-file notes, in the kernel's x86_64
//! layouts: `NT_PRSTATUS`, `NT_PRPSINFO`, `NT_FILE` (built and parsed), and
//! the XSAVE-derived `NT_FPREGSET`.
//!
//! The caller passes register blocks in the layouts of
//! [`crate::arch::x86_64`] (General = `user_regs_struct`, the XSAVE area), which
//! are the layouts these notes carry: no conversion happens here.

use super::elf::{
    put_u64, LeReader, FXSAVE_SIZE, PRPSINFO_PID, PRPSINFO_SIZE, PRSTATUS_CURSIG, PRSTATUS_FPVALID, PRSTATUS_PID,
    PRSTATUS_REG, PRSTATUS_SIZE, USER_REGS_SIZE,
};
use crate::error::{Pid, Tid};
use crate::platform::ProcessInfo;

/// `struct elf_prstatus` of one thread: its signal, ids and general registers.
pub fn prstatus(tid: Tid, pid: Pid, signal: Option<i32>, general: &[u8], fp_valid: bool) -> Vec<u8> {
    let mut out = vec![0u8; PRSTATUS_SIZE];
    if let Some(signal) = signal {
        out[0..4].copy_from_slice(&signal.to_le_bytes()); // si_signo
        out[PRSTATUS_CURSIG..PRSTATUS_CURSIG + 2].copy_from_slice(&(signal as i16).to_le_bytes());
    }
    out[PRSTATUS_PID..PRSTATUS_PID + 4].copy_from_slice(&tid.to_le_bytes());
    // pr_pgrp: the process (a thread's own parent and session are not tracked).
    out[PRSTATUS_PID + 8..PRSTATUS_PID + 12].copy_from_slice(&pid.to_le_bytes());
    let n = general.len().min(USER_REGS_SIZE);
    out[PRSTATUS_REG..PRSTATUS_REG + n].copy_from_slice(&general[..n]);
    out[PRSTATUS_FPVALID..PRSTATUS_FPVALID + 4].copy_from_slice(&(fp_valid as i32).to_le_bytes());
    out
}

/// What one `NT_PRSTATUS` says: the thread, its current signal and its general registers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadStatus {
    /// The thread id (`pr_pid`).
    pub tid: Tid,
    /// The signal it stopped with (`pr_cursig`), if any.
    pub signal: Option<i32>,
    /// `user_regs_struct`.
    pub general: Vec<u8>,
}

/// Parses an `NT_PRSTATUS` payload; `None` when it is too short for the x86_64 layout.
pub fn parse_prstatus(desc: &[u8]) -> Option<ThreadStatus> {
    let general = desc.get(PRSTATUS_REG..PRSTATUS_REG + USER_REGS_SIZE)?.to_vec();
    let tid = LeReader::new(desc.get(PRSTATUS_PID..)?).u32()? as i32;
    let cursig = LeReader::new(desc.get(PRSTATUS_CURSIG..)?).u16()? as i16;
    Some(ThreadStatus { tid, signal: (cursig != 0).then_some(cursig as i32), general })
}

/// `struct elf_prpsinfo` of the process.
pub fn prpsinfo(pid: Pid, info: &ProcessInfo) -> Vec<u8> {
    let mut out = vec![0u8; PRPSINFO_SIZE];
    let state = info.state;
    // pr_state is the kernel's state number; pr_sname the letter.
    out[0] = match state {
        b'R' => 0,
        b'S' => 1,
        b'D' => 2,
        b'T' | b't' => 4,
        b'Z' => 16,
        _ => 0,
    };
    out[1] = if state == 0 { b'R' } else { state };
    out[16..20].copy_from_slice(&info.uid.to_le_bytes());
    out[20..24].copy_from_slice(&info.gid.to_le_bytes());
    out[PRPSINFO_PID..PRPSINFO_PID + 4].copy_from_slice(&pid.to_le_bytes());
    out[28..32].copy_from_slice(&info.ppid.to_le_bytes());
    out[32..36].copy_from_slice(&info.pgrp.to_le_bytes());
    out[36..40].copy_from_slice(&info.sid.to_le_bytes());
    copy_c_string(&mut out[40..56], &info.name);
    copy_c_string(&mut out[56..136], &info.args);
    out
}

/// Parses an `NT_PRPSINFO` payload: the pid and what else it holds.
pub fn parse_prpsinfo(desc: &[u8]) -> Option<(Pid, ProcessInfo)> {
    if desc.len() < PRPSINFO_SIZE {
        return None;
    }
    let word = |at: usize| i32::from_le_bytes(desc[at..at + 4].try_into().expect("4 bytes"));
    let text = |range: std::ops::Range<usize>| {
        let bytes = &desc[range];
        String::from_utf8_lossy(bytes.split(|&b| b == 0).next().unwrap_or_default()).into_owned()
    };
    let info = ProcessInfo {
        state: desc[1],
        ppid: word(28),
        pgrp: word(32),
        sid: word(36),
        uid: word(16) as u32,
        gid: word(20) as u32,
        name: text(40..56),
        args: text(56..136),
    };
    Some((word(PRPSINFO_PID), info))
}

/// Copies `text` into a fixed field, cut to leave a terminating NUL.
fn copy_c_string(field: &mut [u8], text: &str) {
    let n = text.len().min(field.len() - 1);
    field[..n].copy_from_slice(&text.as_bytes()[..n]);
}

/// The FXSAVE part of an XSAVE area (`NT_FPREGSET`), zero-padded if short.
pub fn fpregset(xsave: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; FXSAVE_SIZE];
    let n = xsave.len().min(FXSAVE_SIZE);
    out[..n].copy_from_slice(&xsave[..n]);
    out
}

/// One file-backed map as `NT_FILE` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileMapping {
    /// First address.
    pub start: u64,
    /// End address.
    pub end: u64,
    /// Offset into the file in bytes.
    pub offset: u64,
    /// The file's path.
    pub path: String,
}

/// The `NT_FILE` payload: count, page size, `(start, end, page offset)` triples, then the paths.
pub fn nt_file(mappings: &[FileMapping], page_size: u64) -> Vec<u8> {
    nt_file_sized(mappings, page_size, 8)
}

/// [`nt_file`] with `word`-byte numbers (a 32-bit process's `long`s are 4 bytes).
pub fn nt_file_sized(mappings: &[FileMapping], page_size: u64, word: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let put = |out: &mut Vec<u8>, value: u64| match word {
        4 => out.extend_from_slice(&(value as u32).to_le_bytes()),
        _ => put_u64(out, value),
    };
    put(&mut out, mappings.len() as u64);
    put(&mut out, page_size);
    for m in mappings {
        put(&mut out, m.start);
        put(&mut out, m.end);
        put(&mut out, m.offset / page_size);
    }
    for m in mappings {
        out.extend_from_slice(m.path.as_bytes());
        out.push(0);
    }
    out
}

/// Parses an `NT_FILE` payload; the error says what is wrong.
pub fn parse_nt_file(desc: &[u8]) -> Result<Vec<FileMapping>, String> {
    parse_nt_file_sized(desc, 8)
}

/// [`parse_nt_file`] of `word`-byte numbers.
pub fn parse_nt_file_sized(desc: &[u8], word: usize) -> Result<Vec<FileMapping>, String> {
    let mut r = LeReader::new(desc);
    let next = |r: &mut LeReader| match word {
        4 => r.u32().map(u64::from),
        _ => r.u64(),
    };
    let count = next(&mut r).ok_or("NT_FILE too short for its count")?;
    let page_size = next(&mut r).ok_or("NT_FILE too short for its page size")?;
    if count > (r.remaining() / (3 * word)) as u64 {
        return Err(format!("NT_FILE lists {count} files but holds only {} bytes", desc.len()));
    }
    let mut triples = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let (start, end, page) =
            (next(&mut r).ok_or("short")?, next(&mut r).ok_or("short")?, next(&mut r).ok_or("short")?);
        triples.push((start, end, page.saturating_mul(page_size)));
    }
    let names = r.bytes(r.remaining()).unwrap_or_default();
    let mut paths = names.split(|&b| b == 0);
    triples
        .into_iter()
        .enumerate()
        .map(|(i, (start, end, offset))| {
            let path = paths.next().ok_or_else(|| format!("NT_FILE has no path for its file {i}"))?;
            Ok(FileMapping { start, end, offset, path: String::from_utf8_lossy(path).into_owned() })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prstatus_round_trips_tid_signal_and_registers() {
        let general: Vec<u8> = (0..USER_REGS_SIZE as u32).map(|i| i as u8).collect();
        let desc = prstatus(4242, 4240, Some(11), &general, true);
        assert_eq!(desc.len(), 336);
        let status = parse_prstatus(&desc).unwrap();
        assert_eq!((status.tid, status.signal), (4242, Some(11)));
        assert_eq!(status.general, general);
    }

    #[test]
    fn nt_file_round_trips() {
        let maps = vec![
            FileMapping { start: 0x1000, end: 0x3000, offset: 0x2000, path: "/bin/a".into() },
            FileMapping { start: 0x5000, end: 0x6000, offset: 0, path: "/lib/b.so".into() },
        ];
        assert_eq!(parse_nt_file(&nt_file(&maps, 4096)).unwrap(), maps);
        assert!(parse_nt_file(&nt_file(&maps, 4096)[..40]).is_err());
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
        let (pid, back) = parse_prpsinfo(&prpsinfo(77, &info)).unwrap();
        assert_eq!((pid, back), (77, info));
    }
}
