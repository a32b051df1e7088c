//! Breakpoint locations in oxdb: `break FILE:LINE`, `LINE`, `FUNCTION`,
//! `FILE:FUNCTION`, `*ADDRESS` (resolved by the library), breakpoints with
//! several locations (`1.1`, `1.2`: every inlined copy, clone and module
//! defining a name), and pending breakpoints, made only when asked for
//! (`set breakpoint pending on`), when the program's libraries are not
//! loaded yet, or when the name is qualified with a module not loaded yet.
//!
//! A breakpoint of several locations is one library breakpoint per
//! location; the first one's id is the breakpoint's number, and the others
//! are listed under it.

use std::io::Write;

use oxtrace::symbols::Location;
use oxtrace::{BreakpointKind, Trace};

use super::symbols::describe_addr;
use crate::session::{CmdError, Session};

/// Whether a name not found becomes a pending breakpoint (gdb's `set breakpoint pending`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pending {
    /// Only while the program's libraries are not loaded, or for a module not loaded.
    #[default]
    Auto,
    /// Always.
    On,
    /// Never.
    Off,
}

/// What `place` made.
#[derive(Debug)]
pub struct Placed {
    /// The breakpoint's number (its first location's library id).
    pub id: u32,
    /// Every location's library id, the first one included.
    pub ids: Vec<u32>,
    /// The line to print.
    pub line: String,
    /// Whether it is pending (placed by [`resolve_waiting`] once its library loads).
    pub pending: bool,
}

/// Sets a breakpoint at the location `text`.
pub fn place(session: &mut Session, text: &str, once: bool) -> Result<Placed, CmdError> {
    let location = Location::parse(text)?;
    let pending = session.shared.borrow().pending;
    let kind = if once { BreakpointKind::OneTime } else { BreakpointKind::Normal };
    let trace = session.trace()?;
    let current = current_file(trace);
    let addrs = match &location {
        // `*EXPR` keeps the library's by-expression breakpoint: re-set after an exec, pending on a module.
        Location::Address(expr) if !once => {
            let id = trace.add_break_by_expr(expr)?;
            return Ok(Placed { id, ids: vec![id], line: describe_one(trace, id, expr), pending: false });
        }
        _ => match trace.location_addresses(&location, current.as_deref()) {
            // Before the program's libraries load, a name found only in the
            // dynamic linker is its private copy: wait for the library's.
            Ok(addrs) if only_in_linker(trace, &addrs) => {
                let error = oxtrace::Error::NoSuchSymbol(text.to_owned());
                return pend(trace, &location, pending, error);
            }
            Ok(addrs) => addrs,
            Err(e) => return pend(trace, &location, pending, e),
        },
    };
    let mut ids: Vec<u32> = Vec::new();
    for addr in &addrs {
        // The first location has the breakpoint's number; the others none of their own.
        let added = match ids.first() {
            None => trace.add_breakpoint(*addr, kind, None),
            Some(&first) => trace.add_breakpoint_like(first, *addr),
        };
        match added {
            Ok(id) => ids.push(id),
            Err(e) => {
                for id in ids {
                    let _ = trace.remove_breakpoint(id);
                }
                return Err(e.into());
            }
        }
    }
    let id = ids[0];
    let line = if addrs.len() == 1 {
        format!("breakpoint {id} at {}", place_text(trace, addrs[0]))
    } else {
        format!("breakpoint {id} at {text}: {} locations", addrs.len())
    };
    Ok(Placed { id, ids, line, pending: false })
}

/// A location not found: a pending breakpoint when that is allowed, else the error.
fn pend(trace: &mut Trace, location: &Location, pending: Pending, error: oxtrace::Error) -> Result<Placed, CmdError> {
    let Location::Function { file: None, name } = location else { return Err(error.into()) };
    let unloaded_module = name.split_once('.').is_some_and(|(module, rest)| {
        !rest.is_empty() && trace.symbols().is_ok_and(|s| s.module_by_name(module).is_none())
    });
    let allowed = match pending {
        Pending::On => true,
        Pending::Off => false,
        Pending::Auto => unloaded_module || !trace.program_libraries_loaded().unwrap_or(true),
    };
    if !allowed {
        return Err(CmdError(format!(
            "no function {name:?} in the program or its libraries (`set breakpoint pending on` waits for a library)"
        )));
    }
    // A name that is not an expression too (`<S as T>::m`) waits for `resolve_waiting` alone.
    let id = match trace.add_deferred_break_by_expr(name) {
        Ok(id) => id,
        Err(_) => trace.add_pending_breakpoint(name).map_err(|_| CmdError::from(error))?,
    };
    Ok(Placed { id, ids: vec![id], line: describe_one(trace, id, name), pending: true })
}

