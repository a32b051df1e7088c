//! Breakpoints and watchpoints: set (address, symbol or expression; with a
//! condition; one-time), command lists run at a hit, list, enable, disable,
//! delete, and hardware watchpoints.

use std::io::Write;

use oxtrace::{BreakpointKind, WatchKind};

use super::symbols::describe_addr;
use super::{id_arg, Args};
use crate::session::{CmdError, CmdResult, Session};

/// Splits `EXPR if COND`.
pub(super) fn split_condition(text: &str) -> (&str, Option<&str>) {
    let text = text.trim();
    if let Some(cond) = text.strip_prefix("if ") {
        return ("", Some(cond.trim()));
    }
    match text.find(" if ") {
        Some(at) => (text[..at].trim(), Some(text[at + 4..].trim())),
        None => (text, None),
    }
}

/// Sets a breakpoint from `EXPR [if COND]`; `once` makes it one-time.
fn set_breakpoint(session: &mut Session, text: &str, once: bool, out: &mut dyn Write) -> CmdResult {
    let (expr, condition) = split_condition(text);
    let (expr, thread) = super::break_extras::split_thread(expr)?;
    if expr.is_empty() {
        return Err("a location is needed: FILE:LINE, LINE, FUNCTION, FILE:FUNCTION or *ADDRESS".into());
    }
    if super::restart::set_at_next_run(session, text, once, out)? {
        return Ok(());
    }
    let placed = super::locations::place(session, expr, once)?;
    let id = placed.id;
    if let Some(n) = thread {
        let trace = session.trace()?;
        let tid = super::break_extras::thread_id(trace, n)?;
        for &lid in &placed.ids {
            super::break_extras::restrict_to_thread(trace, lid, tid, condition.map(str::to_owned))?;
        }
    } else if let Some(cond) = condition {
        for &lid in &placed.ids {
            if let Err(e) = set_c_condition(session, lid, cond) {
                let trace = session.trace()?;
                for &lid in &placed.ids {
                    let _ = trace.remove_breakpoint(lid);
                }
                return Err(e);
            }
        }
    }
    let line = placed.line;
    let line = if once { line.replacen("breakpoint", "one-time breakpoint", 1) } else { line };
    writeln!(out, "{line}")?;
    for &lid in &placed.ids {
        session.add_user_id(lid);
    }
    session.last_break = Some(id);
    session.shared.borrow_mut().specs.insert(id, (expr.to_owned(), once));
    if placed.pending {
        session.shared.borrow_mut().waiting.insert(id);
        session.shared.borrow_mut().from_pending.insert(id);
    }
    if placed.ids.len() > 1 {
        session.shared.borrow_mut().locations.insert(id, placed.ids);
    }
    session.breaks.entry(id).or_default().condition = condition.map(str::to_owned);
    Ok(())
}

/// `break [-t] EXPR [if COND]`.
pub fn add(session: &mut Session, args: Args<'_>, out: &mut dyn Write) -> CmdResult {
    let rest = args.rest.trim();
    if rest.is_empty() {
        return list(session, args, out);
    }
    match rest.strip_prefix("-t ").or_else(|| rest.strip_prefix("--once ")) {
        Some(expr) => set_breakpoint(session, expr, true, out),
        None => set_breakpoint(session, rest, false, out),
    }
}

/// `tbreak EXPR [if COND]`.
pub fn add_once(session: &mut Session, args: Args<'_>, out: &mut dyn Write) -> CmdResult {
    set_breakpoint(session, args.rest, true, out)
}

/// The id of an existing breakpoint (not a watchpoint).
fn existing_breakpoint(session: &mut Session, id: u32) -> Result<u32, CmdError> {
    match session.any_trace()?.breakpoint(id) {
        Some(_) => Ok(id),
        None => Err(CmdError(format!("no breakpoint {id}"))),
    }
}

