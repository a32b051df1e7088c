//! `info inferiors`, `inferior N`, and the fork settings
//! (`set follow-fork-mode parent|child`, `set detach-on-fork on|off`).

use std::io::Write;

use oxtrace::{FollowFork, TraceState};

use super::Args;
use crate::events::exit_text;
use crate::session::{CmdError, CmdResult, Session};

/// `info inferiors`.
pub fn info_inferiors(session: &mut Session, _args: Args<'_>, out: &mut dyn Write) -> CmdResult {
    writeln!(out, "  {:<5} {:<9} {:<28} Program", "Num", "Process", "State")?;
    for (num, current, trace) in session.inferior_list() {
        let state = match trace.state() {
            TraceState::Stopped => "stopped".to_owned(),
            TraceState::Running => "running".to_owned(),
            TraceState::Exited(status) => exit_text(status),
            TraceState::Detached => "detached".to_owned(),
        };
        let mark = if current { "*" } else { " " };
        let program = trace.exe_path().unwrap_or_default();
        writeln!(out, "{mark} {num:<5} {:<9} {state:<28} {program}", trace.pid())?;
    }
    Ok(())
}

/// `inferior [N]`: show or switch the current inferior.
pub fn inferior(session: &mut Session, args: Args<'_>, out: &mut dyn Write) -> CmdResult {
    let text = args.rest.trim();
    if !text.is_empty() {
        let num = text.parse::<usize>().map_err(|_| CmdError(format!("bad inferior number {text:?}")))?;
        session.switch_inferior(num)?;
    }
    let num = session.inferiors.current;
    let trace = session.any_trace()?;
    let pid = trace.pid();
    let state = match trace.state() {
        TraceState::Exited(status) => format!(", {}", exit_text(status)),
        TraceState::Detached => ", detached".to_owned(),
        _ => String::new(),
    };
    writeln!(out, "[current inferior is {num} (process {pid}{state})]")?;
    Ok(())
}

/// `set follow-fork-mode parent|child` and `set detach-on-fork on|off`, for
/// every inferior. `None` if `text` is not one of these settings.
pub fn try_set(session: &mut Session, text: &str, out: &mut dyn Write) -> Option<CmdResult> {
    let (name, value) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
    let value = value.trim();
    match name {
        "follow-fork-mode" => {
            let follow = match value {
                "parent" => FollowFork::Parent,
                "child" => FollowFork::Child,
                _ => return Some(Err(CmdError(format!("follow-fork-mode is parent or child, not {value:?}")))),
            };
            Some(each_trace(session, |t| t.set_follow_fork(follow)).and_then(|()| {
                writeln!(out, "after a fork oxdb follows the {value}")?;
                Ok(())
            }))
        }
        "detach-on-fork" => {
            let detach = match on_off(value) {
                Ok(detach) => detach,
                Err(e) => return Some(Err(e)),
            };
            Some(each_trace(session, |t| t.set_detach_on_fork(detach)).and_then(|()| {
                let what = if detach { "detached" } else { "kept stopped as a new inferior" };
                writeln!(out, "after a fork the process not followed is {what}")?;
                Ok(())
            }))
        }
        _ => None,
    }
}

/// Parses `on`/`off` (and 1/0, yes/no).
pub fn on_off(value: &str) -> Result<bool, CmdError> {
    match value {
        "on" | "1" | "yes" | "enable" => Ok(true),
        "off" | "0" | "no" | "disable" => Ok(false),
        _ => Err(CmdError(format!("expected on or off, not {value:?}"))),
    }
}

fn each_trace(session: &mut Session, mut set: impl FnMut(&mut oxtrace::Trace)) -> CmdResult {
    session.any_trace()?;
    for (_, _, trace) in session.inferior_list() {
        set(trace);
    }
    Ok(())
}
