//! Child processes: fork, vfork, clone and exec under a trace, compared with
//! an untraced run of the same program (output and exit status).

use std::cell::Cell;
use std::process::{Command, Stdio};
use std::rc::Rc;

use oxtrace::{BreakpointKind, EventKind, EventType, ExitStatus, FollowFork, Mode, Trace};

use crate::support::{fixture, Opt};
use crate::{read_all, run_to_exit};

/// Runs `program args` untraced: its standard output and exit status.
fn untraced(program: &str, args: &[&str]) -> (String, ExitStatus) {
    let output = Command::new(program).args(args).stderr(Stdio::null()).output().expect("run untraced");
    let status = match output.status.code() {
        Some(code) => ExitStatus::Code(code),
        None => {
            use std::os::unix::process::ExitStatusExt;
            ExitStatus::Signaled { signal: output.status.signal().unwrap_or(0), core_dumped: false }
        }
    };
    (String::from_utf8_lossy(&output.stdout).into_owned(), status)
}

/// Spawns `program args` traced with its stdout in a pipe.
fn spawn(program: &str, args: &[&str]) -> (Trace, std::io::PipeReader) {
    let (reader, writer) = std::io::pipe().expect("pipe");
    let mut command = Command::new(program);
    command.args(args).stdout(writer).stderr(Stdio::null());
    (Trace::spawn(command).expect("spawn"), reader)
}

/// Counts hits of a breakpoint set with a callback, in every process that shares it.
fn counting_break(trace: &mut Trace, addr: u64) -> Rc<Cell<u32>> {
    let hits = Rc::new(Cell::new(0));
    let seen = hits.clone();
    trace.add_break_with(addr, move |_, _| seen.set(seen.get() + 1)).expect("breakpoint");
    hits
}

#[test]
fn fork_vfork_and_exec_children_run_as_untraced_with_a_shared_breakpoint() {
    let forks = fixture("forks", Opt::O0);
    let forks = forks.to_str().unwrap();
    let expected = untraced(forks, &[]);
    for opt in [Opt::O0, Opt::O2] {
        let program = fixture("forks", opt);
        let (mut trace, output) = spawn(program.to_str().unwrap(), &[]);
        let work = trace.sym_by_name("work").unwrap();
        let hits = counting_break(&mut trace, work);
        let forked = Rc::new(Cell::new(0));
        let seen = forked.clone();
        trace.register_notifier(EventType::Forked, move |_, _| seen.set(seen.get() + 1));
        trace.set_mode(Mode::RunForever, true);
        let status = run_to_exit(&mut trace);
        assert_eq!((read_all(output), status), expected, "{opt:?}");
        // The parent's two calls; the children detached at the fork never stop.
        assert_eq!(hits.get(), 2, "{opt:?}");
        assert_eq!(forked.get(), 3, "fork, vfork and the exec child: {opt:?}");
    }
}

#[test]
fn a_child_per_iteration_two_hundred_times() {
    let program = fixture("forks", Opt::O2);
    let program = program.to_str().unwrap();
    let expected = untraced(program, &["server", "200"]);
    assert!(expected.0.ends_with("served 200 total 4900\n"), "{expected:?}");
    let (mut trace, output) = spawn(program, &["server", "200"]);
    let work = trace.sym_by_name("work").unwrap();
    trace.add_breakpoint(work, BreakpointKind::Tracker, None).unwrap();
    let status = run_to_exit(&mut trace);
    assert_eq!((read_all(output), status), expected);
}

#[test]
fn following_the_child_counts_its_hits_and_lets_the_parent_go() {
    let program = fixture("forks", Opt::O0);
    let (mut trace, output) = spawn(program.to_str().unwrap(), &[]);
    let parent = trace.pid();
    let work = trace.sym_by_name("work").unwrap();
    trace.add_break_by_addr(work).unwrap();
    trace.set_follow_fork(FollowFork::Child);
    // work(0) in the parent.
    let event = trace.run().unwrap();
    assert!(matches!(event.kind, EventKind::Breakpoint { .. }), "{event:?}");
    assert_eq!(trace.pid(), parent);
    // The fork: from now on the trace is the child's, which hits work(1).
    let event = trace.run().unwrap();
    assert!(matches!(event.kind, EventKind::Breakpoint { .. }), "{event:?}");
    assert_ne!(trace.pid(), parent, "the trace follows the child");
    assert_eq!(event.pid, trace.pid());
    assert_eq!(trace.register_u64("rdi").unwrap(), 1);
    assert_eq!(run_to_exit(&mut trace), ExitStatus::Code(11));
    // The parent, let go at the fork, runs to its end untraced.
    let out = read_all(output);
    assert!(out.contains("fork child 11\n") && out.ends_with("work 3\n"), "{out}");
}

