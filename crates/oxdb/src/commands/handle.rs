//! The signal table, as gdb's `handle`: for each signal, whether it stops
//! the program, whether its arrival is printed, and whether the program gets
//! it when it resumes; `info signals` shows the table.
//!
//! The defaults are gdb's on Linux: every signal stops, prints and is passed,
//! except the ones programs use in normal work (SIGALRM, SIGCHLD, SIGURG,
//! SIGWINCH, SIGPROF, SIGVTALRM, SIGIO/SIGPOLL, and the two real-time signals
//! glibc keeps for itself), which are passed silently; and SIGINT and SIGTRAP,
//! which stop but are not passed (they are taken to be meant for the debugger).

use std::io::Write;

use oxtrace::Trace;

use super::signals::{parse_signal, signal_name};
use super::Args;
use crate::session::{CmdError, CmdResult, Session};

/// What happens when a signal arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Handling {
    /// The program stops.
    pub stop: bool,
    /// A line says the signal arrived.
    pub print: bool,
    /// The program gets the signal when it resumes.
    pub pass: bool,
}

/// The signal table, for signals 1 to 64.
#[derive(Debug, Clone)]
pub struct SignalTable {
    entries: [Handling; 64],
}

/// The signals passed silently by default.
const QUIET: [i32; 9] = [
    libc_sig::SIGALRM,
    libc_sig::SIGCHLD,
    libc_sig::SIGURG,
    libc_sig::SIGWINCH,
    libc_sig::SIGPROF,
    libc_sig::SIGVTALRM,
    libc_sig::SIGIO,
    // glibc's own real-time signals (thread cancellation, set*id across threads).
    32,
    33,
];

/// Linux's numbers of the signals named here.
mod libc_sig {
    pub const SIGINT: i32 = 2;
    pub const SIGTRAP: i32 = 5;
    pub const SIGALRM: i32 = 14;
    pub const SIGCHLD: i32 = 17;
    pub const SIGURG: i32 = 23;
    pub const SIGVTALRM: i32 = 26;
    pub const SIGPROF: i32 = 27;
    pub const SIGWINCH: i32 = 28;
    pub const SIGIO: i32 = 29;
}

impl Default for SignalTable {
    fn default() -> Self {
        let mut entries = [Handling { stop: true, print: true, pass: true }; 64];
        for sig in QUIET {
            entries[sig as usize - 1] = Handling { stop: false, print: false, pass: true };
        }
        for sig in [libc_sig::SIGINT, libc_sig::SIGTRAP] {
            entries[sig as usize - 1].pass = false;
        }
        SignalTable { entries }
    }
}

impl SignalTable {
    /// How signal `signo` is handled (unknown numbers stop, print and pass).
    pub fn get(&self, signo: i32) -> Handling {
        usize::try_from(signo)
            .ok()
            .and_then(|i| i.checked_sub(1))
            .and_then(|i| self.entries.get(i))
            .copied()
            .unwrap_or(Handling { stop: true, print: true, pass: true })
    }

    fn get_mut(&mut self, signo: i32) -> &mut Handling {
        &mut self.entries[signo as usize - 1]
    }

    /// Applies one of gdb's keywords to a signal; false if the word is not one.
    fn apply(&mut self, signo: i32, word: &str) -> bool {
        let h = self.get_mut(signo);
        match word {
            // Stopping implies printing; not printing implies not stopping.
            "stop" => {
                h.stop = true;
                h.print = true;
            }
            "nostop" => h.stop = false,
            "print" => h.print = true,
            "noprint" => {
                h.print = false;
                h.stop = false;
            }
            "pass" | "noignore" => h.pass = true,
            "nopass" | "ignore" => h.pass = false,
            _ => return false,
        }
        true
    }
}

/// Tells the trace which signals it may deliver without even reporting them
/// (the ones neither stopped at nor printed nor caught, and passed): they
/// then cost no stop at all. The others are decided at each event.
pub fn apply_to_trace(trace: &mut Trace, table: &SignalTable, caught: &dyn Fn(i32) -> bool) {
    for signo in 1..=64 {
        let h = table.get(signo);
        if !h.stop && !h.print && h.pass && !caught(signo) {
            trace.ignore_signal(signo);
        } else {
            trace.unignore_signal(signo);
        }
    }
}

