//! A storm of short threads under a breakpoint whose command list is
//! `silent` and `continue`: every hit is counted, none twice, as gdb counts
//! them on the same program (the oxbench thread-storm rows, at a small scale).

use std::path::PathBuf;

use crate::support::{fixture, gdb, oxdb};

/// A script file of this test's own.
fn script(name: &str, text: &str) -> PathBuf {
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::write(&path, text).expect("write the script");
    path
}

fn storm_counts_every_hit(alive: &str, total: &str, hold: &[&str]) {
    let program = fixture("storm");
    let program = program.to_str().expect("utf-8 path");
    let tag = format!("{alive}-{total}-{}", hold.len());
    let commands =
        script(&format!("storm-{tag}.oxdb"), "break f\ncommands\nsilent\ncontinue\nend\ncontinue\nbreakpoints\n");
    let mut args = vec!["--batch", "-x", commands.to_str().expect("utf-8 path"), program, alive, total];
    args.extend_from_slice(hold);
    let run = oxdb(&args);
    assert_eq!(run.code, Some(0), "{run}");
    assert!(run.stdout.contains(&format!("calls {total}\n")), "{run}");
    let listed = run.lines_with("commands: silent; continue");
    assert_eq!(listed.len(), 1, "{run}");
    assert!(listed[0].contains(&format!(" hits {total} ")), "every hit counted once: {}", listed[0]);
    assert!(run.lines_with(" hit at ").is_empty(), "silent hits are not announced:\n{run}");
    let gdb_script = script(
        &format!("storm-{tag}.gdb"),
        "set pagination off\nset print thread-events off\nbreak f\ncommands\nsilent\ncontinue\nend\nrun\n\
         info breakpoints\n",
    );
    let mut gdb_args = vec!["-x", gdb_script.to_str().expect("utf-8 path"), "--args", program, alive, total];
    gdb_args.extend_from_slice(hold);
    let native = gdb(&gdb_args);
    assert!(native.contains(&format!("breakpoint already hit {total} times")), "gdb:\n{native}");
}

#[test]
fn a_storm_of_threads_hits_a_silent_continuing_breakpoint_exactly_as_often_as_gdb_sees() {
    storm_counts_every_hit("50", "200", &[]);
}

#[test]
fn a_storm_of_threads_alive_at_once_is_counted_exactly() {
    storm_counts_every_hit("50", "200", &["hold"]);
}
