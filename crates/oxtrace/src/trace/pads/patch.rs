//! Putting jumps in and taking them out, with every thread stopped, and
//! threads moved into and out of pads.
//!
//! * **Patching** writes the jump only while every thread is stopped. A
//!   thread whose pc is inside the covered bytes (not at their start: that
//!   one simply takes the jump) is moved to its instruction's copy in the pad.
//! * **Unpatching** writes the original bytes back exactly. The pad stays
//!   (a disabled breakpoint keeps it, and threads inside it run on through
//!   the copies and back to the program's code).
//! * **Releasing** a pad (removal, detach) first moves every thread out of
//!   it: one stopped on the `int3` is put on the site (its registers are the
//!   site's), one on a copy is put on the original instruction, and one in
//!   the middle of the pad's own work is single-stepped, alone, until it is
//!   on one of those. Then the pad's chunk is unmapped once no pad uses it.
//!
//! Parking (breakpoints out while the caller has the process stopped) and a
//! vfork child sharing memory write the original bytes and the jumps back,
//! as they do for `int3` bytes; the table keeps saying patched.

use std::time::Duration;

use super::arena::{self, Chunk};
use super::assemble::{self, Plan};
use super::site::{Covered, JUMP_LEN};
use super::{InProcessOptions, Site};
use crate::arch::RegisterGroup;
use crate::error::{Error, Result, Tid};
use crate::expression::Expr;
use crate::memory::Perms;
use crate::platform::{ResumeAction, ResumeKind, StopReason};
use crate::trace::Trace;

/// The most single steps spent getting one thread out of a pad.
const MAX_STEPS: usize = 100_000;
/// The most bytes a pad takes (a bound, checked after assembly).
const PAD_MAX: u64 = 4096;
/// The trap flag of `rflags`.
const TRAP_FLAG: u64 = 0x100;
/// `MAP_FIXED_NOREPLACE`: at this address or not at all.
const MAP_FIXED_NOREPLACE: u64 = 0x10_0000;

impl Trace {
    /// A chunk of pad memory within reach of `site` with room for a pad.
    pub(super) fn chunk_for(&mut self, site: u64) -> std::result::Result<u64, String> {
        if let Some(chunk) = self.pads.chunks.iter().find(|c| c.reaches(site) && c.code_room(PAD_MAX).is_some()) {
            return Ok(chunk.base);
        }
        let maps = self.memory_maps().map_err(|e| e.to_string())?;
        let base = arena::place(&maps, site).ok_or_else(|| format!("no free memory within 2 GiB of {site:#x}"))?;
        let abi = self.arch.syscall_abi().ok_or("no system calls on this architecture")?;
        // PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE.
        let args = [base, arena::CHUNK, 3, 0x22 | MAP_FIXED_NOREPLACE, u64::MAX, 0];
        let mapped = self.inject_syscall("mmap", abi.mmap, &args).map_err(|e| format!("cannot map pad memory: {e}"))?;
        if mapped != base {
            // A kernel without MAP_FIXED_NOREPLACE takes the address as a hint.
            let _ = self.free_memory(mapped, arena::CHUNK);
            return Err(format!("the kernel mapped pad memory at {mapped:#x}, not at {base:#x}"));
        }
        let read_exec = Perms { read: true, write: false, exec: true, shared: false };
        if let Err(e) = self.protect_memory(base, arena::CODE, read_exec) {
            let _ = self.free_memory(base, arena::CHUNK);
            return Err(format!("cannot make pad memory executable: {e}"));
        }
        let pid = u64::from(self.pid.unsigned_abs()).to_le_bytes();
        let chunk = Chunk::new(base);
        self.platform.write_memory(chunk.pid_slot(), &pid).map_err(|e| e.to_string())?;
        self.pads.chunks.push(chunk);
        Ok(base)
    }

    /// Unmaps chunk `base` if no pad uses it.
    pub(super) fn drop_chunk_if_unused(&mut self, base: u64) {
        let Some(i) = self.pads.chunks.iter().position(|c| c.base == base) else { return };
        if self.pads.chunks[i].users > 0 {
            return;
        }
        self.pads.chunks.remove(i);
        if !self.pads.keep_memory && self.is_attached() {
            let _ = self.free_memory(base, arena::CHUNK);
        }
    }

