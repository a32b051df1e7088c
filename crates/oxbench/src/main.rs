//! `oxbench`: oxtrace against the raw ptrace limit, gdb and lldb, on one
//! machine, in one run, as ratios.
//!
//! `cargo run --release --bin oxbench` prints a table; `--tsv` prints lines
//! `workload<TAB>tool<TAB>value<TAB>unit` instead. Every figure is measured in
//! a child process (`oxbench measure TOOL WORKLOAD`), under the same CPU
//! placement for every tool: unpinned, and pinned with `taskset -c 0` (tracer
//! and debuggee on one CPU, which is faster on a small VM). Compare within a
//! placement; ratios are to the raw ptrace loop under the same placement.

#![forbid(unsafe_code)]

mod in_process_tools;
mod programs;
mod python_env;
mod remote_tools;
mod report;
mod snapshot_tools;
mod storm_tools;
mod symbol_tools;
mod tools;

use std::path::PathBuf;
use std::process::Command;

use clap::{Parser, Subcommand, ValueEnum};

use programs::Programs;

/// What is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Workload {
    /// Breakpoint hits per second with a notifier on each hit.
    Notifier,
    /// Hits per second of a fast breakpoint (callback only).
    Fast,
    /// Hits per second with a notifier, of a breakpoint on an instruction that
    /// cannot be emulated (left out of line by oxtrace).
    Displaced,
    /// Hits per second of a breakpoint whose condition is false.
    FalseCondition,
    /// Single steps per second.
    SingleStep,
    /// Loads per second of the symbols of a program and libc (with one name and one line lookup).
    SymbolLoad,
    /// 1,000-frame backtraces per second.
    Backtrace,
    /// Address-to-symbol lookups per second.
    Lookup,
    /// GiB per second saving a process with a 1 GiB heap as a core file (attach, save, detach).
    Snapshot,
    /// Peak resident memory of the tracer while saving that core file, in MiB.
    SnapshotMemory,
    /// Breakpoint hits per second of gdb driving a remote protocol server (oxserve, gdbserver).
    Remote,
    /// Breakpoint hits per second with a Python callback (oxtrace's module, libdebug, python-ptrace).
    PyCallback,
    /// Breakpoint hits per second of one vtrace script (a `Breakpoint.notify`):
    /// on oxtrace's vtrace layer, and on vivisect's own vtrace.
    VtraceLayer,
    /// Breakpoint hits per second with a notifier, in a 32-bit (i386) build of the debuggee.
    I386,
    /// Seconds for oxdb and gdb, `break f` with `commands`/`silent`/`continue`,
    /// over 10,000 short threads, one alive at a time.
    #[value(name = "thread-storm-1")]
    Storm1,
    /// The same, at most 500 alive at once.
    #[value(name = "thread-storm-500")]
    Storm500,
    /// The same, at most 2,000 alive at once.
    #[value(name = "thread-storm-2000")]
    Storm2000,
    /// Hits per second counted by an in-process (jump pad) breakpoint, never stopping.
    InProcessCount,
    /// Hits per second of an in-process breakpoint whose compiled condition is false.
    InProcessFalseCondition,
    /// Hits per second of an in-process breakpoint whose compiled condition is true (a stop per hit).
    InProcessTrueCondition,
}

impl Workload {
    const ALL: [Workload; 20] = [
        Workload::Notifier,
        Workload::I386,
        Workload::Fast,
        Workload::Displaced,
        Workload::FalseCondition,
        Workload::SingleStep,
        Workload::SymbolLoad,
        Workload::Backtrace,
        Workload::Lookup,
        Workload::Snapshot,
        Workload::SnapshotMemory,
        Workload::Remote,
        Workload::PyCallback,
        Workload::VtraceLayer,
        Workload::Storm1,
        Workload::Storm500,
        Workload::Storm2000,
        Workload::InProcessCount,
        Workload::InProcessFalseCondition,
        Workload::InProcessTrueCondition,
    ];

    /// The threads alive at once of a thread-storm row.
    fn storm_alive(self) -> Option<u64> {
        match self {
            Workload::Storm1 => Some(1),
            Workload::Storm500 => Some(500),
            Workload::Storm2000 => Some(2000),
            _ => None,
        }
    }

    /// The in-process breakpoint rows (oxtrace's jump pads against the raw loop).
    fn is_in_process(self) -> bool {
        matches!(self, Workload::InProcessCount | Workload::InProcessFalseCondition | Workload::InProcessTrueCondition)
    }

    /// The symbol and snapshot rows, compared with gdb rather than with the raw ptrace loop.
    fn is_symbolic(self) -> bool {
        matches!(self, Workload::SymbolLoad | Workload::Backtrace | Workload::Lookup) || self.is_snapshot()
    }