#[test]
fn keeping_both_processes_gives_the_child_a_trace_of_its_own() {
    let program = fixture("forks", Opt::O0);
    let (mut trace, output) = spawn(program.to_str().unwrap(), &[]);
    let work = trace.sym_by_name("work").unwrap();
    let hits = counting_break(&mut trace, work);
    trace.set_detach_on_fork(false);
    trace.disable_auto_continue(EventType::Forked);
    let mut children = Vec::new();
    let status = loop {
        let event = trace.run().unwrap();
        match event.kind {
            EventKind::Forked { child, vfork } => {
                let mut child_trace = trace.take_child(child).expect("kept child");
                assert_eq!(child_trace.pid(), child);
                // (A vfork child shares our memory until it exits, and we
                // wait for it anyway: each child runs to its end here.)
                children.push((vfork, run_to_exit(&mut child_trace)));
            }
            EventKind::Exited(status) => break status,
            _ => {}
        }
    };
    assert_eq!(status, ExitStatus::Code(7));
    assert_eq!(
        children,
        vec![(false, ExitStatus::Code(11)), (true, ExitStatus::Code(12)), (false, ExitStatus::Code(0))]
    );
    // work(0), work(1) in the fork child, work(2) in the vfork child, work(3).
    assert_eq!(hits.get(), 4);
    assert_eq!(read_all(output), untraced(program.to_str().unwrap(), &[]).0);
}

/// Runs `program args` under a trace with counting breakpoints on the given
/// libc functions, to its end: output and status must equal an untraced run's.
fn runs_as_untraced_with_breaks_on(program: &str, args: &[&str], functions: &[&str]) -> u32 {
    let expected = untraced(program, args);
    let (mut trace, output) = spawn(program, args);
    let hits = Rc::new(Cell::new(0));
    for function in functions {
        let id = trace.add_break_by_expr(&format!("libc.{function}")).expect("deferred breakpoint");
        let seen = hits.clone();
        trace.set_breakpoint_callback(id, move |_, _| seen.set(seen.get() + 1)).expect("callback");
    }
    trace.set_mode(Mode::RunForever, true);
    let status = run_to_exit(&mut trace);
    assert_eq!((read_all(output), status), expected, "{program} {args:?}");
    hits.get()
}

#[test]
fn a_shell_pipeline_with_breakpoints_on_execve_and_fork() {
    let hits = runs_as_untraced_with_breaks_on("/bin/bash", &["-c", "ls / | wc -l"], &["execve", "fork"]);
    // bash forks its two children through fork() or clone(): whichever it
    // uses, the children never stop at the breakpoints they inherit.
    assert_eq!(hits, 2, "two fork() calls in bash; the execve calls are in its children");
}

#[test]
fn a_python_fork_child_under_a_malloc_breakpoint() {
    let script = "import os, sys\n\
                  pid = os.fork()\n\
                  if pid == 0:\n    print('child', sum(range(1000)), flush=True)\n    os._exit(5)\n\
                  _, status = os.waitpid(pid, 0)\n\
                  print('parent saw', os.waitstatus_to_exitcode(status), flush=True)\n\
                  sys.exit(3)\n";
    // The interpreter itself (`python3` may be a launcher script, such as pyenv's shim).
    let python = Command::new("python3").args(["-c", "import sys; print(sys.executable)"]).output().unwrap();
    let python = String::from_utf8(python.stdout).unwrap();
    let hits = runs_as_untraced_with_breaks_on(python.trim(), &["-c", script], &["malloc"]);
    assert!(hits > 0, "python calls malloc");
}

