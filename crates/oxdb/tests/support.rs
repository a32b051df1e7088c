//! Test support: fixtures compiled at test time, and running oxdb.

use std::path::{Path, PathBuf};
use std::process::Command;

/// `tests/fixtures/NAME.c` compiled with `-O0 -g` and frame pointers, compiled if needed.
pub fn fixture(name: &str) -> PathBuf {
    compile(name, name, &test_fixtures::c_compiler(), &["-Wall", "-g", "-pthread", "-O0", "-fno-omit-frame-pointer"])
}

/// `tests/fixtures/NAME.c` compiled with `-O2 -g -fomit-frame-pointer`, as `NAME-O2`.
pub fn fixture_o2(name: &str) -> PathBuf {
    compile(
        name,
        &format!("{name}-O2"),
        &test_fixtures::c_compiler(),
        &["-Wall", "-g", "-pthread", "-O2", "-fomit-frame-pointer"],
    )
}

/// `tests/fixtures/NAME.cpp` compiled with `-O0 -g` by the C++ compiler.
pub fn fixture_cpp(name: &str) -> PathBuf {
    let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("oxdb-fixtures");
    test_fixtures::compile(&out_dir, &format!("{name}.cpp"), &format!("{name}-cpp"), "c++", &["-g", "-O0"], &[])
}

/// `tests/fixtures/NAME.rs` built with debug information by rustc (the toolchain running the tests).
pub fn fixture_rust(name: &str) -> PathBuf {
    let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("oxdb-fixtures");
    let flags = ["-g", "-Copt-level=0", "--edition=2021"];
    test_fixtures::compile(&out_dir, &format!("{name}.rs"), &format!("{name}-rs"), "rustc", &flags, &[])
}

/// `tests/fixtures/NAME.c` built static for aarch64 at `-O2` (Debian's
/// gcc-aarch64-linux-gnu), to run under qemu-aarch64.
pub fn fixture_aarch64(name: &str) -> PathBuf {
    compile(name, &format!("{name}-aarch64"), "aarch64-linux-gnu-gcc", &["-Wall", "-g", "-static", "-O2"])
}

/// `tests/fixtures/NAME.c` built as a 32-bit (i386) program at `-O0 -g` (`gcc -m32`).
pub fn fixture_i386(name: &str) -> PathBuf {
    let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("oxdb-fixtures");
    let flags = ["-Wall", "-g", "-pthread", "-O0", "-fno-omit-frame-pointer"];
    test_fixtures::compile_m32(&out_dir, &format!("{name}.c"), &format!("{name}-i386"), &flags, &[])
}

/// Compiles `tests/fixtures/NAME.c` into this crate's fixture directory as `OUT_NAME`.
fn compile(name: &str, out_name: &str, compiler: &str, flags: &[&str]) -> PathBuf {
    let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("oxdb-fixtures");
    test_fixtures::compile(&out_dir, &format!("{name}.c"), out_name, compiler, flags, &[])
}

/// What a run of oxdb printed and how it ended.
#[derive(Debug)]
pub struct Run {
    pub stdout: String,
    pub stderr: String,
    pub code: Option<i32>,
}

impl Run {
    /// The stdout lines that start with `prefix`.
    pub fn lines_starting(&self, prefix: &str) -> Vec<&str> {
        self.stdout.lines().filter(|l| l.starts_with(prefix)).collect()
    }

    /// The stdout lines that contain `text`.
    pub fn lines_with(&self, text: &str) -> Vec<&str> {
        self.stdout.lines().filter(|l| l.contains(text)).collect()
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {:?}\n--- stdout\n{}--- stderr\n{}", self.code, self.stdout, self.stderr)
    }
}

/// Runs `oxdb ARGS`.
pub fn oxdb(args: &[&str]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_oxdb")).args(args).output().expect("run oxdb");
    Run {
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        code: output.status.code(),
    }
}

/// Runs `oxdb --batch -ex CMD... FIXTURE ARGS...`.
pub fn batch(fixture_name: &str, commands: &[&str], program_args: &[&str]) -> Run {
    let program = fixture(fixture_name);
    let mut args: Vec<String> = vec!["--batch".into()];
    for command in commands {
        args.push("-ex".into());
        args.push((*command).into());
    }
    args.push(program.display().to_string());
    args.extend(program_args.iter().map(|a| a.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    oxdb(&args)
}

/// Whether `text` is `0x` and 16 lower-case hex digits.
pub fn is_address(text: &str) -> bool {
    text.strip_prefix("0x")
        .is_some_and(|h| h.len() == 16 && h.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()))
}

/// gdb in batch mode with `args`; its stdout and stderr.
pub fn gdb(args: &[&str]) -> String {
    let output = Command::new("gdb").args(["-nx", "-batch"]).args(args).output().expect("run gdb");
    String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr)
}

/// `-ex C` for each command.
pub fn gdb_args<'a>(commands: &'a [&'a str]) -> Vec<&'a str> {
    commands.iter().flat_map(|c| ["-ex", c]).collect()
}