    /// The snapshot rows (oxtrace's `save_snapshot` against gdb's `gcore`).
    fn is_snapshot(self) -> bool {
        matches!(self, Workload::Snapshot | Workload::SnapshotMemory)
    }

    /// Rows whose ratios are to the gdb column rather than to the raw ptrace loop
    /// (the symbol rows, and the remote row, whose gdb column is gdbserver).
    /// The rows of Python tools (oxtrace's module and vtrace layer against libdebug, python-ptrace, vtrace).
    fn is_python(self) -> bool {
        matches!(self, Workload::PyCallback | Workload::VtraceLayer)
    }

    fn is_against_gdb(self) -> bool {
        self.is_symbolic() || self == Workload::Remote || self.storm_alive().is_some()
    }

    /// The name in `--tsv` output.
    fn key(self) -> &'static str {
        match self {
            Workload::Notifier => "breakpoint-notifier",
            Workload::Fast => "breakpoint-fast",
            Workload::Displaced => "breakpoint-out-of-line",
            Workload::FalseCondition => "breakpoint-false-condition",
            Workload::SingleStep => "single-step",
            Workload::SymbolLoad => "symbol-load",
            Workload::Backtrace => "backtrace-1000",
            Workload::Lookup => "addr-to-symbol",
            Workload::Snapshot => "snapshot-1gib",
            Workload::SnapshotMemory => "snapshot-1gib-peak-rss",
            Workload::Remote => "remote-breakpoint",
            Workload::PyCallback => "python-callback",
            Workload::VtraceLayer => "vtrace-notify",
            Workload::I386 => "breakpoint-i386",
            Workload::Storm1 => "thread-storm-1",
            Workload::Storm500 => "thread-storm-500",
            Workload::Storm2000 => "thread-storm-2000",
            Workload::InProcessCount => "in-process-count",
            Workload::InProcessFalseCondition => "in-process-false-condition",
            Workload::InProcessTrueCondition => "in-process-true-condition",
        }
    }

    /// The row title of the table.
    fn title(self) -> &'static str {
        match self {
            Workload::Notifier => "breakpoint hits/s, notifier",
            Workload::Fast => "breakpoint hits/s, fast",
            Workload::Displaced => "hits/s, non-emulated insn",
            Workload::FalseCondition => "hits/s, false condition",
            Workload::SingleStep => "single steps/s",
            Workload::SymbolLoad => "symbol loads/s, prog + libc",
            Workload::Backtrace => "1,000-frame backtraces/s",
            Workload::Lookup => "addr-to-symbol lookups/s",
            Workload::Snapshot => "snapshot of 1 GiB heap, GiB/s",
            Workload::SnapshotMemory => "snapshot tracer peak RSS, MiB",
            Workload::Remote => "hits/s, gdb via RSP server",
            Workload::PyCallback => "hits/s, Python callback",
            Workload::VtraceLayer => "hits/s, vtrace bp notify",
            Workload::I386 => "hits/s, 32-bit program",
            Workload::Storm1 => "10k-thread storm, 1 alive, s",
            Workload::Storm500 => "10k-thread storm, 500 alive, s",
            Workload::Storm2000 => "10k-thread storm, 2000 alive, s",
            Workload::InProcessCount => "hits/s, in-process count",
            Workload::InProcessFalseCondition => "hits/s, in-process false cond",
            Workload::InProcessTrueCondition => "hits/s, in-process true cond",
        }
    }

    fn unit(self) -> &'static str {
        match self {
            Workload::SingleStep => "steps/s",
            Workload::SymbolLoad => "loads/s",
            Workload::Backtrace => "backtraces/s",
            Workload::Lookup => "lookups/s",
            Workload::Snapshot => "GiB/s",
            Workload::SnapshotMemory => "MiB",
            Workload::Storm1 | Workload::Storm500 | Workload::Storm2000 => "s",
            _ => "hits/s",
        }
    }
}

/// Who is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Tool {
    /// A minimal C ptrace loop: the limit.
    RawPtrace,
    /// The same loop polling before each blocking wait, as oxtrace does.
    RawPolling,
    /// This project.
    Oxtrace,
    /// GNU gdb in batch mode.
    Gdb,
    /// LLVM lldb in batch mode, where installed.
    Lldb,
    /// The Python library libdebug (breakpoint callbacks), where installed.
    Libdebug,
    /// The Python library python-ptrace, where installed.
    PythonPtrace,
    /// vivisect's vtrace (the vtrace row only), where installed.
    Vtrace,
}

impl Tool {
    const ALL: [Tool; 8] = [
        Tool::RawPtrace,
        Tool::RawPolling,
        Tool::Oxtrace,
        Tool::Gdb,
        Tool::Lldb,
        Tool::Libdebug,
        Tool::PythonPtrace,
        Tool::Vtrace,
    ];

