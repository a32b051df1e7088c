//! All modules of a process, for lookups by address, by name and by regex,
//! source lines, and the unwinder's tables.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::rc::Rc;

use regex::Regex;

use super::{normalize_module_name, CallTarget, ElfImage, Module, SourceFrame, Symbol};
use crate::memory::MemoryMap;
use crate::unwind::{CfiTables, PeUnwindTables, UnwindInfo};

/// The longest chain of tail calls looked for between two frames.
const MAX_TAIL_CALL_CHAIN: usize = 4;

/// The pseudo path the kernel gives the vdso's map.
const VDSO: &str = "[vdso]";

/// The most bytes read from memory for an image (the vdso is a few pages).
const MAX_MEMORY_IMAGE: u64 = 1 << 20;

/// A symbol found for an address.
#[derive(Debug, Clone, Copy)]
pub struct SymbolHit<'a> {
    /// The module it is in.
    pub module: &'a Module,
    /// The symbol.
    pub symbol: &'a Symbol,
    /// The symbol's runtime address.
    pub addr: u64,
    /// How far into the symbol the address is.
    pub offset: u64,
}

impl fmt::Display for SymbolHit<'_> {
    /// `name` or `name+0xoff`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.offset {
            0 => write!(f, "{}", self.symbol.name),
            off => write!(f, "{}+{off:#x}", self.symbol.name),
        }
    }
}

/// What is known of one code address: module, symbol, and the source
/// functions (inlined ones first) with their files and lines.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CodeLocation {
    /// The module's name, if the address is in one.
    pub module: Option<String>,
    /// The nearest symbol at or below the address.
    pub symbol: Option<String>,
    /// The symbol's runtime address.
    pub symbol_addr: u64,
    /// The DWARF functions at the address, innermost first (empty without debug information).
    pub source: Vec<SourceFrame>,
}

/// The modules of one process, sorted by address.
#[derive(Debug, Default, Clone)]
pub struct SymbolResolver {
    modules: Vec<Module>,
    /// Parsed images by path, kept across updates so a file is parsed once.
    images: HashMap<String, Rc<ElfImage>>,
    errors: Vec<String>,
}

impl SymbolResolver {
    /// Builds the modules from a process's memory maps (the vdso needs
    /// memory: see [`SymbolResolver::update`]).
    pub fn from_maps(maps: &[MemoryMap]) -> SymbolResolver {
        let mut resolver = SymbolResolver::default();
        resolver.update(maps, &mut |_, _| false);
        resolver
    }

    /// Rebuilds the module list from new maps, parsing only images not seen
    /// before. `read` reads process memory, for images that exist only there (the vdso).
    pub fn update(&mut self, maps: &[MemoryMap], read: &mut dyn FnMut(u64, &mut [u8]) -> bool) {
        let mut by_path: Vec<(&str, Vec<&MemoryMap>)> = Vec::new();
        for map in maps.iter().filter(|m| m.is_file_backed() || m.path.as_deref() == Some(VDSO)) {
            let path = map.path.as_deref().expect("file-backed maps have a path");
            match by_path.iter_mut().find(|(p, _)| *p == path) {
                Some((_, list)) => list.push(map),
                None => by_path.push((path, vec![map])),
            }
        }
        let mut modules = Vec::new();
        let mut used_names: HashMap<String, usize> = HashMap::new();
        for (path, maps) in by_path {
            let image = match path {
                VDSO => self.memory_image(maps[0], read),
                _ => self.file_image(path),
            };
            let Some(image) = image else { continue };
            let mut name = if path == VDSO { "vdso".to_owned() } else { normalize_module_name(path) };
            let start = maps.iter().map(|m| m.start).min().unwrap_or(0);
            if used_names.contains_key(&name) {
                name = format!("{name}_{start:08x}");
            }
            if let Some(module) = Module::new(path, name.clone(), image, &maps) {
                used_names.insert(name, modules.len());
                modules.push(module);
            }
        }
        modules.sort_by_key(|m| m.start);
        self.modules = modules;
    }

    fn file_image(&mut self, path: &str) -> Option<Rc<ElfImage>> {
        if let Some(image) = self.images.get(path) {
            return Some(image.clone());
        }
        match ElfImage::load(Path::new(path)) {
            Ok(image) => {
                let image = Rc::new(image);
                self.images.insert(path.to_owned(), image.clone());
                Some(image)
            }
            Err(e) => {
                self.note_error(e.to_string());
                None
            }
        }
    }

    /// An image read from process memory, cached by its place (the vdso moves with ASLR only per process).
    fn memory_image(&mut self, map: &MemoryMap, read: &mut dyn FnMut(u64, &mut [u8]) -> bool) -> Option<Rc<ElfImage>> {
        let key = format!("{}@{:#x}", map.path.as_deref().unwrap_or("?"), map.start);
        if let Some(image) = self.images.get(&key) {
            return Some(image.clone());
        }
        let mut data = vec![0u8; map.len().min(MAX_MEMORY_IMAGE) as usize];
        if !read(map.start, &mut data) {
            return None;
        }
        match ElfImage::parse(&data, &key, None) {
            Ok(image) => {
                let image = Rc::new(image);
                self.images.insert(key, image.clone());
                Some(image)
            }
            Err(e) => {
                self.note_error(e.to_string());
                None
            }
        }
    }

