//! Processes: forks announced and let go, kept children as inferiors, the
//! fork settings, catchpoints, and gdb's signal table, against programs
//! whose output under oxdb must be the same as untraced.

use std::process::Command;

use crate::support::{batch, fixture, oxdb};

/// The lines a program printed among oxdb's (oxdb's own start with `[`, `>`, or are its replies).
fn program_lines(stdout: &str, oxdb_words: &[&str]) -> Vec<String> {
    stdout
        .lines()
        .filter(|l| !l.starts_with('[') && !l.starts_with("> ") && !oxdb_words.iter().any(|w| l.starts_with(w)))
        .map(str::to_owned)
        .collect()
}

/// What a program prints untraced, as sorted lines (children and parents may interleave).
fn untraced(program: &str, args: &[&str]) -> (Vec<String>, Option<i32>) {
    let output = Command::new(program).args(args).output().expect("run untraced");
    let mut lines: Vec<String> = String::from_utf8_lossy(&output.stdout).lines().map(str::to_owned).collect();
    lines.sort();
    (lines, output.status.code())
}

fn sorted(mut lines: Vec<String>) -> Vec<String> {
    lines.sort();
    lines
}

#[test]
fn forks_are_announced_and_the_program_runs_as_untraced() {
    let program = fixture("forks");
    let (expected, code) = untraced(program.to_str().unwrap(), &[]);
    let run = batch("forks", &["continue"], &[]);
    assert_eq!(run.code, code, "{run}");
    assert_eq!(sorted(program_lines(&run.stdout, &[])), expected, "{run}");
    assert_eq!(run.lines_with("] fork: child process ").len(), 2, "{run}");
    assert_eq!(run.lines_with("] vfork: child process ").len(), 1, "{run}");
    assert!(run.lines_with(" fork: child process ").iter().all(|l| l.ends_with(" detached")), "{run}");
    assert!(run.lines_with("signal").is_empty(), "no stop or line for SIGCHLD:\n{run}");
}

#[test]
fn a_server_forking_200_children_runs_to_the_end_without_stopping_on_sigchld() {
    let program = fixture("forks");
    let (expected, code) = untraced(program.to_str().unwrap(), &["server", "200"]);
    let run = batch("forks", &["continue"], &["server", "200"]);
    assert_eq!(run.code, code, "{run}");
    assert_eq!(sorted(program_lines(&run.stdout, &[])), expected, "{run}");
    assert!(run.lines_with("SIGCHLD").is_empty(), "{run}");
    assert_eq!(run.lines_with("] fork: child process ").len(), 200, "{run}");
}

#[test]
fn a_shell_pipeline_runs_as_untraced() {
    let script = "ls / | wc -l";
    let (expected, code) = untraced("/bin/bash", &["-c", script]);
    let run = oxdb(&["--batch", "-ex", "continue", "/bin/bash", "-c", script]);
    assert_eq!(run.code, code, "{run}");
    assert_eq!(sorted(program_lines(&run.stdout, &[])), expected, "{run}");
    assert!(run.lines_with("SIGCHLD").is_empty(), "{run}");
}

#[test]
fn a_python_fork_under_a_malloc_breakpoint_with_commands_runs_as_untraced() {
    let python = "/usr/bin/python3";
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("oxdb-python");
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("fork.py");
    std::fs::write(
        &script,
        "import os, sys\n\
         pid = os.fork()\n\
         if pid == 0:\n    sys.stdout.write('child %d\\n' % len([x * 2 for x in range(1000)]))\n    sys.stdout.flush()\n    os._exit(3)\n\
         _, status = os.waitpid(pid, 0)\n\
         print('parent saw', os.WEXITSTATUS(status))\n",
    )
    .unwrap();
    let script = script.to_str().unwrap();
    let (expected, code) = untraced(python, &[script]);
    assert_eq!(expected, ["child 1000", "parent saw 3"]);
    let run =
        oxdb(&["--batch", "-ex", "break malloc", "-ex", "commands 1 continue", "-ex", "continue", python, script]);
    assert_eq!(run.code, code, "{run}");
    assert_eq!(sorted(program_lines(&run.stdout, &["breakpoint 1"])), expected, "{run}");
    assert!(run.lines_with("breakpoint 1 hit at ").len() > 1, "{run}");
    assert!(run.lines_with("] fork: child process ").len() == 1, "{run}");
}