/// Makes `cond`, a C expression, the condition of breakpoint `id`. Names it
/// uses must be in scope at the breakpoint (its function's arguments and
/// locals) or global: an unknown name is an error now. At a hit, a condition
/// that cannot be evaluated stops the program and says why.
pub fn set_c_condition(session: &mut Session, id: u32, cond: &str) -> CmdResult {
    let trace = session.trace()?;
    let addr = trace.breakpoint(id).filter(|b| b.resolved).map(|b| b.addr);
    let mut known = match addr {
        Some(addr) => trace.names_in_scope(addr)?,
        None => Vec::new(),
    };
    known.sort();
    let expr = {
        let tid = trace.current_thread();
        let mut target = trace.c_target(tid, 0)?;
        let expr = oxtrace::cexpr::parse(cond, &mut |name| {
            oxtrace::cexpr::Target::type_named(&mut target, name).ok().flatten().is_some()
        })
        .map_err(|e| CmdError(format!("bad condition {cond:?}: {e}")))?;
        // A pending breakpoint's scope is not known yet: its names are checked at the hits.
        for name in identifiers(&expr).into_iter().filter(|_| addr.is_some()) {
            if known.binary_search(&name).is_ok() {
                continue;
            }
            let global = oxtrace::cexpr::Target::variable(&mut target, &name, None).map_err(CmdError)?;
            if global.is_none() {
                return Err(CmdError(format!("No symbol \"{name}\" in current context (condition {cond:?}).")));
            }
        }
        expr
    };
    // A condition over globals only, without calls or assignments, reads the
    // same memory now as at a hit: memory it cannot read is an error now.
    let locals = identifiers(&expr).iter().any(|name| known.binary_search(name).is_ok());
    if addr.is_some() && !locals && !has_side_effects(&expr) {
        let mut values = oxtrace::cexpr::Values::default();
        let trace = session.trace()?;
        let tid = trace.current_thread();
        let mut target = trace.c_target(tid, 0)?;
        if let Err(e) = oxtrace::cexpr::evaluate(cond, &mut target, &mut values) {
            if e.starts_with("Cannot access memory") {
                return Err(CmdError(format!("{e} (condition {cond:?})")));
            }
        }
    }
    let shared = session.shared.clone();
    let text = cond.to_owned();
    let holds = move |trace: &mut oxtrace::Trace| {
        let tid = trace.current_thread();
        let mut values = oxtrace::cexpr::Values::default();
        let result = trace
            .c_target(tid, 0)
            .map_err(|e| e.to_string())
            .and_then(|mut target| oxtrace::cexpr::evaluate(&text, &mut target, &mut values))
            .and_then(|v| v.truth().ok_or_else(|| format!("a value of type `{}' is not a condition", v.ty.name)));
        match result {
            Ok(truth) => truth,
            Err(e) => {
                shared.borrow_mut().lines.push(format!("Error in testing condition for breakpoint {id}: {e}"));
                true
            }
        }
    };
    session.trace()?.set_breakpoint_condition(id, Some(Box::new(holds)))?;
    Ok(())
}

/// The plain names an expression uses (not members, not `$` names).
pub(super) fn identifiers(expr: &oxtrace::cexpr::Expr) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![expr];
    while let Some(e) = stack.pop() {
        if let oxtrace::cexpr::Expr::Ident(name) = e {
            found.push(name.clone());
        }
        stack.extend(subexpressions(e));
    }
    found
}

/// Whether an expression calls functions or assigns (evaluating it changes the program).
pub(super) fn has_side_effects(expr: &oxtrace::cexpr::Expr) -> bool {
    use oxtrace::cexpr::Expr;
    let mut stack = vec![expr];
    while let Some(e) = stack.pop() {
        if matches!(e, Expr::Call(..) | Expr::Assign(..)) {
            return true;
        }
        stack.extend(subexpressions(e));
    }
    false
}

/// The expressions directly inside `expr`, left to right.
fn subexpressions(expr: &oxtrace::cexpr::Expr) -> Vec<&oxtrace::cexpr::Expr> {
    use oxtrace::cexpr::Expr;
    match expr {
        Expr::Unary(_, a) | Expr::Cast(_, a) | Expr::SizeofExpr(a) | Expr::Member(a, _) | Expr::Arrow(a, _) => vec![a],
        Expr::Binary(_, a, b) | Expr::Assign(_, a, b) | Expr::Index(a, b) | Expr::Comma(a, b) | Expr::Repeat(a, b) => {
            vec![a, b]
        }
        Expr::Cond(a, b, c) => vec![a, b, c],
        Expr::Call(f, args) => std::iter::once(&**f).chain(args.iter()).collect(),
        _ => Vec::new(),
    }
}

