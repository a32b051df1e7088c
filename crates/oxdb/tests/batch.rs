//! Batch mode: commands from -ex and -x against the C fixtures.

use crate::support::{batch, fixture, gdb, gdb_args, is_address, oxdb};

#[test]
fn break_continue_backtrace_registers_memory_disassembly_print() {
    let run = batch(
        "calls",
        &[
            // The entry (`*`), not after the prologue: the disassembly below starts at `push rbp`.
            "break *d",
            "continue",
            "bt",
            "regs",
            "regs rdi",
            "x $rsp 32",
            "x/2gx $sp",
            "dis",
            "p $rdi + 1",
            "p d",
            "print/x 1",
        ],
        &[],
    );
    assert_eq!(run.code, Some(0), "{run}");
    let hit = run.lines_with("breakpoint 1 hit at ");
    assert_eq!(hit.len(), 1, "{run}");
    assert!(hit[0].ends_with(" in d from calls"), "{run}");
    // One frame a line, innermost first, with the module.
    for (n, name) in ["d", "c", "b", "a", "main"].iter().enumerate() {
        let line =
            run.lines_starting(&format!("#{n} ")).first().copied().unwrap_or_else(|| panic!("no frame {n}:\n{run}"));
        let words: Vec<&str> = line.split_whitespace().collect();
        assert!(is_address(words[1]), "{line}");
        assert_eq!(words[2], "in", "{line}");
        if n == 0 {
            assert_eq!(words[3], "d", "no +0x0 for a zero offset: {line}");
        } else {
            assert!(words[3].starts_with(&format!("{name}+0x")), "{line}");
        }
        assert!(line.ends_with(" from calls"), "{line}");
    }
    // d(4): the argument is in rdi.
    assert!(run.stdout.lines().any(|l| l == "rdi       0x0000000000000004  4"), "{run}");
    for reg in ["rax", "rsp", "rip", "eflags", "r15"] {
        assert!(!run.lines_starting(&format!("{reg} ")).is_empty(), "{reg}:\n{run}");
    }
    // Hex and ASCII, 16 bytes a line, then typed quadwords.
    let dump: Vec<&str> = run.stdout.lines().filter(|l| l.contains(": ") && l.ends_with('|')).collect();
    assert_eq!(dump.len(), 2, "{run}");
    assert!(is_address(&dump[0][..18]), "{run}");
    let quads: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| {
            l.split_whitespace().count() == 3 && l.ends_with(|c: char| c.is_ascii_hexdigit()) && l.starts_with("0x")
        })
        .collect();
    assert!(!quads.is_empty(), "{run}");
    // Disassembly around pc marks pc; the call targets and globals have symbols.
    let pc_line = run.lines_starting("=> ");
    assert_eq!(pc_line.len(), 1, "{run}");
    assert!(pc_line[0].contains(" <d>: push rbp"), "{run}");
    assert!(run.stdout.contains("<counter>"), "a RIP-relative global is named:\n{run}");
    assert!(run.stdout.lines().any(|l| l == "$1 = 5"), "{run}");
    assert!(run.stdout.lines().any(|l| l.starts_with("$2 = {long (long)} 0x") && l.ends_with(" <d>")), "{run}");
    assert!(run.stdout.lines().any(|l| l == "$3 = 0x1"), "{run}");
}

#[test]
fn conditional_breakpoints_stop_only_when_true() {
    let run = batch("calls", &["break tick if $rdi == 3", "continue", "p $rdi", "breakpoints", "continue"], &[]);
    assert_eq!(run.code, Some(0), "{run}");
    assert_eq!(run.lines_with("breakpoint 1 hit").len(), 1, "{run}");
    assert!(run.stdout.lines().any(|l| l == "$1 = 3"), "{run}");
    assert!(run.lines_with("hits 1  if $rdi == 3").len() == 1, "{run}");
    assert!(run.stdout.contains("exited with code 0"), "{run}");
}

