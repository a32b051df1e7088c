//! Signals: reported with siginfo, delivered to the program's handler, ignored,
//! suppressed or changed.

use oxtrace::{EventKind, ExitStatus};

use crate::support::Opt;
use crate::{run_to_exit, spawn_quiet};

#[test]
fn signals_are_reported_then_delivered_to_the_handler() {
    let mut trace = spawn_quiet("signals", Opt::O0, &[]);
    for _ in 0..2 {
        let event = trace.run().unwrap();
        let EventKind::Signal(info) = event.kind else { panic!("{event:?}") };
        assert_eq!(info.signo, libc::SIGUSR1);
        assert_eq!(info.sender_pid, Some(trace.pid()), "raise() sends from the process itself");
        assert_eq!(trace.pending_signal(), Some(libc::SIGUSR1));
    }
    assert_eq!(run_to_exit(&mut trace), ExitStatus::Code(2), "the handler ran twice");
}

#[test]
fn ignored_signals_are_delivered_without_stopping() {
    let mut trace = spawn_quiet("signals", Opt::O0, &[]);
    trace.ignore_signal(libc::SIGUSR1);
    assert_eq!(trace.ignored_signals(), [libc::SIGUSR1]);
    let event = trace.run().unwrap();
    assert_eq!(event.kind, EventKind::Exited(ExitStatus::Code(2)));
}

#[test]
fn a_suppressed_signal_never_reaches_the_program() {
    let mut trace = spawn_quiet("signals", Opt::O0, &[]);
    for _ in 0..2 {
        assert!(matches!(trace.run().unwrap().kind, EventKind::Signal(_)));
        trace.set_pending_signal(None).unwrap();
    }
    assert_eq!(run_to_exit(&mut trace), ExitStatus::Code(0), "the handler never ran");
}

#[test]
fn a_pending_signal_can_be_changed() {
    let mut trace = spawn_quiet("signals", Opt::O0, &[]);
    assert!(matches!(trace.run().unwrap().kind, EventKind::Signal(_)));
    trace.set_pending_signal(Some(libc::SIGTERM)).unwrap();
    let status = run_to_exit(&mut trace);
    assert_eq!(status, ExitStatus::Signaled { signal: libc::SIGTERM, core_dumped: false });
    assert!(trace.set_pending_signal(Some(0)).is_err());
}

#[test]
fn a_segfault_reports_the_fault_address() {
    for opt in [crate::support::Opt::O0, crate::support::Opt::O2] {
        let mut trace = spawn_quiet("segfault", opt, &[]);
        let event = trace.run().unwrap();
        let EventKind::Signal(info) = event.kind else { panic!("{event:?}") };
        assert_eq!(info.signo, libc::SIGSEGV);
        assert_eq!(info.fault_addr, Some(0x10));
        assert_eq!(info.code, 1, "SEGV_MAPERR");
        let pc = trace.pc().unwrap();
        assert_eq!(
            trace.sym_by_addr(pc, false).unwrap().map(|s| s.split('+').next().unwrap().to_string()),
            Some("crash".into())
        );
        let status = run_to_exit(&mut trace);
        assert!(matches!(status, ExitStatus::Signaled { signal: libc::SIGSEGV, .. }), "{status:?}");
    }
}

#[test]
fn a_programs_own_int3_is_reported_and_not_delivered() {
    let (mut trace, out) = crate::spawn_with_output("calls", Opt::O0, &[]);
    let main = trace.sym_by_name("main").unwrap();
    trace.add_break_by_addr(main).unwrap(); // one of ours elsewhere, to be told apart
    trace.run().unwrap();
    let codefn = trace.sym_by_name("codefn").unwrap();
    // int3; mov $99, %eax; ret
    trace.write_memory(codefn, &[0xcc, 0xb8, 99, 0, 0, 0, 0xc3]).unwrap();
    let event = trace.run().unwrap();
    let EventKind::Signal(info) = event.kind else { panic!("{event:?}") };
    assert_eq!((info.signo, info.code), (libc::SIGTRAP, 0x80));
    assert_eq!(trace.pc().unwrap(), codefn + 1);
    assert_eq!(trace.pending_signal(), None, "a breakpoint trap is not passed to the program");
    assert_eq!(run_to_exit(&mut trace), ExitStatus::Code(0));
    assert!(crate::read_all(out).contains("codefn(2)=99"));
}