    fn note_error(&mut self, error: String) {
        if !self.errors.contains(&error) {
            self.errors.push(error);
        }
    }

    /// The modules, by address.
    pub fn modules(&self) -> &[Module] {
        &self.modules
    }

    /// Files that could not be parsed, with why.
    pub fn errors(&self) -> &[String] {
        &self.errors
    }

    /// The module whose maps hold `addr`.
    pub fn module_by_addr(&self, addr: u64) -> Option<&Module> {
        let i = self.modules.partition_point(|m| m.start <= addr).checked_sub(1)?;
        let module = &self.modules[i];
        module.contains(addr).then_some(module)
    }

    /// The module with this normalized name.
    pub fn module_by_name(&self, name: &str) -> Option<&Module> {
        self.modules.iter().find(|m| m.name == name)
    }

    /// The symbol containing `addr`.
    pub fn sym_by_addr(&self, addr: u64) -> Option<SymbolHit<'_>> {
        let module = self.module_by_addr(addr)?;
        let (symbol, offset) = module.table().by_addr(addr.wrapping_sub(module.bias))?;
        Some(SymbolHit { module, symbol, addr: symbol.addr.wrapping_add(module.bias), offset })
    }

    /// The runtime address of `module.symbol`, `module.__entry`, or a bare
    /// `symbol` (looked up in the program first, then in the other modules in
    /// load order). Names may be raw (mangled), demangled, or C++ names without parameters.
    pub fn sym_by_name(&self, name: &str) -> Option<u64> {
        if let Some((module, symbol)) = name.split_once('.') {
            if let Some(module) = self.module_by_name(module) {
                return self.in_module(module, symbol);
            }
        }
        let program = self.modules.iter().find(|m| {
            let table = m.table();
            !table.is_position_independent() || table.entry() != 0 && is_program(m)
        });
        // A global definition is the one the program calls: a library's over the
        // dynamic linker's private copy (`opendir`, `strlen` in ld.so's symbols).
        let global = |m: &&Module| m.table().by_name(name).is_some_and(|s| s.global);
        program
            .into_iter()
            .chain(self.modules.iter().filter(global))
            .chain(self.modules.iter())
            .find_map(|m| self.in_module(m, name))
    }

    fn in_module(&self, module: &Module, symbol: &str) -> Option<u64> {
        if symbol == "__entry" {
            return Some(module.entry());
        }
        module.table().by_name(symbol).map(|s| s.addr.wrapping_add(module.bias))
    }

    /// Symbols whose name (demangled or raw) matches `pattern`, in one module
    /// (by normalized name) or in all, as `(module, symbol, runtime address)`.
    pub fn search(&self, pattern: &Regex, module: Option<&str>) -> Vec<(&Module, &Symbol, u64)> {
        self.modules
            .iter()
            .filter(|m| module.is_none_or(|name| m.name == name))
            .flat_map(|m| {
                m.table()
                    .symbols()
                    .iter()
                    .filter(|s| pattern.is_match(&s.name) || pattern.is_match(&s.raw_name))
                    .map(move |s| (m, s, s.addr.wrapping_add(m.bias)))
            })
            .collect()
    }

    /// Module, symbol and source functions (with inlined ones) of a code address.
    pub fn describe(&self, addr: u64) -> CodeLocation {
        let Some(module) = self.module_by_addr(addr) else {
            return CodeLocation::default();
        };
        let hit = self.sym_by_addr(addr);
        let mut source = module.image.lines().map(|l| l.frames(addr.wrapping_sub(module.bias))).unwrap_or_default();
        if source.is_empty() {
            // A PE image with a PDB: its line, in the function its symbol names.
            if let Some((file, line)) = pdb_location(module, addr) {
                let function = hit.map(|h| h.symbol.name.clone());
                source.push(SourceFrame { function, file: Some(file), line: Some(line), inlined: false });
            }
        }
        CodeLocation {
            module: Some(module.name.clone()),
            symbol: hit.map(|h| h.symbol.name.clone()),
            symbol_addr: hit.map_or(0, |h| h.addr),
            source,
        }
    }

    /// The source file and line of a code address.
    pub fn line_for_addr(&self, addr: u64) -> Option<(String, u32)> {
        let module = self.module_by_addr(addr)?;
        let dwarf = module.image.lines().and_then(|l| l.location(addr.wrapping_sub(module.bias)));
        dwarf.or_else(|| pdb_location(module, addr))
    }

    /// Whether a statement with a line starts exactly at runtime address
    /// `addr` (see [`LineInfo::is_statement_row`](super::LineInfo::is_statement_row)).
    pub fn is_statement_start(&self, addr: u64) -> bool {
        self.module_by_addr(addr)
            .and_then(|m| Some(m.image.lines()?.is_statement_row(addr.wrapping_sub(m.bias))))
            .unwrap_or(false)
    }

    /// Whether runtime address `addr` is code of no line (line 0) in a line
    /// table (see [`LineInfo::is_lineless`](super::LineInfo::is_lineless)).
    pub fn is_lineless(&self, addr: u64) -> bool {
        self.module_by_addr(addr)
            .and_then(|m| Some(m.image.lines()?.is_lineless(addr.wrapping_sub(m.bias))))
            .unwrap_or(false)
    }

    /// The runtime addresses where code for `file:line` starts, in every module with debug information.
    pub fn addrs_for_line(&self, file: &str, line: u32) -> Vec<u64> {
        self.modules
            .iter()
            .flat_map(|m| {
                let found = m.image.lines().map(|l| l.addresses_of_line(file, line)).unwrap_or_default();
                found.into_iter().map(move |a| a.wrapping_add(m.bias))
            })
            .collect()
    }
}

