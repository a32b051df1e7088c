//! Bad requests get errors that name the pid, tid, address or name; nothing
//! panics and nothing hangs on a dead process.

use std::process::Command;
use std::time::Duration;

use oxtrace::{Error, EventKind, ExitStatus, Trace};

use crate::support::Opt;
use crate::{run_to_exit, spawn_quiet};

#[test]
fn unmapped_addresses_are_named() {
    let mut trace = spawn_quiet("calls", Opt::O0, &[]);
    let err = trace.read_memory(0x10, 8).unwrap_err();
    assert!(matches!(err, Error::Memory { addr: 0x10, .. }), "{err:?}");
    assert!(err.to_string().contains("0x10"), "{err}");
    assert!(err.to_string().contains(&trace.pid().to_string()), "{err}");
    let err = trace.write_memory(0xdead_0000, b"x").unwrap_err();
    assert!(err.to_string().contains("0xdead0000"), "{err}");
    let err = trace.add_break_by_addr(0x20).unwrap_err();
    assert!(err.to_string().contains("0x20"), "{err}");
    assert!(trace.breakpoints().is_empty());
    // A read that starts mapped and runs off the end names the first bad address.
    let maps = trace.memory_maps().unwrap();
    let last_stack = maps.iter().find(|m| m.name() == "[stack]").unwrap();
    let err = trace.read_memory(last_stack.end - 4, 8).unwrap_err();
    assert!(matches!(err, Error::Memory { addr, .. } if addr == last_stack.end), "{err:?}");
    let err = trace.read_memory(u64::MAX - 2, 8).unwrap_err();
    assert!(matches!(err, Error::Memory { .. }), "{err:?}");
}

#[test]
fn missing_processes_and_programs_are_named() {
    let err = Trace::attach(999_999_999).unwrap_err();
    assert!(matches!(err, Error::NoSuchProcess { pid: 999_999_999 }), "{err:?}");
    assert!(err.to_string().contains("999999999"));
    let err = Trace::attach(-5).unwrap_err();
    assert!(matches!(err, Error::NoSuchProcess { .. }), "{err:?}");
    let err = Trace::spawn(Command::new("/nonexistent/program")).unwrap_err();
    assert!(err.to_string().contains("/nonexistent/program"), "{err}");
}

#[test]
fn untraceable_processes_are_named() {
    // Our own process cannot be traced by itself.
    let me = std::process::id() as i32;
    let err = Trace::attach(me).unwrap_err();
    assert!(matches!(err, Error::NotTraceable { pid, .. } if pid == me), "{err:?}");
    // A process already traced by another trace.
    let trace = spawn_quiet("sleeper", Opt::O0, &[]);
    let err = Trace::attach(trace.pid()).unwrap_err();
    assert!(err.to_string().contains(&trace.pid().to_string()), "{err}");
}

#[test]
fn unknown_threads_are_named() {
    let mut trace = spawn_quiet("calls", Opt::O0, &[]);
    let err = trace.select_thread(424_242).unwrap_err();
    assert!(matches!(err, Error::NoSuchThread { tid: 424_242, .. }), "{err:?}");
    let err = trace.thread_register(424_242, "rax").unwrap_err();
    assert!(err.to_string().contains("424242"), "{err}");
}

#[test]
fn a_dead_process_gives_errors_not_hangs() {
    let mut trace = spawn_quiet("exitcode", Opt::O0, &["0"]);
    assert_eq!(run_to_exit(&mut trace), ExitStatus::Code(0));
    let pid = trace.pid();
    for err in [
        trace.run().unwrap_err(),
        trace.read_memory(0x1000, 1).unwrap_err(),
        trace.register("rax").unwrap_err(),
        trace.stepi().unwrap_err(),
        trace.kill().unwrap_err(),
        trace.detach().unwrap_err(),
    ] {
        assert!(matches!(err, Error::ProcessExited { pid: p } if p == pid), "{err:?}");
    }
}

#[test]
fn a_process_killed_from_outside_is_reported_as_exited() {
    let mut trace = spawn_quiet("spin", Opt::O0, &["30"]);
    let pid = trace.pid();
    trace.start().unwrap();
    std::thread::sleep(Duration::from_millis(50));
    Command::new("kill").args(["-KILL", &pid.to_string()]).status().unwrap();
    let event = trace.wait_timeout(Duration::from_secs(10)).unwrap().expect("the death is seen");
    assert_eq!(event.kind, EventKind::Exited(ExitStatus::Signaled { signal: libc::SIGKILL, core_dumped: false }));
    assert!(trace.read_memory(0x1000, 1).is_err());
}

#[test]
fn duplicate_breakpoints_and_bad_ids_are_errors() {
    let mut trace = spawn_quiet("calls", Opt::O0, &[]);
    let main = trace.sym_by_name("main").unwrap();
    let id = trace.add_break_by_addr(main).unwrap();
    let err = trace.add_break_by_addr(main).unwrap_err();
    assert!(matches!(err, Error::DuplicateBreakpoint { id: i, addr } if i == id && addr == main), "{err:?}");
    assert!(matches!(trace.remove_breakpoint(99), Err(Error::NoSuchBreakpoint(99))));
}
