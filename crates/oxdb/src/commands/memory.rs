//! Memory: dumps (hex and ASCII), typed reads, strings, writes, search, maps.

use std::io::Write;

use oxtrace::{Needle, Trace};

use super::symbols::describe_addr;
use super::{eval, parse_number, Args};
use crate::session::{CmdError, CmdResult, Session};

/// Bytes a plain `x ADDR` dumps.
const DEFAULT_DUMP: usize = 64;
/// The largest dump or typed read at once.
const MAX_READ: usize = 1 << 20;
/// Search matches listed at most.
const MAX_MATCHES: usize = 100;
/// The most strings `x/Ns` shows.
const MAX_STRINGS: u64 = 1000;
/// The longest string `x/s` shows.
const MAX_STRING: usize = 4096;

/// Splits `EXPR [NUMBER]`: the last word is a count when it is a number and the expression does not end in an operator.
pub fn split_expr_count(text: &str) -> (&str, Option<u64>) {
    let text = text.trim();
    if let Some((expr, last)) = text.rsplit_once(char::is_whitespace) {
        let expr = expr.trim_end();
        let operator = expr.ends_with(|c: char| "+-*/%&|^<>=!~(,".contains(c));
        if let (Some(n), false) = (parse_number(last), operator) {
            return (expr, Some(n));
        }
    }
    (text, None)
}

/// `0xADDRESS: 48 65 6c ...  |Hel...|`, 16 bytes a line.
pub fn hex_dump(addr: u64, bytes: &[u8], out: &mut dyn Write) -> CmdResult {
    for (i, chunk) in bytes.chunks(16).enumerate() {
        let at = addr.wrapping_add(16 * i as u64);
        let hex: Vec<String> = chunk.iter().map(|b| format!("{b:02x}")).collect();
        let ascii: String =
            chunk.iter().map(|&b| if b.is_ascii_graphic() || b == b' ' { b as char } else { '.' }).collect();
        writeln!(out, "0x{at:016x}: {:<47}  |{ascii}|", hex.join(" "))?;
    }
    Ok(())
}

/// A parsed `/NFU` modifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Format {
    count: Option<u64>,
    size: usize,
    letter: char,
}

fn parse_format(text: &str) -> Result<Format, CmdError> {
    let digits: String = text.chars().take_while(|c| c.is_ascii_digit()).collect();
    let count = if digits.is_empty() {
        None
    } else {
        Some(digits.parse().map_err(|_| CmdError(format!("bad count in /{text}")))?)
    };
    let mut format = Format { count, size: 0, letter: 'x' };
    for c in text[digits.len()..].chars() {
        match c {
            'b' => format.size = 1,
            'h' => format.size = 2,
            'w' => format.size = 4,
            'g' => format.size = 8,
            'x' | 'd' | 'u' | 'c' | 's' | 'i' => format.letter = c,
            other => {
                return Err(CmdError(format!(
                    "bad format letter {other:?} in /{text} (sizes b h w g; formats x d u c s i)"
                )))
            }
        }
    }
    if format.size == 0 {
        format.size = if format.letter == 'c' { 1 } else { 8 };
    }
    Ok(format)
}

