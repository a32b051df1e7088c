//! `run` and `start` (re)start the program with its arguments and every
//! breakpoint (number, condition, commands, enabled state), as gdb does;
//! programs start with address-space randomization off unless asked.

use crate::support::batch;

#[test]
fn run_twice_hits_the_breakpoint_in_each_run_at_the_same_address() {
    let run = batch("forks", &["break work", "run", "p $rip", "run", "p $rip", "kill", "run", "p $rip"], &[]);
    assert_eq!(run.code, Some(0), "{run}");
    assert_eq!(run.lines_with("] started ").len(), 3, "{run}");
    let hits = run.lines_with("breakpoint 1 hit at ");
    assert_eq!(hits.len(), 3, "{run}");
    let pids: std::collections::BTreeSet<&str> = hits.iter().map(|l| l.split(']').next().unwrap()).collect();
    assert_eq!(pids.len(), 3, "a new process each run:\n{run}");
    // Randomization off: the same address every run.
    let pcs: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.starts_with('$') && l.contains(" <work+"))
        .filter_map(|l| l.split_once(" = "))
        .map(|(_, v)| v)
        .collect();
    assert!(pcs.len() == 3 && pcs.iter().all(|p| *p == pcs[0]), "{run}");
    assert!(run.lines_with("killed by signal SIGKILL").len() == 1, "{run}");
}

#[test]
fn breakpoints_keep_their_numbers_conditions_commands_and_state() {
    let run = batch(
        "forks",
        &[
            "break report",
            "break work",
            "commands 2 info breakpoints",
            "disable 1",
            "break say",
            "delete 3",
            "run",
            "run",
            "info breakpoints",
        ],
        &[],
    );
    assert_eq!(run.code, Some(0), "{run}");
    assert_eq!(run.lines_with("breakpoint 2 hit at ").len(), 2, "{run}");
    assert!(run.lines_with("breakpoint 1 hit").is_empty(), "disabled:\n{run}");
    // The command list ran at each hit, and the table is the same after the second run.
    let disabled: Vec<&str> = run.stdout.lines().filter(|l| l.starts_with("1 ") && l.contains(" n 0x")).collect();
    assert_eq!(disabled.len(), 3, "{run}");
    assert!(
        run.stdout.lines().filter(|l| l.starts_with("2 ") && l.contains("commands: info breakpoints")).count() == 3,
        "{run}"
    );
    assert!(!run.stdout.lines().any(|l| l.starts_with("3 ")), "deleted breakpoints stay deleted:\n{run}");
}

#[test]
fn start_stops_at_main_and_run_takes_new_arguments() {
    let run = batch("forks", &["start", "bt", "run server 3", "start server 2", "continue"], &[]);
    assert_eq!(run.code, Some(0), "{run}");
    assert!(run.lines_starting("#0 ").iter().any(|l| l.contains(" in main+0x")), "{run}");
    assert!(run.stdout.lines().any(|l| l == "served 3 total 3"), "{run}");
    assert!(run.stdout.lines().any(|l| l == "served 2 total 1"), "{run}");
    assert_eq!(run.lines_with("one-time breakpoint").len(), 2, "{run}");
}

#[test]
fn randomization_comes_back_when_asked() {
    let libc = |run: &crate::support::Run| -> Vec<String> {
        run.lines_with("library loaded: libc at ").iter().map(|l| l.to_string()).collect()
    };
    let off = batch("forks", &["run", "run"], &[]);
    let bases: Vec<String> = libc(&off).iter().map(|l| l.split(" at ").nth(1).unwrap().to_owned()).collect();
    assert!(bases.len() == 2 && bases[0] == bases[1], "{off}");
    let on = batch("forks", &["set disable-randomization off", "run", "run", "run"], &[]);
    let bases: std::collections::BTreeSet<String> =
        libc(&on).iter().map(|l| l.split(" at ").nth(1).unwrap().to_owned()).collect();
    // The first process was started before the setting; the two restarted ones are randomized.
    assert!(bases.len() >= 2, "{on}");
}

#[test]
fn breakpoints_set_after_the_program_ended_are_set_by_the_next_run() {
    let run = batch("forks", &["run", "break report if 1", "tbreak work", "run", "continue", "info breakpoints"], &[]);
    assert_eq!(run.code, Some(0), "{run}");
    assert_eq!(run.lines_with("will be set when the program runs").len(), 2, "{run}");
    assert_eq!(run.lines_with("breakpoint 2 hit at ").len(), 1, "{run}");
    assert_eq!(run.lines_with("breakpoint 1 hit at ").len(), 1, "{run}");
    assert!(run.stdout.lines().any(|l| l.starts_with("1 ") && l.ends_with("hits 1  if 1")), "{run}");
}

#[test]
fn run_and_kill_then_run_keep_watchpoints_as_gdb() {
    let program = crate::support::fixture("values");
    // A watchpoint on a global: hit in the first run, then armed again and
    // hit in a restarted run and in a run after `kill`, as gdb does.
    let commands = ["break watched", "run", "watch counter", "continue", "run", "continue", "kill", "run", "continue"];
    let ours = crate::support::batch("values", &commands, &[]);
    assert_eq!(ours.code, Some(0), "{ours}");
    let theirs =
        crate::support::gdb(&[&crate::support::gdb_args(&commands)[..], &[program.to_str().unwrap()]].concat());
    let lines = crate::values::watch_lines(&ours.stdout);
    assert_eq!(lines, crate::values::watch_lines(&theirs), "{ours}\n--- gdb\n{theirs}");
    assert_eq!(lines.iter().filter(|l| *l == "New value = 19").count(), 3, "{ours}");
    // A watchpoint on raw bytes too, with its number.
    let run = batch("values", &["break watched", "run", "watch -s 4 &counter", "continue", "run", "continue"], &[]);
    assert_eq!(run.code, Some(0), "{run}");
    assert_eq!(run.lines_with("] watchpoint 2 (write) at ").len(), 2, "{run}");
}