#[test]
fn one_time_breakpoints_stop_once() {
    let run = batch("calls", &["tbreak tick", "continue", "p $rdi", "breakpoints", "continue"], &[]);
    assert_eq!(run.code, Some(0), "{run}");
    assert_eq!(run.lines_with("hit at").len(), 1, "{run}");
    assert!(run.stdout.lines().any(|l| l == "$1 = 0"), "{run}");
    assert!(run.stdout.contains("no breakpoints or watchpoints"), "{run}");
}

#[test]
fn commands_run_at_each_hit_from_a_script_file() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("oxdb-scripts");
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join(format!("commands-{}.oxdb", std::process::id()));
    std::fs::write(
        &script,
        "# print each argument of tick\nbreak tick\ncommands\n  p $rdi\n  continue\nend\ncontinue\n",
    )
    .unwrap();
    let program = fixture("calls");
    let run = oxdb(&["--batch", "-x", script.to_str().unwrap(), program.to_str().unwrap()]);
    assert_eq!(run.code, Some(0), "{run}");
    for i in 0..5 {
        assert!(run.stdout.lines().any(|l| l == format!("${} = {i}", i + 1)), "tick({i}):\n{run}");
    }
    assert_eq!(run.lines_with("breakpoint 1 hit").len(), 5, "{run}");
    assert!(run.stdout.contains("exited with code 0"), "{run}");
}

#[test]
fn inline_commands_and_chains() {
    let run = batch("calls", &["break *c && commands 1 bt; regs rdi", "continue && p 7"], &[]);
    assert_eq!(run.code, Some(0), "{run}");
    assert!(run.stdout.lines().any(|l| l == "$1 = 7"), "{run}");
    assert!(
        run.lines_starting("#0 ").iter().any(|l| l.contains(" in c (") && l.ends_with(" (calls.c:10) from calls")),
        "{run}"
    );
    assert!(run.lines_starting("rdi ").len() == 1, "{run}");
}

#[test]
fn hardware_watchpoints_report_old_and_new_values() {
    // The address form: 8 bytes at an address, reported raw.
    let run = batch("calls", &["watch -s 8 &counter", "continue", "breakpoints"], &[]);
    assert_eq!(run.code, Some(0), "{run}");
    let hit = run.lines_with("watchpoint 1 (write) at 0x");
    assert_eq!(hit.len(), 1, "{run}");
    // d(4) adds 4 to counter.
    assert!(hit[0].contains(": 0x0 -> 0x4, by 0x") && hit[0].contains(" in d+0x"), "{}", hit[0]);
    assert!(run.stdout.contains("watch-write"), "{run}");
}

#[test]
fn next_and_step_go_by_source_lines() {
    let run = batch("stacks", &["break *middle", "continue", "next", "next", "continue"], &["leaf"]);
    let sources: Vec<&str> = run.stdout.lines().filter(|l| l.contains('\t')).collect();
    assert!(sources.len() == 2 && sources[0].ends_with("int r = inner(x + 1);"), "{run}");
    assert!(sources[1].ends_with("return r * 2 + sink;"), "inner() ran over:\n{run}");
    let run = batch("stacks", &["break *middle", "continue", "next", "step", "step", "bt"], &["leaf"]);
    assert!(run.stdout.lines().any(|l| l.ends_with("\t    stop_here(x);")), "{run}");
    assert!(run.lines_starting("#0 ").iter().any(|l| l.contains(" in inner+0x")), "{run}");
    assert_eq!(run.code, Some(0), "{run}");
}

#[test]
fn stepi_next_and_finish() {
    // Ten instructions from a's entry go through its call into b...
    let run = batch("calls", &["break a", "continue", "stepi 10"], &[]);
    assert!(run.stdout.lines().any(|l| l.contains(" in b from calls: push rbp")), "{run}");
    // ...nexti runs the call to its return instead...
    let run = batch("calls", &["break a", "continue", "nexti 10"], &[]);
    assert!(!run.stdout.lines().any(|l| l.contains(" in b")), "{run}");
    assert!(run.stdout.lines().any(|l| l.contains(" in a+0x") && l.contains(": call ")), "{run}");
    assert!(run.stdout.lines().any(|l| l.contains(" in a+0x") && l.ends_with(": ret")), "{run}");
    // ...and finish returns to the caller.
    let run = batch("calls", &["break d", "continue", "finish", "bt"], &[]);
    let located =
        run.stdout.lines().find(|l| l.starts_with("0x") && l.contains(" in c+0x")).unwrap_or_else(|| panic!("{run}"));
    assert!(is_address(&located[..18]), "{located}");
    assert!(run.lines_starting("#0 ").iter().any(|l| l.contains(" in c+0x")), "{run}");
    assert_eq!(run.code, Some(0), "{run}");
}

