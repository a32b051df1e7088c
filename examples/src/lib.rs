//! The examples of oxtrace live in this package (`cargo run --example NAME`):
//! `strace`, `coverage`, `malloc_trace`, `crash_triage` and `sampler`. This
//! library holds only what they share: reading a command line.

#![forbid(unsafe_code)]

use std::process::Command;

/// The program to run and its arguments, from this example's command line
/// (after the options the example took); exits with a usage line when there is none.
pub fn program_from_args(args: &[String], usage: &str) -> Command {
    let Some((program, rest)) = args.split_first() else {
        eprintln!("usage: {usage}");
        std::process::exit(2);
    };
    let mut command = Command::new(program);
    command.args(rest);
    command
}