/// After a library loaded: each pending breakpoint whose location now
/// resolves is given the same places as one set now (after the prologue,
/// every inlined copy, clone and module: locations `N.1`, `N.2`...), with
/// its number, condition, commands and state. The library may already have
/// placed it at its name's address: it is moved. Locations it had before
/// its library was unloaded are moved back, keeping their numbers and hits.
pub fn resolve_waiting(
    trace: &mut Trace,
    shared: &std::rc::Rc<std::cell::RefCell<crate::session::Shared>>,
    module: &str,
) {
    let waiting: Vec<(u32, String)> = {
        let state = shared.borrow();
        state.waiting.iter().filter_map(|id| Some((*id, state.specs.get(id)?.0.clone()))).collect()
    };
    for (id, text) in waiting {
        if trace.breakpoint(id).is_none() {
            shared.borrow_mut().waiting.remove(&id);
            continue;
        }
        let Ok(location) = Location::parse(&text) else { continue };
        // Resolved across every module only when the new one has the name (resolving costs a walk of DWARF).
        let elsewhere = match in_module(&location, module) {
            Some(here) => trace.location_addresses(&here, None).is_err(),
            None => !matches!(&location, Location::Function { name, .. } if name.starts_with(&format!("{module}."))),
        };
        if elsewhere {
            continue;
        }
        let addrs = match trace.location_addresses(&location, None) {
            Ok(addrs) if !addrs.is_empty() && !only_in_linker(trace, &addrs) => addrs,
            _ => continue,
        };
        let before = shared.borrow().locations.get(&id).cloned().unwrap_or_else(|| vec![id]);
        if trace.move_breakpoint(id, addrs[0]).is_err() {
            continue;
        }
        let mut ids = vec![id];
        for (k, &addr) in addrs.iter().enumerate().skip(1) {
            let placed = match before.get(k) {
                Some(&lid) if trace.move_breakpoint(lid, addr).is_ok() => Some(lid),
                _ => trace.add_breakpoint_like(id, addr).ok(),
            };
            ids.extend(placed);
        }
        for &lid in before.iter().filter(|lid| !ids.contains(lid)) {
            let _ = trace.remove_breakpoint(lid);
        }
        let mut state = shared.borrow_mut();
        state.waiting.remove(&id);
        state.user_ids.extend(ids.iter().copied());
        if ids.len() > 1 {
            state.locations.insert(id, ids);
        } else {
            state.locations.remove(&id);
        }
    }
    add_new_locations(trace, shared, module);
}

/// A function location restricted to one module (`libm.cos` for `cos`);
/// `None` for another location, or a name qualified with a module already.
fn in_module(location: &Location, module: &str) -> Option<Location> {
    let Location::Function { file, name } = location else { return None };
    let qualified = name.split_once('.').is_some_and(|(m, rest)| !rest.is_empty() && !m.contains(':'));
    (!qualified).then(|| Location::Function { file: file.clone(), name: format!("{module}.{name}") })
}

/// After a library was unloaded: a pending breakpoint the library took out
/// with it (it waits again, deferred, and so do its other locations) waits
/// to be placed again when a library loads; a location added in the library
/// to a breakpoint of another module is forgotten with the library's code.
pub fn wait_again(trace: &mut Trace, shared: &std::rc::Rc<std::cell::RefCell<crate::session::Shared>>) {
    let ids: Vec<u32> = shared.borrow().from_pending.iter().copied().collect();
    for id in ids {
        match trace.breakpoint(id) {
            None => drop(shared.borrow_mut().from_pending.remove(&id)),
            Some(bp) if !bp.resolved => drop(shared.borrow_mut().waiting.insert(id)),
            Some(_) => {}
        }
    }
    let locations = shared.borrow().locations.clone();
    for (id, ids) in locations {
        if shared.borrow().from_pending.contains(&id) {
            continue;
        }
        for lid in ids.into_iter().filter(|&lid| lid != id) {
            let Some(bp) = trace.breakpoint(lid).cloned() else { continue };
            if bp.resolved && trace.symbols().is_ok_and(|s| s.module_by_addr(bp.addr).is_none()) {
                let _ = trace.unplace_breakpoint(lid);
            }
        }
    }
}

/// After library `module` loaded: a breakpoint on a function gets a location in
/// it too when it defines the function (every module that defines a name
/// is a location, as gdb re-sets its breakpoints at each load).
fn add_new_locations(
    trace: &mut Trace,
    shared: &std::rc::Rc<std::cell::RefCell<crate::session::Shared>>,
    module: &str,
) {
    let specs: Vec<(u32, String)> = {
        let state = shared.borrow();
        state
            .specs
            .iter()
            .filter(|(id, (_, once))| !once && !state.waiting.contains(id))
            .map(|(id, (text, _))| (*id, text.clone()))
            .collect()
    };
    for (id, text) in specs {
        if !trace.breakpoint(id).is_some_and(|b| b.resolved) {
            continue;
        }
        // Only the new module is looked at: the others were when the breakpoint was set.
        let Some(location) = Location::parse(&text).ok().and_then(|l| in_module(&l, module)) else { continue };
        let Ok(addrs) = trace.location_addresses(&location, None) else { continue };
        let mut ids = shared.borrow().locations.get(&id).cloned().unwrap_or_else(|| vec![id]);
        let placed = |trace: &Trace, lid: u32| trace.breakpoint(lid).filter(|b| b.resolved).map(|b| b.addr);
        let known: Vec<u64> = ids.iter().filter_map(|&lid| placed(trace, lid)).collect();
        // Locations whose library went away are placed again first, with their numbers and hits.
        let mut idle: Vec<u32> = ids.iter().copied().filter(|&lid| lid != id && placed(trace, lid).is_none()).collect();
        let mut changed = false;
        for addr in addrs.into_iter().filter(|a| !known.contains(a)) {
            match idle.first().copied() {
                Some(lid) if trace.move_breakpoint(lid, addr).is_ok() => drop(idle.remove(0)),
                _ => ids.extend(trace.add_breakpoint_like(id, addr).ok()),
            }
            changed = true;
        }
        if changed && ids.len() > 1 {
            let mut state = shared.borrow_mut();
            state.user_ids.extend(ids.iter().copied());
            state.locations.insert(id, ids);
        }
    }
}

