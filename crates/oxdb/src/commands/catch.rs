//! Catchpoints, as gdb's `catch`: stop at a fork, a vfork, an exec, a
//! system call or a signal, and at a C++ exception thrown or caught.
//!
//! Forks, execs and signals are events of the library that oxdb lets go on
//! by default; a catchpoint makes the matching event stop the program. A C++
//! exception catchpoint is a breakpoint on the C++ runtime's throw or catch
//! entry (`__cxa_throw`, `__cxa_begin_catch`), pending until it loads.
//! Catchpoints are numbered among the breakpoints (`break main` then
//! `catch fork` makes catchpoint 2), listed by `info breakpoints` with them,
//! enabled, disabled and removed by `enable N`, `disable N`, `delete N` (or
//! `delete catch N`) and `delete`, as gdb's.

use std::io::Write;

use oxtrace::arch::{syscall_name, syscall_number};

use super::signals::{parse_signal, signal_name};
use super::Args;
use crate::session::{CmdError, CmdResult, Session};

/// What a catchpoint catches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CatchKind {
    /// A fork (not a vfork).
    Fork,
    /// A vfork.
    Vfork,
    /// A new program executed.
    Exec,
    /// System calls, by number (every call when empty).
    Syscall(Vec<u64>),
    /// Signals, by number (every signal but SIGINT and SIGTRAP when empty, as gdb).
    Signal(Vec<i32>),
}

/// One catchpoint.
#[derive(Debug, Clone)]
pub struct Catchpoint {
    /// Its number.
    pub num: u32,
    /// What it catches.
    pub kind: CatchKind,
    /// Whether it is enabled.
    pub enabled: bool,
    /// How many times it stopped the program.
    pub hits: u64,
}

/// Every catchpoint.
#[derive(Debug, Clone, Default)]
pub struct Catches {
    /// The catchpoints, by number.
    pub list: Vec<Catchpoint>,
}

impl Catches {
    fn add(&mut self, num: u32, kind: CatchKind) {
        self.list.push(Catchpoint { num, kind, enabled: true, hits: 0 });
    }

    /// Whether `num` is a catchpoint's number.
    pub fn has(&self, num: u32) -> bool {
        self.list.iter().any(|c| c.num == num)
    }

    /// Enables or disables catchpoint `num`; whether there is one.
    pub fn set_enabled(&mut self, num: u32, enabled: bool) -> bool {
        self.list.iter_mut().filter(|c| c.num == num).map(|c| c.enabled = enabled).count() > 0
    }

    /// The first enabled catchpoint that matches, counted as hit.
    pub fn hit(&mut self, matches: impl Fn(&CatchKind) -> bool) -> Option<u32> {
        let c = self.list.iter_mut().find(|c| c.enabled && matches(&c.kind))?;
        c.hits += 1;
        Some(c.num)
    }

    /// Whether an enabled catchpoint matches (without counting a hit).
    pub fn any(&self, matches: impl Fn(&CatchKind) -> bool) -> bool {
        self.list.iter().any(|c| c.enabled && matches(&c.kind))
    }

    /// Whether a signal is caught.
    pub fn catches_signal(&self, signo: i32) -> bool {
        self.any(|k| signal_matches(k, signo))
    }

    /// Whether system call catchpoints need system call stops.
    pub fn wants_syscalls(&self) -> bool {
        self.any(|k| matches!(k, CatchKind::Syscall(_)))
    }
}

/// Whether a catchpoint kind catches signal `signo`.
pub fn signal_matches(kind: &CatchKind, signo: i32) -> bool {
    match kind {
        CatchKind::Signal(list) if list.is_empty() => signo != 2 && signo != 5,
        CatchKind::Signal(list) => list.contains(&signo),
        _ => false,
    }
}

/// Whether a catchpoint kind catches system call `number`.
pub fn syscall_matches(kind: &CatchKind, number: u64) -> bool {
    match kind {
        CatchKind::Syscall(list) => list.is_empty() || list.contains(&number),
        _ => false,
    }
}

/// The words of a catchpoint, as `info breakpoints` shows them.
fn describe(kind: &CatchKind) -> String {
    match kind {
        CatchKind::Fork => "fork".into(),
        CatchKind::Vfork => "vfork".into(),
        CatchKind::Exec => "exec".into(),
        CatchKind::Syscall(list) if list.is_empty() => "syscall (any)".into(),
        CatchKind::Syscall(list) => {
            let names: Vec<String> =
                list.iter().map(|&n| syscall_name(n).map_or_else(|| n.to_string(), str::to_owned)).collect();
            format!("syscall {}", names.join(" "))
        }
        CatchKind::Signal(list) if list.is_empty() => "signal (any but SIGINT and SIGTRAP)".into(),
        CatchKind::Signal(list) => {
            let names: Vec<String> = list.iter().map(|&s| signal_name(s)).collect();
            format!("signal {}", names.join(" "))
        }
    }
}

