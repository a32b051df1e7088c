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
    // No step stopped in the handler (lines 10 to 13): it has no breakpoint.
    assert!(lines.iter().all(|l| !(10..=13).contains(l)), "{run}");
    assert!(run.lines_with("SIGALRM").is_empty(), "SIGALRM is passed silently:\n{run}");
}

#[test]
fn step_enters_a_handler_at_its_breakpoint_and_advance_and_finish_never_hang() {
    let program = fixture("ticker");
    let untraced = std::process::Command::new(&program).output().unwrap();
    let expected = String::from_utf8_lossy(&untraced.stdout).into_owned();
    // Stepping from a line that has a breakpoint, a tick's handler with one stops the step there.
    let commands = [
        "break 23",
        "continue",
        "break on_tick",
        "step 300",
        "bt",
        "delete",
        "step 3",
        "advance 26",
        "finish",
        "continue",
    ];
    let run = batch("ticker", &commands, &[]);
    assert_eq!(run.code, Some(0), "{run}");
    let hits = run.lines_with("breakpoint 2 hit at ");
    assert!(hits.len() == 1 && hits[0].contains(" in on_tick+"), "{run}");
    assert!(run.lines_starting("#0 ").iter().any(|l| l.contains(" in on_tick+")), "{run}");
    assert!(run.lines_starting("#").iter().any(|l| l.contains(" in main+")), "the handler's caller is main:\n{run}");
    // Out of the handler, to line 26, out of main: the program's output as untraced.
    assert!(run.stdout.lines().any(|l| l.starts_with("26\t")), "{run}");
    assert!(run.stdout.contains("Run till exit from"), "{run}");
    assert!(run.stdout.lines().any(|l| l == expected.trim_end()), "{expected}\n{run}");
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

/// The address ranges of `program`'s line table rows of line 0 (code of no
/// line), from `objdump --dwarf=decodedline`.
fn lineless_ranges(program: &std::path::Path) -> Vec<(u64, u64)> {
    let output = std::process::Command::new("objdump").arg("--dwarf=decodedline").arg(program).output().unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    // `FILE  LINE  0xADDRESS  [VIEW]  [x]`; `-` as the line ends a sequence.
    let rows: Vec<(Option<u64>, u64)> = text
        .lines()
        .filter_map(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            let addr = words.iter().find_map(|w| w.strip_prefix("0x"))?;
            let addr = u64::from_str_radix(addr, 16).ok()?;
            let line = words.get(1)?;
            Some((if *line == "-" { None } else { Some(line.parse().ok()?) }, addr))
        })
        .collect();
    rows.windows(2).filter(|w| w[0].0 == Some(0)).map(|w| (w[0].1, w[1].1)).collect()
}

#[test]
fn next_steps_over_code_with_no_line_as_gdb() {
    let out_dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("oxdb-fixtures");
    // clang at -O2 leaves line-0 code inside main (the loop's set-up and
    // latch); gcc leaves rows that begin no statement, which `next` does not stop at either.
    for (compiler, name) in [("clang", "lineless-clang-O2"), ("cc", "lineless-O2")] {
        let program = test_fixtures::compile(&out_dir, "lineless.c", name, compiler, &["-g", "-O2", "-no-pie"], &[]);
        let path = program.to_str().unwrap();
        let mut commands = vec!["break main", "run"];
        commands.extend(["next"; 10]);
        let gdb_text = gdb(&[&gdb_args(&commands)[..], &[path]].concat());
        // gdb shows the breakpoint's line first.
        let expected: Vec<u32> = source_lines(&gdb_text).into_iter().skip(1).collect();
        assert_eq!(expected.len(), 10, "{gdb_text}");
        let mut ours = vec!["break main", "run"];
        ours.extend(["next", "p $pc"].repeat(10));
        let run = crate::support::oxdb(&[&["--batch"][..], &gdb_args(&ours), &[path]].concat());
        assert_eq!(source_lines(&run.stdout), expected, "{compiler}:\n{run}\n--- gdb\n{gdb_text}");
        // No stop at an address of no line (the program is not position-independent: file addresses).
        let lineless = lineless_ranges(&program);
        if compiler == "clang" {
            assert!(!lineless.is_empty(), "clang left no line-0 code in {path}");
        }
        let pcs: Vec<u64> = run
            .stdout
            .lines()
            .filter(|l| l.starts_with('$'))
            .filter_map(|l| l.split_whitespace().find_map(|w| w.strip_prefix("0x")))
            .filter_map(|a| u64::from_str_radix(a, 16).ok())
            .collect();
        assert_eq!(pcs.len(), 10, "{run}");
        for pc in pcs {
            assert!(!lineless.iter().any(|(lo, hi)| (*lo..*hi).contains(&pc)), "stopped at {pc:#x} of no line:\n{run}");
        }
    }
}
