//! One measurement of one tool on one workload, in this process.
//!
//! Each returns events per second. The driver runs each in a child process
//! (`oxbench measure ...`), so that every tool runs under the same CPU placement.

use std::cell::Cell;
use std::process::{Command, Stdio};
use std::rc::Rc;
use std::time::Instant;

use oxtrace::{BreakpointKind, EventKind, EventType, Mode, Trace};

use crate::programs::Programs;
use crate::python_env;
use crate::Workload;

/// The most single steps lldb is asked for in one figure.
const LLDB_MAX_STEPS: u64 = 5000;

/// Events per second, or why there is no figure.
pub type Rate = Result<f64, String>;

/// oxtrace, through its public API.
pub fn oxtrace(workload: Workload, programs: &Programs, hits: u64, steps: u64) -> Rate {
    let mut command = Command::new(programs.program(workload)?);
    command.arg(hits.to_string());
    let mut trace = Trace::spawn(command).map_err(|e| e.to_string())?;
    let target = programs.break_addr(workload);
    let count = Rc::new(Cell::new(0u64));
    let seen = count.clone();
    match workload {
        Workload::Notifier | Workload::Displaced | Workload::I386 => {
            trace.add_break_by_addr(target).map_err(|e| e.to_string())?;
            trace.register_notifier(EventType::Breakpoint, move |_, _| seen.set(seen.get() + 1));
        }
        Workload::Fast => {
            let callback = Box::new(move |_: &mut Trace, _: &oxtrace::Event| seen.set(seen.get() + 1));
            trace.add_breakpoint(target, BreakpointKind::Fast, Some(callback)).map_err(|e| e.to_string())?;
        }
        Workload::FalseCondition => {
            trace
                .add_break_if(target, move |_| {
                    seen.set(seen.get() + 1);
                    false
                })
                .map_err(|e| e.to_string())?;
        }
        Workload::SymbolLoad
        | Workload::Backtrace
        | Workload::Lookup
        | Workload::Snapshot
        | Workload::SnapshotMemory
        | Workload::Remote
        | Workload::PyCallback
        | Workload::VtraceLayer
        | Workload::Storm1
        | Workload::Storm500
        | Workload::Storm2000
        | Workload::InProcessCount
        | Workload::InProcessFalseCondition
        | Workload::InProcessTrueCondition => return Err("n/a".into()),
        Workload::SingleStep => {
            trace.run_until(target).map_err(|e| e.to_string())?;
            trace.set_mode(Mode::FastStep, true);
            let start = Instant::now();
            for _ in 0..steps {
                trace.stepi().map_err(|e| e.to_string())?;
            }
            return Ok(steps as f64 / start.elapsed().as_secs_f64());
        }
    }
    trace.set_mode(Mode::RunForever, true);
    let start = Instant::now();
    let event = trace.run().map_err(|e| e.to_string())?;
    let elapsed = start.elapsed().as_secs_f64();
    if !matches!(event.kind, EventKind::Exited(_)) || count.get() != hits {
        return Err(format!("expected {hits} hits and an exit, got {} and {event}", count.get()));
    }
    Ok(hits as f64 / elapsed)
}

/// The minimal C tracer (the same loop for every breakpoint row); with
/// `poll`, its waits poll for a while before they block, as oxtrace's do.
pub fn raw_ptrace(workload: Workload, programs: &Programs, hits: u64, steps: u64, poll: bool) -> Rate {
    let addr = format!("{:#x}", programs.break_addr(workload));
    let mut command = Command::new(&programs.raw_ptrace);
    if poll {
        command.env("RAW_PTRACE_POLL", "1");
    } else {
        command.env_remove("RAW_PTRACE_POLL");
    }
    match workload {
        Workload::SingleStep => command.args(["step", &addr, &steps.to_string()]),
        _ => command.args(["break", &addr]),
    };
    command.arg(programs.program(workload)?).arg(hits.to_string());
    let output = command.output().map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&output.stdout);
    let mut fields = text.split_whitespace().map(|f| f.parse::<f64>());
    match (fields.next(), fields.next()) {
        (Some(Ok(events)), Some(Ok(seconds))) if seconds > 0.0 => Ok(events / seconds),
        _ => Err(format!("raw_ptrace printed {text:?}")),
    }
}

