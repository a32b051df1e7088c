//! The in-process rows: oxtrace's jump-pad breakpoints (`add_in_process_breakpoint`)
//! on the benchmark's debuggee, against the raw ptrace loop on the same program.
//!
//! A pad costs nanoseconds, so the counting and false-condition rows make the
//! debuggee call `target()` [`CALLS_PER_HIT`] times the hits of a breakpoint
//! figure, so that the time measured is the calls' and not the process's
//! start. The true-condition row stops at every hit, as an int3 breakpoint
//! with a notifier does: the same number of hits as the notifier row.

use std::cell::Cell;
use std::process::Command;
use std::rc::Rc;
use std::time::Instant;

use oxtrace::{BreakpointKind, EventKind, EventType, InProcessOptions, Mode, Trace};

use crate::programs::Programs;
use crate::tools::Rate;
use crate::Workload;

/// Calls of `target()` per hit of a breakpoint figure, in the counting and false-condition rows.
pub const CALLS_PER_HIT: u64 = 100;

/// A condition `target(i)`'s argument never meets (i < calls).
const NEVER: &str = "rdi == 0xffffffffffff";
/// One it always meets.
const ALWAYS: &str = "rdi != 0xffffffffffff";

/// Hits per second of an in-process breakpoint on `target()`, up to the call of `done()`.
pub fn oxtrace(workload: Workload, programs: &Programs, hits: u64) -> Rate {
    let calls = match workload {
        Workload::InProcessTrueCondition => hits,
        _ => hits * CALLS_PER_HIT,
    };
    let mut command = Command::new(programs.program(workload)?);
    command.arg(calls.to_string());
    let mut trace = Trace::spawn(command).map_err(|e| e.to_string())?;
    let condition = |text: &str, stop| InProcessOptions { condition: Some(text.into()), stop, ..Default::default() };
    let options = match workload {
        Workload::InProcessFalseCondition => condition(NEVER, true),
        Workload::InProcessTrueCondition => condition(ALWAYS, true),
        _ => InProcessOptions::default(),
    };
    let target = programs.break_addr(workload);
    let id = trace.add_in_process_breakpoint(target, options).map_err(|e| e.to_string())?;
    if let Some(why) = trace.in_process_fallback(id) {
        return Err(format!("no jump pad at target(): {why}"));
    }
    let done = trace.sym_by_name("done").map_err(|e| e.to_string())?;
    trace.add_breakpoint(done, BreakpointKind::StopRunForever, None).map_err(|e| e.to_string())?;
    let stops = Rc::new(Cell::new(0u64));
    let seen = stops.clone();
    trace.register_notifier(EventType::Breakpoint, move |_, event| {
        if matches!(event.kind, EventKind::Breakpoint { id: hit, .. } if hit == id) {
            seen.set(seen.get() + 1);
        }
    });
    trace.set_mode(Mode::RunForever, true);
    let start = Instant::now();
    let event = trace.run().map_err(|e| e.to_string())?;
    let elapsed = start.elapsed().as_secs_f64();
    if !matches!(event.kind, EventKind::Breakpoint { addr, .. } if addr == done) {
        return Err(format!("expected the stop at done(), got {event}"));
    }
    let counted = trace.in_process_hits(id).map_err(|e| e.to_string())?;
    let expected = match workload {
        Workload::InProcessFalseCondition => (0, 0),
        Workload::InProcessTrueCondition => (calls, calls),
        _ => (calls, 0),
    };
    if (counted, stops.get()) != expected {
        return Err(format!("expected {expected:?} (hits, stops), got ({counted}, {})", stops.get()));
    }
    Ok(calls as f64 / elapsed)
}
