//! `oxdb`: the command-line debugger built on oxtrace.
//!
//! `oxdb PROGRAM [ARGS...]` starts a program stopped before its first
//! instruction, `oxdb -p PID` attaches to a running one; then commands come
//! from `-x` files, `-ex` arguments and an interactive prompt (see `help`).
//! `oxdb demo` compiles a small program, stops it inside a nested call and
//! shows its registers and call stack. `oxdb serve` serves a program to gdb
//! or lldb over the GDB remote protocol.

#![forbid(unsafe_code)]

mod cli;
mod commands;
mod demo;
mod ending;
mod events;
#[cfg_attr(windows, path = "host_windows.rs")]
mod host;
mod inferiors;
#[cfg_attr(windows, path = "interrupt_windows.rs")]
mod interrupt;
mod policy;
mod repl;
mod script;
#[cfg_attr(windows, path = "serve_unsupported.rs")]
mod serve;
mod session;
#[cfg_attr(windows, path = "terminal_windows.rs")]
mod terminal;

use cli::{Cli, Command};

fn main() {
    let cli = Cli::from_env();
    if let Some(Command::Demo) = cli.command {
        if let Err(e) = demo::run(&mut std::io::stdout()) {
            eprintln!("oxdb: {e}");
            std::process::exit(1);
        }
        return;
    }
    if let Some(Command::Serve(args)) = &cli.command {
        std::process::exit(serve::main(args));
    }
    std::process::exit(script::main(cli));
}