#[test]
fn spawning_what_is_not_a_program_of_this_machine_is_a_one_line_error() {
    let text = std::env::temp_dir().join(format!("oxtrace-not-a-program-{}.txt", std::process::id()));
    std::fs::write(&text, "echo I am not a program\n").unwrap();
    std::fs::set_permissions(&text, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let aarch64 = crate::support::fixture_aarch64("nested", Opt::O0);
    let cases = [(text.clone(), "not an ELF file"), (std::env::temp_dir(), "is a directory"), (aarch64, "aarch64")];
    for (path, reason) in cases {
        let error = Trace::spawn(Command::new(&path)).expect_err("not a program");
        let message = error.to_string();
        assert!(message.contains(reason) && !message.contains('\n'), "{}: {message}", path.display());
        assert!(message.contains(&*path.to_string_lossy()), "the message names the file: {message}");
    }
    std::fs::remove_file(text).unwrap();
}

#[test]
fn exec_rearms_breakpoints_by_name_in_the_new_program_and_drops_those_by_address() {
    let mut trace = crate::spawn_quiet("forkexec", Opt::O0, &["exec"]);
    let main = trace.sym_by_name("main").unwrap();
    let by_address = trace.add_break_by_addr(main).unwrap();
    let by_name = trace.add_break_by_expr("libc.exit").unwrap();
    let event = trace.run().unwrap();
    assert!(matches!(event.kind, EventKind::Breakpoint { id, .. } if id == by_address), "{event:?}");
    let event = trace.run().unwrap();
    let EventKind::Exec { path } = &event.kind else { panic!("{event:?}") };
    assert!(path.ends_with("/true"), "{path}");
    assert!(trace.breakpoint(by_address).is_none(), "the old image's address means nothing now");
    // /bin/true's own libc.exit, resolved once its libc loads.
    let event = trace.run().unwrap();
    assert!(matches!(event.kind, EventKind::Breakpoint { id, .. } if id == by_name), "{event:?}");
    assert!(trace.breakpoints().iter().any(|b| b.id == by_name && b.resolved));
    assert_eq!(run_to_exit(&mut trace), ExitStatus::Code(0));
}

#[test]
fn a_trace_group_runs_five_processes_to_their_end_twenty_times() {
    let program = fixture("calls", Opt::O0);
    for round in 0..20 {
        let mut group = oxtrace::TraceGroup::new();
        for _ in 0..5 {
            let mut command = Command::new(&program);
            command.stdout(Stdio::null());
            group.add(Trace::spawn(command).unwrap());
        }
        assert_eq!(group.add_break_by_expr_all("tick").unwrap().len(), 5);
        let mut hits = std::collections::BTreeMap::new();
        while !group.is_empty() {
            let event = group.run().unwrap();
            if let EventKind::Breakpoint { .. } = event.kind {
                *hits.entry(event.pid).or_insert(0) += 1;
            }
        }
        assert_eq!(hits.len(), 5, "round {round}: {hits:?}");
        assert!(hits.values().all(|&n| n == 5), "round {round}: tick runs 5 times in each: {hits:?}");
        assert_eq!(group.ended().len(), 5);
        assert!(group.ended().iter().all(|(_, status)| *status == Some(ExitStatus::Code(0))), "{:?}", group.ended());
    }
}

#[test]
fn children_kept_after_forks_join_the_group() {
    let program = fixture("forks", Opt::O0);
    let (mut trace, output) = spawn(program.to_str().unwrap(), &[]);
    let work = trace.sym_by_name("work").unwrap();
    let hits = counting_break(&mut trace, work);
    trace.set_detach_on_fork(false);
    trace.set_mode(Mode::RunForever, true);
    let mut group = oxtrace::TraceGroup::new();
    let parent = group.add(trace);
    let ended = group.run_to_end().unwrap();
    let status_of = |pid| ended.iter().find(|(p, _)| *p == pid).and_then(|(_, s)| *s);
    assert_eq!(status_of(parent), Some(ExitStatus::Code(7)));
    let mut statuses: Vec<_> = ended.iter().filter(|(p, _)| *p != parent).map(|(_, s)| *s).collect();
    statuses.sort_by_key(|s| format!("{s:?}"));
    assert_eq!(statuses, [Some(ExitStatus::Code(0)), Some(ExitStatus::Code(11)), Some(ExitStatus::Code(12))]);
    assert_eq!(hits.get(), 4, "work() in the parent twice and in the fork and vfork children");
    assert_eq!(read_all(output), untraced(program.to_str().unwrap(), &[]).0);
}
