//! Values shown as gdb's `print` shows them, with its output formats
//! (`/x /d /u /o /t /c /a /z /s`).

use super::eval::{extract_member, Target};
use super::value::CValue;
use crate::symbols::{format_g, quote_char, runs, CKind, CType, Place, REPEAT_THRESHOLD};

/// The most elements of an array or characters of a string shown (gdb's `print elements`).
pub const PRINT_ELEMENTS: usize = 200;

/// A value as `print` shows it after `$N = `; `format` is the letter after `/`.
pub fn format_value(value: &CValue, format: Option<char>, target: &mut dyn Target) -> String {
    let mut out = String::new();
    top(value, format, target, &mut out);
    out
}

fn top(value: &CValue, format: Option<char>, target: &mut dyn Target, out: &mut String) {
    if value.place == Place::NotSaved {
        out.push_str("<not saved>");
        return;
    }
    if value.is_optimized_out() {
        out.push_str("<optimized out>");
        return;
    }
    let ty = value.ty.strip();
    match &ty.kind {
        CKind::Pointer(pointee) if format.is_none() || format == Some('s') => {
            let is_function = matches!(pointee.strip().kind, CKind::Function { .. });
            if !pointee.is_char() || is_function {
                out.push_str(&format!("({}) ", value.ty.name));
            }
            inner(value, format, target, out);
        }
        CKind::Function { .. } => {
            let addr = value.address().unwrap_or(0);
            out.push_str(&format!("{{{}}} {addr:#x}", value.ty.name));
            if let Some(name) = target.symbol(addr) {
                out.push_str(&format!(" <{name}>"));
            }
        }
        CKind::Reference(target_ty) => {
            let addr = value.as_int().unwrap_or(0) as u64;
            out.push_str(&format!("({}) @{addr:#x}: ", value.ty.name));
            // A struct referred to is read in full here (types reached through references are left lazy).
            let target_ty: CType = match &target_ty.strip().kind {
                CKind::Incomplete(r) => match target.resolve(r) {
                    Ok(full) => full,
                    Err(e) => {
                        out.push_str(&format!("<error: {e}>"));
                        return;
                    }
                },
                _ => (**target_ty).clone(),
            };
            match target.read(addr, target_ty.strip().size as usize) {
                Ok(bytes) => {
                    let referred = CValue { ty: target_ty.clone(), bytes, place: Place::Memory(addr) };
                    inner(&referred, format, target, out);
                }
                Err(e) => out.push_str(&format!("<error: {e}>")),
            }
        }
        CKind::Void => out.push_str("void"),
        _ => inner(value, format, target, out),
    }
}

/// A value inside an aggregate (and the body of a top-level one).
fn inner(value: &CValue, format: Option<char>, target: &mut dyn Target, out: &mut String) {
    if value.is_optimized_out() {
        out.push_str("<optimized out>");
        return;
    }
    let ty = value.ty.strip().clone();
    match &ty.kind {
        CKind::Struct { members, .. } if ty.rust => rust_struct(value, &ty, members, format, target, out),
        CKind::Struct { members, .. } => {
            out.push('{');
            let mut first = true;
            for member in members {
                if !first {
                    out.push_str(", ");
                }
                first = false;
                let field = extract_member(value, member, 0);
                if member.base {
                    out.push_str(&format!("<{}> = ", member.name));
                } else if !member.name.is_empty() {
                    out.push_str(&format!("{} = ", member.name));
                }
                inner(&field, format, target, out);
            }
            out.push('}');
        }
        CKind::Array { element, count } => array(value, element, count.unwrap_or(0), format, target, out),
        CKind::Incomplete(_) => out.push_str("<incomplete type>"),
        CKind::Void => out.push_str("void"),
        CKind::Function { .. } => {
            let addr = value.address().unwrap_or(0);
            out.push_str(&format!("{{{}}} {addr:#x}", value.ty.name));
        }
        _ => scalar(value, &ty, format, target, out),
    }
}

