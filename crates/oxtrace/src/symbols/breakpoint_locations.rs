//! Breakpoint locations as a debugger user writes them (`FILE:LINE`,
//! `LINE`, `FUNCTION`, `FILE:FUNCTION`, `*ADDRESS`), and what they stand
//! for in the loaded modules: every function of that name (clones such as
//! `f.part.0`, `f.constprop.0`, `f.isra.0` included, and every inlined copy
//! that DWARF records), the code of a source line.
//!
//! Which definitions of a name count follows what the program calls: global
//! definitions hide local ones of other modules (libc's `opendir` over the
//! dynamic linker's private copy), and the default version of a versioned
//! symbol hides its compat versions (`pthread_cond_signal@@GLIBC_2.3.2`).

use gimli::Reader as _;

use super::lines::{path_matches, LineInfo};
use super::qualified_names::qualified_name_matches;
use super::{Module, SymbolKind, SymbolResolver};
use crate::error::{Error, Result};

/// A location as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A source line, in a file (`calls.c:12`) or in the current one (`12`).
    Line {
        /// The file (a path or its trailing part), `None` for the current file.
        file: Option<String>,
        /// The line.
        line: u32,
    },
    /// A function by name, possibly in one source file (`calls.c:d`).
    Function {
        /// The source file the function must be in.
        file: Option<String>,
        /// The name: plain, qualified (`ns::C<int>::m`), with parameters or not.
        name: String,
    },
    /// `*EXPR`: an address (the expression is evaluated by the caller).
    Address(String),
}

impl Location {
    /// Parses a location. Quotes around a name (`'f(int, int*)'`) are dropped.
    pub fn parse(text: &str) -> Result<Location> {
        let text = text.trim();
        if text.is_empty() {
            return Err(Error::InvalidArgument("a location is needed".into()));
        }
        if let Some(expr) = text.strip_prefix('*') {
            let expr = expr.trim();
            if expr.is_empty() {
                return Err(Error::InvalidArgument("an address is needed after '*'".into()));
            }
            return Ok(Location::Address(expr.to_owned()));
        }
        if let Some(line) = parse_line(text) {
            return Ok(Location::Line { file: None, line: line? });
        }
        let unquoted = strip_quotes(text);
        // `FILE:LINE` or `FILE:FUNCTION`: one colon (not C++'s `::`) after a file name.
        if let Some((file, rest)) = split_file(unquoted) {
            if let Some(line) = parse_line(rest) {
                return Ok(Location::Line { file: Some(file.to_owned()), line: line? });
            }
            return Ok(Location::Function { file: Some(file.to_owned()), name: strip_quotes(rest).to_owned() });
        }
        Ok(Location::Function { file: None, name: unquoted.to_owned() })
    }
}

/// A line number: `Some(Ok)` for digits, `Some(Err)` for digits out of range, `None` otherwise.
fn parse_line(text: &str) -> Option<Result<u32>> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(
        text.parse::<u32>()
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| Error::InvalidArgument(format!("bad line number {text}"))),
    )
}

fn strip_quotes(text: &str) -> &str {
    let text = text.trim();
    for q in ['\'', '"'] {
        if let Some(inner) = text.strip_prefix(q).and_then(|t| t.strip_suffix(q)) {
            return inner.trim();
        }
    }
    text
}

/// Splits `FILE:REST` at a single colon outside quotes, templates and
/// parameters, when FILE looks like a file name (has no `::`).
fn split_file(text: &str) -> Option<(&str, &str)> {
    let bytes = text.as_bytes();
    let mut depth = 0i32;
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'<' | b'(' => depth += 1,
            b'>' | b')' => depth -= 1,
            b':' if depth == 0 => {
                let double = bytes.get(i + 1) == Some(&b':') || (i > 0 && bytes[i - 1] == b':');
                if double {
                    return None;
                }
                let (file, rest) = (&text[..i], &text[i + 1..]);
                return (!file.is_empty() && !rest.is_empty()).then_some((file.trim(), rest.trim()));
            }
            _ => {}
        }
    }
    None
}