/// `catch fork|vfork|exec|syscall [NAME|NUMBER...]|signal [SIG...]|throw|catch`.
pub fn catch(session: &mut Session, args: Args<'_>, out: &mut dyn Write) -> CmdResult {
    let words = args.words();
    let Some((&what, rest)) = words.split_first() else {
        return Err("catch what? fork, vfork, exec, syscall, signal, throw or catch".into());
    };
    let kind = match what {
        "fork" | "vfork" | "exec" if !rest.is_empty() => {
            return Err(CmdError(format!("catch {what} takes no arguments")));
        }
        "fork" => CatchKind::Fork,
        "vfork" => CatchKind::Vfork,
        "exec" => CatchKind::Exec,
        "syscall" => CatchKind::Syscall(rest.iter().map(|w| parse_syscall(w)).collect::<Result<_, _>>()?),
        "signal" => CatchKind::Signal(match rest {
            ["all"] => (1..=64).collect(),
            _ => rest.iter().map(|w| parse_signal(w)).collect::<Result<_, _>>()?,
        }),
        "throw" | "catch" => return catch_exception(session, what, out),
        other => {
            return Err(CmdError(format!("cannot catch {other:?}: fork, vfork, exec, syscall, signal, throw or catch")))
        }
    };
    let text = describe(&kind);
    let num = session.any_trace()?.reserve_breakpoint_id();
    session.shared.borrow_mut().catches.add(num, kind);
    session.apply_signal_policy();
    writeln!(out, "catchpoint {num}: {text}")?;
    Ok(())
}

/// A breakpoint on the C++ runtime's entry for throwing or catching.
fn catch_exception(session: &mut Session, what: &str, out: &mut dyn Write) -> CmdResult {
    let function = if what == "throw" { "__cxa_throw" } else { "__cxa_begin_catch" };
    let trace = session.trace()?;
    let id = trace.add_break_by_expr(function)?;
    let resolved = trace.breakpoint(id).is_some_and(|b| b.resolved);
    let state = if resolved { "" } else { " (pending until the C++ runtime loads)" };
    writeln!(out, "breakpoint {id}: catch {what} ({function}){state}")?;
    session.add_user_id(id);
    // Set again by `run`, like any breakpoint.
    session.shared.borrow_mut().specs.insert(id, (function.to_owned(), false));
    Ok(())
}

/// Parses a system call name or number.
fn parse_syscall(word: &str) -> Result<u64, CmdError> {
    if let Ok(n) = word.parse::<u64>() {
        return syscall_name(n).map(|_| n).ok_or_else(|| CmdError(format!("no system call number {n}")));
    }
    syscall_number(word).ok_or_else(|| CmdError(format!("no system call named {word:?}")))
}

/// The catchpoints, one a line with its number, for `info breakpoints`.
pub fn list_lines(session: &Session) -> Vec<(u32, String)> {
    let shared = session.shared.borrow();
    shared
        .catches
        .list
        .iter()
        .map(|c| {
            let enabled = if c.enabled { "y" } else { "n" };
            (c.num, format!("{:<3} {:<11} {enabled} {}  hits {}", c.num, "catchpoint", describe(&c.kind), c.hits))
        })
        .collect()
}

/// `delete catch [N...]`: removes catchpoints (all without numbers).
pub fn delete(session: &mut Session, nums: &[&str], out: &mut dyn Write) -> CmdResult {
    let nums = nums
        .iter()
        .map(|w| w.parse::<u32>().map_err(|_| CmdError(format!("bad catchpoint number {w:?}"))))
        .collect::<Result<Vec<_>, _>>()?;
    {
        let mut shared = session.shared.borrow_mut();
        let list = &mut shared.catches.list;
        for num in &nums {
            if !list.iter().any(|c| c.num == *num) {
                return Err(CmdError(format!("no catchpoint {num}")));
            }
        }
        list.retain(|c| !nums.is_empty() && !nums.contains(&c.num));
    }
    session.apply_signal_policy();
    writeln!(out, "deleted catchpoint(s)")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catch_kinds_match() {
        assert!(signal_matches(&CatchKind::Signal(vec![]), 10));
        assert!(!signal_matches(&CatchKind::Signal(vec![]), 2));
        assert!(signal_matches(&CatchKind::Signal(vec![14]), 14));
        assert!(syscall_matches(&CatchKind::Syscall(vec![]), 1));
        assert!(!syscall_matches(&CatchKind::Syscall(vec![0]), 1));
        assert_eq!(parse_syscall("write"), Ok(1));
        assert!(parse_syscall("nosuchcall").is_err());
        let mut catches = Catches::default();
        catches.add(1, CatchKind::Fork);
        assert_eq!(catches.hit(|k| *k == CatchKind::Fork), Some(1));
        assert_eq!(catches.hit(|k| *k == CatchKind::Vfork), None);
    }
}