    /// Assembles and writes the pad for `addr` into chunk `base`.
    pub(super) fn write_pad(
        &mut self,
        base: u64,
        addr: u64,
        covered: &Covered,
        options: &InProcessOptions,
        condition: Option<&Expr>,
        ring: Option<super::ring::RingLayout>,
    ) -> std::result::Result<Site, String> {
        let chunk = self.pads.chunks.iter_mut().find(|c| c.base == base).expect("chunk exists");
        let at = chunk.code_room(PAD_MAX).expect("room checked");
        let counter = chunk.take_counter().ok_or("the pad memory has no room for another counter")?;
        let pid_slot = chunk.pid_slot();
        let mut names = |name: &str| self.variable(name).or_else(|| self.sym_by_name(name).ok());
        let plan = Plan {
            site: addr,
            covered,
            counter,
            pid_slot,
            condition,
            names: &mut names,
            ring: ring.map(|r| (r, options.record_registers())),
            stop: options.stop,
        };
        let pad = assemble::assemble(plan, at)?;
        if pad.bytes.len() as u64 > PAD_MAX {
            return Err(format!("the pad would take {} bytes, more than {PAD_MAX}", pad.bytes.len()));
        }
        self.platform.write_memory(at, &pad.bytes).map_err(|e| format!("cannot write the pad: {e}"))?;
        let chunk = self.pads.chunks.iter_mut().find(|c| c.base == base).expect("chunk exists");
        chunk.take_code(pad.bytes.len() as u64);
        chunk.users += 1;
        let mut jump = vec![0xe9];
        jump.extend_from_slice(&((at.wrapping_sub(addr + JUMP_LEN)) as u32).to_le_bytes());
        // Bytes after the jump are never executed; int3 makes a stray arrival loud.
        jump.resize(covered.len as usize, 0xcc);
        Ok(Site {
            addr,
            len: covered.len,
            original: Vec::new(),
            jump,
            patched: false,
            chunk: base,
            pad: at,
            pad_len: pad.bytes.len() as u64,
            counter,
            trap: pad.trap,
            resume: pad.resume,
            pushf: pad.pushf,
            relocated: pad.relocated,
            ring: None,
        })
    }

    /// Puts the jump of site `id` in (every thread stopped), moving threads inside the covered bytes into the pad.
    pub(in crate::trace) fn patch_site(&mut self, id: u32) -> Result<()> {
        let Some(site) = self.pads.sites.get(&id) else { return Ok(()) };
        if site.patched {
            return Ok(());
        }
        let (addr, jump) = (site.addr, site.jump.clone());
        self.ensure_all_stopped()?;
        if !self.parking.parked && !self.vfork_bytes_out {
            self.move_threads_into_pad(id)?;
            self.platform.write_memory(addr, &jump)?;
        }
        self.pads.sites.get_mut(&id).expect("site exists").patched = true;
        Ok(())
    }

    /// Takes the jump of site `id` out: the original bytes go back exactly.
    pub(in crate::trace) fn unpatch_site(&mut self, id: u32) -> Result<()> {
        let Some(site) = self.pads.sites.get(&id) else { return Ok(()) };
        if !site.patched {
            return Ok(());
        }
        let (addr, original) = (site.addr, site.original.clone());
        self.ensure_all_stopped()?;
        if !self.parking.parked && !self.vfork_bytes_out {
            self.platform.write_memory(addr, &original)?;
        }
        self.pads.sites.get_mut(&id).expect("site exists").patched = false;
        Ok(())
    }

    /// Writes the original bytes of every patched site (parking, vfork); the table still says patched.
    pub(in crate::trace) fn write_original_pad_bytes(&mut self) -> Result<()> {
        let patched: Vec<(u64, Vec<u8>)> =
            self.pads.sites.values().filter(|s| s.patched).map(|s| (s.addr, s.original.clone())).collect();
        for (addr, original) in patched {
            self.platform.write_memory(addr, &original)?;
        }
        Ok(())
    }

