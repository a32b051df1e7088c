//! Emulating the few instructions breakpoints usually sit on, so a thread can
//! leave a breakpoint without a single step (one stop per hit instead of two,
//! and the breakpoint never leaves memory, so no other thread can run past it).
//!
//! Only instructions that change no flags and touch at most one stack slot are
//! emulated: `nop`, `endbr64`, `push r64`, `mov r64, r64`. Everything else is
//! single-stepped as usual. x86_64 only.

use crate::error::Result;
use crate::registers::RegisterContext;

/// A decoded instruction this module can emulate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Emulated {
    /// Does nothing but advance the pc (`nop`, `endbr64`).
    Nop {
        /// Instruction length.
        len: u8,
    },
    /// `push` of a 64-bit general register.
    Push {
        /// The register pushed.
        reg: &'static str,
        /// Instruction length.
        len: u8,
    },
    /// `mov` between two 64-bit general registers.
    Move {
        /// Destination register.
        dst: &'static str,
        /// Source register.
        src: &'static str,
        /// Instruction length.
        len: u8,
    },
}

/// General registers in encoding order (ModRM and opcode numbering).
const GPR: [&str; 16] =
    ["rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"];

/// Decodes the instruction at the start of `code`, if it is one this module emulates.
pub fn decode(code: &[u8]) -> Option<Emulated> {
    match *code {
        [0x90, ..] => Some(Emulated::Nop { len: 1 }),
        [0xf3, 0x0f, 0x1e, 0xfa, ..] => Some(Emulated::Nop { len: 4 }),
        [op @ 0x50..=0x57, ..] => Some(Emulated::Push { reg: GPR[(op - 0x50) as usize], len: 1 }),
        [0x41, op @ 0x50..=0x57, ..] => Some(Emulated::Push { reg: GPR[(op - 0x50 + 8) as usize], len: 2 }),
        [rex @ 0x48..=0x4f, op @ (0x89 | 0x8b), modrm, ..] if modrm >> 6 == 3 => {
            // REX.W must be set; REX.X is unused for register operands.
            let reg = ((modrm >> 3) & 7) | ((rex & 4) << 1);
            let rm = (modrm & 7) | ((rex & 1) << 3);
            let (dst, src) = if op == 0x89 { (rm, reg) } else { (reg, rm) };
            Some(Emulated::Move { dst: GPR[dst as usize], src: GPR[src as usize], len: 3 })
        }
        _ => None,
    }
}

impl Emulated {
    /// Applies the instruction to `regs` (whose general registers are loaded).
    /// Returns the memory write it makes, if any: `(address, bytes)`.
    pub fn apply(self, regs: &mut RegisterContext) -> Result<Option<(u64, [u8; 8])>> {
        let pc = regs.pc()?;
        let (len, write) = match self {
            Emulated::Nop { len } => (len, None),
            Emulated::Push { reg, len } => {
                let value = regs.get_u64(reg)?;
                let sp = regs.sp()?.wrapping_sub(8);
                regs.set_sp(sp)?;
                (len, Some((sp, value.to_le_bytes())))
            }
            Emulated::Move { dst, src, len } => {
                let value = regs.get_u64(src)?;
                regs.set_u64(dst, value)?;
                (len, None)
            }
        };
        regs.set_pc(pc.wrapping_add(u64::from(len)))?;
        Ok(write)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::{x86_64::X86_64, RegisterGroup};

    #[test]
    fn decodes_the_usual_prologue() {
        assert_eq!(decode(&[0x55, 0x48]), Some(Emulated::Push { reg: "rbp", len: 1 }));
        assert_eq!(decode(&[0x41, 0x57]), Some(Emulated::Push { reg: "r15", len: 2 }));
        assert_eq!(decode(&[0xf3, 0x0f, 0x1e, 0xfa]), Some(Emulated::Nop { len: 4 }));
        assert_eq!(decode(&[0x48, 0x89, 0xe5]), Some(Emulated::Move { dst: "rbp", src: "rsp", len: 3 }));
        assert_eq!(decode(&[0x4c, 0x89, 0xc7]), Some(Emulated::Move { dst: "rdi", src: "r8", len: 3 }));
        assert_eq!(decode(&[0x48, 0x8b, 0xc1]), Some(Emulated::Move { dst: "rax", src: "rcx", len: 3 }));
        // Memory operands, flag-changing and other instructions are not emulated.
        assert_eq!(decode(&[0x48, 0x89, 0x45, 0xf8]), None); // mov %rax,-0x8(%rbp)
        assert_eq!(decode(&[0x48, 0x83, 0xec, 0x10]), None); // sub $0x10,%rsp
        assert_eq!(decode(&[0x89, 0xc0]), None); // 32-bit mov
        assert_eq!(decode(&[0xc3]), None);
        assert_eq!(decode(&[]), None);
        assert_eq!(decode(&[0x41]), None);
    }

    #[test]
    fn push_moves_the_stack_and_writes_the_value() {
        let mut regs = RegisterContext::new(&X86_64);
        regs.load(RegisterGroup::General, vec![0; 216]).unwrap();
        regs.set_u64("rsp", 0x7000).unwrap();
        regs.set_u64("rbp", 0x1122).unwrap();
        regs.set_pc(0x400000).unwrap();
        let write = decode(&[0x55]).unwrap().apply(&mut regs).unwrap();
        assert_eq!(write, Some((0x6ff8, 0x1122u64.to_le_bytes())));
        assert_eq!(regs.sp().unwrap(), 0x6ff8);
        assert_eq!(regs.pc().unwrap(), 0x400001);
        decode(&[0x48, 0x89, 0xe5]).unwrap().apply(&mut regs).unwrap();
        assert_eq!(regs.get_u64("rbp").unwrap(), 0x6ff8);
        assert_eq!(regs.pc().unwrap(), 0x400004);
    }
}
