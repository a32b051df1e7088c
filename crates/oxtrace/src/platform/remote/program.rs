//! Maps made up from the local program file, for stubs that cannot show
//! `/proc/PID/maps` (qemu's stubs have no file access).
//!
//! The program's `PT_LOAD` segments are placed where the kernel (or qemu)
//! would put them: at their addresses for a fixed-address executable, moved
//! by the difference between the entry point the auxiliary vector reports
//! (`AT_ENTRY`) and the file's for a position-independent one. Libraries are
//! not listed (the stub would have to say where they are): symbols come from
//! the program alone.

use object::{Object, ObjectKind, ObjectSegment, SegmentFlags};

use crate::error::{Error, Result};
use crate::memory::{MemoryMap, Perms};

/// `AT_ENTRY` in the auxiliary vector.
const AT_ENTRY: u64 = 9;

/// The program's entry point from a 64-bit little-endian auxiliary vector.
pub fn auxv_entry(auxv: &[u8]) -> Option<u64> {
    auxv.chunks_exact(16).find_map(|pair| {
        let key = u64::from_le_bytes(pair[..8].try_into().ok()?);
        let value = u64::from_le_bytes(pair[8..].try_into().ok()?);
        (key == AT_ENTRY).then_some(value)
    })
}

/// The maps of `path` loaded with the entry point at `entry` (if known).
pub fn program_maps(path: &str, entry: Option<u64>) -> Result<Vec<MemoryMap>> {
    let file_error = |reason: String| Error::InvalidArgument(format!("program {path}: {reason}"));
    let data = std::fs::read(path).map_err(|e| file_error(e.to_string()))?;
    let file = object::File::parse(&*data).map_err(|e| file_error(e.to_string()))?;
    let bias = match (file.kind(), entry) {
        (ObjectKind::Dynamic, Some(entry)) => entry.wrapping_sub(file.entry()),
        _ => 0,
    };
    const PAGE: u64 = 4096;
    let mut maps = Vec::new();
    for segment in file.segments() {
        const PT_LOAD: u32 = 1;
        let SegmentFlags::Elf { p_flags, p_type } = segment.flags() else { continue };
        if p_type.0 != PT_LOAD {
            continue;
        }
        let (offset, _) = segment.file_range();
        let start = segment.address().wrapping_add(bias);
        let page_start = start & !(PAGE - 1);
        let end = start.saturating_add(segment.size()).saturating_add(PAGE - 1) & !(PAGE - 1);
        if end <= page_start {
            continue;
        }
        maps.push(MemoryMap {
            start: page_start,
            end,
            perms: Perms {
                read: p_flags.0 & 4 != 0,
                write: p_flags.0 & 2 != 0,
                exec: p_flags.0 & 1 != 0,
                shared: false,
            },
            offset: offset.saturating_sub(start - page_start),
            device: (0, 0),
            inode: 1,
            path: Some(path.to_owned()),
        });
    }
    maps.sort_by_key(|m| m.start);
    Ok(maps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_from_auxv() {
        let mut auxv = Vec::new();
        for (k, v) in [(6u64, 4096u64), (9, 0x401530), (0, 0)] {
            auxv.extend(k.to_le_bytes());
            auxv.extend(v.to_le_bytes());
        }
        assert_eq!(auxv_entry(&auxv), Some(0x401530));
        assert_eq!(auxv_entry(&auxv[..20]), None);
    }
}