/// `condition ID [COND]`.
pub fn condition(session: &mut Session, args: Args<'_>, out: &mut dyn Write) -> CmdResult {
    let rest = args.rest.trim();
    let (id_text, cond) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    let id = existing_breakpoint(session, id_arg(id_text)?)?;
    let cond = cond.trim();
    let ids = super::locations::location_ids(session, id);
    let trace = session.any_trace()?;
    if cond.is_empty() {
        for &lid in &ids {
            trace.set_breakpoint_condition(lid, None)?;
        }
        writeln!(out, "breakpoint {id}: no condition")?;
        session.breaks.entry(id).or_default().condition = None;
    } else {
        for &lid in &ids {
            set_c_condition(session, lid, cond)?;
        }
        writeln!(out, "breakpoint {id}: stops only if {cond}")?;
        session.breaks.entry(id).or_default().condition = Some(cond.to_owned());
    }
    Ok(())
}

/// `commands [ID] [CMD; CMD...]`.
pub fn commands(session: &mut Session, args: Args<'_>, out: &mut dyn Write) -> CmdResult {
    let rest = args.rest.trim();
    let first = rest.split_whitespace().next().unwrap_or("");
    let (id, inline) = match first.parse::<u32>() {
        Ok(id) => (id, rest[first.len()..].trim()),
        Err(_) => (session.last_break.ok_or_else(|| CmdError("no breakpoint yet: give an id".into()))?, rest),
    };
    let id = existing_breakpoint(session, id)?;
    if inline.is_empty() {
        session.collect_commands(id);
        writeln!(out, "type the commands for breakpoint {id}, one a line, then \"end\"")?;
        return Ok(());
    }
    let list: Vec<String> = inline.split(';').map(|c| c.trim().to_owned()).filter(|c| !c.is_empty()).collect();
    writeln!(out, "breakpoint {id}: {} command(s) to run at each stop", list.len())?;
    session.set_commands(id, list);
    Ok(())
}

/// `breakpoints`: breakpoints and watchpoints, one a line.
pub fn list(session: &mut Session, _args: Args<'_>, out: &mut dyn Write) -> CmdResult {
    let extras = session.breaks.clone();
    let watches = session.watches.clone();
    let internal: Vec<u32> = watches.values().filter_map(|w| w.scope.as_ref()?.breakpoint).collect();
    let locations = session.shared.borrow().locations.clone();
    let mut multi = Vec::new();
    for &id in locations.keys() {
        if let Some(subs) = super::locations::sub_lines(session, id) {
            multi.push((id, subs));
        }
    }
    let trace = session.any_trace()?;
    let live = trace.is_attached();
    let mut lines: Vec<(u32, String)> = Vec::new();
    for bp in trace.breakpoints().into_iter().filter(|b| !internal.contains(&b.id)) {
        if super::locations::owner_of(&locations, bp.id) != bp.id {
            continue;
        }
        let kind = match bp.kind {
            BreakpointKind::OneTime => "once",
            BreakpointKind::InProcess => "tracepoint",
            _ => "breakpoint",
        };
        let enabled = if bp.enabled { "y" } else { "n" };
        let subs = multi.iter().find(|(id, _)| *id == bp.id).map(|(_, subs)| subs.clone());
        let hits = subs.as_ref().map_or(bp.hits, |(_, hits)| *hits);
        // A tracepoint's counter is in the program.
        let hits = match bp.kind {
            BreakpointKind::InProcess if live => trace.in_process_hits(bp.id).unwrap_or(hits),
            _ => hits,
        };
        let subs = subs.map(|(lines, _)| lines);
        let place = if let Some(subs) = &subs {
            format!("<{} locations>", subs.len())
        } else if !bp.resolved {
            format!("pending on {:?}", bp.expr.clone().unwrap_or_default())
        } else if live {
            describe_addr(trace, bp.addr)
        } else {
            format!("0x{:016x}", bp.addr)
        };
        let mut line = format!("{:<3} {kind:<11} {enabled} {place}  hits {hits}", bp.id);
        if let Some(extra) = extras.get(&bp.id) {
            if let Some(cond) = &extra.condition {
                line.push_str(&format!("  if {cond}"));
            }
            if !extra.commands.is_empty() {
                line.push_str(&format!("  commands: {}", extra.commands.join("; ")));
            }
        }
        if bp.kind == BreakpointKind::InProcess {
            line.push_str(&super::tracepoints::list_note(trace, bp.id));
        }
        if let Some(subs) = subs {
            line.extend(subs.iter().map(|s| format!("\n{s}")));
        }
        lines.push((bp.id, line));
    }
    let trace = session.any_trace()?;
    for w in trace.watchpoints() {
        if let Some(watch) = watches.get(&w.id) {
            lines.push((w.id, super::watches::list_line(watch, w.id, w.hits)));
            continue;
        }
        let kind = match w.kind {
            WatchKind::Execute => "watch-exec",
            WatchKind::Write => "watch-write",
            WatchKind::ReadWrite => "watch-rw",
        };
        let place = if live { describe_addr(trace, w.addr) } else { format!("0x{:016x}", w.addr) };
        lines.push((w.id, format!("{:<3} {kind:<11} y {place} ({} bytes)  hits {}", w.id, w.size, w.hits)));
    }
    lines.extend(super::catch::list_lines(session));
    lines.sort();
    if lines.is_empty() {
        writeln!(out, "no breakpoints or watchpoints")?;
    }
    for (_, line) in lines {
        writeln!(out, "{line}")?;
    }
    Ok(())
}

