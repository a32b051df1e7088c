//! A loaded module: one ELF or PE image mapped into the process at a bias.

use std::rc::Rc;

use super::{ElfImage, SymbolTable};
use crate::memory::MemoryMap;

/// Page size used to round segment addresses and offsets.
const PAGE: u64 = 4096;

/// One file mapped into the process, with its symbols.
#[derive(Debug, Clone)]
pub struct Module {
    /// The file's path as the maps give it (`[vdso]` for the vdso).
    pub path: String,
    /// Its normalized name, unique in the process (`libc`, `ld`, `demo`, `vdso`).
    pub name: String,
    /// Runtime address minus file address.
    pub bias: u64,
    /// The lowest address of its maps.
    pub start: u64,
    /// The end of its highest map.
    pub end: u64,
    /// Its symbols, unwind tables and debug information.
    pub image: Rc<ElfImage>,
}

impl Module {
    /// Places `image` (parsed from `path`) at the addresses `maps` (the maps of that file) show.
    /// `None` when no map matches a loadable segment of the file.
    pub fn new(path: &str, name: String, image: Rc<ElfImage>, maps: &[&MemoryMap]) -> Option<Module> {
        let start = maps.iter().map(|m| m.start).min()?;
        let end = maps.iter().map(|m| m.end).max()?;
        if let Some(pe) = image.pe() {
            // A PE image is mapped whole from its load address, headers first: the
            // lowest map is the load address plus its offset in the image (its RVA,
            // as a Windows backend reports it: 0 for the headers).
            let first = maps.iter().min_by_key(|m| m.start)?;
            let load = first.start.wrapping_sub(first.offset);
            return Some(
                Self::at_load_address(path, name, image.clone(), load)
                    .with_end(end.max(load.saturating_add(pe.layout.size_of_image))),
            );
        }
        let table = image.symbols();
        let bias = if table.is_position_independent() { Self::bias(table, maps)? } else { 0 };
        Some(Module { path: path.to_owned(), name, bias, start, end, image })
    }

    /// Places a PE (or any) image whose first byte (its headers, for PE) is at
    /// `load_address`: the bias is the load address minus the preferred image
    /// base (0 for ELF, which has none), and the module spans `SizeOfImage`.
    pub fn at_load_address(path: &str, name: String, image: Rc<ElfImage>, load_address: u64) -> Module {
        let (base, size) = image.pe().map_or((0, 0), |pe| (pe.layout.image_base, pe.layout.size_of_image));
        Module {
            path: path.to_owned(),
            name,
            bias: load_address.wrapping_sub(base),
            start: load_address,
            end: load_address.saturating_add(size),
            image,
        }
    }

    fn with_end(mut self, end: u64) -> Module {
        self.end = end;
        self
    }

    /// The map with the lowest file offset, matched to the segment that starts in the same file page.
    fn bias(table: &SymbolTable, maps: &[&MemoryMap]) -> Option<u64> {
        let first = maps.iter().min_by_key(|m| m.offset)?;
        let segment = table.segments().iter().find(|s| s.offset & !(PAGE - 1) == first.offset)?;
        Some(first.start.wrapping_sub(segment.vaddr & !(PAGE - 1)))
    }

    /// Its symbol table.
    pub fn table(&self) -> &SymbolTable {
        self.image.symbols()
    }

    /// Whether a runtime address falls in this module's maps.
    pub fn contains(&self, addr: u64) -> bool {
        (self.start..self.end).contains(&addr)
    }

    /// The runtime address of the module's entry point.
    pub fn entry(&self) -> u64 {
        self.table().entry().wrapping_add(self.bias)
    }
}
