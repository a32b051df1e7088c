//! The symbol table of one ELF file, sorted by address and indexed by name.

use std::collections::HashMap;
use std::path::Path;

use object::{Object, ObjectKind, ObjectSegment, ObjectSymbol, ObjectSymbolTable};

use super::demangle::{demangle, without_parameters};
use super::plt::plt_symbols;
use crate::error::{Error, Result};

/// The order of symbols: by address, then the best name for it first.
fn preference(s: &Symbol) -> (u64, bool, usize, bool, std::cmp::Reverse<&str>) {
    let underscores = s.name.len() - s.name.trim_start_matches('_').len();
    let code = matches!(s.kind, SymbolKind::Function | SymbolKind::IndirectFunction);
    (s.addr, !code, underscores, !s.global, std::cmp::Reverse(&s.name))
}

fn is_indirect_function<'a>(symbol: &impl ObjectSymbol<'a>) -> bool {
    matches!(symbol.flags(), object::SymbolFlags::Elf { st_info, .. } if st_info.st_type() == object::elf::STT_GNU_IFUNC)
}

/// Parses ELF bytes; `path` only names the file in errors.
pub fn parse_elf<'a>(data: &'a [u8], path: &str) -> Result<object::File<'a>> {
    let fail = |reason: String| Error::File { path: path.to_owned(), reason };
    let file = object::File::parse(data).map_err(|e| fail(format!("not a readable ELF file: {e}")))?;
    if file.format() != object::BinaryFormat::Elf {
        return Err(fail(format!("{:?} is not ELF", file.format())));
    }
    Ok(file)
}

/// What a symbol names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SymbolKind {
    /// Code.
    Function,
    /// Data.
    Object,
    /// A GNU indirect function: the code at its address is a resolver that
    /// returns the address of the implementation to use (`strlen`, `memcpy` in glibc).
    IndirectFunction,
    /// Anything else (TLS, untyped).
    Other,
}

/// A symbol as the file states it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Symbol {
    /// Its name, demangled (Rust without the hash, C++ with its parameters).
    pub name: String,
    /// Its name as the file spells it (mangled).
    pub raw_name: String,
    /// Its address as stated in the file (add the module's bias for the runtime address).
    pub addr: u64,
    /// Its size in bytes (0 when unknown).
    pub size: u64,
    /// What it names.
    pub kind: SymbolKind,
    /// Whether it is global (or weak) rather than local to its file.
    pub global: bool,
}

/// A loadable segment of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// Its address in the file's address space.
    pub vaddr: u64,
    /// Its offset in the file.
    pub offset: u64,
    /// Its size in memory.
    pub memsz: u64,
}

/// The symbols of one ELF file.
#[derive(Debug, Clone)]
pub struct SymbolTable {
    symbols: Vec<Symbol>,
    by_name: HashMap<String, Vec<usize>>,
    segments: Vec<Segment>,
    entry: u64,
    position_independent: bool,
    /// Dynamic symbols of a non-default version (`name@VERSION`, not
    /// `name@@VERSION`), by file address and raw name: kept for addresses,
    /// passed over by name, as the dynamic linker passes them over.
    compat: std::collections::HashSet<(u64, String)>,
}

impl SymbolTable {
    /// Reads and parses an ELF file.
    pub fn load(path: &Path) -> Result<SymbolTable> {
        let data =
            std::fs::read(path).map_err(|e| Error::File { path: path.display().to_string(), reason: e.to_string() })?;
        Self::parse(&data, &path.display().to_string())
    }

    /// Parses an ELF image; `path` only names it in errors.
    pub fn parse(data: &[u8], path: &str) -> Result<SymbolTable> {
        let file = parse_elf(data, path)?;
        Ok(Self::from_object(&file, Vec::new()))
    }

