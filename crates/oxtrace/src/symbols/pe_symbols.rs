//! What a PE image (a Windows `.exe` or `.dll`) adds to its symbols: the
//! export table, and where the image wants to be loaded.
//!
//! The COFF symbol table (which mingw keeps in its images) is read by the
//! same code as an ELF symbol table, through `object`; the exports are added
//! here as global functions, so that a DLL stripped of its COFF symbols still
//! names what it exports. Addresses are virtual addresses at the preferred
//! image base, as DWARF and the PDB state them: a module loaded elsewhere is
//! placed by its bias (load address minus image base), like a shared object.

use object::read::pe::ImageNtHeaders;
use object::{Object, ObjectSection, SectionKind};

use super::demangle::demangle;
use super::{Symbol, SymbolKind};
use crate::error::{Error, Result};

/// Where a PE image wants to be, and how big it is once loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeLayout {
    /// The preferred load address (`ImageBase` of the optional header).
    pub image_base: u64,
    /// The size of the image in memory (`SizeOfImage`), headers included.
    pub size_of_image: u64,
}

/// Whether `data` starts like a PE image (an `MZ` header pointing at a `PE\0\0` signature).
pub fn is_pe(data: &[u8]) -> bool {
    if data.len() < 0x40 || &data[..2] != b"MZ" {
        return false;
    }
    let at = u32::from_le_bytes([data[0x3c], data[0x3d], data[0x3e], data[0x3f]]) as usize;
    data.get(at..at.saturating_add(4)) == Some(b"PE\0\0".as_slice())
}

/// Parses PE bytes; `path` only names the file in errors.
pub fn parse_pe<'a>(data: &'a [u8], path: &str) -> Result<object::File<'a>> {
    let fail = |reason: String| Error::File { path: path.to_owned(), reason };
    let file = object::File::parse(data).map_err(|e| fail(format!("not a readable PE file: {e}")))?;
    if file.format() != object::BinaryFormat::Pe {
        return Err(fail(format!("{:?} is not PE", file.format())));
    }
    Ok(file)
}

/// The image base and size of a parsed PE file (`None` for other formats).
pub fn pe_layout(file: &object::File) -> Option<PeLayout> {
    let (image_base, size) = match file {
        object::File::Pe64(pe) => {
            let header = pe.nt_headers().optional_header();
            (object::read::pe::ImageOptionalHeader::image_base(header), header.size_of_image.get(object::LittleEndian))
        }
        object::File::Pe32(pe) => {
            let header = pe.nt_headers().optional_header();
            (object::read::pe::ImageOptionalHeader::image_base(header), header.size_of_image.get(object::LittleEndian))
        }
        _ => return None,
    };
    Some(PeLayout { image_base, size_of_image: u64::from(size) })
}

/// The exported functions and data of a PE file, by name, at their virtual
/// addresses (forwarders, which name another DLL's export, are left out).
pub fn export_symbols(file: &object::File) -> Vec<Symbol> {
    let Ok(exports) = file.exports() else { return Vec::new() };
    let code: Vec<(u64, u64)> = file
        .sections()
        .filter(|s| s.kind() == SectionKind::Text)
        .map(|s| (s.address(), s.address().saturating_add(s.size())))
        .collect();
    exports
        .filter_map(|export| {
            let export = export.ok()?;
            let object::read::NameOrOrdinal::Name(name) = export.name() else { return None };
            let raw = std::str::from_utf8(name).ok().filter(|n| !n.is_empty())?.to_owned();
            let object::read::ExportTarget::Address { address: addr } = export.target() else { return None };
            let kind = if code.iter().any(|(start, end)| (*start..*end).contains(&addr)) {
                SymbolKind::Function
            } else {
                SymbolKind::Object
            };
            let name = demangle(&raw).unwrap_or_else(|| raw.clone());
            Some(Symbol { name, raw_name: raw, addr, size: 0, kind, global: true })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_pe_signature_is_pe() {
        assert!(!is_pe(b"MZ"));
        assert!(!is_pe(&[0u8; 128]));
        let mut fake = vec![0u8; 0x48];
        fake[..2].copy_from_slice(b"MZ");
        fake[0x3c] = 0x40;
        fake[0x40..0x44].copy_from_slice(b"PE\0\0");
        assert!(is_pe(&fake));
        let err = parse_pe(&fake, "x.dll").unwrap_err().to_string();
        assert!(err.starts_with("x.dll: not a readable PE file"), "{err}");
    }
}