fn set_enabled(session: &mut Session, args: Args<'_>, enabled: bool, out: &mut dyn Write) -> CmdResult {
    let mut ids = args.words().iter().map(|w| id_arg(w)).collect::<Result<Vec<_>, _>>()?;
    if ids.is_empty() {
        // All of them, as gdb's `enable` and `disable` without arguments.
        let locations = session.shared.borrow().locations.clone();
        ids = session.any_trace()?.breakpoints().iter().map(|b| b.id).collect();
        ids.retain(|id| super::locations::owner_of(&locations, *id) == *id);
        ids.extend(session.shared.borrow().catches.list.iter().map(|c| c.num));
    }
    for id in ids {
        if session.shared.borrow_mut().catches.set_enabled(id, enabled) {
            session.apply_signal_policy();
            writeln!(out, "catchpoint {id} {}", if enabled { "enabled" } else { "disabled" })?;
            continue;
        }
        let lids = super::locations::location_ids(session, id);
        let trace = session.trace()?;
        if trace.watchpoints().iter().any(|w| w.id == id) {
            return Err(CmdError(format!("watchpoint {id} cannot be disabled or enabled: delete it instead")));
        }
        for lid in lids {
            trace.set_breakpoint_enabled(lid, enabled).map_err(|_| CmdError(format!("no breakpoint {id}")))?;
        }
        writeln!(out, "breakpoint {id} {}", if enabled { "enabled" } else { "disabled" })?;
    }
    Ok(())
}

/// `enable ID...`.
pub fn enable(session: &mut Session, args: Args<'_>, out: &mut dyn Write) -> CmdResult {
    set_enabled(session, args, true, out)
}

/// `disable ID...`.
pub fn disable(session: &mut Session, args: Args<'_>, out: &mut dyn Write) -> CmdResult {
    set_enabled(session, args, false, out)
}