/// Whether the program's libraries are not loaded yet and every address is in the dynamic linker.
fn only_in_linker(trace: &mut Trace, addrs: &[u64]) -> bool {
    if trace.program_libraries_loaded().unwrap_or(true) {
        return false;
    }
    let Ok(symbols) = trace.symbols() else { return false };
    addrs.iter().all(|&a| symbols.module_by_addr(a).is_some_and(|m| m.name == "ld"))
}

/// `breakpoint N at PLACE`, or pending.
fn describe_one(trace: &mut Trace, id: u32, expr: &str) -> String {
    match trace.breakpoint(id).cloned() {
        Some(bp) if bp.resolved => format!("breakpoint {id} at {}", place_text(trace, bp.addr)),
        _ => format!("breakpoint {id} pending on {expr:?} (not loaded yet)"),
    }
}

/// An address with its symbol, and its source line when DWARF knows it.
pub fn place_text(trace: &mut Trace, addr: u64) -> String {
    let mut text = describe_addr(trace, addr);
    if let Ok(Some((file, line))) = trace.line_for_addr(addr) {
        let short = file.rsplit('/').next().unwrap_or(&file).to_owned();
        text.push_str(&format!(", {short}:{line}"));
    }
    text
}

/// The file of a bare `LINE`: the current location's, else `main`'s.
fn current_file(trace: &mut Trace) -> Option<String> {
    let pc = trace.pc().ok()?;
    if let Ok(Some((file, _))) = trace.line_for_addr(pc) {
        return Some(file);
    }
    let main = trace.sym_by_name("main").ok()?;
    trace.line_for_addr(main).ok().flatten().map(|(file, _)| file)
}

/// Every library id of the user's breakpoint `id` (its locations), or just `id`.
pub fn location_ids(session: &Session, id: u32) -> Vec<u32> {
    let shared = session.shared.borrow();
    match shared.locations.get(&id) {
        Some(ids) => ids.clone(),
        None => vec![id],
    }
}

/// The user's breakpoint a library id belongs to.
pub fn owner_of(locations: &std::collections::BTreeMap<u32, Vec<u32>>, id: u32) -> u32 {
    locations.iter().find(|(_, ids)| ids.contains(&id)).map_or(id, |(owner, _)| *owner)
}

/// The lines `info breakpoints` shows under a breakpoint of several locations
/// (`N.K  y  ADDRESS in FUNCTION, FILE:LINE  hits H`); `None` for one location.
pub fn sub_lines(session: &mut Session, id: u32) -> Option<(Vec<String>, u64)> {
    let ids = session.shared.borrow().locations.get(&id).cloned()?;
    let trace = session.any_trace().ok()?;
    let live = trace.is_attached();
    let mut lines = Vec::new();
    let mut hits = 0;
    for (k, lid) in ids.iter().enumerate() {
        let Some(bp) = trace.breakpoint(*lid).cloned() else { continue };
        hits += bp.hits;
        let place = match (live, bp.resolved) {
            (_, false) => match &bp.expr {
                Some(expr) => format!("pending on {expr:?}"),
                None => "pending (its library is not loaded)".to_owned(),
            },
            (true, true) => place_text(trace, bp.addr),
            (false, true) => format!("0x{:016x}", bp.addr),
        };
        let enabled = if bp.enabled { "y" } else { "n" };
        lines.push(format!("{:<15} {enabled} {place}  hits {}", format!("{id}.{}", k + 1), bp.hits));
    }
    Some((lines, hits))
}

/// `set breakpoint pending on|off|auto`; `None` if `text` is another setting.
pub fn try_set(session: &mut Session, text: &str, out: &mut dyn Write) -> Option<Result<(), CmdError>> {
    let value = text.strip_prefix("breakpoint pending")?.trim();
    let pending = match value {
        "on" => Pending::On,
        "off" => Pending::Off,
        "auto" => Pending::Auto,
        _ => return Some(Err(CmdError(format!("breakpoint pending is on, off or auto, not {value:?}")))),
    };
    session.shared.borrow_mut().pending = pending;
    Some(writeln!(out, "pending breakpoints: {value}").map_err(CmdError::from))
}
