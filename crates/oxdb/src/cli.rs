//! Command-line arguments of `oxdb`.
//!
//! `oxdb PROGRAM [ARGS...]` starts a program, `oxdb -p PID` attaches to one,
//! `oxdb --core FILE [PROGRAM]` opens a core file, `oxdb --remote HOST:PORT`
//! debugs through a GDB remote protocol stub, `oxdb serve` serves a program to
//! gdb, and `oxdb demo` runs the
//! README's demo. `-x FILE` and `-ex CMD` give
//! commands to run first (gdb spells the latter with one dash, so it is
//! accepted that way too), and `--batch` exits after them.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{CommandFactory, Parser, Subcommand};

/// A debugger built on oxtrace.
#[derive(Debug, Parser)]
#[command(name = "oxdb", version, about, args_conflicts_with_subcommands = true)]
pub struct Cli {
    /// A subcommand instead of a debugging session.
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Attach to the running process PID.
    #[arg(short = 'p', long = "pid", value_name = "PID", conflicts_with_all = ["program", "core"])]
    pub pid: Option<i32>,

    /// Debug the process a GDB remote protocol stub holds (gdbserver, `oxdb serve`, qemu -g) at HOST:PORT.
    #[arg(long = "remote", value_name = "HOST:PORT", conflicts_with_all = ["pid", "core"])]
    pub remote: Option<String>,

    /// Open a core file (an oxtrace snapshot, a kernel core dump or gdb's gcore);
    /// PROGRAM, if given, is the executable it came from.
    #[arg(long = "core", value_name = "FILE")]
    pub core: Option<PathBuf>,

    /// Run the commands in FILE first (may be repeated).
    #[arg(short = 'x', long = "command", value_name = "FILE")]
    pub scripts: Vec<PathBuf>,

    /// Run CMD first (may be repeated; also spelled `-ex`).
    #[arg(long = "ex", value_name = "CMD", allow_hyphen_values = true)]
    pub commands: Vec<String>,

    /// Exit after the -x and -ex commands, with the program's exit code (2 if a command failed).
    #[arg(long = "batch")]
    pub batch: bool,

    /// The program to start, stopped before its first instruction, and its arguments.
    #[arg(value_name = "PROGRAM", trailing_var_arg = true, allow_hyphen_values = true, num_args = 1..)]
    pub program: Vec<OsString>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Compile a small program, stop it in d() (called by c, b, a, main) and show registers and the call stack.
    Demo,
    /// Serve a program (or a running process) to gdb or lldb over the GDB remote protocol.
    Serve(ServeArgs),
}

/// Arguments of `oxdb serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// The address to listen on (port 0 picks a free port), or `unix:PATH` for a Unix domain socket
    /// (mode 0600, no TCP port). Anything but a loopback address lets other machines in.
    #[arg(long = "listen", value_name = "ADDR:PORT|unix:PATH", default_value = "127.0.0.1:0")]
    pub listen: String,

    /// Let the client start other programs (vRun), attach to other processes (vAttach) and kill them,
    /// as gdbserver's --multi. Without it the client gets only the program served.
    #[arg(long = "multi")]
    pub multi: bool,

    /// Let the client also read this file, or the files under this directory, through vFile (repeatable;
    /// `/` for every file). Without it the client reads only the program, the files it maps and their debug files.
    #[arg(long = "allow-files", value_name = "PATH")]
    pub allow_files: Vec<PathBuf>,

    /// Drop the client after SECONDS without a packet while the program is stopped (default: never, as gdbserver).
    #[arg(long = "idle-timeout", value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..))]
    pub idle_timeout: Option<u64>,

    /// Attach to the running process PID instead of starting a program.
    #[arg(short = 'p', long = "pid", value_name = "PID", conflicts_with = "program")]
    pub pid: Option<i32>,

    /// The program to start, stopped before its first instruction, and its arguments.
    #[arg(value_name = "PROGRAM", trailing_var_arg = true, allow_hyphen_values = true, num_args = 1..)]
    pub program: Vec<OsString>,
}

impl Cli {
    /// Parses the process's arguments, accepting gdb's one-dash `-ex` and `-batch`.
    pub fn from_env() -> Cli {
        Cli::from_args(std::env::args_os())
    }