/// A Rust struct as gdb's Rust printer shows it: `&str` as its text,
/// `Path {field: value}`, a tuple struct as `Path (a, b)`.
fn rust_struct(
    value: &CValue,
    ty: &CType,
    members: &[crate::symbols::CMember],
    format: Option<char>,
    target: &mut dyn Target,
    out: &mut String,
) {
    let field = |name: &str| members.iter().find(|m| m.name == name).map(|m| extract_member(value, m, 0));
    if ty.name == "&str" {
        if let (Some(ptr), Some(len)) = (field("data_ptr"), field("length")) {
            let (addr, len) = (ptr.as_int().unwrap_or(0) as u64, len.as_int().unwrap_or(0) as usize);
            match target.read(addr, len.min(PRINT_ELEMENTS)) {
                Ok(bytes) => out.push_str(&string_literal(&bytes, len > PRINT_ELEMENTS)),
                Err(e) => out.push_str(&format!("<error: {e}>")),
            }
            return;
        }
    }
    let tuple = !members.is_empty() && members.iter().all(|m| m.name.starts_with("__"));
    out.push_str(&ty.name);
    out.push_str(if tuple { " (" } else { " {" });
    for (i, member) in members.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        if !tuple {
            out.push_str(&format!("{}: ", member.name));
        }
        inner(&extract_member(value, member, 0), format, target, out);
    }
    out.push(if tuple { ')' } else { '}' });
}

fn array(value: &CValue, element: &CType, count: u64, format: Option<char>, target: &mut dyn Target, out: &mut String) {
    let size = element.strip().size.max(1) as usize;
    let count = count as usize;
    let elements: Vec<CValue> = (0..count)
        .map(|i| {
            let bytes = value.bytes.get(i * size..(i + 1) * size).map(<[u8]>::to_vec).unwrap_or_else(|| vec![0; size]);
            let place = match value.place {
                Place::Memory(addr) => Place::Memory(addr + (i * size) as u64),
                _ => Place::Computed,
            };
            CValue { ty: element.clone(), bytes, place }
        })
        .collect();
    if element.is_char() && element.strip().size == 1 && (format.is_none() || format == Some('s')) {
        let mut bytes: Vec<u8> = elements.iter().map(|e| e.bytes.first().copied().unwrap_or(0)).collect();
        // gdb stops at the first NUL when only NULs follow, and drops one trailing NUL.
        if bytes.last() == Some(&0) {
            bytes.pop();
        }
        out.push_str(&string_literal(&bytes, bytes.len() > PRINT_ELEMENTS));
        return;
    }
    let shown: Vec<String> = elements
        .iter()
        .take(PRINT_ELEMENTS)
        .map(|e| {
            let mut text = String::new();
            inner(e, format, target, &mut text);
            text
        })
        .collect();
    let mut parts: Vec<String> = runs(&shown)
        .into_iter()
        .map(|(v, n)| if n > REPEAT_THRESHOLD { format!("{v} <repeats {n} times>") } else { vec![v; n].join(", ") })
        .collect();
    if count > PRINT_ELEMENTS {
        if let Some(last) = parts.last_mut() {
            last.push_str("...");
        }
    }
    out.push('{');
    out.push_str(&parts.join(", "));
    out.push('}');
}

/// Bytes as gdb quotes a string: runs of more than ten equal characters as `'c' <repeats N times>`.
fn string_literal(bytes: &[u8], truncated: bool) -> String {
    let bytes = &bytes[..bytes.len().min(PRINT_ELEMENTS)];
    let mut parts = Vec::new();
    let mut text = String::new();
    for (byte, count) in runs(bytes) {
        if count > REPEAT_THRESHOLD {
            if !text.is_empty() {
                parts.push(format!("\"{}\"", std::mem::take(&mut text)));
            }
            parts.push(format!("{} <repeats {count} times>", quote_char(byte, '\'')));
        } else {
            let quoted = quote_char(byte, '"');
            text.push_str(&quoted[1..quoted.len() - 1].repeat(count));
        }
    }
    if !text.is_empty() || parts.is_empty() {
        parts.push(format!("\"{text}\""));
    }
    let mut joined = parts.join(", ");
    if truncated {
        joined.push_str("...");
    }
    joined
}

