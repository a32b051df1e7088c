//! Loading a DLL into the debuggee: a thread of its own calling
//! `LoadLibraryW` (`CreateRemoteThread`), with the other threads suspended.

use std::collections::VecDeque;

use super::{sys, WindowsProcess};
use crate::error::{Error, Result, Tid};
use crate::event::ExitStatus;
use crate::memory::Perms;
use crate::platform::{Stop, StopReason};

impl WindowsProcess {
    /// Loads a DLL through a thread of the debuggee calling `LoadLibraryW`;
    /// the other threads stay where they are. Returns the DLL's base.
    pub(super) fn load_library(&mut self, path: &str) -> Result<u64> {
        let process = self.process()?;
        let kernel32 = self
            .libraries
            .iter()
            .find(|(_, p)| crate::symbols::normalize_module_name(p) == "kernel32")
            .map(|(&base, _)| base)
            .ok_or_else(|| Error::NoSuchSymbol("LoadLibraryW (kernel32 is not loaded)".into()))?;
        let offset = sys::export_offset("kernel32.dll", "LoadLibraryW")
            .ok_or_else(|| Error::NoSuchSymbol("kernel32.LoadLibraryW".into()))?;
        let wide: Vec<u8> = path.encode_utf16().chain([0]).flat_map(u16::to_le_bytes).collect();
        let text =
            self.allocate(wide.len() as u64, Perms { read: true, write: true, exec: false, shared: false }, None)?;
        self.write_mem(text, &wide)?;
        // Every other thread stays stopped while the loader runs in the new one.
        let others: Vec<Tid> = self.threads.keys().copied().collect();
        for &tid in &others {
            self.suspend_thread(tid)?;
        }
        let loader = sys::create_remote_thread(process, kernel32 + offset, text)
            .map_err(|e| self.os_error("CreateRemoteThread", e))? as Tid;
        let before: Vec<u64> = self.libraries.keys().copied().collect();
        self.continue_held(true)?;
        let outcome = loop {
            let Some(stop) = self.wait_event(None)? else { continue };
            match &stop.reason {
                StopReason::ThreadExited(status) if stop.tid == loader => break Ok(*status),
                StopReason::Exited(_) => {
                    self.pending.push_back(stop);
                    break Err(Error::ProcessExited { pid: self.pid });
                }
                StopReason::ThreadCreated { new_tid } if *new_tid == loader => {}
                _ => self.pending.push_back(stop),
            }
            if stop_is_loader_exception(&self.pending, loader) {
                // The loader thread crashed: give its exception back to it.
                let _ = self.pending.pop_back();
                self.continue_held(false)?;
                continue;
            }
            self.continue_held(true)?;
        };
        let _ = self.free(text);
        let status = outcome?;
        let new = self.libraries.keys().copied().find(|b| !before.contains(b));
        let wanted = crate::symbols::normalize_module_name(path);
        let base = new
            .or_else(|| {
                self.libraries.iter().find(|(_, p)| crate::symbols::normalize_module_name(p) == wanted).map(|(&b, _)| b)
            })
            .filter(|_| status != ExitStatus::Code(0));
        base.ok_or_else(|| Error::File { path: path.to_owned(), reason: "LoadLibraryW failed".into() })
    }
}

/// Whether the last kept stop is an exception of the loader thread (its crash).
fn stop_is_loader_exception(pending: &VecDeque<Stop>, loader: Tid) -> bool {
    pending.back().is_some_and(|s| s.tid == loader && matches!(s.reason, StopReason::Signal(_)))
}
