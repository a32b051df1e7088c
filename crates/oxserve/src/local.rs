//! Packets the server answers itself, between gdbstub's packets: those
//! gdbstub does not know or answers in a way lldb cannot use.
//!
//! - `qShlibInfoAddr` (lldb): where the pointer to the dynamic linker's
//!   `r_debug` lives, the value of the program's `DT_DEBUG` entry. Without it
//!   lldb takes `main-lm` of the library list for that place, reads the
//!   program's load bias as `r_debug`, and never learns the libraries
//!   (backtraces end at `main`). gdb does not send it.
//! - `k`: gdbstub answers `OK` in extended mode; lldb wants the exit status
//!   (`X09`) and reports an error otherwise. gdb reads no reply to `k`, and in
//!   extended mode with multiprocess it sends `vKill` instead (left to gdbstub).

use oxtrace::snapshot::elf::{auxv_value, u32_at, u64_at, AT_PHDR};
use oxtrace::{ExitStatus, Trace};

use crate::target::TraceTarget;

/// The auxiliary vector's count of program headers.
const AT_PHNUM: u64 = 5;
/// Program header types: the dynamic section, the program headers themselves.
const PT_DYNAMIC: u32 = 2;
const PT_PHDR: u32 = 6;
/// Dynamic entry tags: the end of the section, the debugger's pointer.
const DT_NULL: u64 = 0;
const DT_DEBUG: u64 = 21;
/// Sizes of an ELF64 program header and dynamic entry.
const PHDR_SIZE: usize = 56;
const DYN_SIZE: u64 = 16;
/// Bounds on what a (possibly corrupt) program makes the server read.
const MAX_PHDRS: u64 = 256;
const MAX_DYN_ENTRIES: u64 = 4096;

/// Whether the server answers a packet with this body itself.
pub(crate) fn handles(body: &[u8]) -> bool {
    matches!(body, b"qShlibInfoAddr" | b"k")
}

/// The reply to a packet [`handles`] accepted.
pub(crate) fn answer(target: &mut TraceTarget, body: &[u8]) -> Vec<u8> {
    match body {
        b"qShlibInfoAddr" => match shlib_info_addr(target.trace_mut()) {
            Some(addr) => format!("{addr:x}").into_bytes(),
            None => b"E01".to_vec(),
        },
        b"k" => kill(target),
        _ => Vec::new(),
    }
}

/// Kills the process (the session goes on, as in extended mode) and says how it ended.
fn kill(target: &mut TraceTarget) -> Vec<u8> {
    let trace = target.trace_mut();
    if trace.is_attached() {
        // A process that ended under the request reports its own end below.
        let _ = trace.kill();
    }
    let reply = match trace.exit_status() {
        Some(ExitStatus::Code(code)) => format!("W{:02x}", code & 0xff),
        Some(ExitStatus::Signaled { signal, .. }) => format!("X{:02x}", crate::signals::to_gdb(signal).0),
        None => "X09".to_string(),
    };
    target.forget_process();
    reply.into_bytes()
}

/// The address of the program's `DT_DEBUG` value: found from the auxiliary
/// vector's program headers (`PT_PHDR` gives the load bias, `PT_DYNAMIC` the
/// section), so it is known before the dynamic linker runs. `None` for a
/// static program or anything unreadable.
fn shlib_info_addr(trace: &mut Trace) -> Option<u64> {
    if !trace.is_attached() {
        return None;
    }
    let auxv = std::fs::read(format!("/proc/{}/auxv", trace.pid())).ok()?;
    let phdr_addr = auxv_value(&auxv, AT_PHDR)?;
    let count = auxv_value(&auxv, AT_PHNUM)?.min(MAX_PHDRS);
    let mut phdrs = vec![0u8; usize::try_from(count).ok()? * PHDR_SIZE];
    trace.read_into(phdr_addr, &mut phdrs).ok()?;
    let (dynamic, bias) = dynamic_section(&phdrs, phdr_addr)?;
    let start = dynamic.0.checked_add(bias)?;
    for index in 0..(dynamic.1 / DYN_SIZE).min(MAX_DYN_ENTRIES) {
        let entry = start.checked_add(index * DYN_SIZE)?;
        let mut bytes = [0u8; DYN_SIZE as usize];
        trace.read_into(entry, &mut bytes).ok()?;
        match u64_at(&bytes, 0)? {
            DT_DEBUG => return entry.checked_add(8),
            DT_NULL => return None,
            _ => {}
        }
    }
    None
}

/// From program headers loaded at `phdr_addr`: the dynamic section's
/// (address before relocation, size) and the load bias.
fn dynamic_section(phdrs: &[u8], phdr_addr: u64) -> Option<((u64, u64), u64)> {
    let mut dynamic = None;
    let mut bias = None;
    for header in phdrs.chunks_exact(PHDR_SIZE) {
        let vaddr = u64_at(header, 16)?;
        match u32_at(header, 0)? {
            PT_DYNAMIC => dynamic = Some((vaddr, u64_at(header, 40)?)),
            PT_PHDR => bias = Some(phdr_addr.wrapping_sub(vaddr)),
            _ => {}
        }
    }
    // Without PT_PHDR the headers are where the program was linked to have them.
    Some((dynamic?, bias.unwrap_or(0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(kind: u32, vaddr: u64, memsz: u64) -> Vec<u8> {
        let mut h = vec![0u8; PHDR_SIZE];
        h[..4].copy_from_slice(&kind.to_le_bytes());
        h[16..24].copy_from_slice(&vaddr.to_le_bytes());
        h[40..48].copy_from_slice(&memsz.to_le_bytes());
        h
    }

    #[test]
    fn dynamic_section_and_bias_from_program_headers() {
        let mut phdrs = header(PT_PHDR, 0x40, 0x2d8);
        phdrs.extend(header(1, 0, 0x1000));
        phdrs.extend(header(PT_DYNAMIC, 0x2df8, 0x1e0));
        assert_eq!(dynamic_section(&phdrs, 0x5555_0000_0040), Some(((0x2df8, 0x1e0), 0x5555_0000_0000)));
        // A static program has no dynamic section.
        assert_eq!(dynamic_section(&header(PT_PHDR, 0x40, 0), 0x40), None);
    }

    /// Seeded random headers: never a panic, whatever the bytes.
    #[test]
    fn fuzz_program_headers() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..5_000 {
            let bytes: Vec<u8> = (0..seed % 300)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    if seed.is_multiple_of(3) {
                        2
                    } else {
                        seed as u8
                    }
                })
                .collect();
            let _ = dynamic_section(&bytes, seed);
        }
    }

    #[test]
    fn packets_answered_here() {
        assert!(handles(b"qShlibInfoAddr") && handles(b"k"));
        assert!(!handles(b"kx") && !handles(b"vKill;1") && !handles(b"qShlibInfoAddr:"));
    }
}