#[test]
fn kept_children_are_inferiors_that_run_one_at_a_time() {
    let run = batch(
        "forks",
        &[
            "set detach-on-fork off",
            "catch fork",
            "break work",
            "continue",
            "continue",
            "info inferiors",
            "inferior 2",
            "continue",
            "continue",
            "inferior 1",
            "delete",
            "set detach-on-fork on",
            "continue",
            "info inferiors",
        ],
        &[],
    );
    assert_eq!(run.code, Some(7), "{run}");
    let fork = run.lines_with("] fork: child process ");
    assert!(fork[0].ends_with("kept stopped as a new inferior (catchpoint 1)"), "{run}");
    assert_eq!(run.lines_starting("[inferior 2 (process ").len(), 1, "{run}");
    // The child ran alone, into the breakpoint it inherited, and exited.
    assert!(run.stdout.contains("[current inferior is 2 (process "), "{run}");
    assert!(run.lines_with("] exited with code 11").len() == 1, "{run}");
    // Breakpoint 2: catchpoint 1 took the first number, as in gdb.
    assert_eq!(run.lines_with("breakpoint 2 hit at ").len(), 2, "{run}");
    let table: Vec<&str> =
        run.stdout.lines().filter(|l| l.contains("exited with code") && !l.starts_with('[')).collect();
    assert!(table.iter().any(|l| l.starts_with("* 1 ") && l.contains("exited with code 7")), "{run}");
    assert!(table.iter().any(|l| l.starts_with("  2 ") && l.contains("exited with code 11")), "{run}");
    for line in ["work 0", "work 1", "fork child 11", "vfork child 12", "work 3"] {
        assert!(run.stdout.lines().any(|l| l == line), "{line}:\n{run}");
    }
}

#[test]
fn follow_fork_mode_child_follows_the_child() {
    let run = batch("forks", &["set follow-fork-mode child", "continue"], &[]);
    assert_eq!(run.code, Some(11), "{run}");
    assert_eq!(run.lines_with("fork: following child process ").len(), 1, "{run}");
    assert!(run.stdout.lines().any(|l| l == "work 1"), "{run}");
}

#[test]
fn catch_vfork_and_exec_stop_only_when_asked() {
    let run = batch("forks", &["catch vfork", "continue", "info breakpoints", "continue"], &[]);
    assert_eq!(run.code, Some(7), "{run}");
    let caught = run.lines_with("(catchpoint 1)");
    assert_eq!(caught.len(), 1, "{run}");
    assert!(caught[0].contains("] vfork: child process "), "{run}");
    assert!(
        run.stdout.lines().any(|l| l.starts_with("1 ")
            && l.contains(" catchpoint ")
            && l.contains(" vfork ")
            && l.ends_with("hits 1")),
        "{run}"
    );

    let sh = ["/bin/sh", "-c", "exec /bin/true"];
    let run = oxdb(&[&["--batch", "-ex", "continue"][..], &sh].concat());
    assert_eq!(run.code, Some(0), "{run}");
    assert_eq!(run.lines_with("] exec ").len(), 1, "{run}");
    let run = oxdb(
        &[&["--batch", "-ex", "catch exec", "-ex", "continue", "-ex", "info inferiors", "-ex", "continue"][..], &sh]
            .concat(),
    );
    assert_eq!(run.code, Some(0), "{run}");
    let caught = run.lines_with("(catchpoint 1)");
    assert!(caught.len() == 1 && caught[0].contains("] exec "), "{run}");
    assert!(
        run.stdout.lines().any(|l| l.starts_with("* 1 ") && l.contains(" stopped ") && l.ends_with("true")),
        "{run}"
    );
}

