//! Hardware watchpoints: the four x86 debug-register slots.
//!
//! A watchpoint fires on execution of, writes to, or reads and writes of 1, 2,
//! 4 or 8 aligned bytes. It is written into every thread's debug registers,
//! including threads created later, and taken out of all of them on removal
//! and on detach. The thread's DR6 says which slot fired; it is cleared after
//! each hit. Data watchpoints trap after the access: the event gives the pc
//! there, the instruction that made the access (decoded from the start of its
//! function), and for write watches the value before and after.

use iced_x86::{Decoder, DecoderOptions};

use super::Trace;
use crate::arch::RegisterGroup;
use crate::error::{Error, Result, Tid};
use crate::event::EventKind;

/// What a watchpoint watches for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchKind {
    /// Execution of the instruction at the address (size 1).
    Execute,
    /// Writes.
    Write,
    /// Reads and writes (x86 has no read-only watch).
    ReadWrite,
}

/// A hardware watchpoint as the user sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watchpoint {
    /// Its id (shared with breakpoint ids).
    pub id: u32,
    /// The first watched address.
    pub addr: u64,
    /// How many bytes are watched: 1, 2, 4 or 8.
    pub size: usize,
    /// What it watches for.
    pub kind: WatchKind,
    /// The debug register slot it uses (0-3).
    pub slot: usize,
    /// How many times it fired.
    pub hits: u64,
}

/// A table entry: the watchpoint and the last value seen at its address.
pub(super) struct Watch {
    pub info: Watchpoint,
    pub last: Option<u64>,
}

/// Debug register slots on x86.
const SLOTS: usize = 4;
/// DR7's "resume flag"-free enable and type/length fields: RW at 16 + 4n, LEN at 18 + 4n.
fn dr7_bits(slot: usize, kind: WatchKind, size: usize) -> u64 {
    let rw = match kind {
        WatchKind::Execute => 0b00,
        WatchKind::Write => 0b01,
        WatchKind::ReadWrite => 0b11,
    };
    let len = match size {
        1 => 0b00,
        2 => 0b01,
        8 => 0b10,
        _ => 0b11,
    };
    (1 << (2 * slot)) | (rw << (16 + 4 * slot)) | (len << (18 + 4 * slot))
}

/// The resume flag: set on a thread leaving an execute watchpoint, so it does not fire again at once.
const EFLAGS_RF: u64 = 1 << 16;

impl Trace {
    /// Watches `size` bytes (1, 2, 4 or 8, aligned to the size) at `addr` in every thread.
    pub fn add_watchpoint(&mut self, addr: u64, size: usize, kind: WatchKind) -> Result<u32> {
        self.require_stopped()?;
        if self.arch.x86_bitness().is_none() {
            return Err(Error::Unsupported("hardware watchpoints on this architecture"));
        }
        if ![1, 2, 4, 8].contains(&size) {
            return Err(Error::InvalidArgument(format!("a watchpoint covers 1, 2, 4 or 8 bytes, not {size}")));
        }
        if !addr.is_multiple_of(size as u64) {
            return Err(Error::InvalidArgument(format!(
                "a {size}-byte watchpoint needs an address aligned to {size}, not {addr:#x}"
            )));
        }
        if kind == WatchKind::Execute && size != 1 {
            return Err(Error::InvalidArgument(format!("an execute watchpoint covers 1 byte, not {size}")));
        }
        let used: Vec<usize> = self.watchpoints.values().map(|w| w.info.slot).collect();
        let slot = (0..SLOTS).find(|s| !used.contains(s)).ok_or_else(|| {
            Error::InvalidArgument(format!("all {SLOTS} debug registers are in use: cannot watch {addr:#x}"))
        })?;
        // The address must be readable now (as for a breakpoint), and its value is the first "old" value.
        let mut bytes = [0u8; 8];
        self.read_into(addr, &mut bytes[..size])?;
        let id = self.breakpoints.allocate_id();
        let info = Watchpoint { id, addr, size, kind, slot, hits: 0 };
        let last = (kind != WatchKind::Execute).then(|| u64::from_le_bytes(bytes));
        self.watchpoints.insert(id, Watch { info, last });
        if let Err(e) = self.apply_watchpoints_everywhere() {
            self.watchpoints.remove(&id);
            let _ = self.apply_watchpoints_everywhere();
            return Err(e);
        }
        Ok(id)
    }

    /// Removes a watchpoint from every thread.
    pub fn remove_watchpoint(&mut self, id: u32) -> Result<()> {
        self.require_stopped()?;
        self.watchpoints.remove(&id).ok_or(Error::NoSuchBreakpoint(id))?;
        self.apply_watchpoints_everywhere()
    }

    /// Every watchpoint, by id.
    pub fn watchpoints(&self) -> Vec<Watchpoint> {
        self.watchpoints.values().map(|w| w.info.clone()).collect()
    }

