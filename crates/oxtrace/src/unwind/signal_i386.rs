//! Signal frames of 32-bit (i386) processes whose restorer has no call frame
//! information (a C library that passes its own `SA_RESTORER` code; glibc
//! returns through the vdso, whose CFI describes the frame).
//!
//! The kernel calls a handler with the return address pointing at the
//! restorer; when the handler returns, the restorer's stack pointer is just
//! past that return address, at the frame's `sig` field. Two restorers exist,
//! recognised by their code: `sigreturn` (`pop %eax; mov $119, %eax; int
//! $0x80`) over a `struct sigframe`, whose `sigcontext` follows `sig`, and
//! `rt_sigreturn` (`mov $173, %eax; int $0x80`) over a `struct rt_sigframe`,
//! whose `ucontext` follows `sig`, `pinfo`, `puc` and a 128-byte `siginfo`.

use super::regs::UnwindRegs;
use crate::arch::i386::I386;

/// `pop %eax; mov $119, %eax; int $0x80` (119 is `sigreturn`).
const SIGRETURN: [u8; 8] = [0x58, 0xb8, 0x77, 0x00, 0x00, 0x00, 0xcd, 0x80];
/// `mov $173, %eax; int $0x80` (173 is `rt_sigreturn`).
const RT_SIGRETURN: [u8; 7] = [0xb8, 0xad, 0x00, 0x00, 0x00, 0xcd, 0x80];

/// Where `struct sigcontext` starts, from the restorer's stack pointer: after
/// `sig` (sigframe), or after `sig`, `pinfo`, `puc`, the siginfo (128 bytes)
/// and the ucontext's `uc_flags`, `uc_link` and `uc_stack` (20 bytes).
const SIGCONTEXT: u64 = 4;
const RT_SIGCONTEXT: u64 = 4 + 4 + 4 + 128 + 20;

/// DWARF numbers of the registers in `struct sigcontext` from its fifth word
/// (after gs, fs, es, ds): edi, esi, ebp, esp, ebx, edx, ecx, eax, then eip at word 14.
const SIGCONTEXT_ORDER: [(u64, u16); 9] = [(4, 7), (5, 6), (6, 5), (7, 4), (8, 3), (9, 2), (10, 1), (11, 0), (14, 8)];

/// The registers a signal interrupted, if the frame of `regs` (at stack pointer
/// `sp`) is an i386 restorer without call frame information.
pub fn interrupted_registers(
    regs: &UnwindRegs,
    sp: u64,
    read: &mut dyn FnMut(u64, &mut [u8]) -> bool,
) -> Option<UnwindRegs> {
    if !std::ptr::eq(regs.layout(), &I386.unwind) {
        return None;
    }
    let pc = regs.pc()?;
    let mut code = [0u8; 8];
    if !read(pc, &mut code) {
        return None;
    }
    let context = if code == SIGRETURN {
        sp.checked_add(SIGCONTEXT)?
    } else if code[..7] == RT_SIGRETURN {
        sp.checked_add(RT_SIGCONTEXT)?
    } else {
        return None;
    };
    let mut caller = UnwindRegs::new(&I386.unwind);
    for (word, number) in SIGCONTEXT_ORDER {
        caller.set(number, Some(I386.unwind.read_word(read, context.checked_add(4 * word)?)?));
    }
    Some(caller)
}
