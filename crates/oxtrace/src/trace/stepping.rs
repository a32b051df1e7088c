//! Stepping by frames: over a call, and out of the current function.
//!
//! Both run to an address with a temporary breakpoint that counts only when
//! the stack pointer is at or above the frame's, so that a recursive call
//! returning to the same address deeper in the stack does not stop it. Other
//! events (breakpoints, signals) stop the trace first, as in gdb; the
//! temporary breakpoint is removed either way.

use iced_x86::{Decoder, DecoderOptions, FlowControl};

use super::{BreakpointKind, Trace};
use crate::error::{Error, Result};
use crate::event::{Event, EventKind};

/// The longest x86 instruction.
const MAX_INSN: usize = 15;

impl Trace {
    /// Executes one instruction of the current thread; a call is run to its
    /// return (gdb's `nexti`). Reports `Step` when it gets there.
    pub fn step_over(&mut self) -> Result<Event> {
        self.require_stopped()?;
        let pc = self.pc()?;
        let mut code = [0u8; MAX_INSN];
        // Near the end of a map fewer bytes may be readable.
        let len = (1..=MAX_INSN).rev().find(|&n| self.read_into(pc, &mut code[..n]).is_ok()).unwrap_or(0);
        let insn = Decoder::with_ip(64, &code[..len], pc, DecoderOptions::NONE).decode();
        if insn.is_invalid() || !matches!(insn.flow_control(), FlowControl::Call | FlowControl::IndirectCall) {
            return self.stepi();
        }
        let sp = self.sp()?;
        self.run_to_frame(insn.next_ip(), sp)
    }

    /// Runs the current thread until its function returns to its caller
    /// (gdb's `finish`); correct under recursion. Reports `Step` when it gets there.
    pub fn step_out(&mut self) -> Result<Event> {
        self.require_stopped()?;
        let frames = self.stack_trace(self.current_tid)?;
        let caller = frames.get(1).ok_or_else(|| {
            Error::InvalidArgument(format!("thread {} has no caller frame to return to", self.current_tid))
        })?;
        // The caller's stack pointer once the callee has returned.
        self.run_to_frame(caller.pc, caller.sp)
    }

    /// Runs until the current thread reaches `addr` with its stack pointer at or above `sp`.
    pub(super) fn run_to_frame(&mut self, addr: u64, sp: u64) -> Result<Event> {
        let tid = self.current_tid;
        if self.breakpoints.by_addr.contains_key(&addr) {
            // A breakpoint of the user's is there: it stops the run anyway.
            return self.run();
        }
        let id = self.add_breakpoint(addr, BreakpointKind::StopAndRemove, None)?;
        self.set_breakpoint_condition(
            id,
            Some(Box::new(move |t: &mut Trace| t.current_thread() == tid && t.sp().is_ok_and(|s| s >= sp))),
        )?;
        let result = self.run();
        if self.breakpoints.by_id.contains_key(&id) && self.is_attached() && !self.is_running() {
            self.remove_breakpoint(id)?;
        }
        let mut event = result?;
        if matches!(event.kind, EventKind::Breakpoint { id: hit, .. } if hit == id) {
            event.kind = EventKind::Step;
            self.on_breakpoint.remove(&tid);
            self.last_event = Some(event.clone());
        }
        Ok(event)
    }
}
