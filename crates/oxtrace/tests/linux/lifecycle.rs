//! Spawn, attach, detach, kill, drop: the debuggee is never left stopped or patched.

use std::io::BufReader;
use std::process::{Command, Stdio};
use std::time::Duration;

use oxtrace::{EventKind, EventType, ExitStatus, Trace};

use crate::support::{fixture, process_state, tracer_pid, wait_for_line, Opt};
use crate::{read_all, run_to_break, run_to_exit, spawn_quiet, spawn_with_output};

#[test]
fn spawn_passes_args_env_cwd_and_reports_exit_code() {
    let cwd = std::env::temp_dir();
    let (reader, writer) = std::io::pipe().unwrap();
    let mut command = Command::new(fixture("exitcode", Opt::O0));
    command.args(["3", "two words"]).env("OXTRACE_TEST_ENV", "hello env").current_dir(&cwd).stdout(writer);
    let mut trace = Trace::spawn(command).unwrap();
    assert_eq!(trace.last_event().unwrap().kind, EventKind::Attached);
    assert_eq!(run_to_exit(&mut trace), ExitStatus::Code(3));
    assert_eq!(trace.meta("ExitCode").and_then(|v| v.as_i64()), Some(3));
    let out = read_all(reader);
    assert!(out.contains("argv[1]=3"), "{out}");
    assert!(out.contains("argv[2]=two words"), "{out}");
    assert!(out.contains("env=hello env"), "{out}");
    assert!(out.contains(&format!("cwd={}", cwd.canonicalize().unwrap().display())), "{out}");
}

#[test]
fn killing_signal_is_reported() {
    let mut trace = spawn_quiet("exitcode", Opt::O0, &["abort"]);
    let event = trace.run().unwrap();
    assert!(matches!(event.kind, EventKind::Signal(info) if info.signo == libc::SIGABRT), "{event:?}");
    let status = run_to_exit(&mut trace);
    assert!(matches!(status, ExitStatus::Signaled { signal: libc::SIGABRT, .. }), "{status:?}");
    assert!(trace.has_exited());
}

#[test]
fn spawned_process_stops_before_its_first_instruction() {
    let mut trace = spawn_quiet("calls", Opt::O0, &[]);
    let pc = trace.pc().unwrap();
    let maps = trace.memory_maps().unwrap();
    let map = maps.iter().find(|m| m.contains(pc)).expect("pc is mapped");
    // The dynamic linker's entry: nothing of the program has run yet.
    assert!(map.path.as_deref().unwrap_or("").contains("ld-linux"), "pc {pc:#x} in {map}");
    assert_eq!(process_state(trace.pid()), Some('t'));
}

#[test]
fn kill_ends_the_process() {
    let mut trace = spawn_quiet("sleeper", Opt::O0, &[]);
    let pid = trace.pid();
    let status = trace.kill().unwrap();
    assert_eq!(status, ExitStatus::Signaled { signal: libc::SIGKILL, core_dumped: false });
    assert_eq!(process_state(pid), None, "killed and reaped");
    assert!(trace.run().is_err());
}

#[test]
fn dropping_a_trace_kills_the_spawned_process() {
    let trace = spawn_quiet("sleeper", Opt::O0, &[]);
    let pid = trace.pid();
    drop(trace);
    assert_eq!(process_state(pid), None);
}

