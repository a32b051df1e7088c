//! Software breakpoints: the table, inserting and removing their bytes, and
//! hiding those bytes from memory reads.
//!
//! An enabled breakpoint's instruction stays in memory while the process is
//! stopped (unless [`Trace::set_breakpoints_out_while_stopped`] is on: then
//! the table keeps every entry as inserted while memory holds the original
//! bytes); [`Trace::read_memory`] shows the original bytes in its place and
//! [`Trace::write_memory`] keeps it in place. Detach, kill and drop remove
//! every breakpoint byte.

use std::collections::BTreeMap;

use super::Trace;
use crate::arch::emulate::Emulated;
use crate::error::{Error, Result};
use crate::event::Event;

/// A breakpoint callback: runs at every hit, before the notifiers; may change
/// the debuggee and call [`Trace::run_again`].
pub type BreakCallback = Box<dyn FnMut(&mut Trace, &Event)>;

/// A breakpoint condition: evaluated at each hit; the hit counts (and stops,
/// runs the callback, fires notifiers) only when it returns true.
pub type BreakCondition = Box<dyn FnMut(&mut Trace) -> bool>;

/// What a breakpoint does when hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakpointKind {
    /// Stops (and fires notifiers) at every hit.
    Normal,
    /// Stops once, then removes itself.
    OneTime,
    /// Stops once, even in [`Mode::RunForever`](super::Mode::RunForever), and removes itself
    /// (used by [`Trace::run_until`]).
    StopAndRemove,
    /// Stops and turns [`Mode::RunForever`](super::Mode::RunForever) off.
    StopRunForever,
    /// Counts its hits (see [`Breakpoint::hits`]) and never stops: for coverage.
    Tracker,
    /// Runs its callback and goes on: no notifiers, no stop (vtrace's fastbreak).
    Fast,
    /// Like `Normal`, marked for front ends not to announce it.
    Silent,
    /// Runs inside the program, from a jump pad: counts, tests its condition
    /// and records without a ptrace stop, and stops only if asked to when the
    /// condition holds (see [`Trace::add_in_process_breakpoint`]). Set with
    /// [`Trace::add_breakpoint`], it counts.
    InProcess,
}

/// A breakpoint as the user sees it.
#[derive(Debug, Clone)]
pub struct Breakpoint {
    /// Its id, unique in this trace.
    pub id: u32,
    /// Its address.
    pub addr: u64,
    /// What it does when hit.
    pub kind: BreakpointKind,
    /// Whether it is armed.
    pub enabled: bool,
    /// How many times it was hit.
    pub hits: u64,
    /// The expression it was set by, if any ([`Trace::add_break_by_expr`]).
    pub expr: Option<String>,
    /// False while its expression cannot be resolved (its library is not loaded):
    /// then `addr` is 0 and nothing is in memory.
    pub resolved: bool,
}

/// A callback or condition, shared by a trace and the traces of its child
/// processes (a breakpoint copied into a fork child runs the same code).
pub(super) type Shared<T> = std::rc::Rc<std::cell::RefCell<T>>;

/// One table entry: the public part plus what the trace needs to patch memory.
#[derive(Clone)]
pub(super) struct Entry {
    pub info: Breakpoint,
    /// The bytes the break instruction replaced, while it is in memory.
    pub saved: Option<Vec<u8>>,
    pub callback: Option<Shared<BreakCallback>>,
    pub condition: Option<Shared<BreakCondition>>,
    /// The original bytes while the instruction is lifted for a step, to put it back without reading.
    pub lifted: Option<Vec<u8>>,
    /// The instruction under the breakpoint, once decoded: `Some(None)` when it cannot be emulated.
    pub emulation: Option<Option<Emulated>>,
    /// The trace's own (the library hook): not listed, not removable by the user.
    pub internal: bool,
}

impl Entry {
    /// An entry not yet in memory, with no condition.
    pub fn new(info: Breakpoint, callback: Option<BreakCallback>) -> Entry {
        let callback = callback.map(|c| Shared::new(c.into()));
        Entry { info, saved: None, callback, condition: None, lifted: None, emulation: None, internal: false }
    }
}

