//! Expressions on a live process: registers, symbols, memory, maps, frames;
//! conditions and run-until by expression; errors with positions.

use oxtrace::{Error, EventKind, ExitStatus};

use crate::support::Opt;
use crate::{run_to_exit, spawn_quiet};

#[test]
fn expressions_see_registers_symbols_memory_and_maps() {
    let mut trace = spawn_quiet("calls", Opt::O0, &[]);
    let d = trace.sym_by_name("d").unwrap();
    trace.run_until(d).unwrap();
    let rsp = trace.sp().unwrap();
    assert_eq!(trace.parse_expression("rsp + 8").unwrap(), rsp + 8);
    assert_eq!(trace.parse_expression("poi(rsp)").unwrap(), trace.read_u64(rsp).unwrap());
    assert_eq!(trace.parse_expression("calls.d").unwrap(), d);
    assert_eq!(trace.parse_expression("d + 4").unwrap(), d + 4);
    assert_eq!(trace.parse_expression("rip == d").unwrap(), 1);
    assert_eq!(trace.parse_expression("edi & 0xff").unwrap(), trace.register_u64("edi").unwrap() & 0xff);
    let map = trace.memory_map(d).unwrap().unwrap();
    assert_eq!(trace.parse_expression("mapbase(rip)").unwrap(), map.start);
    assert_eq!(trace.parse_expression("maplen(rip)").unwrap(), map.len());
    assert_eq!(trace.parse_expression("ispoi(rsp) + ispoi(0x10)").unwrap(), 1);
    assert_eq!(trace.parse_expression("libc.malloc").unwrap(), trace.sym_by_name("libc.malloc").unwrap());
    trace.set_variable("answer", 40);
    assert_eq!(trace.parse_expression("answer + 2").unwrap(), 42);
    assert_ne!(trace.parse_expression("frame(1)").unwrap(), 0);
}

#[test]
fn bad_expressions_say_where() {
    let mut trace = spawn_quiet("calls", Opt::O0, &[]);
    let err = trace.parse_expression("1 + * 2").unwrap_err();
    let Error::Expression(inner) = &err else { panic!("{err:?}") };
    assert_eq!(inner.position, 4);
    assert!(err.to_string().contains("position 4"), "{err}");
    let err = trace.parse_expression("no_such_thing + 1").unwrap_err();
    assert!(err.to_string().contains("no_such_thing"), "{err}");
    assert!(trace.parse_expression("poi(0x10)").unwrap_err().to_string().contains("0x10"));
}

#[test]
fn conditions_and_run_until_by_expression() {
    let mut trace = spawn_quiet("calls", Opt::O0, &[]);
    let tick = trace.sym_by_name("tick").unwrap();
    let id = trace.add_break_by_expr("tick").unwrap();
    trace.set_breakpoint_condition_expr(id, "rdi == 3").unwrap();
    let event = trace.run().unwrap();
    assert_eq!(event.kind, EventKind::Breakpoint { id, addr: tick });
    assert_eq!(trace.register_u64("rdi").unwrap(), 3);
    assert_eq!(trace.breakpoint(id).unwrap().hits, 1);
    assert!(trace.set_breakpoint_condition_expr(id, "rdi ==").is_err());
    trace.remove_breakpoint(id).unwrap();
    let event = trace.run_until_expr("calls.main + 0").unwrap_or_else(|e| panic!("{e}"));
    // main is not called again: the run ends with the exit instead.
    assert_eq!(event.kind, EventKind::Exited(ExitStatus::Code(0)));
}

#[test]
fn run_until_an_expression() {
    let mut trace = spawn_quiet("calls", Opt::O0, &[]);
    let event = trace.run_until_expr("codefn").unwrap();
    let codefn = trace.sym_by_name("codefn").unwrap();
    assert!(matches!(event.kind, EventKind::Breakpoint { addr, .. } if addr == codefn), "{event:?}");
    assert!(trace.run_until_expr("codefn +").is_err());
    assert_eq!(run_to_exit(&mut trace), ExitStatus::Code(0));
}
