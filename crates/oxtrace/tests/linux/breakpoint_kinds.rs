//! Conditions and breakpoint kinds: tracker, fast, stop-run-forever, silent.

use std::cell::Cell;
use std::rc::Rc;

use oxtrace::{BreakpointKind, EventKind, EventType, ExitStatus, Mode};

use crate::support::Opt;
use crate::{run_to_exit, spawn_quiet};

/// Counts events of one type on a trace.
fn count(trace: &mut oxtrace::Trace, event_type: EventType) -> Rc<Cell<u32>> {
    let counter = Rc::new(Cell::new(0));
    let seen = counter.clone();
    trace.register_notifier(event_type, move |_, _| seen.set(seen.get() + 1));
    counter
}

#[test]
fn a_condition_decides_which_hits_count() {
    let mut trace = spawn_quiet("calls", Opt::O0, &[]);
    let tick = trace.sym_by_name("tick").unwrap();
    let id = trace.add_break_if(tick, |trace| trace.register_u64("rdi").unwrap() == 3).unwrap();
    let breaks = count(&mut trace, EventType::Breakpoint);
    let event = trace.run().unwrap();
    assert!(matches!(event.kind, EventKind::Breakpoint { addr, .. } if addr == tick), "{event:?}");
    assert_eq!(trace.register_u64("rdi").unwrap(), 3);
    assert_eq!(trace.breakpoint(id).unwrap().hits, 1, "false hits do not count");
    assert_eq!(breaks.get(), 1, "false hits fire no notifiers");
    assert_eq!(run_to_exit(&mut trace), ExitStatus::Code(0));
    assert_eq!(breaks.get(), 1);
}

#[test]
fn tracker_breakpoints_count_without_stopping() {
    let mut trace = spawn_quiet("calls", Opt::O2, &[]);
    let tick = trace.sym_by_name("tick").unwrap();
    let d = trace.sym_by_name("d").unwrap();
    let tracker = trace.add_breakpoint(tick, BreakpointKind::Tracker, None).unwrap();
    let once = trace.add_breakpoint(d, BreakpointKind::Tracker, None).unwrap();
    let breaks = count(&mut trace, EventType::Breakpoint);
    assert_eq!(trace.run().unwrap().kind, EventKind::Exited(ExitStatus::Code(0)));
    assert_eq!(trace.breakpoint(tracker).unwrap().hits, 5);
    assert_eq!(trace.breakpoint(once).unwrap().hits, 1);
    assert_eq!(breaks.get(), 0);
}

#[test]
fn fast_breakpoints_run_their_callback_and_go_on() {
    let mut trace = spawn_quiet("calls", Opt::O0, &[]);
    let tick = trace.sym_by_name("tick").unwrap();
    let calls = Rc::new(Cell::new(0));
    let seen = calls.clone();
    let callback = Box::new(move |_: &mut oxtrace::Trace, _: &oxtrace::Event| seen.set(seen.get() + 1));
    trace.add_breakpoint(tick, BreakpointKind::Fast, Some(callback)).unwrap();
    let breaks = count(&mut trace, EventType::Breakpoint);
    let continues = count(&mut trace, EventType::Continued);
    assert_eq!(trace.run().unwrap().kind, EventKind::Exited(ExitStatus::Code(0)));
    assert_eq!(calls.get(), 5);
    assert_eq!(breaks.get(), 0, "no notifiers");
    assert_eq!(continues.get(), 1, "only the user's own run fires Continued");
}

#[test]
fn stop_run_forever_breakpoints_end_run_forever() {
    let mut trace = spawn_quiet("calls", Opt::O0, &[]);
    let tick = trace.sym_by_name("tick").unwrap();
    let d = trace.sym_by_name("d").unwrap();
    trace.add_break_by_addr(d).unwrap();
    trace.add_breakpoint(tick, BreakpointKind::StopRunForever, None).unwrap();
    trace.set_mode(Mode::RunForever, true);
    let event = trace.run().unwrap();
    assert!(matches!(event.kind, EventKind::Breakpoint { addr, .. } if addr == tick), "ran through d: {event:?}");
    assert!(!trace.mode(Mode::RunForever));
    let event = trace.run().unwrap();
    assert!(matches!(event.kind, EventKind::Breakpoint { addr, .. } if addr == tick), "{event:?}");
}

#[test]
fn silent_breakpoints_stop_like_normal_ones() {
    let mut trace = spawn_quiet("calls", Opt::O0, &[]);
    let d = trace.sym_by_name("d").unwrap();
    let id = trace.add_breakpoint(d, BreakpointKind::Silent, None).unwrap();
    let event = trace.run().unwrap();
    assert_eq!(event.kind, EventKind::Breakpoint { id, addr: d });
    assert_eq!(trace.breakpoint(id).unwrap().kind, BreakpointKind::Silent);
}

#[test]
fn disabled_breakpoints_are_out_of_memory_and_not_hit() {
    let mut trace = spawn_quiet("calls", Opt::O0, &[]);
    let tick = trace.sym_by_name("tick").unwrap();
    let original = trace.read_memory(tick, 1).unwrap();
    let id = trace.add_break_by_addr(tick).unwrap();
    trace.set_breakpoint_enabled(id, false).unwrap();
    assert!(!trace.breakpoint(id).unwrap().enabled);
    assert_eq!(trace.read_memory(tick, 1).unwrap(), original);
    assert_eq!(run_to_exit(&mut trace), ExitStatus::Code(0));
    assert_eq!(trace.breakpoint(id).unwrap().hits, 0);
}
