//! Which architecture a traced process runs: x86_64, or i386 for a 32-bit
//! program (x86_64 Linux runs both, and a 64-bit tracer debugs both).

use super::sys;
use crate::arch::{i386::I386, x86_64::X86_64, Arch};
use crate::error::Pid;

/// `EI_CLASS` of a 32-bit ELF file.
const ELFCLASS32: u8 = 1;
/// `e_machine` of i386.
const EM_386: u16 = 3;
/// The code segment selector of 32-bit user code on x86_64 Linux (`__USER32_CS`).
const USER32_CS: u64 = 0x23;
/// Offset of `cs` in `user_regs_struct`.
const CS_OFFSET: usize = 17 * 8;

/// The architecture of the program the stopped process `pid` runs, from its
/// ELF header (`/proc/PID/exe`): i386 for a 32-bit Intel 80386 program. Where
/// the file cannot be read (a program that may be executed but not read),
/// the code segment of the stopped thread says which mode it runs in.
pub fn arch_of(pid: Pid) -> &'static Arch {
    use std::io::Read;
    let mut header = [0u8; 20];
    let read = std::fs::File::open(format!("/proc/{pid}/exe")).and_then(|mut f| f.read_exact(&mut header));
    match read {
        Ok(()) if header[..4] == *b"\x7fELF" => {
            if header[4] == ELFCLASS32 && u16::from_le_bytes([header[18], header[19]]) == EM_386 {
                &I386
            } else {
                &X86_64
            }
        }
        _ => {
            let mut regs = [0u8; std::mem::size_of::<libc::user_regs_struct>()];
            let cs = sys::get_regs(pid, &mut regs)
                .ok()
                .map(|()| u64::from_le_bytes(regs[CS_OFFSET..CS_OFFSET + 8].try_into().expect("8 bytes")));
            if cs == Some(USER32_CS) {
                &I386
            } else {
                &X86_64
            }
        }
    }
}