/// Suffixes of the clones compilers make of a function (`f.part.0`, `f.constprop.1`, `f.isra.0`).
const CLONE_KINDS: [&str; 3] = ["part", "constprop", "isra"];

/// Whether `raw` is a clone of `name` (`name.constprop.0`, `name.isra.0.part.0`...).
fn is_clone_of(raw: &str, name: &str) -> bool {
    let Some(rest) = raw.strip_prefix(name).and_then(|r| r.strip_prefix('.')) else { return false };
    let parts: Vec<&str> = rest.split('.').collect();
    parts.len().is_multiple_of(2)
        && parts.chunks(2).all(|p| CLONE_KINDS.contains(&p[0]) && p[1].bytes().all(|b| b.is_ascii_digit()))
}

/// One place a function is, found by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FunctionEntry {
    /// The runtime address of its first instruction.
    pub addr: u64,
    /// An inlined copy (no call, no prologue), rather than a function of its own.
    pub inlined: bool,
}

impl SymbolResolver {
    /// Every place the function `name` is, in every module: its definitions
    /// (global ones hiding local ones of other modules, the default version
    /// hiding compat versions), its clones and its inlined copies; sorted by address.
    pub fn function_entries(&self, name: &str) -> Vec<FunctionEntry> {
        let (module_name, bare) = match name.split_once('.') {
            Some((m, rest)) if self.module_by_name(m).is_some() && !rest.is_empty() => (Some(m), rest),
            _ => (None, name),
        };
        let modules: Vec<&Module> = self.modules().iter().filter(|m| module_name.is_none_or(|n| m.name == n)).collect();
        // Definitions by module: (module, address, global).
        let mut defined: Vec<(&Module, u64, bool)> = Vec::new();
        for module in &modules {
            let table = module.table();
            let mut named: Vec<_> = table
                .all_by_name(bare)
                .filter(|s| matches!(s.kind, SymbolKind::Function | SymbolKind::IndirectFunction))
                .collect();
            if bare.contains("::") {
                // A qualified name also names what it is the trailing part
                // of (`Square::area`), a Rust trait impl's method by its self
                // type, and a C++ template function, whose demangled name
                // starts with its return type (`int ns::twice<int>(int)`).
                let last = super::qualified_names::last_component(bare);
                for s in table.symbols() {
                    if s.kind != SymbolKind::Function || !s.name.contains(last) || named.contains(&s) {
                        continue;
                    }
                    let short = super::without_parameters(&s.name).unwrap_or(&s.name);
                    // A clone's demangled name ends in `[clone .isra.0]`: matched without it.
                    let unclone = s.name.split(" [clone ").next().unwrap_or(&s.name);
                    let forms = [Some(s.name.as_str()), Some(unclone), Some(short), without_return_type(&s.name)];
                    if forms.into_iter().flatten().any(|form| qualified_name_matches(form, bare)) {
                        named.push(s);
                    }
                }
            }
            let has_default = named.iter().any(|s| !table.is_compat_version(s));
            for s in named {
                if has_default && table.is_compat_version(s) {
                    continue;
                }
                defined.push((module, s.addr.wrapping_add(module.bias), s.global));
            }
        }
        let any_global = defined.iter().any(|(_, _, global)| *global);
        let global_modules: Vec<&str> =
            defined.iter().filter(|(_, _, g)| *g).map(|(m, _, _)| m.name.as_str()).collect();
        let mut found: Vec<FunctionEntry> = defined
            .iter()
            // A local definition counts only where no module defines the name globally, or in such a module.
            .filter(|(m, _, global)| *global || !any_global || global_modules.contains(&m.name.as_str()))
            .map(|(_, addr, _)| FunctionEntry { addr: *addr, inlined: false })
            .collect();
        for module in &modules {
            if any_global && !global_modules.contains(&module.name.as_str()) && !is_program_like(module) {
                continue;
            }
            for s in module.table().symbols() {
                if s.kind == SymbolKind::Function && is_clone_of(&s.raw_name, bare) {
                    found.push(FunctionEntry { addr: s.addr.wrapping_add(module.bias), inlined: false });
                }
            }
            if let Some(lines) = module.image.lines() {
                for addr in lines.inlined_entries(bare) {
                    found.push(FunctionEntry { addr: addr.wrapping_add(module.bias), inlined: true });
                }
            }
        }
        found.sort_by_key(|e| (e.addr, e.inlined));
        found.dedup_by_key(|e| e.addr);
        found
    }

