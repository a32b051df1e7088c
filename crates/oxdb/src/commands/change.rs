//! Changing the debuggee: calling its functions, allocating and protecting
//! memory, loading a library into it, page watchpoints; reading structs by
//! type name; its file descriptors, and the machine's processes.

use std::io::Write;
use std::path::Path;

use oxtrace::symbols::{TypeKind, TypeLayout};
use oxtrace::{CallArg, Perms, WatchKind};

use super::symbols::value_text;
use super::{eval, parse_number, Args};
use crate::session::{CmdError, CmdResult, Session};

/// `call FUNC(ARG, ...)`: integers, expressions and string literals.
pub fn call(session: &mut Session, args: Args<'_>, out: &mut dyn Write) -> CmdResult {
    let text = args.rest.trim();
    let (function, inside) = text
        .strip_suffix(')')
        .and_then(|t| t.split_once('('))
        .ok_or_else(|| CmdError(format!("write the call as FUNCTION(ARGS), not {text:?}")))?;
    let trace = session.trace()?;
    let function = eval(trace, function)?;
    let mut values = Vec::new();
    for arg in split_arguments(inside)? {
        values.push(match arg.strip_prefix('"') {
            Some(quoted) => {
                let body = quoted.strip_suffix('"').ok_or_else(|| CmdError(format!("unterminated string {arg}")))?;
                let mut bytes = unescape(body)?;
                bytes.push(0);
                CallArg::Bytes(bytes)
            }
            None => CallArg::Int(eval(trace, arg)?),
        });
    }
    let result = trace.call(function, &values)?;
    let text = value_text(trace, result.value);
    writeln!(out, "{text}")?;
    Ok(())
}

