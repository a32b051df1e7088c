//! DWARF debug information of one file: source lines and (inlined) functions
//! for an address, and addresses for a source line. addr2line indexes the
//! units and parses each one only when an address in it is asked for.

use std::fmt;
use std::sync::Arc;

use gimli::{EndianArcSlice, LittleEndian};
use object::{Object, ObjectSection};

use super::demangle::demangle;

/// The DWARF reader: sections shared by reference count.
pub(super) type Reader = EndianArcSlice<LittleEndian>;

/// One function frame at an address, as DWARF describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFrame {
    /// The function's name (demangled), if DWARF names it.
    pub function: Option<String>,
    /// The source file, if known.
    pub file: Option<String>,
    /// The source line, if known.
    pub line: Option<u32>,
    /// This function was inlined into the next frame.
    pub inlined: bool,
}

/// The DWARF line and function information of one ELF file.
pub struct LineInfo {
    context: addr2line::Context<Reader>,
    dwarf: Arc<gimli::Dwarf<Reader>>,
    /// Call sites by unit, indexed on first use (see `call_sites.rs`).
    pub(super) call_sites:
        std::sync::Mutex<std::collections::HashMap<gimli::UnitSectionOffset, Arc<super::call_sites::CallSiteIndex>>>,
    /// Line-table rows by unit, read on first use (see `statements.rs`).
    pub(super) statements:
        std::sync::Mutex<std::collections::HashMap<gimli::UnitSectionOffset, Arc<super::statements::UnitRows>>>,
}

impl fmt::Debug for LineInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LineInfo").finish_non_exhaustive()
    }
}

impl LineInfo {
    /// The DWARF of a parsed file; `None` when it has no `.debug_info` or it is unreadable.
    pub fn from_object(file: &object::File) -> Option<LineInfo> {
        file.section_by_name(".debug_info")?;
        let load = |id: gimli::SectionId| -> Result<Reader, gimli::Error> {
            let data = match file.section_by_name(id.name()) {
                Some(section) => section.uncompressed_data().map(|d| d.into_owned()).unwrap_or_default(),
                None => Vec::new(),
            };
            Ok(EndianArcSlice::new(Arc::from(data), LittleEndian))
        };
        let dwarf = Arc::new(gimli::Dwarf::load(load).ok()?);
        let context = addr2line::Context::from_arc_dwarf(dwarf.clone()).ok()?;
        Some(LineInfo { context, dwarf, call_sites: Default::default(), statements: Default::default() })
    }

    /// The functions at a file address, innermost (inlined) first, with
    /// their source positions. Empty when DWARF does not cover it.
    pub fn frames(&self, addr: u64) -> Vec<SourceFrame> {
        if addr == u64::MAX {
            return Vec::new(); // see `unit_at`
        }
        let Ok(mut iter) = self.context.find_frames(addr).skip_all_loads() else {
            return Vec::new();
        };
        let mut frames: Vec<SourceFrame> = Vec::new();
        while let Ok(Some(frame)) = iter.next() {
            let function = frame.function.as_ref().and_then(|f| f.raw_name().ok()).map(|raw| {
                // addr2line's demangling would need its own copies of the demanglers: use ours.
                demangle(&raw).unwrap_or_else(|| raw.into_owned())
            });
            let (file, line) = frame.location.map_or((None, None), |l| (l.file.map(str::to_owned), l.line));
            frames.push(SourceFrame { function, file, line, inlined: true });
            if frames.len() > 256 {
                break;
            }
        }
        if let Some(last) = frames.last_mut() {
            last.inlined = false;
        }
        frames
    }

    /// The addr2line context (line rows, frames).
    pub(super) fn context(&self) -> &addr2line::Context<Reader> {
        &self.context
    }

    /// The parsed DWARF sections.
    pub(super) fn dwarf(&self) -> &gimli::Dwarf<Reader> {
        &self.dwarf
    }

    /// The compilation unit holding a file address.
    pub(super) fn unit_at(&self, addr: u64) -> Option<gimli::UnitRef<'_, Reader>> {
        // addr2line probes `[addr, addr + 1)` and overflows (a panic in debug builds) at the top address.
        if addr == u64::MAX {
            return None;
        }
        self.context.find_dwarf_and_unit(addr).skip_all_loads()
    }

    /// The source file and line of a file address.
    pub fn location(&self, addr: u64) -> Option<(String, u32)> {
        if addr == u64::MAX {
            return None; // see `unit_at`
        }
        let location = self.context.find_location(addr).ok()??;
        Some((location.file?.to_owned(), location.line?))
    }

    /// Whether a row of the line table starts exactly at the file address `addr`
    /// (the first instruction of a statement, where a debugger stops a source step).
    pub fn is_row_start(&self, addr: u64) -> bool {
        if addr == u64::MAX {
            return false;
        }
        let Ok(mut rows) = self.context.find_location_range(addr, addr + 1) else { return false };
        rows.next().is_some_and(|(start, _, _)| start == addr)
    }

    /// The file addresses where code for `file:line` starts (the first
    /// address of each run of rows for that line), lowest first. `file`
    /// matches a whole path or its trailing components (`calls.c`, `src/calls.c`).
    pub fn addresses_of_line(&self, file: &str, line: u32) -> Vec<u64> {
        let Ok(rows) = self.context.find_location_range(0, u64::MAX) else {
            return Vec::new();
        };
        let mut found: Vec<u64> = Vec::new();
        let mut previous_matched_end = None;
        for (addr, size, location) in rows {
            let matches = location.line == Some(line) && location.file.is_some_and(|f| path_matches(f, file));
            if matches && previous_matched_end != Some(addr) {
                found.push(addr);
            }
            previous_matched_end = matches.then_some(addr.wrapping_add(size));
        }
        found.sort_unstable();
        found.dedup();
        found
    }
}

/// Whether `path` is `wanted` or ends with `/wanted`.
pub(super) fn path_matches(path: &str, wanted: &str) -> bool {
    path == wanted || path.strip_suffix(wanted).is_some_and(|rest| rest.ends_with('/'))
}
