//! run, run_until, stepi, interrupt, non-blocking waits and the run modes.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use oxtrace::{EventKind, EventType, ExitStatus, Mode, SyscallStop};

use crate::support::Opt;
use crate::{run_to_break, run_to_exit, spawn_quiet};

#[test]
fn run_until_stops_at_the_address_and_leaves_no_breakpoint() {
    for opt in [Opt::O0, Opt::O2] {
        let mut trace = spawn_quiet("calls", opt, &[]);
        let d = trace.sym_by_name("d").unwrap();
        let event = trace.run_until(d).unwrap();
        assert!(matches!(event.kind, EventKind::Breakpoint { addr, .. } if addr == d), "{event:?}");
        assert_eq!(trace.pc().unwrap(), d);
        assert!(trace.breakpoints().is_empty());
        assert_eq!(run_to_exit(&mut trace), ExitStatus::Code(0));
    }
}

#[test]
fn stepi_executes_one_instruction() {
    let mut trace = spawn_quiet("calls", Opt::O0, &[]);
    let d = trace.sym_by_name("d").unwrap();
    trace.add_break_by_addr(d).unwrap();
    run_to_break(&mut trace, d);
    // d starts with `push %rbp` (after an optional endbr64): a step moves rsp down by 8 at most once.
    let sp = trace.sp().unwrap();
    let mut pcs = vec![trace.pc().unwrap()];
    for _ in 0..3 {
        let event = trace.stepi().unwrap();
        assert_eq!(event.kind, EventKind::Step);
        pcs.push(trace.pc().unwrap());
    }
    assert!(pcs.windows(2).all(|w| w[1] > w[0] && w[1] - w[0] <= 15), "{pcs:x?}");
    assert_eq!(trace.sp().unwrap(), sp - 8, "one push executed");
    // The breakpoint is still there and is hit again on the next call? d is called once: run to the end.
    assert_eq!(run_to_exit(&mut trace), ExitStatus::Code(0));
}

#[test]
fn stepping_on_a_breakpoint_executes_the_original_instruction() {
    let mut trace = spawn_quiet("calls", Opt::O0, &[]);
    let tick = trace.sym_by_name("tick").unwrap();
    trace.add_break_by_addr(tick).unwrap();
    run_to_break(&mut trace, tick);
    let event = trace.stepi().unwrap();
    assert_eq!(event.kind, EventKind::Step);
    assert!(trace.pc().unwrap() > tick);
    // The breakpoint is back: the next call of tick hits it.
    run_to_break(&mut trace, tick);
}

#[test]
fn fast_step_fires_no_step_notifiers() {
    let mut trace = spawn_quiet("calls", Opt::O0, &[]);
    let steps = Rc::new(Cell::new(0));
    let seen = steps.clone();
    trace.register_notifier(EventType::Step, move |_, _| seen.set(seen.get() + 1));
    trace.stepi().unwrap();
    assert_eq!(steps.get(), 1);
    trace.set_mode(Mode::FastStep, true);
    trace.stepi().unwrap();
    trace.stepi().unwrap();
    assert_eq!(steps.get(), 1);
}

#[test]
fn single_step_mode_makes_run_step() {
    let mut trace = spawn_quiet("calls", Opt::O0, &[]);
    trace.set_mode(Mode::SingleStep, true);
    let pc = trace.pc().unwrap();
    let event = trace.run().unwrap();
    assert_eq!(event.kind, EventKind::Step);
    assert_ne!(trace.pc().unwrap(), pc);
    // With RunForever, single steps run until a notifier stops them.
    trace.set_mode(Mode::RunForever, true);
    let count = Rc::new(Cell::new(0u32));
    let seen = count.clone();
    trace.register_notifier(EventType::Step, move |trace, _| {
        seen.set(seen.get() + 1);
        if seen.get() == 1000 {
            trace.set_mode(Mode::RunForever, false);
        }
    });
    let event = trace.run().unwrap();
    assert_eq!(event.kind, EventKind::Step);
    assert_eq!(count.get(), 1000);
}

