//! Leaving nothing behind: a detach unmaps the out-of-line scratch page (no
//! thread left inside it) and clears debug registers set by hand; with
//! breakpoints out of memory while stopped, a stopped process holds no break
//! byte, memory reads, writes, new breakpoints and steps stay right, and
//! every hit still counts under threads.

use std::io::BufReader;
use std::process::{Command, Stdio};

use oxtrace::{EventKind, ExitStatus, Trace};

use crate::support::{fixture, tracer_pid, wait_for_line, Opt};
use crate::{read_all, run_to_break, run_to_exit, spawn_with_output};

/// The executable maps that no file backs and that are not the kernel's ([vdso] and the like).
fn anonymous_code(pid: i32) -> Vec<String> {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap();
    maps.lines()
        .filter(|l| {
            let fields: Vec<&str> = l.split_whitespace().collect();
            fields[1].contains('x') && fields.len() == 5
        })
        .map(str::to_owned)
        .collect()
}

/// Bytes of the process's memory as the kernel has them, not through the trace.
fn raw_memory(pid: i32, addr: u64, len: usize) -> Vec<u8> {
    use std::os::unix::fs::FileExt;
    let file = std::fs::File::open(format!("/proc/{pid}/mem")).unwrap();
    let mut buf = vec![0; len];
    file.read_exact_at(&mut buf, addr).unwrap();
    buf
}

/// A stopped thread's pc as the kernel has it (the last field of `/proc/PID/task/TID/syscall`).
fn kernel_pc(pid: i32, tid: i32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/syscall")).ok()?;
    u64::from_str_radix(text.split_whitespace().last()?.trim_start_matches("0x"), 16).ok()
}

/// The second instruction of `work` at -O2 (a store), which is run out of line.
fn inner_instruction(trace: &mut Trace, function: u64) -> u64 {
    let code = trace.read_memory(function, 16).unwrap();
    let mut decoder = iced_x86::Decoder::with_ip(64, &code, function, iced_x86::DecoderOptions::NONE);
    let first = decoder.decode();
    assert!(!first.is_invalid(), "work starts with an instruction");
    decoder.decode().ip()
}

#[test]
fn detach_while_threads_run_through_out_of_line_copies_unmaps_the_page_and_loses_no_thread() {
    for round in 0..8 {
        let (mut trace, output) = spawn_with_output("threads", Opt::O2, &["8", "2000"]);
        let pid = trace.pid();
        let work = trace.sym_by_name("work").unwrap();
        let at = inner_instruction(&mut trace, work);
        trace.add_break_by_addr(work).unwrap();
        trace.add_break_by_addr(at).unwrap();
        for _ in 0..(10 + round * 7) {
            let event = trace.run().unwrap();
            assert!(matches!(event.kind, EventKind::Breakpoint { .. }), "{event:?}");
        }
        assert_eq!(anonymous_code(pid).len(), 1, "the scratch page is there");
        // Detached while running: threads may be anywhere, in a copy too.
        trace.start().unwrap();
        trace.detach().unwrap();
        assert!(anonymous_code(pid).is_empty(), "round {round}: the scratch page is gone");
        drop(trace);
        let out = read_all(output);
        assert!(out.contains("total 16000"), "round {round}: every thread ran to its end: {out:?}");
    }
}