    /// The source file of a runtime code address, when DWARF knows it.
    pub fn file_of(&self, addr: u64) -> Option<String> {
        self.line_for_addr(addr).map(|(file, _)| file)
    }

    /// The code of `file:line` (or, when no code has that line, of the
    /// nearest following line that has code), as gdb places a line
    /// breakpoint: the lowest address of the line in each function or
    /// inlined copy. Returns the line used and the runtime addresses.
    pub fn line_entries(&self, file: &str, line: u32) -> Option<(u32, Vec<u64>)> {
        // Statement rows of the file in every module, at runtime addresses.
        let rows: Vec<(u64, u32)> = self
            .modules()
            .iter()
            .filter_map(|m| Some((m.bias, m.image.lines()?)))
            .flat_map(|(bias, lines)| {
                lines.statements_of_file(file).into_iter().map(move |(a, l)| (a.wrapping_add(bias), l))
            })
            .collect();
        let line = rows.iter().map(|(_, l)| *l).filter(|l| *l >= line).min()?;
        let mut by_function: Vec<(u64, u64)> = Vec::new();
        for addr in rows.iter().filter(|(_, l)| *l == line).map(|(a, _)| *a) {
            // The function (or inlined copy) holding it: one location each.
            let key = self.innermost_start(addr).or_else(|| self.sym_by_addr(addr).map(|h| h.addr)).unwrap_or(addr);
            match by_function.iter_mut().find(|(k, _)| *k == key) {
                Some((_, lowest)) => *lowest = (*lowest).min(addr),
                None => by_function.push((key, addr)),
            }
        }
        let mut addrs: Vec<u64> = by_function.into_iter().map(|(_, a)| a).collect();
        addrs.sort_unstable();
        Some((line, addrs))
    }

    /// The start of the innermost DWARF scope (function or inlined copy) at a runtime address.
    fn innermost_start(&self, addr: u64) -> Option<u64> {
        let module = self.module_by_addr(addr)?;
        let lines = module.image.lines()?;
        lines.innermost_scope_start(addr.wrapping_sub(module.bias)).map(|a| a.wrapping_add(module.bias))
    }

    /// Whether the source file `file` names (a path or its trailing part) is `wanted`.
    pub fn file_matches(file: &str, wanted: &str) -> bool {
        path_matches(file, wanted)
    }
}

/// A demangled C++ name without its parameters and its leading return type
/// (`int ns::twice<int>(int)` gives `ns::twice<int>`); `None` when it has no return type.
fn without_return_type(name: &str) -> Option<&str> {
    let short = super::without_parameters(name).unwrap_or(name);
    let mut depth = 0i32;
    let mut cut = None;
    for (i, c) in short.char_indices() {
        match c {
            '<' | '(' => depth += 1,
            '>' | ')' => depth -= 1,
            ' ' if depth == 0 => cut = Some(i),
            _ => {}
        }
    }
    cut.map(|i| &short[i + 1..])
}

/// The program itself or a library that is not the dynamic linker.
fn is_program_like(module: &Module) -> bool {
    module.name != "ld"
}

