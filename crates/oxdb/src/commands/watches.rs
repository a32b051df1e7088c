//! gdb's watchpoints over C expressions: `watch`, `rwatch` and `awatch` of
//! an lvalue, with the size of its type, an optional condition, and, for an
//! expression that uses a local variable, the end of its frame's life: when
//! that frame returns, the watchpoint is deleted and the program stops, as
//! gdb does. Hits are shown as gdb shows them (`Old value = ...`).

use std::io::Write;

use oxtrace::cexpr::{self, CValue};
use oxtrace::symbols::{CType, Place};
use oxtrace::{BreakpointKind, Event, EventKind, WatchKind};

use super::Args;
use crate::session::{CmdError, CmdResult, Session};

/// Which accesses a C watchpoint reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// `watch`: writes that change the value.
    Write,
    /// `rwatch`: reads (x86 watches reads and writes; a hit that changed the value was a write).
    Read,
    /// `awatch`: reads and writes.
    Any,
}

impl Access {
    fn title(self) -> &'static str {
        match self {
            Access::Write => "Hardware watchpoint",
            Access::Read => "Hardware read watchpoint",
            Access::Any => "Hardware access (read/write) watchpoint",
        }
    }
}

/// The frame a watched expression's locals live in.
#[derive(Debug, Clone)]
pub struct Scope {
    /// The frame's canonical frame address: the stack pointer once it has returned.
    pub cfa: u64,
    /// Where it returns to.
    pub return_pc: u64,
    /// The breakpoint set there to see it return (`None` when another breakpoint was already there).
    pub breakpoint: Option<u32>,
}

/// A watchpoint on a C expression.
#[derive(Debug, Clone)]
pub struct CWatch {
    /// The expression as typed.
    pub expr: String,
    /// Its type.
    pub ty: CType,
    /// Its address.
    pub addr: u64,
    /// What it reports.
    pub access: Access,
    /// A C condition, evaluated at each hit.
    pub condition: Option<String>,
    /// The bytes last seen there.
    pub last: Vec<u8>,
    /// For an expression over locals: the frame they belong to.
    pub scope: Option<Scope>,
}

/// `watch EXPR [if COND]`.
pub fn watch(session: &mut Session, text: &str, out: &mut dyn Write) -> CmdResult {
    set(session, Access::Write, text, out)
}

/// `rwatch EXPR [if COND]`.
pub fn rwatch(session: &mut Session, args: Args<'_>, out: &mut dyn Write) -> CmdResult {
    set(session, Access::Read, args.rest, out)
}

/// `awatch EXPR [if COND]`.
pub fn awatch(session: &mut Session, args: Args<'_>, out: &mut dyn Write) -> CmdResult {
    set(session, Access::Any, args.rest, out)
}

fn set(session: &mut Session, access: Access, text: &str, out: &mut dyn Write) -> CmdResult {
    let (expr, condition) = super::breakpoints::split_condition(text);
    if expr.is_empty() {
        return Err("Argument required (expression to compute).".into());
    }
    let value = super::values::evaluate(session, expr)?;
    let addr = match value.place {
        Place::Memory(addr) => addr,
        Place::Computed => return Err(CmdError(format!("Cannot watch constant value `{expr}'."))),
        Place::Register(_) => {
            return Err(CmdError(format!(
                "cannot watch `{expr}': it lives in a register, and watchpoints watch memory"
            )))
        }
        Place::Bits(..) => return Err(CmdError(format!("cannot watch the bit field `{expr}'"))),
        Place::NotSaved | Place::OptimizedOut => {
            return Err(CmdError(format!("cannot watch `{expr}': its value has been optimized out")))
        }
    };
    let size = value.ty.strip().size as usize;
    if ![1, 2, 4, 8].contains(&size) {
        return Err(CmdError(format!(
            "cannot watch `{expr}': its {size} bytes are not what one debug register covers (1, 2, 4 or 8)"
        )));
    }
    if let Some(cond) = condition {
        // Names are checked now: an unknown one is an error here, not at the hits.
        super::values::with_target(session, |target, values| cexpr::type_of(cond, target, values))
            .map_err(|e| CmdError(format!("{e} (condition {cond:?})")))?;
        // And memory it cannot read now, when reading it changes nothing.
        let parsed = cexpr::parse(cond, &mut |_| false).map_err(CmdError)?;
        if !super::breakpoints::has_side_effects(&parsed) {
            if let Err(e) = super::values::evaluate(session, cond) {
                if e.0.starts_with("Cannot access memory") {
                    return Err(CmdError(format!("{} (condition {cond:?})", e.0)));
                }
            }
        }
    }
    let scope = local_scope(session, expr)?;
    let trace = session.trace()?;
    let kind = if access == Access::Write { WatchKind::Write } else { WatchKind::ReadWrite };
    let id = trace.add_watchpoint(addr, size, kind)?;
    let scope = match scope {
        Some((cfa, return_pc)) => match scope_breakpoint(trace, cfa, return_pc) {
            Ok(breakpoint) => Some(Scope { cfa, return_pc, breakpoint }),
            Err(e) => {
                let _ = trace.remove_watchpoint(id);
                return Err(e);
            }
        },
        None => None,
    };
    let last = value.bytes.clone();
    writeln!(out, "{} {id}: {expr}", access.title())?;
    let watch = CWatch {
        expr: expr.to_owned(),
        ty: value.ty,
        addr,
        access,
        condition: condition.map(str::to_owned),
        last,
        scope,
    };
    session.watches.insert(id, watch);
    session.last_break = Some(id);
    Ok(())
}

