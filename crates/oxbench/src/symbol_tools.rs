//! The symbol rows: loading symbols for a program and libc, a 1,000-frame
//! backtrace, and address-to-symbol lookups; oxtrace and gdb on the same files.
//!
//! Each returns operations per second. gdb's figures subtract the time of the
//! same session without the measured work (its start-up and the debuggee's run).

use std::process::Command;
use std::time::Instant;

use oxtrace::symbols::ElfImage;
use oxtrace::{EventKind, Trace};

use crate::programs::Programs;
use crate::tools::{time_command, Rate};
use crate::Workload;

/// How deep the backtrace benchmark's debuggee recurses.
pub const STACK_DEPTH: u64 = 1000;

/// Symbol loads, backtraces and lookups measured per figure.
const LOADS: u32 = 10;
const BACKTRACES: u32 = 20;
const LOOKUPS: u64 = 2000;

/// Addresses spread over libc's functions, the same for both tools.
fn lookup_addresses(libc: &ElfImage, n: u64) -> Vec<u64> {
    let functions: Vec<u64> = libc.symbols().symbols().iter().filter(|s| s.size > 8).map(|s| s.addr + 5).collect();
    (0..n).map(|i| functions[(i as usize * 7919) % functions.len()]).collect()
}

/// oxtrace, through its public API.
pub fn oxtrace(workload: Workload, programs: &Programs) -> Rate {
    let err = |e: oxtrace::Error| e.to_string();
    match workload {
        Workload::SymbolLoad => {
            let start = Instant::now();
            for _ in 0..LOADS {
                let program = ElfImage::load(&programs.target).map_err(err)?;
                let libc = ElfImage::load(&programs.libc).map_err(err)?;
                // One name and one line lookup, as gdb answers them below.
                let malloc = libc.symbols().by_name("malloc").ok_or("libc has no malloc")?.addr;
                let _ = libc.lines().and_then(|l| l.location(malloc));
                program.symbols().by_name("target").ok_or("no symbol target")?;
            }
            Ok(f64::from(LOADS) / start.elapsed().as_secs_f64())
        }
        Workload::Backtrace => {
            let mut command = Command::new(&programs.stack);
            command.arg(STACK_DEPTH.to_string());
            let mut trace = Trace::spawn(command).map_err(err)?;
            let bottom = trace.sym_by_name("bottom").map_err(err)?;
            let event = trace.run_until(bottom).map_err(err)?;
            if !matches!(event.kind, EventKind::Breakpoint { .. } | EventKind::Step) {
                return Err(format!("expected to stop in bottom, got {event}"));
            }
            let first = trace.backtrace(event.tid).map_err(err)?;
            if first.len() < STACK_DEPTH as usize {
                return Err(format!("a backtrace of {} frames, not {STACK_DEPTH}", first.len()));
            }
            let start = Instant::now();
            for _ in 0..BACKTRACES {
                trace.backtrace(event.tid).map_err(err)?;
            }
            Ok(f64::from(BACKTRACES) / start.elapsed().as_secs_f64())
        }
        Workload::Lookup => {
            let libc = ElfImage::load(&programs.libc).map_err(err)?;
            let addrs = lookup_addresses(&libc, LOOKUPS);
            let start = Instant::now();
            let found = addrs.iter().filter(|&&a| libc.symbols().by_addr(a).is_some()).count();
            let elapsed = start.elapsed().as_secs_f64();
            if found as u64 != LOOKUPS {
                return Err(format!("{found} of {LOOKUPS} addresses found"));
            }
            Ok(LOOKUPS as f64 / elapsed)
        }
        _ => Err("n/a".into()),
    }
}

/// gdb in batch mode on the same files and process.
pub fn gdb(workload: Workload, programs: &Programs) -> Rate {
    let script = programs.target.with_file_name(format!("symbols-{}.gdb", std::process::id()));
    let session = |args: &[&str], commands: &[String]| -> Result<f64, String> {
        let text = format!("set pagination off\nset confirm off\n{}\n", commands.join("\n"));
        std::fs::write(&script, text).map_err(|e| e.to_string())?;
        let mut command = Command::new("gdb");
        command.args(["-nx", "-q", "-batch", "-x"]).arg(&script).args(args);
        time_command(&mut command)
    };
    let libc = programs.libc.display().to_string();
    let target = programs.target.display().to_string();
    match workload {
        Workload::SymbolLoad => {
            let load = [
                format!("file {target}"),
                format!("add-symbol-file {libc}"),
                "info address malloc".into(),
                "info line malloc".into(),
                "info address target".into(),
            ];
            let mut elapsed = 0.0;
            for _ in 0..LOADS {
                elapsed += session(&[], &load)? - session(&[], &[])?;
            }
            Ok(f64::from(LOADS) / elapsed.max(1e-9))
        }
        Workload::Backtrace => {
            let stack = programs.stack.display().to_string();
            let depth = STACK_DEPTH.to_string();
            let setup = vec!["break bottom".to_string(), "run".into()];
            let mut work = setup.clone();
            for _ in 0..BACKTRACES {
                // Forget the frames of the last `bt`, so each one unwinds again.
                work.extend(["maintenance flush register-cache".to_string(), "bt".into()]);
            }
            let mut baseline = setup;
            for _ in 0..BACKTRACES {
                baseline.push("maintenance flush register-cache".into());
            }
            baseline.push("bt 1".into());
            let args = ["--args", &stack, &depth];
            let elapsed = session(&args, &work)? - session(&args, &baseline)?;
            Ok(f64::from(BACKTRACES) / elapsed.max(1e-9))
        }
        Workload::Lookup => {
            let image = ElfImage::load(&programs.libc).map_err(|e| e.to_string())?;
            let addrs = lookup_addresses(&image, LOOKUPS);
            let mut work = vec![format!("file {libc}"), "info symbol 0x1000".into()];
            work.extend(addrs.iter().map(|a| format!("info symbol {a:#x}")));
            let baseline = vec![format!("file {libc}"), "info symbol 0x1000".into()];
            let elapsed = session(&[], &work)? - session(&[], &baseline)?;
            Ok(LOOKUPS as f64 / elapsed.max(1e-9))
        }
        _ => Err("n/a".into()),
    }
}
