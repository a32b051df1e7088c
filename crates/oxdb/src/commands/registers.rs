//! Registers: all of them, a group (general, segment, x87, sse, avx, debug),
//! some by name, and setting one (`regs rax=EXPR`, `set rax = EXPR`).

use std::io::Write;

use oxtrace::arch::{RegisterDef, RegisterKind};
use oxtrace::registers::x87_to_f64;
use oxtrace::{RegValue, Trace};

use super::{eval, Args};
use crate::session::{CmdError, CmdResult, Session};

/// The register groups `regs` knows, with the display classes each shows.
pub const GROUPS: &[(&str, &[&str])] = &[
    ("general", &["general"]),
    ("segment", &["segment"]),
    ("x87", &["x87"]),
    ("sse", &["sse"]),
    ("avx", &["avx"]),
    ("debug", &["debug"]),
    ("all", &["general", "segment", "x87", "sse", "avx", "debug"]),
];

/// The eflags bits worth naming.
const FLAGS: [(u32, &str); 9] =
    [(0, "CF"), (2, "PF"), (4, "AF"), (6, "ZF"), (7, "SF"), (8, "TF"), (9, "IF"), (10, "DF"), (11, "OF")];

/// One register as a line: name, hex, and decimal, float or flags where that helps.
pub fn register_line(def: &RegisterDef, value: &RegValue) -> String {
    let bytes = value.as_bytes();
    let hex: String = bytes.iter().rev().map(|b| format!("{b:02x}")).collect();
    let mut line = format!("{:<10}0x{hex}", def.name);
    match def.kind {
        RegisterKind::Integer => {
            let v = value.to_u64().unwrap_or(0);
            let signed = match bytes.len() {
                1 => v as u8 as i8 as i64,
                2 => v as u16 as i16 as i64,
                4 => v as u32 as i32 as i64,
                _ => v as i64,
            };
            line.push_str(&format!("  {signed}"));
            if def.name == "eflags" {
                let set: Vec<&str> = FLAGS.iter().filter(|(bit, _)| v & (1 << bit) != 0).map(|(_, n)| *n).collect();
                line.push_str(&format!("  [ {} ]", set.join(" ")));
            }
        }
        RegisterKind::X87Float => {
            if let Ok(raw) = <[u8; 10]>::try_from(&bytes[..bytes.len().min(10)]) {
                line.push_str(&format!("  {}", x87_to_f64(&raw)));
            }
        }
        RegisterKind::Vector => {}
    }
    line
}

/// A register by name, or an error naming it.
pub fn register_def(trace: &Trace, name: &str) -> Result<&'static RegisterDef, CmdError> {
    let bare = name.trim().trim_start_matches('$');
    trace.arch().register(bare).ok_or_else(|| CmdError(format!("no register named {bare:?}")))
}

/// Parses a register value: an expression, or a hex literal wider than 64 bits for vector registers.
fn register_value(trace: &mut Trace, text: &str) -> Result<RegValue, CmdError> {
    let text = text.trim();
    if let Some(hex) = text.strip_prefix("0x") {
        if hex.len() > 16 && hex.chars().all(|c| c.is_ascii_hexdigit()) {
            let digits = if !hex.len().is_multiple_of(2) { format!("0{hex}") } else { hex.to_owned() };
            let mut bytes: Vec<u8> =
                (0..digits.len()).step_by(2).map(|i| u8::from_str_radix(&digits[i..i + 2], 16).unwrap_or(0)).collect();
            bytes.reverse();
            return Ok(RegValue::from_bytes(&bytes)?);
        }
    }
    Ok(RegValue::from_u64(eval(trace, text)?))
}

/// Sets register `name` from `expr` and shows its new value.
fn set_register(session: &mut Session, name: &str, expr: &str, out: &mut dyn Write) -> CmdResult {
    let trace = session.trace()?;
    let def = register_def(trace, name)?;
    let value = register_value(trace, expr)?;
    trace.set_register(def.name, value)?;
    let now = trace.register(def.name)?;
    writeln!(out, "{}", register_line(def, &now))?;
    Ok(())
}

/// `regs [GROUP|NAME...|NAME=EXPR]`.
pub fn regs(session: &mut Session, args: Args<'_>, out: &mut dyn Write) -> CmdResult {
    let rest = args.rest.trim();
    if let Some((name, expr)) = rest.split_once('=') {
        return set_register(session, name, expr, out);
    }
    let frame = session.selected_frame;
    let trace = session.trace()?;
    if frame > 0 && rest.is_empty() {
        let tid = trace.current_thread();
        let frames = super::stack::frames(trace, tid)?;
        let f = frames.get(frame).ok_or_else(|| CmdError(format!("no frame {frame}")))?;
        writeln!(out, "frame {frame}: the registers the unwinder recovered (callee-saved, sp, pc)")?;
        for (name, value) in f.regs.known() {
            writeln!(out, "{name:<10}0x{value:016x}")?;
        }
        return Ok(());
    }
    let words: Vec<&str> = if rest.is_empty() { vec!["general"] } else { rest.split_whitespace().collect() };
    for word in words {
        if let Some((_, classes)) = GROUPS.iter().find(|(g, _)| *g == word) {
            let defs: Vec<&'static RegisterDef> =
                trace.arch().full_registers().filter(|d| classes.contains(&d.class) && d.name != "orig_rax").collect();
            for def in defs {
                let value = trace.register(def.name)?;
                writeln!(out, "{}", register_line(def, &value))?;
            }
            continue;
        }
        let def = register_def(trace, word)?;
        let value = trace.register(def.name)?;
        writeln!(out, "{}", register_line(def, &value))?;
    }
    Ok(())
}

/// `set REG = EXPR`, `set $REG = EXPR`, `set var NAME = EXPR`.
pub fn set(session: &mut Session, args: Args<'_>, out: &mut dyn Write) -> CmdResult {
    let rest = args.rest.trim();
    if let Some(result) = super::settings::try_set(session, rest, out) {
        return result;
    }
    if let Some(var) = rest.strip_prefix("var ").or_else(|| rest.strip_prefix("variable ")) {
        // gdb's `set var`: a C assignment in the selected frame (memory or a register).
        return super::values::set_var(session, var.trim());
    }
    if rest.starts_with('$') {
        // `set $rax = 1`, `set $count = 3`: a register or a convenience variable.
        return super::values::set_var(session, rest);
    }
    let (name, expr) = rest.split_once('=').ok_or_else(|| CmdError("usage: set REG = EXPR".into()))?;
    set_register(session, name, expr, out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxtrace::arch::x86_64::X86_64;

    #[test]
    fn lines_show_hex_decimal_and_flags() {
        let rax = X86_64.register("rax").unwrap();
        assert_eq!(register_line(rax, &RegValue::from_u64(u64::MAX)), "rax       0xffffffffffffffff  -1");
        let eflags = X86_64.register("eflags").unwrap();
        assert!(register_line(eflags, &RegValue::from_u64(0x246)).ends_with("[ PF ZF IF ]"));
    }
}