/// The lowest id of the breakpoints that take no number of the user's: the
/// trace's own (a step's, a `run_until`'s, the library hook's) and the other
/// locations of a breakpoint ([`Trace::add_breakpoint_like`]). Their ids
/// count down from `u32::MAX`, so that a debugger can show the others' ids
/// as numbers one after the other, as gdb numbers its breakpoints.
pub(super) const TEMPORARY_IDS: u32 = u32::MAX / 2;

/// Every breakpoint, by id and by address.
#[derive(Default, Clone)]
pub(super) struct Breakpoints {
    next_id: u32,
    /// How many temporary ids were given (see [`TEMPORARY_IDS`]).
    temporaries: u32,
    pub by_id: BTreeMap<u32, Entry>,
    pub by_addr: BTreeMap<u64, u32>,
    /// Breakpoints whose expression does not resolve yet, by id.
    pub deferred: BTreeMap<u32, Entry>,
}

impl Breakpoints {
    /// A new id, unique among breakpoints and watchpoints.
    pub fn allocate_id(&mut self) -> u32 {
        self.next_id += 1;
        self.next_id - 1
    }

    /// A new id for a breakpoint of the trace's own (see [`TEMPORARY_IDS`]).
    pub fn allocate_temporary_id(&mut self) -> u32 {
        self.temporaries = (self.temporaries + 1) % (u32::MAX - TEMPORARY_IDS);
        u32::MAX - self.temporaries
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// A user's breakpoint by id, placed or deferred.
    pub fn entry_mut(&mut self, id: u32) -> Result<&mut Entry> {
        match self.by_id.get_mut(&id) {
            Some(entry) if !entry.internal => Ok(entry),
            Some(_) => Err(Error::NoSuchBreakpoint(id)),
            None => self.deferred.get_mut(&id).ok_or(Error::NoSuchBreakpoint(id)),
        }
    }

    /// The id of the breakpoint whose instruction is in memory at `addr`.
    pub fn inserted_at(&self, addr: u64) -> Option<u32> {
        let id = *self.by_addr.get(&addr)?;
        self.by_id[&id].saved.is_some().then_some(id)
    }
}

impl Trace {
    /// Sets a breakpoint at `addr`. Works before the process first runs.
    pub fn add_break_by_addr(&mut self, addr: u64) -> Result<u32> {
        self.add_breakpoint(addr, BreakpointKind::Normal, None)
    }

    /// Sets a breakpoint whose `callback` runs at every hit before the notifiers.
    pub fn add_break_with(&mut self, addr: u64, callback: impl FnMut(&mut Trace, &Event) + 'static) -> Result<u32> {
        self.add_breakpoint(addr, BreakpointKind::Normal, Some(Box::new(callback)))
    }

    /// Sets a breakpoint of any kind, with an optional callback.
    pub fn add_breakpoint(&mut self, addr: u64, kind: BreakpointKind, callback: Option<BreakCallback>) -> Result<u32> {
        self.add_breakpoint_numbered(addr, kind, callback, false)
    }

    /// A short-lived breakpoint of the trace's own (a step's, `run_until`'s):
    /// its id is not one of the user's numbers (see [`TEMPORARY_IDS`]).
    pub(super) fn add_temporary_breakpoint(&mut self, addr: u64, kind: BreakpointKind) -> Result<u32> {
        self.add_breakpoint_numbered(addr, kind, None, true)
    }