    /// Writes the watchpoint table into every thread's debug registers.
    pub(super) fn apply_watchpoints_everywhere(&mut self) -> Result<()> {
        self.ensure_all_stopped()?;
        for tid in self.platform.threads() {
            self.apply_watchpoints(tid)?;
        }
        Ok(())
    }

    /// Writes the watchpoint table into one thread's debug registers.
    pub(super) fn apply_watchpoints(&mut self, tid: Tid) -> Result<()> {
        let mut addrs = [0u64; SLOTS];
        let mut dr7 = 0;
        for watch in self.watchpoints.values() {
            let w = &watch.info;
            addrs[w.slot] = w.addr;
            dr7 |= dr7_bits(w.slot, w.kind, w.size);
        }
        let regs = self.context_with(tid, RegisterGroup::Debug)?;
        for (slot, addr) in addrs.iter().enumerate() {
            let name = ["dr0", "dr1", "dr2", "dr3"][slot];
            if regs.get_u64(name)? != *addr {
                regs.set_u64(name, *addr)?;
            }
        }
        if regs.get_u64("dr7")? != dr7 {
            regs.set_u64("dr7", dr7)?;
        }
        Ok(())
    }

    /// The watchpoint whose slot DR6 of `tid` shows as fired, if any.
    pub(super) fn fired_watchpoint(&mut self, tid: Tid) -> Result<Option<u32>> {
        if self.watchpoints.is_empty() {
            return Ok(None);
        }
        let dr6 = self.context_with(tid, RegisterGroup::Debug)?.get_u64("dr6")?;
        Ok(self.watchpoints.values().find(|w| dr6 & (1 << w.info.slot) != 0).map(|w| w.info.id))
    }

    /// Whether any data watchpoint covers part of `[addr, addr + len)`.
    pub(super) fn watches_range(&self, addr: u64, len: u64) -> bool {
        self.watchpoints.values().any(|w| {
            let w = &w.info;
            w.kind != WatchKind::Execute && w.addr < addr + len && addr < w.addr + w.size as u64
        })
    }

    /// The event of watchpoint `id` firing in `tid`.
    /// Clears the thread's DR6, which the CPU never clears itself.
    pub(super) fn watchpoint_hit(&mut self, tid: Tid, id: u32) -> Result<EventKind> {
        self.context_with(tid, RegisterGroup::Debug)?.set_u64("dr6", 0)?;
        let pc = self.thread_pc(tid)?;
        let (addr, size, kind) = {
            let w = &self.watchpoints[&id].info;
            (w.addr, w.size, w.kind)
        };
        if kind == WatchKind::Execute {
            // Execute watchpoints fire before the instruction: let it run when resumed.
            let flags_name = self.arch.flags;
            let regs = self.context_with(tid, RegisterGroup::General)?;
            let flags = regs.flags()?;
            regs.set_u64(flags_name, flags | EFLAGS_RF)?;
            let watch = self.watchpoints.get_mut(&id).expect("exists");
            watch.info.hits += 1;
            return Ok(EventKind::Watchpoint { id, addr, pc, access_pc: Some(pc), old: None, new: None });
        }
        let mut bytes = [0u8; 8];
        self.read_into(addr, &mut bytes[..size])?;
        let new = u64::from_le_bytes(bytes);
        let access_pc = self.instruction_ending_at(pc)?;
        let watch = self.watchpoints.get_mut(&id).expect("exists");
        watch.info.hits += 1;
        let old = watch.last.replace(new);
        Ok(EventKind::Watchpoint { id, addr, pc, access_pc, old, new: Some(new) })
    }

    /// The address of the instruction that ends at `pc`, found by decoding its
    /// function from the start (`None` without a symbol or if decoding does not meet `pc`).
    fn instruction_ending_at(&mut self, pc: u64) -> Result<Option<u64>> {
        let Some(start) = self.symbols()?.sym_by_addr(pc.wrapping_sub(1)).map(|hit| hit.addr) else {
            return Ok(None);
        };
        if pc <= start || pc - start > 1 << 16 {
            return Ok(None);
        }
        let code = self.read_memory(start, (pc - start) as usize)?;
        let Some(bitness) = self.arch.x86_bitness() else { return Ok(None) };
        let mut decoder = Decoder::with_ip(bitness, &code, start, DecoderOptions::NONE);
        while decoder.can_decode() {
            let insn = decoder.decode();
            if insn.next_ip() == pc {
                return Ok(Some(insn.ip()));
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dr7_encodes_enable_type_and_length() {
        assert_eq!(dr7_bits(0, WatchKind::Execute, 1), 0b1);
        assert_eq!(dr7_bits(1, WatchKind::Write, 4), (1 << 2) | (0b01 << 20) | (0b11 << 22));
        assert_eq!(dr7_bits(3, WatchKind::ReadWrite, 8), (1 << 6) | (0b11 << 28) | (0b10 << 30));
        assert_eq!(dr7_bits(2, WatchKind::Write, 2), (1 << 4) | (0b01 << 24) | (0b01 << 26));
    }
}
