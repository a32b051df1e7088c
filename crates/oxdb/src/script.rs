//! Starting a session and running commands from `-x` files and `-ex`
//! arguments; `--batch` exits after them with the program's exit code
//! (128 + the signal if a signal killed it), or [`ERROR_EXIT`] if a
//! command failed or the program could not be started.

use std::io::Write;

use oxtrace::{ExitStatus, Trace};

use crate::cli::Cli;
use crate::commands::symbols::describe_addr;
use crate::repl;
use crate::session::Session;

/// The exit code of a batch run in which a command failed.
pub const ERROR_EXIT: i32 = 2;

/// Starts or attaches to the program the arguments name.
fn start(cli: &Cli, out: &mut dyn Write) -> Result<Trace, String> {
    let mut trace = if let Some(core) = &cli.core {
        let program = cli.program.first().map(std::path::Path::new);
        let trace = Trace::open_core(core, program).map_err(|e| e.to_string())?;
        let threads = trace.threads().len();
        let _ = write!(
            out,
            "[core {}] process {}, {threads} thread{}",
            core.display(),
            trace.pid(),
            if threads == 1 { "" } else { "s" }
        );
        if let Some(signal) = trace.pending_signal() {
            let _ = write!(out, ", signal {}", crate::commands::signals::signal_name(signal));
        }
        trace
    } else if let Some(addr) = &cli.remote {
        // A program named too is the stub's, as a local file: its symbols are used
        // when the stub cannot show the process's maps (qemu).
        let trace = match cli.program.first() {
            Some(program) => Trace::connect_with_program(addr, &program.to_string_lossy()),
            None => Trace::connect(addr),
        }
        .map_err(|e| e.to_string())?;
        let _ = write!(out, "[process {}] connected to {addr}", trace.pid());
        trace
    } else if let Some(pid) = cli.pid {
        let trace = Trace::attach(pid).map_err(|e| e.to_string())?;
        let _ = write!(out, "[process {pid}] attached");
        trace
    } else if let Some((program, args)) = cli.program.split_first() {
        // Address-space randomization off, as gdb starts programs (`set disable-randomization off` to keep it).
        let launch = crate::commands::restart::Launch { program: program.clone(), args: args.to_vec() };
        let trace = crate::commands::restart::spawn(&launch, true).map_err(|e| e.to_string())?;
        let _ = write!(out, "[process {}] started {}", trace.pid(), program.to_string_lossy());
        trace
    } else {
        return Err("nothing to debug: give a program (oxdb PROGRAM [ARGS...]), -p PID, or demo".into());
    };
    match trace.pc() {
        Ok(pc) => {
            let place = describe_addr(&mut trace, pc);
            let _ = writeln!(out, ", stopped at {place}");
        }
        Err(_) => {
            let _ = writeln!(out);
        }
    }
    Ok(trace)
}

/// Runs oxdb as the arguments say; returns the process exit code.
pub fn main(cli: Cli) -> i32 {
    // Before anything else: a signal that ends oxdb is then never fatal to a program it holds.
    crate::interrupt::install();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut err = std::io::stderr();
    let trace = match start(&cli, &mut out) {
        Ok(trace) => trace,
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            return ERROR_EXIT;
        }
    };
    let line_editor = if cli.batch { None } else { Some(repl::LineEditor::new()) };
    let mut session = Session::new(trace);
    if cli.core.is_none() && cli.remote.is_none() && cli.pid.is_none() {
        if let Some((program, args)) = cli.program.split_first() {
            session.inferiors.launch =
                Some(crate::commands::restart::Launch { program: program.clone(), args: args.to_vec() });
        }
    }
    'scripts: for path in &cli.scripts {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) => {
                session.errors += 1;
                let _ = writeln!(err, "error: cannot read script {}: {e}", path.display());
                continue;
            }
        };
        for line in text.lines() {
            let trimmed = line.trim();
            if trimmed.is_empty() && !session.collecting() {
                continue;
            }
            session.feed(line, &mut out, &mut err);
            if session.quit || crate::ending::requested().is_some() {
                break 'scripts;
            }
        }
        if session.collecting() {
            session.feed("end", &mut out, &mut err);
            session.errors += 1;
            let _ = writeln!(err, "error: {}: a command list was not closed with \"end\"", path.display());
        }
    }
    if !session.quit {
        for command in &cli.commands {
            if crate::ending::requested().is_some() {
                break;
            }
            session.feed(command, &mut out, &mut err);
            if session.quit {
                break;
            }
        }
    }
    let _ = out.flush();
    drop(out);
    if let Some(signal) = crate::ending::requested() {
        return end_on_signal(&mut session, signal);
    }
    if let Some(line_editor) = line_editor.filter(|_| !session.quit) {
        match line_editor {
            Ok(line_editor) => repl::run(&mut session, line_editor),
            Err(e) => eprintln!("error: {e}"),
        }
        if let Some(signal) = crate::ending::requested() {
            return end_on_signal(&mut session, signal);
        }
        session.finish();
        return 0;
    }
    let code = if session.errors > 0 {
        ERROR_EXIT
    } else {
        match session.exit_status() {
            Some(ExitStatus::Code(code)) => code,
            Some(ExitStatus::Signaled { signal, .. }) => 128 + signal,
            None => 0,
        }
    };
    session.finish();
    code
}

/// Ends the session as `quit` does after `signal` asked oxdb to end, saying
/// so on stderr; returns the exit code.
fn end_on_signal(session: &mut Session, signal: i32) -> i32 {
    let name = crate::commands::signals::signal_name(signal);
    match session.finish() {
        Some(what) => eprintln!("oxdb: {name}: {what}"),
        None => eprintln!("oxdb: {name}"),
    }
    crate::ending::exit_code(signal)
}