#[test]
fn unmapping_the_scratch_page_while_stopped_loses_no_hit() {
    let (mut trace, output) = spawn_with_output("threads", Opt::O2, &["4", "500"]);
    let pid = trace.pid();
    let work = trace.sym_by_name("work").unwrap();
    let at = inner_instruction(&mut trace, work);
    trace.add_break_by_addr(at).unwrap();
    let mut hits = 0;
    loop {
        let event = trace.run().unwrap();
        match event.kind {
            EventKind::Breakpoint { .. } => hits += 1,
            EventKind::Exited(status) => {
                assert_eq!(status, ExitStatus::Code(0));
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
        if hits % 50 == 0 {
            trace.unmap_scratch_page().unwrap();
            assert!(anonymous_code(pid).is_empty(), "no scratch page after {hits} hits");
        }
    }
    assert_eq!(hits, 2000, "every hit counted once");
    assert!(read_all(output).contains("total 2000"));
}

#[test]
fn with_breakpoints_out_while_stopped_no_break_byte_is_in_memory_and_every_hit_counts() {
    let (mut trace, output) = spawn_with_output("threads", Opt::O0, &["8", "300"]);
    let pid = trace.pid();
    trace.set_breakpoints_out_while_stopped(true).unwrap();
    assert!(trace.breakpoints_out_while_stopped());
    let work = trace.sym_by_name("work").unwrap();
    let original = trace.read_memory(work, 8).unwrap();
    trace.add_break_by_addr(work).unwrap();
    let mut hits = 0;
    loop {
        let event = trace.run().unwrap();
        match event.kind {
            EventKind::Breakpoint { addr, .. } => {
                assert_eq!(addr, work);
                hits += 1;
            }
            EventKind::Exited(status) => {
                assert_eq!(status, ExitStatus::Code(0));
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(raw_memory(pid, work, 8), original, "hit {hits}: the code holds no break byte");
        assert_eq!(trace.read_memory(work, 8).unwrap(), original);
        // Threads that hit it meanwhile stand on it (not after it) in the kernel's copy of their registers.
        for tid in trace.threads() {
            assert_ne!(kernel_pc(pid, tid), Some(work + 1), "thread {tid} is half way into an instruction");
        }
    }
    assert_eq!(hits, 2400, "every hit counted once");
    assert!(read_all(output).contains("total 2400"));
}

#[test]
fn memory_new_breakpoints_and_steps_stay_right_while_breakpoints_are_out() {
    let (mut trace, output) = spawn_with_output("calls", Opt::O0, &[]);
    let pid = trace.pid();
    trace.set_breakpoints_out_while_stopped(true).unwrap();
    let tick = trace.sym_by_name("tick").unwrap();
    let d = trace.sym_by_name("d").unwrap();
    let tick_code = trace.read_memory(tick, 8).unwrap();
    let d_code = trace.read_memory(d, 8).unwrap();
    trace.add_break_by_addr(d).unwrap();
    run_to_break(&mut trace, d);
    assert_eq!(raw_memory(pid, d, 8), d_code);
    // A breakpoint set while the others are out stays out too, and goes in on resume.
    trace.add_break_by_addr(tick).unwrap();
    assert_eq!(raw_memory(pid, tick, 8), tick_code);
    // A write over a breakpoint changes what it will restore, not memory's break byte.
    trace.write_memory(tick, &tick_code[..2]).unwrap();
    assert_eq!(raw_memory(pid, tick, 8), tick_code);
    // Steps leave them out.
    let step = trace.stepi().unwrap();
    assert_eq!(step.kind, EventKind::Step);
    assert_eq!(raw_memory(pid, d, 8), d_code);
    for i in 0..5 {
        run_to_break(&mut trace, tick);
        assert_eq!(raw_memory(pid, tick, 8), tick_code, "hit {i}");
        assert_eq!(trace.register_u64("rdi").unwrap(), i, "tick({i})");
    }
    trace.set_breakpoints_out_while_stopped(false).unwrap();
    assert_eq!(raw_memory(pid, tick, 1), [0xcc], "turned off: the breakpoint is back in memory");
    assert_eq!(run_to_exit(&mut trace), ExitStatus::Code(0));
    assert!(read_all(output).contains("result "));
}

#[test]
fn debug_registers_set_by_hand_are_cleared_at_detach() {
    let mut child = Command::new(fixture("sleeper", Opt::O0)).args(["40"]).stdout(Stdio::piped()).spawn().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    wait_for_line(&mut out, "ready");
    let pid = child.id() as i32;
    let mut trace = Trace::attach(pid).unwrap();
    let tick = trace.sym_by_name("tick").unwrap();
    // An execute breakpoint on tick in DR0, armed in DR7, behind the library's back.
    for tid in trace.threads() {
        trace.set_thread_register(tid, "dr0", tick).unwrap();
        trace.set_thread_register(tid, "dr7", 1u64).unwrap();
    }
    let event = trace.run().unwrap();
    assert!(matches!(event.kind, EventKind::Signal(_) | EventKind::Watchpoint { .. }), "DR0 fired: {event:?}");
    let _ = trace.set_pending_signal(None);
    trace.detach().unwrap();
    assert_eq!(tracer_pid(pid), Some(0));
    let done = wait_for_line(&mut out, "done");
    assert!(done.starts_with("done "), "{done}");
    assert_eq!(child.wait().unwrap().code(), Some(7), "no SIGTRAP from a debug register left armed");
}
