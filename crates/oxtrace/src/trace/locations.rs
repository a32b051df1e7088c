//! Breakpoint locations resolved in the traced process (see
//! [`Location`]): the addresses a `FILE:LINE`, `LINE`, `FUNCTION`,
//! `FILE:FUNCTION` or `*ADDRESS` stands for, each function stopped at after
//! its prologue as gdb finds it.
//!
//! gdb's rule on x86_64, done here again: a function that sets up a frame
//! pointer (`push %rbp; mov %rsp,%rbp`, after an `endbr64`) is stopped at
//! the start of the first statement after that setup (the next line-table
//! row of another line, when the setup ends inside the function's first
//! statement); a function without a frame pointer (optimized code) is
//! stopped at its entry. Code from LLVM compilers (clang, rustc) is stopped
//! at the second row of its line table, where they mark the prologue's end.
//! A line table that marks a row as the end of the prologue
//! (`prologue_end`) is believed first, as gdb 13 does.
//! `*FUNCTION` always means the entry.

use super::Trace;
use crate::error::{Error, Result};
use object::Object;

use crate::symbols::{Location, SymbolKind, SymbolResolver};

/// `endbr64`.
const ENDBR64: [u8; 4] = [0xf3, 0x0f, 0x1e, 0xfa];
/// `push %rbp`.
const PUSH_RBP: u8 = 0x55;
/// `mov %rsp,%rbp` in its two encodings.
const MOV_RSP_RBP: [[u8; 3]; 2] = [[0x48, 0x89, 0xe5], [0x48, 0x8b, 0xec]];

impl Trace {
    /// The addresses where a breakpoint at `location` stops, lowest first.
    /// `current_file` is the file of a bare `LINE`. A name or line found
    /// nowhere in the loaded modules is an error naming it.
    pub fn location_addresses(&mut self, location: &Location, current_file: Option<&str>) -> Result<Vec<u64>> {
        match location {
            Location::Address(expr) => Ok(vec![self.parse_expression(expr)?]),
            Location::Line { file, line } => {
                let file = match file.as_deref().or(current_file) {
                    Some(file) => file.to_owned(),
                    None => {
                        return Err(Error::InvalidArgument(format!(
                            "no current source file for line {line}: give FILE:{line}"
                        )))
                    }
                };
                let (_, addrs) = self
                    .symbols()?
                    .line_entries(&file, *line)
                    .ok_or_else(|| Error::NoSuchSymbol(format!("{file}:{line} (no code at or after that line)")))?;
                let mut out = Vec::new();
                for addr in addrs {
                    // A line whose code starts a function: stop after its prologue, as for the function.
                    let at_entry = self.symbols()?.sym_by_addr(addr).is_some_and(|h| h.offset == 0);
                    out.push(if at_entry { self.after_prologue(addr)? } else { addr });
                }
                out.sort_unstable();
                out.dedup();
                Ok(out)
            }
            Location::Function { file, name } => {
                let symbols = self.symbols()?;
                let mut entries = symbols.function_entries(name);
                if let Some(file) = file {
                    entries.retain(|e| symbols.file_of(e.addr).is_some_and(|f| SymbolResolver::file_matches(&f, file)));
                }
                if entries.is_empty() {
                    let what = match file {
                        Some(file) => format!("function {name:?} in {file}"),
                        None => format!("function {name:?}"),
                    };
                    return Err(Error::NoSuchSymbol(what));
                }
                let mut out = Vec::new();
                for entry in entries {
                    if entry.inlined {
                        out.push(entry.addr);
                        continue;
                    }
                    // An indirect function is where its resolver sent the program.
                    let addr = self.ifunc_implementation(entry.addr)?.unwrap_or(entry.addr);
                    out.push(self.after_prologue(addr)?);
                }
                out.sort_unstable();
                out.dedup();
                Ok(out)
            }
        }
    }