impl LineInfo {
    /// The statement rows (`is_stmt`) of the line table for source file
    /// `file` (a path or its trailing part), as `(file address, line)`:
    /// every row, several at one address included, as the line programs
    /// state them (addr2line keeps one row per address).
    pub fn statements_of_file(&self, file: &str) -> Vec<(u64, u32)> {
        let dwarf = self.dwarf();
        let mut found = Vec::new();
        let mut headers = dwarf.units();
        while let Ok(Some(header)) = headers.next() {
            let Ok(unit) = dwarf.unit(header) else { continue };
            let Some(program) = unit.line_program.clone() else { continue };
            let mut matching: std::collections::HashMap<u64, bool> = std::collections::HashMap::new();
            let mut rows = program.rows();
            // A row of the file, kept until the next row shows it is not empty.
            let mut pending: Option<(u64, u64, u32)> = None;
            while let Ok(Some((header, row))) = rows.next_row() {
                let (addr, index) = (row.address(), row.file_index());
                if let Some((at, in_file, line)) = pending.take() {
                    // A row followed at the same address by another file's row (or
                    // the end of the sequence) has no code: gdb drops it too.
                    let empty = at == addr && (in_file != index || row.end_sequence());
                    if !empty {
                        found.push((at, line));
                    }
                }
                if !row.is_stmt() || row.end_sequence() {
                    continue;
                }
                let Some(line) = row.line().and_then(|l| u32::try_from(l.get()).ok()) else { continue };
                let matches = *matching.entry(index).or_insert_with(|| {
                    file_path(dwarf, &unit, header, index).is_some_and(|path| path_matches(&path, file))
                });
                if matches {
                    pending = Some((addr, index, line));
                }
            }
            if let Some((at, _, line)) = pending {
                found.push((at, line));
            }
        }
        found
    }

    /// The file addresses where DWARF records an inlined copy of the function `name` starting.
    pub fn inlined_entries(&self, name: &str) -> Vec<u64> {
        let mut found = Vec::new();
        self.find_die(|unit, entry| {
            if entry.tag() != gimli::DW_TAG_inlined_subroutine {
                return None;
            }
            let Some(gimli::AttributeValue::UnitRef(origin)) = entry.attr_value(gimli::DW_AT_abstract_origin) else {
                return None;
            };
            if !origin_named(unit, origin, name) {
                return None;
            }
            // The copy's entry is where its first range starts, as gdb takes it.
            let low_pc = entry.attr_value(gimli::DW_AT_low_pc).and_then(|v| unit.attr_address(v).ok().flatten());
            let first_range = || unit.die_ranges(entry).ok()?.next().ok().flatten().map(|r| r.begin);
            found.extend(low_pc.or_else(first_range));
            None::<()>
        });
        found
    }

    /// The start of the innermost function or inlined copy holding a file address.
    pub fn innermost_scope_start(&self, addr: u64) -> Option<u64> {
        let unit = self.unit_at(addr)?;
        let mut cursor = unit.entries();
        let mut best: Option<(isize, u64)> = None;
        while let Ok(Some(entry)) = cursor.next_dfs() {
            if !matches!(entry.tag(), gimli::DW_TAG_subprogram | gimli::DW_TAG_inlined_subroutine) {
                continue;
            }
            let Ok(mut ranges) = unit.die_ranges(entry) else { continue };
            let mut low = None::<u64>;
            let mut inside = false;
            while let Ok(Some(r)) = ranges.next() {
                low = Some(low.map_or(r.begin, |l| l.min(r.begin)));
                inside |= (r.begin..r.end).contains(&addr);
            }
            if let (true, Some(low)) = (inside, low) {
                if best.is_none_or(|(depth, _)| entry.depth() > depth) {
                    best = Some((entry.depth(), low));
                }
            }
        }
        best.map(|(_, low)| low)
    }
}

