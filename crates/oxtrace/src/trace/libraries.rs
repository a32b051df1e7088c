//! Shared libraries as they load and unload, and breakpoints deferred until
//! their library is there.
//!
//! Tracking uses the dynamic linker's debugger hook: glibc's `ld.so` calls
//! `_dl_debug_state` (the `r_brk` of its `r_debug`) before and after every
//! change to its list of loaded objects. The trace keeps an internal fast
//! breakpoint there; at each hit it reads the linker's list (`r_map`, the
//! `link_map` chain: what is loaded) and the maps (where), fires `LibraryLoaded`
//! and `LibraryUnloaded` for what changed, resolves deferred breakpoints and
//! defers again those whose library went away (so they hit again when it
//! comes back). Tracking turns on by itself for a deferred breakpoint or a
//! library notifier, or with [`Trace::track_libraries`]; without it the
//! symbol view still follows the maps at every stop.

use super::breakpoints::Entry;
use super::{Breakpoint, BreakpointKind, Trace};
use crate::error::Result;
use crate::event::{Event, EventKind};

/// The dynamic linker's hook function, called around every load and unload.
const LINKER_HOOK: &str = "_dl_debug_state";

/// The dynamic linker's `r_debug` structure.
const R_DEBUG: &str = "_r_debug";
/// Offset of `r_map` (the first `link_map`) in `r_debug`, in pointers (it
/// follows an `int` padded to a pointer: byte 8 on x86_64, byte 4 on i386).
const R_DEBUG_MAP: u64 = 1;
/// The most entries read from the list (it is a linked list in the debuggee's memory).
const MAX_LINK_MAP: usize = 4096;

/// One object in the dynamic linker's list (`struct link_map`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkMapEntry {
    /// Where this entry (the `struct link_map`) sits in the debuggee's memory.
    pub addr: u64,
    /// Its load bias (`l_addr`): runtime address minus file address.
    pub bias: u64,
    /// Its path as the linker opened it (`l_name`; empty for the program).
    pub name: String,
    /// The address of its dynamic section (`l_ld`).
    pub dynamic: u64,
}

/// A loaded shared object (or the program itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Library {
    /// Its normalized name (`libc`), unique in the process.
    pub name: String,
    /// Its path.
    pub path: String,
    /// Its lowest mapped address.
    pub base: u64,
    /// The end of its highest map.
    pub end: u64,
}

impl Trace {
    /// Turns library tracking on (see the module docs). Returns the libraries loaded now.
    pub fn track_libraries(&mut self) -> Result<Vec<Library>> {
        if self.libraries.is_none() {
            self.require_stopped()?;
            self.libraries = Some(self.current_libraries()?);
            self.install_linker_hook()?;
        }
        Ok(self.libraries.clone().unwrap_or_default())
    }

    /// The loaded libraries, the program among them, by address.
    pub fn libraries(&mut self) -> Result<Vec<Library>> {
        self.current_libraries()
    }

    fn current_libraries(&mut self) -> Result<Vec<Library>> {
        self.refresh_symbols()?;
        let loaded = self.link_map().unwrap_or_default();
        let modules = self.symbols.as_ref().expect("refreshed").modules();
        Ok(modules
            .iter()
            // The linker's list says what is loaded (a file the program maps
            // itself is not a library); without it (a static program, or before
            // the linker ran), every mapped image counts.
            .filter(|m| loaded.is_empty() || loaded.iter().any(|entry| entry.bias == m.bias))
            .map(|m| Library { name: m.name.clone(), path: m.path.clone(), base: m.start, end: m.end })
            .collect())
    }

    /// The dynamic linker's list of loaded objects (`r_debug.r_map`), in load
    /// order: the program first (with an empty name), then its libraries and
    /// the vdso. Empty for a static program or before the linker has run.
    pub fn link_map(&mut self) -> Result<Vec<LinkMapEntry>> {
        let Some(r_debug) = self.symbols()?.sym_by_name(&format!("ld.{R_DEBUG}")) else {
            return Ok(Vec::new());
        };
        let mut entries = Vec::new();
        // `link_map` starts with four pointers: l_addr, l_name, l_ld, l_next.
        let word = self.arch.pointer_size as u64;
        let mut next = self.read_ptr(r_debug + R_DEBUG_MAP * word)?;
        while next != 0 && entries.len() < MAX_LINK_MAP {
            let [bias, name, dynamic, following] =
                [0, 1, 2, 3].map(|slot| self.read_ptr(next + slot * word).unwrap_or(0));
            let name = match name {
                0 => String::new(),
                at => String::from_utf8_lossy(&self.read_c_string(at, 4096)?).into_owned(),
            };
            entries.push(LinkMapEntry { addr: next, bias, name, dynamic });
            next = following;
        }
        Ok(entries)
    }

    /// Sets the internal breakpoint on the dynamic linker's hook, if there is a dynamic linker.
    fn install_linker_hook(&mut self) -> Result<()> {
        let Some(hook) = self.symbols()?.sym_by_name(&format!("ld.{LINKER_HOOK}")) else {
            return Ok(()); // a static program: nothing is ever loaded
        };
        if self.breakpoints.by_addr.contains_key(&hook) {
            return Ok(());
        }
        let callback = Box::new(|trace: &mut Trace, event: &Event| trace.linker_hook_hit(event.tid));
        self.add_internal_breakpoint(hook, Some(format!("ld.{LINKER_HOOK}")), callback).map(drop)
    }

