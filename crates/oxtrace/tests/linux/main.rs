//! Integration tests of oxtrace on Linux: real C fixtures (tests/fixtures/),
//! compiled at test time, driven by real ptrace. No mock of the kernel.
#![cfg(target_os = "linux")]

mod support;

mod aarch64;

mod backtraces;
mod bad_input;
mod breakpoint_kinds;
mod calls;
mod clone_in_flight;
mod displaced;
mod events;
mod expressions;
mod fuzz_elf;
mod hooks;
mod i386;
mod i386_backtraces;
mod i386_calls;
mod i386_remote;
mod i386_snapshots;
mod in_process;
mod leaving;
mod libraries;
mod lifecycle;
mod memory;
mod ms_abi_calls;
mod page_watches;
mod processes;
mod registers;
mod remote;
mod run_control;
mod signals;
mod snapshots;
mod source_steps;
mod stepping;
mod symbols;
mod threads;
mod untraced;
mod versus_gdb;
mod watchpoints;

use std::io::{PipeReader, Read};
use std::process::{Command, Stdio};

use oxtrace::{Event, EventKind, ExitStatus, Trace};
use support::{fixture, Opt};

/// Spawns a fixture with its stdout captured in a pipe.
pub fn spawn_piped(name: &str, opt: Opt, args: &[&str]) -> Trace {
    let mut command = Command::new(fixture(name, opt));
    command.args(args).stdout(Stdio::piped()).stderr(Stdio::null());
    Trace::spawn(command).expect("spawn fixture")
}

/// Spawns a fixture with stdout discarded.
pub fn spawn_quiet(name: &str, opt: Opt, args: &[&str]) -> Trace {
    let mut command = Command::new(fixture(name, opt));
    command.args(args).stdout(Stdio::null()).stderr(Stdio::null());
    Trace::spawn(command).expect("spawn fixture")
}

/// Spawns a fixture and returns the trace and a reader of its stdout.
/// The command's copy of the pipe's write end goes with the command, so the
/// reader sees end-of-file once the debuggee exits.
pub fn spawn_with_output(name: &str, opt: Opt, args: &[&str]) -> (Trace, PipeReader) {
    let (reader, writer) = std::io::pipe().expect("pipe");
    let mut command = Command::new(fixture(name, opt));
    command.args(args).stdout(writer).stderr(Stdio::null());
    (Trace::spawn(command).expect("spawn fixture"), reader)
}

/// Reads everything the debuggee wrote (call after it exited).
pub fn read_all(mut reader: PipeReader) -> String {
    let mut out = String::new();
    reader.read_to_string(&mut out).expect("read debuggee output");
    out
}

/// Runs until the process exits; returns how.
pub fn run_to_exit(trace: &mut Trace) -> ExitStatus {
    loop {
        let event = trace.run().expect("run");
        if let EventKind::Exited(status) = event.kind {
            return status;
        }
    }
}

/// Runs and expects a breakpoint hit at `addr`.
pub fn run_to_break(trace: &mut Trace, addr: u64) -> Event {
    let event = trace.run().expect("run");
    match event.kind {
        EventKind::Breakpoint { addr: hit, .. } if hit == addr => event,
        _ => panic!("expected a breakpoint at {addr:#x}, got {event:?}"),
    }
}