    fn key(self) -> &'static str {
        match self {
            Tool::RawPtrace => "raw-ptrace",
            Tool::RawPolling => "raw-polling",
            Tool::Oxtrace => "oxtrace",
            Tool::Gdb => "gdb",
            Tool::Lldb => "lldb",
            Tool::Libdebug => "libdebug",
            Tool::PythonPtrace => "python-ptrace",
            Tool::Vtrace => "vtrace",
        }
    }
}

/// CPU placement of a measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Placement {
    /// Wherever the scheduler puts tracer and debuggee.
    Unpinned,
    /// Everything on CPU 0 (`taskset -c 0`).
    Pinned,
    /// Both, one after the other.
    Both,
}

#[derive(Debug, Parser)]
#[command(name = "oxbench", about = "oxtrace against the raw ptrace limit, gdb and lldb, in one run")]
struct Cli {
    #[command(subcommand)]
    command: Option<Sub>,
    /// Print `workload<TAB>tool<TAB>value<TAB>unit` lines instead of a table.
    #[arg(long)]
    tsv: bool,
    /// Breakpoint hits per breakpoint measurement.
    #[arg(long, default_value_t = 20_000)]
    hits: u64,
    /// Single steps per single-step measurement.
    #[arg(long, default_value_t = 50_000)]
    steps: u64,
    /// Measurements per figure; the median is reported.
    #[arg(long, default_value_t = 3)]
    reps: usize,
    /// CPU placement.
    #[arg(long, value_enum, default_value = "both")]
    placement: Placement,
    /// Measure only these workloads (may be repeated; default: all).
    #[arg(long, value_enum)]
    only: Vec<Workload>,
}

