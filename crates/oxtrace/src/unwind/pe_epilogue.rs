//! Whether an x64 Windows function stands in its epilogue, and what is left of it.
//!
//! The unwind codes describe the prologue only. The x64 ABI restricts an
//! epilogue to one shape, so that an unwinder can recognise it from the code
//! at the pc alone (as Windows does): an optional `add rsp, N` (or
//! `lea rsp, [frame register + N]` in a function with a frame register), then
//! `pop`s of non-volatile registers, then a `ret` or a tail-call `jmp` (to
//! another function, directly or through memory). When the code at the pc
//! matches from there to the end, the rest of the epilogue is run on the
//! registers instead of the unwind codes.

use iced_x86::{Code, Decoder, DecoderOptions, FlowControl, Instruction, OpKind, Register};

/// One instruction of an epilogue, as it changes the registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EpilogueStep {
    /// `add rsp, N`.
    AddRsp(u64),
    /// `lea rsp, [base + displacement]` (the base by DWARF number).
    LeaRsp {
        /// The base register's DWARF number.
        base: u16,
        /// The displacement.
        displacement: i64,
    },
    /// `pop` of the register with this DWARF number.
    Pop(u16),
    /// `ret`, or the tail-call `jmp` that ends the epilogue: the return address is at `[rsp]`.
    Return,
}

/// The most bytes an epilogue can take: `lea` (8), sixteen `pop`s (2 each), a `jmp` (7).
pub const MAX_EPILOGUE: usize = 8 + 16 * 2 + 7;

/// The rest of the epilogue starting at `pc`, if `code` (the bytes at `pc`)
/// is one; `frame_register` is the DWARF number of the function's frame
/// register, if it sets one, and `inside` tells the addresses of the same
/// function (a direct `jmp` there is a branch, not a tail call: its own code,
/// or a part of it with a chained entry).
pub fn epilogue_at(
    code: &[u8],
    pc: u64,
    frame_register: Option<u16>,
    inside: &dyn Fn(u64) -> bool,
) -> Option<Vec<EpilogueStep>> {
    let mut decoder = Decoder::with_ip(64, code, pc, DecoderOptions::NONE);
    let mut steps = Vec::new();
    let mut instruction = Instruction::default();
    let mut first = true;
    loop {
        if !decoder.can_decode() {
            return None;
        }
        decoder.decode_out(&mut instruction);
        if instruction.is_invalid() {
            return None;
        }
        let step = match instruction.code() {
            Code::Add_rm64_imm8 | Code::Add_rm64_imm32
                if first
                    && instruction.op0_kind() == OpKind::Register
                    && instruction.op0_register() == Register::RSP =>
            {
                EpilogueStep::AddRsp(instruction.immediate(1))
            }
            Code::Lea_r64_m
                if first
                    && instruction.op0_register() == Register::RSP
                    && instruction.memory_index() == Register::None
                    && frame_register.is_some()
                    && dwarf_of(instruction.memory_base()) == frame_register =>
            {
                EpilogueStep::LeaRsp { base: frame_register?, displacement: instruction.memory_displacement64() as i64 }
            }
            Code::Pop_r64 => EpilogueStep::Pop(dwarf_of(instruction.op0_register())?),
            Code::Retnq => {
                steps.push(EpilogueStep::Return);
                return Some(steps);
            }
            Code::Jmp_rel8_64 | Code::Jmp_rel32_64 if !inside(instruction.near_branch_target()) => {
                steps.push(EpilogueStep::Return);
                return Some(steps);
            }
            Code::Jmp_rm64
                if instruction.op0_kind() == OpKind::Memory
                    && instruction.flow_control() == FlowControl::IndirectBranch
                    && instruction.is_ip_rel_memory_operand() =>
            {
                steps.push(EpilogueStep::Return);
                return Some(steps);
            }
            _ => return None,
        };
        steps.push(step);
        first = false;
    }
}

/// The DWARF number of a 64-bit general register.
fn dwarf_of(register: Register) -> Option<u16> {
    const ORDER: [Register; 16] = [
        Register::RAX,
        Register::RDX,
        Register::RCX,
        Register::RBX,
        Register::RSI,
        Register::RDI,
        Register::RBP,
        Register::RSP,
        Register::R8,
        Register::R9,
        Register::R10,
        Register::R11,
        Register::R12,
        Register::R13,
        Register::R14,
        Register::R15,
    ];
    ORDER.iter().position(|r| *r == register).map(|i| i as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(addr: u64) -> bool {
        (0x1000..0x1100).contains(&addr)
    }
    const F: &dyn Fn(u64) -> bool = &f;

    #[test]
    fn recognises_the_shapes_of_an_epilogue() {
        // add rsp, 0x28; pop rbx; pop r12; ret
        let code = [0x48, 0x83, 0xc4, 0x28, 0x5b, 0x41, 0x5c, 0xc3];
        let steps = epilogue_at(&code, 0x1080, None, F).unwrap();
        assert_eq!(
            steps,
            [EpilogueStep::AddRsp(0x28), EpilogueStep::Pop(3), EpilogueStep::Pop(12), EpilogueStep::Return]
        );
        // From the second instruction on, the rest.
        assert_eq!(epilogue_at(&code[4..], 0x1084, None, F).unwrap().len(), 3);
        // lea rsp, [rbp+0x10]; pop rbp; ret — only with rbp as the frame register.
        let lea = [0x48, 0x8d, 0x65, 0x10, 0x5d, 0xc3];
        assert_eq!(
            epilogue_at(&lea, 0x1080, Some(6), F).unwrap()[0],
            EpilogueStep::LeaRsp { base: 6, displacement: 16 }
        );
        assert!(epilogue_at(&lea, 0x1080, None, F).is_none());
        // pop rbx; jmp <outside>: a tail call.
        let jmp = [0x5b, 0xe9, 0x00, 0x10, 0x00, 0x00];
        assert_eq!(epilogue_at(&jmp, 0x1080, None, F).unwrap(), [EpilogueStep::Pop(3), EpilogueStep::Return]);
    }

    #[test]
    fn other_code_is_not_an_epilogue() {
        // mov eax, 1; ret
        assert!(epilogue_at(&[0xb8, 1, 0, 0, 0, 0xc3], 0x1080, None, F).is_none());
        // pop rbx; jmp back inside the function: a loop, not a tail call.
        assert!(epilogue_at(&[0x5b, 0xeb, 0x80], 0x1080, None, F).is_none());
        // add rsp after a pop is not an epilogue's order.
        assert!(epilogue_at(&[0x5b, 0x48, 0x83, 0xc4, 0x28, 0xc3], 0x1080, None, F).is_none());
        // Cut short.
        assert!(epilogue_at(&[0x48, 0x83, 0xc4, 0x28, 0x5b], 0x1080, None, F).is_none());
    }
}