    fn add_breakpoint_numbered(
        &mut self,
        addr: u64,
        kind: BreakpointKind,
        callback: Option<BreakCallback>,
        temporary: bool,
    ) -> Result<u32> {
        self.require_stopped()?;
        if kind == BreakpointKind::InProcess {
            let id = self.add_in_process_breakpoint(addr, super::InProcessOptions::default())?;
            if let Some(callback) = callback {
                self.breakpoints.entry_mut(id)?.callback = Some(Shared::new(callback.into()));
            }
            return Ok(id);
        }
        if let Some(&id) = self.breakpoints.by_addr.get(&addr) {
            return Err(Error::DuplicateBreakpoint { id, addr });
        }
        let id = if temporary { self.breakpoints.allocate_temporary_id() } else { self.breakpoints.allocate_id() };
        let info = Breakpoint { id, addr, kind, enabled: true, hits: 0, expr: None, resolved: true };
        self.place_breakpoint(Entry::new(info, callback))?;
        Ok(id)
    }

    /// A fast breakpoint of the trace's own (library hook, hook returns): not
    /// listed, not removable by the user.
    pub(super) fn add_internal_breakpoint(
        &mut self,
        addr: u64,
        expr: Option<String>,
        callback: BreakCallback,
    ) -> Result<u32> {
        let id = self.breakpoints.allocate_temporary_id();
        let info = Breakpoint { id, addr, kind: BreakpointKind::Fast, enabled: true, hits: 0, expr, resolved: true };
        let mut entry = Entry::new(info, Some(callback));
        entry.internal = true;
        self.place_breakpoint(entry)?;
        Ok(id)
    }

    /// Puts a resolved entry into the table and its instruction into memory.
    pub(super) fn place_breakpoint(&mut self, entry: Entry) -> Result<()> {
        self.try_place_breakpoint(entry).map_err(|failed| failed.0)
    }

    /// [`Trace::place_breakpoint`], handing the entry back with the error.
    pub(super) fn try_place_breakpoint(&mut self, mut entry: Entry) -> std::result::Result<(), Box<(Error, Entry)>> {
        let (id, addr) = (entry.info.id, entry.info.addr);
        if let Some(&other) = self.breakpoints.by_addr.get(&addr) {
            return Err(Box::new((Error::DuplicateBreakpoint { id: other, addr }, entry)));
        }
        if let Err(error) = self.check_write_over_pads(addr, 1) {
            return Err(Box::new((error, entry)));
        }
        if let Err(error) = self.insert_break_bytes(&mut entry) {
            return Err(Box::new((error, entry)));
        }
        self.breakpoints.by_addr.insert(addr, id);
        self.breakpoints.by_id.insert(id, entry);
        Ok(())
    }

    /// Moves breakpoint `id`, placed or deferred, to `addr`, keeping its id,
    /// kind, state, hits, condition and callback: a debugger placing a pending
    /// breakpoint where its location resolved (after the prologue, say), not
    /// where its expression did. On an error the breakpoint is where it was.
    pub fn move_breakpoint(&mut self, id: u32, addr: u64) -> Result<()> {
        self.require_stopped()?;
        match self.breakpoints.by_addr.get(&addr) {
            Some(&other) if other == id => return Ok(()),
            Some(&other) => return Err(Error::DuplicateBreakpoint { id: other, addr }),
            None => {}
        }
        let (mut entry, was_deferred) = match self.breakpoints.deferred.remove(&id) {
            Some(entry) => (entry, true),
            None => {
                let entry = self.breakpoints.by_id.get_mut(&id).filter(|e| !e.internal);
                let mut entry = entry.ok_or(Error::NoSuchBreakpoint(id))?.clone();
                self.remove_break_bytes(&mut entry)?;
                self.breakpoints.by_addr.remove(&entry.info.addr);
                self.breakpoints.by_id.remove(&id);
                (entry, false)
            }
        };
        let old = (entry.info.addr, entry.info.resolved);
        entry.info.addr = addr;
        entry.info.resolved = true;
        entry.lifted = None;
        entry.emulation = None;
        let Err(failed) = self.try_place_breakpoint(entry) else { return Ok(()) };
        let (error, mut entry) = *failed;
        (entry.info.addr, entry.info.resolved) = old;
        if was_deferred {
            self.breakpoints.deferred.insert(id, entry);
        } else {
            // Back where it was (its bytes were there a moment ago).
            self.place_breakpoint(entry)?;
        }
        Err(error)
    }