#[test]
fn threads_are_listed_selected_and_unwound() {
    let run = batch("threads", &["break *work", "continue", "threads", "bt all"], &["3", "50"]);
    assert_eq!(run.code, Some(0), "{run}");
    assert!(run.stdout.contains("new thread "), "{run}");
    let listed: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.starts_with("* ") || l.starts_with("  "))
        .filter(|l| l.contains(" 0x"))
        .collect();
    assert!(listed.len() >= 2, "{run}");
    let current = listed.iter().find(|l| l.starts_with("* ")).unwrap();
    assert!(current.ends_with(" in work from threads"), "{run}");
    assert!(run.lines_starting("thread ").len() >= 2, "bt all shows each thread:\n{run}");
    // `thread 1` selects the first thread listed (the main thread) by its number.
    let run = batch("threads", &["break work", "continue", "thread 1", "delete", "continue"], &["3", "50"]);
    let pid = run.stdout.split_whitespace().nth(1).unwrap().trim_end_matches(']').to_owned();
    assert!(run.stdout.contains(&format!("thread {pid} at 0x")), "{run}");
    assert!(run.stdout.contains("exited with code 0"), "{run}");
}

#[test]
fn batch_exits_with_the_program_exit_code_or_2_on_error() {
    let run = batch("exitcode", &["continue"], &["7"]);
    assert_eq!(run.code, Some(7), "{run}");
    assert!(run.stdout.contains("exited with code 7"), "{run}");
    let run = batch("exitcode", &["continue", "continue"], &["abort"]);
    assert!(run.stdout.contains("signal SIGABRT (6)"), "{run}");
    assert!(run.stdout.contains("killed by signal SIGABRT (6)"), "{run}");
    assert_eq!(run.code, Some(128 + 6), "{run}");
    let run = batch("exitcode", &["regs nosuch", "continue"], &["7"]);
    assert_eq!(run.code, Some(2), "{run}");
    let run = oxdb(&["--batch", "--core", "core.1"]);
    assert_eq!(run.code, Some(2), "{run}");
    assert_eq!(run.stderr.trim(), "error: core.1: No such file or directory (os error 2)", "{run}");
    let run = oxdb(&["--batch", "/nonexistent/program"]);
    assert_eq!(run.code, Some(2), "{run}");
    assert_eq!(run.stderr.lines().count(), 1, "{run}");
}

