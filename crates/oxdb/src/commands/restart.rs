//! `run` and `start`: (re)start the program with the same arguments (or new
//! ones), keeping every breakpoint with its number, condition, command list
//! and state, every watchpoint (but those over locals, whose frame is gone),
//! every catchpoint and the signal table, as gdb does. A program
//! that has not run yet (just started by oxdb, stopped at its first
//! instruction) is simply resumed. Spawned programs run with address-space
//! randomization off unless `set disable-randomization off`.

use std::ffi::OsString;
use std::io::Write;
use std::process::Command;

use oxtrace::{EventKind, Trace};

use super::Args;
use crate::session::{CmdError, CmdResult, Session};

/// How the program is started again.
#[derive(Debug, Clone)]
pub struct Launch {
    /// The program.
    pub program: OsString,
    /// Its arguments.
    pub args: Vec<OsString>,
}

/// Starts `launch` traced, with randomization off unless asked.
pub fn spawn(launch: &Launch, disable_aslr: bool) -> Result<Trace, CmdError> {
    let mut command = Command::new(&launch.program);
    command.args(&launch.args);
    Ok(crate::host::spawn(command, disable_aslr)?)
}

/// Whether the current program has not run yet.
fn fresh(session: &mut Session) -> bool {
    session
        .any_trace()
        .is_ok_and(|t| t.is_attached() && matches!(t.last_event().map(|e| &e.kind), Some(EventKind::Attached)))
}

/// `run [ARGS...]`.
pub fn run(session: &mut Session, args: Args<'_>, out: &mut dyn Write) -> CmdResult {
    prepare(session, args, out)?;
    super::run::cont(session, Args { rest: "", modifier: None }, out)
}

/// `start [ARGS...]`: `run` to the beginning of `main`.
pub fn start(session: &mut Session, args: Args<'_>, out: &mut dyn Write) -> CmdResult {
    prepare(session, args, out)?;
    super::breakpoints::add_once(session, Args { rest: "main", modifier: None }, out)?;
    super::run::cont(session, Args { rest: "", modifier: None }, out)
}

/// Restarts unless the program has not run yet and no new arguments are given.
fn prepare(session: &mut Session, args: Args<'_>, out: &mut dyn Write) -> CmdResult {
    let new_args = !args.rest.trim().is_empty();
    if new_args {
        let launch = session.inferiors.launch.as_mut().ok_or_else(not_restartable)?;
        launch.args = args.rest.split_whitespace().map(OsString::from).collect();
    }
    if new_args || !fresh(session) {
        restart(session, out)?;
    }
    Ok(())
}

fn not_restartable() -> CmdError {
    CmdError("this program was not started by oxdb (attached, a core or remote): it cannot be restarted".into())
}

/// What a restart sets again, by number.
enum Again {
    /// A breakpoint by its location text: one-time or not, enabled or not.
    Break { text: String, once: bool, enabled: bool },
    /// A watchpoint over a C expression.
    Watch(super::watches::CWatch),
    /// A watchpoint over raw bytes at an address.
    Raw(oxtrace::Watchpoint),
}

