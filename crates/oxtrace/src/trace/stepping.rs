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

/// Whether an aarch64 instruction is a call: `bl label`, or `blr`, `blraa`,
/// `blrab`, `blraaz`, `blrabz` on a register (all leave the return address in `x30`).
/// Decoded by hand: two bit patterns do not justify a disassembler.
fn is_aarch64_call(insn: u32) -> bool {
    let bl = insn & 0xfc00_0000 == 0x9400_0000;
    // BLR Xn: 1101011 0 0 01 11111 000000 nnnnn 00000; the pointer-authenticating
    // forms differ in bits 24 (BLRAA/BLRAB), 11 and 10 (A/B, Z) and the low five.
    let blr = insn & 0xfeff_f800 == 0xd63f_0800 || insn & 0xffff_fc1f == 0xd63f_0000;
    bl || blr
}

impl Trace {
    /// Executes one instruction of the current thread; a call is run to its
    /// return (gdb's `nexti`). Reports `Step` when it gets there.
    pub fn step_over(&mut self) -> Result<Event> {
        self.require_stopped()?;
        let pc = self.pc()?;
        let Some(return_to) = self.call_return_address_at(pc) else {
            return self.stepi_through_signals();
        };
        let sp = self.sp()?;
        self.run_to_frame(return_to, sp)
    }

    /// Where the call instruction at `pc` returns to; `None` when it is not a call.
    fn call_return_address_at(&mut self, pc: u64) -> Option<u64> {
        match self.arch.name {
            "x86_64" | "i386" => {
                let bitness = self.arch.x86_bitness()?;
                let mut code = [0u8; MAX_INSN];
                // Near the end of a map fewer bytes may be readable.
                let len = (1..=MAX_INSN).rev().find(|&n| self.read_into(pc, &mut code[..n]).is_ok())?;
                let insn = Decoder::with_ip(bitness, &code[..len], pc, DecoderOptions::NONE).decode();
                let call =
                    !insn.is_invalid() && matches!(insn.flow_control(), FlowControl::Call | FlowControl::IndirectCall);
                call.then(|| insn.next_ip())
            }
            "aarch64" => {
                let mut code = [0u8; 4];
                self.read_into(pc, &mut code).ok()?;
                is_aarch64_call(u32::from_le_bytes(code)).then(|| pc.wrapping_add(4))
            }
            _ => None,
        }
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
        if self.breakpoints.by_addr.contains_key(&addr) {
            // A breakpoint of the user's is there: it stops the run anyway.
            return self.run();
        }
        self.run_to_frame_lifted(addr, sp)
    }

    /// [`Trace::run_to_frame`] where no breakpoint is inserted at `addr`
    /// (one there was disabled by the caller).
    pub(super) fn run_to_frame_lifted(&mut self, addr: u64, sp: u64) -> Result<Event> {
        let tid = self.current_tid;
        let id = self.add_temporary_breakpoint(addr, BreakpointKind::StopAndRemove)?;
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

impl Trace {
    /// Runs until the current thread reaches `addr` (in any frame), or
    /// returns from its current function (gdb's `until LOCATION` and
    /// `advance LOCATION`), whichever comes first. Reports `Step` at either.
    pub fn advance(&mut self, addr: u64) -> Result<Event> {
        self.require_stopped()?;
        let frames = self.stack_trace(self.current_tid)?;
        match frames.get(1) {
            Some(caller) => {
                let caller = (caller.pc, caller.sp);
                self.run_to_either(addr, caller)
            }
            None => self.run_to_frame(addr, 0),
        }
    }

    /// Runs until the current thread reaches `addr` in any frame, or
    /// `frame.0` with its stack pointer at or above `frame.1`. Reports `Step`.
    pub(super) fn run_to_either(&mut self, addr: u64, frame: (u64, u64)) -> Result<Event> {
        let tid = self.current_tid;
        let (back, sp) = frame;
        let mut temporary = Vec::new();
        if !self.breakpoints.by_addr.contains_key(&addr) {
            let id = self.add_temporary_breakpoint(addr, BreakpointKind::StopAndRemove)?;
            self.set_breakpoint_condition(id, Some(Box::new(move |t: &mut Trace| t.current_thread() == tid)))?;
            temporary.push(id);
        }
        if !self.breakpoints.by_addr.contains_key(&back) {
            let id = self.add_temporary_breakpoint(back, BreakpointKind::StopAndRemove)?;
            self.set_breakpoint_condition(
                id,
                Some(Box::new(move |t: &mut Trace| t.current_thread() == tid && t.sp().is_ok_and(|s| s >= sp))),
            )?;
            temporary.push(id);
        }
        let result = self.run();
        for id in &temporary {
            if self.breakpoints.by_id.contains_key(id) && self.is_attached() && !self.is_running() {
                self.remove_breakpoint(*id)?;
            }
        }
        let mut event = result?;
        if matches!(event.kind, EventKind::Breakpoint { id: hit, .. } if temporary.contains(&hit)) {
            event.kind = EventKind::Step;
            self.on_breakpoint.remove(&tid);
            self.last_event = Some(event.clone());
        }
        Ok(event)
    }
}

#[cfg(test)]
mod tests {
    use super::is_aarch64_call;

    #[test]
    fn aarch64_calls_are_told_from_other_branches() {
        assert!(is_aarch64_call(0x9400_0010)); // bl .+0x40
        assert!(is_aarch64_call(0x97ff_fff0)); // bl .-0x40
        assert!(is_aarch64_call(0xd63f_0020)); // blr x1
        assert!(is_aarch64_call(0xd63f_081f)); // blraaz x0
        assert!(is_aarch64_call(0xd73f_0841)); // blraa x2, x1
        assert!(!is_aarch64_call(0x1400_0010)); // b .+0x40
        assert!(!is_aarch64_call(0xd61f_0020)); // br x1
        assert!(!is_aarch64_call(0xd65f_03c0)); // ret
        assert!(!is_aarch64_call(0xd420_0000)); // brk #0
    }
}
