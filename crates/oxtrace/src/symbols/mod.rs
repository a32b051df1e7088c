//! Symbols of the loaded modules: ELF `.symtab` and `.dynsym`, per module,
//! placed at the addresses the process loaded them.
//!
//! This module reads ELF files from disk itself but never touches process
//! memory: the caller gives it the memory maps. Lookups are binary searches
//! over sorted tables, never scans.
//!
//! Names follow vtrace: a module is named by its normalized file name
//! (`libc.so.6` → `libc`), a symbol as `module.name`, and every module has an
//! `__entry` symbol at its entry point.

mod elf_symbols;
mod module;
mod normalize;
mod resolver;

pub use elf_symbols::{Segment, Symbol, SymbolKind, SymbolTable};
pub use module::Module;
pub use normalize::normalize_module_name;
pub use resolver::{SymbolHit, SymbolResolver};
