//! Spawn, attach, detach, kill and interrupt.

use std::process::Command;
use std::time::{Duration, Instant};

use oxtrace::{EventKind, ExitStatus, Trace};

use crate::support::{fixture, out_file, output, spawn, Symbols, OPTS};

#[test]
fn a_spawned_program_stops_first_then_runs_to_its_end() {
    for opt in OPTS {
        let out = out_file(&format!("spawned-{opt}"));
        let mut trace = spawn(opt, &["run", out.to_str().unwrap()]);
        assert_eq!(trace.last_event().unwrap().kind, EventKind::Attached);
        assert!(trace.exe_path().unwrap().ends_with("wthreads.exe"), "{:?}", trace.exe_path());
        assert!(trace.threads().contains(&trace.current_thread()));
        trace.set_mode(oxtrace::Mode::RunForever, true);
        let last = trace.run().unwrap();
        assert_eq!(last.kind, EventKind::Exited(ExitStatus::Code(0)), "{opt}");
        assert_eq!(output(&out), "done 1100\n", "{opt}");
    }
}

#[test]
fn killing_a_spawned_program_ends_it() {
    let mut trace = spawn("O0", &["wait"]);
    let status = trace.kill().unwrap();
    assert!(matches!(status, ExitStatus::Signaled { .. }), "{status:?}");
    assert!(trace.has_exited());
}

#[test]
fn an_attached_program_is_released_by_detach_and_runs_to_its_normal_end() {
    for opt in OPTS {
        let out = out_file(&format!("attached-{opt}"));
        let mut child =
            Command::new(fixture(opt, "wthreads.exe")).args(["wait", out.to_str().unwrap()]).spawn().unwrap();
        let mut trace = Trace::attach(child.id() as i32).expect("attach");
        assert_eq!(trace.last_event().unwrap().kind, EventKind::Attached);
        let symbols = Symbols::of(opt);
        // A breakpoint that detach must take out again (or the program would die of it).
        let tick = symbols.addr(&mut trace, "tick");
        trace.add_break_by_addr(tick).unwrap();
        let released = symbols.addr(&mut trace, "released");
        trace.write_memory(released, &1i32.to_le_bytes()).unwrap();
        trace.detach().unwrap();
        let status = child.wait().unwrap();
        assert!(status.success(), "{opt}: {status:?}");
        assert_eq!(output(&out), "done 1100\n", "{opt}");
    }
}

#[test]
fn an_interrupt_stops_a_running_program() {
    let mut trace = spawn("O0", &["wait"]);
    // Past the loader (a thread started in a process still being set up may end it under wine).
    let main = Symbols::of("O0").addr(&mut trace, "main");
    let id = trace.add_break_by_addr(main).unwrap();
    assert!(matches!(trace.run().unwrap().kind, EventKind::Breakpoint { .. }));
    trace.remove_breakpoint(id).unwrap();
    let interrupter = trace.interrupter();
    trace.start().unwrap();
    std::thread::sleep(Duration::from_millis(100));
    interrupter.interrupt().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let event = loop {
        let event = trace.wait().unwrap();
        if !matches!(event.kind, EventKind::ThreadCreated { .. }) || Instant::now() > deadline {
            break event;
        }
    };
    assert_eq!(event.kind, EventKind::Interrupted);
    trace.kill().unwrap();
}

#[test]
fn an_interrupt_of_a_stopped_program_is_its_next_stop() {
    let mut trace = spawn("O0", &["wait"]);
    trace.interrupter().interrupt().unwrap();
    let event = trace.run().unwrap();
    assert_eq!(event.kind, EventKind::Interrupted);
    // Nothing ran meanwhile: the program is still at the loader's breakpoint, and goes on from there.
    let released = Symbols::of("O0").addr(&mut trace, "released");
    trace.write_memory(released, &1i32.to_le_bytes()).unwrap();
    trace.set_mode(oxtrace::Mode::RunForever, true);
    assert_eq!(trace.run().unwrap().kind, EventKind::Exited(ExitStatus::Code(0)));
}
