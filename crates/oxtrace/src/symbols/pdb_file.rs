//! PDB files: the debug information MSVC, and clang with lld (`-gcodeview
//! -Wl,--pdb=`), write beside a PE image. Read through the `pdb` crate for
//! function names (public symbols and procedures) and source lines; the
//! image's CodeView record names the file and its GUID, which must match.
//!
//! Addresses are virtual addresses at the image's preferred base, like its
//! COFF symbols and DWARF.

use std::path::{Path, PathBuf};

use pdb::FallibleIterator;

use super::demangle::demangle;
use super::{Symbol, SymbolKind};
use crate::error::{Error, Result};

/// The CodeView record of a PE image: which PDB file it was linked with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PdbReference {
    /// The PDB's path as the linker wrote it (perhaps a Windows path).
    pub path: String,
    /// The GUID both the image and its PDB carry, as stored (little-endian fields).
    pub guid: [u8; 16],
}

impl PdbReference {
    /// The image's CodeView record, if it has one.
    pub fn of(file: &object::File) -> Option<PdbReference> {
        use object::Object;
        let info = file.pdb_info().ok()??;
        Some(PdbReference { path: String::from_utf8_lossy(info.path()).into_owned(), guid: info.guid() })
    }

    /// Where the PDB is: the path of the record if it exists, else its file name beside the image.
    pub fn find(&self, image: &Path) -> Option<PathBuf> {
        let recorded = PathBuf::from(&self.path);
        if recorded.is_file() {
            return Some(recorded);
        }
        let name = self.path.rsplit(['/', '\\']).next()?;
        Some(image.parent()?.join(name)).filter(|p| p.is_file())
    }
}

/// One row of a PDB line table.
#[derive(Debug, Clone, Copy)]
struct LineRow {
    addr: u64,
    len: u32,
    line: u32,
    file: u32,
}

/// The names and lines a PDB gives.
#[derive(Debug, Clone, Default)]
pub struct PdbDebugInfo {
    symbols: Vec<Symbol>,
    rows: Vec<LineRow>,
    files: Vec<String>,
}

impl PdbDebugInfo {
    /// Reads a PDB for an image whose preferred base is `image_base`;
    /// `guid` (from the image's CodeView record) must be the PDB's.
    pub fn load(path: &Path, image_base: u64, guid: Option<[u8; 16]>) -> Result<PdbDebugInfo> {
        let fail = |reason: String| Error::File { path: path.display().to_string(), reason };
        let file = std::fs::File::open(path).map_err(|e| fail(e.to_string()))?;
        let mut pdb = pdb::PDB::open(file).map_err(|e| fail(format!("not a readable PDB file: {e}")))?;
        let info = pdb.pdb_information().map_err(|e| fail(e.to_string()))?;
        if let Some(guid) = guid {
            if info.guid.to_bytes_le() != guid {
                return Err(fail(format!("PDB GUID {} does not match the image's", info.guid)));
            }
        }
        Self::read(&mut pdb, image_base).map_err(|e| fail(format!("bad PDB data: {e}")))
    }

    fn read(pdb: &mut pdb::PDB<'_, std::fs::File>, image_base: u64) -> pdb::Result<PdbDebugInfo> {
        let address_map = pdb.address_map()?;
        let strings = pdb.string_table()?;
        let va = |offset: pdb::PdbInternalSectionOffset| {
            offset.to_rva(&address_map).map(|rva| image_base.wrapping_add(u64::from(rva.0)))
        };
        let mut out = PdbDebugInfo::default();
        let mut add = |name: &str, addr: u64, size: u64, code: bool, global: bool| {
            let pretty = demangle(name).unwrap_or_else(|| name.to_owned());
            let kind = if code { SymbolKind::Function } else { SymbolKind::Object };
            out.symbols.push(Symbol { name: pretty, raw_name: name.to_owned(), addr, size, kind, global });
        };
        let globals = pdb.global_symbols()?;
        let mut iter = globals.iter();
        while let Some(symbol) = iter.next()? {
            if let Ok(pdb::SymbolData::Public(public)) = symbol.parse() {
                if let Some(addr) = va(public.offset) {
                    add(&public.name.to_string(), addr, 0, public.function || public.code, true);
                }
            }
        }
        let dbi = pdb.debug_information()?;
        let mut modules = dbi.modules()?;
        while let Some(module) = modules.next()? {
            let Some(info) = pdb.module_info(&module)? else { continue };
            let mut symbols = info.symbols()?;
            while let Some(symbol) = symbols.next()? {
                if let Ok(pdb::SymbolData::Procedure(procedure)) = symbol.parse() {
                    if let Some(addr) = va(procedure.offset) {
                        add(&procedure.name.to_string(), addr, u64::from(procedure.len), true, procedure.global);
                    }
                }
            }
            let program = info.line_program()?;
            let mut lines = program.lines();
            while let Some(row) = lines.next()? {
                let Some(addr) = va(row.offset) else { continue };
                let name = program.get_file_info(row.file_index)?.name.to_string_lossy(&strings)?.into_owned();
                let file = match out.files.iter().position(|f| *f == name) {
                    Some(i) => i,
                    None => {
                        out.files.push(name);
                        out.files.len() - 1
                    }
                } as u32;
                out.rows.push(LineRow { addr, len: row.length.unwrap_or(0), line: row.line_start, file });
            }
        }
        out.rows.sort_by_key(|r| r.addr);
        Ok(out)
    }

    /// The functions and public symbols.
    pub fn symbols(&self) -> &[Symbol] {
        &self.symbols
    }

    /// The source file and line of a (preferred-base) address.
    pub fn location(&self, addr: u64) -> Option<(String, u32)> {
        let i = self.rows.partition_point(|r| r.addr <= addr).checked_sub(1)?;
        let row = self.rows[i];
        // A row without a length reaches up to the next one.
        let end = match row.len {
            0 => self.rows.get(i + 1).map_or(u64::MAX, |next| next.addr),
            len => row.addr + u64::from(len),
        };
        (addr < end).then(|| (self.files[row.file as usize].clone(), row.line))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_that_is_no_pdb_is_a_clear_error() {
        let me = std::env::current_exe().unwrap();
        let err = PdbDebugInfo::load(&me, 0, None).unwrap_err().to_string();
        assert!(err.contains("not a readable PDB file"), "{err}");
        let err = PdbDebugInfo::load(Path::new("/nonexistent.pdb"), 0, None).unwrap_err().to_string();
        assert!(err.starts_with("/nonexistent.pdb: "), "{err}");
    }
}
