//! Stepping by source lines (gdb's `step` and `next`), with the DWARF line table.
//!
//! The thread is stepped an instruction at a time (calls run to their return
//! for `next`) until it reaches the first instruction of a statement on
//! another line. Code without line information (a PLT stub, a library
//! without debug information) is not stopped in: the thread runs back out of
//! it to its caller and stepping goes on there. Any other event (a breakpoint,
//! a signal, the end) ends the step early and is returned.

use super::Trace;
use crate::error::Result;
use crate::event::{Event, EventKind};

/// The most instructions one source step executes before giving up (a line
/// that loops forever).
const MAX_INSTRUCTIONS: usize = 1_000_000;

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

    fn source_step(&mut self, over_calls: bool) -> Result<Event> {
        let step = |trace: &mut Trace| if over_calls { trace.step_over() } else { trace.stepi() };
        let pc = self.pc()?;
        let Some(start) = self.line_for_addr(pc)? else {
            return step(self);
        };
        let start_sp = self.sp()?;
        let mut event = step(self)?;
        for _ in 0..MAX_INSTRUCTIONS {
            if event.kind != EventKind::Step {
                return Ok(event);
            }
            let pc = self.pc()?;
            let in_plt = self.symbols()?.sym_by_addr(pc).is_some_and(|hit| hit.symbol.name.ends_with("@plt"));
            match self.line_for_addr(pc)? {
                // No lines here (or a PLT stub on the way to a library): back out to the caller.
                None if self.sp()? < start_sp => event = self.step_out()?,
                _ if in_plt => event = self.step_out()?,
                Some(here) if here != start && self.symbols()?.is_statement_start(pc) => return Ok(event),
                // Returned out of the starting function without line information above: stop there.
                None => return Ok(event),
                Some(_) => event = step(self)?,
            }
        }
        Ok(event)
    }
}