/// Sets a watchpoint over globals again in a restarted program: its
/// expression evaluated there, the value there now as the last seen. Returns its id.
pub fn set_again(session: &mut Session, watch: CWatch) -> Result<u32, CmdError> {
    let value = super::values::evaluate(session, &watch.expr)?;
    let Place::Memory(addr) = value.place else {
        return Err(CmdError(format!("`{}' is no longer in memory", watch.expr)));
    };
    let kind = if watch.access == Access::Write { WatchKind::Write } else { WatchKind::ReadWrite };
    let id = session.trace()?.add_watchpoint(addr, watch.last.len(), kind)?;
    session.watches.insert(id, CWatch { addr, last: value.bytes, ..watch });
    Ok(id)
}

/// The frame whose locals `expr` uses, as its CFA and return address; `None` for globals only.
fn local_scope(session: &mut Session, expr: &str) -> Result<Option<(u64, u64)>, CmdError> {
    let frame = session.selected_frame;
    let trace = session.trace()?;
    let tid = trace.current_thread();
    let locals: Vec<String> = trace.frame_variables(tid, frame)?.into_iter().map(|v| v.name).collect();
    let parsed = cexpr::parse(expr, &mut |_| false).map_err(CmdError)?;
    if !super::breakpoints::identifiers(&parsed).iter().any(|name| locals.contains(name)) {
        return Ok(None);
    }
    let frames = trace.stack_trace(tid)?;
    let (Some(cfa), Some(caller)) = (frames.get(frame).and_then(|f| f.cfa), frames.get(frame + 1)) else {
        return Err(CmdError(format!("cannot watch `{expr}': the frame of its locals has no known caller")));
    };
    Ok(Some((cfa, caller.pc)))
}

