//! Memory of the debuggee through the trace: breakpoint bytes hidden, typed
//! reads and writes, maps and search.

use super::Trace;
use crate::error::{Error, Result};
use crate::memory::{map_containing, search_memory, MemoryMap, Needle};

macro_rules! typed_access {
    ($($read:ident, $write:ident, $t:ty);* $(;)?) => {
        $(
            #[doc = concat!("Reads a little-endian `", stringify!($t), "`.")]
            pub fn $read(&mut self, addr: u64) -> Result<$t> {
                let mut buf = [0u8; std::mem::size_of::<$t>()];
                self.read_into(addr, &mut buf)?;
                Ok(<$t>::from_le_bytes(buf))
            }

            #[doc = concat!("Writes a little-endian `", stringify!($t), "`.")]
            pub fn $write(&mut self, addr: u64, value: $t) -> Result<()> {
                self.write_memory(addr, &value.to_le_bytes())
            }
        )*
    };
}

impl Trace {
    /// Reads `len` bytes at `addr`. Breakpoint instructions show as the original bytes.
    pub fn read_memory(&mut self, addr: u64, len: usize) -> Result<Vec<u8>> {
        let mut buf = vec![0; len];
        self.read_into(addr, &mut buf)?;
        Ok(buf)
    }

    /// Fills `buf` from `addr`. Breakpoint instructions show as the original bytes.
    pub fn read_into(&mut self, addr: u64, buf: &mut [u8]) -> Result<()> {
        self.require_stopped()?;
        self.platform.read_memory(addr, buf)?;
        self.hide_break_bytes(addr, buf);
        Ok(())
    }

    /// Writes `data` at `addr`, read-only pages (code) included. Breakpoints in
    /// the range stay set and will restore the new bytes.
    pub fn write_memory(&mut self, addr: u64, data: &[u8]) -> Result<()> {
        self.require_stopped()?;
        self.write_around_breaks(addr, data)
    }

    typed_access! {
        read_u8, write_u8, u8;
        read_u16, write_u16, u16;
        read_u32, write_u32, u32;
        read_u64, write_u64, u64;
        read_i32, write_i32, i32;
        read_i64, write_i64, i64;
    }

    /// Reads a pointer (of the architecture's size).
    pub fn read_ptr(&mut self, addr: u64) -> Result<u64> {
        match self.arch.pointer_size {
            4 => self.read_u32(addr).map(u64::from),
            _ => self.read_u64(addr),
        }
    }

    /// Writes a pointer (of the architecture's size).
    pub fn write_ptr(&mut self, addr: u64, value: u64) -> Result<()> {
        match self.arch.pointer_size {
            4 => {
                let value = u32::try_from(value)
                    .map_err(|_| Error::InvalidArgument(format!("{value:#x} is not a 32-bit pointer")))?;
                self.write_u32(addr, value)
            }
            _ => self.write_u64(addr, value),
        }
    }

    /// Reads a NUL-terminated string of at most `max_len` bytes (without the NUL).
    /// Stops early, without error, where memory becomes unreadable after the first byte.
    pub fn read_c_string(&mut self, addr: u64, max_len: usize) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        let mut at = addr;
        while out.len() < max_len {
            // Read up to the end of the page, so a string near unmapped memory still reads.
            let page_left = 4096 - (at % 4096) as usize;
            let mut chunk = vec![0; page_left.min(max_len - out.len())];
            match self.read_into(at, &mut chunk) {
                Ok(()) => {}
                Err(e) if out.is_empty() => return Err(e),
                Err(_) => break,
            }
            if let Some(nul) = chunk.iter().position(|&b| b == 0) {
                out.extend_from_slice(&chunk[..nul]);
                return Ok(out);
            }
            out.extend_from_slice(&chunk);
            at += chunk.len() as u64;
        }
        Ok(out)
    }

    /// The process's memory maps, sorted by address.
    pub fn memory_maps(&mut self) -> Result<Vec<MemoryMap>> {
        if !self.is_attached() {
            self.require_stopped()?;
        }
        self.platform.memory_maps()
    }

    /// The map that contains `addr`.
    pub fn memory_map(&mut self, addr: u64) -> Result<Option<MemoryMap>> {
        Ok(map_containing(&self.memory_maps()?, addr).cloned())
    }

    /// Searches `[start, end)` for `needle`; returns the match addresses.
    pub fn search_memory_range(&mut self, needle: &Needle, start: u64, end: u64) -> Result<Vec<u64>> {
        self.search_in(needle, &[(start, end)])
    }

    /// Searches every readable map for `needle`; returns the match addresses.
    /// The results are also kept in the variable `search` (the first match).
    pub fn search_memory(&mut self, needle: &Needle) -> Result<Vec<u64>> {
        let ranges: Vec<(u64, u64)> =
            self.memory_maps()?.iter().filter(|m| m.perms.read).map(|m| (m.start, m.end)).collect();
        self.search_in(needle, &ranges)
    }

    fn search_in(&mut self, needle: &Needle, ranges: &[(u64, u64)]) -> Result<Vec<u64>> {
        self.require_stopped()?;
        let mut read = |addr: u64, buf: &mut [u8]| self.read_into(addr, buf);
        let found = search_memory(ranges, needle, &mut read, None)?;
        if let Some(&first) = found.first() {
            self.set_variable("search", first);
        }
        Ok(found)
    }
}
