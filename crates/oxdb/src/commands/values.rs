//! C values, as gdb shows them: `print`, `output`, `call`, `ptype`,
//! `whatis`, `set var`, `info locals`, `info args`, `display`, `printf`,
//! `echo`. Expressions are C, evaluated in the selected frame by the
//! library's evaluator (`oxtrace::cexpr`); `eval` keeps vtrace's language.

use std::io::Write;

use oxtrace::cexpr::{self, CValue, Values};
use oxtrace::symbols::{CKind, Place};
use oxtrace::Trace;

use super::Args;
use crate::session::{CmdError, CmdResult, Session};

/// Runs `f` with an evaluation target over the selected frame of the current thread.
pub fn with_target<T>(
    session: &mut Session,
    f: impl FnOnce(&mut oxtrace::CTarget<'_>, &mut Values) -> Result<T, String>,
) -> Result<T, CmdError> {
    let frame = session.selected_frame;
    let mut values = std::mem::take(&mut session.values);
    let result = (|| {
        let trace = session.trace()?;
        let tid = trace.current_thread();
        let mut target = trace.c_target(tid, frame)?;
        f(&mut target, &mut values).map_err(CmdError)
    })();
    session.values = values;
    result
}

/// Evaluates a C expression in the selected frame.
pub fn evaluate(session: &mut Session, text: &str) -> Result<CValue, CmdError> {
    with_target(session, |target, values| cexpr::evaluate(text, target, values))
}

/// A value as an address: a pointer's or integer's value, or where an array or function is.
pub fn value_address(value: &CValue) -> Option<u64> {
    match &value.ty.strip().kind {
        CKind::Array { .. } | CKind::Function { .. } | CKind::Struct { .. } => value.address(),
        _ => value.as_int().map(|v| v as u64),
    }
}

/// An address from a C expression in the selected frame (`$sp`, `&var`, `marker`).
pub fn address_of(session: &mut Session, text: &str) -> Result<u64, CmdError> {
    let value = evaluate(session, text)?;
    value_address(&value)
        .ok_or_else(|| CmdError(format!("{text:?} is not an address (its type is `{}')", value.ty.name)))
}

/// The format letter of a `/FMT` modifier.
fn format_letter(modifier: Option<&str>) -> Result<Option<char>, CmdError> {
    let Some(text) = modifier else { return Ok(None) };
    let mut chars = text.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) if "xduotcafsz".contains(c) => Ok(Some(c)),
        _ => Err(CmdError(format!("Undefined output format \"{text}\"."))),
    }
}

/// A value as `print` shows it.
pub fn show(session: &mut Session, value: &CValue, format: Option<char>) -> Result<String, CmdError> {
    with_target(session, |target, _| Ok(cexpr::format_value(value, format, target)))
}

/// `print[/FMT] [EXPR]`.
pub fn print(session: &mut Session, args: Args<'_>, out: &mut dyn Write) -> CmdResult {
    let format = format_letter(args.modifier)?;
    let text = args.rest.trim();
    let value = if text.is_empty() {
        let n = session.values.len();
        session.values.get(n).cloned().ok_or_else(|| CmdError("History is empty.".into()))?
    } else {
        evaluate(session, text)?
    };
    let shown = show(session, &value, format)?;
    if matches!(value.ty.strip().kind, CKind::Void) && value.place == Place::Computed && value.bytes.is_empty() {
        writeln!(out, "$1 = void").ok();
        return Ok(());
    }
    let n = session.values.record(value);
    writeln!(out, "${n} = {shown}")?;
    Ok(())
}

/// `output EXPR`: the value alone, not recorded.
pub fn output(session: &mut Session, args: Args<'_>, out: &mut dyn Write) -> CmdResult {
    let format = format_letter(args.modifier)?;
    let value = evaluate(session, args.rest)?;
    let shown = show(session, &value, format)?;
    writeln!(out, "{shown}")?;
    Ok(())
}

/// `call FUNC(ARGS)`: like `print`, but a void result prints nothing.
pub fn call(session: &mut Session, args: Args<'_>, out: &mut dyn Write) -> CmdResult {
    let value = evaluate(session, args.rest)?;
    if matches!(value.ty.strip().kind, CKind::Void) {
        return Ok(());
    }
    let shown = show(session, &value, None)?;
    let n = session.values.record(value);
    writeln!(out, "${n} = {shown}")?;
    Ok(())
}

/// The type of an expression or type name.
fn type_of(session: &mut Session, text: &str) -> Result<oxtrace::symbols::CType, CmdError> {
    let text = text.trim();
    if text.is_empty() {
        return Err("an expression or a type name is needed".into());
    }
    with_target(session, |target, values| match cexpr::type_of(text, target, values) {
        Ok(ty) => Ok(ty),
        Err(e) => match cexpr::Target::type_named(target, text) {
            // A C++ qualified type name (`geo::Point`).
            Ok(Some(ty)) if text.contains("::") => Ok(ty),
            _ => cexpr::parse_type(text, target).map_err(|_| e),
        },
    })
}