/// Kills every inferior, starts the program again and sets the breakpoints
/// and watchpoints again, in the order of their numbers.
fn restart(session: &mut Session, out: &mut dyn Write) -> CmdResult {
    let launch = session.inferiors.launch.clone().ok_or_else(not_restartable)?;
    let old = session.any_trace()?;
    let (follow, detach) = (old.follow_fork(), old.detach_on_fork());
    let old_breaks = old.breakpoints();
    let old_watches = old.watchpoints();
    let next_id = old.next_breakpoint_id();
    let trace = spawn(&launch, session.inferiors.disable_aslr)?;
    writeln!(out, "[process {}] started {}", trace.pid(), launch.program.to_string_lossy())?;
    session.replace_trace(trace);
    let trace = session.any_trace()?;
    trace.set_follow_fork(follow);
    trace.set_detach_on_fork(detach);
    let specs = std::mem::take(&mut session.shared.borrow_mut().specs);
    {
        let mut shared = session.shared.borrow_mut();
        shared.locations.clear();
        shared.user_ids.clear();
        shared.waiting.clear();
        shared.from_pending.clear();
    }
    let mut again: std::collections::BTreeMap<u32, Again> = std::collections::BTreeMap::new();
    for (id, (text, once)) in specs {
        if let Some(before) = old_breaks.iter().find(|b| b.id == id) {
            again.insert(id, Again::Break { text, once, enabled: before.enabled });
        }
    }
    let mut c_watches = std::mem::take(&mut session.watches);
    for w in old_watches {
        match c_watches.remove(&w.id) {
            // A watch over locals ended with their frame, and so with the process.
            Some(watch) if watch.scope.is_some() => {
                writeln!(out, "watchpoint {} ({}) deleted: the frame of its locals is gone", w.id, watch.expr)?;
            }
            Some(watch) => drop(again.insert(w.id, Again::Watch(watch))),
            None => drop(again.insert(w.id, Again::Raw(w))),
        }
    }
    // Each again with its number when it can keep it.
    for (old_id, item) in again {
        session.any_trace()?.set_next_breakpoint_id(old_id);
        match item {
            Again::Break { text, once, enabled } => set_break_again(session, old_id, text, once, enabled, out)?,
            Again::Watch(watch) => {
                let expr = watch.expr.clone();
                match super::watches::set_again(session, watch) {
                    Ok(id) if id != old_id => writeln!(out, "watchpoint {old_id} ({expr}) is now watchpoint {id}")?,
                    Ok(_) => {}
                    Err(e) => writeln!(out, "watchpoint {old_id} ({expr}) could not be set again: {e}")?,
                }
            }
            Again::Raw(w) => match session.any_trace()?.add_watchpoint(w.addr, w.size, w.kind) {
                Ok(id) => session.add_user_id(id),
                Err(e) => writeln!(out, "watchpoint {old_id} at {:#x} could not be set again: {e}", w.addr)?,
            },
        }
    }
    // Numbers go on from the old process's (catchpoints and deleted breakpoints had some).
    session.any_trace()?.set_next_breakpoint_id(next_id);
    // Breakpoints set while no program was alive.
    let later = std::mem::take(&mut session.shared.borrow_mut().at_next_run);
    for (text, once) in later {
        let result = if once {
            super::breakpoints::add_once(session, Args { rest: &text, modifier: None }, out)
        } else {
            super::breakpoints::add(session, Args { rest: &text, modifier: None }, out)
        };
        if let Err(e) = result {
            writeln!(out, "breakpoint at {text} could not be set: {e}")?;
        }
    }
    Ok(())
}

/// Sets breakpoint `old_id` again at its location, with its condition and state.
fn set_break_again(
    session: &mut Session,
    old_id: u32,
    text: String,
    once: bool,
    enabled: bool,
    out: &mut dyn Write,
) -> CmdResult {
    let placed = match super::locations::place(session, &text, once) {
        Ok(placed) => placed,
        Err(e) => {
            writeln!(out, "breakpoint {old_id} ({text}) could not be set again: {e}")?;
            session.breaks.remove(&old_id);
            return Ok(());
        }
    };
    let id = placed.id;
    if id != old_id {
        writeln!(out, "breakpoint {old_id} ({text}) is now breakpoint {id}")?;
        if let Some(extra) = session.breaks.remove(&old_id) {
            session.breaks.insert(id, extra);
        }
    }
    let condition = session.breaks.get(&id).and_then(|e| e.condition.clone());
    for &lid in &placed.ids {
        if let Some(cond) = &condition {
            if let Err(e) = super::breakpoints::set_c_condition(session, lid, cond) {
                writeln!(out, "breakpoint {id}: condition {cond:?} not set again: {e}")?;
            }
        }
        if !enabled {
            session.any_trace()?.set_breakpoint_enabled(lid, false)?;
        }
    }
    for &lid in &placed.ids {
        session.add_user_id(lid);
    }
    let mut shared = session.shared.borrow_mut();
    shared.specs.insert(id, (text, once));
    if placed.pending {
        shared.waiting.insert(id);
        shared.from_pending.insert(id);
    }
    if placed.ids.len() > 1 {
        shared.locations.insert(id, placed.ids);
    }
    Ok(())
}

/// With no live program but one `run` can start, keeps a breakpoint (as
/// typed, with its condition) to set when it starts, as gdb sets
/// breakpoints before `run`. Returns whether it was kept.
pub fn set_at_next_run(session: &mut Session, text: &str, once: bool, out: &mut dyn Write) -> Result<bool, CmdError> {
    let live = session.any_trace().is_ok_and(|t| t.is_attached());
    if live || session.inferiors.launch.is_none() {
        return Ok(false);
    }
    session.shared.borrow_mut().at_next_run.push((text.trim().to_owned(), once));
    writeln!(out, "breakpoint at {} will be set when the program runs", text.trim())?;
    Ok(true)
}

/// `set disable-randomization on|off`; `None` if `text` is another setting.
pub fn try_set(session: &mut Session, text: &str, out: &mut dyn Write) -> Option<CmdResult> {
    let value = text.strip_prefix("disable-randomization")?.trim();
    let on = match super::inferiors::on_off(value) {
        Ok(on) => on,
        Err(e) => return Some(Err(e)),
    };
    session.inferiors.disable_aslr = on;
    let what = if on { "off" } else { "on" };
    Some(writeln!(out, "address-space randomization {what} for programs started from now on").map_err(CmdError::from))
}
