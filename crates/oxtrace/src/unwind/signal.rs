//! Signal frames without call frame information.
//!
//! When a handler returns it lands in the C library's restorer, which calls
//! `rt_sigreturn`; the kernel saved the interrupted registers in a
//! `ucontext_t` just above the restorer's stack pointer. glibc describes that
//! frame in its CFI; this recogniser covers restorers that are not described
//! (static binaries built without it, other C libraries).

use super::cfi::read_u64;
use super::regs::UnwindRegs;
use crate::arch::x86_64::X86_64;

/// `mov $15, %rax; syscall`: the restorer's code (15 is `rt_sigreturn`).
const RESTORER: [u8; 9] = [0x48, 0xc7, 0xc0, 0x0f, 0x00, 0x00, 0x00, 0x0f, 0x05];

/// Offset of `uc_mcontext` in `ucontext_t` (`uc_flags`, `uc_link`, `uc_stack`).
const MCONTEXT: u64 = 40;

/// DWARF numbers of the general registers in `struct sigcontext` order:
/// r8-r15, rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip.
const SIGCONTEXT_ORDER: [u16; 17] = [8, 9, 10, 11, 12, 13, 14, 15, 5, 4, 6, 3, 1, 0, 2, 7, 16];

/// Whether the frame of `regs` is at a signal restorer (x86_64's only: on
/// other architectures the C library describes its restorer in its CFI).
pub fn is_signal_restorer(regs: &UnwindRegs, read: &mut dyn FnMut(u64, &mut [u8]) -> bool) -> bool {
    let mut code = [0u8; 9];
    std::ptr::eq(regs.layout(), &X86_64.unwind) && regs.pc().is_some_and(|pc| read(pc, &mut code) && code == RESTORER)
}

/// The interrupted registers saved in the x86_64 signal frame at `sp`.
pub fn interrupted_registers(sp: u64, read: &mut dyn FnMut(u64, &mut [u8]) -> bool) -> Option<UnwindRegs> {
    let mut regs = UnwindRegs::new(&X86_64.unwind);
    for (i, number) in SIGCONTEXT_ORDER.iter().enumerate() {
        regs.set(*number, Some(read_u64(read, sp.wrapping_add(MCONTEXT + 8 * i as u64))?));
    }
    Some(regs)
}
