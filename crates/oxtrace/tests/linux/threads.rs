//! Threads: all-stop, tracking, selection, and many threads on one breakpoint.

use std::cell::Cell;
use std::rc::Rc;

use oxtrace::{EventKind, ExitStatus};

use crate::support::{process_state, Opt};
use crate::{read_all, run_to_exit, spawn_with_output};

#[test]
fn every_thread_stops_when_one_does() {
    let (mut trace, _out) = spawn_with_output("threads", Opt::O0, &["8", "1000"]);
    let work = trace.sym_by_name("work").unwrap();
    trace.add_break_by_addr(work).unwrap();
    let event = trace.run().unwrap();
    assert!(matches!(event.kind, EventKind::Breakpoint { .. }));
    let threads = trace.threads();
    assert!(threads.len() >= 2, "{threads:?}");
    for &tid in &threads {
        assert_eq!(process_state(tid), Some('t'), "thread {tid} is stopped");
    }
    assert_eq!(trace.current_thread(), event.tid);
    for &tid in &threads {
        trace.select_thread(tid).unwrap();
        assert_eq!(trace.current_thread(), tid);
        assert_ne!(trace.pc().unwrap(), 0);
    }
    trace.kill().unwrap();
}

#[test]
fn eight_threads_on_one_breakpoint_every_hit_counted_once() {
    for opt in [Opt::O0, Opt::O2] {
        let (mut trace, out) = spawn_with_output("threads", opt, &["8", "1000"]);
        let work = trace.sym_by_name("work").unwrap();
        let hits = Rc::new(Cell::new(0u32));
        let seen = hits.clone();
        trace
            .add_break_with(work, move |trace, _| {
                seen.set(seen.get() + 1);
                trace.run_again();
            })
            .unwrap();
        assert_eq!(run_to_exit(&mut trace), ExitStatus::Code(0), "{opt:?}");
        assert_eq!(hits.get(), 8000, "{opt:?}");
        assert!(read_all(out).contains("total 8000"));
    }
}

#[test]
fn sixteen_threads_ten_thousand_hits_each_none_lost_none_twice() {
    let (mut trace, out) = spawn_with_output("threads", Opt::O0, &["16", "10000"]);
    let work = trace.sym_by_name("work").unwrap();
    let id = trace.add_breakpoint(work, oxtrace::BreakpointKind::Tracker, None).unwrap();
    let signals = Rc::new(Cell::new(0u32));
    let seen = signals.clone();
    trace.register_notifier(oxtrace::EventType::Signal, move |_, _| seen.set(seen.get() + 1));
    let started = std::time::Instant::now();
    assert_eq!(run_to_exit(&mut trace), ExitStatus::Code(0));
    eprintln!("160,000 hits in 16 threads: {:?}", started.elapsed());
    assert_eq!(trace.breakpoint(id).unwrap().hits, 160_000);
    assert_eq!(signals.get(), 0, "no SIGTRAP reached the debuggee");
    assert!(read_all(out).contains("total 160000"));
}
