//! Tracepoints: `trace`, `collect`, `tstatus` / `info tracepoints`, `tdump`,
//! and how `info breakpoints` shows them.

use crate::support::{batch, fixture_o2, gdb_args, oxdb};

#[test]
fn trace_counts_without_stopping_and_tstatus_reads_the_counts() {
    // pads 2 8 2000: 8 threads call work() 2,000 times in each of 2 rounds.
    let commands = [
        "trace work",
        "trace tiny if rdi < 10",
        "break finished",
        "run",
        "tstatus",
        "info tracepoints",
        "info breakpoints",
    ];
    let run = batch("pads", &commands, &["2", "8", "2000"]);
    assert_eq!(run.code, Some(0), "{run}");
    assert!(run.stdout.lines().any(|l| l.starts_with("tracepoint 1 at ") && l.contains("work")), "{run}");
    assert!(run.stdout.lines().any(|l| l.starts_with("tracepoint 2 at ")), "{run}");
    // The only stop is the breakpoint.
    assert_eq!(run.lines_with(" hit at ").len(), 1, "{run}");
    let status: Vec<&str> = run.lines_starting("1   tracepoint");
    assert_eq!(status.len(), 3, "tstatus, info tracepoints, info breakpoints:\n{run}");
    assert!(status.iter().all(|l| l.contains("hits 32000") && l.contains("[jump pad]")), "{run}");
    let conditional = run.lines_starting("2   tracepoint");
    assert!(conditional.iter().all(|l| l.contains("hits 160")), "{run}");
    assert!(conditional[0].contains("if rdi < 10"), "{run}");
}

#[test]
fn collect_records_the_arguments_and_tdump_prints_them() {
    let commands = ["trace work", "collect $args", "break finished", "run", "tdump 1"];
    let run = batch("pads", &commands, &["1", "2", "5"]);
    assert_eq!(run.code, Some(0), "{run}");
    assert!(run.stdout.contains("tracepoint 1 collects $args"), "{run}");
    assert!(run.stdout.contains("tracepoint 1: 10 records (0 lost)"), "{run}");
    for thread in 0..2 {
        for i in 0..5 {
            let args = format!(" rdi={thread:#x} rsi={i:#x} ");
            assert_eq!(run.lines_with(&args).len(), 1, "{args}:\n{run}");
        }
    }
}

#[test]
fn a_tracepoint_that_cannot_take_a_jump_says_why_and_still_counts() {
    // At -O2, tiny() is 4 bytes: shorter than the jump.
    let program = fixture_o2("pads");
    let commands = ["trace tiny", "break finished", "run", "info breakpoints"];
    let run = oxdb(&[&["--batch"][..], &gdb_args(&commands), &[program.to_str().unwrap(), "1", "2", "100"]].concat());
    assert_eq!(run.code, Some(0), "{run}");
    assert!(run.stdout.contains("(through int3: the function ends 4 bytes after the site"), "{run}");
    let line = run.lines_starting("1   tracepoint");
    assert!(line.len() == 1 && line[0].contains("hits 200") && line[0].contains("[int3: "), "{run}");
}

#[test]
fn bad_tracepoints_are_one_line_errors() {
    let run = batch("pads", &["trace", "trace work if rdi ==", "collect 7 rdi", "trace work", "collect xmm0"], &[]);
    let errors: Vec<&str> = run.stderr.lines().collect();
    assert!(errors.iter().any(|l| l.contains("a location is needed")), "{run}");
    assert!(errors.iter().any(|l| l.contains("at position")), "{run}");
    assert!(errors.iter().any(|l| l.contains("7 is not a tracepoint") || l.contains("no breakpoint")), "{run}");
    assert!(errors.iter().any(|l| l.contains("cannot collect `xmm0`")), "{run}");
}
