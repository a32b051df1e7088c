//! Test support: fixtures compiled at test time, and running oxdb.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};

/// A lock per fixture, so parallel tests compile each once.
fn build_lock(name: &str) -> Arc<Mutex<()>> {
    static LOCKS: OnceLock<Mutex<HashMap<String, Arc<Mutex<()>>>>> = OnceLock::new();
    LOCKS.get_or_init(Default::default).lock().unwrap().entry(name.to_owned()).or_default().clone()
}

/// `tests/fixtures/NAME.c` compiled with `-O0 -g` and frame pointers, compiled if needed.
pub fn fixture(name: &str) -> PathBuf {
    let compiler = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    compile(name, name, &compiler, &["-Wall", "-g", "-pthread", "-O0", "-fno-omit-frame-pointer"])
}

/// `tests/fixtures/NAME.c` built static for aarch64 at `-O2` (Debian's
/// gcc-aarch64-linux-gnu), to run under qemu-aarch64.
pub fn fixture_aarch64(name: &str) -> PathBuf {
    compile(name, &format!("{name}-aarch64"), "aarch64-linux-gnu-gcc", &["-Wall", "-g", "-static", "-O2"])
}

/// Compiles `tests/fixtures/NAME.c` to `OUT_NAME` in the fixture directory
/// (`COMPILER FLAGS -o OUT SOURCE`) unless it is up to date.
fn compile(name: &str, out_name: &str, compiler: &str, flags: &[&str]) -> PathBuf {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures").join(format!("{name}.c"));
    let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("oxdb-fixtures");
    let binary = out_dir.join(out_name);
    let lock = build_lock(out_name);
    let _guard = lock.lock().unwrap_or_else(|e| e.into_inner());
    let fresh = match (std::fs::metadata(&source), std::fs::metadata(&binary)) {
        (Ok(src), Ok(bin)) => bin.modified().unwrap() >= src.modified().unwrap(),
        (Err(e), _) => panic!("fixture {}: {e}", source.display()),
        _ => false,
    };
    if fresh {
        return binary;
    }
    std::fs::create_dir_all(&out_dir).unwrap();
    // Compile to a private name, then rename: other test processes never see half a binary.
    let temporary = out_dir.join(format!(".{out_name}.{}", std::process::id()));
    let output = Command::new(compiler)
        .args(flags)
        .arg("-o")
        .arg(&temporary)
        .arg(&source)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {compiler}: {e}"));
    assert!(output.status.success(), "compiling {}:\n{}", source.display(), String::from_utf8_lossy(&output.stderr));
    std::fs::rename(&temporary, &binary).unwrap();
    binary
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
