//! Stepping while signals arrive: a 1 ms interval timer fires under `step`,
//! `next`, `stepi` and `until` over a busy loop, which never hang and leave
//! the program's output as untraced; `step` and `next` out of a signal
//! handler land in the interrupted function, on the lines gdb shows.

use crate::support::{batch, fixture, gdb, gdb_args};

/// The `NN\tsource` lines of an output.
fn source_lines(text: &str) -> Vec<u32> {
    text.lines().filter_map(|l| l.split_once('\t')).filter_map(|(n, _)| n.parse().ok()).collect()
}

#[test]
fn stepping_under_a_one_millisecond_timer_never_hangs() {
    let program = fixture("ticker");
    let untraced = std::process::Command::new(&program).output().unwrap();
    let expected = String::from_utf8_lossy(&untraced.stdout).into_owned();
    let run = batch(
        "ticker",
        &["break 23", "continue", "delete", "next 300", "step 300", "stepi 300", "until 26", "continue"],
        &[],
    );
    assert_eq!(run.code, Some(0), "{run}");
    assert!(run.stdout.lines().any(|l| l == expected.trim_end()), "{expected}\n{run}");
    let lines = source_lines(&run.stdout);
    // Every step stopped in the loop (lines 22 to 24), then `until` left it.
    assert!(lines.iter().filter(|&&l| (22..=24).contains(&l)).count() >= 600, "{run}");
    assert_eq!(lines.last(), Some(&26), "{run}");
    assert!(run.lines_with("SIGALRM").is_empty(), "SIGALRM is passed silently:\n{run}");
}

#[test]
fn step_and_next_out_of_a_signal_handler_land_in_the_interrupted_function_as_in_gdb() {
    // Where the timer interrupts the loop varies from run to run: compare
    // the shape, the handler's last line then lines of the loop in main.
    let in_loop = |l: &u32| (22..=24).contains(l);
    let program = fixture("ticker");
    let gdb_text = gdb(&[
        &gdb_args(&["break on_tick", "run", "delete", "next", "next", "next", "kill"])[..],
        &[program.to_str().unwrap()],
    ]
    .concat());
    // gdb shows the breakpoint's line first; oxdb shows the lines of the steps.
    let expected: Vec<u32> = source_lines(&gdb_text).into_iter().skip(1).collect();
    assert!(expected.len() == 3 && expected[0] == 13 && expected[1..].iter().all(in_loop), "{gdb_text}");
    assert!(gdb_text.contains("main () at "), "{gdb_text}");
    for command in ["next", "step"] {
        let run =
            batch("ticker", &["break on_tick", "continue", "delete", command, command, command, "bt", "kill"], &[]);
        let lines = source_lines(&run.stdout);
        assert!(lines.len() == 3 && lines[0] == 13 && lines[1..].iter().all(in_loop), "{command}:\n{run}");
        assert!(run.lines_starting("#0 ").iter().any(|l| l.contains(" in main+0x")), "{command}:\n{run}");
    }
}