/// The path of file `index` of a line program: its directory joined to its name.
fn file_path(
    dwarf: &gimli::Dwarf<super::lines::Reader>,
    unit: &gimli::Unit<super::lines::Reader>,
    header: &gimli::LineProgramHeader<super::lines::Reader>,
    index: u64,
) -> Option<String> {
    let entry = header.file(index)?;
    let name = dwarf.attr_string(unit, entry.path_name()).ok()?.to_string_lossy().ok()?.into_owned();
    if name.starts_with('/') {
        return Some(name);
    }
    let dir = entry
        .directory(header)
        .and_then(|d| dwarf.attr_string(unit, d).ok())
        .and_then(|d| d.to_string_lossy().ok().map(|d| d.into_owned()));
    Some(match dir {
        Some(dir) if !dir.is_empty() => format!("{}/{name}", dir.trim_end_matches('/')),
        _ => name,
    })
}

/// Whether the DIE at `origin` (an abstract function, perhaps through its
/// declaration) is named `name`: its plain name, or its linkage name
/// demangled, with or without parameters.
fn origin_named(unit: &gimli::UnitRef<'_, super::lines::Reader>, origin: gimli::UnitOffset, name: &str) -> bool {
    let mut offset = origin;
    for _ in 0..4 {
        let Ok(die) = unit.entry(offset) else { return false };
        for attr in [gimli::DW_AT_linkage_name, gimli::DW_AT_MIPS_linkage_name] {
            if let Some(raw) = die.attr_value(attr).and_then(|v| unit.attr_string(v).ok()) {
                let raw = raw.to_string_lossy().unwrap_or_default().into_owned();
                let demangled = super::demangle(&raw).unwrap_or_else(|| raw.clone());
                let short = super::without_parameters(&demangled).unwrap_or(&demangled);
                let qualified = name.contains("::")
                    && (qualified_name_matches(&demangled, name) || qualified_name_matches(short, name));
                if raw == name || demangled == name || short == name || qualified {
                    return true;
                }
            }
        }
        if let Some(plain) = die.attr_value(gimli::DW_AT_name).and_then(|v| unit.attr_string(v).ok()) {
            if plain.to_string_lossy().is_ok_and(|p| p == name) {
                return true;
            }
        }
        match die.attr_value(gimli::DW_AT_specification).or_else(|| die.attr_value(gimli::DW_AT_abstract_origin)) {
            Some(gimli::AttributeValue::UnitRef(next)) => offset = next,
            _ => return false,
        }
    }
    false
}

impl LineInfo {
    /// The rows of the line table in `[low, high)` (file addresses) as
    /// `(address, line)`, sorted by address. Rows of one line that follow
    /// each other are kept apart, as gdb keeps them (the body of a one-line
    /// function is a row of its own after the prologue's).
    pub fn statements_in(&self, low: u64, high: u64) -> Vec<(u64, u32)> {
        let Ok(rows) = self.context().find_location_range(low, high) else { return Vec::new() };
        let mut rows: Vec<(u64, u32)> = rows.map(|(addr, _, loc)| (addr, loc.line.unwrap_or(0))).collect();
        rows.sort_unstable();
        rows
    }
}

impl LineInfo {
    /// Whether the compilation unit holding a file address was compiled by
    /// an LLVM compiler (clang, rustc), whose line tables mark the end of
    /// a prologue with a row of their own.
    pub fn compiled_by_llvm(&self, addr: u64) -> bool {
        let Some(unit) = self.unit_at(addr) else { return false };
        let mut cursor = unit.entries();
        let Ok(Some(root)) = cursor.next_dfs() else { return false };
        root.attr_value(gimli::DW_AT_producer)
            .and_then(|v| unit.attr_string(v).ok())
            .and_then(|p| p.to_string_lossy().ok().map(|p| p.contains("clang") || p.contains("rustc")))
            .unwrap_or(false)
    }
}

impl LineInfo {
    /// The first row in `[low, high)` (file addresses) that the line table
    /// marks as the end of a prologue (`DW_LNS_set_prologue_end`, which
    /// LLVM emits and gdb honours before any other rule).
    pub fn prologue_end_in(&self, low: u64, high: u64) -> Option<u64> {
        let unit = self.unit_at(low)?;
        let program = unit.line_program.clone()?;
        let mut rows = program.rows();
        let mut first: Option<u64> = None;
        while let Ok(Some((_, row))) = rows.next_row() {
            let addr = row.address();
            if row.prologue_end() && !row.end_sequence() && (low..high).contains(&addr) {
                first = Some(first.map_or(addr, |f| f.min(addr)));
            }
        }
        first
    }
}

