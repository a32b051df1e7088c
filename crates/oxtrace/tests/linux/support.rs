//! Test support: fixtures compiled at test time, and small /proc readers.

use std::collections::HashMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};

/// Optimisation level of a fixture build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Opt {
    /// `-O0 -fno-omit-frame-pointer`
    O0,
    /// `-O2 -fomit-frame-pointer`
    O2,
}

impl Opt {
    fn flags(self) -> &'static [&'static str] {
        match self {
            Opt::O0 => &["-O0", "-fno-omit-frame-pointer"],
            Opt::O2 => &["-O2", "-fomit-frame-pointer"],
        }
    }

    fn suffix(self) -> &'static str {
        match self {
            Opt::O0 => "O0",
            Opt::O2 => "O2",
        }
    }
}

/// A lock per fixture build.
type BuildLocks = Mutex<HashMap<(String, Opt), Arc<Mutex<()>>>>;

/// One lock per fixture build, so parallel tests compile each once.
fn build_lock(key: (String, Opt)) -> Arc<Mutex<()>> {
    static LOCKS: OnceLock<BuildLocks> = OnceLock::new();
    LOCKS.get_or_init(Default::default).lock().unwrap().entry(key).or_default().clone()
}

/// The path of `tests/fixtures/NAME.c` compiled at `opt`, compiling it if needed.
pub fn fixture(name: &str, opt: Opt) -> PathBuf {
    build_fixture(name, opt, &[], "")
}

/// `tests/fixtures/NAME.c` built as the shared library `libNAME.so` at `opt`.
pub fn fixture_library(name: &str, opt: Opt) -> PathBuf {
    build_fixture(name, opt, &["-shared", "-fPIC"], "lib")
}

fn build_fixture(name: &str, opt: Opt, extra: &[&str], prefix: &str) -> PathBuf {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures").join(format!("{name}.c"));
    let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fixtures");
    let binary = match prefix {
        "" => out_dir.join(format!("{name}-{}", opt.suffix())),
        _ => out_dir.join(opt.suffix()).join(format!("{prefix}{name}.so")),
    };
    let lock = build_lock((format!("{prefix}{name}"), opt));
    let _guard = lock.lock().unwrap_or_else(|e| e.into_inner());
    let fresh = match (std::fs::metadata(&source), std::fs::metadata(&binary)) {
        (Ok(src), Ok(bin)) => bin.modified().unwrap() >= src.modified().unwrap(),
        (Err(e), _) => panic!("fixture {}: {e}", source.display()),
        _ => false,
    };
    if fresh {
        return binary;
    }
    std::fs::create_dir_all(binary.parent().unwrap()).unwrap();
    // Compile to a private name, then rename: other test processes never see half a binary.
    let temporary = out_dir.join(format!(".{prefix}{name}-{}.{}", opt.suffix(), std::process::id()));
    let compiler = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let output = Command::new(&compiler)
        .args(["-Wall", "-g", "-pthread"])
        .args(opt.flags())
        .args(extra)
        .arg("-o")
        .arg(&temporary)
        .arg(&source)
        .arg("-ldl")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {compiler}: {e}"));
    assert!(output.status.success(), "compiling {}:\n{}", source.display(), String::from_utf8_lossy(&output.stderr));
    std::fs::rename(&temporary, &binary).unwrap();
    binary
}

/// Whether gdb is installed.
pub fn gdb_available() -> bool {
    Command::new("gdb").arg("--version").output().is_ok_and(|o| o.status.success())
}

/// Runs `gdb -nx -q --batch ARGS` and returns its stdout and stderr.
pub fn gdb_batch(args: &[&str]) -> String {
    let output = Command::new("gdb").args(["-nx", "-q", "--batch"]).args(args).output().expect("run gdb");
    String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr)
}

/// Reads lines until one starts with `prefix`; returns it (without the newline).
pub fn wait_for_line(reader: &mut impl BufRead, prefix: &str) -> String {
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        let n = reader.read_line(&mut line).expect("read output");
        assert!(n > 0, "end of output before a line starting with {prefix:?}; read:\n{seen}");
        if line.starts_with(prefix) {
            return line.trim_end().to_owned();
        }
        seen.push_str(&line);
    }
}

/// The state letter of a process or thread from /proc (`R`, `S`, `t`, `Z`...), or None if it is gone.
pub fn process_state(pid: i32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces: the state follows the last ')'.
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

/// The pid tracing `pid` (0 when none), from /proc/PID/status.
pub fn tracer_pid(pid: i32) -> Option<i32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| l.strip_prefix("TracerPid:")).and_then(|v| v.trim().parse().ok())
}
