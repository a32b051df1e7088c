//! Which architecture a traced process runs: x86_64, or i386 for a 32-bit
//! program (x86_64 Linux runs both, and a 64-bit tracer debugs both).

use crate::arch::{i386::I386, x86_64::X86_64, Arch};
use crate::error::Pid;

/// `EI_CLASS` of a 32-bit ELF file.
const ELFCLASS32: u8 = 1;
/// `e_machine` of i386.
const EM_386: u16 = 3;

/// The architecture of the program `pid` runs, from its ELF header
/// (`/proc/PID/exe`): i386 for a 32-bit Intel 80386 program, x86_64 otherwise
/// (also when the file cannot be read: the kernel ran it, so it is one of the two).
pub fn arch_of(pid: Pid) -> &'static Arch {
    use std::io::Read;
    let mut header = [0u8; 20];
    let read = std::fs::File::open(format!("/proc/{pid}/exe")).and_then(|mut f| f.read_exact(&mut header));
    match read {
        Ok(()) if header[..4] == *b"\x7fELF" && header[4] == ELFCLASS32 => {
            if u16::from_le_bytes([header[18], header[19]]) == EM_386 {
                &I386
            } else {
                &X86_64
            }
        }
        _ => &X86_64,
    }
}
