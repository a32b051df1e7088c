//! Whether a site can take a 5-byte jump: the function around it decoded
//! whole, the instructions the jump covers, and why a site is refused.
//!
//! A jump at a site overwrites every instruction that starts in its 5 bytes.
//! That is safe only if no code ever arrives in the middle of those bytes
//! (a branch, a return from a call, a jump table), and if each covered
//! instruction can run elsewhere. The function holding the site is decoded
//! from its symbol's start to its end: every direct branch target is known.
//! Jump tables (an indirect `jmp` through a register or a non-RIP-relative
//! memory operand) have targets no decoder can list, so a site covering more
//! than one instruction is refused in a function that has one.

use iced_x86::{Decoder, DecoderOptions, FlowControl, Instruction, Mnemonic, OpKind, Register};

/// The length of `jmp rel32`.
pub(super) const JUMP_LEN: u64 = 5;

/// The instructions a jump at a site covers.
#[derive(Debug, Clone)]
pub(super) struct Covered {
    /// The instructions, in order (their `ip` is their original address).
    pub instructions: Vec<Instruction>,
    /// How many bytes they span (at least [`JUMP_LEN`]).
    pub len: u64,
}

/// A function decoded whole: its instructions, the targets of its direct
/// branches, and whether it has a jump whose targets cannot be known.
#[derive(Debug, Clone)]
pub(super) struct Function {
    /// Where it starts.
    pub start: u64,
    /// Its bytes (the original ones).
    pub code: Vec<u8>,
    instructions: Vec<Instruction>,
    /// Every direct branch target, sorted, with the branch's address.
    targets: Vec<(u64, u64)>,
    /// The first indirect jump through a register or non-RIP memory.
    table_jump: Option<u64>,
}

impl Function {
    /// Decodes `code`, the bytes of the function at `start`.
    pub fn decode(start: u64, code: Vec<u8>) -> Result<Function, String> {
        let mut decoder = Decoder::with_ip(64, &code, start, DecoderOptions::NONE);
        let mut instructions = Vec::new();
        let mut targets = Vec::new();
        let mut table_jump = None;
        while decoder.can_decode() {
            let insn = decoder.decode();
            if insn.is_invalid() {
                return Err(format!("the function holds bytes that do not decode at {:#x}", insn.ip()));
            }
            if let Some(target) = direct_target(&insn) {
                targets.push((target, insn.ip()));
            }
            if table_jump.is_none() && is_table_jump(&insn) {
                table_jump = Some(insn.ip());
            }
            instructions.push(insn);
        }
        targets.sort_unstable();
        Ok(Function { start, code, instructions, targets, table_jump })
    }

    /// Which instructions a jump at `site` covers, or why no jump may go there.
    pub fn covered(&self, site: u64) -> Result<Covered, String> {
        let end = self.start + self.code.len() as u64;
        let first = self
            .instructions
            .binary_search_by_key(&site, Instruction::ip)
            .map_err(|_| format!("{site:#x} is not the start of an instruction of its function"))?;
        let mut covered = Vec::new();
        let mut len = 0;
        for insn in &self.instructions[first..] {
            if len >= JUMP_LEN {
                break;
            }
            covered.push(*insn);
            len += insn.len() as u64;
        }
        if len < JUMP_LEN {
            return Err(format!("the function ends {} bytes after the site, fewer than the jump's 5", end - site));
        }
        for (n, insn) in covered.iter().enumerate() {
            relocatable(insn, n + 1 == covered.len())?;
        }
        let inside = self.targets.partition_point(|&(t, _)| t <= site);
        if let Some(&(target, from)) = self.targets.get(inside).filter(|(t, _)| *t < site + len) {
            let branch =
                self.instructions.binary_search_by_key(&from, Instruction::ip).map(|i| mnemonic(&self.instructions[i]));
            return Err(format!(
                "the {} at {from:#x} branches to {target:#x}, inside the {len} bytes the jump would cover",
                branch.unwrap_or_default()
            ));
        }
        if let Some(at) = self.table_jump.filter(|_| covered.len() > 1) {
            return Err(format!(
                "the function has an indirect jump at {at:#x} (a jump table?) whose targets cannot be known"
            ));
        }
        Ok(Covered { instructions: covered, len })
    }
}

