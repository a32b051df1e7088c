//! oxdb end to end: the binary run in batch mode against C fixtures, the
//! `demo` subcommand, the prompt driven through a terminal by tmux, and
//! `oxdb serve` driven by gdb, lldb and a raw protocol client. Linux only:
//! the Windows build's tests are in `windows.rs`.
#![cfg(target_os = "linux")]

mod batch;
mod break_commands;
mod change;
mod demo;
mod errors;
mod i386;
mod languages;
mod leaving;
mod locations;
mod processes;
mod remote;
mod repl;
mod restart;
mod serve;
mod serve_access;
mod snapshots;
mod stepping;
mod storm;
mod support;
mod tracepoints;
mod values;
