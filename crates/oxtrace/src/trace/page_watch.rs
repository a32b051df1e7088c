//! Page watchpoints: any size of memory watched for writes (or for reads and
//! writes) by taking the permission away from its pages.
//!
//! An access to a watched page faults (SIGSEGV). A fault inside the watched
//! range is reported as [`EventKind::PageWatch`] with the pc, the address and
//! the kind of access (from decoding the faulting instruction); a fault
//! elsewhere on the same pages goes on silently. Either way the signal is not
//! delivered: before the thread runs again its page gets its permissions back
//! for one single step of the instruction and loses them again, so the access
//! happens exactly once. Removing the watchpoint, or detaching, restores the
//! pages' permissions.

use iced_x86::{Decoder, DecoderOptions, InstructionInfoFactory, OpAccess};

use super::{Trace, WatchKind};
use crate::error::{Error, Result, Tid};
use crate::event::{EventKind, SignalInfo};
use crate::memory::Perms;
use crate::platform::{Stop, StopReason};

/// The page size of x86_64 Linux.
const PAGE: u64 = 4096;

/// The kind of access that hit a page watchpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageAccess {
    /// A read of data.
    Read,
    /// A write of data.
    Write,
    /// An instruction fetch.
    Execute,
}

/// A page watchpoint as the user sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageWatch {
    /// Its id (shared with breakpoints and watchpoints).
    pub id: u32,
    /// The first watched byte.
    pub addr: u64,
    /// How many bytes are watched.
    pub len: u64,
    /// What is watched: writes, or reads and writes.
    pub kind: WatchKind,
    /// The pages covered, with the permissions they had.
    pub pages: Vec<(u64, Perms)>,
}

impl PageWatch {
    fn contains(&self, addr: u64) -> bool {
        addr >= self.addr && addr - self.addr < self.len
    }

    pub(super) fn page_of(&self, addr: u64) -> Option<(u64, Perms)> {
        self.pages.iter().copied().find(|(page, _)| addr & !(PAGE - 1) == *page)
    }

    /// The permissions a page keeps while watched.
    fn watched(&self, original: Perms) -> Perms {
        match self.kind {
            WatchKind::Write => Perms { write: false, ..original },
            _ => Perms { read: false, write: false, exec: false, ..original },
        }
    }
}

impl Trace {
    /// Watches `len` bytes at `addr` for writes (`WatchKind::Write`) or for
    /// reads and writes (`WatchKind::ReadWrite`), through page protection.
    /// Returns its id. Every page must be mapped and watched by no other page watchpoint.
    pub fn add_page_watch(&mut self, addr: u64, len: u64, kind: WatchKind) -> Result<u32> {
        self.require_stopped()?;
        if kind == WatchKind::Execute {
            return Err(Error::InvalidArgument("page watchpoints watch data: use Write or ReadWrite".into()));
        }
        let end = addr
            .checked_add(len)
            .filter(|_| len > 0)
            .ok_or_else(|| Error::InvalidArgument(format!("cannot watch {len} bytes at {addr:#x}")))?;
        let mut pages = Vec::new();
        let mut page = addr & !(PAGE - 1);
        while page < end {
            if let Some(other) = self.page_watches.values().find(|w| w.page_of(page).is_some()) {
                return Err(Error::InvalidArgument(format!(
                    "page {page:#x} is already watched by page watchpoint {}",
                    other.id
                )));
            }
            let map = self.memory_map(page)?.ok_or(Error::Memory {
                pid: self.pid,
                access: "watch",
                addr: page,
                len: PAGE as usize,
                reason: "not mapped".into(),
            })?;
            pages.push((page, map.perms));
            page += PAGE;
        }
        let id = self.breakpoints.allocate_id();
        let watch = PageWatch { id, addr, len, kind, pages };
        for (page, original) in watch.pages.clone() {
            self.protect_memory(page, PAGE, watch.watched(original))?;
        }
        self.page_watches.insert(id, watch);
        Ok(id)
    }

