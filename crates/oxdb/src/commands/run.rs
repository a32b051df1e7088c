//! Running and stepping: continue (N times, or until an address), stepi,
//! nexti (over calls), step and next (by source line), finish, until; detach,
//! kill and quit.
//!
//! Every run or step prints the events it met, one line each; a step ends
//! with the line of the new location and its instruction.

use std::io::Write;

use oxtrace::{Event, EventKind, Trace};

use super::{count_arg, eval, Args};
use crate::events::exit_text;
use crate::session::{CmdResult, Session};

/// Runs one resuming call and reports what it stopped at. Returns the event.
/// A hit the user does not want (a C watchpoint whose value did not change
/// or whose condition is false) runs on when `runs_on` (`call` continues the
/// program to a place); a step stops there.
fn resume(
    session: &mut Session,
    out: &mut dyn Write,
    runs_on: bool,
    mut call: impl FnMut(&mut Trace) -> oxtrace::Result<Event>,
) -> Result<Event, crate::session::CmdError> {
    // A resume replaces the rest of a breakpoint's command list.
    session.queue.clear();
    loop {
        let trace = session.trace()?;
        out.flush()?;
        let result = crate::interrupt::while_running(|| call(trace));
        session.print_events(out)?;
        let event = result?;
        let verdict = super::watches::after_event(session, &event, out)?;
        if verdict == super::watches::Verdict::RunOn && runs_on && crate::ending::requested().is_none() {
            continue;
        }
        session.after_stop(&event, out)?;
        if let Some(signal) = crate::ending::requested() {
            // No more commands: oxdb ends.
            let name = crate::commands::signals::signal_name(signal);
            return Err(format!("{name}: oxdb is ending").into());
        }
        return Ok(event);
    }
}

/// Whether the program is gone after an event.
fn ended(event: &Event) -> bool {
    matches!(event.kind, EventKind::Exited(_))
}

/// `continue [N] | continue until EXPR`.
pub fn cont(session: &mut Session, args: Args<'_>, out: &mut dyn Write) -> CmdResult {
    if let Some(expr) = args.rest.strip_prefix("until ") {
        return until(session, Args { rest: expr.trim(), ..args }, out);
    }
    let count = count_arg(args.rest)?;
    for _ in 0..count {
        let event = resume(session, out, true, Trace::run)?;
        if ended(&event) {
            break;
        }
    }
    Ok(())
}

/// `stepi [N]`.
pub fn stepi(session: &mut Session, args: Args<'_>, out: &mut dyn Write) -> CmdResult {
    repeat_step(session, args, out, Trace::stepi_through_signals)
}

/// `nexti [N]`: instruction steps that run calls to their return.
pub fn nexti(session: &mut Session, args: Args<'_>, out: &mut dyn Write) -> CmdResult {
    repeat_step(session, args, out, Trace::step_over)
}

/// `next [N]`: source lines, running calls to their return.
pub fn next(session: &mut Session, args: Args<'_>, out: &mut dyn Write) -> CmdResult {
    repeat_step(session, args, out, Trace::next_line)
}

/// `step [N]`: source lines, into calls that have line information.
pub fn step(session: &mut Session, args: Args<'_>, out: &mut dyn Write) -> CmdResult {
    repeat_step(session, args, out, Trace::step_line)
}

/// Steps N times, stopping early at anything but a completed step.
fn repeat_step(
    session: &mut Session,
    args: Args<'_>,
    out: &mut dyn Write,
    one: fn(&mut Trace) -> oxtrace::Result<Event>,
) -> CmdResult {
    let count = count_arg(args.rest)?;
    for _ in 0..count {
        let event = resume(session, out, false, one)?;
        if event.kind != EventKind::Step {
            break;
        }
    }
    Ok(())
}

/// `finish`: run to the caller.
pub fn finish(session: &mut Session, _args: Args<'_>, out: &mut dyn Write) -> CmdResult {
    let trace = session.trace()?;
    let tid = trace.current_thread();
    let function = trace.frame_function(tid, 0).ok().flatten();
    let stack = super::stack::frames(trace, tid)?;
    if let Some(frame) = stack.first() {
        writeln!(out, "Run till exit from {frame}")?;
    }
    let return_pc = stack.get(1).map(|f| f.pc);
    resume(session, out, false, Trace::step_out)?;
    // Returned: the thread stands at the return address (other events may have been reported on the way).
    let trace = session.trace()?;
    let returned = trace.current_thread() == tid && return_pc.is_some() && trace.pc().ok() == return_pc;
    let Some(ret) = function.map(|f| f.ret).filter(|_| returned) else { return Ok(()) };
    if matches!(ret.strip().kind, oxtrace::symbols::CKind::Void) {
        return Ok(());
    }
    let trace = session.trace()?;
    match trace.return_value(&ret) {
        Ok(value) => {
            let shown = super::values::show(session, &value, None)?;
            let n = session.values.record(value);
            writeln!(out, "Value returned is ${n} = {shown}")?;
        }
        Err(e) => writeln!(out, "Value returned has type: {}. Cannot determine contents ({e})", ret.name)?,
    }
    Ok(())
}

/// `until [LOCATION]`, `advance LOCATION`: run to the location, or until the
/// current function returns, whichever comes first (`until` alone is `next`).
pub fn until(session: &mut Session, args: Args<'_>, out: &mut dyn Write) -> CmdResult {
    if args.rest.trim().is_empty() {
        return next(session, args, out);
    }
    let location = oxtrace::symbols::Location::parse(args.rest)?;
    let addr = match location {
        oxtrace::symbols::Location::Address(expr) => eval(session.trace()?, &expr)?,
        location => {
            let trace = session.trace()?;
            let pc = trace.pc()?;
            let file = trace.line_for_addr(pc)?.map(|(file, _)| file);
            trace.location_addresses(&location, file.as_deref())?[0]
        }
    };
    // A step's location is shown by `after_stop`.
    let event = resume(session, out, false, |trace| trace.advance(addr))?;
    // The temporary breakpoint is not announced as an event: show where it stopped.
    if let EventKind::Breakpoint { id, addr: at } = event.kind {
        if !session.shared.borrow().user_ids.contains(&id) {
            let trace = session.trace()?;
            let line = super::disasm::location_with_instruction(trace, at);
            writeln!(out, "{line}")?;
        }
    }
    Ok(())
}

/// `detach`.
pub fn detach(session: &mut Session, _args: Args<'_>, out: &mut dyn Write) -> CmdResult {
    let trace = session.trace()?;
    let pid = trace.pid();
    trace.detach()?;
    writeln!(out, "[process {pid}] detached")?;
    Ok(())
}

/// `kill`.
pub fn kill(session: &mut Session, _args: Args<'_>, out: &mut dyn Write) -> CmdResult {
    let trace = session.trace()?;
    let pid = trace.pid();
    let status = trace.kill()?;
    writeln!(out, "[process {pid}] {}", exit_text(status))?;
    Ok(())
}

/// `quit`.
pub fn quit(session: &mut Session, _args: Args<'_>, _out: &mut dyn Write) -> CmdResult {
    session.quit = true;
    Ok(())
}
