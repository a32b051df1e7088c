//! Assembling one pad: save, count, test, record, trap, restore, then the
//! covered instructions relocated and a jump back.
//!
//! ```text
//! entry:     lea rsp, [rsp-128]; pushfq; (push the 15 registers; mov rbx, rsp)
//!            (condition -> rax; test rax, rax; je skip)
//! holds:     lock inc qword [rip+counter]
//!            (append a record to the ring)
//!            (restore; int3; jmp displaced)       -- when the hit stops
//! skip:      restore                              -- popfq; lea rsp, [rsp+128]
//! displaced: the covered instructions, relocated by iced-x86's block encoder
//!            jmp site+len
//! ```
//!
//! The `int3` comes after the restore: a thread stopped on it has exactly
//! the registers it had at the site, so the tracer reports it at the site and
//! resumes it at `displaced`. A relocated `call` pushes the original return
//! address (the instruction after the covered bytes) and jumps: the callee
//! returns to the program's code, never into the pad, so a pad can be freed
//! while a call made from it is still running.

use iced_x86::code_asm::{ptr, qword_ptr, rax, rsp, CodeAssembler, CodeLabel};
use iced_x86::{BlockEncoderOptions, Code, FlowControl, Instruction, MemoryOperand, Mnemonic, Register};

use super::condition::Compile;
use super::frame;
use super::ring::RingLayout;
use super::site::Covered;
use crate::expression::Expr;

/// What goes into a pad.
pub(super) struct Plan<'a> {
    /// The site.
    pub site: u64,
    /// The instructions the jump covers.
    pub covered: &'a Covered,
    /// The counter's address (reached RIP-relative).
    pub counter: u64,
    /// The slot with the process's pid (reached RIP-relative).
    pub pid_slot: u64,
    /// The condition, if any.
    pub condition: Option<&'a Expr>,
    /// Constants for the condition.
    pub names: &'a mut dyn FnMut(&str) -> Option<u64>,
    /// The ring and the saved registers each record holds.
    pub ring: Option<(RingLayout, Vec<&'static str>)>,
    /// Whether a hit (where the condition holds) traps into the tracer.
    pub stop: bool,
}

/// An assembled pad.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Assembled {
    /// Its code, for its address.
    pub bytes: Vec<u8>,
    /// The `int3` of a pad that stops.
    pub trap: Option<u64>,
    /// The `pushfq` (before it, only `rsp` has moved).
    pub pushf: u64,
    /// Where the relocated instructions start (a thread that reported the trap resumes there).
    pub resume: u64,
    /// Each covered instruction's address and its copy's address.
    pub relocated: Vec<(u64, u64)>,
}

fn asm(e: iced_x86::IcedError) -> String {
    format!("the pad could not be assembled: {e}")
}

/// Assembles `plan` for address `at`.
pub(super) fn assemble(plan: Plan<'_>, at: u64) -> Result<Assembled, String> {
    let mut a = CodeAssembler::new(64).map_err(asm)?;
    let all = plan.condition.is_some() || plan.ring.is_some();
    let mut pushf = a.create_label();
    frame::save(&mut a, all, &mut pushf).map_err(asm)?;
    let mut skip = a.create_label();
    let mut holds = a.create_label();
    if let Some(expr) = plan.condition {
        Compile { asm: &mut a, error: holds, site: plan.site, pid_slot: plan.pid_slot, names: plan.names }
            .expression(expr)?;
        a.test(rax, rax).map_err(asm)?;
        a.je(skip).map_err(asm)?;
    }
    a.set_label(&mut holds).map_err(asm)?;
    let mut count =
        Instruction::with1(Code::Inc_rm64, MemoryOperand::with_base_displ(Register::RIP, plan.counter as i64))
            .map_err(asm)?;
    count.set_has_lock_prefix(true);
    a.add_instruction(count).map_err(asm)?;
    if let Some((ring, registers)) = &plan.ring {
        ring.append(&mut a, registers, plan.site).map_err(asm)?;
    }
    // The first copy's label is where the displaced code starts.
    let mut labels: Vec<(u64, CodeLabel)> =
        plan.covered.instructions.iter().map(|insn| (insn.ip(), a.create_label())).collect();
    let displaced = labels[0].1;
    let mut trap = a.create_label();
    if plan.stop {
        frame::restore(&mut a, all).map_err(asm)?;
        a.set_label(&mut trap).map_err(asm)?;
        a.int3().map_err(asm)?;
        a.jmp(displaced).map_err(asm)?;
    }
    a.set_label(&mut skip).map_err(asm)?;
    frame::restore(&mut a, all).map_err(asm)?;
    for (insn, (_, label)) in plan.covered.instructions.iter().zip(labels.iter_mut()) {
        a.set_label(label).map_err(asm)?;
        relocate(&mut a, insn).map_err(asm)?;
    }
    let back = plan.site + plan.covered.len;
    a.add_instruction(Instruction::with_branch(Code::Jmp_rel32_64, back).map_err(asm)?).map_err(asm)?;
    let result = a
        .assemble_options(at, BlockEncoderOptions::RETURN_NEW_INSTRUCTION_OFFSETS)
        .map_err(|e| format!("the covered instructions cannot run at {at:#x}: {e}"))?;
    let ip = |label: &CodeLabel| result.label_ip(label).map_err(asm);
    let relocated =
        labels.iter().map(|(original, label)| Ok((*original, ip(label)?))).collect::<Result<_, String>>()?;
    Ok(Assembled {
        trap: if plan.stop { Some(ip(&trap)?) } else { None },
        resume: ip(&labels[0].1)?,
        pushf: ip(&pushf)?,
        relocated,
        bytes: result.inner.code_buffer,
    })
}

/// Adds one covered instruction; a call becomes a push of its original
/// return address and a jump (flags untouched).
fn relocate(a: &mut CodeAssembler, insn: &Instruction) -> Result<(), iced_x86::IcedError> {
    let is_call = matches!(insn.flow_control(), FlowControl::Call | FlowControl::IndirectCall)
        && insn.mnemonic() == Mnemonic::Call;
    if !is_call {
        return a.add_instruction(*insn);
    }
    a.lea(rsp, ptr(rsp - 8))?;
    a.push(rax)?;
    a.mov(rax, insn.next_ip())?;
    a.mov(qword_ptr(rsp + 8), rax)?;
    a.pop(rax)?;
    let jump = if insn.flow_control() == FlowControl::Call {
        Instruction::with_branch(Code::Jmp_rel32_64, insn.near_branch_target())?
    } else {
        let mut jump = *insn;
        jump.set_code(Code::Jmp_rm64);
        jump
    };
    a.add_instruction(jump)
}
