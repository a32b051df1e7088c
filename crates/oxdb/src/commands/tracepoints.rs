//! Tracepoints: in-process breakpoints that count, test and record inside the
//! program without stopping it (oxtrace's jump pads).
//!
//! `trace LOCATION [if COND]` counts the hits where COND holds (COND is in the
//! expression language of `eval`: registers, `poi()`, symbols, arithmetic,
//! comparisons, `&&`, `||`, compiled to machine code). `collect [ID] REG...`
//! makes each hit append the registers (and `$args`: the six argument
//! registers) to the tracepoint's ring buffer. `tstatus` (`info tracepoints`)
//! lists the counts, read from the program while it runs; `tdump [ID]`
//! prints the records appended since the last `tdump`. `info breakpoints`
//! shows tracepoints as `tracepoint`, with `[jump pad]` or why it works
//! through int3.

use std::io::Write;

use oxtrace::symbols::Location;
use oxtrace::{BreakpointKind, InProcessOptions, Trace};

use super::{id_arg, Args};
use crate::session::{CmdError, CmdResult, Session};

/// The argument registers `$args` stands for.
const ARGS: [&str; 6] = ["rdi", "rsi", "rdx", "rcx", "r8", "r9"];

/// The one address of a location (`*EXPR`, FUNCTION, FILE:LINE...).
fn address_of(trace: &mut Trace, text: &str) -> Result<u64, CmdError> {
    if let Some(expr) = text.strip_prefix('*') {
        return super::eval(trace, expr);
    }
    let location = Location::parse(text)?;
    match trace.location_addresses(&location, None)?.as_slice() {
        [addr] => Ok(*addr),
        [] => Err(CmdError(format!("no code at {text:?}"))),
        many => Err(CmdError(format!("{text:?} has {} locations: give one with *ADDRESS", many.len()))),
    }
}

/// `trace LOCATION [if COND]`.
pub fn trace(session: &mut Session, args: Args<'_>, out: &mut dyn Write) -> CmdResult {
    let (location, condition) = super::breakpoints::split_condition(args.rest);
    if location.is_empty() {
        return Err("a location is needed: FUNCTION, FILE:LINE or *ADDRESS".into());
    }
    let options = InProcessOptions { condition: condition.map(str::to_owned), ..Default::default() };
    let trace = session.trace()?;
    let addr = address_of(trace, location)?;
    let id = trace.add_in_process_breakpoint(addr, options)?;
    let place = super::locations::place_text(trace, addr);
    writeln!(out, "tracepoint {id} at {place}{}", how(trace, id))?;
    session.add_user_id(id);
    if let Some(cond) = condition {
        session.breaks.entry(id).or_default().condition = Some(cond.to_owned());
    }
    Ok(())
}

/// `` (a jump pad) or ` (through int3: WHY)`.
fn how(trace: &Trace, id: u32) -> String {
    match trace.in_process_fallback(id) {
        Some(why) => format!(" (through int3: {why})"),
        None => String::new(),
    }
}

/// What `info breakpoints` adds after a tracepoint's place.
pub fn list_note(trace: &Trace, id: u32) -> String {
    match trace.in_process_fallback(id) {
        Some(why) => format!("  [int3: {why}]"),
        None => "  [jump pad]".into(),
    }
}

/// Whether breakpoint `id` is a tracepoint.
fn is_tracepoint(trace: &Trace, id: u32) -> bool {
    trace.breakpoint(id).is_some_and(|b| b.kind == BreakpointKind::InProcess)
}