    /// The dynamic linker changed its list: report what changed and fix up breakpoints.
    fn linker_hook_hit(&mut self, tid: crate::error::Tid) {
        let Ok(now) = self.current_libraries() else { return };
        let before = self.libraries.replace(now.clone()).unwrap_or_default();
        let gone: Vec<Library> = before.iter().filter(|l| !now.contains(l)).cloned().collect();
        let new: Vec<Library> = now.iter().filter(|l| !before.contains(l)).cloned().collect();
        for library in &gone {
            self.defer_breakpoints_of(library);
        }
        if !new.is_empty() {
            self.resolve_deferred();
        }
        for (library, loaded) in gone.into_iter().map(|l| (l, false)).chain(new.into_iter().map(|l| (l, true))) {
            let Library { name, path, base, .. } = library;
            let kind = if loaded {
                EventKind::LibraryLoaded { name, path, base }
            } else {
                EventKind::LibraryUnloaded { name, path, base }
            };
            self.fire_notifiers(&Event { pid: self.pid, tid, kind });
        }
    }

    /// Sets a breakpoint at an expression's value (`libc.malloc`, `prog.f+4`,
    /// `0x401000`, `poi(rsp)`...; see [`crate::expression`]). If it names a
    /// symbol that is not loaded yet, the breakpoint waits (deferred) until a
    /// library that defines it loads, and waits again whenever that library is
    /// unloaded. A malformed expression is an error that says where.
    pub fn add_break_by_expr(&mut self, expr: &str) -> Result<u32> {
        self.add_break_by_expr_when(expr, false)
    }

    /// [`Trace::add_break_by_expr`], but deferred in any case until the next
    /// library loads (a pending breakpoint made on purpose: the name may
    /// already resolve, in the dynamic linker's private copy, before the
    /// library the program calls is loaded).
    pub fn add_deferred_break_by_expr(&mut self, expr: &str) -> Result<u32> {
        crate::expression::parse(expr)?;
        self.add_break_by_expr_when(expr, true)
    }

    /// A deferred breakpoint for its caller to place with
    /// [`Trace::move_breakpoint`] once it knows where (a debugger's pending
    /// breakpoint on a name its own rules resolve, such as a Rust
    /// `<Type as Trait>::method`). `label` is listed as its expression; if it
    /// is one that resolves when a library loads, the trace places it there itself.
    pub fn add_pending_breakpoint(&mut self, label: &str) -> Result<u32> {
        if label.trim().is_empty() {
            return Err(crate::error::Error::InvalidArgument("a pending breakpoint needs a label".into()));
        }
        self.add_break_by_expr_when(label, true)
    }

    fn add_break_by_expr_when(&mut self, expr: &str, defer: bool) -> Result<u32> {
        self.require_stopped()?;
        // Malformed expressions are refused now, unless deferred (then the caller places it).
        if !defer {
            crate::expression::parse(expr)?;
        }
        let expr = expr.trim();
        let id = self.breakpoints.allocate_id();
        let info = Breakpoint {
            id,
            addr: 0,
            kind: BreakpointKind::Normal,
            enabled: true,
            hits: 0,
            expr: Some(expr.to_owned()),
            resolved: false,
        };
        let mut entry = Entry::new(info, None);
        let now = if defer { None } else { self.resolve_breakpoint_expr(expr)? };
        match now {
            Some(addr) => {
                entry.info.addr = addr;
                entry.info.resolved = true;
                self.place_breakpoint(entry)?;
            }
            None => {
                self.breakpoints.deferred.insert(id, entry);
                self.track_libraries()?;
            }
        }
        Ok(id)
    }

    /// Moves every deferred breakpoint whose expression now resolves into memory.
    fn resolve_deferred(&mut self) {
        let ids: Vec<u32> = self.breakpoints.deferred.keys().copied().collect();
        for id in ids {
            let expr = self.breakpoints.deferred[&id].info.expr.clone().unwrap_or_default();
            let Ok(Some(addr)) = self.resolve_breakpoint_expr(&expr) else { continue };
            let mut entry = self.breakpoints.deferred.remove(&id).expect("listed above");
            entry.info.addr = addr;
            entry.info.resolved = true;
            if let Err(failed) = self.try_place_breakpoint(entry) {
                let (_, mut failed) = *failed;
                failed.info.addr = 0;
                failed.info.resolved = false;
                self.breakpoints.deferred.insert(id, failed);
            }
        }
    }

    /// After exec: the old image's breakpoints by expression (by name) wait to
    /// be resolved in the new one, as gdb re-sets breakpoints by their
    /// location; breakpoints by address are dropped, since their address
    /// meant the old image. The linker hook is set again if tracking was on.
    pub(super) fn libraries_after_exec(&mut self) -> Result<()> {
        self.breakpoints.by_addr.clear();
        for (id, mut entry) in std::mem::take(&mut self.breakpoints.by_id) {
            if !entry.internal && entry.info.expr.is_some() {
                entry.info.addr = 0;
                entry.info.resolved = false;
                self.breakpoints.deferred.insert(id, entry);
            }
        }
        if self.libraries.take().is_some() {
            self.track_libraries()?;
        }
        self.resolve_deferred();
        Ok(())
    }

    /// Breakpoints set by expression inside an unloaded library wait for it again.
    fn defer_breakpoints_of(&mut self, library: &Library) {
        let inside =
            |e: &&Entry| !e.internal && e.info.expr.is_some() && (library.base..library.end).contains(&e.info.addr);
        let ids: Vec<u32> = self.breakpoints.by_id.values().filter(inside).map(|e| e.info.id).collect();
        // The library's pages are gone, and the break instruction with them: nothing to write back.
        for id in ids {
            self.unplace_breakpoint(id).expect("a user breakpoint listed above");
        }
    }
}
