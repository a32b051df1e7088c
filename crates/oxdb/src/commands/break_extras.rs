//! More of gdb's breakpoint commands: `ignore ID COUNT` (skip the next COUNT
//! hits), `clear LOCATION` (delete the breakpoints there), `rbreak REGEX`
//! (a breakpoint on every function whose name matches), and the `thread N`
//! part of `break LOCATION thread N [if COND]`.

use std::io::Write;

use oxtrace::symbols::{Location, SymbolKind};
use oxtrace::Trace;

use super::{id_arg, Args};
use crate::session::{CmdError, CmdResult, Session};

/// `ignore ID COUNT`.
pub fn ignore(session: &mut Session, args: Args<'_>, out: &mut dyn Write) -> CmdResult {
    let words = args.words();
    let [id, count] = words.as_slice() else { return Err("usage: ignore ID COUNT".into()) };
    let id = id_arg(id)?;
    let count: u64 = count.parse().map_err(|_| CmdError(format!("bad count {count:?}")))?;
    if session.any_trace()?.breakpoint(id).is_none() {
        return Err(CmdError(format!("no breakpoint {id}")));
    }
    session.shared.borrow_mut().ignore_counts.insert(id, count);
    match count {
        0 => writeln!(out, "breakpoint {id} will stop the next time it is reached")?,
        1 => writeln!(out, "breakpoint {id}: the next hit is ignored")?,
        n => writeln!(out, "breakpoint {id}: the next {n} hits are ignored")?,
    }
    Ok(())
}

/// `clear LOCATION`: deletes the breakpoints with a location there.
pub fn clear(session: &mut Session, args: Args<'_>, out: &mut dyn Write) -> CmdResult {
    let location = Location::parse(args.rest)?;
    let trace = session.trace()?;
    let pc = trace.pc()?;
    let file = trace.line_for_addr(pc)?.map(|(file, _)| file);
    let addrs = trace.location_addresses(&location, file.as_deref())?;
    let locations = session.shared.borrow().locations.clone();
    let user_ids = session.shared.borrow().user_ids.clone();
    let mut doomed: Vec<u32> = session
        .any_trace()?
        .breakpoints()
        .into_iter()
        .filter(|b| b.resolved && addrs.contains(&b.addr) && user_ids.contains(&b.id))
        .map(|b| super::locations::owner_of(&locations, b.id))
        .collect();
    doomed.sort_unstable();
    doomed.dedup();
    if doomed.is_empty() {
        return Err(CmdError(format!("no breakpoint at {}", args.rest.trim())));
    }
    let ids: Vec<String> = doomed.iter().map(u32::to_string).collect();
    super::breakpoints::delete(session, Args { rest: &ids.join(" "), modifier: None }, out)
}

/// `rbreak REGEX`: a breakpoint on every function whose name matches, in every module.
pub fn rbreak(session: &mut Session, args: Args<'_>, out: &mut dyn Write) -> CmdResult {
    let pattern = args.rest.trim();
    if pattern.is_empty() {
        return Err("usage: rbreak REGEX".into());
    }
    let trace = session.trace()?;
    let mut names: Vec<String> = functions_matching(trace, pattern)?;
    names.sort();
    names.dedup();
    if names.is_empty() {
        return Err(CmdError(format!("no function matches {pattern:?}")));
    }
    for name in names {
        if let Err(e) = super::breakpoints::add(session, Args { rest: &name, modifier: None }, out) {
            writeln!(out, "{name}: {e}")?;
        }
    }
    Ok(())
}

fn functions_matching(trace: &mut Trace, pattern: &str) -> Result<Vec<String>, CmdError> {
    let regex = regex_lite(pattern)?;
    let symbols = trace.symbols()?;
    let mut names = Vec::new();
    for module in symbols.modules() {
        for s in module.table().symbols() {
            let code = matches!(s.kind, SymbolKind::Function | SymbolKind::IndirectFunction);
            if code && !s.name.ends_with("@plt") && regex(&s.name) {
                names.push(oxtrace::symbols::without_parameters(&s.name).unwrap_or(&s.name).to_owned());
            }
        }
    }
    Ok(names)
}

/// A matcher for a regular expression (the library's symbol search syntax).
fn regex_lite(pattern: &str) -> Result<impl Fn(&str) -> bool, CmdError> {
    let regex = regex::Regex::new(pattern).map_err(|e| CmdError(format!("bad regex {pattern:?}: {e}")))?;
    Ok(move |name: &str| regex.is_match(name))
}

/// Splits `LOCATION thread N` (before any `if`): the location and the thread number or id.
pub fn split_thread(text: &str) -> Result<(&str, Option<i32>), CmdError> {
    let Some(at) = text.find(" thread ") else { return Ok((text, None)) };
    let n = text[at + 8..].trim();
    let n: i32 = n.parse().map_err(|_| CmdError(format!("bad thread {n:?}")))?;
    Ok((text[..at].trim(), Some(n)))
}

/// The thread id a `thread N` names: a number in the `threads` list, or an id.
pub fn thread_id(trace: &Trace, n: i32) -> Result<i32, CmdError> {
    let threads = trace.threads();
    match usize::try_from(n) {
        _ if threads.contains(&n) => Ok(n),
        Ok(i @ 1..) if i <= threads.len() => Ok(threads[i - 1]),
        _ => Err(CmdError(format!("no thread {n}"))),
    }
}

/// Makes breakpoint `id` count only in thread `tid` (and when `condition`, if any, holds).
pub fn restrict_to_thread(trace: &mut Trace, id: u32, tid: i32, condition: Option<String>) -> oxtrace::Result<()> {
    let holds = move |t: &mut Trace| {
        t.current_thread() == tid && condition.as_deref().is_none_or(|c| t.parse_expression(c).map_or(true, |v| v != 0))
    };
    trace.set_breakpoint_condition(id, Some(Box::new(holds)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_parts_split() {
        assert_eq!(split_thread("work thread 2").unwrap(), ("work", Some(2)));
        assert_eq!(split_thread("work").unwrap(), ("work", None));
        assert!(split_thread("work thread x").is_err());
    }
}