/// `whatis EXPR|TYPE`.
pub fn whatis(session: &mut Session, args: Args<'_>, out: &mut dyn Write) -> CmdResult {
    let ty = type_of(session, args.rest)?;
    writeln!(out, "{}", cexpr::whatis_text(&ty))?;
    Ok(())
}

/// `ptype EXPR|TYPE`.
pub fn ptype(session: &mut Session, args: Args<'_>, out: &mut dyn Write) -> CmdResult {
    let ty = type_of(session, args.rest)?;
    let ty = with_target(session, |target, _| complete(target, ty))?;
    writeln!(out, "{}", cexpr::ptype_text(&ty))?;
    Ok(())
}

/// A type with the struct behind it (or behind its pointer or array) read in full.
fn complete(target: &mut oxtrace::CTarget<'_>, ty: oxtrace::symbols::CType) -> Result<oxtrace::symbols::CType, String> {
    use cexpr::Target;
    let stripped = ty.strip().clone();
    match &stripped.kind {
        CKind::Incomplete(r) => target.resolve(r),
        CKind::Pointer(inner) => {
            let inner = complete(target, (**inner).clone())?;
            Ok(oxtrace::symbols::CType { kind: CKind::Pointer(Box::new(inner)), ..stripped })
        }
        _ => Ok(stripped),
    }
}

/// `set var LVALUE = EXPR`: an assignment in the selected frame.
pub fn set_var(session: &mut Session, text: &str) -> CmdResult {
    evaluate(session, text).map(drop)
}

/// `info locals`.
pub fn locals(session: &mut Session, _args: Args<'_>, out: &mut dyn Write) -> CmdResult {
    variables(session, false, out)
}

/// `info args`.
pub fn arguments(session: &mut Session, _args: Args<'_>, out: &mut dyn Write) -> CmdResult {
    variables(session, true, out)
}

fn variables(session: &mut Session, arguments: bool, out: &mut dyn Write) -> CmdResult {
    let frame = session.selected_frame;
    let trace = session.trace()?;
    let tid = trace.current_thread();
    let found: Vec<_> = trace.frame_variables(tid, frame)?.into_iter().filter(|v| v.argument == arguments).collect();
    if found.is_empty() {
        writeln!(out, "{}", if arguments { "No arguments." } else { "No locals." })?;
        return Ok(());
    }
    for variable in found {
        let text = match &variable.value {
            // gdb shows a pointer here without its type, as in frame lines.
            Ok(value) if matches!(value.ty.strip().kind, CKind::Pointer(_)) => {
                with_target(session, |target, _| Ok(short_value(value, target)))?
            }
            // And a reference as `@0xADDR: VALUE`.
            Ok(value) if matches!(value.ty.strip().kind, CKind::Reference(_)) => {
                let full = show(session, value, None)?;
                full.split_once(") @").map_or(full.clone(), |(_, rest)| format!("@{rest}"))
            }
            Ok(value) => show(session, value, None)?,
            Err(e) => format!("<error: {e}>"),
        };
        writeln!(out, "{} = {text}", variable.name)?;
    }
    Ok(())
}

/// The arguments of frame `level` as `bt` shows them: `d=<optimized out>, acc=0x7ffd...`.
pub fn frame_arguments(trace: &mut Trace, level: usize) -> Option<String> {
    let tid = trace.current_thread();
    let found = trace.frame_variables(tid, level).ok()?;
    trace.frame_function(tid, level).ok()??;
    let entries = trace.frame_entry_values(tid, level).unwrap_or_default();
    let mut target = trace.c_target(tid, level).ok()?;
    let parts: Vec<String> = found
        .iter()
        .filter(|v| v.argument)
        .enumerate()
        .map(|(i, v)| {
            let text = match &v.value {
                Ok(value) => short_value(value, &mut target),
                Err(e) => format!("<error: {e}>"),
            };
            // gdb's `print entry-values default`: the value at entry too, when it is known.
            let Some(Some(entry)) = entries.get(i) else { return format!("{}={text}", v.name) };
            let entry_text = short_value(entry, &mut target);
            match &v.value {
                Ok(value) if value.is_optimized_out() => format!("{}@entry={entry_text}", v.name),
                Ok(value) if value.bytes == entry.bytes => format!("{0}={0}@entry={text}", v.name),
                _ => format!("{0}={text}, {0}@entry={entry_text}", v.name),
            }
        })
        .collect();
    Some(parts.join(", "))
}