/// A Python library's loop (`libdebug` or `ptrace`, the module to import), where installed.
/// The same breakpoint loop serves every breakpoint row: neither library has conditions of its own.
pub fn python(workload: Workload, programs: &Programs, hits: u64, steps: u64, module: &str) -> Rate {
    let python = python_env::interpreter(python_env::MAIN_PYTHON).ok_or("not installed")?;
    let installed = Command::new(&python).args(["-c", &format!("import {module}")]).output();
    if !installed.is_ok_and(|o| o.status.success()) {
        return Err("not installed".into());
    }
    let script = match module {
        "libdebug" => "libdebug_bench.py",
        _ => "python_ptrace_bench.py",
    };
    let mode = if workload == Workload::SingleStep { "step" } else { "break" };
    let mut command = Command::new(&python);
    command.arg(programs.target.with_file_name(script)).args([mode, &format!("{:#x}", programs.break_addr(workload))]);
    command.arg(programs.program(workload)?).args([hits.to_string(), steps.to_string()]);
    events_per_second(&mut command, script)
}

/// oxtrace from Python: its module with a callback, or a vtrace script on its vtrace layer.
pub fn python_oxtrace(workload: Workload, programs: &Programs, hits: u64) -> Rate {
    let python = python_env::interpreter(python_env::MAIN_PYTHON).ok_or("not installed")?;
    let (script, probe) = match workload {
        Workload::VtraceLayer => ("vtrace_bench.py", "import vtrace; vtrace.oxtrace"),
        _ => ("oxtrace_py_bench.py", "import oxtrace"),
    };
    if !Command::new(&python).args(["-c", probe]).output().is_ok_and(|o| o.status.success()) {
        return Err("not installed".into());
    }
    let mut command = Command::new(&python);
    command.arg(programs.target.with_file_name(script)).arg(format!("{:#x}", programs.target_addr));
    command.arg(&programs.target).arg(hits.to_string());
    events_per_second(&mut command, script)
}

/// The most hits asked of vivisect's vtrace in one figure (it manages about 700 a second).
pub const VTRACE_MAX_HITS: u64 = 2000;

/// The same vtrace script on vivisect's own vtrace.
pub fn python_vivisect(programs: &Programs, hits: u64) -> Rate {
    let python = python_env::interpreter(python_env::VIVISECT_PYTHON).ok_or("not installed")?;
    let mut command = Command::new(&python);
    command.arg(programs.target.with_file_name("vtrace_bench.py")).arg(format!("{:#x}", programs.target_addr));
    command.arg(&programs.target).arg(hits.min(VTRACE_MAX_HITS).to_string());
    events_per_second(&mut command, "vtrace_bench.py")
}

/// Runs a script that prints `<events> <seconds>`.
fn events_per_second(command: &mut Command, script: &str) -> Rate {
    let output = command.stderr(Stdio::null()).output().map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&output.stdout);
    let mut fields = text.split_whitespace().map(|f| f.parse::<f64>());
    match (fields.next(), fields.next()) {
        (Some(Ok(events)), Some(Ok(seconds))) if seconds > 0.0 => Ok(events / seconds),
        _ => Err(format!("{script} printed {text:?}")),
    }
}

/// Seconds a command takes to run to its end (output discarded).
pub fn time_command(command: &mut Command) -> Result<f64, String> {
    let start = Instant::now();
    let status = command.stdout(Stdio::null()).stderr(Stdio::null()).status().map_err(|e| e.to_string())?;
    if !status.success() {
        return Err(format!("{command:?} failed: {status}"));
    }
    Ok(start.elapsed().as_secs_f64())
}

