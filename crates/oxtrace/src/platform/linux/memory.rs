//! Reading and writing the debuggee's memory, and its maps.
//!
//! Reads use `process_vm_readv` (one system call, no page-size limit) and fall
//! back to `/proc/PID/mem`, which can also read pages the process itself may
//! not (such as `PROT_NONE` guard pages). Writes go through `/proc/PID/mem`,
//! which the kernel lets a tracer use on read-only pages (code), with
//! `PTRACE_POKEDATA` as the fallback.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;

use super::{sys, LinuxProcess};
use crate::error::{Error, Result};
use crate::memory::{parse_proc_maps, MemoryMap};

impl LinuxProcess {
    fn mem_file(&mut self) -> Option<&File> {
        if self.mem.is_none() && !self.gone {
            self.mem = OpenOptions::new().read(true).write(true).open(format!("/proc/{}/mem", self.pid)).ok();
        }
        self.mem.as_ref()
    }

    fn memory_error(&self, access: &'static str, addr: u64, len: usize, reason: String) -> Error {
        if self.gone {
            return Error::ProcessExited { pid: self.pid };
        }
        Error::Memory { pid: self.pid, access, addr, len, reason }
    }

    pub(super) fn read_mem(&mut self, addr: u64, buf: &mut [u8]) -> Result<()> {
        if buf.is_empty() {
            return Ok(());
        }
        if addr.checked_add(buf.len() as u64).is_none() {
            return Err(self.memory_error("read", addr, buf.len(), "range wraps around the address space".into()));
        }
        let mut done = sys::read_process_memory(self.pid, addr, buf).unwrap_or(0);
        while done < buf.len() {
            let at = addr + done as u64;
            let result = match self.mem_file() {
                Some(file) => file.read_at(&mut buf[done..], at),
                None => Err(std::io::Error::from_raw_os_error(libc::ESRCH)),
            };
            match result {
                Ok(0) => return Err(self.memory_error("read", at, buf.len() - done, "address not mapped".into())),
                Ok(n) => done += n,
                Err(e) if e.raw_os_error() == Some(libc::EIO) => {
                    return Err(self.memory_error("read", at, buf.len() - done, "address not mapped".into()))
                }
                Err(e) => return Err(self.memory_error("read", at, buf.len() - done, e.to_string())),
            }
        }
        Ok(())
    }

    pub(super) fn write_mem(&mut self, addr: u64, data: &[u8]) -> Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        if addr.checked_add(data.len() as u64).is_none() {
            return Err(self.memory_error("write", addr, data.len(), "range wraps around the address space".into()));
        }
        let mut done = 0;
        while done < data.len() {
            let at = addr + done as u64;
            let result = match self.mem_file() {
                Some(file) => file.write_at(&data[done..], at),
                None => Err(std::io::Error::from_raw_os_error(libc::ESRCH)),
            };
            match result {
                Ok(0) => return Err(self.memory_error("write", at, data.len() - done, "address not mapped".into())),
                Ok(n) => done += n,
                Err(e) if e.raw_os_error() == Some(libc::EIO) => {
                    return Err(self.memory_error("write", at, data.len() - done, "address not mapped".into()))
                }
                Err(_) => return self.poke_words(at, &data[done..]),
            }
        }
        Ok(())
    }

    /// The slow path: one word at a time, merging the partial words at the ends.
    fn poke_words(&mut self, addr: u64, data: &[u8]) -> Result<()> {
        let tid = self.pid;
        let start = addr & !7;
        let end = (addr + data.len() as u64 + 7) & !7;
        let mut word_addr = start;
        while word_addr < end {
            let fail = |e: std::io::Error| Error::Memory {
                pid: self.pid,
                access: "write",
                addr: word_addr.max(addr),
                len: data.len(),
                reason: e.to_string(),
            };
            let mut word = sys::peek_data(tid, word_addr).map_err(fail)?.to_le_bytes();
            for (i, byte) in word.iter_mut().enumerate() {
                let at = word_addr + i as u64;
                if at >= addr && at < addr + data.len() as u64 {
                    *byte = data[(at - addr) as usize];
                }
            }
            sys::poke_data(tid, word_addr, u64::from_le_bytes(word)).map_err(fail)?;
            word_addr += 8;
        }
        Ok(())
    }

    pub(super) fn maps(&mut self) -> Result<Vec<MemoryMap>> {
        let path = format!("/proc/{}/maps", self.pid);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            if self.gone || e.kind() == std::io::ErrorKind::NotFound {
                Error::ProcessExited { pid: self.pid }
            } else {
                Error::File { path: path.clone(), reason: e.to_string() }
            }
        })?;
        parse_proc_maps(&text).map_err(|e| match e {
            Error::File { reason, .. } => Error::File { path, reason },
            other => other,
        })
    }
}