/// Decodes the function `[start, start + code.len())` and says which
/// instructions a jump at `site` covers, or why no jump may go there.
#[cfg(test)]
fn analyse(start: u64, code: &[u8], site: u64) -> Result<Covered, String> {
    Function::decode(start, code.to_vec())?.covered(site)
}

/// Why an instruction under the jump cannot run in a pad, if it cannot.
fn relocatable(insn: &Instruction, last: bool) -> Result<(), String> {
    let refuse = |why: &str| Err(format!("the {} at {:#x} {why}", mnemonic(insn), insn.ip()));
    match insn.flow_control() {
        FlowControl::Next | FlowControl::UnconditionalBranch | FlowControl::ConditionalBranch => Ok(()),
        FlowControl::IndirectBranch | FlowControl::Return => Ok(()),
        FlowControl::Call | FlowControl::IndirectCall if insn.mnemonic() == Mnemonic::Syscall => Ok(()),
        FlowControl::Call | FlowControl::IndirectCall if !last => {
            refuse("is a call followed by other covered code, where its callee would return")
        }
        FlowControl::IndirectCall if uses_stack_pointer(insn) => refuse("is a call through the stack pointer"),
        FlowControl::Call | FlowControl::IndirectCall if insn.mnemonic() != Mnemonic::Call => refuse("is a far call"),
        FlowControl::Call | FlowControl::IndirectCall => Ok(()),
        FlowControl::Interrupt => refuse("raises an interrupt"),
        FlowControl::XbeginXabortXend => refuse("is a transaction instruction"),
        FlowControl::Exception => refuse("raises an exception"),
    }
}

/// An instruction's mnemonic as it is written (`call`, `jne`).
fn mnemonic(insn: &Instruction) -> String {
    format!("{:?}", insn.mnemonic()).to_lowercase()
}

/// Whether an instruction reads `rsp` in a memory operand or as its operand.
fn uses_stack_pointer(insn: &Instruction) -> bool {
    (0..insn.op_count()).any(|n| match insn.op_kind(n) {
        OpKind::Register => insn.op_register(n) == Register::RSP,
        OpKind::Memory => insn.memory_base() == Register::RSP || insn.memory_index() == Register::RSP,
        _ => false,
    })
}

/// The target of a direct near branch or call.
fn direct_target(insn: &Instruction) -> Option<u64> {
    (0..insn.op_count())
        .any(|n| matches!(insn.op_kind(n), OpKind::NearBranch16 | OpKind::NearBranch32 | OpKind::NearBranch64))
        .then(|| insn.near_branch_target())
}

/// An indirect jump whose targets are not in the instruction: through a
/// register, or through memory other than one RIP-relative slot (a tail call
/// through the GOT is not a table).
fn is_table_jump(insn: &Instruction) -> bool {
    insn.flow_control() == FlowControl::IndirectBranch
        && (0..insn.op_count()).any(|n| match insn.op_kind(n) {
            OpKind::Register => true,
            OpKind::Memory => !insn.is_ip_rel_memory_operand(),
            _ => false,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_branch_into_the_covered_bytes_refuses_the_site() {
        // 0: push rbp; 1: mov rbp,rsp; 4: xor eax,eax; 6: jne 1; 8: ret
        let code = [0x55, 0x48, 0x89, 0xe5, 0x31, 0xc0, 0x75, 0xf9, 0xc3];
        let why = analyse(0x1000, &code, 0x1000).unwrap_err();
        assert!(why.contains("branches to 0x1001"), "{why}");
    }

    #[test]
    fn a_site_without_branches_inside_covers_whole_instructions() {
        // 0: push rbp; 1: mov rbp,rsp; 4: xor eax,eax; 6: pop rbp; 7: ret
        let code = [0x55, 0x48, 0x89, 0xe5, 0x31, 0xc0, 0x5d, 0xc3];
        let covered = analyse(0x1000, &code, 0x1000).unwrap();
        assert_eq!(covered.len, 6);
        assert_eq!(covered.instructions.len(), 3);
    }

    #[test]
    fn a_site_near_the_end_or_mid_instruction_is_refused() {
        let code = [0x55, 0x48, 0x89, 0xe5, 0x5d, 0xc3];
        assert!(analyse(0x1000, &code, 0x1004).unwrap_err().contains("fewer than"));
        assert!(analyse(0x1000, &code, 0x1002).unwrap_err().contains("not the start"));
    }
}
