//! One executable image as the debugger needs it: symbols, call frame
//! information, and DWARF debug information (parsed on first use), from the
//! file itself or from its separate debug file. The image is ELF, or PE (a
//! Windows `.exe` or `.dll`: COFF symbols, exports, `.pdata` unwind tables,
//! DWARF from mingw, and a PDB file beside it, see [`ElfImage::pe`]).

use std::cell::OnceCell;
use std::path::{Path, PathBuf};

use object::{Object, ObjectSection};

use super::debug_file::find_debug_file;
use super::elf_symbols::parse_elf;
use super::lines::LineInfo;
use super::pdb_file::{PdbDebugInfo, PdbReference};
use super::pe_symbols::{export_symbols, is_pe, parse_pe, pe_layout, PeLayout};
use super::SymbolTable;
use crate::error::{Error, Result};
use crate::unwind::{CfiTables, PeUnwindTables};

/// Symbols, unwind tables and (lazily) line information of one ELF or PE
/// image (the name is historical: ELF came first).
#[derive(Debug)]
pub struct ElfImage {
    /// For a PE image: its preferred place and its `.pdata` unwind tables.
    pe: Option<PeParts>,
    symbols: SymbolTable,
    cfi: CfiTables,
    /// The file holding this image's DWARF, if any: the image's own file or its debug file.
    dwarf_file: Option<PathBuf>,
    /// The separate debug file used, if one was found.
    debug_file: Option<PathBuf>,
    lines: OnceCell<Option<LineInfo>>,
}

/// What only a PE image has.
#[derive(Debug)]
pub struct PeParts {
    /// Its preferred image base and size.
    pub layout: PeLayout,
    /// Its x64 unwind tables (`.pdata` and `.xdata`).
    pub unwind: PeUnwindTables,
    /// The PDB file it was linked with, if it was found and matches.
    pub pdb_file: Option<PathBuf>,
    /// That PDB's names and lines.
    pub pdb: Option<PdbDebugInfo>,
    /// Why the PDB the image names could not be used, if it could not.
    pub pdb_error: Option<String>,
}

impl ElfImage {
    /// Reads and parses an ELF file, and its separate debug file if one is installed.
    pub fn load(path: &Path) -> Result<ElfImage> {
        let data = read_file(path)?;
        Self::parse(&data, &path.display().to_string(), Some(path))
    }

    /// Parses ELF or PE bytes. `name` names the image in errors; `on_disk` is its
    /// file, where separate debug files and DWARF are looked for (`None` for
    /// images read from memory, such as the vdso).
    pub fn parse(data: &[u8], name: &str, on_disk: Option<&Path>) -> Result<ElfImage> {
        if is_pe(data) {
            return Self::parse_pe(data, name, on_disk);
        }
        let file = parse_elf(data, name)?;
        let mut cfi = CfiTables::from_object(&file);
        let has_dwarf = file.section_by_name(".debug_info").is_some_and(|s| s.size() > 0);
        let debug_file = on_disk.and_then(|path| {
            let build_id = file.build_id().ok().flatten();
            let link = file.gnu_debuglink().ok().flatten().map(|(name, _crc)| name);
            find_debug_file(path, build_id, link)
        });
        let mut extra = Vec::new();
        if let Some(debug_path) = &debug_file {
            if let Ok(debug_data) = read_file(debug_path) {
                if let Ok(debug) = parse_elf(&debug_data, &debug_path.display().to_string()) {
                    if !SymbolTable::has_full_symbols(&file) {
                        extra = SymbolTable::from_object(&debug, Vec::new()).symbols().to_vec();
                    }
                    cfi.add_debug_frame(&debug);
                }
            }
        }
        let dwarf_file = match (has_dwarf, on_disk) {
            (true, Some(path)) => Some(path.to_owned()),
            _ => debug_file.clone(),
        };
        Ok(ElfImage {
            pe: None,
            symbols: SymbolTable::from_object(&file, extra),
            cfi,
            dwarf_file,
            debug_file,
            lines: OnceCell::new(),
        })
    }

    /// A PE image: COFF symbols and exports, `.pdata` unwind tables, and
    /// DWARF (mingw's `-g`) from the file itself.
    fn parse_pe(data: &[u8], name: &str, on_disk: Option<&Path>) -> Result<ElfImage> {
        let file = parse_pe(data, name)?;
        let layout = pe_layout(&file)
            .ok_or_else(|| Error::File { path: name.to_owned(), reason: "no PE optional header".into() })?;
        let has_dwarf = file.section_by_name(".debug_info").is_some_and(|s| s.size() > 0);
        let reference = PdbReference::of(&file);
        let pdb_file = on_disk.zip(reference.as_ref()).and_then(|(path, r)| r.find(path));
        let (pdb, pdb_error) = match (&pdb_file, &reference) {
            (Some(path), Some(r)) => match PdbDebugInfo::load(path, layout.image_base, Some(r.guid)) {
                Ok(pdb) => (Some(pdb), None),
                Err(e) => (None, Some(e.to_string())),
            },
            _ => (None, None),
        };
        let mut extra = export_symbols(&file);
        extra.extend(pdb.iter().flat_map(|p| p.symbols().iter().cloned()));
        Ok(ElfImage {
            pe: Some(PeParts { layout, unwind: PeUnwindTables::from_object(&file), pdb_file, pdb, pdb_error }),
            symbols: SymbolTable::from_object(&file, extra),
            cfi: CfiTables::from_object(&file),
            dwarf_file: on_disk.filter(|_| has_dwarf).map(Path::to_owned),
            debug_file: None,
            lines: OnceCell::new(),
        })
    }

    /// The parts only a PE image has (`None` for ELF).
    pub fn pe(&self) -> Option<&PeParts> {
        self.pe.as_ref()
    }

    /// The symbols.
    pub fn symbols(&self) -> &SymbolTable {
        &self.symbols
    }

    /// The call frame information.
    pub fn cfi(&self) -> &CfiTables {
        &self.cfi
    }

    /// The separate debug file in use, if any.
    pub fn debug_file(&self) -> Option<&Path> {
        self.debug_file.as_deref()
    }

    /// The DWARF line and function information, parsed on first use; `None`
    /// when the image has none (or it cannot be read).
    pub fn lines(&self) -> Option<&LineInfo> {
        self.lines
            .get_or_init(|| {
                let path = self.dwarf_file.as_ref()?;
                let data = read_file(path).ok()?;
                let file = match is_pe(&data) {
                    true => parse_pe(&data, &path.display().to_string()).ok()?,
                    false => parse_elf(&data, &path.display().to_string()).ok()?,
                };
                LineInfo::from_object(&file)
            })
            .as_ref()
    }
}

fn read_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::File { path: path.display().to_string(), reason: e.to_string() })
}