impl SymbolResolver {
    /// The first row in `[start, end)` marked as a prologue's end (see
    /// [`LineInfo::prologue_end_in`]), at runtime addresses.
    pub fn prologue_end_in(&self, start: u64, end: u64) -> Option<u64> {
        let module = self.module_by_addr(start)?;
        let bias = module.bias;
        let found = module.image.lines()?.prologue_end_in(start.wrapping_sub(bias), end.wrapping_sub(bias))?;
        Some(found.wrapping_add(bias))
    }

    /// Whether the code at a runtime address was compiled by an LLVM compiler
    /// (see [`LineInfo::compiled_by_llvm`]).
    pub fn compiled_by_llvm(&self, addr: u64) -> bool {
        self.module_by_addr(addr)
            .and_then(|m| Some(m.image.lines()?.compiled_by_llvm(addr.wrapping_sub(m.bias))))
            .unwrap_or(false)
    }

    /// The statements (see [`LineInfo::statements_in`]) in `[start, end)`, at runtime addresses.
    pub fn statements_in(&self, start: u64, end: u64) -> Vec<(u64, u32)> {
        let Some(module) = self.module_by_addr(start) else { return Vec::new() };
        let Some(lines) = module.image.lines() else { return Vec::new() };
        let bias = module.bias;
        lines
            .statements_in(start.wrapping_sub(bias), end.wrapping_sub(bias))
            .into_iter()
            .map(|(a, l)| (a.wrapping_add(bias), l))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn function(file: Option<&str>, name: &str) -> Location {
        Location::Function { file: file.map(str::to_owned), name: name.to_owned() }
    }

    #[test]
    fn locations_parse() {
        assert_eq!(Location::parse("93").unwrap(), Location::Line { file: None, line: 93 });
        assert_eq!(Location::parse("calls.c:12").unwrap(), Location::Line { file: Some("calls.c".into()), line: 12 });
        assert_eq!(Location::parse("calls.c:d").unwrap(), function(Some("calls.c"), "d"));
        assert_eq!(Location::parse("main").unwrap(), function(None, "main"));
        assert_eq!(Location::parse("ns::Class<int>::method").unwrap(), function(None, "ns::Class<int>::method"));
        assert_eq!(Location::parse("'f(int, int*)'").unwrap(), function(None, "f(int, int*)"));
        assert_eq!(Location::parse("Box<int>::twice").unwrap(), function(None, "Box<int>::twice"));
        assert_eq!(Location::parse("*0x401000").unwrap(), Location::Address("0x401000".into()));
        assert_eq!(Location::parse("*main").unwrap(), Location::Address("main".into()));
        assert!(Location::parse("0").is_err());
        assert!(Location::parse("99999999999").is_err());
        assert!(Location::parse("").is_err());
        assert!(Location::parse("*").is_err());
    }

    #[test]
    fn return_types_are_cut() {
        assert_eq!(without_return_type("int shapes::twice<int>(int)"), Some("shapes::twice<int>"));
        assert_eq!(without_return_type("shapes::scale(int)"), None);
        assert_eq!(
            without_return_type("std::pair<int, int> f<std::pair<int, int> >()"),
            Some("f<std::pair<int, int> >")
        );
    }

    #[test]
    fn clones_are_recognised() {
        assert!(is_clone_of("work.part.0", "work"));
        assert!(is_clone_of("work.constprop.0.isra.0", "work"));
        assert!(!is_clone_of("work.cold", "work"));
        assert!(!is_clone_of("worker", "work"));
        assert!(!is_clone_of("work", "work"));
    }
}