    /// Removes a page watchpoint and gives its pages their permissions back.
    pub fn remove_page_watch(&mut self, id: u32) -> Result<()> {
        self.require_stopped()?;
        let watch = self.page_watches.remove(&id).ok_or(Error::NoSuchBreakpoint(id))?;
        for (page, original) in watch.pages {
            self.protect_memory(page, PAGE, original)?;
        }
        Ok(())
    }

    /// The page watchpoints, by id.
    pub fn page_watches(&self) -> Vec<PageWatch> {
        self.page_watches.values().cloned().collect()
    }

    /// Gives every watched page its permissions back (before detaching).
    pub(super) fn remove_all_page_watches(&mut self) -> Result<()> {
        let ids: Vec<u32> = self.page_watches.keys().copied().collect();
        ids.into_iter().try_for_each(|id| self.remove_page_watch(id))
    }

    /// A SIGSEGV on a watched page: the event to report (`None` when the access
    /// was outside the watched range and goes on silently). The thread steps
    /// the access with the page open before it runs again.
    pub(super) fn watched_page_fault(&mut self, tid: Tid, info: &SignalInfo) -> Option<Option<EventKind>> {
        if info.signo != crate::signals::SIGSEGV || self.page_watches.is_empty() {
            return None;
        }
        let addr = info.fault_addr?;
        let watch = self.page_watches.values().find(|w| w.page_of(addr).is_some())?.clone();
        self.page_steps.insert(tid, addr);
        if !watch.contains(addr) {
            return Some(None);
        }
        let pc = self.thread_pc(tid).unwrap_or(0);
        let access = if pc == addr { PageAccess::Execute } else { self.access_at(pc) };
        Some(Some(EventKind::PageWatch { id: watch.id, pc, addr, access }))
    }

    /// Whether the instruction at `pc` writes memory (else it reads it).
    fn access_at(&mut self, pc: u64) -> PageAccess {
        let mut code = [0u8; 15];
        let len = (1..=code.len()).rev().find(|&n| self.read_into(pc, &mut code[..n]).is_ok()).unwrap_or(0);
        let bitness = self.arch.x86_bitness().unwrap_or(64);
        let insn = Decoder::with_ip(bitness, &code[..len], pc, DecoderOptions::NONE).decode();
        let mut factory = InstructionInfoFactory::new();
        let writes = factory.info(&insn).used_memory().iter().any(|m| {
            matches!(m.access(), OpAccess::Write | OpAccess::CondWrite | OpAccess::ReadWrite | OpAccess::ReadCondWrite)
        });
        if writes {
            PageAccess::Write
        } else {
            PageAccess::Read
        }
    }

    /// Lets each thread that faulted on a watched page make its access: the
    /// page is opened, the thread stepped, the page closed again. A stop other
    /// than the step is returned, to be reported first.
    pub(super) fn step_over_page_faults(&mut self) -> Result<Option<Stop>> {
        let todo: Vec<(Tid, u64)> = self.page_steps.drain().collect();
        let current = self.current_tid;
        let mut other_stop = None;
        for (tid, addr) in todo {
            if other_stop.is_some() || !self.platform.has_thread(tid) {
                continue;
            }
            self.pending_signals.remove(&tid);
            let Some(watch) = self.page_watches.values().find(|w| w.page_of(addr).is_some()).cloned() else {
                continue;
            };
            let (page, original) = watch.page_of(addr).expect("found by page");
            self.current_tid = tid;
            self.protect_memory(page, PAGE, original)?;
            let stop = self.step_thread(tid)?;
            self.protect_memory(page, PAGE, watch.watched(original))?;
            if stop.tid != tid || stop.reason != StopReason::Step {
                other_stop = Some(stop);
            }
        }
        self.current_tid = current;
        Ok(other_stop)
    }
}
