//! Call stacks of 32-bit (i386) programs compared with gdb's `bt` on the same
//! stop, at -O0 and at -O2 -fomit-frame-pointer: recursion, a qsort
//! callback, a signal handler (returning through the vdso's sigreturn), a
//! thread, libc's write, a PLT stub and the vdso.

use std::process::{Command, Stdio};

use oxtrace::{BacktraceFrame, EventKind, Trace};

use crate::backtraces::{assert_same, thread_select};
use crate::support::{fixture_i386, gdb_on_the_same_stop, Opt};

fn check(scenario: &str, stop: &str) {
    check_in("stacks", scenario, stop);
}

/// A fixture as a program to spawn: the 32-bit build, or (`linked_static`) the static one.
fn program(name: &str, opt: Opt, linked_static: bool) -> std::path::PathBuf {
    if linked_static {
        crate::support::fixture_i386_static(name, opt)
    } else {
        fixture_i386(name, opt)
    }
}

/// Runs the 32-bit build of fixture `name` with argument `scenario` to `stop`
/// and compares our backtrace with gdb's, at -O0 and -O2; returns ours.
fn check_in(name: &str, scenario: &str, stop: &str) -> Vec<Vec<BacktraceFrame>> {
    check_built(name, false, scenario, stop)
}

/// [`check_in`] of the dynamic or the static build.
fn check_built(name: &str, linked_static: bool, scenario: &str, stop: &str) -> Vec<Vec<BacktraceFrame>> {
    let mut all = Vec::new();
    for opt in [Opt::O0, Opt::O2] {
        let mut command = Command::new(program(name, opt, linked_static));
        command.arg(scenario).stdout(Stdio::null()).stderr(Stdio::null());
        let mut trace = Trace::spawn(command).unwrap();
        trace.add_break_by_expr(stop).unwrap();
        let event = loop {
            let event = trace.run().unwrap();
            match event.kind {
                EventKind::Breakpoint { .. } => break event,
                EventKind::Exited(status) => panic!("{scenario}: exited ({status}) before {stop}"),
                _ => continue,
            }
        };
        assert_eq!(trace.arch().name, "i386");
        let ours = trace.backtrace(event.tid).unwrap();
        let select = thread_select(&mut trace, event.tid).expect("the stopped thread is listed");
        let gdb = gdb_on_the_same_stop(&mut trace, &[select, "echo ==bt==\\n".into(), "bt".into()]);
        assert_same(&format!("i386 {scenario}"), opt, &ours, &gdb);
        all.push(ours);
    }
    all
}

#[test]
fn i386_leaf_matches_gdb() {
    check("leaf", "stop_here");
}

#[test]
fn i386_recursion_matches_gdb() {
    check("deep", "stop_here");
}

#[test]
fn i386_qsort_callback_matches_gdb() {
    check("qsort", "stop_here");
}

#[test]
fn i386_signal_handler_matches_gdb() {
    check("signal", "stop_here");
}

#[test]
fn i386_thread_matches_gdb() {
    check("thread", "stop_here");
}

#[test]
fn i386_write_under_printf_matches_gdb() {
    check("write", "libc.write");
}

#[test]
fn i386_plt_stub_matches_gdb() {
    check("leaf", "stacks.printf@plt");
}

#[test]
fn i386_vdso_matches_gdb() {
    check("vdso", "vdso.__vdso_clock_gettime64");
}

#[test]
fn i386_siginfo_handler_matches_gdb() {
    for ours in check_in("i386", "rt", "in_handler") {
        let trampoline = ours.iter().position(|f| f.signal_trampoline).expect("a signal frame");
        assert!(ours[trampoline..].iter().any(|f| f.function.as_deref() == Some("send_rt")), "{ours:?}");
    }
}

#[test]
fn i386_static_program_signal_handler_matches_gdb() {
    for ours in check_built("stacks", true, "signal", "stop_here") {
        assert!(ours.iter().any(|f| f.signal_trampoline), "{ours:?}");
        // The static C library's local labels (.L413) name no frame.
        assert!(ours.iter().all(|f| !f.symbol.as_deref().unwrap_or_default().starts_with(".L")), "{ours:?}");
    }
}

/// A handler that returns through a restorer of the program's own, without
/// call frame information: the frame is recognised by the restorer's code.
fn check_raw_restorer(scenario: &str) {
    for ours in check_in("i386", scenario, "in_handler") {
        let trampoline = ours.iter().position(|f| f.signal_trampoline).expect("a signal frame");
        assert!(ours[trampoline..].iter().any(|f| f.function.as_deref() == Some("send_raw")), "{ours:?}");
        assert!(ours[trampoline..].iter().any(|f| f.function.as_deref() == Some("main")), "{ours:?}");
    }
}

#[test]
fn i386_sigreturn_restorer_without_cfi_matches_gdb() {
    check_raw_restorer("raw");
}

#[test]
fn i386_rt_sigreturn_restorer_without_cfi_matches_gdb() {
    check_raw_restorer("rawrt");
}
