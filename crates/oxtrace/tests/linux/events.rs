//! Events, notifiers, the auto-continue list, callbacks, metadata and variables.

use std::cell::RefCell;
use std::rc::Rc;

use oxtrace::{EventKind, EventType, ExitStatus, MetaValue};

use crate::support::Opt;
use crate::{run_to_break, run_to_exit, spawn_quiet};

#[test]
fn notifiers_see_every_event_or_only_their_type() {
    let mut trace = spawn_quiet("calls", Opt::O0, &[]);
    let d = trace.sym_by_name("d").unwrap();
    trace.add_break_by_addr(d).unwrap();
    let all = Rc::new(RefCell::new(Vec::new()));
    let breaks = Rc::new(RefCell::new(Vec::new()));
    let (a, b) = (all.clone(), breaks.clone());
    trace.register_notifier_all(move |_, e| a.borrow_mut().push(e.event_type()));
    let id = trace.register_notifier(EventType::Breakpoint, move |trace, e| {
        assert_eq!(
            trace.pc().unwrap(),
            match e.kind {
                EventKind::Breakpoint { addr, .. } => addr,
                _ => 0,
            }
        );
        b.borrow_mut().push(e.clone())
    });
    let event = run_to_break(&mut trace, d);
    assert_eq!(event.pid, trace.pid());
    assert_eq!(event.tid, trace.pid());
    assert_eq!(*all.borrow(), [EventType::Continued, EventType::Breakpoint]);
    assert_eq!(breaks.borrow().len(), 1);
    assert!(trace.deregister_notifier(id));
    assert_eq!(run_to_exit(&mut trace), ExitStatus::Code(0));
    assert_eq!(breaks.borrow().len(), 1);
    assert_eq!(all.borrow().last(), Some(&EventType::Exited));
}

#[test]
fn a_breakpoint_callback_can_change_the_debuggee_and_run_again() {
    let mut trace = spawn_quiet("calls", Opt::O0, &[]);
    let tick = trace.sym_by_name("tick").unwrap();
    let seen = Rc::new(RefCell::new(Vec::new()));
    let log = seen.clone();
    trace
        .add_break_with(tick, move |trace, event| {
            log.borrow_mut().push(trace.register_u64("rdi").unwrap());
            assert_eq!(event.tid, trace.current_thread());
            trace.run_again();
        })
        .unwrap();
    assert_eq!(run_to_exit(&mut trace), ExitStatus::Code(0));
    assert_eq!(*seen.borrow(), [0, 1, 2, 3, 4], "tick(i) for i in 0..5");
}

#[test]
fn one_time_breakpoints_remove_themselves() {
    let mut trace = spawn_quiet("calls", Opt::O0, &[]);
    let tick = trace.sym_by_name("tick").unwrap();
    trace.add_breakpoint(tick, oxtrace::BreakpointKind::OneTime, None).unwrap();
    run_to_break(&mut trace, tick);
    assert!(trace.breakpoints().is_empty());
    assert_eq!(run_to_exit(&mut trace), ExitStatus::Code(0));
}

#[test]
fn thread_events_are_auto_continued_unless_asked() {
    let mut trace = spawn_quiet("threads", Opt::O0, &["4", "10"]);
    let created = Rc::new(RefCell::new(Vec::new()));
    let exited = Rc::new(RefCell::new(0));
    let (c, x) = (created.clone(), exited.clone());
    trace.register_notifier(EventType::ThreadCreated, move |_, e| {
        if let EventKind::ThreadCreated { new_tid } = e.kind {
            c.borrow_mut().push(new_tid)
        }
    });
    trace.register_notifier(EventType::ThreadExited, move |_, _| *x.borrow_mut() += 1);
    trace.disable_auto_continue(EventType::ThreadCreated);
    let event = trace.run().unwrap();
    let EventKind::ThreadCreated { new_tid } = event.kind else { panic!("{event:?}") };
    assert!(trace.threads().contains(&new_tid));
    trace.enable_auto_continue(EventType::ThreadCreated);
    assert_eq!(run_to_exit(&mut trace), ExitStatus::Code(0));
    assert_eq!(created.borrow().len(), 4);
    assert_eq!(*exited.borrow(), 4, "thread exits seen; created {:?}", created.borrow());
    assert!(trace.auto_continue_list().contains(&EventType::ThreadExited));
}