/// The arguments between the parentheses, split at top-level commas.
fn split_arguments(text: &str) -> Result<Vec<&str>, CmdError> {
    let mut parts = Vec::new();
    let (mut depth, mut quoted, mut escaped, mut start) = (0i32, false, false, 0);
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => depth -= 1,
            ',' if !quoted && depth == 0 => {
                parts.push(text[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    if quoted || depth != 0 {
        return Err(CmdError(format!("unbalanced quotes or parentheses in ({text})")));
    }
    let last = text[start..].trim();
    if !last.is_empty() || !parts.is_empty() {
        parts.push(last);
    }
    if parts.iter().any(|p| p.is_empty()) {
        return Err(CmdError(format!("an empty argument in ({text})")));
    }
    Ok(parts)
}

/// C escapes in a string literal: `\n`, `\t`, `\0`, `\\`, `\"`, `\xHH`.
fn unescape(text: &str) -> Result<Vec<u8>, CmdError> {
    let mut out = Vec::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        match chars.next() {
            Some('n') => out.push(b'\n'),
            Some('t') => out.push(b'\t'),
            Some('0') => out.push(0),
            Some('\\') => out.push(b'\\'),
            Some('"') => out.push(b'"'),
            Some('x') => {
                let hex: String = chars.by_ref().take(2).collect();
                out.push(u8::from_str_radix(&hex, 16).map_err(|_| CmdError(format!("bad escape \\x{hex}")))?);
            }
            other => return Err(CmdError(format!("bad escape \\{}", other.map_or(String::new(), String::from)))),
        }
    }
    Ok(out)
}

/// `rwx`, `r--`, `rw`: permissions as letters.
fn parse_perms(text: &str) -> Result<Perms, CmdError> {
    if text.is_empty() || !text.chars().all(|c| "rwx-".contains(c)) {
        return Err(CmdError(format!("bad permissions {text:?} (use letters of rwx, like r-x)")));
    }
    Ok(Perms { read: text.contains('r'), write: text.contains('w'), exec: text.contains('x'), shared: false })
}

/// `alloc SIZE [PERMS] [HINT]`.
pub fn alloc(session: &mut Session, args: Args<'_>, out: &mut dyn Write) -> CmdResult {
    let words = args.words();
    let [size, rest @ ..] = words.as_slice() else { return Err("usage: alloc SIZE [PERMS] [HINT]".into()) };
    let trace = session.trace()?;
    let size = eval(trace, size)?;
    let perms = parse_perms(rest.first().copied().unwrap_or("rwx"))?;
    let hint = rest.get(1).map(|h| eval(trace, h)).transpose()?;
    let addr = trace.allocate_memory(size, perms, hint)?;
    writeln!(out, "allocated {size:#x} bytes {perms} at 0x{addr:016x}")?;
    Ok(())
}

/// `protect ADDR SIZE PERMS`.
pub fn protect(session: &mut Session, args: Args<'_>, out: &mut dyn Write) -> CmdResult {
    let words = args.words();
    let [addr, size, perms] = words.as_slice() else { return Err("usage: protect ADDR SIZE PERMS".into()) };
    let trace = session.trace()?;
    let (addr, size, perms) = (eval(trace, addr)?, eval(trace, size)?, parse_perms(perms)?);
    trace.protect_memory(addr, size, perms)?;
    writeln!(out, "0x{addr:016x}+{size:#x} is now {perms}")?;
    Ok(())
}

/// `free ADDR SIZE`.
pub fn free(session: &mut Session, args: Args<'_>, out: &mut dyn Write) -> CmdResult {
    let words = args.words();
    let [addr, size] = words.as_slice() else { return Err("usage: free ADDR SIZE".into()) };
    let trace = session.trace()?;
    let (addr, size) = (eval(trace, addr)?, eval(trace, size)?);
    trace.free_memory(addr, size)?;
    writeln!(out, "freed 0x{addr:016x}+{size:#x}")?;
    Ok(())
}

/// `inject PATH`.
pub fn inject(session: &mut Session, args: Args<'_>, out: &mut dyn Write) -> CmdResult {
    let path = args.rest.trim();
    if path.is_empty() {
        return Err("usage: inject PATH".into());
    }
    let handle = session.trace()?.inject_so(Path::new(path))?;
    writeln!(out, "loaded {path} (handle 0x{handle:x})")?;
    Ok(())
}

/// `pagewatch [-r] EXPR LEN`.
pub fn pagewatch(session: &mut Session, args: Args<'_>, out: &mut dyn Write) -> CmdResult {
    let mut words = args.words();
    let kind = if words.first() == Some(&"-r") {
        words.remove(0);
        WatchKind::ReadWrite
    } else {
        WatchKind::Write
    };
    let [addr, len] = words.as_slice() else { return Err("usage: pagewatch [-r] EXPR LEN".into()) };
    let trace = session.trace()?;
    let (addr, len) = (eval(trace, addr)?, eval(trace, len)?);
    let id = trace.add_page_watch(addr, len, kind)?;
    let what = if kind == WatchKind::Write { "writes" } else { "reads and writes" };
    writeln!(out, "page watchpoint {id}: {what} of 0x{addr:016x}+{len:#x}")?;
    Ok(())
}

/// `struct TYPE EXPR`: a value of the type at the address, as gdb prints it.
pub fn print_struct(session: &mut Session, args: Args<'_>, out: &mut dyn Write) -> CmdResult {
    let (type_name, addr) = type_and_rest(args.rest)?;
    let trace = session.trace()?;
    let addr = eval(trace, addr)?;
    let text = trace.format_typed(type_name, addr)?;
    writeln!(out, "{text}")?;
    Ok(())
}

/// `ptype TYPE`: a type's members with their offsets, sizes and types.
pub fn ptype(session: &mut Session, args: Args<'_>, out: &mut dyn Write) -> CmdResult {
    let name = args.rest.trim();
    if name.is_empty() {
        return Err("usage: ptype TYPE".into());
    }
    let layout = session.trace()?.type_layout(name)?;
    writeln!(out, "{} (size {})", layout.name, layout.size)?;
    write_members(&layout, 0, 1, out)?;
    Ok(())
}

fn write_members(layout: &TypeLayout, base: u64, depth: usize, out: &mut dyn Write) -> CmdResult {
    let (TypeKind::Struct(members) | TypeKind::Union(members)) = &layout.kind else { return Ok(()) };
    for m in members {
        let indent = "  ".repeat(depth);
        writeln!(out, "{indent}+{:#06x} {:<12} {} (size {})", base + m.offset, m.name, m.layout.name, m.layout.size)?;
        if depth < 4 {
            write_members(&m.layout, base + m.offset, depth + 1, out)?;
        }
    }
    Ok(())
}

/// `struct shape ADDR`, `union number ADDR`, `point ADDR`: the type name (one or two words) and the rest.
fn type_and_rest(text: &str) -> Result<(&str, &str), CmdError> {
    let text = text.trim();
    let words: Vec<&str> = text.splitn(3, ' ').collect();
    match words.as_slice() {
        [kind, name, rest] if ["struct", "union", "enum"].contains(kind) => {
            Ok((&text[..kind.len() + 1 + name.len()], rest))
        }
        [name, rest @ ..] if !rest.is_empty() => Ok((name, text[name.len()..].trim())),
        _ => Err(CmdError("usage: struct TYPE EXPR".into())),
    }
}

/// `fds`.
pub fn fds(session: &mut Session, _args: Args<'_>, out: &mut dyn Write) -> CmdResult {
    for fd in session.trace()?.file_descriptors()? {
        writeln!(out, "{:>4} {:<7} {}", fd.fd, format!("{:?}", fd.kind).to_lowercase(), fd.name)?;
    }
    Ok(())
}

/// `ps [FILTER]`.
pub fn ps(_session: &mut Session, args: Args<'_>, out: &mut dyn Write) -> CmdResult {
    let filter = args.rest.trim();
    for p in crate::host::processes()? {
        let line = if p.command_line.is_empty() { format!("[{}]", p.name) } else { p.command_line.join(" ") };
        if filter.is_empty() || line.contains(filter) || parse_number(filter) == Some(p.pid as u64) {
            writeln!(out, "{:>7} {line}", p.pid)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_arguments_split_at_top_level_commas() {
        assert_eq!(split_arguments(r#""a, b", f(1, 2), 3"#).unwrap(), [r#""a, b""#, "f(1, 2)", "3"]);
        assert_eq!(split_arguments("").unwrap(), Vec::<&str>::new());
        assert!(split_arguments(r#""open"#).is_err());
        assert!(split_arguments("1,,2").is_err());
        assert_eq!(unescape(r#"a\n\x41\0"#).unwrap(), b"a\nA\0");
        assert!(unescape(r"\q").is_err());
        assert_eq!(type_and_rest("struct shape &the_shape").unwrap(), ("struct shape", "&the_shape"));
        assert_eq!(type_and_rest("point rsp+8").unwrap(), ("point", "rsp+8"));
        assert!(parse_perms("rwz").is_err());
    }
}