#[test]
fn spawned_process_dies_with_its_tracer_thread() {
    let pid = std::thread::spawn(|| {
        let trace = spawn_quiet("sleeper", Opt::O0, &[]);
        let pid = trace.pid();
        std::mem::forget(trace); // no Drop: only the kernel can clean up
        pid
    })
    .join()
    .unwrap();
    for _ in 0..200 {
        // Dead: gone, or a zombie of this test process until something reaps it.
        if matches!(process_state(pid), None | Some('Z')) {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("pid {pid} outlived its tracer: state {:?}", process_state(pid));
}

/// The kernel id of the calling thread (ptrace's tracer is a thread).
fn current_tid() -> i32 {
    let link = std::fs::read_link("/proc/thread-self").unwrap();
    link.file_name().unwrap().to_str().unwrap().parse().unwrap()
}

/// Starts the sleeper untraced and waits until it is ready.
fn start_sleeper(args: &[&str]) -> (std::process::Child, BufReader<std::process::ChildStdout>) {
    let mut child = Command::new(fixture("sleeper", Opt::O0)).args(args).stdout(Stdio::piped()).spawn().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    wait_for_line(&mut out, "ready");
    (child, out)
}

#[test]
fn attach_stops_every_thread_and_detach_lets_it_finish() {
    let (mut child, mut out) = start_sleeper(&["60", "3"]);
    let pid = child.id() as i32;
    let mut trace = Trace::attach(pid).unwrap();
    assert_eq!(trace.last_event().unwrap().kind, EventKind::Attached);
    let threads = trace.threads();
    assert_eq!(threads.len(), 4, "{threads:?}");
    assert_eq!(threads[0], pid);
    for &tid in &threads {
        assert_eq!(tracer_pid(tid), Some(current_tid()), "traced by this thread");
        assert_eq!(process_state(tid), Some('t'), "thread {tid} is stopped");
        assert_ne!(trace.thread_pc(tid).unwrap(), 0);
    }
    trace.detach().unwrap();
    assert_eq!(tracer_pid(pid), Some(0));
    let done = wait_for_line(&mut out, "done");
    assert!(done.starts_with("done "), "{done}");
    assert_eq!(child.wait().unwrap().code(), Some(7));
}

#[test]
fn detach_with_breakpoints_set_restores_the_code() {
    let (mut child, mut out) = start_sleeper(&["40"]);
    let pid = child.id() as i32;
    let mut trace = Trace::attach(pid).unwrap();
    let tick = trace.sym_by_name("tick").unwrap();
    let original = trace.read_memory(tick, 16).unwrap();
    trace.add_break_by_addr(tick).unwrap();
    run_to_break(&mut trace, tick);
    // A second breakpoint that was never hit, and one that is disabled.
    let main = trace.sym_by_name("main").unwrap();
    trace.add_break_by_addr(main + 1).unwrap();
    trace.detach().unwrap();
    // Read the code back through /proc, untraced: no break byte is left.
    let bytes = read_proc_mem(pid, tick, 16);
    assert_eq!(bytes, original);
    let done = wait_for_line(&mut out, "done");
    assert!(done.starts_with("done "), "{done}");
    assert_eq!(child.wait().unwrap().code(), Some(7), "the program ran to its normal end");
}

fn read_proc_mem(pid: i32, addr: u64, len: usize) -> Vec<u8> {
    use std::os::unix::fs::FileExt;
    let file = std::fs::File::open(format!("/proc/{pid}/mem")).unwrap();
    let mut buf = vec![0; len];
    file.read_exact_at(&mut buf, addr).unwrap();
    buf
}

#[test]
fn detach_of_a_spawned_process_lets_it_run_to_the_end() {
    let (mut trace, reader) = spawn_with_output("calls", Opt::O0, &[]);
    let tick = trace.sym_by_name("tick").unwrap();
    trace.add_break_by_addr(tick).unwrap();
    run_to_break(&mut trace, tick);
    trace.detach().unwrap();
    drop(trace); // must not kill a detached process
    let out = read_all(reader);
    assert!(out.contains("result "), "{out}");
    assert!(out.contains("marker=OXTRACE_MARKER_1234567"), "{out}");
}

#[test]
fn a_panic_in_a_notifier_kills_a_spawned_debuggee() {
    let (tx, rx) = std::sync::mpsc::channel();
    let result = std::thread::spawn(move || {
        let mut trace = spawn_quiet("calls", Opt::O0, &[]);
        tx.send(trace.pid()).unwrap();
        let tick = trace.sym_by_name("tick").unwrap();
        trace.add_break_by_addr(tick).unwrap();
        trace.register_notifier(EventType::Breakpoint, |_, _| panic!("user code failed"));
        let _ = trace.run();
    })
    .join();
    assert!(result.is_err());
    let pid = rx.recv().unwrap();
    assert_eq!(process_state(pid), None);
}

#[test]
fn a_panic_in_a_notifier_leaves_an_attached_debuggee_running_unpatched() {
    let (mut child, mut out) = start_sleeper(&["40"]);
    let pid = child.id() as i32;
    let result = std::thread::spawn(move || {
        let mut trace = Trace::attach(pid).unwrap();
        let tick = trace.sym_by_name("tick").unwrap();
        trace.add_break_by_addr(tick).unwrap();
        trace.register_notifier(EventType::Breakpoint, |_, _| panic!("user code failed"));
        let _ = trace.run();
    })
    .join();
    assert!(result.is_err());
    assert_eq!(tracer_pid(pid), Some(0), "detached");
    let done = wait_for_line(&mut out, "done");
    assert!(done.starts_with("done "), "{done}");
    assert_eq!(child.wait().unwrap().code(), Some(7));
}

#[test]
fn release_detaches_an_attached_process() {
    let (mut child, mut out) = start_sleeper(&["20"]);
    let pid = child.id() as i32;
    let trace = Trace::attach(pid).unwrap();
    trace.release().unwrap();
    assert_eq!(tracer_pid(pid), Some(0));
    wait_for_line(&mut out, "done");
    assert_eq!(child.wait().unwrap().code(), Some(7));
}
