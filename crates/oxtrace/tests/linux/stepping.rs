//! Step over a call and step out, in recursion.

use oxtrace::{EventKind, ExitStatus};

use crate::support::Opt;
use crate::{run_to_exit, spawn_quiet};

/// The address of the first `call` instruction in `[start, start + 256)` whose bytes start with 0xe8.
fn first_call(trace: &mut oxtrace::Trace, start: u64) -> u64 {
    let mut pc = start;
    for _ in 0..64 {
        if trace.read_u8(pc).unwrap() == 0xe8 {
            return pc;
        }
        trace.set_pc(pc).unwrap();
        trace.step_over().unwrap(); // walks instruction by instruction
        pc = trace.pc().unwrap();
    }
    panic!("no call found after {start:#x}");
}

/// The watch fixture stopped in mark(), called by recurse(3).
fn stopped_in_mark_at_depth_3() -> oxtrace::Trace {
    let mut trace = spawn_quiet("watch", Opt::O0, &[]);
    let mark = trace.sym_by_name("mark").unwrap();
    let id = trace.add_break_if(mark, |t| t.register_u64("rsi").unwrap() == 3).unwrap();
    trace.run().unwrap();
    trace.remove_breakpoint(id).unwrap();
    trace
}

#[test]
fn step_over_runs_a_recursive_call_to_its_return_in_this_frame() {
    let mut trace = stopped_in_mark_at_depth_3();
    // Back in recurse(3), just after its call to mark.
    trace.step_out().unwrap();
    let recurse = trace.sym_by_name("recurse").unwrap();
    let sp = trace.sp().unwrap();
    // Walk to the call of recurse(2) and step over it.
    let mut pc = trace.pc().unwrap();
    while trace.read_memory(pc, 5).unwrap()[0] != 0xe8 {
        trace.stepi().unwrap();
        pc = trace.pc().unwrap();
    }
    let event = trace.step_over().unwrap();
    assert_eq!(event.kind, EventKind::Step);
    assert_eq!(trace.pc().unwrap(), pc + 5, "the instruction after the call");
    assert_eq!(trace.sp().unwrap(), sp, "still in recurse(3)'s frame");
    assert_eq!(trace.register_u64("rax").unwrap(), 4, "recurse(2) returned 4");
    assert!(trace.sym_by_addr(pc, false).unwrap().unwrap().starts_with("recurse"));
    assert!(pc > recurse);
    assert!(trace.breakpoints().is_empty(), "the temporary breakpoint is gone");
    assert_eq!(run_to_exit(&mut trace), ExitStatus::Code(0));
}

#[test]
fn step_out_returns_to_the_right_frame_under_recursion() {
    let mut trace = stopped_in_mark_at_depth_3();
    assert_eq!(trace.step_out().unwrap().kind, EventKind::Step); // into recurse(3)
                                                                 // Out of recurse(3): deeper calls return to the same address first (with 4, 1, 0);
                                                                 // only recurse(3)'s own return, with 11, may stop.
    let event = trace.step_out().unwrap();
    assert_eq!(event.kind, EventKind::Step);
    assert_eq!(trace.register_u64("rax").unwrap(), 11);
    let pc = trace.pc().unwrap();
    assert!(trace.sym_by_addr(pc, false).unwrap().unwrap().starts_with("recurse+"));
    assert_eq!(run_to_exit(&mut trace), ExitStatus::Code(0));
}

#[test]
fn step_over_a_plain_instruction_is_a_single_step() {
    let mut trace = spawn_quiet("calls", Opt::O0, &[]);
    let main = trace.sym_by_name("main").unwrap();
    trace.run_until(main).unwrap();
    let call = first_call(&mut trace, main);
    assert_eq!(trace.pc().unwrap(), call);
    let event = trace.step_over().unwrap();
    assert_eq!(event.kind, EventKind::Step);
    assert_eq!(trace.pc().unwrap(), call + 5);
}