/// `delete [ID...]`.
pub fn delete(session: &mut Session, args: Args<'_>, out: &mut dyn Write) -> CmdResult {
    if let Some(["catch", nums @ ..]) = Some(args.words().as_slice()) {
        return super::catch::delete(session, nums, out);
    }
    if args.words().is_empty() {
        session.shared.borrow_mut().catches.list.clear();
        session.apply_signal_policy();
    }
    let mut ids = args.words().iter().map(|w| id_arg(w)).collect::<Result<Vec<_>, _>>()?;
    // Catchpoints share the numbers.
    let catches: Vec<u32> = ids.iter().copied().filter(|id| session.shared.borrow().catches.has(*id)).collect();
    if !catches.is_empty() {
        session.shared.borrow_mut().catches.list.retain(|c| !catches.contains(&c.num));
        session.apply_signal_policy();
        for id in &catches {
            writeln!(out, "deleted {id}")?;
        }
        ids.retain(|id| !catches.contains(id));
        if ids.is_empty() {
            return Ok(());
        }
    }
    let locations = std::mem::take(&mut session.shared.borrow_mut().locations);
    let mut kept = locations.clone();
    let mut expanded = Vec::new();
    for id in &ids {
        expanded.extend(kept.remove(id).unwrap_or_else(|| vec![*id]));
    }
    session.shared.borrow_mut().locations = if ids.is_empty() { Default::default() } else { kept };
    let shown: Vec<u32> = ids.clone();
    ids = expanded;
    let internal: Vec<u32> = session.watches.values().filter_map(|w| w.scope.as_ref()?.breakpoint).collect();
    let all = ids.is_empty();
    if all {
        let trace = session.trace()?;
        ids = trace
            .breakpoints()
            .iter()
            .map(|b| b.id)
            .filter(|id| !internal.contains(id))
            .chain(trace.watchpoints().iter().map(|w| w.id))
            .chain(trace.page_watches().iter().map(|w| w.id))
            .collect();
    }
    let mut deleted = Vec::new();
    let mut result = Ok(());
    for id in ids {
        let removed = match super::watches::delete(session, id) {
            Ok(true) => {
                deleted.push(id);
                writeln!(out, "deleted {id}")?;
                continue;
            }
            Ok(false) => Ok(()),
            Err(e) => Err(e),
        };
        let trace = session.trace()?;
        let removed = if removed.is_err() {
            removed
        } else if trace.watchpoints().iter().any(|w| w.id == id) {
            trace.remove_watchpoint(id).map_err(CmdError::from)
        } else if trace.page_watches().iter().any(|w| w.id == id) {
            trace.remove_page_watch(id).map_err(CmdError::from)
        } else {
            trace.remove_breakpoint(id).map_err(|_| CmdError(format!("no breakpoint or watchpoint {id}")))
        };
        if let Err(e) = removed {
            result = Err(e);
            break;
        }
        deleted.push(id);
        if shown.is_empty() || shown.contains(&id) {
            writeln!(out, "deleted {id}")?;
        }
    }
    for id in deleted {
        session.breaks.remove(&id);
    }
    result?;
    if all {
        writeln!(out, "no breakpoints or watchpoints left")?;
    }
    Ok(())
}

/// `watch EXPR [if COND]` (gdb's, over C), or `watch [-r|-a|-x] [-s SIZE] ADDRESS`: raw bytes at an address.
pub fn watch(session: &mut Session, args: Args<'_>, out: &mut dyn Write) -> CmdResult {
    if super::watches::is_c_form(args.rest) {
        return super::watches::watch(session, args.rest, out);
    }
    let mut kind = WatchKind::Write;
    let mut size = None;
    let mut rest = args.rest.trim();
    loop {
        if let Some(r) = rest.strip_prefix("-r ").or_else(|| rest.strip_prefix("-a ")) {
            kind = WatchKind::ReadWrite;
            rest = r.trim_start();
        } else if let Some(r) = rest.strip_prefix("-x ") {
            kind = WatchKind::Execute;
            rest = r.trim_start();
        } else if let Some(r) = rest.strip_prefix("-s ").or_else(|| rest.strip_prefix("-l ")) {
            let (n, r) = r.trim_start().split_once(char::is_whitespace).unwrap_or((r, ""));
            size = Some(n.parse::<usize>().map_err(|_| CmdError(format!("bad watch size {n:?} (1, 2, 4 or 8)")))?);
            rest = r.trim_start();
        } else {
            break;
        }
    }
    // A word of the debuggee by default (4 bytes in a 32-bit process).
    let pointer_size = session.trace()?.arch().pointer_size;
    let size = size.unwrap_or(if kind == WatchKind::Execute { 1 } else { pointer_size });
    let addr = super::values::address_of(session, rest)?;
    let trace = session.trace()?;
    let id = trace.add_watchpoint(addr, size, kind)?;
    let what = match kind {
        WatchKind::Write => "writes",
        WatchKind::ReadWrite => "reads and writes",
        WatchKind::Execute => "execution",
    };
    let place = describe_addr(trace, addr);
    writeln!(out, "watchpoint {id} on {what} of {size} byte(s) at {place}")?;
    session.add_user_id(id);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_split() {
        assert_eq!(split_condition("d if rdi == 3"), ("d", Some("rdi == 3")));
        assert_eq!(split_condition("calls.d+4"), ("calls.d+4", None));
    }
}
