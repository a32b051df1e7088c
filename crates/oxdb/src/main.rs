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
mod inferiors;
mod interrupt;
mod policy;
mod repl;
mod script;
mod serve;
mod session;

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