fn scalar(value: &CValue, ty: &CType, format: Option<char>, target: &mut dyn Target, out: &mut String) {
    let size = ty.size.clamp(1, 16) as u32;
    let bits = 8 * size;
    let raw = value.as_int();
    let unsigned = |v: i128| -> u128 {
        if bits >= 128 {
            v as u128
        } else {
            (v as u128) & ((1u128 << bits) - 1)
        }
    };
    let letter = format.filter(|f| *f != 's');
    if let (Some(letter), Some(v)) = (letter, raw.or_else(|| value.as_float().map(|f| f as i128))) {
        let u = unsigned(v);
        let text = match letter {
            'x' => format!("{u:#x}"),
            'z' => format!("0x{u:0width$x}", width = 2 * size as usize),
            'o' => {
                if u == 0 {
                    "0".into()
                } else {
                    format!("0{u:o}")
                }
            }
            't' => format!("{u:b}"),
            'd' => {
                let shift = 128 - bits;
                (((u << shift) as i128) >> shift).to_string()
            }
            'u' => u.to_string(),
            'c' => {
                let c = (v as u8) as i8;
                format!("{c} {}", quote_char(c as u8, '\''))
            }
            'a' => {
                let mut text = format!("{u:#x}");
                if let Some(name) = target.symbol(u as u64) {
                    text.push_str(&format!(" <{name}>"));
                }
                text
            }
            'f' if value.ty.is_float() => format_g(value.as_float().unwrap_or(0.0), if size == 4 { 9 } else { 17 }),
            _ => format!("{v}"),
        };
        out.push_str(&text);
        return;
    }
    match &ty.kind {
        CKind::Float => {
            let f = value.as_float().unwrap_or(0.0);
            out.push_str(&format_g(f, if ty.size == 4 { 9 } else { 17 }));
        }
        CKind::Bool => out.push_str(if raw.unwrap_or(0) != 0 { "true" } else { "false" }),
        CKind::Char { .. } => {
            let v = raw.unwrap_or(0);
            out.push_str(&format!("{v} {}", quote_char(v as u8, '\'')));
        }
        CKind::Enum { values, .. } => {
            let v = raw.unwrap_or(0);
            match values.iter().find(|(_, n)| i128::from(*n) == v) {
                Some((name, _)) => out.push_str(name),
                None => out.push_str(&v.to_string()),
            }
        }
        CKind::Pointer(pointee) => {
            let addr = unsigned(raw.unwrap_or(0)) as u64;
            out.push_str(&format!("{addr:#x}"));
            if addr == 0 {
                return;
            }
            let function = matches!(pointee.strip().kind, CKind::Function { .. });
            if pointee.is_char() && pointee.strip().size == 1 && !function {
                match read_string(target, addr) {
                    Ok((bytes, truncated)) => {
                        out.push(' ');
                        out.push_str(&string_literal(&bytes, truncated));
                    }
                    Err(e) => out.push_str(&format!(" <error: {e}>")),
                }
                return;
            }
            if let Some(name) = target.symbol(addr) {
                out.push_str(&format!(" <{name}>"));
            }
        }
        _ => out.push_str(&raw.unwrap_or(0).to_string()),
    }
}

/// A NUL-terminated string at `addr`, at most [`PRINT_ELEMENTS`] characters, and whether it went on.
fn read_string(target: &mut dyn Target, addr: u64) -> Result<(Vec<u8>, bool), String> {
    let mut bytes = Vec::new();
    let mut at = addr;
    while bytes.len() <= PRINT_ELEMENTS {
        // Read up to the end of the page, so that a string near unmapped memory still reads.
        let chunk = (4096 - (at % 4096)).min(256) as usize;
        let part = match target.read(at, chunk) {
            Ok(p) => p,
            Err(_) if !bytes.is_empty() => break,
            Err(_) => return Err(format!("Cannot access memory at address {addr:#x}")),
        };
        if let Some(end) = part.iter().position(|&b| b == 0) {
            bytes.extend_from_slice(&part[..end]);
            let truncated = bytes.len() > PRINT_ELEMENTS;
            bytes.truncate(PRINT_ELEMENTS);
            return Ok((bytes, truncated));
        }
        bytes.extend_from_slice(&part);
        at += chunk as u64;
    }
    let truncated = bytes.len() > PRINT_ELEMENTS;
    bytes.truncate(PRINT_ELEMENTS);
    Ok((bytes, truncated))
}