    /// The symbols of a parsed file (`.symtab`, `.dynsym` and PLT stubs), with
    /// `extra` ones (from a separate debug file) added.
    pub fn from_object(file: &object::File, extra: Vec<Symbol>) -> SymbolTable {
        let mut symbols: Vec<Symbol> = file
            .symbols()
            .chain(file.dynamic_symbols())
            .filter(|s| !s.is_undefined() && s.address() != 0)
            // COFF's absolute symbols (`__size_of_stack_reserve__`) are numbers, not places.
            .filter(|s| {
                file.format() != object::BinaryFormat::Pe || matches!(s.section(), object::SymbolSection::Section(_))
            })
            .filter(|s| {
                !matches!(s.kind(), object::SymbolKind::Section | object::SymbolKind::File | object::SymbolKind::Label)
            })
            .filter_map(|s| {
                let raw = s.name().ok().filter(|n| !n.is_empty() && !is_arm_mapping_symbol(n))?;
                // The assembler's local labels (`.L413`), which static C libraries
                // keep: no function's name (gdb skips them too).
                if raw.starts_with(".L") && !s.is_global() {
                    return None;
                }
                let kind = match s.kind() {
                    _ if is_indirect_function(&s) => SymbolKind::IndirectFunction,
                    object::SymbolKind::Text => SymbolKind::Function,
                    object::SymbolKind::Data => SymbolKind::Object,
                    _ => SymbolKind::Other,
                };
                let name = demangle(raw).unwrap_or_else(|| raw.to_owned());
                Some(Symbol {
                    name,
                    raw_name: raw.to_owned(),
                    addr: s.address(),
                    size: s.size(),
                    kind,
                    global: s.is_global(),
                })
            })
            .chain(plt_symbols(file))
            .chain(extra)
            .collect();
        // Best first among symbols at one address: functions, then public
        // names (fewest leading underscores: `malloc` before `__libc_malloc`,
        // as gdb shows them), then globals, then the name that sorts last
        // (gdb's choice among aliases: `raise`, not `gsignal`).
        symbols.sort_by(|a, b| preference(a).cmp(&preference(b)));
        symbols.dedup_by(|a, b| a.addr == b.addr && a.raw_name == b.raw_name);
        let mut by_name: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, s) in symbols.iter().enumerate() {
            let short = without_parameters(&s.name).filter(|short| *short != s.raw_name);
            for key in [Some(s.raw_name.as_str()), Some(s.name.as_str()).filter(|n| *n != s.raw_name), short]
                .into_iter()
                .flatten()
            {
                by_name.entry(key.to_owned()).or_default().push(i);
            }
        }
        let compat = compat_versions(file);
        let segments = file
            .segments()
            .filter_map(|seg| {
                let (offset, _) = seg.file_range();
                Some(Segment { vaddr: seg.address(), offset, memsz: seg.size() }).filter(|s| s.memsz > 0)
            })
            .collect();
        SymbolTable {
            symbols,
            by_name,
            segments,
            entry: file.entry(),
            position_independent: file.kind() == ObjectKind::Dynamic,
            compat,
        }
    }

    /// Whether the file had a full symbol table (`.symtab`), not only the dynamic one.
    pub fn has_full_symbols(file: &object::File) -> bool {
        file.symbol_table().is_some_and(|t| t.symbols().next().is_some())
    }

    /// Every symbol, sorted by address.
    pub fn symbols(&self) -> &[Symbol] {
        &self.symbols
    }

    /// The loadable segments.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// The entry point (file address).
    pub fn entry(&self) -> u64 {
        self.entry
    }

    /// True for shared objects and PIE executables (loaded at a bias).
    pub fn is_position_independent(&self) -> bool {
        self.position_independent
    }

    /// A symbol by exact name: a global one of the default version when
    /// there are several (`pthread_cond_signal@@GLIBC_2.3.2`, not the
    /// compat `pthread_cond_signal@GLIBC_2.2.5`), else a global one.
    pub fn by_name(&self, name: &str) -> Option<&Symbol> {
        let candidates = self.by_name.get(name)?;
        let best = candidates
            .iter()
            .find(|&&i| self.symbols[i].global && !self.is_compat_version(&self.symbols[i]))
            .or_else(|| candidates.iter().find(|&&i| self.symbols[i].global))
            .or(candidates.first())?;
        Some(&self.symbols[*best])
    }

    /// Every symbol with this exact name (raw, demangled, or without parameters).
    pub fn all_by_name(&self, name: &str) -> impl Iterator<Item = &Symbol> {
        self.by_name.get(name).into_iter().flatten().map(|&i| &self.symbols[i])
    }

    /// Whether a symbol is a dynamic symbol of a non-default version (`name@VERSION`).
    pub fn is_compat_version(&self, symbol: &Symbol) -> bool {
        !self.compat.is_empty() && self.compat.contains(&(symbol.addr, symbol.raw_name.clone()))
    }

    /// Every symbol at exactly the file address `addr`.
    pub fn symbols_at(&self, addr: u64) -> impl Iterator<Item = &Symbol> {
        let first = self.symbols.partition_point(|s| s.addr < addr);
        self.symbols[first..].iter().take_while(move |s| s.addr == addr)
    }

    /// The symbol containing the file address `addr`, and the offset into it:
    /// the nearest at or below it, within its size (or before the next symbol when its size is 0).
    pub fn by_addr(&self, addr: u64) -> Option<(&Symbol, u64)> {
        let after = self.symbols.partition_point(|s| s.addr <= addr);
        let last = after.checked_sub(1)?;
        let at = self.symbols[last].addr;
        // The best symbol of that address comes first among its equals.
        let first = self.symbols[..=last].partition_point(|s| s.addr < at);
        let candidates = &self.symbols[first..=last];
        let symbol =
            candidates.iter().find(|s| s.size > addr - at).or_else(|| candidates.iter().find(|s| s.size == 0))?;
        if symbol.size == 0 {
            // Sizeless: it reaches up to the next symbol.
            let next = self.symbols.get(after).map_or(u64::MAX, |s| s.addr);
            if addr >= next {
                return None;
            }
        }
        Some((symbol, addr - at))
    }
}