/// A value as gdb's frame lines show arguments: scalars in full, aggregates as `...`.
fn short_value(value: &CValue, target: &mut oxtrace::CTarget<'_>) -> String {
    match value.ty.strip().kind {
        CKind::Struct { .. } | CKind::Array { .. } if !value.is_optimized_out() => "...".into(),
        CKind::Pointer(_) => {
            // Frame lines show a pointer without its type.
            let full = cexpr::format_value(value, None, target);
            match full.strip_prefix('(') {
                Some(rest) => rest.split_once(") ").map_or(full.clone(), |(_, v)| v.to_owned()),
                None => full,
            }
        }
        _ => cexpr::format_value(value, None, target),
    }
}

/// `display[/FMT] EXPR`: show it now and after every stop; without EXPR, show them all.
pub fn display(session: &mut Session, args: Args<'_>, out: &mut dyn Write) -> CmdResult {
    let format = format_letter(args.modifier)?;
    let text = args.rest.trim();
    if text.is_empty() {
        return show_displays(session, out);
    }
    session.next_display += 1;
    let n = session.next_display;
    session.displays.push((n, text.to_owned(), format));
    show_display(session, n, text, format, out)
}

/// `undisplay [N...]`.
pub fn undisplay(session: &mut Session, args: Args<'_>, _out: &mut dyn Write) -> CmdResult {
    let words = args.words();
    if words.is_empty() {
        session.displays.clear();
        return Ok(());
    }
    for word in words {
        let n: u32 = word.parse().map_err(|_| CmdError(format!("bad display number {word:?}")))?;
        let before = session.displays.len();
        session.displays.retain(|(id, _, _)| *id != n);
        if session.displays.len() == before {
            return Err(CmdError(format!("no display number {n}")));
        }
    }
    Ok(())
}

/// Shows every display (after a stop).
pub fn show_displays(session: &mut Session, out: &mut dyn Write) -> CmdResult {
    for (n, text, format) in session.displays.clone() {
        show_display(session, n, &text, format, out)?;
    }
    Ok(())
}

fn show_display(session: &mut Session, n: u32, text: &str, format: Option<char>, out: &mut dyn Write) -> CmdResult {
    let shown = evaluate(session, text).and_then(|v| show(session, &v, format));
    let fmt = format.map(|f| format!("/{f} ")).unwrap_or_default();
    match shown {
        Ok(shown) => writeln!(out, "{n}: {fmt}{text} = {shown}")?,
        Err(e) => writeln!(out, "{n}: {fmt}{text} = <error: {e}>")?,
    }
    Ok(())
}

/// `echo TEXT`: C escapes, no newline unless `\n`.
pub fn echo(_session: &mut Session, args: Args<'_>, out: &mut dyn Write) -> CmdResult {
    let bytes = unescape(args.rest)?;
    out.write_all(&bytes)?;
    Ok(())
}

/// `printf "FORMAT", ARGS...`: C's conversions `%d %i %u %x %o %c %s %f %g %e %p %%`.
pub fn printf(session: &mut Session, args: Args<'_>, out: &mut dyn Write) -> CmdResult {
    let text = args.rest.trim();
    let rest = text.strip_prefix('"').ok_or("Bad format string: printf \"FORMAT\", ARGS...")?;
    let end = closing_quote(rest).ok_or("Bad format string, non-terminated '\"'")?;
    let format = unescape(&rest[..end])?;
    let mut values = Vec::new();
    let after = rest[end + 1..].trim();
    if !after.is_empty() {
        let list = after.strip_prefix(',').ok_or("Invalid argument syntax")?;
        for arg in split_top(list) {
            values.push(evaluate(session, arg)?);
        }
    }
    let mut output = Vec::new();
    let mut i = 0;
    let mut next = values.into_iter();
    while i < format.len() {
        if format[i] != b'%' {
            output.push(format[i]);
            i += 1;
            continue;
        }
        let start = i;
        i += 1;
        while i < format.len() && b"-+ #0123456789.lhzj".contains(&format[i]) {
            i += 1;
        }
        let Some(&conv) = format.get(i) else { return Err("Bad format string".into()) };
        i += 1;
        if conv == b'%' {
            output.push(b'%');
            continue;
        }
        let spec: String =
            String::from_utf8_lossy(&format[start + 1..i - 1]).chars().filter(|c| !"lhzj".contains(*c)).collect();
        let value = next.next().ok_or("Bad format string, missing '\"'... too few arguments")?;
        let piece = match conv {
            b'd' | b'i' => pad(&spec, value.as_int().ok_or("printf %d needs an integer")?.to_string()),
            b'u' => pad(&spec, ((value.as_int().unwrap_or(0) as u128) & mask(&value)).to_string()),
            b'x' | b'X' | b'o' => {
                let bits = (value.as_int().ok_or("printf %x needs an integer")? as u128) & mask(&value);
                // `#`: a 0x or 0 prefix on a non-zero value, as C's printf does.
                let alternate = spec.contains('#') && bits != 0;
                let text = match conv {
                    b'x' => format!("{}{bits:x}", if alternate { "0x" } else { "" }),
                    b'X' => format!("{}{bits:X}", if alternate { "0X" } else { "" }),
                    _ => format!("{}{bits:o}", if alternate { "0" } else { "" }),
                };
                pad(&spec, text)
            }
            b'c' => pad(&spec, ((value.as_int().unwrap_or(0) as u8) as char).to_string()),
            b'p' => pad(&spec, format!("{:#x}", value_address(&value).unwrap_or(0))),
            b'f' | b'e' | b'g' => {
                let f = value.as_float().ok_or("printf %f needs a number")?;
                let precision = spec.split_once('.').and_then(|(_, p)| p.parse().ok()).unwrap_or(6);
                pad(
                    &spec,
                    match conv {
                        b'f' => format!("{f:.precision$}"),
                        b'e' => format!("{f:.precision$e}"),
                        _ => f.to_string(),
                    },
                )
            }
            b's' => {
                let bytes = match value.ty.strip().kind {
                    // A string literal, or an array read whole: up to its NUL.
                    CKind::Array { .. } if !value.bytes.is_empty() => {
                        value.bytes.split(|b| *b == 0).next().unwrap_or_default().to_vec()
                    }
                    _ => {
                        let addr = value_address(&value).ok_or("printf %s needs a string")?;
                        session.trace()?.read_c_string(addr, 4096)?
                    }
                };
                pad(&spec, String::from_utf8_lossy(&bytes).into_owned())
            }
            other => return Err(CmdError(format!("Unrecognized format specifier '{}' in printf", other as char))),
        };
        output.extend_from_slice(piece.as_bytes());
    }
    if next.next().is_some() {
        return Err("Extra arguments at end of printf format".into());
    }
    out.write_all(&output)?;
    Ok(())
}