/// gdb in batch mode: `break` + `commands`/`continue`, `condition`, `stepi N`.
/// The time of the same session without the measured work is subtracted.
pub fn gdb(workload: Workload, programs: &Programs, hits: u64, steps: u64) -> Rate {
    // `commands` blocks span lines: each session is a script file.
    let script = programs.target.with_file_name(format!("session-{}.gdb", std::process::id()));
    let session = |commands: &[String]| -> Result<f64, String> {
        let text = format!("set pagination off\nset confirm off\n{}\n", commands.join("\n"));
        std::fs::write(&script, text).map_err(|e| e.to_string())?;
        let mut command = Command::new("gdb");
        command.args(["-nx", "-q", "-batch", "-x"]).arg(&script);
        command.arg("--args").arg(programs.program(workload)?).arg(hits.to_string());
        time_command(&mut command)
    };
    let s = |c: &str| c.to_string();
    let (work, baseline, events) = match workload {
        Workload::Notifier | Workload::Fast | Workload::I386 => (
            vec![s("break target"), s("commands 1\nsilent\ncontinue\nend"), s("run")],
            vec![s("break target"), s("disable 1"), s("run")],
            hits,
        ),
        Workload::Displaced => (
            vec![format!("break *{:#x}", programs.inner_addr), s("commands 1\nsilent\ncontinue\nend"), s("run")],
            vec![format!("break *{:#x}", programs.inner_addr), s("disable 1"), s("run")],
            hits,
        ),
        Workload::FalseCondition => (
            vec![s("break target if counter < 0"), s("run")],
            vec![s("break target if counter < 0"), s("disable 1"), s("run")],
            hits,
        ),
        Workload::SingleStep => (
            vec![s("break target"), s("run"), s("delete"), format!("stepi {steps}"), s("kill")],
            vec![s("break target"), s("run"), s("delete"), s("stepi 1"), s("kill")],
            steps,
        ),
        Workload::SymbolLoad
        | Workload::Backtrace
        | Workload::Lookup
        | Workload::Snapshot
        | Workload::SnapshotMemory
        | Workload::Remote
        | Workload::PyCallback
        | Workload::VtraceLayer
        | Workload::Storm1
        | Workload::Storm500
        | Workload::Storm2000
        | Workload::InProcessCount
        | Workload::InProcessFalseCondition
        | Workload::InProcessTrueCondition => return Err("n/a".into()),
    };
    let elapsed = session(&work)? - session(&baseline)?;
    if elapsed <= 0.0 {
        return Err("gdb's session was not longer than its baseline".into());
    }
    Ok(events as f64 / elapsed)
}

/// lldb in batch mode, where installed: an auto-continuing breakpoint, a condition, `thread step-inst`.
pub fn lldb(workload: Workload, programs: &Programs, hits: u64, steps: u64) -> Rate {
    if Command::new("lldb").arg("--version").output().is_err() {
        return Err("not installed".into());
    }
    let session = |commands: &[String]| -> Result<f64, String> {
        let mut command = Command::new("lldb");
        command.arg("-b").arg("--no-lldbinit");
        for c in commands {
            command.args(["-o", c]);
        }
        command.arg("--").arg(programs.program(workload)?).arg(hits.to_string());
        time_command(&mut command)
    };
    // The single-step row's command file.
    let steps_file = std::env::temp_dir().join(format!("oxbench-lldb-steps-{}", std::process::id()));
    let s = |c: &str| c.to_string();
    let (work, baseline, events) = match workload {
        Workload::Notifier | Workload::Fast | Workload::I386 => (
            vec![s("breakpoint set -n target -G true"), s("run")],
            vec![s("breakpoint set -n target -d"), s("run")],
            hits,
        ),
        // An address breakpoint set before the launch stays unresolved in
        // lldb 14: it is set once the program stops in main.
        Workload::Displaced => (
            vec![
                s("breakpoint set -n main -o true"),
                s("run"),
                format!("breakpoint set -a {:#x} -G true", programs.inner_addr),
                s("continue"),
            ],
            vec![
                s("breakpoint set -n main -o true"),
                s("run"),
                format!("breakpoint set -a {:#x} -d", programs.inner_addr),
                s("continue"),
            ],
            hits,
        ),
        Workload::FalseCondition => (
            vec![s("breakpoint set -n target -c 'counter < 0'"), s("run")],
            vec![s("breakpoint set -n target -d"), s("run")],
            hits,
        ),
        Workload::SingleStep => {
            // lldb 14's `thread step-inst -c N` steps once: the steps are a
            // command file of single steps, fewer of them (lldb is slow at it).
            let steps = steps.min(LLDB_MAX_STEPS);
            std::fs::write(&steps_file, "thread step-inst\n".repeat(steps as usize)).map_err(|e| e.to_string())?;
            let source = format!("command source -s true {}", steps_file.display());
            (
                vec![s("breakpoint set -n target"), s("run"), source, s("kill")],
                vec![s("breakpoint set -n target"), s("run"), s("thread step-inst"), s("kill")],
                steps,
            )
        }
        Workload::SymbolLoad
        | Workload::Backtrace
        | Workload::Lookup
        | Workload::Snapshot
        | Workload::SnapshotMemory
        | Workload::Remote
        | Workload::PyCallback
        | Workload::VtraceLayer
        | Workload::Storm1
        | Workload::Storm500
        | Workload::Storm2000
        | Workload::InProcessCount
        | Workload::InProcessFalseCondition
        | Workload::InProcessTrueCondition => return Err("n/a".into()),
    };
    let elapsed = session(&work)? - session(&baseline)?;
    let _ = std::fs::remove_file(&steps_file);
    if elapsed <= 0.0 {
        return Err("lldb's session was not longer than its baseline".into());
    }
    Ok(events as f64 / elapsed)
}