    /// Writes the jump of every site the table says patched (after parking or a vfork).
    pub(in crate::trace) fn write_pad_jumps(&mut self) -> Result<()> {
        let patched: Vec<u32> = self.pads.sites.iter().filter(|(_, s)| s.patched).map(|(&id, _)| id).collect();
        for id in patched {
            self.move_threads_into_pad(id)?;
            let site = &self.pads.sites[&id];
            let (addr, jump) = (site.addr, site.jump.clone());
            self.platform.write_memory(addr, &jump)?;
        }
        Ok(())
    }

    /// Moves every thread whose pc is inside the covered bytes of site `id`
    /// (past their start) to the copy of its instruction in the pad.
    fn move_threads_into_pad(&mut self, id: u32) -> Result<()> {
        let site = &self.pads.sites[&id];
        let (addr, len, relocated) = (site.addr, site.len, site.relocated.clone());
        for tid in self.platform.threads() {
            let pc = self.thread_pc(tid)?;
            if pc <= addr || pc >= addr + len {
                continue;
            }
            let copy = relocated.iter().find(|(original, _)| *original == pc).map(|(_, copy)| *copy);
            let copy = copy.ok_or_else(|| {
                Error::InvalidArgument(format!("thread {tid} stands at {pc:#x}, inside an instruction under the jump"))
            })?;
            self.context_with(tid, RegisterGroup::General)?.set_pc(copy)?;
        }
        Ok(())
    }

    /// Removes site `id` for good: the jump out, every thread out of the pad, the pad's memory freed.
    pub(in crate::trace) fn release_site(&mut self, id: u32) -> Result<()> {
        if !self.pads.sites.contains_key(&id) {
            return Ok(());
        }
        // A process that has ended keeps nothing to restore.
        if self.is_attached() {
            self.unpatch_site(id)?;
        }
        let keep = self.pads.keep_memory || !self.is_attached();
        if !keep {
            for tid in self.platform.threads() {
                self.leave_pad(tid, id)?;
            }
        }
        let Some(site) = self.pads.remove_site(id) else { return Ok(()) };
        if let Some((layout, _)) = site.ring {
            if !keep {
                let _ = self.free_memory(layout.base, layout.mapping_size());
            }
        }
        if let Some(chunk) = self.pads.chunks.iter_mut().find(|c| c.base == site.chunk) {
            chunk.users = chunk.users.saturating_sub(1);
        }
        self.drop_chunk_if_unused(site.chunk);
        Ok(())
    }

    /// Forgets in-process breakpoint `id` (removed): its pad released, or its fallback state.
    pub(in crate::trace) fn forget_in_process(&mut self, id: u32) -> Result<()> {
        self.pads.options.remove(&id);
        self.pads.fallbacks.remove(&id);
        self.pads.fallback_records.remove(&id);
        self.release_site(id)
    }