fn mask(value: &CValue) -> u128 {
    let bits = 8 * value.ty.strip().size.clamp(1, 16) as u32;
    if bits >= 128 {
        u128::MAX
    } else {
        (1u128 << bits) - 1
    }
}

/// Pads to the width of a `%-08` style spec.
fn pad(spec: &str, text: String) -> String {
    let left = spec.contains('-');
    let zero = spec.trim_start_matches('-').starts_with('0');
    let width: usize =
        spec.trim_start_matches(['-', '+', ' ', '#', '0']).split('.').next().and_then(|w| w.parse().ok()).unwrap_or(0);
    if text.len() >= width {
        return text;
    }
    let fill = width - text.len();
    if left {
        format!("{text}{}", " ".repeat(fill))
    } else if zero {
        format!("{}{text}", "0".repeat(fill))
    } else {
        format!("{}{text}", " ".repeat(fill))
    }
}

fn closing_quote(text: &str) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => return Some(i),
            _ => {}
        }
    }
    None
}

/// Splits at commas outside parentheses and quotes.
fn split_top(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut quoted, mut start) = (0i32, false, 0);
    let mut prev = ' ';
    for (i, c) in text.char_indices() {
        match c {
            '"' | '\'' if prev != '\\' => quoted = !quoted,
            '(' | '[' if !quoted => depth += 1,
            ')' | ']' if !quoted => depth -= 1,
            ',' if !quoted && depth == 0 => {
                parts.push(text[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
        prev = c;
    }
    parts.push(text[start..].trim());
    parts.into_iter().filter(|p| !p.is_empty()).collect()
}

/// C escapes: `\n`, `\t`, `\"`, `\\`, `\e`, `\0NN`.
fn unescape(text: &str) -> Result<Vec<u8>, CmdError> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        i += 1;
        let Some(&c) = bytes.get(i) else { break };
        i += 1;
        out.push(match c {
            b'n' => b'\n',
            b't' => b'\t',
            b'r' => b'\r',
            b'e' => 27,
            b'a' => 7,
            b'"' | b'\\' | b'\'' => c,
            b'0'..=b'7' => {
                let mut v = u32::from(c - b'0');
                while i < bytes.len() && (b'0'..=b'7').contains(&bytes[i]) && v < 32 {
                    v = v * 8 + u32::from(bytes[i] - b'0');
                    i += 1;
                }
                v as u8
            }
            other => return Err(CmdError(format!("Unrecognized escape character \\{}", other as char))),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printf_helpers() {
        assert_eq!(pad("5", "ab".into()), "   ab");
        assert_eq!(pad("-4", "ab".into()), "ab  ");
        assert_eq!(pad("04", "7".into()), "0007");
        assert_eq!(split_top("a, f(b, c), \"x,y\""), ["a", "f(b, c)", "\"x,y\""]);
        assert_eq!(unescape("a\\n\\t\\\"").unwrap(), b"a\n\t\"");
        assert!(unescape("\\q").is_err());
    }
}
