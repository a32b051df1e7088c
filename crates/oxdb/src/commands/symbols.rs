//! Symbols: lookups both ways, regex search, modules, expression evaluation
//! and expression variables.

use std::io::Write;

use oxtrace::Trace;
use regex::Regex;

use super::{eval, Args};
use crate::session::{CmdError, CmdResult, Session};

/// How many symbols `syms` lists at most.
const MAX_SYMS: usize = 500;

/// What is known about an address: its symbol (name, offset) and module.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Symbolized {
    /// The symbol's name and how far into it the address is.
    pub symbol: Option<(String, u64)>,
    /// The module's normalized name.
    pub module: Option<String>,
}

impl Symbolized {
    /// `name` or `name+0xoff`, if a symbol is known.
    pub fn name(&self) -> Option<String> {
        self.symbol.as_ref().map(|(name, off)| match off {
            0 => name.clone(),
            off => format!("{name}+{off:#x}"),
        })
    }
}

/// The symbol and module of `addr` (nothing on errors).
pub fn symbolize(trace: &mut Trace, addr: u64) -> Symbolized {
    let Ok(symbols) = trace.symbols() else { return Symbolized::default() };
    let module = symbols.module_by_addr(addr).map(|m| m.name.clone());
    let symbol = symbols.sym_by_addr(addr).map(|hit| (hit.symbol.name.clone(), addr.wrapping_sub(hit.addr)));
    Symbolized { symbol, module }
}

/// `0xADDRESS in SYMBOL+0xOFF from MODULE`, with the parts that are known.
pub fn describe_addr(trace: &mut Trace, addr: u64) -> String {
    let known = symbolize(trace, addr);
    let mut text = format!("0x{addr:016x}");
    if let Some(name) = known.name() {
        text.push_str(&format!(" in {name}"));
    }
    if let Some(module) = known.module {
        text.push_str(&format!(" from {module}"));
    }
    text
}

/// A value as `0xHEX (DECIMAL)`, the decimal signed when the top bit is set, and ` <symbol>` when it points at one.
pub fn value_text(trace: &mut Trace, value: u64) -> String {
    let mut text =
        format!("{value:#x} ({})", if (value as i64) < 0 { (value as i64).to_string() } else { value.to_string() });
    if let Some(name) = symbolize(trace, value).name() {
        text.push_str(&format!(" <{name}>"));
    }
    text
}

/// `print EXPR`. A bare name of a global or static variable (not a register
/// or a `var`) prints its value with its type, as gdb does; any other
/// expression prints its value as an address or number.
pub fn print(session: &mut Session, args: Args<'_>, out: &mut dyn Write) -> CmdResult {
    let trace = session.trace()?;
    let name = args.rest.trim();
    let bare = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if bare && trace.arch().register(name).is_none() && trace.variable(name).is_none() {
        if let Ok((_, layout, value)) = trace.read_global(name) {
            writeln!(out, "({}) {}", layout.name, trace.format_value(&value)?)?;
            return Ok(());
        }
    }
    let value = eval(trace, args.rest)?;
    let text = value_text(trace, value);
    writeln!(out, "{text}")?;
    Ok(())
}

/// `sym EXPR`: symbol, module and map of an address.
pub fn sym(session: &mut Session, args: Args<'_>, out: &mut dyn Write) -> CmdResult {
    let trace = session.trace()?;
    let addr = eval(trace, args.rest)?;
    let known = symbolize(trace, addr);
    let map = trace.memory_map(addr)?;
    let mut line = describe_addr(trace, addr);
    match map {
        Some(map) => line.push_str(&format!(" [{} {}]", map.perms, map.name())),
        None => line.push_str(" (not mapped)"),
    }
    if known.symbol.is_none() && known.module.is_none() && map_is_none(&line) {
        return Err(CmdError(format!("no symbol or map holds 0x{addr:016x}")));
    }
    writeln!(out, "{line}")?;
    Ok(())
}

fn map_is_none(line: &str) -> bool {
    line.ends_with("(not mapped)")
}

/// `addr NAME`: a symbol's address.
pub fn addr(session: &mut Session, args: Args<'_>, out: &mut dyn Write) -> CmdResult {
    let name = args.rest.trim();
    if name.is_empty() {
        return Err("a symbol name is needed".into());
    }
    let trace = session.trace()?;
    let addr = trace.sym_by_name(name).map_err(|_| CmdError(format!("no symbol named {name:?}")))?;
    let line = describe_addr(trace, addr);
    writeln!(out, "{line}")?;
    Ok(())
}

/// `syms REGEX [MODULE]`: symbols whose names match.
pub fn syms(session: &mut Session, args: Args<'_>, out: &mut dyn Write) -> CmdResult {
    let words = args.words();
    let Some(pattern) = words.first() else { return Err("a regex is needed".into()) };
    let regex = Regex::new(pattern).map_err(|e| CmdError(format!("bad regex {pattern:?}: {e}")))?;
    let module_filter = words.get(1).copied();
    let trace = session.trace()?;
    let symbols = trace.symbols()?;
    if let Some(name) = module_filter {
        if symbols.module_by_name(name).is_none() {
            return Err(CmdError(format!("no module named {name:?}")));
        }
    }
    let mut found: Vec<(u64, String, String)> = Vec::new();
    for module in symbols.modules() {
        if module_filter.is_some_and(|name| name != module.name) {
            continue;
        }
        for symbol in module.table().symbols() {
            if !symbol.name.is_empty() && regex.is_match(&symbol.name) {
                found.push((symbol.addr.wrapping_add(module.bias), symbol.name.clone(), module.name.clone()));
            }
        }
    }
    found.sort();
    found.dedup();
    for (addr, name, module) in found.iter().take(MAX_SYMS) {
        writeln!(out, "0x{addr:016x} {module}.{name}")?;
    }
    if found.len() > MAX_SYMS {
        writeln!(out, "... {} more", found.len() - MAX_SYMS)?;
    }
    writeln!(out, "{} symbol(s)", found.len())?;
    Ok(())
}

/// `modules`: the program and its libraries.
pub fn modules(session: &mut Session, _args: Args<'_>, out: &mut dyn Write) -> CmdResult {
    let trace = session.trace()?;
    for library in trace.libraries()? {
        writeln!(out, "0x{:016x}-0x{:016x} {:<16} {}", library.base, library.end, library.name, library.path)?;
    }
    Ok(())
}

/// `var [NAME [EXPR]]`.
pub fn var(session: &mut Session, args: Args<'_>, out: &mut dyn Write) -> CmdResult {
    let rest = args.rest.trim();
    if rest.is_empty() {
        let trace = session.any_trace()?;
        for (name, value) in trace.variables() {
            writeln!(out, "{name} = {value:#x} ({value})")?;
        }
        return Ok(());
    }
    let (name, expr) = match rest.split_once(|c: char| c.is_whitespace() || c == '=') {
        Some((name, expr)) => (name.trim(), expr.trim().trim_start_matches('=').trim()),
        None => (rest, ""),
    };
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') || name.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(CmdError(format!("bad variable name {name:?}")));
    }
    if expr.is_empty() {
        let trace = session.any_trace()?;
        let value = trace.variable(name).ok_or_else(|| CmdError(format!("no variable named {name:?}")))?;
        writeln!(out, "{name} = {value:#x} ({value})")?;
        return Ok(());
    }
    let trace = session.trace()?;
    let value = eval(trace, expr)?;
    trace.set_variable(name, value);
    writeln!(out, "{name} = {value:#x} ({value})")?;
    Ok(())
}