#[derive(Debug, Subcommand)]
enum Sub {
    /// Serve PROGRAM ARGS over the GDB remote protocol to one client (used by the remote row).
    #[command(hide = true)]
    Serve {
        program: PathBuf,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Measure one figure in this process and print it (used by the driver).
    #[command(hide = true)]
    Measure {
        #[arg(value_enum)]
        tool: Tool,
        #[arg(value_enum)]
        workload: Workload,
        dir: PathBuf,
        hits: u64,
        steps: u64,
    },
}

fn main() {
    let cli = Cli::parse();
    if let Some(Sub::Serve { program, args }) = &cli.command {
        if let Err(e) = remote_tools::serve(program, args) {
            eprintln!("oxbench serve: {e}");
            std::process::exit(1);
        }
        return;
    }
    if let Some(Sub::Measure { tool, workload, ref dir, hits, steps }) = cli.command {
        let rate = Programs::open(dir).and_then(|programs| match tool {
            _ if workload.is_snapshot() => match tool {
                Tool::Oxtrace => snapshot_tools::oxtrace(workload, &programs),
                Tool::Gdb => snapshot_tools::gdb(workload, &programs),
                _ => Err("n/a".into()),
            },
            _ if workload.is_python() => match tool {
                Tool::Oxtrace => tools::python_oxtrace(workload, &programs, hits),
                Tool::Vtrace if workload == Workload::VtraceLayer => tools::python_vivisect(&programs, hits),
                Tool::Libdebug if workload == Workload::PyCallback => {
                    tools::python(Workload::Notifier, &programs, hits, steps, "libdebug")
                }
                Tool::PythonPtrace if workload == Workload::PyCallback => {
                    tools::python(Workload::Notifier, &programs, hits, steps, "ptrace")
                }
                _ => Err("n/a".into()),
            },
            _ if workload.storm_alive().is_some() => {
                let alive = workload.storm_alive().unwrap_or(1);
                match tool {
                    Tool::Oxtrace => storm_tools::measure(storm_tools::Debugger::Oxdb, &programs, alive),
                    Tool::Gdb => storm_tools::measure(storm_tools::Debugger::Gdb, &programs, alive),
                    _ => Err("n/a".into()),
                }
            }
            _ if workload.is_in_process() => match tool {
                Tool::RawPtrace => tools::raw_ptrace(workload, &programs, hits, steps, false),
                Tool::Oxtrace => in_process_tools::oxtrace(workload, &programs, hits),
                _ => Err("n/a".into()),
            },
            _ if workload == Workload::Remote => match tool {
                Tool::Oxtrace => remote_tools::measure(remote_tools::Server::Oxserve, &programs, hits),
                Tool::Gdb => remote_tools::measure(remote_tools::Server::Gdbserver, &programs, hits),
                _ => Err("n/a".into()),
            },
            _ if workload.is_symbolic() => match tool {
                Tool::Oxtrace => symbol_tools::oxtrace(workload, &programs),
                Tool::Gdb => symbol_tools::gdb(workload, &programs),
                _ => Err("n/a".into()),
            },
            Tool::RawPtrace => tools::raw_ptrace(workload, &programs, hits, steps, false),
            Tool::RawPolling => tools::raw_ptrace(workload, &programs, hits, steps, true),
            Tool::Oxtrace => tools::oxtrace(workload, &programs, hits, steps),
            Tool::Gdb => tools::gdb(workload, &programs, hits, steps),
            Tool::Lldb => tools::lldb(workload, &programs, hits, steps),
            Tool::Libdebug => tools::python(workload, &programs, hits, steps, "libdebug"),
            Tool::PythonPtrace => tools::python(workload, &programs, hits, steps, "ptrace"),
            Tool::Vtrace => Err("n/a".into()),
        });
        match rate {
            Ok(rate) => println!("{rate}"),
            Err(e) => {
                println!("error: {e}");
                std::process::exit(1);
            }
        }
        return;
    }
    if let Err(e) = drive(&cli) {
        eprintln!("oxbench: {e}");
        std::process::exit(1);
    }
}

/// Runs every measurement as a child process and prints the results.
fn drive(cli: &Cli) -> Result<(), String> {
    let dir = std::env::temp_dir().join(format!("oxbench-{}", std::process::id()));
    Programs::build(&dir)?;
    let workloads: Vec<Workload> =
        Workload::ALL.into_iter().filter(|w| cli.only.is_empty() || cli.only.contains(w)).collect();
    // The Python rows, and the Python columns of the breakpoint and step rows.
    if workloads.iter().any(|&w| !w.is_symbolic() && w != Workload::Remote) {
        python_env::prepare();
    }
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let placements = match cli.placement {
        Placement::Both => vec![Placement::Unpinned, Placement::Pinned],
        one => vec![one],
    };
    let has_taskset = Command::new("taskset").arg("--version").output().is_ok();
    let mut results = Vec::new();
    for &placement in &placements {
        if placement == Placement::Pinned && !has_taskset {
            eprintln!("oxbench: taskset is not installed; skipping the pinned placement");
            continue;
        }
        for &workload in &workloads {
            // The storm rows take minutes: unpinned (pinned, thousands of threads share one CPU), once.
            let storm = workload.storm_alive().is_some();
            if storm && placement == Placement::Pinned {
                continue;
            }
            let reps = if storm { 1 } else { cli.reps.max(1) };
            for tool in Tool::ALL {
                let mut rates = Vec::new();
                let mut error = None;
                for _ in 0..reps {
                    let mut command = if placement == Placement::Pinned {
                        let mut c = Command::new("taskset");
                        c.args(["-c", "0"]).arg(&exe);
                        c
                    } else {
                        Command::new(&exe)
                    };
                    command.args(["measure", tool.key(), workload_arg(workload)]).arg(&dir);
                    command.args([cli.hits.to_string(), cli.steps.to_string()]);
                    let output = command.output().map_err(|e| e.to_string())?;
                    let text = String::from_utf8_lossy(&output.stdout).trim().to_string();
                    match text.parse::<f64>() {
                        Ok(rate) => rates.push(rate),
                        Err(_) => {
                            error = Some(text.trim_start_matches("error: ").to_string());
                            break;
                        }
                    }
                }
                rates.sort_by(f64::total_cmp);
                let value = match error {
                    Some(e) => Err(e),
                    None => Ok(rates[rates.len() / 2]),
                };
                if !cli.tsv {
                    eprint!(".");
                }
                results.push(report::Figure { placement, workload, tool, value });
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    if cli.tsv {
        report::print_tsv(&results);
    } else {
        eprintln!();
        report::print_table(&results, cli);
    }
    Ok(())
}

fn workload_arg(workload: Workload) -> &'static str {
    match workload {
        Workload::Notifier => "notifier",
        Workload::Fast => "fast",
        Workload::Displaced => "displaced",
        Workload::FalseCondition => "false-condition",
        Workload::SingleStep => "single-step",
        Workload::SymbolLoad => "symbol-load",
        Workload::Backtrace => "backtrace",
        Workload::Lookup => "lookup",
        Workload::Snapshot => "snapshot",
        Workload::SnapshotMemory => "snapshot-memory",
        Workload::Remote => "remote",
        Workload::PyCallback => "py-callback",
        Workload::VtraceLayer => "vtrace-layer",
        Workload::I386 => "i386",
        Workload::Storm1 => "thread-storm-1",
        Workload::Storm500 => "thread-storm-500",
        Workload::Storm2000 => "thread-storm-2000",
        Workload::InProcessCount => "in-process-count",
        Workload::InProcessFalseCondition => "in-process-false-condition",
        Workload::InProcessTrueCondition => "in-process-true-condition",
    }
}