    /// Makes placed breakpoint `id` wait, deferred and unresolved, without
    /// touching memory: for a breakpoint whose code is gone (its library was
    /// unloaded), where writing its original bytes back could land in
    /// whatever is mapped there now. [`Trace::move_breakpoint`] places it
    /// again; it keeps its id, state and hits meanwhile.
    pub fn unplace_breakpoint(&mut self, id: u32) -> Result<()> {
        match self.breakpoints.by_id.get(&id) {
            Some(entry) if !entry.internal => {
                let mut entry = self.breakpoints.by_id.remove(&id).expect("just seen");
                self.breakpoints.by_addr.remove(&entry.info.addr);
                entry.saved = None;
                entry.lifted = None;
                entry.emulation = None;
                entry.info.addr = 0;
                entry.info.resolved = false;
                self.breakpoints.deferred.insert(id, entry);
                Ok(())
            }
            _ if self.breakpoints.deferred.contains_key(&id) => Ok(()),
            _ => Err(Error::NoSuchBreakpoint(id)),
        }
    }

    /// Takes breakpoint `id` out of memory and out of the table, for a run
    /// that needs its address (see [`Trace::put_breakpoint_back`]).
    pub(super) fn take_breakpoint_out(&mut self, id: u32) -> Result<Entry> {
        let mut entry = self.breakpoints.by_id.get(&id).ok_or(Error::NoSuchBreakpoint(id))?.clone();
        self.remove_break_bytes(&mut entry)?;
        self.breakpoints.by_id.remove(&id);
        self.breakpoints.by_addr.remove(&entry.info.addr);
        Ok(entry)
    }

    /// Puts an entry [`Trace::take_breakpoint_out`] took back: into memory
    /// if the process is stopped, else only into the table (a process that
    /// ended meanwhile has no memory to patch).
    pub(super) fn put_breakpoint_back(&mut self, mut entry: Entry) -> Result<()> {
        entry.lifted = None;
        if self.breakpoints.by_addr.contains_key(&entry.info.addr) {
            return Ok(()); // something else took the address meanwhile: the entry is dropped
        }
        if self.is_attached() && !self.is_running() {
            return self.place_breakpoint(entry);
        }
        self.breakpoints.by_addr.insert(entry.info.addr, entry.info.id);
        self.breakpoints.by_id.insert(entry.info.id, entry);
        Ok(())
    }

    /// Sets a breakpoint at `addr` that is a copy of breakpoint `id` (kind,
    /// enabled state, condition and callback shared with it, no hits yet):
    /// another location of the same breakpoint. It has the same expression,
    /// so that it waits (deferred) when its library is unloaded, as the
    /// original does. Its id takes no number from the user's (see
    /// `TEMPORARY_IDS`). Returns its id.
    pub fn add_breakpoint_like(&mut self, id: u32, addr: u64) -> Result<u32> {
        self.require_stopped()?;
        if let Some(&other) = self.breakpoints.by_addr.get(&addr) {
            return Err(Error::DuplicateBreakpoint { id: other, addr });
        }
        let model = self.breakpoints.entry_mut(id)?;
        let (kind, enabled) = (model.info.kind, model.info.enabled);
        let (callback, condition, expr) = (model.callback.clone(), model.condition.clone(), model.info.expr.clone());
        let new_id = self.breakpoints.allocate_temporary_id();
        let info = Breakpoint { id: new_id, addr, kind, enabled, hits: 0, expr, resolved: true };
        let entry = Entry { callback, condition, ..Entry::new(info, None) };
        self.place_breakpoint(entry)?;
        Ok(new_id)
    }

    /// Sets a breakpoint that counts, stops and notifies only when `condition` is true at the hit.
    pub fn add_break_if(&mut self, addr: u64, condition: impl FnMut(&mut Trace) -> bool + 'static) -> Result<u32> {
        let id = self.add_breakpoint(addr, BreakpointKind::Normal, None)?;
        self.set_breakpoint_condition(id, Some(Box::new(condition)))?;
        Ok(id)
    }