/// A breakpoint at `return_pc` that stops only once the frame whose CFA is `cfa` has returned.
fn scope_breakpoint(trace: &mut oxtrace::Trace, cfa: u64, return_pc: u64) -> Result<Option<u32>, CmdError> {
    match trace.add_breakpoint(return_pc, BreakpointKind::Normal, None) {
        Ok(id) => {
            // A deeper call of the same function returns there too, with a lower stack pointer.
            let returned = move |trace: &mut oxtrace::Trace| trace.sp().map_or(true, |sp| sp >= cfa);
            trace.set_breakpoint_condition(id, Some(Box::new(returned)))?;
            Ok(Some(id))
        }
        Err(oxtrace::Error::DuplicateBreakpoint { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Deletes C watchpoint `id` (and its scope breakpoint); false when it is not one.
pub fn delete(session: &mut Session, id: u32) -> Result<bool, CmdError> {
    let Some(watch) = session.watches.remove(&id) else { return Ok(false) };
    let trace = session.trace()?;
    trace.remove_watchpoint(id)?;
    if let Some(bp) = watch.scope.and_then(|s| s.breakpoint) {
        let _ = trace.remove_breakpoint(bp);
    }
    Ok(true)
}

/// The breakpoints list's line for a C watchpoint.
pub fn list_line(watch: &CWatch, id: u32, hits: u64) -> String {
    let kind = match watch.access {
        Access::Write => "hw watchpoint",
        Access::Read => "read watchpoint",
        Access::Any => "acc watchpoint",
    };
    let mut line = format!("{id:<3} {kind:<15} y {}  hits {hits}", watch.expr);
    if let Some(cond) = &watch.condition {
        line.push_str(&format!("  if {cond}"));
    }
    line
}

/// What to do after an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Report the stop.
    Stop,
    /// Not a stop the user wants (an unchanged value, a false condition): run on.
    RunOn,
}

/// Handles the C watchpoints' part of a stop: a hit is shown as gdb shows
/// it, or passed over; a watched frame that returned deletes its watchpoints.
pub fn after_event(session: &mut Session, event: &Event, out: &mut dyn Write) -> Result<Verdict, CmdError> {
    match event.kind {
        EventKind::Breakpoint { id, addr } => left_scope(session, id, addr, out),
        EventKind::Watchpoint { id, .. } if session.watches.contains_key(&id) => hit(session, id, out),
        _ => Ok(Verdict::Stop),
    }
}

fn left_scope(session: &mut Session, id: u32, addr: u64, out: &mut dyn Write) -> Result<Verdict, CmdError> {
    let sp = session.trace()?.sp()?;
    let ended: Vec<u32> = session
        .watches
        .iter()
        .filter(|(_, w)| {
            w.scope.as_ref().is_some_and(|s| s.breakpoint == Some(id) || (s.return_pc == addr && sp >= s.cfa))
        })
        .map(|(n, _)| *n)
        .collect();
    if ended.is_empty() {
        return Ok(Verdict::Stop);
    }
    for n in ended {
        delete(session, n)?;
        writeln!(out, "\nWatchpoint {n} deleted because the program has left the block in")?;
        writeln!(out, "which its expression is valid.")?;
    }
    location(session, out)?;
    Ok(Verdict::Stop)
}

fn hit(session: &mut Session, id: u32, out: &mut dyn Write) -> Result<Verdict, CmdError> {
    let watch = session.watches.get(&id).cloned().ok_or_else(|| CmdError(format!("no watchpoint {id}")))?;
    let now = session.trace()?.read_memory(watch.addr, watch.last.len())?;
    let changed = now != watch.last;
    if let Some(w) = session.watches.get_mut(&id) {
        w.last = now.clone();
    }
    let wanted = match watch.access {
        Access::Write => changed,
        Access::Read => !changed,
        Access::Any => true,
    };
    if !wanted {
        return Ok(Verdict::RunOn);
    }
    if let Some(cond) = &watch.condition {
        let frame = watch_frame(session, &watch)?;
        let saved = std::mem::replace(&mut session.selected_frame, frame);
        let truth = super::values::evaluate(session, cond).map(|v| v.truth());
        session.selected_frame = saved;
        match truth {
            Ok(Some(false)) => return Ok(Verdict::RunOn),
            Ok(_) => {}
            Err(e) => writeln!(out, "Error in testing condition for watchpoint {id}: {e}")?,
        }
    }
    let value = |bytes: &[u8]| CValue { ty: watch.ty.clone(), bytes: bytes.to_vec(), place: Place::Memory(watch.addr) };
    writeln!(out, "\n{} {id}: {}\n", watch.access.title(), watch.expr)?;
    if changed {
        let old = super::values::show(session, &value(&watch.last), None)?;
        let new = super::values::show(session, &value(&now), None)?;
        writeln!(out, "Old value = {old}")?;
        writeln!(out, "New value = {new}")?;
    } else {
        let shown = super::values::show(session, &value(&now), None)?;
        writeln!(out, "Value = {shown}")?;
    }
    location(session, out)?;
    Ok(Verdict::Stop)
}

/// The frame a condition is evaluated in: the watched locals' frame, or the innermost.
fn watch_frame(session: &mut Session, watch: &CWatch) -> Result<usize, CmdError> {
    let Some(scope) = &watch.scope else { return Ok(0) };
    let trace = session.trace()?;
    let tid = trace.current_thread();
    let frames = trace.stack_trace(tid)?;
    Ok(frames.iter().position(|f| f.cfa == Some(scope.cfa)).unwrap_or(0))
}

/// Where the program stopped, as the innermost frame's line.
fn location(session: &mut Session, out: &mut dyn Write) -> CmdResult {
    let trace = session.trace()?;
    let tid = trace.current_thread();
    if let Some(frame) = super::stack::frames(trace, tid)?.first() {
        writeln!(out, "{frame}")?;
    }
    Ok(())
}

/// Whether a watch's text is gdb's form (`watch EXPR`) rather than the
/// address form with flags (`watch -s 4 ADDR`, `watch -x ADDR`).
pub fn is_c_form(text: &str) -> bool {
    !["-r ", "-a ", "-x ", "-s ", "-l "].iter().any(|flag| text.trim_start().starts_with(flag))
}