    /// Releases every pad (detach): the jumps are out already.
    pub(in crate::trace) fn release_all_pads(&mut self) -> Result<()> {
        let ids: Vec<u32> = self.pads.sites.keys().copied().collect();
        let mut first_error = None;
        for id in ids {
            if let Err(e) = self.release_site(id) {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Gets thread `tid` out of the pad of site `id`, onto the program's code.
    fn leave_pad(&mut self, tid: Tid, id: u32) -> Result<()> {
        let site = self.pads.sites[&id].clone();
        let mut stepped = false;
        for _ in 0..MAX_STEPS {
            let pc = self.thread_pc(tid)?;
            if stepped && (!site.in_pad(pc) || pc >= site.resume) {
                // Stepping over the pad's popfq makes the kernel take the
                // step's trap flag for the program's own, and leave it set
                // after a detach. The program's flags were saved without it.
                let ctx = self.context_with(tid, RegisterGroup::General)?;
                let flags = ctx.get_u64("eflags")?;
                ctx.set_u64("eflags", flags & !TRAP_FLAG)?;
            }
            if !site.in_pad(pc) {
                return Ok(());
            }
            // Never stepped over the pushfq: the trap flag of the step would be
            // saved with the flags and restored by the popfq, a SIGTRAP later.
            if pc == site.pad || pc == site.pushf {
                let ctx = self.context_with(tid, RegisterGroup::General)?;
                if pc == site.pushf {
                    let sp = ctx.sp()?;
                    ctx.set_sp(sp + super::frame::RED_ZONE as u64)?;
                }
                ctx.set_pc(site.addr)?;
                return Ok(());
            }
            let to = if site.trap == Some(pc) || site.trap.map(|t| t + 1) == Some(pc) {
                // On the int3, or just after it without its stop reported: the site's registers.
                self.deferred_stops
                    .retain(|s| s.tid != tid || !matches!(s.reason, StopReason::Trap | StopReason::SoftwareBreak));
                Some(site.addr)
            } else {
                site.relocated.iter().find(|(_, copy)| *copy == pc).map(|(original, _)| *original)
            };
            match to {
                Some(to) => {
                    self.context_with(tid, RegisterGroup::General)?.set_pc(to)?;
                    return Ok(());
                }
                None => {
                    self.step_in_pad(tid)?;
                    stepped = true;
                }
            }
        }
        Err(Error::InvalidArgument(format!("thread {tid} did not leave the pad at {:#x}", site.pad)))
    }

    /// Single-steps thread `tid` alone (the others stay stopped).
    fn step_in_pad(&mut self, tid: Tid) -> Result<()> {
        self.flush_registers()?;
        while let Some(stop) = self.platform.wait(Some(Duration::ZERO))? {
            self.deferred_stops.push_back(stop);
        }
        self.platform.resume(&[ResumeAction { tid, kind: ResumeKind::Step, signal: None }])?;
        let stop = self.platform.wait(None)?.ok_or(Error::ProcessExited { pid: self.pid })?;
        if stop.tid == tid && stop.reason == StopReason::Step {
            return Ok(());
        }
        let what = format!("{:?}", stop.reason);
        self.deferred_stops.push_back(stop);
        Err(Error::InvalidArgument(format!("thread {tid} stopped ({what}) while leaving a pad")))
    }

    /// Takes the jump at `pc` out for a single step of a thread standing on a
    /// patched site; returns the site to patch again after the step.
    pub(in crate::trace) fn lift_pad_for_step(&mut self, pc: u64) -> Result<Option<u32>> {
        let Some(&id) = self.pads.by_addr.get(&pc).filter(|id| self.pads.sites[id].patched) else {
            return Ok(None);
        };
        self.unpatch_site(id)?;
        Ok(Some(id))
    }

    /// Shows the original bytes under the jumps in `buf` (read at `addr`).
    pub(in crate::trace) fn hide_pad_bytes(&self, addr: u64, buf: &mut [u8]) {
        let end = addr.saturating_add(buf.len() as u64);
        for (_, site) in
            self.pads.near(addr, buf.len() as u64).filter(|(_, s)| s.patched && s.addr < end && addr < s.addr + s.len)
        {
            for (i, &byte) in site.original.iter().enumerate() {
                let at = site.addr + i as u64;
                if at >= addr && at < end {
                    buf[(at - addr) as usize] = byte;
                }
            }
        }
    }

    /// Refuses a write over the jump of an in-process breakpoint.
    pub(in crate::trace) fn check_write_over_pads(&self, addr: u64, len: u64) -> Result<()> {
        match self.pads.covering(addr, len) {
            Some((id, site)) => Err(Error::InvalidArgument(format!(
                "{:#x}..{:#x} holds the jump of in-process breakpoint {id}: disable it to change these bytes",
                site.addr,
                site.addr + site.len
            ))),
            None => Ok(()),
        }
    }

    /// A trace made for a fork child: its pads are the parent's copies; the
    /// pid slots of its chunks get the child's pid.
    pub(in crate::trace) fn adopt_pads(&mut self) {
        let pid = u64::from(self.pid.unsigned_abs()).to_le_bytes();
        let slots: Vec<u64> = self.pads.chunks.iter().map(Chunk::pid_slot).collect();
        for slot in slots {
            let _ = self.platform.write_memory(slot, &pid);
        }
    }
}