    /// Sets or clears a breakpoint's condition (deferred breakpoints too).
    pub fn set_breakpoint_condition(&mut self, id: u32, condition: Option<BreakCondition>) -> Result<()> {
        self.breakpoints.entry_mut(id)?.condition = condition.map(|c| Shared::new(c.into()));
        Ok(())
    }

    /// Sets a breakpoint's callback (deferred breakpoints too), replacing any.
    pub fn set_breakpoint_callback(
        &mut self,
        id: u32,
        callback: impl FnMut(&mut Trace, &Event) + 'static,
    ) -> Result<()> {
        let callback: BreakCallback = Box::new(callback);
        self.breakpoints.entry_mut(id)?.callback = Some(Shared::new(callback.into()));
        Ok(())
    }

    /// Removes a breakpoint, restoring the original bytes.
    pub fn remove_breakpoint(&mut self, id: u32) -> Result<()> {
        if self.breakpoints.deferred.remove(&id).is_some() {
            return Ok(());
        }
        if self.breakpoints.by_id.get(&id).is_some_and(|e| e.internal) {
            return Err(Error::NoSuchBreakpoint(id));
        }
        let mut entry = self.breakpoints.by_id.remove(&id).ok_or(Error::NoSuchBreakpoint(id))?;
        self.breakpoints.by_addr.remove(&entry.info.addr);
        if self.is_attached() {
            self.remove_break_bytes(&mut entry)?;
        }
        if entry.info.kind == BreakpointKind::InProcess {
            self.forget_in_process(id)?;
        }
        Ok(())
    }

    /// Enables or disables a breakpoint (a disabled one is out of memory;
    /// a deferred one is placed disabled, or not at all).
    pub fn set_breakpoint_enabled(&mut self, id: u32, enabled: bool) -> Result<()> {
        if let Some(entry) = self.breakpoints.deferred.get_mut(&id) {
            entry.info.enabled = enabled;
            return Ok(());
        }
        self.require_stopped()?;
        let mut entry = self.breakpoints.by_id.remove(&id).ok_or(Error::NoSuchBreakpoint(id))?;
        entry.info.enabled = enabled;
        let result = if enabled { self.insert_break_bytes(&mut entry) } else { self.remove_break_bytes(&mut entry) };
        self.breakpoints.by_id.insert(id, entry);
        result
    }

    /// Makes the next breakpoint, watchpoint or page watch get the id `id`
    /// (to keep a debugger's numbers when it sets its breakpoints again in a
    /// new process), unless one already has that id or a higher one: then
    /// nothing changes and the answer is false.
    pub fn set_next_breakpoint_id(&mut self, id: u32) -> bool {
        let b = &self.breakpoints;
        // The trace's own temporary ids are apart (see TEMPORARY_IDS).
        let highest = [
            b.by_id.range(..TEMPORARY_IDS).next_back().map(|(id, _)| id),
            b.deferred.range(..TEMPORARY_IDS).next_back().map(|(id, _)| id),
            self.watchpoints.range(..TEMPORARY_IDS).next_back().map(|(id, _)| id),
            self.page_watches.range(..TEMPORARY_IDS).next_back().map(|(id, _)| id),
        ]
        .into_iter()
        .flatten()
        .max()
        .copied();
        if highest.is_some_and(|h| h >= id) {
            return false;
        }
        self.breakpoints.next_id = id;
        true
    }

    /// The id the next breakpoint, watchpoint or page watch will get.
    pub fn next_breakpoint_id(&self) -> u32 {
        self.breakpoints.next_id
    }

    /// Takes the next id of the numbering breakpoints, watchpoints and page
    /// watches share, without making anything: for a debugger's own
    /// numbered items (gdb numbers its catchpoints among its breakpoints).
    pub fn reserve_breakpoint_id(&mut self) -> u32 {
        self.breakpoints.allocate_id()
    }

