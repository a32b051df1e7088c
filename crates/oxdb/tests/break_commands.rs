//! gdb's other breakpoint and run-control commands: `ignore`, `clear`,
//! `rbreak`, `break ... thread N`, `until` and `advance` (which also stop
//! when the current function returns), and `step` through a PLT stub.

use crate::support::{batch, fixture, gdb, gdb_args, oxdb};

#[test]
fn ignore_lets_hits_go_by_and_clear_deletes_by_location() {
    let run = batch("forks", &["break work", "ignore 1 1", "run", "p $rdi", "clear work", "info breakpoints"], &[]);
    assert_eq!(run.code, Some(0), "{run}");
    // work(0) was let go; work(3) stops (work 1 and 2 run in children).
    assert_eq!(run.lines_with("breakpoint 1 hit at ").len(), 1, "{run}");
    assert!(run.stdout.lines().any(|l| l.starts_with('$') && l.ends_with(" = 3")), "{run}");
    assert!(run.stdout.contains("deleted 1"), "{run}");
    assert!(run.stdout.contains("no breakpoints or watchpoints"), "{run}");
    let bad = batch("forks", &["ignore 9 1"], &[]);
    assert!(bad.stderr.contains("no breakpoint 9"), "{bad}");
}

#[test]
fn rbreak_sets_one_breakpoint_per_matching_function() {
    let run = batch("forks", &["rbreak ^(report|status_of)$", "info breakpoints", "continue"], &[]);
    assert_eq!(run.code, Some(0), "{run}");
    assert!(run.stdout.lines().any(|l| l.starts_with("1 ") && l.contains(" in report+0x")), "{run}");
    assert!(run.stdout.lines().any(|l| l.starts_with("2 ") && l.contains(" in status_of+0x")), "{run}");
    assert_eq!(run.lines_with("breakpoint 2 hit at ").len(), 1, "status_of runs first:\n{run}");
}

#[test]
fn a_breakpoint_for_one_thread_stops_only_in_it() {
    // Thread 1 is the main thread; `work` runs in the others only.
    let run = batch("threads", &["break work thread 1", "continue"], &["3", "50"]);
    assert_eq!(run.code, Some(0), "{run}");
    assert!(run.lines_with("breakpoint 1 hit").is_empty(), "{run}");
    let run = batch("threads", &["break work thread 1", "info breakpoints"], &["3", "50"]);
    assert!(run.stdout.lines().any(|l| l.starts_with("1 ") && l.contains(" in work")), "{run}");
}

#[test]
fn until_and_advance_stop_when_the_function_returns() {
    // From inside say(), line 31 (in report) is not reached before say returns to work.
    let run = batch("forks", &["break say", "run", "advance 31", "bt"], &[]);
    assert_eq!(run.code, Some(0), "{run}");
    assert!(run.lines_starting("#0 ").iter().any(|l| l.contains(" in work+0x")), "{run}");
    // Reached first, the location stops it.
    let run = batch("forks", &["break main", "run", "until 58", "bt"], &[]);
    assert!(run.stdout.lines().any(|l| l.starts_with("58\t")), "{run}");
    assert!(run.lines_starting("#0 ").iter().any(|l| l.contains(" in main+0x")), "{run}");
}

#[test]
fn step_goes_through_a_plt_stub_where_gdb_does() {
    let program = fixture("forks");
    let program = program.to_str().unwrap();
    // Line 24 first, then line 25's call to waitpid through its PLT stub.
    let commands = ["break status_of", "run", "step", "step", "p $rip"];
    let run = oxdb(&[&["--batch"][..], &gdb_args(&commands), &[program]].concat());
    let ours = run
        .stdout
        .lines()
        .find(|l| l.starts_with("$1 = "))
        .and_then(|l| l.split_whitespace().find(|w| w.starts_with("0x")))
        .map(str::to_owned);
    let gdb_text = gdb(&[&gdb_args(&["break status_of", "run", "step", "step", "p $pc"])[..], &[program]].concat());
    let theirs = gdb_text
        .lines()
        .find(|l| l.starts_with("$1 = "))
        .and_then(|l| l.split_whitespace().find(|w| w.starts_with("0x")))
        .map(str::to_owned);
    assert!(ours.is_some() && ours == theirs, "oxdb:\n{run}\ngdb:\n{gdb_text}");
}

#[test]
fn enable_disable_and_delete_without_ids_take_every_breakpoint_and_catchpoint() {
    let commands = [
        "break work",
        "break report",
        "catch fork",
        "disable",
        "info breakpoints",
        "enable",
        "info breakpoints",
        "continue",
        "delete",
        "info breakpoints",
        "continue",
    ];
    let run = batch("forks", &commands, &[]);
    assert_eq!(run.code, Some(7), "{run}");
    let rows = |state: &str| run.stdout.lines().filter(|l| l.split_whitespace().nth(2) == Some(state)).count();
    assert_eq!((rows("n"), rows("y")), (3, 3), "each of the three disabled, then enabled:\n{run}");
    assert_eq!(run.lines_with("breakpoint 1 hit at ").len(), 1, "{run}");
    assert!(run.stdout.contains("no breakpoints or watchpoints\n"), "{run}");
    assert!(run.lines_with("(catchpoint 3)").is_empty(), "deleted before the fork:\n{run}");
}
