//! Symbols of the loaded modules: ELF `.symtab`, `.dynsym` and PLT stubs, PE
//! COFF symbols and exports,
//! demangled Rust and C++ names, separate debug files (by build-id and
//! `.gnu_debuglink`), and DWARF lines and functions, per module, placed at the
//! addresses the process loaded them.
//!
//! This module reads ELF files from disk itself but never touches process
//! memory: the caller gives it the memory maps, and a reader for images that
//! exist only in memory (the vdso). Lookups are binary searches over sorted
//! tables or hash lookups, never scans; DWARF is parsed on first use.
//!
//! Names follow vtrace: a module is named by its normalized file name
//! (`libc.so.6` → `libc`), a symbol as `module.name`, and every module has an
//! `__entry` symbol at its entry point.

mod breakpoint_locations;
mod call_sites;
mod ctype;
mod debug_file;
mod demangle;
mod dwarf_walk;
mod elf_symbols;
mod image;
mod lines;
mod locations;
mod module;
mod normalize;
mod parameters;
mod pdb_file;
mod pe_symbols;
mod plt;
mod qualified_names;
mod resolver;
mod statements;
mod types;
mod variables;

pub use breakpoint_locations::{FunctionEntry, Location};
pub use call_sites::CallTarget;
pub use ctype::{param_list, CKind, CMember, CType, TypeRef};
pub use debug_file::{debug_file_candidates, find_debug_file};
pub use demangle::{demangle, without_parameters};
pub use elf_symbols::{Segment, Symbol, SymbolKind, SymbolTable};
pub use image::{ElfImage, PeParts};
pub use lines::{LineInfo, SourceFrame};
pub use locations::{entry_value_register, evaluate_value, locate, Located, LocationContext, Place};
pub use module::Module;
pub use normalize::normalize_module_name;
pub use parameters::Parameters;
pub use pdb_file::{PdbDebugInfo, PdbReference};
pub use pe_symbols::{export_symbols, is_pe, parse_pe, pe_layout, PeLayout};
pub use resolver::{CodeLocation, SymbolHit, SymbolResolver};
pub(crate) use types::{format_g, quote_char, runs, REPEAT_THRESHOLD};
pub use types::{Member, TypeKind, TypeLayout, Value};
pub use variables::{FunctionScope, VarLocation, VariableDesc};