    /// One breakpoint, placed or deferred.
    pub fn breakpoint(&self, id: u32) -> Option<&Breakpoint> {
        self.breakpoints.by_id.get(&id).or_else(|| self.breakpoints.deferred.get(&id)).map(|e| &e.info)
    }

    /// The breakpoint at an address.
    pub fn breakpoint_at(&self, addr: u64) -> Option<&Breakpoint> {
        self.breakpoint(*self.breakpoints.by_addr.get(&addr)?)
    }

    /// Every breakpoint, by id.
    pub fn breakpoints(&self) -> Vec<Breakpoint> {
        let resolved = self.breakpoints.by_id.values().filter(|e| !e.internal);
        let mut list: Vec<Breakpoint> =
            resolved.chain(self.breakpoints.deferred.values()).map(|e| e.info.clone()).collect();
        list.sort_by_key(|b| b.id);
        list
    }

    fn insert_break_bytes(&mut self, entry: &mut Entry) -> Result<()> {
        if entry.saved.is_some() || !entry.info.enabled {
            return Ok(());
        }
        if self.pads.sites.contains_key(&entry.info.id) {
            return self.patch_site(entry.info.id);
        }
        // Other threads must not trap on a breakpoint half-way through a change.
        self.ensure_all_stopped()?;
        let insn = self.arch.break_instruction;
        let mut saved = vec![0; insn.len()];
        self.platform.read_memory(entry.info.addr, &mut saved)?;
        self.poke_break(entry.info.addr)?;
        entry.saved = Some(saved);
        Ok(())
    }

    /// Takes an entry's instruction out of memory (for entries already out of the table).
    pub(super) fn lift_entry(&mut self, entry: &mut Entry) -> Result<()> {
        self.remove_break_bytes(entry)
    }

    fn remove_break_bytes(&mut self, entry: &mut Entry) -> Result<()> {
        if self.pads.sites.contains_key(&entry.info.id) {
            return self.unpatch_site(entry.info.id);
        }
        if let Some(saved) = entry.saved.take() {
            // A thread that trapped on it meanwhile must be rewound while it is still ours.
            if let Err(e) = self.ensure_all_stopped() {
                entry.saved = Some(saved);
                return Err(e);
            }
            if let Err(e) = self.unpoke_break(entry.info.addr, &saved) {
                entry.saved = Some(saved);
                return Err(e);
            }
        }
        Ok(())
    }

    /// Writes the break instruction at `addr`, unless breakpoints are out of
    /// memory while stopped (then it goes in when the process resumes).
    fn poke_break(&mut self, addr: u64) -> Result<()> {
        match self.parking.parked {
            true => Ok(()),
            false => self.platform.insert_break(addr, self.arch.break_instruction),
        }
    }

    /// Puts `original` back at `addr`, unless it is there already (breakpoints out while stopped).
    fn unpoke_break(&mut self, addr: u64, original: &[u8]) -> Result<()> {
        match self.parking.parked {
            true => Ok(()),
            false => self.platform.remove_break(addr, original),
        }
    }

    /// Takes one breakpoint's instruction out of memory for a moment (stepping over it).
    pub(super) fn lift_breakpoint(&mut self, id: u32) -> Result<()> {
        let mut entry = self.breakpoints.by_id.remove(&id).expect("breakpoint exists");
        let saved = entry.saved.clone();
        let result = self.remove_break_bytes(&mut entry);
        if result.is_ok() {
            entry.lifted = saved;
        }
        self.breakpoints.by_id.insert(id, entry);
        result
    }

    /// Puts a lifted breakpoint back, if it still exists and is enabled.
    pub(super) fn restore_breakpoint(&mut self, id: u32) -> Result<()> {
        let Some(mut entry) = self.breakpoints.by_id.remove(&id) else { return Ok(()) };
        let result = match entry.lifted.take() {
            // The original bytes are known: only the break instruction is written.
            Some(saved) if entry.info.enabled && entry.saved.is_none() => {
                let written = self.poke_break(entry.info.addr);
                if written.is_ok() {
                    entry.saved = Some(saved);
                }
                written
            }
            _ => self.insert_break_bytes(&mut entry),
        };
        self.breakpoints.by_id.insert(id, entry);
        result
    }

