//! `oxdb`: the command-line debugger built on oxtrace.
//!
//! Today it has one subcommand, `oxdb demo`, which compiles a small program,
//! stops it inside a nested call and shows its registers and call stack.

#![forbid(unsafe_code)]

mod demo;

use clap::{Parser, Subcommand};

/// A debugger built on oxtrace.
#[derive(Debug, Parser)]
#[command(name = "oxdb", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Compile a small program, stop it in d() (called by c, b, a, main) and show registers and the call stack.
    Demo,
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo => demo::run(&mut std::io::stdout()),
    };
    if let Err(e) = result {
        eprintln!("oxdb: {e}");
        std::process::exit(1);
    }
}