/// `x[/NFU] EXPR [LEN]`.
pub fn examine(session: &mut Session, args: Args<'_>, out: &mut dyn Write) -> CmdResult {
    let (expr, len) = split_expr_count(args.rest);
    // A C expression in the selected frame (`$pc`, `&var`, `$sp + 8`).
    let addr = super::values::address_of(session, expr)?;
    let trace = session.trace()?;
    let Some(modifier) = args.modifier else {
        let len = len.map_or(DEFAULT_DUMP, |n| n as usize);
        if len > MAX_READ {
            return Err(CmdError(format!("{len} bytes is more than the {MAX_READ} shown at once")));
        }
        let bytes = trace.read_memory(addr, len)?;
        return hex_dump(addr, &bytes, out);
    };
    let format = parse_format(modifier)?;
    let count = format.count.or(len).unwrap_or(1);
    match format.letter {
        's' => {
            if count > MAX_STRINGS {
                return Err(CmdError(format!("{count} strings is more than the {MAX_STRINGS} shown at once")));
            }
            let mut at = addr;
            for _ in 0..count {
                let bytes = trace.read_c_string(at, MAX_STRING)?;
                writeln!(out, "0x{at:016x}: {:?}", String::from_utf8_lossy(&bytes))?;
                at = at.wrapping_add(bytes.len() as u64 + 1);
            }
            Ok(())
        }
        'i' => super::disasm::print_instructions(trace, addr, count as usize, None, out),
        letter => typed(trace, addr, count, format.size, letter, out),
    }
}

fn typed(trace: &mut Trace, addr: u64, count: u64, size: usize, letter: char, out: &mut dyn Write) -> CmdResult {
    let total = (count as usize).saturating_mul(size);
    if total > MAX_READ {
        return Err(CmdError(format!("{total} bytes is more than the {MAX_READ} shown at once")));
    }
    let bytes = trace.read_memory(addr, total)?;
    let per_line = (16 / size).max(1);
    for (i, line) in bytes.chunks(per_line * size).enumerate() {
        let at = addr.wrapping_add((i * per_line * size) as u64);
        let values: Vec<String> = line
            .chunks(size)
            .map(|unit| {
                let mut buf = [0u8; 8];
                buf[..unit.len()].copy_from_slice(unit);
                let v = u64::from_le_bytes(buf);
                let shift = 64 - 8 * size as u32;
                match letter {
                    'd' => (((v << shift) as i64) >> shift).to_string(),
                    'u' => v.to_string(),
                    'c' => format!("{:?}", unit[0] as char),
                    _ => format!("0x{v:0width$x}", width = size * 2),
                }
            })
            .collect();
        writeln!(out, "0x{at:016x}: {}", values.join(" "))?;
    }
    Ok(())
}

/// Parses bytes given as hex (`90 90 cc`, `9090cc`) or a quoted string with `\n \t \0 \\ \"` escapes.
pub fn parse_bytes(text: &str) -> Result<Vec<u8>, CmdError> {
    let text = text.trim();
    if let Some(inner) = text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
        let mut bytes = Vec::new();
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            if c != '\\' {
                let mut buf = [0; 4];
                bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                continue;
            }
            bytes.push(match chars.next() {
                Some('n') => b'\n',
                Some('t') => b'\t',
                Some('0') => 0,
                Some('\\') => b'\\',
                Some('"') => b'"',
                other => return Err(CmdError(format!("bad escape \\{} in {text}", other.unwrap_or(' ')))),
            });
        }
        return Ok(bytes);
    }
    let digits: String = text.split_whitespace().map(|w| w.trim_start_matches("0x")).collect();
    if digits.is_empty() || !digits.len().is_multiple_of(2) || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(CmdError(format!("bad bytes {text:?}: give hex pairs (90 90) or a \"quoted string\"")));
    }
    Ok((0..digits.len()).step_by(2).filter_map(|i| u8::from_str_radix(&digits[i..i + 2], 16).ok()).collect())
}

/// `write[/bhwg] EXPR DATA`.
pub fn write(session: &mut Session, args: Args<'_>, out: &mut dyn Write) -> CmdResult {
    let rest = args.rest.trim();
    let (addr_text, data) =
        rest.split_once(char::is_whitespace).ok_or_else(|| CmdError("usage: write ADDR DATA".into()))?;
    let trace = session.trace()?;
    let addr = eval(trace, addr_text)?;
    let bytes = match args.modifier {
        None | Some("") => parse_bytes(data)?,
        Some(m) => {
            let size = match m {
                "b" => 1,
                "h" => 2,
                "w" => 4,
                "g" => 8,
                other => return Err(CmdError(format!("bad write size /{other} (b h w g)"))),
            };
            let value = eval(trace, data)?;
            if size < 8 && value >> (8 * size) != 0 && (value as i64) >> (8 * size - 1) != -1 {
                return Err(CmdError(format!("{value:#x} does not fit in {size} byte(s)")));
            }
            value.to_le_bytes()[..size].to_vec()
        }
    };
    trace.write_memory(addr, &bytes)?;
    writeln!(out, "wrote {} byte(s) at 0x{addr:016x}", bytes.len())?;
    Ok(())
}

