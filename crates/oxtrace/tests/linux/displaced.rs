//! Breakpoints on instructions that cannot be emulated are left by running a
//! copy of the instruction out of line (RIP-relative operands fixed up): one
//! stop per hit, no hit lost under threads, and a fault in the copy is
//! reported at the original instruction.

use std::cell::Cell;
use std::rc::Rc;

use oxtrace::{EventKind, EventType, ExitStatus, Mode};

use crate::support::Opt;
use crate::{read_all, spawn_quiet, spawn_with_output};

/// The instructions of `work` at -O2: each gets a breakpoint.
fn first_instructions(trace: &mut oxtrace::Trace, start: u64, count: usize) -> Vec<u64> {
    let code = trace.read_memory(start, 64).unwrap();
    let mut decoder = iced_x86::Decoder::with_ip(64, &code, start, iced_x86::DecoderOptions::NONE);
    (0..count).map(|_| decoder.decode().ip()).collect()
}

#[test]
fn threads_hit_out_of_line_breakpoints_and_every_hit_counts() {
    let (mut trace, output) = spawn_with_output("threads", Opt::O2, &["8", "1000"]);
    let work = trace.sym_by_name("work").unwrap();
    let hits = Rc::new(Cell::new(0u64));
    for addr in first_instructions(&mut trace, work, 2) {
        let seen = hits.clone();
        trace
            .add_break_with(addr, move |t, _| {
                seen.set(seen.get() + 1);
                t.run_again();
            })
            .unwrap();
    }
    trace.set_mode(Mode::RunForever, true);
    let signals = Rc::new(Cell::new(0));
    let counted = signals.clone();
    trace.register_notifier(EventType::Signal, move |_, _| counted.set(counted.get() + 1));
    let end = trace.run().unwrap();
    assert_eq!(end.kind, EventKind::Exited(ExitStatus::Code(0)));
    assert_eq!(hits.get(), 2 * 8 * 1000, "every hit of both breakpoints counted once");
    assert_eq!(signals.get(), 0, "no SIGTRAP or SIGSEGV reached the program");
    assert!(read_all(output).contains("total 8000"));
}

#[test]
fn the_copy_lives_in_a_scratch_page_and_a_fault_in_it_is_shown_at_the_original() {
    let mut trace = spawn_quiet("segfault", Opt::O2, &[]);
    let crash = trace.sym_by_name("crash").unwrap();
    // `crash` at -O2 is `mov dword [rdi], 42; ret`: not emulated, so copied.
    trace.add_break_by_addr(crash).unwrap();
    let maps_before = trace.memory_maps().unwrap();
    let hit = trace.run().unwrap();
    assert!(matches!(hit.kind, EventKind::Breakpoint { .. }), "{hit:?}");
    let fault = trace.run().unwrap();
    let EventKind::Signal(info) = &fault.kind else { panic!("expected the fault, got {fault:?}") };
    assert_eq!((info.signo, info.fault_addr), (libc::SIGSEGV, Some(0x10)));
    assert_eq!(trace.pc().unwrap(), crash, "the fault is shown at the original instruction");
    let bt = trace.backtrace(fault.tid).unwrap();
    assert_eq!(bt[0].symbol.as_deref(), Some("crash"), "{bt:?}");
    assert_eq!(bt[1].function.as_deref(), Some("main"), "{bt:?}");
    let scratch: Vec<_> = trace
        .memory_maps()
        .unwrap()
        .into_iter()
        .filter(|m| m.perms.exec && m.path.is_none() && !maps_before.contains(m))
        .collect();
    assert_eq!(scratch.len(), 1, "one scratch page: {scratch:?}");
}

#[test]
fn a_signal_stop_before_the_copy_runs_does_not_report_the_hit_twice() {
    let mut trace = spawn_quiet("calls", Opt::O0, &[]);
    let tick = trace.sym_by_name("tick").unwrap();
    trace.add_break_by_addr(tick).unwrap();
    let mut hits = 0;
    let mut signals = 0;
    loop {
        let event = trace.run().unwrap();
        match event.kind {
            EventKind::Breakpoint { addr, .. } if addr == tick => {
                hits += 1;
                if hits == 2 {
                    // The copy exists since the first hit. Queued now, the signal stops
                    // the thread as it resumes at the copy, before the copy runs.
                    let sent = std::process::Command::new("kill").args(["-WINCH", &trace.pid().to_string()]).status();
                    assert!(sent.unwrap().success());
                }
            }
            EventKind::Signal(info) => {
                assert_eq!(info.signo, libc::SIGWINCH);
                assert_eq!(trace.pc().unwrap(), tick, "the pc is shown at the original instruction");
                signals += 1;
            }
            EventKind::Exited(status) => {
                assert_eq!(status, ExitStatus::Code(0));
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((hits, signals), (5, 1), "tick() runs five times, each hit reported once");
}