    /// How to leave breakpoint `id` without a single step, if its instruction can be emulated.
    /// Decoded on first use and kept.
    pub(super) fn breakpoint_emulation(&mut self, id: u32) -> Option<Emulated> {
        let entry = self.breakpoints.by_id.get(&id)?;
        if let Some(known) = entry.emulation {
            return known;
        }
        let addr = entry.info.addr;
        let mut code = [0u8; 4];
        let decoded = match self.arch.name {
            "x86_64" => self.read_into(addr, &mut code).ok().and_then(|()| crate::arch::emulate::decode(&code)),
            _ => None,
        };
        self.breakpoints.by_id.get_mut(&id)?.emulation = Some(decoded);
        decoded
    }

    /// Takes every breakpoint instruction out of memory (detach). Keeps the table.
    pub(super) fn remove_all_break_bytes(&mut self) -> Result<()> {
        let ids: Vec<u32> = self.breakpoints.by_id.keys().copied().collect();
        let mut first_error = None;
        for id in ids {
            if let Err(e) = self.lift_breakpoint(id) {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// After exec the old image is gone, and with it every inserted byte.
    pub(super) fn forget_break_bytes(&mut self) {
        self.pads.forget_memory();
        for entry in self.breakpoints.by_id.values_mut() {
            entry.saved = None;
            entry.lifted = None;
            entry.emulation = None;
        }
    }

    /// Replaces inserted break instructions in `buf` (read at `addr`) by the original bytes.
    pub(super) fn hide_break_bytes(&self, addr: u64, buf: &mut [u8]) {
        self.hide_pad_bytes(addr, buf);
        let end = addr.saturating_add(buf.len() as u64);
        let first = addr.saturating_sub(self.arch.break_instruction.len() as u64 - 1);
        for (&bp_addr, id) in self.breakpoints.by_addr.range(first..end) {
            if let Some(saved) = &self.breakpoints.by_id[id].saved {
                overlay(buf, addr, bp_addr, saved);
            }
        }
    }

    /// Writes `data` at `addr`, keeping inserted break instructions in place and
    /// updating the bytes they will restore.
    pub(super) fn write_around_breaks(&mut self, addr: u64, data: &[u8]) -> Result<()> {
        self.check_write_over_pads(addr, data.len() as u64)?;
        let end = addr.saturating_add(data.len() as u64);
        let first = addr.saturating_sub(self.arch.break_instruction.len() as u64 - 1);
        let hits: Vec<u32> = self.breakpoints.by_addr.range(first..end).map(|(_, &id)| id).collect();
        if hits.is_empty() {
            return self.platform.write_memory(addr, data);
        }
        let mut patched = data.to_vec();
        for id in hits {
            let entry = self.breakpoints.by_id.get_mut(&id).expect("breakpoint exists");
            let Some(saved) = entry.saved.as_mut() else {
                continue;
            };
            // The new bytes become the saved ones; memory keeps the break
            // instruction (unless breakpoints are out while stopped).
            let bp_addr = entry.info.addr;
            for (i, byte) in saved.iter_mut().enumerate() {
                let at = bp_addr + i as u64;
                if at >= addr && at < end {
                    *byte = data[(at - addr) as usize];
                }
            }
            if !self.parking.parked {
                overlay(&mut patched, addr, bp_addr, self.arch.break_instruction);
            }
        }
        self.platform.write_memory(addr, &patched)
    }
}

/// Copies `bytes` (which belong at `bytes_addr`) over the part of `buf` (at `buf_addr`) they overlap.
fn overlay(buf: &mut [u8], buf_addr: u64, bytes_addr: u64, bytes: &[u8]) {
    for (i, &b) in bytes.iter().enumerate() {
        let at = bytes_addr + i as u64;
        if at >= buf_addr && at < buf_addr + buf.len() as u64 {
            buf[(at - buf_addr) as usize] = b;
        }
    }
}
