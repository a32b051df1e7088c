//! In-process (jump pad) breakpoints: exact counts against the int3 path in
//! eight threads, conditions, records, sites that need care, and nothing
//! left behind by removal or detach.

use std::collections::BTreeMap;
use std::os::unix::fs::FileExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use oxtrace::{BreakpointKind, EventKind, ExitStatus, InProcessOptions, Trace};

use crate::support::{fixture, Opt};
use crate::{read_all, run_to_exit, spawn_with_output};

const THREADS: u64 = 8;
const CALLS: u64 = 2000;
const ARGS: [&str; 3] = ["2", "8", "2000"];
const ROUNDS: u64 = 2;

/// What the fixture prints untraced.
fn untraced_output(opt: Opt, args: &[&str]) -> String {
    let out = Command::new(fixture("pads", opt)).args(args).stderr(Stdio::null()).output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

fn sym(trace: &mut Trace, name: &str) -> u64 {
    trace.sym_by_name(name).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Runs to `finished()` (after the output), leaving the process stopped there.
fn run_to_finished(trace: &mut Trace) {
    let finished = sym(trace, "finished");
    let event = trace.run_until(finished).unwrap();
    assert!(matches!(event.kind, EventKind::Breakpoint { addr, .. } if addr == finished), "{event:?}");
}

/// The instruction of `function` whose text matches `pred`, among its first 32.
fn instruction_in(trace: &mut Trace, function: &str, pred: impl Fn(&str) -> bool) -> Option<(u64, usize)> {
    let start = sym(trace, function);
    let code = trace.disassemble(start, 32).unwrap();
    code.iter().take_while(|i| !i.text.starts_with("ret")).find(|i| pred(&i.text)).map(|i| (i.addr, i.bytes.len()))
}

/// Hits per site, through in-process breakpoints (`pads`) or int3 trackers, and the output.
fn counts(opt: Opt, sites: &[&str], pads: bool) -> (Vec<u64>, Vec<Option<String>>, String) {
    let (mut trace, output) = spawn_with_output("pads", opt, &ARGS);
    let mut ids = Vec::new();
    for name in sites {
        let addr = sym(&mut trace, name);
        ids.push(match pads {
            true => trace.add_in_process_breakpoint(addr, InProcessOptions::default()).unwrap(),
            false => trace.add_breakpoint(addr, BreakpointKind::Tracker, None).unwrap(),
        });
    }
    run_to_finished(&mut trace);
    let hits = ids
        .iter()
        .map(|&id| if pads { trace.in_process_hits(id).unwrap() } else { trace.breakpoint(id).unwrap().hits })
        .collect();
    let reasons = ids.iter().map(|&id| trace.in_process_fallback(id).map(str::to_owned)).collect();
    assert_eq!(run_to_exit(&mut trace), ExitStatus::Code(0));
    (hits, reasons, read_all(output))
}

#[test]
fn counts_in_eight_threads_equal_the_int3_path_exactly() {
    for opt in [Opt::O0, Opt::O2] {
        let sites = ["work", "tiny", "loop_head", "round_done"];
        let (pad_hits, reasons, pad_output) = counts(opt, &sites, true);
        let (int3_hits, _, int3_output) = counts(opt, &sites, false);
        let expected = [THREADS * CALLS * ROUNDS, THREADS * CALLS * ROUNDS, THREADS * CALLS * ROUNDS, ROUNDS];
        assert_eq!(pad_hits, expected, "{opt:?}: {reasons:?}");
        assert_eq!(int3_hits, expected, "{opt:?}");
        let untraced = untraced_output(opt, &ARGS);
        assert_eq!(pad_output, untraced);
        assert_eq!(int3_output, untraced);
        // `work` always has a pad; at -O2 `tiny` is 4 bytes, and a jump at
        // `loop_head`'s entry would cover its loop head.
        assert_eq!(reasons[0], None, "{opt:?}");
        if opt == Opt::O0 {
            assert_eq!(reasons[1], None);
        } else {
            assert!(reasons[1].as_deref().unwrap().contains("fewer than the jump's 5"), "{reasons:?}");
            assert!(reasons[2].as_deref().unwrap().contains("branches to"), "{reasons:?}");
        }
    }
}

#[test]
fn a_rip_relative_instruction_runs_relocated_in_the_pad() {
    for opt in [Opt::O0, Opt::O2] {
        let (mut trace, output) = spawn_with_output("pads", opt, &ARGS);
        let (addr, _) =
            instruction_in(&mut trace, "work", |text| text.contains("<shared_total>")).expect("a rip-relative access");
        let id = trace.add_in_process_breakpoint(addr, InProcessOptions::default()).unwrap();
        assert_eq!(trace.in_process_fallback(id), None, "{opt:?}");
        run_to_finished(&mut trace);
        assert_eq!(trace.in_process_hits(id).unwrap(), THREADS * CALLS * ROUNDS);
        assert_eq!(run_to_exit(&mut trace), ExitStatus::Code(0));
        assert_eq!(read_all(output), untraced_output(opt, &ARGS));
        // After the exit the counter is gone with the process; the breakpoint can still be removed.
        assert!(trace.in_process_hits(id).is_err());
        trace.remove_breakpoint(id).unwrap();
    }
}

#[test]
fn a_site_whose_jump_would_cover_a_branch_target_falls_back_and_says_why() {
    for opt in [Opt::O0, Opt::O2] {
        let (mut trace, output) = spawn_with_output("pads", opt, &ARGS);
        // The `xor` of loop_head is 3 bytes before the loop's head, a branch target.
        let (addr, len) = instruction_in(&mut trace, "loop_head", |text| text.starts_with("xor")).unwrap();
        assert!(len < 5);
        let id = trace.add_in_process_breakpoint(addr, InProcessOptions::default()).unwrap();
        let why = trace.in_process_fallback(id).expect("a reason").to_owned();
        assert!(why.contains(&format!("branches to {:#x}", addr + len as u64)), "{why}");
        assert_eq!(trace.breakpoint(id).unwrap().kind, BreakpointKind::InProcess);
        run_to_finished(&mut trace);
        assert_eq!(trace.in_process_hits(id).unwrap(), THREADS * CALLS * ROUNDS);
        assert_eq!(run_to_exit(&mut trace), ExitStatus::Code(0));
        assert_eq!(read_all(output), untraced_output(opt, &ARGS));
    }
}

#[test]
fn a_condition_stops_at_its_known_hits_only_and_counts_where_it_holds() {
    for opt in [Opt::O0, Opt::O2] {
        let (mut trace, output) = spawn_with_output("pads", opt, &ARGS);
        let work = sym(&mut trace, "work");
        let tiny = sym(&mut trace, "tiny");
        let stop = InProcessOptions { condition: Some("rsi == 7 && rdi < 8".into()), stop: true, ..Default::default() };
        let stopping = trace.add_in_process_breakpoint(work, stop).unwrap();
        assert_eq!(trace.in_process_fallback(stopping), None);
        let counting = |c: &str| InProcessOptions { condition: Some(c.into()), ..Default::default() };
        // At -O2 tiny falls back: the same conditions evaluated by the tracer.
        let below_ten = trace.add_in_process_breakpoint(tiny, counting("edi < 10 || edi == 1999")).unwrap();
        let round_done = sym(&mut trace, "round_done");
        let memory = trace.add_in_process_breakpoint(round_done, counting("poi(shared_total) % 16000 == 0")).unwrap();
        let mut threads_seen = BTreeMap::new();
        let finished = sym(&mut trace, "finished");
        trace.add_breakpoint(finished, BreakpointKind::Normal, None).unwrap();
        loop {
            let event = trace.run().unwrap();
            match event.kind {
                EventKind::Breakpoint { id, addr } if id == stopping => {
                    assert_eq!(addr, work);
                    assert_eq!(trace.pc().unwrap(), work);
                    assert_eq!(trace.register_u64("rsi").unwrap(), 7);
                    *threads_seen.entry(trace.register_u64("rdi").unwrap()).or_insert(0) += 1;
                }
                EventKind::Breakpoint { addr, .. } if addr == finished => break,
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(threads_seen, (0..THREADS).map(|t| (t, ROUNDS)).collect::<BTreeMap<_, _>>());
        assert_eq!(trace.in_process_hits(stopping).unwrap(), THREADS * ROUNDS);
        assert_eq!(trace.in_process_hits(below_ten).unwrap(), THREADS * ROUNDS * 11);
        // shared_total is 16000 after the first round, 32000 after the second.
        assert_eq!(trace.in_process_hits(memory).unwrap(), ROUNDS);
        assert_eq!(run_to_exit(&mut trace), ExitStatus::Code(0));
        assert_eq!(read_all(output), untraced_output(opt, &ARGS));
    }
}

#[test]
fn a_condition_that_cannot_be_evaluated_counts_as_true_and_never_faults() {
    let (mut trace, output) = spawn_with_output("pads", Opt::O2, &ARGS);
    let work = sym(&mut trace, "work");
    let condition = Some("poi(8) == 5 || rsi / (rsi - rsi) == 1".to_owned());
    let id = trace.add_in_process_breakpoint(work, InProcessOptions { condition, ..Default::default() }).unwrap();
    assert_eq!(trace.in_process_fallback(id), None);
    run_to_finished(&mut trace);
    assert_eq!(trace.in_process_hits(id).unwrap(), THREADS * CALLS * ROUNDS);
    assert_eq!(run_to_exit(&mut trace), ExitStatus::Code(0));
    assert_eq!(read_all(output), untraced_output(Opt::O2, &ARGS));
}

#[test]
fn bad_options_are_refused_and_uncompilable_conditions_fall_back() {
    let (mut trace, _) = spawn_with_output("pads", Opt::O2, &ARGS);
    let work = sym(&mut trace, "work");
    let bad = |c: &str| InProcessOptions { condition: Some(c.into()), ..Default::default() };
    assert!(trace.add_in_process_breakpoint(work, bad("rsi ==")).is_err());
    let collect = InProcessOptions { collect: vec!["xmm0".into()], ..Default::default() };
    assert!(trace.add_in_process_breakpoint(work, collect).unwrap_err().to_string().contains("xmm0"));
    let capacity = InProcessOptions { args: 1, capacity: 1000, ..Default::default() };
    assert!(trace.add_in_process_breakpoint(work, capacity).unwrap_err().to_string().contains("power of two"));
    let id = trace.add_in_process_breakpoint(work, bad("frame(1) == 0")).unwrap();
    assert!(trace.in_process_fallback(id).unwrap().contains("`frame()` cannot be evaluated in the program"));
}

#[test]
fn records_hold_the_arguments_and_are_read_while_the_program_runs() {
    for opt in [Opt::O0, Opt::O2] {
        let (mut trace, output) = spawn_with_output("pads", opt, &["4", "8", "2000"]);
        let work = sym(&mut trace, "work");
        // The stack pointer at work's entry, seen by an int3 stop: each thread calls work from one frame.
        let probe = trace.add_break_by_addr(work).unwrap();
        trace.run().unwrap();
        let (first_thread, first_rsp) = (trace.register_u64("rdi").unwrap(), trace.sp().unwrap());
        trace.remove_breakpoint(probe).unwrap();
        let options = InProcessOptions { args: 2, collect: vec!["rsp".into()], ..Default::default() };
        let id = trace.add_in_process_breakpoint(work, options).unwrap();
        assert_eq!(trace.in_process_fallback(id), None);
        let finished = sym(&mut trace, "finished");
        trace.add_breakpoint(finished, BreakpointKind::Normal, None).unwrap();
        trace.start().unwrap();
        let mut records = Vec::new();
        let mut read_running = 0;
        loop {
            if let Some(event) = trace.wait_timeout(Duration::from_millis(2)).unwrap() {
                assert!(matches!(event.kind, EventKind::Breakpoint { addr, .. } if addr == finished), "{event:?}");
                break;
            }
            let got = trace.take_in_process_records(id).unwrap();
            assert_eq!(got.lost, 0);
            read_running += got.records.len();
            records.extend(got.records);
            trace.in_process_hits(id).unwrap();
        }
        records.extend(trace.take_in_process_records(id).unwrap().records);
        // The call the probe stopped goes on through the jump (it stands on the site's start).
        let total = 4 * THREADS * CALLS;
        assert_eq!(records.len() as u64, total, "{opt:?}: {read_running} read while running");
        assert!(records.iter().enumerate().all(|(n, r)| r.index == n as u64));
        let mut calls: BTreeMap<(u64, u64), u64> = BTreeMap::new();
        for record in &records {
            *calls.entry((record.values[1], record.values[2])).or_default() += 1;
        }
        let first_rsps: Vec<u64> =
            records.iter().filter(|r| r.values[1] == first_thread && r.values[2] > 0).map(|r| r.values[0]).collect();
        assert!(first_rsps.iter().take(CALLS as usize - 1).all(|&rsp| rsp == first_rsp), "{opt:?}: {first_rsp:#x}");
        let expected: BTreeMap<(u64, u64), u64> =
            (0..THREADS).flat_map(|t| (0..CALLS).map(move |i| ((t, i), 4))).collect();
        assert_eq!(calls, expected);
        assert!(records.windows(2).filter(|w| w[0].tsc <= w[1].tsc).count() > records.len() / 2);
        assert_eq!(run_to_exit(&mut trace), ExitStatus::Code(0));
        assert_eq!(read_all(output), untraced_output(opt, &["4", "8", "2000"]));
    }
}

#[test]
fn a_thread_inside_the_covered_bytes_is_moved_into_the_pad() {
    let (mut trace, output) = spawn_with_output("pads", Opt::O0, &ARGS);
    let work = sym(&mut trace, "work");
    // work's second instruction (after `push rbp`) is inside the jump's 5 bytes.
    let second = trace.disassemble(work, 2).unwrap()[1].addr;
    let original = trace.read_memory(work, 8).unwrap();
    let inner = trace.add_breakpoint(second, BreakpointKind::Normal, None).unwrap();
    let event = trace.run().unwrap();
    assert!(matches!(event.kind, EventKind::Breakpoint { addr, .. } if addr == second), "{event:?}");
    let tid = event.tid;
    trace.remove_breakpoint(inner).unwrap();
    let id = trace.add_in_process_breakpoint(work, InProcessOptions::default()).unwrap();
    assert_eq!(trace.in_process_fallback(id), None);
    let moved = trace.thread_pc(tid).unwrap();
    assert_ne!(moved, second, "the thread was left inside the jump");
    assert_eq!(trace.read_memory(work, 8).unwrap(), original, "reads show the original code");
    run_to_finished(&mut trace);
    // The calls in progress when the jump went in (this thread's, and those
    // of other threads past the entry) are not counted: every other one is.
    let hits = trace.in_process_hits(id).unwrap();
    let total = THREADS * CALLS * ROUNDS;
    assert!((total - THREADS..total).contains(&hits), "{hits} of {total}");
    assert_eq!(run_to_exit(&mut trace), ExitStatus::Code(0));
    assert_eq!(read_all(output), untraced_output(Opt::O0, &ARGS));
}

#[test]
fn disabled_pads_do_not_count_and_reads_show_the_original_code() {
    let (mut trace, output) = spawn_with_output("pads", Opt::O2, &ARGS);
    let work = sym(&mut trace, "work");
    let original = trace.read_memory(work, 32).unwrap();
    let id = trace.add_in_process_breakpoint(work, InProcessOptions::default()).unwrap();
    assert_eq!(trace.read_memory(work, 32).unwrap(), original);
    assert!(trace.write_memory(work + 2, &[0x90]).unwrap_err().to_string().contains("in-process breakpoint"));
    assert!(trace.add_break_by_addr(work + 2).is_err());
    let round_done = sym(&mut trace, "round_done");
    let round = trace.add_breakpoint(round_done, BreakpointKind::Normal, None).unwrap();
    trace.run().unwrap();
    assert_eq!(trace.in_process_hits(id).unwrap(), THREADS * CALLS);
    trace.set_breakpoint_enabled(id, false).unwrap();
    trace.remove_breakpoint(round).unwrap();
    run_to_finished(&mut trace);
    assert_eq!(trace.in_process_hits(id).unwrap(), THREADS * CALLS);
    assert_eq!(trace.breakpoints().iter().find(|b| b.id == id).unwrap().kind, BreakpointKind::InProcess);
    assert_eq!(run_to_exit(&mut trace), ExitStatus::Code(0));
    assert_eq!(read_all(output), untraced_output(Opt::O2, &ARGS));
}

/// The bytes of every executable file mapping, by (path, offset), read raw.
fn code_pages(trace: &mut Trace) -> (BTreeMap<(String, u64), Vec<u8>>, usize) {
    let mem = std::fs::File::open(format!("/proc/{}/mem", trace.pid())).unwrap();
    let mut pages = BTreeMap::new();
    let mut anonymous_exec = 0;
    for map in trace.memory_maps().unwrap().into_iter().filter(|m| m.perms.exec) {
        match &map.path {
            Some(path) if path.starts_with('/') => {
                let mut bytes = vec![0; map.len() as usize];
                mem.read_exact_at(&mut bytes, map.start).unwrap();
                pages.insert((path.clone(), map.offset), bytes);
            }
            Some(_) => {}
            None => anonymous_exec += 1,
        }
    }
    (pages, anonymous_exec)
}

#[test]
fn removal_restores_every_byte_and_frees_the_pads() {
    for opt in [Opt::O0, Opt::O2] {
        let (mut never, never_output) = spawn_with_output("pads", opt, &ARGS);
        run_to_finished(&mut never);
        let (clean, clean_anonymous) = code_pages(&mut never);

        let (mut trace, output) = spawn_with_output("pads", opt, &ARGS);
        let mut ids = Vec::new();
        for name in ["work", "tiny", "loop_head", "worker"] {
            let addr = sym(&mut trace, name);
            let options = InProcessOptions { condition: Some("rsi == 3".into()), args: 2, ..Default::default() };
            ids.push(trace.add_in_process_breakpoint(addr, options).unwrap());
        }
        let (addr, _) = instruction_in(&mut trace, "work", |t| t.contains("<shared_total>")).unwrap();
        if addr != sym(&mut trace, "work") {
            ids.push(trace.add_in_process_breakpoint(addr, InProcessOptions::default()).unwrap());
        }
        let round_done = sym(&mut trace, "round_done");
        trace.run_until(round_done).unwrap();
        assert!(trace.in_process_hits(ids[0]).unwrap() > 0);
        for id in ids {
            trace.remove_breakpoint(id).unwrap();
        }
        run_to_finished(&mut trace);
        // The int3 path's own page (where fallen-back sites' instructions ran out of line).
        trace.unmap_scratch_page().unwrap();
        let (after, after_anonymous) = code_pages(&mut trace);
        assert_eq!(after.keys().collect::<Vec<_>>(), clean.keys().collect::<Vec<_>>());
        for (key, bytes) in &clean {
            assert!(after[key] == *bytes, "{opt:?}: {key:?} differs from a never-traced run");
        }
        assert_eq!(after_anonymous, clean_anonymous, "{opt:?}: pad memory left mapped");
        assert_eq!(run_to_exit(&mut trace), ExitStatus::Code(0));
        assert_eq!(run_to_exit(&mut never), ExitStatus::Code(0));
        assert_eq!(read_all(output), read_all(never_output));
    }
}

#[test]
fn detaching_with_threads_inside_pads_leaves_the_program_running_correctly() {
    let args = ["6", "8", "100000"];
    let expected = untraced_output(Opt::O2, &args);
    for _ in 0..3 {
        let (mut trace, output) = spawn_with_output("pads", Opt::O2, &args);
        for (name, counting) in [("work", true), ("worker", false)] {
            let addr = sym(&mut trace, name);
            let options = match counting {
                true => InProcessOptions::default(),
                false => InProcessOptions { condition: Some("poi(rsp) != 0".into()), args: 1, ..Default::default() },
            };
            trace.add_in_process_breakpoint(addr, options).unwrap();
        }
        let work = sym(&mut trace, "work");
        let counting = trace.breakpoint_at(work).unwrap().id;
        trace.start().unwrap();
        // The trace handles the threads' creations meanwhile; the pads count on their own.
        let mut hits = 0;
        while hits < 200_000 {
            assert_eq!(trace.wait_timeout(Duration::from_millis(5)).unwrap(), None);
            hits = trace.in_process_hits(counting).unwrap();
        }
        trace.interrupter().interrupt().unwrap();
        let event = trace.wait().unwrap();
        assert_eq!(event.kind, EventKind::Interrupted);
        trace.detach().unwrap();
        drop(trace);
        assert_eq!(read_all(output), expected);
    }
}

/// The output and exit status of `forks ARGS` run untraced.
fn forks_untraced(opt: Opt, args: &[&str]) -> (String, i32) {
    let out = Command::new(fixture("forks", opt)).args(args).stderr(Stdio::null()).output().unwrap();
    (String::from_utf8(out.stdout).unwrap(), out.status.code().unwrap())
}

#[test]
fn fork_children_are_let_go_with_their_original_code() {
    for opt in [Opt::O0, Opt::O2] {
        let expected = forks_untraced(opt, &[]);
        let (mut trace, output) = spawn_with_output("forks", opt, &[]);
        let work = sym(&mut trace, "work");
        // True in the children too (work(1) after fork, work(2) after vfork):
        // a child left with the pad would die of its int3, untraced.
        let options = InProcessOptions { condition: Some("rdi >= 1".into()), stop: true, ..Default::default() };
        let id = trace.add_in_process_breakpoint(work, options).unwrap();
        trace.ignore_signal(libc::SIGCHLD);
        let event = trace.run().unwrap();
        assert_eq!(event.kind, EventKind::Breakpoint { id, addr: work }, "{opt:?}");
        assert_eq!(trace.register_u64("rdi").unwrap(), 3, "only the parent's work(3) stops");
        assert_eq!(trace.in_process_hits(id).unwrap(), 1);
        let status = run_to_exit(&mut trace);
        assert_eq!((read_all(output), status), (expected.0, ExitStatus::Code(expected.1)), "{opt:?}");
    }
}

#[test]
fn a_child_per_iteration_with_a_pad_in_its_code() {
    let args = ["server", "50"];
    let expected = forks_untraced(Opt::O2, &args);
    let (mut trace, output) = spawn_with_output("forks", Opt::O2, &args);
    let work = sym(&mut trace, "work");
    let id = trace.add_in_process_breakpoint(work, InProcessOptions { args: 1, ..Default::default() }).unwrap();
    assert_eq!(trace.in_process_fallback(id), None);
    let status = run_to_exit(&mut trace);
    assert_eq!((read_all(output), status), (expected.0, ExitStatus::Code(expected.1)));
}

#[test]
fn a_stop_at_a_pad_steps_and_parks_like_an_int3_hit() {
    for opt in [Opt::O0, Opt::O2] {
        let (mut trace, output) = spawn_with_output("pads", opt, &ARGS);
        // As oxdb runs: no byte of ours in the code while the caller has the process stopped.
        trace.set_breakpoints_out_while_stopped(true).unwrap();
        let work = sym(&mut trace, "work");
        let original = trace.read_memory(work, 16).unwrap();
        let options = InProcessOptions { condition: Some("rsi == 1000".into()), stop: true, ..Default::default() };
        let id = trace.add_in_process_breakpoint(work, options).unwrap();
        assert_eq!(trace.in_process_fallback(id), None);
        let second = trace.disassemble(work, 2).unwrap()[1].addr;
        let mut stops = 0;
        loop {
            let event = trace.run().unwrap();
            match event.kind {
                EventKind::Breakpoint { id: hit, addr } if hit == id => {
                    assert_eq!(addr, work);
                    stops += 1;
                    // Parked: the code holds the original bytes, raw.
                    let mem = std::fs::File::open(format!("/proc/{}/mem", trace.pid())).unwrap();
                    let mut raw = vec![0; 16];
                    mem.read_exact_at(&mut raw, work).unwrap();
                    assert_eq!(raw, original, "{opt:?}: the jump is out while stopped");
                    if stops == 1 {
                        // The first instruction, stepped from the site: the thread is on the second.
                        trace.stepi().unwrap();
                        assert_eq!(trace.pc().unwrap(), second, "{opt:?}");
                    }
                }
                EventKind::Exited(status) => {
                    assert_eq!(status, ExitStatus::Code(0));
                    break;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(stops, THREADS * ROUNDS);
        assert_eq!(read_all(output), untraced_output(opt, &ARGS));
    }
}

#[test]
fn an_overflowing_ring_keeps_the_newest_records_and_counts_the_lost() {
    let (mut trace, output) = spawn_with_output("pads", Opt::O2, &["1", "1", "1000"]);
    let work = sym(&mut trace, "work");
    let options = InProcessOptions { args: 2, capacity: 16, ..Default::default() };
    let id = trace.add_in_process_breakpoint(work, options).unwrap();
    run_to_finished(&mut trace);
    let got = trace.take_in_process_records(id).unwrap();
    assert_eq!(got.lost, 1000 - 16);
    let calls: Vec<u64> = got.records.iter().map(|r| r.values[1]).collect();
    assert_eq!(calls, (1000 - 16..1000).collect::<Vec<u64>>(), "the newest 16, in order");
    assert_eq!(trace.take_in_process_records(id).unwrap(), Default::default(), "nothing new");
    assert_eq!(run_to_exit(&mut trace), ExitStatus::Code(0));
    assert_eq!(read_all(output), untraced_output(Opt::O2, &["1", "1", "1000"]));
}
