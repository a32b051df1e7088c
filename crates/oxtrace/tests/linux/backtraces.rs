//! Call stacks on optimised code, compared with gdb's `bt` on the same stop:
//! a leaf, recursion 1,000 deep, a qsort callback, a signal handler, libc's
//! write() under printf, a PLT stub, the vdso and a thread, each at -O0 and at -O2 -fomit-frame-pointer.

use oxtrace::{BacktraceFrame, EventKind, Trace};

use crate::spawn_quiet;
use crate::support::{gdb_available, gdb_on_the_same_stop, parse_gdb_backtrace, Opt};

/// Runs the `stacks` fixture in `scenario` to `stop` (a symbol), then returns
/// our backtrace of the stopped thread and gdb's for the same stop.
fn both_backtraces(scenario: &str, opt: Opt, stop: &str) -> (Vec<BacktraceFrame>, String) {
    let mut trace = spawn_quiet("stacks", opt, &[scenario]);
    trace.add_break_by_expr(stop).unwrap();
    let event = loop {
        let event = trace.run().unwrap();
        match event.kind {
            EventKind::Breakpoint { .. } => break event,
            EventKind::Exited(status) => panic!("{scenario}: exited ({status}) before {stop}"),
            _ => continue,
        }
    };
    let ours = trace.backtrace(event.tid).unwrap();
    let select = thread_select(&mut trace, event.tid).expect("the stopped thread is listed");
    let gdb = gdb_on_the_same_stop(&mut trace, &[select, "echo ==bt==\\n".into(), "bt".into()]);
    (ours, gdb)
}

/// gdb's command to select the thread with this tid (`thread N` by its index, counted in creation order).
pub(crate) fn thread_select(trace: &mut Trace, tid: i32) -> Option<String> {
    let mut tids = trace.threads();
    tids.sort_unstable();
    let index = tids.iter().position(|&t| t == tid)? + 1;
    Some(format!("thread {index}"))
}

/// Our frames equal gdb's, frame by frame: the same pc wherever gdb prints
/// one, and the same function (gdb's name is ours, or an alias of our symbol).
pub(crate) fn assert_same(scenario: &str, opt: Opt, ours: &[BacktraceFrame], gdb_out: &str) {
    let gdb = parse_gdb_backtrace(gdb_out.split_once("==bt==").map_or("", |(_, bt)| bt));
    let context = || {
        let ours: Vec<String> = ours.iter().map(ToString::to_string).collect();
        format!("{scenario} {opt:?}\nours:\n{}\ngdb:\n{gdb_out}", ours.join("\n"))
    };
    assert!(gdb.len() >= 2, "gdb gave no backtrace: {}", context());
    assert!(ours.len() >= gdb.len(), "fewer frames than gdb: {}", context());
    for (i, (mine, theirs)) in ours.iter().zip(&gdb).enumerate() {
        if let Some(pc) = theirs.pc {
            assert_eq!(mine.pc, pc, "frame {i} pc: {}", context());
        }
        if theirs.name == "<signal handler called>" {
            assert!(mine.signal_trampoline, "frame {i} is gdb's signal frame: {}", context());
            continue;
        }
        if theirs.name == "??" {
            // gdb knows no name there (a stripped library): the pc is what can be compared.
            continue;
        }
        let names = [mine.function.as_deref(), mine.symbol.as_deref()];
        assert!(names.contains(&Some(theirs.name.as_str())), "frame {i}: gdb says {}: {}", theirs.name, context());
    }
}

fn check(scenario: &str, stop: &str) {
    if !gdb_available() {
        eprintln!("gdb is not installed: skipped (.ci/run installs it)");
        return;
    }
    for opt in [Opt::O0, Opt::O2] {
        let (ours, gdb) = both_backtraces(scenario, opt, stop);
        assert_same(scenario, opt, &ours, &gdb);
    }
}

#[test]
fn leaf_matches_gdb() {
    check("leaf", "stop_here");
}

#[test]
fn recursion_1000_deep_matches_gdb() {
    check("deep", "stop_here");
}

#[test]
fn qsort_callback_matches_gdb() {
    check("qsort", "stop_here");
}

#[test]
fn signal_handler_matches_gdb() {
    check("signal", "stop_here");
}

#[test]
fn write_under_printf_matches_gdb() {
    check("write", "libc.write");
}

#[test]
fn plt_stub_matches_gdb() {
    check("leaf", "stacks.printf@plt");
}

#[test]
fn vdso_matches_gdb() {
    check("vdso", "vdso.__vdso_clock_gettime");
}

#[test]
fn thread_matches_gdb() {
    check("thread", "stop_here");
}

#[test]
fn a_thread_inside_clone3_on_the_parent_side_unwinds_to_main() {
    let mut trace = crate::spawn_quiet("threads", Opt::O0, &["2", "1"]);
    trace.disable_auto_continue(oxtrace::EventType::ThreadCreated);
    let event = trace.run().unwrap();
    assert!(matches!(event.kind, oxtrace::EventKind::ThreadCreated { .. }), "{event:?}");
    let frames = trace.backtrace(event.tid).unwrap();
    let names: Vec<String> = frames.iter().map(|f| f.function.clone().unwrap_or_default()).collect();
    let main = names.iter().position(|n| n == "main");
    let create = names.iter().position(|n| n.contains("pthread_create"));
    assert!(names[0].contains("clone"), "stopped in clone3: {names:?}");
    assert!(create.is_some() && main.is_some() && create < main, "{names:?}");
}