#[test]
fn exec_is_reported_with_the_new_program() {
    let mut trace = spawn_quiet("forkexec", Opt::O0, &["exec"]);
    let event = trace.run().unwrap();
    let EventKind::Exec { path } = &event.kind else { panic!("{event:?}") };
    assert!(path.ends_with("/true"), "{path}");
    assert_eq!(trace.exe_path().as_deref(), Some(path.as_str()));
    assert_eq!(trace.threads(), [trace.pid()]);
    assert_eq!(run_to_exit(&mut trace), ExitStatus::Code(0));
}

#[test]
fn metadata_and_variables() {
    let mut trace = spawn_quiet("calls", Opt::O0, &[]);
    assert_eq!(trace.meta("Architecture").and_then(|v| v.as_str()), Some("x86_64"));
    assert!(trace.exe_path().unwrap().ends_with("calls-O0"));
    assert!(!trace.has_meta("Mine"));
    trace.set_meta("Mine", 42u64);
    assert!(trace.has_meta("Mine"));
    assert_eq!(trace.meta("Mine"), Some(&MetaValue::UInt(42)));
    trace.set_variable("answer", 42);
    assert_eq!(trace.variable("answer"), Some(42));
    assert_eq!(trace.variable("nothing"), None);
    assert_eq!(trace.variables(), [("answer".to_string(), 42)]);
}

#[test]
fn join_thread_runs_until_that_thread_ends() {
    let mut trace = spawn_quiet("threads", Opt::O0, &["3", "200"]);
    trace.disable_auto_continue(EventType::ThreadCreated);
    let EventKind::ThreadCreated { new_tid } = trace.run().unwrap().kind else { panic!("no thread") };
    trace.enable_auto_continue(EventType::ThreadCreated);
    let event = trace.join_thread(new_tid).unwrap();
    assert_eq!(event.tid, new_tid);
    assert!(matches!(event.kind, EventKind::ThreadExited(ExitStatus::Code(0))), "{event:?}");
    assert!(!trace.threads().contains(&new_tid));
    assert!(trace.join_thread(new_tid).is_err(), "an ended thread cannot be joined");
    assert_eq!(run_to_exit(&mut trace), ExitStatus::Code(0));
}

#[test]
fn events_and_traces_print_as_one_line() {
    let mut trace = spawn_quiet("segfault", Opt::O0, &[]);
    let pid = trace.pid();
    assert_eq!(trace.to_string(), format!("[{pid}] - {} stopped", trace.exe_path().unwrap()));
    let event = trace.run().unwrap();
    assert_eq!(event.to_string(), format!("[{pid}:{pid}] signal 11 (code 1) at 0x10"));
    let end = trace.run().unwrap();
    assert_eq!(end.to_string(), format!("[{pid}:{pid}] exited: killed by signal 11"));
    assert!(trace.to_string().ends_with("exited (killed by signal 11)"), "{trace}");
}

#[test]
fn symbols_follow_libraries_as_they_load() {
    let mut trace = spawn_quiet("calls", Opt::O0, &[]);
    // At the first instruction only the program and the dynamic linker are mapped.
    assert!(trace.sym_by_name("libc.malloc").is_err());
    let entry = trace.sym_by_name("ld.__entry").unwrap();
    assert_eq!(trace.pc().unwrap(), entry);
    let main = trace.sym_by_name("main").unwrap();
    assert_eq!(trace.sym_by_name("calls.main").unwrap(), main);
    trace.run_until(main).unwrap();
    let malloc = trace.sym_by_name("libc.malloc").unwrap();
    assert_eq!(trace.sym_by_name("malloc").unwrap(), malloc);
    let name = trace.sym_by_addr(malloc, true).unwrap().unwrap();
    assert!(name.contains("malloc"), "{name}");
    assert_eq!(trace.sym_by_addr(main + 4, false).unwrap().as_deref(), Some("main+0x4"));
    assert_eq!(trace.sym_by_addr(main + 4, true).unwrap(), None);
    assert!(matches!(trace.sym_by_name("no_such_symbol_here"), Err(oxtrace::Error::NoSuchSymbol(_))));
}

#[test]
fn a_breakpoint_callback_can_change_a_register_the_program_then_uses() {
    let (mut trace, out) = crate::spawn_with_output("regs", Opt::O2, &[]);
    let check = trace.sym_by_name("check").unwrap();
    trace
        .add_break_with(check, |trace, _| {
            trace.set_register("rdi", 100u64).unwrap();
            trace.run_again();
        })
        .unwrap();
    assert_eq!(run_to_exit(&mut trace), ExitStatus::Code(0));
    let out = crate::read_all(out);
    assert!(out.contains("check=200"), "{out}");
}
