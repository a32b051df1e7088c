//! Every event kind of the debug API, as oxtrace's events.

use std::cell::RefCell;
use std::rc::Rc;

use oxtrace::{signals, EventKind, EventType, ExitStatus, Mode, PageAccess};

use crate::support::{fixture, out_file, spawn};

#[test]
fn threads_libraries_and_debug_strings_are_reported() {
    let out = out_file("events");
    let mut trace = spawn("O0", &["run", out.to_str().unwrap()]);
    let seen = Rc::new(RefCell::new(Vec::new()));
    let log = seen.clone();
    trace.register_notifier_all(move |_, event| log.borrow_mut().push(event.kind.clone()));
    trace.set_mode(Mode::RunForever, true);
    let last = trace.run().unwrap();
    assert_eq!(last.kind, EventKind::Exited(ExitStatus::Code(0)));
    let seen = seen.borrow();
    let count = |t: EventType| seen.iter().filter(|k| k.event_type() == t).count();
    assert!(count(EventType::ThreadCreated) >= 4, "{seen:?}");
    assert!(count(EventType::ThreadExited) >= 4, "{seen:?}");
    let loaded = |name: &str| seen.iter().any(|k| matches!(k, EventKind::LibraryLoaded { name: n, .. } if n == name));
    for name in ["ntdll", "kernel32", "wdll"] {
        assert!(loaded(name), "{name} loaded: {seen:?}");
    }
    let wdll = seen.iter().find_map(|k| match k {
        EventKind::LibraryLoaded { name, path, base } if name == "wdll" => Some((path.clone(), *base)),
        _ => None,
    });
    let (path, base) = wdll.unwrap();
    assert!(path.to_lowercase().ends_with("wdll.dll"), "{path}");
    assert!(
        seen.iter()
            .any(|k| matches!(k, EventKind::LibraryUnloaded { name, base: b, .. } if name == "wdll" && *b == base)),
        "{seen:?}"
    );
    assert!(seen.contains(&EventKind::DebugString { text: "hello from wthreads".into() }), "{seen:?}");
}

#[test]
fn an_access_violation_gives_its_address_and_kind_first_and_second_chance() {
    let mut trace = spawn("O0", &["crash"]);
    let first = trace.run().unwrap();
    let EventKind::Signal(info) = first.kind else { panic!("{first:?}") };
    assert_eq!(info.signo, signals::SIGSEGV);
    assert_eq!(info.fault_addr, Some(0x1230));
    let exception = info.exception.unwrap();
    assert_eq!(exception.code, 0xc000_0005);
    assert!(exception.first_chance);
    assert_eq!(exception.access, Some(PageAccess::Write));
    assert_eq!(trace.pc().unwrap(), exception.address);
    // Passed on: the program has no handler, so it comes back as the last chance.
    let second = trace.run().unwrap();
    let EventKind::Signal(info) = second.kind else { panic!("{second:?}") };
    assert!(!info.exception.unwrap().first_chance);
    let end = trace.run().unwrap();
    assert_eq!(end.kind, EventKind::Exited(ExitStatus::Code(0xc000_0005_u32 as i32)));
}

#[test]
fn a_suppressed_access_violation_faults_again() {
    let mut trace = spawn("O2", &["crash"]);
    let first = trace.run().unwrap();
    let pc = trace.pc().unwrap();
    assert!(matches!(first.kind, EventKind::Signal(_)), "{first:?}");
    trace.set_pending_signal(None).unwrap();
    let again = trace.run().unwrap();
    let EventKind::Signal(info) = again.kind else { panic!("{again:?}") };
    assert!(info.exception.unwrap().first_chance, "handled by the debugger: the instruction ran again");
    assert_eq!(trace.pc().unwrap(), pc);
    trace.kill().unwrap();
}

#[test]
fn a_cpp_exception_is_a_signal_like_event_passed_to_the_program() {
    let exe = fixture("O0", "wthrow.exe");
    if !exe.exists() {
        eprintln!("no mingw C++ compiler: skipped");
        return;
    }
    let mut trace = oxtrace::Trace::spawn(std::process::Command::new(exe)).unwrap();
    let mut exceptions = Vec::new();
    let status = loop {
        match trace.run().unwrap().kind {
            EventKind::Signal(info) => exceptions.push(info),
            EventKind::Exited(status) => break status,
            _ => {}
        }
    };
    assert_eq!(status, ExitStatus::Code(0), "caught by the program: {exceptions:?}");
    assert!(
        exceptions.iter().any(|i| i.signo == signals::SIGEXCEPTION && i.exception.is_some_and(|e| e.first_chance)),
        "{exceptions:?}"
    );
}