/// `search [-x HEX | -r REGEX | TEXT]`.
pub fn search(session: &mut Session, args: Args<'_>, out: &mut dyn Write) -> CmdResult {
    let rest = args.rest.trim();
    let needle = if let Some(hex) = rest.strip_prefix("-x ") {
        Needle::bytes(parse_bytes(hex)?)
    } else if let Some(pattern) = rest.strip_prefix("-r ") {
        Needle::regex(pattern.trim())?
    } else {
        let text = rest.strip_prefix("-s ").unwrap_or(rest).trim();
        if text.is_empty() {
            return Err("usage: search TEXT | -x HEX | -r REGEX".into());
        }
        let bytes = if text.starts_with('"') { parse_bytes(text)? } else { text.as_bytes().to_vec() };
        Needle::bytes(bytes)
    };
    let trace = session.trace()?;
    let found = trace.search_memory(&needle)?;
    let maps = trace.memory_maps()?;
    for &addr in found.iter().take(MAX_MATCHES) {
        let map = maps.iter().find(|m| m.contains(addr)).map(|m| m.name().to_owned()).unwrap_or_default();
        let line = describe_addr(trace, addr);
        writeln!(out, "{line} [{map}]")?;
    }
    if found.len() > MAX_MATCHES {
        writeln!(out, "... {} more", found.len() - MAX_MATCHES)?;
    }
    writeln!(out, "{} match(es)", found.len())?;
    Ok(())
}

/// `maps [EXPR]`.
pub fn maps(session: &mut Session, args: Args<'_>, out: &mut dyn Write) -> CmdResult {
    let trace = session.trace()?;
    let maps = if args.rest.trim().is_empty() {
        trace.memory_maps()?
    } else {
        let addr = eval(trace, args.rest)?;
        vec![trace.memory_map(addr)?.ok_or_else(|| CmdError(format!("no map holds 0x{addr:016x}")))?]
    };
    let mut total = 0;
    for map in &maps {
        total += map.len();
        let path = map.path.as_deref().unwrap_or("");
        writeln!(
            out,
            "0x{:016x}-0x{:016x} {} {:>10} {:08x} {path}",
            map.start,
            map.end,
            map.perms,
            map.len(),
            map.offset
        )?;
    }
    if maps.len() > 1 {
        writeln!(out, "{} maps, {total} bytes", maps.len())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_split_from_expressions() {
        assert_eq!(split_expr_count("rsp 32"), ("rsp", Some(32)));
        assert_eq!(split_expr_count("rsp + 8"), ("rsp + 8", None));
        assert_eq!(split_expr_count("rsp"), ("rsp", None));
    }

    #[test]
    fn bytes_parse_from_hex_and_strings() {
        assert_eq!(parse_bytes("90 90 cc").unwrap(), [0x90, 0x90, 0xcc]);
        assert_eq!(parse_bytes("\"a\\n\"").unwrap(), b"a\n");
        assert!(parse_bytes("zz").is_err());
        assert!(parse_bytes("909").is_err());
    }

    #[test]
    fn formats_parse() {
        assert_eq!(parse_format("4gx").unwrap(), Format { count: Some(4), size: 8, letter: 'x' });
        assert_eq!(parse_format("s").unwrap().letter, 's');
        assert!(parse_format("4q").is_err());
    }
}
