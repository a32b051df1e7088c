//! oxdb built for Windows (x86_64-pc-windows-gnu) and run under wine by
//! `scripts/test-windows`: `oxdb.exe --batch` on the mingw fixture
//! `wthreads.exe` of the windows-fixtures crate stops in a function, names
//! the frames of its call stack, shows its registers and lists its thread.
//! The expected addresses come from mingw's `nm` (the fixture's `.syms`),
//! moved to where the image was loaded (`info sharedlibrary`).
#![cfg(windows)]

use std::path::PathBuf;
use std::process::Command;

/// A fixture program of one build (`O0` or `O2`).
fn fixture(opt: &str, name: &str) -> PathBuf {
    PathBuf::from(windows_fixtures::DIR).join(opt).join(name)
}

/// The link-time address of `name` in the fixture's symbol list.
fn linked(opt: &str, name: &str) -> u64 {
    let text = std::fs::read_to_string(fixture(opt, "wthreads.syms")).expect("symbol list");
    text.lines()
        .filter_map(|l| l.split_once(' '))
        .find(|(_, n)| *n == name)
        .and_then(|(addr, _)| u64::from_str_radix(addr, 16).ok())
        .unwrap_or_else(|| panic!("{name} not in the symbol list"))
}

/// `oxdb.exe --batch` with these commands on `wthreads.exe regs` (which calls `add6`); its stdout.
fn oxdb(opt: &str, commands: &[&str]) -> String {
    let mut command = Command::new(env!("CARGO_BIN_EXE_oxdb"));
    command.arg("--batch");
    for c in commands {
        command.args(["-ex", c]);
    }
    let output = command.arg(fixture(opt, "wthreads.exe")).arg("regs").output().expect("run oxdb.exe");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "oxdb failed: {stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    stdout
}

/// The first hexadecimal number after `prefix` at the start of a line.
fn number_after(out: &str, prefix: &str) -> u64 {
    out.lines()
        .find_map(|l| l.strip_prefix(prefix))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| u64::from_str_radix(n.trim_start_matches("0x"), 16).ok())
        .unwrap_or_else(|| panic!("no line starting with {prefix:?} in:\n{out}"))
}

/// Where add6 is in the running fixture: its link-time address moved by the image's relocation.
fn add6_loaded(opt: &str, out: &str) -> u64 {
    let image = out
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some("wthreads"))
        .and_then(|l| l.split('-').next())
        .and_then(|start| u64::from_str_radix(start.trim_start_matches("0x"), 16).ok())
        .unwrap_or_else(|| panic!("no wthreads image in `info sharedlibrary`:\n{out}"));
    linked(opt, "add6") - linked(opt, "__image_base__") + image
}

#[test]
fn batch_break_continue_bt_registers_threads() {
    for opt in ["O0", "O2"] {
        let out = oxdb(opt, &["break add6", "continue", "bt", "info registers", "info threads", "info sharedlibrary"]);
        let context = format!("{opt}:\n{out}");
        let breakpoint = number_after(&out, "breakpoint 1 at");
        let add6 = add6_loaded(opt, &out);
        // `break FUNC` stops past the prologue, within the function.
        assert!(
            (add6..add6 + 0x40).contains(&breakpoint),
            "breakpoint {breakpoint:#x} not in add6 {add6:#x}: {context}"
        );
        assert!(out.contains("breakpoint 1 hit at"), "no stop at the breakpoint: {context}");
        let frames: Vec<&str> = out.lines().filter(|l| l.starts_with('#')).collect();
        assert!(frames.len() >= 2, "no call stack: {context}");
        assert!(
            frames[0].contains(" in add6") && frames[0].contains("a=") && frames[0].contains("wthreads.c:"),
            "{context}"
        );
        assert!(frames[1].contains(" in main") && frames[1].contains("wthreads.c:"), "{context}");
        assert_eq!(number_after(&out, "rip"), breakpoint, "rip is not at the breakpoint: {context}");
        // The argument registers of add6(1, 2, 3, 4, 5, 6) in the Windows x64 convention.
        assert_eq!(number_after(&out, "rcx"), 1, "{context}");
        assert_eq!(number_after(&out, "rdx"), 2, "{context}");
        let threads: Vec<&str> = out.lines().filter(|l| l.starts_with("* ")).collect();
        assert_eq!(threads.len(), 1, "one current thread in `info threads`: {context}");
        assert!(threads[0].contains(&format!("{breakpoint:#018x} in add6")), "{context}");
    }
}

#[test]
fn break_at_the_function_address_stops_with_rip_there() {
    let out = oxdb("O2", &["break *add6", "continue", "info registers", "info sharedlibrary"]);
    let add6 = add6_loaded("O2", &out);
    assert_eq!(number_after(&out, "breakpoint 1 at"), add6, "{out}");
    assert_eq!(number_after(&out, "rip"), add6, "{out}");
}

#[test]
fn demo_without_a_compiler_says_what_it_needs() {
    let output =
        Command::new(env!("CARGO_BIN_EXE_oxdb")).arg("demo").env("CC", "no-such-cc").output().expect("run oxdb.exe");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains("\"no-such-cc\"") && stderr.contains("MinGW-w64"), "{stderr}");
}

#[test]
fn serve_says_it_is_linux_only() {
    let output = Command::new(env!("CARGO_BIN_EXE_oxdb")).args(["serve", "prog.exe"]).output().expect("run oxdb.exe");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success() && stderr.contains("oxdb serve is not available"), "{stderr}");
}

#[test]
fn attach_with_p_lists_threads_and_detaches() {
    let out_file = std::env::temp_dir().join(format!("oxdb-attach-{}.txt", std::process::id()));
    let _ = std::fs::remove_file(&out_file);
    let mut child = Command::new(fixture("O0", "wthreads.exe"))
        .arg("wait")
        .arg(&out_file)
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("start wthreads.exe");
    let output = Command::new(env!("CARGO_BIN_EXE_oxdb"))
        .args(["--batch", "-p", &child.id().to_string()])
        .args(["-ex", "info threads", "-ex", "bt", "-ex", "set var released = 1", "-ex", "detach"])
        .output()
        .expect("run oxdb.exe");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let status = child.wait().expect("wait for wthreads.exe");
    let _ = child.kill();
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.lines().any(|l| l.starts_with("* ")), "no current thread: {stdout}");
    // Released by the debugger, the fixture ran on untraced to its end.
    assert!(status.success(), "{status:?}: {stdout}");
    let written = std::fs::read_to_string(&out_file).unwrap_or_default();
    let _ = std::fs::remove_file(&out_file);
    assert!(written.starts_with("done "), "{written:?}: {stdout}");
}
