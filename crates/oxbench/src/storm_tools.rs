//! The thread-storm rows: seconds for oxdb and gdb to run a program that
//! starts 10,000 short threads, each calling `f` once, at most N alive at
//! once (`storm N`), with `break f` and a `commands` block of `silent` and
//! `continue`, the same script for both. Every hit must be counted: the
//! figure is an error unless the breakpoint's hit count and the program's own
//! count of calls are both 10,000.
//!
//! oxdb is the binary built beside oxbench (`cargo build --release -p oxdb`),
//! or the one `$OXDB` names.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::programs::Programs;
use crate::tools::Rate;

/// Threads in all.
pub const THREADS: u64 = 10_000;
/// The longest a figure may take.
const LIMIT: Duration = Duration::from_secs(900);

/// The oxdb script, one command a line.
const OXDB_SCRIPT: &str = "break f\ncommands\nsilent\ncontinue\nend\ncontinue\nbreakpoints\n";
/// The gdb script, the same session.
const GDB_SCRIPT: &str = "set pagination off\nset print thread-events off\nbreak f\ncommands\nsilent\ncontinue\nend\n\
                          run\ninfo breakpoints\n";

/// Which debugger is timed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Debugger {
    /// oxdb in batch mode.
    Oxdb,
    /// gdb in batch mode.
    Gdb,
}

/// Seconds `debugger` takes over the storm with `alive` threads alive at once.
pub fn measure(debugger: Debugger, programs: &Programs, alive: u64) -> Rate {
    let (mut command, script, counted) = match debugger {
        Debugger::Oxdb => {
            let oxdb = oxdb_binary()?;
            let script = programs.storm.with_file_name(format!("storm-{}.oxdb", std::process::id()));
            let mut command = Command::new(oxdb);
            command.arg("--batch").arg("-x").arg(&script).arg(&programs.storm).arg(alive.to_string());
            (command, (script, OXDB_SCRIPT), format!("hits {THREADS}"))
        }
        Debugger::Gdb => {
            let script = programs.storm.with_file_name(format!("storm-{}.gdb", std::process::id()));
            let mut command = Command::new("gdb");
            command.args(["-nx", "-batch", "-x"]).arg(&script).arg("--args");
            command.arg(&programs.storm).arg(alive.to_string());
            (command, (script, GDB_SCRIPT), format!("already hit {THREADS} times"))
        }
    };
    std::fs::write(&script.0, script.1).map_err(|e| format!("{}: {e}", script.0.display()))?;
    let timed = run_limited(&mut command);
    let _ = std::fs::remove_file(&script.0);
    let (seconds, output) = timed?;
    if !output.contains(&counted) || !output.contains(&format!("calls {THREADS}")) {
        let tail: String = output.lines().rev().take(5).collect::<Vec<_>>().join(" | ");
        return Err(format!("not every hit counted (wanted {counted:?} and calls {THREADS}): {tail}"));
    }
    Ok(seconds)
}

/// The oxdb binary: `$OXDB`, or the one beside this program.
fn oxdb_binary() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("OXDB") {
        return Ok(PathBuf::from(path));
    }
    let beside = std::env::current_exe().map_err(|e| e.to_string())?.with_file_name("oxdb");
    match beside.exists() {
        true => Ok(beside),
        false => Err(format!("no oxdb at {} (cargo build --release -p oxdb, or set OXDB)", beside.display())),
    }
}

/// Runs a command to its end within [`LIMIT`]; its time and output (stdout and stderr).
fn run_limited(command: &mut Command) -> Result<(f64, String), String> {
    let out = tempfile(".out")?;
    let file = std::fs::File::create(&out).map_err(|e| e.to_string())?;
    let err = file.try_clone().map_err(|e| e.to_string())?;
    let start = Instant::now();
    let mut child = command.stdin(Stdio::null()).stdout(file).stderr(err).spawn().map_err(|e| e.to_string())?;
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break status;
        }
        if start.elapsed() > LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            let _ = std::fs::remove_file(&out);
            return Err(format!("over {} s", LIMIT.as_secs()));
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let seconds = start.elapsed().as_secs_f64();
    let output = std::fs::read_to_string(&out).unwrap_or_default();
    let _ = std::fs::remove_file(&out);
    if !status.success() {
        return Err(format!("{command:?} failed: {status}"));
    }
    Ok((seconds, output))
}

/// A file name of this process's own in the temporary directory.
fn tempfile(suffix: &str) -> Result<PathBuf, String> {
    Ok(std::env::temp_dir().join(format!("oxbench-storm-{}{suffix}", std::process::id())))
}