impl SymbolResolver {
    /// The frames that tail calls removed between a caller and its callee:
    /// the caller's call returning to `return_pc` went to some function that
    /// jumped (perhaps through others) to the callee's function at
    /// `callee_start`. Returns the return pcs of those jumps, innermost first;
    /// empty when there were none or DWARF does not tell a unique chain.
    pub fn tail_call_chain(&self, return_pc: u64, callee_start: u64) -> Vec<u64> {
        let Some(first) = self.call_site_target(return_pc) else { return Vec::new() };
        if first == callee_start {
            return Vec::new();
        }
        // Breadth first over tail calls, a few levels deep; the chain must be unique.
        let mut level: Vec<(u64, Vec<u64>)> = vec![(first, Vec::new())];
        for _ in 0..MAX_TAIL_CALL_CHAIN {
            let mut next = Vec::new();
            let mut found: Vec<Vec<u64>> = Vec::new();
            for (function, path) in &level {
                for (ret, target) in self.tail_calls_in(*function) {
                    let mut path = path.clone();
                    path.push(ret);
                    if target == callee_start {
                        found.push(path);
                    } else {
                        next.push((target, path));
                    }
                }
            }
            found.dedup();
            match found.len() {
                0 => level = next,
                1 => return found.pop().expect("one").into_iter().rev().collect(),
                _ => return Vec::new(),
            }
            if level.is_empty() {
                break;
            }
        }
        Vec::new()
    }

    /// The runtime address of the function the call returning to `return_pc` calls.
    fn call_site_target(&self, return_pc: u64) -> Option<u64> {
        let module = self.module_by_addr(return_pc.wrapping_sub(1))?;
        let target = module.image.lines()?.call_site_target(return_pc.wrapping_sub(module.bias))?;
        self.call_target_addr(module, target)
    }

    /// The tail calls of the function at `function` (runtime), as runtime `(return pc, target)`.
    fn tail_calls_in(&self, function: u64) -> Vec<(u64, u64)> {
        let Some(module) = self.module_by_addr(function) else { return Vec::new() };
        let Some(lines) = module.image.lines() else { return Vec::new() };
        lines
            .tail_calls_in(function.wrapping_sub(module.bias))
            .into_iter()
            .filter_map(|(ret, target)| Some((ret.wrapping_add(module.bias), self.call_target_addr(module, target)?)))
            .collect()
    }

    /// Where a call target of `module`'s DWARF is: its address, or its name
    /// looked up in that module, then (for imports) in all.
    fn call_target_addr(&self, module: &Module, target: CallTarget) -> Option<u64> {
        match target {
            CallTarget::Address(addr) => Some(addr.wrapping_add(module.bias)),
            CallTarget::Name(name) => self.in_module(module, &name).or_else(|| self.sym_by_name(&name)),
        }
    }
}

impl UnwindInfo for SymbolResolver {
    fn cfi_for(&self, pc: u64) -> Option<(&CfiTables, u64)> {
        let module = self.module_by_addr(pc)?;
        Some((module.image.cfi(), module.bias)).filter(|(cfi, _)| !cfi.is_empty())
    }

    fn function_start(&self, pc: u64) -> Option<u64> {
        self.sym_by_addr(pc).map(|hit| hit.addr)
    }

    fn pe_unwind_for(&self, pc: u64) -> Option<(&PeUnwindTables, u64)> {
        let module = self.module_by_addr(pc)?;
        Some((&module.image.pe()?.unwind, module.bias)).filter(|(tables, _)| !tables.is_empty())
    }
}

/// The source file and line of a runtime address from the PDB of a PE module.
fn pdb_location(module: &Module, addr: u64) -> Option<(String, u32)> {
    module.image.pe()?.pdb.as_ref()?.location(addr.wrapping_sub(module.bias))
}

/// Whether a module is the main program rather than a library: approximated
/// by not being named like a shared object.
fn is_program(module: &Module) -> bool {
    !module.path.contains(".so") && module.path != VDSO && !module.path.to_ascii_lowercase().ends_with(".dll")
}
