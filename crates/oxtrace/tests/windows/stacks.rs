//! Call stacks of a stopped thread: oxtrace's walk (the x64 `.pdata` tables
//! of the PE image) against dbghelp's `StackWalk64` on the same stop, and the
//! frames' functions and lines (oxtrace's DWARF) against the fixture's source.
//! The fixture is `tests/fixtures/pe_unwind.c`, at -O0 and -O2, stopped where
//! its PE symbols (read by the trace) put `asm_leaf`.

use oxtrace::unwind::compare_with_stackwalk;
use oxtrace::{BacktraceFrame, EventKind, ExitStatus, Trace};

use crate::stackwalk::stack_walk;
use crate::support::{fixture, OPTS};

/// The fixture's source, to find the lines of its calls.
const SOURCE: &str = include_str!("../../../../tests/fixtures/pe_unwind.c");

/// The line of the one source line holding `text`.
fn line_of(text: &str) -> u32 {
    let found: Vec<usize> = SOURCE.lines().enumerate().filter(|(_, l)| l.contains(text)).map(|(i, _)| i + 1).collect();
    assert_eq!(found.len(), 1, "{text:?} should be on exactly one line of pe_unwind.c: {found:?}");
    found[0] as u32
}

/// `pe_unwind.exe` of one build, under trace, with a breakpoint on `asm_leaf` (found by name).
fn spawn_at_asm_leaf(opt: &str) -> (Trace, u64) {
    let mut trace =
        Trace::spawn(std::process::Command::new(fixture(opt, "pe_unwind.exe"))).expect("spawn pe_unwind.exe");
    let leaf = trace.sym_by_name("asm_leaf").expect("asm_leaf among the image's symbols");
    assert_eq!(trace.sym_by_addr(leaf, true).unwrap().as_deref(), Some("asm_leaf"), "{opt}");
    trace.add_break_by_addr(leaf).unwrap();
    (trace, leaf)
}

/// The physical frames of a backtrace (inlined callers left out).
fn physical(lines: Vec<BacktraceFrame>) -> Vec<BacktraceFrame> {
    lines.into_iter().filter(|f| !f.inlined).collect()
}

#[test]
fn the_pdata_walk_matches_stackwalk64_at_every_call_of_asm_leaf() {
    for opt in OPTS {
        let (mut trace, leaf) = spawn_at_asm_leaf(opt);
        // Its callers, one stop each: xmm_saver (under fp_func), chained_part
        // (a chained entry), machframe_handler (a machine frame), saver.
        let callers = ["xmm_saver", "chained_part", "machframe_handler", "saver"];
        let mut stops = 0;
        loop {
            let event = trace.run().unwrap();
            match event.kind {
                EventKind::Breakpoint { addr, .. } if addr == leaf => {}
                EventKind::Exited(status) => {
                    assert_eq!(status, ExitStatus::Code(0), "{opt}");
                    break;
                }
                other => panic!("{opt}: unexpected {other:?}"),
            }
            let tid = event.tid;
            let ours = trace.stack_trace(tid).unwrap();
            let names = physical(trace.backtrace(tid).unwrap());
            let names: Vec<String> = names.iter().map(|f| f.symbol.clone().unwrap_or_default()).collect();
            let caller = callers.get(stops).unwrap_or_else(|| panic!("{opt}: more stops than callers: {names:?}"));
            assert_eq!(names.get(1).map(String::as_str), Some(*caller), "{opt}: {names:?}");
            let main = names.iter().position(|n| n == "main").unwrap_or_else(|| panic!("{opt}: no main in {names:?}"));
            let theirs = stack_walk(trace.pid() as u32, tid as u32, leaf, 64);
            compare_with_stackwalk(&ours, &theirs, main + 1).unwrap_or_else(|e| {
                panic!("{opt}, stop {stops} ({caller}): {e}\n oxtrace {names:?}\n dbghelp {theirs:x?}")
            });
            stops += 1;
        }
        assert_eq!(stops, callers.len(), "{opt}");
    }
}

#[test]
fn frames_have_the_functions_and_lines_of_the_source() {
    for opt in OPTS {
        let (mut trace, leaf) = spawn_at_asm_leaf(opt);
        let event = trace.run().unwrap();
        assert!(matches!(event.kind, EventKind::Breakpoint { addr, .. } if addr == leaf), "{opt}: {event:?}");
        let frames = physical(trace.backtrace(event.tid).unwrap());
        // asm_leaf is top-level asm: a PE symbol, no DWARF.
        assert_eq!(frames[0].symbol.as_deref(), Some("asm_leaf"), "{opt}");
        assert_eq!(frames[0].offset, 0, "{opt}");
        // Each caller, at its call, as DWARF (not the PE symbols) says.
        let expected = [
            ("xmm_saver", "asm_leaf(1, 1)"),
            ("big_frame", "(int)xmm_saver(n)"),
            ("with_alloca", "big_frame(n & 7)"),
            ("fp_func", "with_alloca(n + 3)"),
            ("run_chain", "fp_func(5)"),
            ("main", "printf(\"chain"),
        ];
        assert!(frames.len() > expected.len(), "{opt}: {frames:#?}");
        for (frame, (function, call)) in frames[1..].iter().zip(expected) {
            let shown = frame.to_string();
            assert_eq!(frame.function.as_deref(), Some(function), "{opt}: {shown}");
            let file = frame.file.as_deref().unwrap_or_else(|| panic!("{opt}: no file for {shown}"));
            assert!(file.replace('\\', "/").ends_with("pe_unwind.c"), "{opt}: {shown}");
            assert_eq!(frame.line, Some(line_of(call)), "{opt}: {shown} should be at {call:?}");
        }
        trace.kill().unwrap();
    }
}
