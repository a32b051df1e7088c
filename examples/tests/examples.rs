//! Every example runs against a C fixture and prints what it promises: the
//! system calls seen, coverage counts, the leak found, the crash's frame, the
//! hottest function.

use std::path::{Path, PathBuf};
use std::process::Command;

/// `tests/fixtures/NAME.c` compiled with `-g` and `flags` into this test's temporary directory.
fn fixture(name: &str, flags: &[&str]) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("example-fixtures");
    let mut args = vec!["-g", "-pthread"];
    args.extend(flags);
    let out_name = format!("{name}{}", flags.concat());
    test_fixtures::compile(&dir, &format!("{name}.c"), &out_name, &test_fixtures::c_compiler(), &args, &[])
}

/// Runs the example `name` (built by `cargo test` beside this test) with `args`; returns its stdout.
fn example(name: &str, args: &[&str]) -> String {
    example_in(Path::new("."), name, args)
}

/// [`example`] run in directory `dir`.
fn example_in(dir: &Path, name: &str, args: &[&str]) -> String {
    let deps = std::env::current_exe().unwrap();
    let binary = deps.parent().unwrap().parent().unwrap().join("examples").join(name);
    let output = Command::new(&binary)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", binary.display()));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "{name} failed:\n{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    stdout
}

#[test]
fn strace_prints_each_system_call_with_its_result() {
    let program = fixture("syscalls", &["-O0"]);
    let out = example("strace", &[program.to_str().unwrap()]);
    assert!(out.lines().any(|l| l.contains("] write(0x1, 0x") && l.ends_with(" = 6")), "{out}");
    assert!(out.lines().any(|l| l.contains("] close(0xffffffff") && l.ends_with(" = -9")), "EBADF:\n{out}");
    assert!(out.lines().any(|l| l.contains("] exit_group(0x0") && l.ends_with(" = ?")), "{out}");
    assert!(out.ends_with("+++ exit code 0 +++\n"), "{out}");
}

#[test]
fn strace_names_the_system_calls_of_a_32_bit_program() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("example-fixtures");
    let program = test_fixtures::compile_m32(&dir, "syscalls.c", "syscalls-i386", &["-g", "-O0"], &[]);
    let out = example("strace", &[program.to_str().unwrap()]);
    assert!(out.lines().any(|l| l.contains("] write(0x1, 0x") && l.ends_with(" = 6")), "{out}");
    assert!(out.lines().any(|l| l.contains("] close(0xffffffff") && l.ends_with(" = -9")), "EBADF:\n{out}");
    assert!(out.lines().any(|l| l.contains("] mmap2(")), "i386's own calls:\n{out}");
    assert!(out.ends_with("+++ exit code 0 +++\n"), "{out}");
}

