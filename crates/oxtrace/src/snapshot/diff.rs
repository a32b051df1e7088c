//! Which memory differs between two core files, compared page by page.
//!
//! Only the `PT_LOAD` contents are compared (bytes a core does not hold read
//! as zeros); a page mapped in one core and not the other counts as changed.
//! Both files are read in chunks, never whole.

use std::fs::File;
use std::ops::Range;
use std::path::Path;

use super::elf::{ProgramHeader, PAGE_SIZE};
use crate::error::{Error, Result};
use crate::platform::core::parse::{read_at, read_layout};

/// Bytes compared per read.
const CHUNK: u64 = 1 << 20;

/// One core file's segments and an open handle.
struct Side<'a> {
    path: &'a Path,
    file: File,
    loads: Vec<ProgramHeader>,
}

impl<'a> Side<'a> {
    fn open(path: &'a Path) -> Result<Side<'a>> {
        let mut file =
            File::open(path).map_err(|e| Error::File { path: path.display().to_string(), reason: e.to_string() })?;
        let loads = read_layout(path, &mut file)?.loads;
        Ok(Side { path, file, loads })
    }

    /// Whether `addr` is in a segment.
    fn mapped(&self, addr: u64) -> bool {
        self.segment(addr).is_some()
    }

    fn segment(&self, addr: u64) -> Option<ProgramHeader> {
        let after = self.loads.partition_point(|ph| ph.vaddr <= addr);
        let ph = *self.loads.get(after.checked_sub(1)?)?;
        (addr < ph.vaddr + ph.memsz).then_some(ph)
    }

    /// Fills `buf` from `addr`, which lies with all of `buf` in one segment.
    fn read(&mut self, addr: u64, buf: &mut [u8]) -> Result<()> {
        buf.fill(0);
        let ph = self.segment(addr).expect("caller checked");
        let into = addr - ph.vaddr;
        if into < ph.filesz {
            let n = (ph.filesz - into).min(buf.len() as u64) as usize;
            read_at(&mut self.file, ph.offset + into, &mut buf[..n]).map_err(|e| Error::File {
                path: self.path.display().to_string(),
                reason: format!("at {addr:#x}: {e}"),
            })?;
        }
        Ok(())
    }
}

/// The address ranges whose memory differs between the core files `a` and
/// `b` (page-granular, merged, sorted), including pages mapped in only one.
pub fn diff(a: &Path, b: &Path) -> Result<Vec<Range<u64>>> {
    let mut left = Side::open(a)?;
    let mut right = Side::open(b)?;
    let mut changed: Vec<Range<u64>> = Vec::new();
    let mut mark = |range: Range<u64>| match changed.last_mut() {
        Some(last) if last.end == range.start => last.end = range.end,
        _ => changed.push(range),
    };
    // Every boundary of either side, so that each piece between two lies in one segment or none.
    let mut bounds: Vec<u64> =
        left.loads.iter().chain(&right.loads).flat_map(|ph| [ph.vaddr, ph.vaddr + ph.memsz]).collect();
    bounds.sort_unstable();
    bounds.dedup();
    let (mut buf_a, mut buf_b) = (vec![0u8; CHUNK as usize], vec![0u8; CHUNK as usize]);
    for window in bounds.windows(2) {
        let (start, end) = (window[0], window[1]);
        match (left.mapped(start), right.mapped(start)) {
            (false, false) => continue,
            (true, true) => {}
            _ => {
                mark(start..end);
                continue;
            }
        }
        let mut addr = start;
        while addr < end {
            let n = (end - addr).min(CHUNK) as usize;
            left.read(addr, &mut buf_a[..n])?;
            right.read(addr, &mut buf_b[..n])?;
            for (i, (pa, pb)) in
                buf_a[..n].chunks(PAGE_SIZE as usize).zip(buf_b[..n].chunks(PAGE_SIZE as usize)).enumerate()
            {
                if pa != pb {
                    let at = addr + i as u64 * PAGE_SIZE;
                    mark(at..(at + pa.len() as u64));
                }
            }
            addr += n as u64;
        }
    }
    Ok(changed)
}