#[test]
fn memory_search_maps_symbols_and_settings() {
    let run = batch(
        "calls",
        &[
            "break tick",
            "continue",
            "search OXTRACE_MARKER",
            "search -x 52 4f 44 41 54 41",
            "search -r MARK[E]R_[0-9]+",
            "maps rip",
            "modules",
            "syms ^codefn$",
            "sym tick+2",
            "addr calls.counter",
            "x/s marker",
            "write marker \"oxdb\"",
            "x/s marker",
            "set rax = 0x1234",
            "regs rax",
            "set xmm1 = 0x00112233445566778899aabbccddeeff",
            "regs sse avx debug x87",
            "var answer 42",
            "eval answer * 2",
            "mode",
            "meta ExeName",
            "signal",
            "handle SIGUSR1 nostop noprint",
            "frame 1",
            "info frame",
            "up",
            "down",
            "status",
        ],
        &[],
    );
    assert_eq!(run.code, Some(0), "{run}");
    assert!(run.stdout.contains("1 match(es)"), "{run}");
    assert!(!run.lines_with("[calls]").is_empty(), "{run}");
    assert!(run.lines_starting("0x").iter().any(|l| l.contains(" r-xp ") && l.ends_with("/calls")), "{run}");
    assert!(run.lines_starting("0x").iter().filter(|l| l.contains(" libc ")).count() == 1, "{run}");
    assert!(run.stdout.lines().any(|l| l.ends_with(" calls.codefn")), "{run}");
    assert!(run.stdout.lines().any(|l| l.contains(" in tick+0x2 from calls [r-xp calls]")), "{run}");
    assert!(run.stdout.contains("\"OXTRACE_MARKER_1234567\""), "{run}");
    assert!(run.stdout.contains("\"oxdbACE_MARKER_1234567\""), "{run}");
    assert!(run.stdout.lines().any(|l| l == "rax       0x0000000000001234  4660"), "{run}");
    assert!(run.stdout.lines().any(|l| l == "0x54 (84)"), "{run}");
    assert!(run.stdout.lines().any(|l| l == "xmm1      0x00112233445566778899aabbccddeeff"), "{run}");
    for reg in ["mxcsr ", "ymm15 ", "dr7 ", "st0 ", "fctrl "] {
        assert_eq!(run.lines_starting(reg).len(), 1, "{reg}:\n{run}");
    }
    assert!(run.stdout.contains("RunForever  off"), "{run}");
    assert!(run.stdout.contains("ExeName = "), "{run}");
    assert!(run.stdout.contains("no pending signal"), "{run}");
    assert!(run.stdout.lines().any(|l| l.split_whitespace().eq(["SIGUSR1", "No", "No", "Yes"])), "{run}");
    assert!(run.lines_starting("#1 ").iter().any(|l| l.contains(" in main+0x")), "{run}");
    assert!(run.lines_starting("#2 ").len() == 1, "up goes to frame 2:\n{run}");
    assert!(run.stdout.contains("stopped, 1 thread(s); thread "), "{run}");
}

#[test]
fn attach_break_and_detach() {
    use std::io::BufRead;
    let program = fixture("sleeper");
    let mut child = std::process::Command::new(&program)
        .arg("100")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start sleeper");
    let mut reader = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while !line.starts_with("ready") {
        line.clear();
        assert!(reader.read_line(&mut line).unwrap() > 0, "sleeper ended early");
    }
    let pid = child.id().to_string();
    let run = oxdb(&["--batch", "-p", &pid, "-ex", "break *tick", "-ex", "continue", "-ex", "bt", "-ex", "detach"]);
    assert_eq!(run.code, Some(0), "{run}");
    assert!(run.stdout.starts_with(&format!("[process {pid}] attached, stopped at 0x")), "{run}");
    assert!(
        run.lines_starting("#0 ")
            .iter()
            .any(|l| l.contains(" in tick (") && l.ends_with(" (sleeper.c:13) from sleeper")),
        "{run}"
    );
    assert!(run.stdout.contains(&format!("[process {pid}] detached")), "{run}");
    // Detached, it runs on to its end.
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(7));
}

/// `print NAME` of a global variable shows its value, as gdb's `print` does
/// on the same program at the same place.
#[test]
fn print_shows_global_variables_as_gdb_does() {
    let prints = ["print counter", "print marker", "print rodata_marker"];
    let run = batch("calls", &["break tick", "continue", prints[0], prints[1], prints[2]], &[]);
    let program = fixture("calls");
    let gdb_commands = ["break tick", "run", prints[0], prints[1], prints[2]];
    let mut args = gdb_args(&gdb_commands);
    let program_text = program.display().to_string();
    args.push(&program_text);
    let native = gdb(&args);
    // Both print `$N = VALUE`, numbered alike.
    let gdb_values: Vec<&str> = native.lines().filter(|l| l.starts_with('$')).collect();
    let ours: Vec<&str> = run.stdout.lines().filter(|l| l.starts_with('$')).collect();
    assert_eq!(gdb_values.len(), 3, "{native}");
    assert_eq!(ours, gdb_values, "{run}\n--- gdb\n{native}");
    assert!(run.stdout.contains("$2 = \"OXTRACE_MARKER_1234567\""), "{run}");
}
