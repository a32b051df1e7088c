//! The memory of a core file: `PT_LOAD` contents, the mapped files for the
//! bytes a core leaves out, and an overlay that takes every write.
//!
//! A segment's first `p_filesz` bytes are in the core file. The rest (a
//! kernel core keeps only the first page of a mapped ELF file; gdb's `gcore`
//! may leave out read-only file maps) comes from the mapped file named by
//! `NT_FILE`, at the map's file offset; anonymous memory beyond `p_filesz`
//! reads as zeros. Writes never reach the core file: the pages they touch are
//! copied into the overlay, which every later read sees.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::Path;

use super::parse::read_at;
use crate::error::{Error, Pid, Result};
use crate::snapshot::elf::{ProgramHeader, PAGE_SIZE, PF_R};
use crate::snapshot::notes::FileMapping;

/// The memory view of one core file.
#[derive(Debug)]
pub struct CoreMemory {
    /// The core file's path, for errors.
    path: String,
    pid: Pid,
    file: File,
    /// `PT_LOAD` segments, sorted by address.
    loads: Vec<ProgramHeader>,
    /// `NT_FILE` entries, sorted by address.
    files: Vec<FileMapping>,
    /// Mapped files opened so far (`None`: it cannot be opened here).
    opened: HashMap<String, Option<File>>,
    /// Pages written to, by page address.
    overlay: BTreeMap<u64, Box<[u8]>>,
}

impl CoreMemory {
    /// A view over `file` (the core at `path`) with its segments and file maps.
    pub fn new(path: &Path, pid: Pid, file: File, loads: Vec<ProgramHeader>, mut files: Vec<FileMapping>) -> Self {
        files.sort_by_key(|f| f.start);
        Self {
            path: path.display().to_string(),
            pid,
            file,
            loads,
            files,
            opened: HashMap::new(),
            overlay: BTreeMap::new(),
        }
    }

    fn error(&self, access: &'static str, addr: u64, len: usize, reason: String) -> Error {
        Error::Memory { pid: self.pid, access, addr, len, reason }
    }

    /// The segment holding `addr`.
    fn segment(&self, addr: u64) -> Option<&ProgramHeader> {
        let after = self.loads.partition_point(|ph| ph.vaddr <= addr);
        let ph = self.loads.get(after.checked_sub(1)?)?;
        (addr < ph.vaddr + ph.memsz).then_some(ph)
    }

    /// Reads what the core and the mapped files hold, without the overlay.
    fn read_base(&mut self, addr: u64, buf: &mut [u8]) -> Result<()> {
        let mut done = 0usize;
        while done < buf.len() {
            let at = addr + done as u64;
            let left = buf.len() - done;
            let Some(ph) = self.segment(at).copied() else {
                return Err(self.error("read", at, left, format!("address not mapped in core file {}", self.path)));
            };
            let into = at - ph.vaddr;
            let part = &mut buf[done..];
            if into < ph.filesz {
                let n = (ph.filesz - into).min(left as u64) as usize;
                read_at(&mut self.file, ph.offset + into, &mut part[..n])
                    .map_err(|e| self.error("read", at, n, format!("core file {}: {e}", self.path)))?;
                done += n;
                continue;
            }
            let n = (ph.memsz - into).min(left as u64) as usize;
            self.read_not_dumped(at, &ph, &mut part[..n])?;
            done += n;
        }
        Ok(())
    }

    /// Bytes of a segment the core does not hold: from the mapped file, or zeros.
    fn read_not_dumped(&mut self, at: u64, ph: &ProgramHeader, out: &mut [u8]) -> Result<()> {
        let after = self.files.partition_point(|f| f.start <= at);
        let mapping = after.checked_sub(1).map(|i| &self.files[i]).filter(|f| at < f.end).cloned();
        let Some(mapping) = mapping else {
            if ph.flags & PF_R == 0 {
                let reason = format!("unreadable map, not dumped in core file {}", self.path);
                return Err(self.error("read", at, out.len(), reason));
            }
            out.fill(0);
            return Ok(());
        };
        let n = (mapping.end - at).min(out.len() as u64) as usize;
        let offset = mapping.offset + (at - mapping.start);
        let core_path = self.path.clone();
        let opened = self.opened.entry(mapping.path.clone()).or_insert_with(|| File::open(&mapping.path).ok());
        let Some(file) = opened.as_mut() else {
            let reason = format!("not in core file {core_path}, and its file {} cannot be opened", mapping.path);
            return Err(self.error("read", at, out.len(), reason));
        };
        // Past the file's end a mapping has no bytes (the process would get SIGBUS): show zeros.
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        out.fill(0);
        let available = len.saturating_sub(offset).min(n as u64) as usize;
        if available > 0 {
            read_at(file, offset, &mut out[..available]).map_err(|e| Error::Memory {
                pid: self.pid,
                access: "read",
                addr: at,
                len: available,
                reason: format!("{}: {e}", mapping.path),
            })?;
        }
        if n < out.len() {
            let rest = &mut out[n..];
            self.read_not_dumped(at + n as u64, ph, rest)?;
        }
        Ok(())
    }

    /// Reads `buf.len()` bytes at `addr`, writes included.
    pub fn read(&mut self, addr: u64, buf: &mut [u8]) -> Result<()> {
        if addr.checked_add(buf.len() as u64).is_none() {
            return Err(self.error("read", addr, buf.len(), "range wraps around the address space".into()));
        }
        self.read_base(addr, buf)?;
        let end = addr + buf.len() as u64;
        for (&page, bytes) in self.overlay.range(addr & !(PAGE_SIZE - 1)..end) {
            let from = page.max(addr);
            let to = (page + PAGE_SIZE).min(end);
            buf[(from - addr) as usize..(to - addr) as usize]
                .copy_from_slice(&bytes[(from - page) as usize..(to - page) as usize]);
        }
        Ok(())
    }

    /// Writes `data` at `addr` into the overlay (the core file is never changed).
    pub fn write(&mut self, addr: u64, data: &[u8]) -> Result<()> {
        let Some(end) = addr.checked_add(data.len() as u64) else {
            return Err(self.error("write", addr, data.len(), "range wraps around the address space".into()));
        };
        // Every page must exist before any changes.
        let mut page = addr & !(PAGE_SIZE - 1);
        while page < end {
            if self.segment(page.max(addr)).is_none() {
                let reason = format!("address not mapped in core file {}", self.path);
                return Err(self.error("write", page.max(addr), data.len(), reason));
            }
            page += PAGE_SIZE;
        }
        let mut page = addr & !(PAGE_SIZE - 1);
        while page < end {
            if !self.overlay.contains_key(&page) {
                let mut bytes = vec![0u8; PAGE_SIZE as usize];
                // A page only partly mapped, or unreadable, starts as zeros.
                if self.read_base(page, &mut bytes).is_err() {
                    bytes.fill(0);
                }
                self.overlay.insert(page, bytes.into_boxed_slice());
            }
            let bytes = self.overlay.get_mut(&page).expect("inserted above");
            let from = page.max(addr);
            let to = (page + PAGE_SIZE).min(end);
            bytes[(from - page) as usize..(to - page) as usize]
                .copy_from_slice(&data[(from - addr) as usize..(to - addr) as usize]);
            page += PAGE_SIZE;
        }
        Ok(())
    }

    /// How many pages have been written to.
    pub fn overlay_pages(&self) -> usize {
        self.overlay.len()
    }
}