/// `(number, type)` of each row of an `info breakpoints` table (gdb's or oxdb's).
fn table_rows(text: &str) -> Vec<(u32, String)> {
    text.lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            let num = words.next()?.parse().ok()?;
            let kind = words.next().filter(|k| ["breakpoint", "catchpoint", "watchpoint"].contains(k))?;
            Some((num, kind.to_owned()))
        })
        .collect()
}

#[test]
fn catchpoints_are_numbered_among_breakpoints_as_in_gdb() {
    let program = fixture("forks");
    let commands =
        ["break work", "catch fork", "catch syscall wait4", "info breakpoints", "delete 2", "info breakpoints"];
    let gdb_text =
        crate::support::gdb(&[&crate::support::gdb_args(&commands)[..], &[program.to_str().unwrap()]].concat());
    let run = batch("forks", &commands, &[]);
    assert_eq!(run.code, Some(0), "{run}");
    let (ours, theirs) = (table_rows(&run.stdout), table_rows(&gdb_text));
    assert_eq!(ours, theirs, "{run}\n{gdb_text}");
    let kinds = |n: u32| ours.iter().filter(|(k, _)| *k == n).map(|(_, t)| t.as_str()).collect::<Vec<_>>();
    assert_eq!((kinds(1), kinds(2), kinds(3)), (vec!["breakpoint"; 2], vec!["catchpoint"], vec!["catchpoint"; 2]));
    // The catchpoint stops as number 2, disabled it does not, and numbers go on after it across a restart.
    let run = batch(
        "forks",
        &[
            "break work",
            "catch fork",
            "continue",
            "continue",
            "info breakpoints",
            "disable 2",
            "run",
            "continue",
            "break report",
            "enable",
            "delete 1",
            "run",
            "info breakpoints",
        ],
        &[],
    );
    assert_eq!(run.code, Some(0), "{run}");
    assert!(run.lines_with("] fork: child process ")[0].ends_with("(catchpoint 2)"), "{run}");
    assert!(run.stdout.lines().any(|l| l.starts_with("2 ") && l.contains(" catchpoint  y fork  hits 1")), "{run}");
    assert_eq!(run.lines_with("(catchpoint 2)").len(), 2, "one stop before the disable, one after the enable:\n{run}");
    assert!(run.stdout.lines().any(|l| l.starts_with("breakpoint 3 at ")), "{run}");
    let last: Vec<(u32, String)> = table_rows(run.stdout.rsplit("] started ").next().unwrap_or(""));
    assert_eq!(last, [(2, "catchpoint".into()), (3, "breakpoint".into())], "{run}");
}

#[test]
fn catch_syscall_stops_at_the_named_call() {
    let run = batch("forks", &["catch syscall wait4", "continue", "continue", "delete", "continue"], &[]);
    assert_eq!(run.code, Some(7), "{run}");
    let caught = run.lines_with("(catchpoint 1)");
    assert_eq!(caught.len(), 2, "entry and exit:\n{run}");
    assert!(caught.iter().all(|l| l.contains(" syscall 61")), "{run}");
}

#[test]
fn the_signal_table_has_gdbs_defaults_and_handle_changes_it() {
    let run = batch("forks", &["info signals", "handle SIGUSR1 nostop noprint nopass", "handle 14-15"], &[]);
    assert_eq!(run.code, Some(0), "{run}");
    let row = |name: &str| -> Vec<Vec<&str>> {
        run.stdout
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .filter(|w| w.first() == Some(&name))
            .collect()
    };
    assert_eq!(row("SIGCHLD"), [["SIGCHLD", "No", "No", "Yes"]], "{run}");
    assert_eq!(row("SIGINT"), [["SIGINT", "Yes", "Yes", "No"]], "{run}");
    assert_eq!(row("SIGTRAP"), [["SIGTRAP", "Yes", "Yes", "No"]], "{run}");
    assert_eq!(row("SIGSEGV"), [["SIGSEGV", "Yes", "Yes", "Yes"]], "{run}");
    assert_eq!(row("SIGUSR1")[1], ["SIGUSR1", "No", "No", "No"], "{run}");
    assert_eq!(row("SIGALRM").len(), 2, "{run}");
    assert_eq!(row("SIGTERM").len(), 2, "{run}");
    let bad = batch("forks", &["handle SIGNOPE stop"], &[]);
    assert!(bad.stderr.contains("no signal named \"SIGNOPE\""), "{bad}");
}