#[test]
fn run_forever_runs_through_breakpoints_to_the_exit() {
    let mut trace = spawn_quiet("calls", Opt::O2, &[]);
    let tick = trace.sym_by_name("tick").unwrap();
    trace.add_break_by_addr(tick).unwrap();
    let hits = Rc::new(Cell::new(0));
    let seen = hits.clone();
    trace.register_notifier(EventType::Breakpoint, move |_, _| seen.set(seen.get() + 1));
    trace.set_mode(Mode::RunForever, true);
    let event = trace.run().unwrap();
    assert_eq!(event.kind, EventKind::Exited(ExitStatus::Code(0)));
    assert_eq!(hits.get(), 5);
    assert_eq!(trace.breakpoint(0).unwrap().hits, 5);
}

#[test]
fn interrupt_from_another_thread_stops_a_running_trace() {
    let mut trace = spawn_quiet("spin", Opt::O0, &["30"]);
    let interrupter = trace.interrupter();
    let sender = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        interrupter.interrupt().unwrap();
    });
    let event = trace.run().unwrap();
    sender.join().unwrap();
    assert_eq!(event.kind, EventKind::Interrupted);
    // Stopped where it spun, and it can go on and be interrupted again.
    let pc = trace.pc().unwrap();
    assert!(trace.sym_by_addr(pc, false).unwrap().is_some());
    trace.start().unwrap();
    trace.interrupter().interrupt().unwrap();
    assert_eq!(trace.wait().unwrap().kind, EventKind::Interrupted);
    trace.kill().unwrap();
}

#[test]
fn start_and_poll_do_not_block() {
    let mut trace = spawn_quiet("spin", Opt::O0, &["30"]);
    trace.start().unwrap();
    assert!(trace.is_running());
    assert_eq!(trace.poll().unwrap(), None);
    let before = std::time::Instant::now();
    assert_eq!(trace.wait_timeout(Duration::from_millis(50)).unwrap(), None);
    assert!(before.elapsed() >= Duration::from_millis(50));
    assert!(trace.read_memory(0x1000, 1).is_err(), "memory of a running process is refused");
    trace.interrupter().interrupt().unwrap();
    let event = trace.wait_timeout(Duration::from_secs(10)).unwrap().expect("stopped in time");
    assert_eq!(event.kind, EventKind::Interrupted);
    assert!(!trace.is_running());
}

#[test]
fn syscall_mode_reports_entries_and_exits_with_arguments_and_results() {
    let mut trace = spawn_quiet("syscalls", Opt::O0, &[]);
    let main = trace.sym_by_name("main").unwrap();
    trace.run_until(main).unwrap();
    trace.set_mode(Mode::Syscall, true);
    let mut calls = Vec::new();
    loop {
        let event = trace.run().unwrap();
        match event.kind {
            EventKind::Syscall(stop) => calls.push(stop),
            EventKind::Exited(status) => {
                assert_eq!(status, ExitStatus::Code(0));
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    let pid = trace.pid() as i64;
    let entry_of = |nr: i64| {
        calls
            .iter()
            .position(|c| matches!(c, SyscallStop::Entry { number, .. } if *number as i64 == nr))
            .unwrap_or_else(|| panic!("no syscall {nr} in {calls:?}"))
    };
    let write = entry_of(libc::SYS_write);
    assert!(
        matches!(calls[write], SyscallStop::Entry { args, .. } if args[0] == 1 && args[2] == 6),
        "{:?}",
        calls[write]
    );
    assert_eq!(calls[write + 1], SyscallStop::Exit { number: libc::SYS_write as u64, ret: 6 });
    let getpid = entry_of(libc::SYS_getpid);
    assert_eq!(calls[getpid + 1], SyscallStop::Exit { number: libc::SYS_getpid as u64, ret: pid });
    let close = entry_of(libc::SYS_close);
    assert_eq!(calls[close + 1], SyscallStop::Exit { number: libc::SYS_close as u64, ret: -(libc::EBADF as i64) });
    assert!(calls
        .iter()
        .any(|c| matches!(c, SyscallStop::Entry { number, .. } if *number as i64 == libc::SYS_exit_group)));
}
