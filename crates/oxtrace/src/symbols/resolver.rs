//! All modules of a process, for lookups by address and by name.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use super::{normalize_module_name, Module, Symbol, SymbolTable};
use crate::memory::MemoryMap;

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

/// The modules of one process, sorted by address.
#[derive(Debug, Default, Clone)]
pub struct SymbolResolver {
    modules: Vec<Module>,
    /// Parsed tables by path, kept across updates so a library is parsed once.
    tables: HashMap<String, Arc<SymbolTable>>,
    errors: Vec<String>,
}

impl SymbolResolver {
    /// Builds the modules from a process's memory maps.
    pub fn from_maps(maps: &[MemoryMap]) -> SymbolResolver {
        let mut resolver = SymbolResolver::default();
        resolver.update(maps);
        resolver
    }

    /// Rebuilds the module list from new maps, parsing only files not seen before.
    pub fn update(&mut self, maps: &[MemoryMap]) {
        let mut by_path: Vec<(&str, Vec<&MemoryMap>)> = Vec::new();
        for map in maps.iter().filter(|m| m.is_file_backed()) {
            let path = map.path.as_deref().expect("file-backed maps have a path");
            match by_path.iter_mut().find(|(p, _)| *p == path) {
                Some((_, list)) => list.push(map),
                None => by_path.push((path, vec![map])),
            }
        }
        let mut modules = Vec::new();
        let mut used_names: HashMap<String, usize> = HashMap::new();
        for (path, maps) in by_path {
            let table = match self.tables.get(path) {
                Some(table) => table.clone(),
                None => match SymbolTable::load(Path::new(path)) {
                    Ok(table) => {
                        let table = Arc::new(table);
                        self.tables.insert(path.to_owned(), table.clone());
                        table
                    }
                    Err(e) => {
                        if !self.errors.iter().any(|known| known == &e.to_string()) {
                            self.errors.push(e.to_string());
                        }
                        continue;
                    }
                },
            };
            let mut name = normalize_module_name(path);
            let start = maps.iter().map(|m| m.start).min().unwrap_or(0);
            if used_names.contains_key(&name) {
                name = format!("{name}_{start:08x}");
            }
            if let Some(module) = Module::new(path, name.clone(), table, &maps) {
                used_names.insert(name, modules.len());
                modules.push(module);
            }
        }
        modules.sort_by_key(|m| m.start);
        self.modules = modules;
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
        let (symbol, offset) = module.table.by_addr(addr.wrapping_sub(module.bias))?;
        Some(SymbolHit { module, symbol, addr: symbol.addr.wrapping_add(module.bias), offset })
    }

    /// The runtime address of `module.symbol`, `module.__entry`, or a bare
    /// `symbol` (looked up in the program first, then in the other modules in load order).
    pub fn sym_by_name(&self, name: &str) -> Option<u64> {
        if let Some((module, symbol)) = name.split_once('.') {
            if let Some(module) = self.module_by_name(module) {
                return self.in_module(module, symbol);
            }
        }
        let program =
            self.modules.iter().find(|m| !m.table.is_position_independent() || m.table.entry() != 0 && is_program(m));
        program.into_iter().chain(self.modules.iter()).find_map(|m| self.in_module(m, name))
    }

    fn in_module(&self, module: &Module, symbol: &str) -> Option<u64> {
        if symbol == "__entry" {
            return Some(module.entry());
        }
        module.table.by_name(symbol).map(|s| s.addr.wrapping_add(module.bias))
    }
}

/// Whether a module is the main program rather than a library: it has an
/// interpreter segment... approximated by not being named like a shared object.
fn is_program(module: &Module) -> bool {
    !module.path.contains(".so")
}
