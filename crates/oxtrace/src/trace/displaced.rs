//! Leaving a breakpoint by running its instruction out of line, without a
//! single step.
//!
//! The instruction under a breakpoint that cannot be emulated is copied into a
//! scratch page of the debuggee, re-encoded for its new address (iced-x86
//! fixes RIP-relative operands; an operand out of ±2 GiB of the page is not
//! copied), and followed by an absolute jump back to the next original
//! instruction (in a 32-bit process, where no operand is pc-relative, a
//! `jmp rel32`: the 4 GiB address space wraps, so it reaches everywhere).
//! A thread leaving the breakpoint is simply resumed at the copy:
//! one stop per hit, and the breakpoint byte never leaves memory, so no other
//! thread can run past it.
//!
//! Only ordinary instructions are copied (control flow, and instructions that
//! read the pc other than through a RIP-relative operand, are stepped as
//! before). A thread found stopped inside a copy (a fault in the copied
//! instruction, a stop signal between it and the jump) has its pc mapped back
//! to the original code when its registers are read, so nobody ever sees the
//! scratch page in a pc. A detach (and [`Trace::unmap_scratch_page`]) moves
//! every thread out of the copies the same way, then unmaps the page.

use iced_x86::{Decoder, DecoderOptions, Encoder, FlowControl};

use super::Trace;
use crate::arch::RegisterGroup;
use crate::error::{Result, Tid};
use crate::memory::Perms;

/// The scratch page's size.
const PAGE: u64 = 4096;
/// Bytes per copy: the instruction (at most 15) and the jump back (14), aligned.
const SLOT: u64 = 32;
/// `jmp qword [rip+0]`, followed by the 8-byte target.
const JMP_BACK: [u8; 6] = [0xff, 0x25, 0, 0, 0, 0];
/// `jmp rel32` (32-bit code), followed by the displacement.
const JMP_REL32: u8 = 0xe9;
/// Where the scratch page is wanted: this far below the code, so that
/// RIP-relative operands reach it.
const NEAR: u64 = 64 << 20;

/// One copied instruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Copy {
    /// Where the original instruction is.
    pub original: u64,
    /// Its length.
    pub len: u64,
    /// Where the copy starts.
    pub slot: u64,
    /// Where the jump back starts (after the re-encoded instruction).
    pub jump: u64,
}

/// The scratch page and the copies in it.
#[derive(Debug, Default, Clone)]
pub(super) struct Scratch {
    /// The page, once allocated (`Some(None)`: allocation failed, do not retry).
    page: Option<Option<u64>>,
    copies: Vec<Copy>,
}

impl Scratch {
    /// The copy whose slot holds `pc`.
    fn copy_holding(&self, pc: u64) -> Option<Copy> {
        self.copies.iter().copied().find(|c| pc >= c.slot && pc < c.slot + SLOT)
    }

    /// Forgets everything (the process executed a new program).
    pub fn reset(&mut self) {
        *self = Scratch::default();
    }
}

impl Trace {
    /// Where a thread leaving the breakpoint at `addr` can run its instruction
    /// out of line, copying it on first use; `None` when it must be stepped.
    /// Thread `tid`, standing on the breakpoint, maps the scratch page if needed.
    pub(super) fn displaced_copy(&mut self, addr: u64, tid: Tid) -> Option<u64> {
        let bitness = self.arch.x86_bitness()?;
        if let Some(copy) = self.scratch.copies.iter().find(|c| c.original == addr) {
            return Some(copy.slot);
        }
        let mut code = [0u8; 15];
        let len = (1..=code.len()).rev().find(|&n| self.read_into(addr, &mut code[..n]).is_ok())?;
        let insn = Decoder::with_ip(bitness, &code[..len], addr, DecoderOptions::NONE).decode();
        if insn.is_invalid() || insn.flow_control() != FlowControl::Next {
            return None;
        }
        let page = self.scratch_page(addr, tid)?;
        let used = self.scratch.copies.len() as u64 * SLOT;
        if used + SLOT > PAGE {
            return None;
        }
        let slot = page + used;
        let mut encoder = Encoder::new(bitness);
        let encoded = encoder.encode(&insn, slot).ok()?;
        let mut bytes = encoder.take_buffer();
        bytes.truncate(encoded);
        let jump = slot + bytes.len() as u64;
        if bitness == 64 {
            bytes.extend_from_slice(&JMP_BACK);
            bytes.extend_from_slice(&insn.next_ip().to_le_bytes());
        } else {
            bytes.push(JMP_REL32);
            bytes.extend_from_slice(&(insn.next_ip().wrapping_sub(jump + 5) as u32).to_le_bytes());
        }
        self.write_memory(slot, &bytes).ok()?;
        self.scratch.copies.push(Copy { original: addr, len: insn.len() as u64, slot, jump });
        Some(slot)
    }

    /// The scratch page, allocated near `code` on first use by thread `tid`.
    fn scratch_page(&mut self, code: u64, tid: Tid) -> Option<u64> {
        if let Some(page) = self.scratch.page {
            return page;
        }
        let read_exec = Perms { read: true, write: false, exec: true, shared: false };
        let hint = code.saturating_sub(NEAR) & !(PAGE - 1);
        let page = self.in_thread_free_to_inject(tid, |trace| trace.allocate_memory(PAGE, read_exec, Some(hint))).ok();
        self.scratch.page = Some(page);
        page
    }

    /// Unmaps the scratch page where instructions under breakpoints run out
    /// of line, after moving any thread inside a copy back to the original
    /// code; the next hit that needs it maps a new one. Detach does it; a
    /// debugger also does it before it waits for its user, so that a tracer
    /// killed meanwhile leaves nothing of its own in the process. Nothing
    /// happens if no page is mapped; the page stays if a thread could not be moved.
    pub fn unmap_scratch_page(&mut self) -> Result<()> {
        self.require_stopped()?;
        let Some(Some(page)) = self.scratch.page else { return Ok(()) };
        for tid in self.platform.threads() {
            self.leave_scratch(tid)?;
        }
        self.free_memory(page, PAGE)?;
        self.scratch.reset();
        Ok(())
    }

    /// If thread `tid` stands inside a copy, puts its pc back where the
    /// original code is: on the instruction if it has not run (then it steps
    /// over the breakpoint when it resumes), after it if it has.
    pub(super) fn leave_scratch(&mut self, tid: Tid) -> Result<()> {
        if self.scratch.copies.is_empty() {
            return Ok(());
        }
        let ctx = self.context_with(tid, RegisterGroup::General)?;
        let pc = ctx.pc()?;
        let Some(copy) = self.scratch.copy_holding(pc) else { return Ok(()) };
        let original = if pc >= copy.jump { copy.original + copy.len } else { copy.original };
        if original == copy.original && self.breakpoints.inserted_at(original).is_some() {
            // Stopped before the copy ran (a SIGSTOP of ours came first): back
            // on the breakpoint, it is still leaving it, not hitting it again.
            self.on_breakpoint.insert(tid, original);
        }
        self.registers.get_mut(&tid).expect("loaded above").set_pc(original)
    }
}