    /// Parses `args` (the first is the program name). With `--core FILE
    /// PROGRAM`, options may follow PROGRAM as in gdb: a core has no program arguments.
    pub fn from_args(args: impl IntoIterator<Item = OsString>) -> Cli {
        let mut cli = Cli::parse_from(normalize(args));
        if cli.core.is_some() && cli.program.len() > 1 {
            let rest = cli.program.split_off(1);
            let more = Cli::parse_from(normalize(std::iter::once(OsString::from("oxdb")).chain(rest)));
            if !more.program.is_empty() || more.core.is_some() || more.pid.is_some() {
                Cli::command()
                    .error(clap::error::ErrorKind::ArgumentConflict, "a core file takes no program arguments")
                    .exit();
            }
            cli.commands.extend(more.commands);
            cli.scripts.extend(more.scripts);
            cli.batch |= more.batch;
        }
        cli
    }
}

/// Rewrites gdb's one-dash long options (`-ex`, `-batch`) to clap's two-dash form,
/// up to the program name (the program's own arguments are left alone).
pub fn normalize(args: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    let mut out = Vec::new();
    let mut in_options = true;
    let mut takes_value = false;
    for (i, arg) in args.into_iter().enumerate() {
        if i == 0 || !in_options {
            out.push(arg);
            continue;
        }
        if takes_value {
            takes_value = false;
            out.push(arg);
            continue;
        }
        let text = arg.to_string_lossy();
        let renamed = match text.as_ref() {
            "-ex" => Some("--ex"),
            "-batch" => Some("--batch"),
            _ => None,
        };
        match renamed {
            Some(name) => {
                takes_value = name == "--ex";
                out.push(name.into());
            }
            None => {
                takes_value =
                    matches!(text.as_ref(), "-p" | "--pid" | "--core" | "--remote" | "-x" | "--command" | "--ex");
                if text == "--" || !text.starts_with('-') {
                    in_options = false;
                }
                out.push(arg);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Cli {
        Cli::parse_from(normalize(args.iter().map(OsString::from)))
    }

    #[test]
    fn program_arguments_are_not_options() {
        let cli = parse(&["oxdb", "-ex", "bt", "--batch", "prog", "-ex", "-x"]);
        assert_eq!(cli.commands, ["bt"]);
        assert!(cli.batch);
        assert_eq!(cli.program, ["prog", "-ex", "-x"]);
    }

    #[test]
    fn options_may_follow_the_program_of_a_core() {
        let args = ["oxdb", "--batch", "--core", "x.core", "prog", "-ex", "bt", "-ex", "regs rip"];
        let cli = Cli::from_args(args.iter().map(OsString::from));
        assert_eq!(cli.program, ["prog"]);
        assert_eq!(cli.commands, ["bt", "regs rip"]);
        assert!(cli.batch);
    }

    #[test]
    fn remote_takes_an_address_and_a_local_program() {
        let cli = parse(&["oxdb", "--remote", "127.0.0.1:1234", "-ex", "bt", "prog"]);
        assert_eq!(cli.remote.as_deref(), Some("127.0.0.1:1234"));
        assert_eq!(cli.program, ["prog"]);
    }

    #[test]
    fn serve_takes_a_program_and_its_arguments() {
        let Some(Command::Serve(args)) = parse(&["oxdb", "serve", "--listen", "0.0.0.0:1234", "prog", "--x"]).command
        else {
            panic!("not serve");
        };
        assert_eq!(args.listen, "0.0.0.0:1234");
        assert_eq!(args.program, ["prog", "--x"]);
        let Some(Command::Serve(args)) = parse(&["oxdb", "serve", "--pid", "12"]).command else { panic!("not serve") };
        assert_eq!((args.pid, args.listen.as_str()), (Some(12), "127.0.0.1:0"));
        assert!(!args.multi && args.allow_files.is_empty() && args.idle_timeout.is_none());
        let line =
            ["oxdb", "serve", "--multi", "--allow-files", "/srv", "--idle-timeout", "30", "--listen", "unix:s", "p"];
        let Some(Command::Serve(args)) = parse(&line).command else { panic!("not serve") };
        assert!(args.multi);
        assert_eq!(args.allow_files, [PathBuf::from("/srv")]);
        assert_eq!((args.idle_timeout, args.listen.as_str()), (Some(30), "unix:s"));
    }

    #[test]
    fn demo_is_a_subcommand() {
        assert!(matches!(parse(&["oxdb", "demo"]).command, Some(Command::Demo)));
        assert_eq!(parse(&["oxdb", "-p", "12"]).pid, Some(12));
    }
}