/// `collect [ID] REG... | $args`: the values each hit of tracepoint ID (the last one) records.
pub fn collect(session: &mut Session, args: Args<'_>, out: &mut dyn Write) -> CmdResult {
    let mut words = args.words();
    let id = match words.first().and_then(|w| w.parse::<u32>().ok()) {
        Some(id) => {
            words.remove(0);
            id
        }
        None => session.last_break.ok_or_else(|| CmdError("no tracepoint yet: give an id".into()))?,
    };
    if words.is_empty() {
        return Err("collect what? registers (rdi rsp...) or $args".into());
    }
    let trace = session.trace()?;
    if !is_tracepoint(trace, id) {
        return Err(CmdError(format!("{id} is not a tracepoint")));
    }
    let old = trace.in_process_options(id).cloned().unwrap_or_default();
    let mut options = InProcessOptions { collect: Vec::new(), args: 0, ..old.clone() };
    for word in words {
        match word {
            "$args" | "$arguments" => options.args = ARGS.len(),
            register => options.collect.push(register.trim_start_matches('$').to_owned()),
        }
    }
    // The pad is assembled with what it records: a new one takes the old one's place.
    let addr = trace.breakpoint(id).map(|b| b.addr).unwrap_or_default();
    trace.remove_breakpoint(id)?;
    let reuse = trace.set_next_breakpoint_id(id);
    let new = match trace.add_in_process_breakpoint(addr, options.clone()) {
        Ok(new) => new,
        Err(e) => {
            // Put the old one back, as it was.
            trace.set_next_breakpoint_id(id);
            trace.add_in_process_breakpoint(addr, old)?;
            return Err(e.into());
        }
    };
    let mut what: Vec<String> = options.collect.clone();
    if options.args > 0 {
        what.push("$args".into());
    }
    let renumbered = if reuse { String::new() } else { format!(" (was {id})") };
    writeln!(out, "tracepoint {new}{renumbered} collects {}", what.join(" "))?;
    if new != id {
        session.add_user_id(new);
        if let Some(extra) = session.breaks.remove(&id) {
            session.breaks.insert(new, extra);
        }
    }
    Ok(())
}

/// `tstatus` / `info tracepoints`: each tracepoint's hits, read from the program.
pub fn status(session: &mut Session, _args: Args<'_>, out: &mut dyn Write) -> CmdResult {
    let conditions: Vec<(u32, Option<String>)> =
        session.breaks.iter().map(|(&id, extra)| (id, extra.condition.clone())).collect();
    let trace = session.any_trace()?;
    let live = trace.is_attached();
    let tracepoints: Vec<_> = trace.breakpoints().into_iter().filter(|b| b.kind == BreakpointKind::InProcess).collect();
    if tracepoints.is_empty() {
        writeln!(out, "no tracepoints")?;
        return Ok(());
    }
    for bp in tracepoints {
        let hits = match trace.in_process_hits(bp.id) {
            Ok(hits) => hits.to_string(),
            Err(_) if !live => "? (the program has ended)".into(),
            Err(e) => format!("? ({e})"),
        };
        let place = if live { super::symbols::describe_addr(trace, bp.addr) } else { format!("{:#x}", bp.addr) };
        let enabled = if bp.enabled { "y" } else { "n" };
        let mut line = format!("{:<3} tracepoint  {enabled} {place}  hits {hits}", bp.id);
        if let Some((_, Some(cond))) = conditions.iter().find(|(id, _)| *id == bp.id) {
            line.push_str(&format!("  if {cond}"));
        }
        if let Some(options) = trace.in_process_options(bp.id) {
            let mut what = options.collect.clone();
            if options.args > 0 {
                what.push("$args".into());
            }
            if !what.is_empty() {
                line.push_str(&format!("  collects {}", what.join(" ")));
            }
        }
        line.push_str(&list_note(trace, bp.id));
        writeln!(out, "{line}")?;
    }
    Ok(())
}

/// `tdump [ID]`: the records tracepoint ID (every tracepoint) appended since the last `tdump`.
pub fn dump(session: &mut Session, args: Args<'_>, out: &mut dyn Write) -> CmdResult {
    let trace = session.trace()?;
    let ids: Vec<u32> = match args.rest.trim() {
        "" => trace
            .breakpoints()
            .into_iter()
            .filter(|b| trace.in_process_options(b.id).is_some_and(InProcessOptions::records))
            .map(|b| b.id)
            .collect(),
        text => vec![id_arg(text)?],
    };
    for id in ids {
        let options = trace.in_process_options(id).cloned().ok_or_else(|| CmdError(format!("no tracepoint {id}")))?;
        let mut names = options.collect.clone();
        names.extend(ARGS.iter().take(options.args).map(|r| (*r).to_owned()));
        let got = trace.take_in_process_records(id)?;
        writeln!(out, "tracepoint {id}: {} records ({} lost)", got.records.len(), got.lost)?;
        for record in got.records {
            let values: Vec<String> =
                names.iter().zip(&record.values).map(|(name, value)| format!("{name}={value:#x}")).collect();
            writeln!(out, "  #{} tsc {} {}", record.index, record.tsc, values.join(" "))?;
        }
    }
    Ok(())
}
