//! Bad input: one error line naming the bad thing, and the session goes on.

use crate::support::batch;

#[test]
fn bad_input_gives_one_line_errors_and_the_session_goes_on() {
    let bad = [
        ("regs foo", "error: no register named \"foo\""),
        ("x 0", "error: cannot read 64 bytes at 0x0"),
        ("p 1 +", "error: A syntax error in expression, near `'."),
        ("p nosuchname", "error: No symbol \"nosuchname\" in current context."),
        ("frobnicate", "error: no command named \"frobnicate\""),
        ("frame 99", "error: no frame 99"),
        ("thread 99999999", "error: no thread 99999999"),
        ("delete 42", "error: no breakpoint or watchpoint 42"),
        ("x/4q $sp", "error: bad format letter 'q'"),
        ("watch -s 3 $sp", "error: a watchpoint covers 1, 2, 4 or 8 bytes, not 3"),
        ("write rsp zz", "error: bad bytes \"zz\""),
        ("signal SIGNOPE", "error: no signal named \"SIGNOPE\""),
        ("continue 0", "error: bad count \"0\""),
        ("mode Warp on", "error: no mode named \"Warp\""),
        ("syms (", "error: bad regex"),
        ("info nothing", "error: no info subject \"nothing\""),
    ];
    let mut commands: Vec<&str> = Vec::new();
    for (command, _) in &bad {
        commands.push(command);
        commands.push("p 7");
    }
    commands.push("continue");
    commands.push("regs rip");
    commands.push("bt");
    let run = batch("calls", &commands, &[]);
    assert_eq!(run.code, Some(2), "{run}");
    let errors: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(errors.len(), bad.len() + 2, "one line per error:\n{run}");
    for ((command, expected), line) in bad.iter().zip(&errors) {
        assert!(line.starts_with("error: ") && line.contains(expected), "{command}: {line}");
    }
    // Every command after a bad one still ran.
    let sevens = run.stdout.lines().filter(|l| l.starts_with('$') && l.ends_with(" = 7")).count();
    assert_eq!(sevens, bad.len(), "{run}");
    // Once the program has exited, commands say so.
    assert_eq!(errors[bad.len()], "error: the program has exited (exit code 0)", "{run}");
    assert_eq!(errors[bad.len() + 1], "error: the program has exited (exit code 0)", "{run}");
}