#[test]
fn crash_triage_of_a_32_bit_program() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("crash-i386-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let program = test_fixtures::compile_m32(&dir, "segfault.c", "segfault-i386", &["-g", "-O2"], &[]);
    let out = example_in(&dir, "crash_triage", &[program.to_str().unwrap()]);
    assert!(out.contains("got signal 11 (code 1) at address 0x10"), "{out}");
    assert!(out.lines().any(|l| l.trim_start().starts_with("eip ") && l.contains(" 0x")), "{out}");
    assert!(!out.lines().any(|l| l.trim_start().starts_with("rip ")), "{out}");
    assert!(
        out.lines().any(|l| l.starts_with("faulting instruction: 0x") && l.contains("mov dword ptr [eax],0x2a")),
        "{out}"
    );
    assert!(out.lines().any(|l| l.trim_start().starts_with("#1 0x") && l.contains(" in main+0x")), "{out}");
    let saved = out.lines().find_map(|l| l.strip_prefix("snapshot saved to ")).unwrap_or_else(|| panic!("{out}"));
    let again = example_in(&dir, "crash_triage", &["--core", saved, program.to_str().unwrap()]);
    assert!(again.lines().any(|l| l.contains("mov dword ptr [eax],0x2a")), "{again}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn coverage_counts_every_function() {
    let program = fixture("calls", &["-O2"]);
    let out = example("coverage", &[program.to_str().unwrap()]);
    let count = |name: &str| {
        out.lines()
            .find(|l| l.trim_end().ends_with(&format!("  {name}")))
            .map(|l| l.split_whitespace().next().unwrap().to_owned())
    };
    assert_eq!(count("main").as_deref(), Some("1"), "{out}");
    assert_eq!(count("tick").as_deref(), Some("5"), "{out}");
    assert!(out.lines().last().unwrap().contains("functions ran; the program"), "{out}");
}

#[test]
fn block_coverage_through_jump_pads_finds_the_blocks_int3_trackers_find() {
    for opt in ["-O0", "-O2"] {
        let program = fixture("calls", &[opt]);
        let summary = |mode: &str| {
            let out = example("coverage", &[mode, program.to_str().unwrap()]);
            let last = out.lines().last().unwrap_or_default().to_owned();
            assert!(last.contains("basic blocks ran ("), "{out}");
            let (ran, rest) = last.split_once(" of ").unwrap();
            let total = rest.split_whitespace().next().unwrap().to_owned();
            let pads: usize = rest.split_once('(').unwrap().1.split_whitespace().next().unwrap().parse().unwrap();
            (ran.to_owned(), total, pads)
        };
        let (ran, total, pads) = summary("--blocks");
        let (ran_int3, total_int3, pads_int3) = summary("--blocks-int3");
        assert_eq!((ran.as_str(), total.as_str()), (ran_int3.as_str(), total_int3.as_str()), "{opt}");
        assert!(pads > 0 && pads_int3 == 0, "{opt}: {pads} blocks through jump pads");
        assert!(ran.parse::<usize>().unwrap() > 10, "{opt}: {ran} blocks ran");
    }
}

#[test]
fn malloc_trace_finds_the_leak_and_where_it_was_made() {
    let program = fixture("leaky", &["-O0"]);
    let out = example("malloc_trace", &[program.to_str().unwrap()]);
    assert!(out.lines().any(|l| l == "calloc(0x4, 0x8) = 0x".to_owned() + l.rsplit("0x").next().unwrap()), "{out}");
    assert!(out.contains("leak: 100 bytes at 0x"), "{out}");
    let stack: Vec<&str> = out.lines().skip_while(|l| !l.starts_with("leak:")).skip(1).take(2).collect();
    assert!(stack[0].contains(" in make_leak+0x") && stack[1].contains(" in main+0x"), "{out}");
    assert!(out.contains("1 leaks, 100 bytes"), "{out}");
}

#[test]
fn crash_triage_shows_the_fault_and_its_frame() {
    let program = fixture("segfault", &["-O2"]);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("crash-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = example_in(&dir, "crash_triage", &[program.to_str().unwrap()]);
    assert!(out.starts_with("thread ") && out.contains("got signal 11 (code 1) at address 0x10"), "{out}");
    assert!(
        out.lines().any(|l| l.starts_with("faulting instruction: 0x") && l.contains("mov dword ptr [rdi],0x2a")),
        "{out}"
    );
    assert!(out.lines().any(|l| l.trim_start().starts_with("#0 0x") && l.contains(" in crash")), "{out}");
    assert!(out.lines().any(|l| l.trim_start().starts_with("#1 0x") && l.contains(" in main+0x")), "{out}");
    // The snapshot it saved tells the same story.
    let saved = out.lines().find_map(|l| l.strip_prefix("snapshot saved to ")).unwrap_or_else(|| panic!("{out}"));
    let again = example_in(&dir, "crash_triage", &["--core", saved, program.to_str().unwrap()]);
    assert!(again.lines().any(|l| l.contains("mov dword ptr [rdi],0x2a")), "{again}");
    assert!(again.lines().any(|l| l.trim_start().starts_with("#0 0x") && l.contains(" in crash")), "{again}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sampler_finds_the_hot_function() {
    let program = fixture("spin", &["-O0"]);
    // `spin 2` spins until the wall clock's second has changed twice: 1 to 2 seconds.
    let out = example("sampler", &["200", program.to_str().unwrap(), "2"]);
    // The loop is spin_once() and main() (and time() in the vdso, now and then).
    let top = out.lines().next().unwrap_or_default();
    assert!(top.ends_with("  spin_once") || top.ends_with("  main"), "{out}");
    // How many samples a busy 2-core machine gives varies: a few at least.
    let samples: u64 = out.lines().last().unwrap().split_whitespace().next().unwrap().parse().unwrap();
    assert!(samples >= 10, "{out}");
}
