//! Memory of a Windows debuggee: reads, writes, its regions as maps, and
//! allocation and protection through the `Virtual*Ex` calls.

use windows_sys::Win32::System::Memory as mem;

use super::{sys, WindowsProcess};
use crate::error::{Error, Result};
use crate::memory::{MemoryMap, Perms};

/// The page size of x86_64 Windows.
const PAGE: u64 = 4096;

/// The permissions a page protection gives (a guard page gives none until it is touched).
pub(super) fn perms_of(protect: u32, shared: bool) -> Perms {
    let none = Perms { read: false, write: false, exec: false, shared };
    if protect & mem::PAGE_GUARD != 0 {
        return none;
    }
    let (read, write, exec) = match protect & 0xff {
        mem::PAGE_READONLY => (true, false, false),
        mem::PAGE_READWRITE | mem::PAGE_WRITECOPY => (true, true, false),
        mem::PAGE_EXECUTE => (false, false, true),
        mem::PAGE_EXECUTE_READ => (true, false, true),
        mem::PAGE_EXECUTE_READWRITE | mem::PAGE_EXECUTE_WRITECOPY => (true, true, true),
        _ => (false, false, false),
    };
    Perms { read, write, exec, shared }
}

/// The page protection for some permissions. Pages with no access at all are
/// guard pages, as vtrace makes them on Windows to watch them: the first
/// access raises `STATUS_GUARD_PAGE_VIOLATION` (and takes the guard away).
pub(super) fn protection_for(perms: Perms) -> u32 {
    match (perms.read, perms.write, perms.exec) {
        (false, false, false) => mem::PAGE_READONLY | mem::PAGE_GUARD,
        (true, false, false) => mem::PAGE_READONLY,
        (_, true, false) => mem::PAGE_READWRITE,
        (false, false, true) => mem::PAGE_EXECUTE,
        (true, false, true) => mem::PAGE_EXECUTE_READ,
        (_, true, true) => mem::PAGE_EXECUTE_READWRITE,
    }
}

impl WindowsProcess {
    fn memory_error(&self, access: &'static str, addr: u64, len: usize, source: std::io::Error) -> Error {
        if self.gone {
            return Error::ProcessExited { pid: self.pid };
        }
        Error::Memory { pid: self.pid, access, addr, len, reason: source.to_string() }
    }

    pub(super) fn read_mem(&mut self, addr: u64, buf: &mut [u8]) -> Result<()> {
        let mut done = 0;
        while done < buf.len() {
            let at = addr.wrapping_add(done as u64);
            match sys::read_memory(self.process()?, at, &mut buf[done..]) {
                Ok(0) => {
                    return Err(self.memory_error("read", at, buf.len() - done, std::io::Error::other("short read")))
                }
                Ok(n) => done += n,
                Err(e) => return Err(self.memory_error("read", at, buf.len() - done, e)),
            }
        }
        Ok(())
    }

    pub(super) fn write_mem(&mut self, addr: u64, data: &[u8]) -> Result<()> {
        let process = self.process()?;
        if sys::write_memory(process, addr, data).is_ok_and(|n| n == data.len()) {
            sys::flush_instruction_cache(process, addr, data.len());
            return Ok(());
        }
        // A read-only page (code): open it for the write, and close it again.
        let first = addr & !(PAGE - 1);
        let len = (addr + data.len() as u64).next_multiple_of(PAGE) - first;
        let old = sys::protect(process, first, len, mem::PAGE_EXECUTE_READWRITE)
            .map_err(|e| self.memory_error("write", addr, data.len(), e))?;
        let written = sys::write_memory(process, addr, data);
        let _ = sys::protect(process, first, len, old);
        sys::flush_instruction_cache(process, addr, data.len());
        match written {
            Ok(n) if n == data.len() => Ok(()),
            Ok(n) => {
                Err(self.memory_error("write", addr + n as u64, data.len() - n, std::io::Error::other("short write")))
            }
            Err(e) => Err(self.memory_error("write", addr, data.len(), e)),
        }
    }

    /// Every committed region, named after the module (or mapped file) it belongs to.
    pub(super) fn maps(&mut self) -> Result<Vec<MemoryMap>> {
        let process = self.process()?;
        let mut maps = Vec::new();
        let mut addr = 0u64;
        while let Some(region) = sys::query(process, addr) {
            if region.state == mem::MEM_COMMIT {
                let shared = region.kind == mem::MEM_MAPPED;
                let path = match region.kind {
                    mem::MEM_IMAGE => self.module_path(region.allocation_base),
                    mem::MEM_MAPPED => sys::mapped_file_name(process, region.base),
                    _ => None,
                };
                let offset = if path.is_some() { region.base - region.allocation_base } else { 0 };
                maps.push(MemoryMap {
                    start: region.base,
                    end: region.base + region.size,
                    perms: perms_of(region.protect, shared),
                    offset,
                    device: (0, 0),
                    inode: 0,
                    path,
                });
            }
            match region.base.checked_add(region.size) {
                Some(next) if next > addr => addr = next,
                _ => break,
            }
        }
        Ok(maps)
    }

    /// The path of the module loaded at `base`: the program or a DLL.
    fn module_path(&self, base: u64) -> Option<String> {
        if base == self.image_base {
            return self.exe_path.clone();
        }
        self.libraries.get(&base).cloned()
    }

    pub(super) fn allocate(&mut self, size: u64, perms: Perms, hint: Option<u64>) -> Result<u64> {
        let process = self.process()?;
        let protect = protection_for(perms);
        // A hint is only that: where it is taken, anywhere will do.
        let near = hint.and_then(|h| sys::allocate(process, h & !0xffff, size, protect).ok());
        match near {
            Some(addr) => Ok(addr),
            None => sys::allocate(process, 0, size, protect).map_err(|e| self.os_error("VirtualAllocEx", e)),
        }
    }

    pub(super) fn protect(&mut self, addr: u64, size: u64, perms: Perms) -> Result<()> {
        let process = self.process()?;
        sys::protect(process, addr, size, protection_for(perms))
            .map(drop)
            .map_err(|e| self.os_error("VirtualProtectEx", e))
    }

    pub(super) fn free(&mut self, addr: u64) -> Result<()> {
        let process = self.process()?;
        sys::free(process, addr).map_err(|e| self.os_error("VirtualFreeEx", e))
    }
}
