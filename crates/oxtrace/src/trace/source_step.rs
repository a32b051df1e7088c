//! Stepping by source lines (gdb's `step` and `next`), with the DWARF line table.
//!
//! The thread is stepped an instruction at a time (calls run to their return
//! for `next`) until it reaches the first instruction of a statement
//! (`is_stmt`) on another line; line 0, code the compiler made up or merged,
//! and rows that do not begin a statement are stepped through, as gdb does.
//! Code without line information (a library without debug information) is
//! not stopped in: the thread runs back out of it to its caller and stepping
//! goes on there. `step` follows a call through its PLT stub into the
//! function when that has line information, and runs it to its return when
//! it has none. A signal handler's return through the signal trampoline is
//! stepped through, back into the interrupted code.
//!
//! A signal that arrives while stepping and that the trace lets through
//! ([`Trace::ignore_signal`]) is delivered: its handler runs at full speed
//! and stepping goes on where the thread was, as gdb does (a breakpoint in
//! the handler stops it there). Any other event (a breakpoint, another
//! signal, the end) ends the step early and is returned.

use super::Trace;
use crate::error::Result;
use crate::event::{Event, EventKind};

/// The most instructions one source step executes before giving up (a line
/// that loops forever).
const MAX_INSTRUCTIONS: usize = 1_000_000;

/// glibc's x86_64 signal trampoline, where a handler returns to.
const SIGNAL_TRAMPOLINE: &str = "__restore_rt";

impl Trace {
    /// Runs the current thread to the next source line, into called
    /// functions that have line information (gdb's `step`). Without line
    /// information where it stands, one instruction (`stepi`).
    pub fn step_line(&mut self) -> Result<Event> {
        self.source_step(false)
    }

    /// Runs the current thread to the next source line of this function or
    /// its caller, running calls to their return (gdb's `next`). Without line
    /// information where it stands, one instruction with calls run over.
    pub fn next_line(&mut self) -> Result<Event> {
        self.source_step(true)
    }

    /// One instruction (gdb's `stepi`), but a signal the trace lets through
    /// that arrives first is delivered and its handler run to its return,
    /// so that the step ends after the instruction, as gdb's does.
    pub fn stepi_through_signals(&mut self) -> Result<Event> {
        let mut event = self.stepi()?;
        for _ in 0..MAX_INSTRUCTIONS {
            if !self.is_passed_signal(&event) {
                return Ok(event);
            }
            event = self.run_handler_and_come_back()?;
            if event.kind != EventKind::Step {
                return Ok(event);
            }
            event = self.stepi()?;
        }
        Ok(event)
    }

    /// Whether an event is a signal delivered without stopping.
    fn is_passed_signal(&self, event: &Event) -> bool {
        matches!(&event.kind, EventKind::Signal(info) if self.ignored_signals.contains(&info.signo))
            && self.pending_signal().is_some()
    }

    /// The current thread stopped with a signal to deliver before its next
    /// instruction: run (delivering it) until the thread is back at this pc
    /// in this frame. Reports `Step` when it is.
    fn run_handler_and_come_back(&mut self) -> Result<Event> {
        let (pc, sp) = (self.pc()?, self.sp()?);
        // A breakpoint at this pc (enabled or not) would stop the thread as
        // it comes back, before the instruction the step has not run yet,
        // and holds the address the run back needs: out of the table meanwhile.
        let taken = match self.breakpoints.by_addr.get(&pc).copied() {
            Some(id) if !self.breakpoints.by_id[&id].internal => Some(self.take_breakpoint_out(id)?),
            _ => None,
        };
        let event = self.run_to_frame_lifted(pc, sp);
        if let Some(entry) = taken {
            self.put_breakpoint_back(entry)?;
        }
        event
    }

    fn source_step(&mut self, over_calls: bool) -> Result<Event> {
        let step = |trace: &mut Trace| if over_calls { trace.step_over() } else { trace.stepi_through_signals() };
        let pc = self.pc()?;
        let Some(start) = self.source_line(pc)? else {
            return step(self);
        };
        let start_sp = self.sp()?;
        let mut event = step(self)?;
        for _ in 0..MAX_INSTRUCTIONS {
            if event.kind != EventKind::Step {
                return Ok(event);
            }
            let pc = self.pc()?;
            let symbol = self.symbols()?.sym_by_addr(pc).map(|hit| hit.symbol.name.clone()).unwrap_or_default();
            if symbol == SIGNAL_TRAMPOLINE {
                // A handler returned: through `rt_sigreturn` to the interrupted code.
                event = self.stepi_through_signals()?;
                continue;
            }
            let in_plt = symbol.ends_with("@plt");
            let line = self.source_line(pc)?;
            match line {
                _ if in_plt && !over_calls => event = self.step_through_plt(&symbol)?,
                // No lines here (or a PLT stub on the way to a library): back out to the caller.
                None if self.sp()? < start_sp => event = self.step_out()?,
                _ if in_plt => event = self.step_out()?,
                Some(here) if here != start && here.1 != 0 && self.symbols()?.is_statement_start(pc) => {
                    return Ok(event)
                }
                // Returned out of the starting function without line information above: stop there.
                None => return Ok(event),
                Some(_) => event = step(self)?,
            }
        }
        Ok(event)
    }

    /// The source line of a pc for stepping: line 0 (`("", 0)`) for code of
    /// no line inside a line table, `None` where no line table covers it.
    fn source_line(&mut self, pc: u64) -> Result<Option<(String, u32)>> {
        Ok(match self.line_for_addr(pc)? {
            None if self.symbols()?.is_lineless(pc) => Some((String::new(), 0)),
            line => line,
        })
    }

    /// `step` at a PLT stub (`name@plt`): runs to the function it leads to
    /// when that has line information (stopping after its prologue, where
    /// `break` would), else to the caller, whichever comes first.
    fn step_through_plt(&mut self, stub: &str) -> Result<Event> {
        let name = stub.trim_end_matches("@plt");
        let symbols = self.symbols()?;
        let target = symbols
            .function_entries(name)
            .into_iter()
            .find(|e| !e.inlined && symbols.line_for_addr(e.addr).is_some_and(|(_, line)| line != 0))
            .map(|e| e.addr);
        let Some(target) = target else { return self.step_out() };
        let stop = self.after_prologue(target)?;
        let frames = self.stack_trace(self.current_tid)?;
        let Some(caller) = frames.get(1).map(|f| (f.pc, f.sp)) else { return self.step_out() };
        self.run_to_either(stop, caller)
    }
}