#[test]
fn handle_decides_whether_a_signal_stops_prints_and_is_passed() {
    // gdb's default for SIGUSR1: stop, print, pass.
    let run = batch("signals", &["continue", "continue", "continue"], &[]);
    assert_eq!(run.code, Some(2), "{run}");
    assert_eq!(run.lines_with("signal SIGUSR1 (10)").len(), 2, "{run}");
    // Printed without stopping: one continue runs to the end.
    let run = batch("signals", &["handle SIGUSR1 nostop print", "continue"], &[]);
    assert_eq!(run.code, Some(2), "{run}");
    assert_eq!(run.lines_with("signal SIGUSR1 (10)").len(), 2, "{run}");
    // Not passed: the handler never runs.
    let run = batch("signals", &["handle SIGUSR1 nostop noprint nopass", "continue"], &[]);
    assert_eq!(run.code, Some(0), "{run}");
    assert!(run.stdout.lines().any(|l| l == "handled 0"), "{run}");
    assert!(run.lines_with("signal SIGUSR1").is_empty(), "{run}");
    // A catchpoint stops at a signal the table lets through silently.
    let run = batch(
        "signals",
        &["handle SIGUSR1 nostop noprint", "catch signal SIGUSR1", "continue", "continue", "continue"],
        &[],
    );
    assert_eq!(run.code, Some(2), "{run}");
    assert_eq!(run.lines_with("signal SIGUSR1 (10)").len(), 2, "{run}");
    assert_eq!(run.lines_with("(catchpoint 1)").len(), 2, "{run}");
}

#[test]
fn a_programs_own_int3_and_raise_sigtrap_stop_as_in_gdb_and_are_not_passed() {
    let run = batch("traps", &["continue", "bt", "continue", "continue"], &[]);
    assert_eq!(run.code, Some(0), "{run}");
    let traps = run.lines_with("signal SIGTRAP (5) at ");
    assert_eq!(traps.len(), 2, "{run}");
    // After the int3, in main (pc past the instruction, as gdb shows it); then inside raise.
    assert!(traps[0].contains(" in main+0x"), "{run}");
    assert!(run.lines_starting("#0 ").iter().any(|l| l.contains("(traps.c:7)")), "{run}");
    for line in ["before", "middle", "after"] {
        assert!(run.stdout.lines().any(|l| l == line), "{line}:\n{run}");
    }
}

#[test]
fn catch_throw_and_catch_stop_at_the_cpp_runtime() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("oxdb-fixtures");
    let program = test_fixtures::compile(&dir, "throws.cpp", "throws", "c++", &["-g", "-O0"], &[]);
    let run = oxdb(&[
        "--batch",
        "-ex",
        "catch throw",
        "-ex",
        "catch catch",
        "-ex",
        "continue",
        "-ex",
        "continue",
        "-ex",
        "continue",
        program.to_str().unwrap(),
    ]);
    assert_eq!(run.code, Some(0), "{run}");
    assert!(run.lines_with("breakpoint 1 hit at ").iter().any(|l| l.contains("__cxa_throw")), "{run}");
    assert!(run.lines_with("breakpoint 2 hit at ").iter().any(|l| l.contains("__cxa_begin_catch")), "{run}");
    assert!(run.stdout.lines().any(|l| l == "caught boom"), "{run}");
}
