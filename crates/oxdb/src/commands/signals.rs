//! Signals: names, and the pending signal of the current thread (what each
//! signal does is `handle`'s table).

use std::io::Write;

use super::Args;
use crate::session::{CmdError, CmdResult, Session};

/// Linux signal numbers 1-31 and their names.
const NAMES: [&str; 31] = [
    "SIGHUP",
    "SIGINT",
    "SIGQUIT",
    "SIGILL",
    "SIGTRAP",
    "SIGABRT",
    "SIGBUS",
    "SIGFPE",
    "SIGKILL",
    "SIGUSR1",
    "SIGSEGV",
    "SIGUSR2",
    "SIGPIPE",
    "SIGALRM",
    "SIGTERM",
    "SIGSTKFLT",
    "SIGCHLD",
    "SIGCONT",
    "SIGSTOP",
    "SIGTSTP",
    "SIGTTIN",
    "SIGTTOU",
    "SIGURG",
    "SIGXCPU",
    "SIGXFSZ",
    "SIGVTALRM",
    "SIGPROF",
    "SIGWINCH",
    "SIGIO",
    "SIGPWR",
    "SIGSYS",
];

/// The name of a signal number (`SIGSEGV`, `SIGRT3`, or `SIG99`).
pub fn signal_name(signo: i32) -> String {
    match signo {
        1..=31 => NAMES[signo as usize - 1].to_owned(),
        32..=64 => format!("SIGRT{}", signo - 32),
        _ => format!("SIG{signo}"),
    }
}

/// Parses `SIGSEGV`, `segv` or `11`.
pub fn parse_signal(text: &str) -> Result<i32, CmdError> {
    if let Ok(n) = text.parse::<i32>() {
        if (1..=64).contains(&n) {
            return Ok(n);
        }
    }
    let upper = text.to_ascii_uppercase();
    let full = if upper.starts_with("SIG") { upper } else { format!("SIG{upper}") };
    NAMES
        .iter()
        .position(|n| *n == full)
        .map(|i| i as i32 + 1)
        .ok_or_else(|| CmdError(format!("no signal named {text:?}")))
}

/// `signal [SIGNAL|none]`.
pub fn signal(session: &mut Session, args: Args<'_>, out: &mut dyn Write) -> CmdResult {
    let trace = session.trace()?;
    let tid = trace.current_thread();
    match args.rest.trim() {
        "" => {}
        "none" | "0" | "clear" => trace.set_pending_signal(None)?,
        other => trace.set_pending_signal(Some(parse_signal(other)?))?,
    }
    match trace.pending_signal() {
        Some(sig) => writeln!(out, "thread {tid}: pending signal {} ({sig})", signal_name(sig))?,
        None => writeln!(out, "thread {tid}: no pending signal")?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        assert_eq!(signal_name(11), "SIGSEGV");
        assert_eq!(parse_signal("segv"), Ok(11));
        assert_eq!(parse_signal("SIGUSR1"), Ok(10));
        assert_eq!(parse_signal("9"), Ok(9));
        assert!(parse_signal("nope").is_err());
    }
}
