//! Stepping by source lines: `next_line` runs calls over, `step_line` goes
//! into them, and neither stops in code without line information.

use oxtrace::{EventKind, Trace};

use crate::spawn_quiet;
use crate::support::Opt;

/// The line number of the first line of `stacks.c` that is `text` once trimmed.
fn line_of(text: &str) -> u32 {
    let source =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/stacks.c")).unwrap();
    source.lines().position(|l| l.trim() == text).unwrap_or_else(|| panic!("no line {text:?}")) as u32 + 1
}

fn line(trace: &mut Trace) -> u32 {
    let pc = trace.pc().unwrap();
    trace.line_for_addr(pc).unwrap().expect("a line").1
}

fn stopped_in_middle() -> Trace {
    let mut trace = spawn_quiet("stacks", Opt::O0, &["leaf"]);
    let middle = trace.sym_by_name("middle").unwrap();
    trace.run_until(middle).unwrap();
    trace
}

#[test]
fn next_runs_over_calls_and_step_goes_into_them() {
    let mut trace = stopped_in_middle();
    let first = line_of("int r = inner(x + 1);");
    assert_eq!(trace.next_line().unwrap().kind, EventKind::Step);
    assert_eq!(line(&mut trace), first, "from the entry to the first statement");
    trace.next_line().unwrap();
    assert_eq!(line(&mut trace), line_of("return r * 2 + sink;"), "inner() ran over");

    let mut trace = stopped_in_middle();
    trace.next_line().unwrap();
    trace.step_line().unwrap();
    let pc = trace.pc().unwrap();
    assert_eq!(trace.sym_by_addr(pc, false).unwrap().unwrap().split('+').next(), Some("inner"));
    assert_eq!(line(&mut trace), line_of("__attribute__((noinline)) int inner(int x) {"));
    trace.step_line().unwrap();
    assert_eq!(line(&mut trace), line_of("stop_here(x);"));
}

#[test]
fn a_breakpoint_on_the_way_ends_the_step() {
    let mut trace = stopped_in_middle();
    trace.next_line().unwrap();
    let stop_here = trace.sym_by_name("stop_here").unwrap();
    let id = trace.add_break_by_addr(stop_here).unwrap();
    let event = trace.next_line().unwrap();
    assert_eq!(event.kind, EventKind::Breakpoint { id, addr: stop_here });
}