    /// Where `break FUNCTION` stops in the function whose first instruction
    /// is at `entry` (see the module documentation).
    pub fn after_prologue(&mut self, entry: u64) -> Result<u64> {
        if self.arch.name != "x86_64" {
            return Ok(entry);
        }
        let symbols = self.symbols()?;
        let end = match symbols.sym_by_addr(entry) {
            Some(hit) if hit.offset == 0 && hit.symbol.size > 0 => entry + hit.symbol.size,
            _ => entry + 4096,
        };
        // A row marked as the prologue's end is where it ends, as gdb takes it.
        if let Some(at) = symbols.prologue_end_in(entry, end) {
            return Ok(at);
        }
        // LLVM's line tables without that mark: at the second row.
        if symbols.compiled_by_llvm(entry) {
            let statements = symbols.statements_in(entry, end);
            return Ok(statements.iter().map(|(addr, _)| *addr).find(|&addr| addr > entry).unwrap_or(entry));
        }
        let code = self.read_memory(entry, 16)?;
        let mut i = if code.starts_with(&ENDBR64) { 4 } else { 0 };
        if code[i] != PUSH_RBP {
            return Ok(entry);
        }
        i += 1;
        // `push %rbp` alone saves a register: the function has no frame pointer.
        if !MOV_RSP_RBP.iter().any(|m| code[i..].starts_with(m)) {
            return Ok(entry);
        }
        i += 3;
        let pc = entry + i as u64;
        let symbols = self.symbols()?;
        let end = match symbols.sym_by_addr(entry) {
            Some(hit) if hit.offset == 0 && hit.symbol.size > 0 => entry + hit.symbol.size,
            _ => entry + 4096,
        };
        let statements = symbols.statements_in(entry, end);
        let Some(holding) = statements.iter().rposition(|(addr, _)| *addr <= pc) else { return Ok(pc) };
        if statements[holding].0 == pc {
            return Ok(pc);
        }
        Ok(statements.get(holding + 1).map_or(pc, |(addr, _)| *addr))
    }

    /// The implementation a GNU indirect function's resolver chose (`strlen`
    /// gives `__strlen_avx2`), read from the slot its module's
    /// `R_X86_64_IRELATIVE` relocation filled; `None` for another function,
    /// or while the module is not relocated yet.
    pub fn ifunc_implementation(&mut self, resolver: u64) -> Result<Option<u64>> {
        if self.arch.name != "x86_64" {
            return Ok(None);
        }
        let symbols = self.symbols()?;
        let Some(hit) = symbols.sym_by_addr(resolver) else { return Ok(None) };
        let indirect = hit.module.table().symbols_at(hit.symbol.addr).any(|s| s.kind == SymbolKind::IndirectFunction);
        if hit.offset != 0 || !indirect {
            return Ok(None);
        }
        let (path, bias, file_addr) = (hit.module.path.clone(), hit.module.bias, hit.symbol.addr);
        let Ok(data) = std::fs::read(&path) else { return Ok(None) };
        let Ok(file) = object::File::parse(&*data) else { return Ok(None) };
        let Some(relocations) = file.dynamic_relocations() else { return Ok(None) };
        let slots: Vec<u64> = relocations
            .filter(|(_, r)| {
                matches!(r.flags(), object::RelocationFlags::Elf { r_type } if r_type == object::elf::R_X86_64_IRELATIVE)
                    && r.addend() as u64 == file_addr
            })
            .map(|(offset, _)| offset.wrapping_add(bias))
            .collect();
        for slot in slots {
            let target = self.read_ptr(slot)?;
            let in_module = self.symbols()?.module_by_addr(target).is_some_and(|m| m.path == path);
            if in_module && target != resolver && target != file_addr {
                return Ok(Some(target));
            }
        }
        Ok(None)
    }

    /// Whether the libraries the program was linked with are loaded: false
    /// only while a dynamically linked program stands before its dynamic
    /// linker has mapped them (just after it was started).
    pub fn program_libraries_loaded(&mut self) -> Result<bool> {
        let symbols = self.symbols()?;
        let has_linker = symbols.modules().iter().any(|m| m.name == "ld");
        let others = symbols.modules().iter().filter(|m| !matches!(m.name.as_str(), "ld" | "vdso")).count();
        // The program itself is one module; a library is one more.
        Ok(!has_linker || others > 1)
    }
}