/// Parses `SIG`, `N`, `N-M` or `all` into signal numbers.
fn parse_signals(word: &str) -> Result<Vec<i32>, CmdError> {
    if word == "all" {
        // gdb's `all` leaves out the signals the debugger uses itself.
        return Ok((1..=64).filter(|&s| s != libc_sig::SIGINT && s != libc_sig::SIGTRAP).collect());
    }
    if let Some((a, b)) = word.split_once('-') {
        if let (Ok(a), Ok(b)) = (a.parse::<i32>(), b.parse::<i32>()) {
            if (1..=64).contains(&a) && (a..=64).contains(&b) {
                return Ok((a..=b).collect());
            }
            return Err(CmdError(format!("bad signal range {word:?} (1-64)")));
        }
    }
    Ok(vec![parse_signal(word)?])
}

/// `handle SIGNAL... [KEYWORD...]`.
pub fn handle(session: &mut Session, args: Args<'_>, out: &mut dyn Write) -> CmdResult {
    let words = args.words();
    if words.is_empty() {
        return info_signals(session, args, out);
    }
    let mut signals = Vec::new();
    let mut keywords = Vec::new();
    for word in words {
        let lower = word.to_ascii_lowercase();
        if matches!(lower.as_str(), "stop" | "nostop" | "print" | "noprint" | "pass" | "nopass" | "ignore" | "noignore")
        {
            keywords.push(lower);
        } else if keywords.is_empty() {
            signals.extend(parse_signals(word)?);
        } else {
            return Err(CmdError(format!("{word:?}: signals come before the keywords")));
        }
    }
    if signals.is_empty() {
        return Err("handle: which signal?".into());
    }
    {
        let mut shared = session.shared.borrow_mut();
        for &signo in &signals {
            for word in &keywords {
                shared.signals.apply(signo, word);
            }
        }
    }
    session.apply_signal_policy();
    header(out)?;
    let table = session.shared.borrow().signals.clone();
    for signo in signals {
        row(out, signo, table.get(signo))?;
    }
    Ok(())
}

/// `info signals [SIGNAL]`: the table.
pub fn info_signals(session: &mut Session, args: Args<'_>, out: &mut dyn Write) -> CmdResult {
    let only = match args.rest.trim() {
        "" => None,
        word => Some(parse_signals(word)?),
    };
    let table = session.shared.borrow().signals.clone();
    header(out)?;
    for signo in only.unwrap_or_else(|| (1..=64).collect()) {
        row(out, signo, table.get(signo))?;
    }
    Ok(())
}

fn header(out: &mut dyn Write) -> CmdResult {
    writeln!(out, "{:<10} {:<5} {:<5} Pass to program", "Signal", "Stop", "Print")?;
    Ok(())
}

fn row(out: &mut dyn Write, signo: i32, h: Handling) -> CmdResult {
    let yes = |b: bool| if b { "Yes" } else { "No" };
    writeln!(out, "{:<10} {:<5} {:<5} {}", signal_name(signo), yes(h.stop), yes(h.print), yes(h.pass))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_gdbs() {
        let table = SignalTable::default();
        let quiet = Handling { stop: false, print: false, pass: true };
        for sig in [14, 17, 23, 26, 27, 28, 29, 32, 33] {
            assert_eq!(table.get(sig), quiet, "{sig}");
        }
        assert_eq!(table.get(2), Handling { stop: true, print: true, pass: false });
        assert_eq!(table.get(5), Handling { stop: true, print: true, pass: false });
        assert_eq!(table.get(11), Handling { stop: true, print: true, pass: true });
        assert_eq!(table.get(34), Handling { stop: true, print: true, pass: true });
    }

    #[test]
    fn keywords_keep_stop_and_print_consistent() {
        let mut table = SignalTable::default();
        assert!(table.apply(10, "noprint"));
        assert_eq!(table.get(10), Handling { stop: false, print: false, pass: true });
        assert!(table.apply(14, "stop"));
        assert_eq!(table.get(14), Handling { stop: true, print: true, pass: true });
        assert!(!table.apply(14, "sometimes"));
        assert_eq!(parse_signals("14-15").unwrap(), [14, 15]);
        assert!(parse_signals("15-3").is_err());
        assert!(!parse_signals("all").unwrap().contains(&2));
    }
}