/// ARM's mapping symbols (`$x`, `$d`, `$x.42`...) mark where code and data
/// start in a section; they name no function.
fn is_arm_mapping_symbol(name: &str) -> bool {
    let Some(rest) = name.strip_prefix('$') else { return false };
    let kind = rest.split('.').next().unwrap_or("");
    matches!(kind, "x" | "d" | "a" | "t")
}

/// The dynamic symbols whose version is hidden (`name@VERSION`: a compat
/// version, not the default one a new link binds to), by address and name.
fn compat_versions(file: &object::File) -> std::collections::HashSet<(u64, String)> {
    let object::File::Elf64(elf) = file else { return Default::default() };
    let Ok(Some(versions)) = elf.elf_section_table().versions(elf.endian(), elf.data()) else {
        return Default::default();
    };
    file.dynamic_symbols()
        .filter(|s| versions.version_index(elf.endian(), s.index()).is_hidden())
        .filter_map(|s| Some((s.address(), s.name().ok()?.to_owned())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for data in [&b""[..], b"\x7fELF", b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x03\0>\0", &[0xff; 64][..]] {
            let err = SymbolTable::parse(data, "bad.so").unwrap_err().to_string();
            assert!(err.starts_with("bad.so: "), "{err}");
        }
    }

    #[test]
    fn the_test_binary_knows_its_own_functions() {
        let me = std::env::current_exe().unwrap();
        let table = SymbolTable::load(&me).unwrap();
        let main = table.by_name("main").expect("main");
        assert_eq!(main.kind, SymbolKind::Function);
        let (found, offset) = table.by_addr(main.addr + 1).unwrap();
        assert_eq!((found.addr, offset), (main.addr, 1));
        assert!(table.is_position_independent());
        assert!(!table.segments().is_empty());
    }
}
