//! Debug events turned into [`Stop`]s.

use std::cell::RefCell;

use super::sys::{self, DebugEvent, RawEvent};
use super::{ThreadInfo, WindowsProcess};
use crate::error::{Result, Tid};
use crate::event::{ExceptionInfo, ExitStatus, SignalInfo};
use crate::platform::{Stop, StopReason};
use crate::signals::{SIGBUS, SIGEXCEPTION, SIGFPE, SIGILL, SIGSEGV};
use crate::trace::PageAccess;

/// The breakpoint instruction.
const INT3: u8 = 0xcc;
/// `STATUS_BREAKPOINT`: an `int3`.
pub(super) const BREAKPOINT: u32 = 0x8000_0003;
/// The breakpoint of a 32-bit program under WOW64.
pub(super) const WX86_BREAKPOINT: u32 = 0x4000_001f;
/// `STATUS_SINGLE_STEP`: a trap-flag step or a debug-register hit.
pub(super) const SINGLE_STEP: u32 = 0x8000_0004;
/// The single step of a 32-bit program under WOW64.
const WX86_SINGLE_STEP: u32 = 0x4000_001e;
/// `STATUS_ACCESS_VIOLATION`.
const ACCESS_VIOLATION: u32 = 0xc000_0005;
/// `STATUS_GUARD_PAGE_VIOLATION`: the first touch of a guard page.
const GUARD_PAGE: u32 = 0x8000_0001;
/// `STATUS_IN_PAGE_ERROR`: a mapped file could not be read.
const IN_PAGE_ERROR: u32 = 0xc000_0006;

thread_local! {
    /// Events this thread received for processes of other traces on the same thread.
    static MAILBOX: RefCell<Vec<RawEvent>> = const { RefCell::new(Vec::new()) };
}

/// Keeps an event of another process for its trace's next wait.
pub(super) fn mail(event: RawEvent) {
    MAILBOX.with(|m| m.borrow_mut().push(event));
}

/// The oldest kept event of process `pid`.
pub(super) fn take_mailed(pid: u32) -> Option<RawEvent> {
    MAILBOX.with(|m| {
        let mut m = m.borrow_mut();
        let i = m.iter().position(|e| e.pid == pid)?;
        Some(m.remove(i))
    })
}

/// What an event means to the backend.
pub(super) enum Decoded {
    /// A stop to report.
    Stop(Stop),
    /// The backend's own business: continue it.
    Absorbed,
    /// The break the backend asked for to stop the process: it stays stopped.
    Halted,
}

/// The signal number a Windows exception is reported under.
fn signal_of(code: u32) -> i32 {
    match code {
        ACCESS_VIOLATION | GUARD_PAGE | 0xc000_00fd => SIGSEGV, // ... and STATUS_STACK_OVERFLOW
        IN_PAGE_ERROR | 0x8000_0002 => SIGBUS,                  // ... and STATUS_DATATYPE_MISALIGNMENT
        0xc000_001d | 0xc000_0096 => SIGILL,                    // illegal and privileged instructions
        0xc000_008c..=0xc000_0095 | 0xc000_02b4 | 0xc000_02b5 => SIGFPE, // integer and float errors
        _ => SIGEXCEPTION,
    }
}

impl WindowsProcess {
    /// Decodes one event of this process (which now stands in it).
    pub(super) fn decode(&mut self, event: RawEvent) -> Result<Decoded> {
        let tid = event.tid as Tid;
        let stop = |reason| Decoded::Stop(Stop { tid, reason });
        Ok(match event.event {
            DebugEvent::CreateProcess { process, thread, file, base, start, teb } => {
                self.process = Some(process);
                self.main_tid = tid;
                self.threads.insert(tid, ThreadInfo::new(thread, teb));
                self.image_base = base;
                self.entry = start;
                self.exe_path = file.and_then(|f| sys::final_path(f.get()));
                Decoded::Absorbed
            }
            DebugEvent::CreateThread { thread, teb } => {
                self.threads.insert(tid, ThreadInfo::new(thread, teb));
                stop(StopReason::ThreadCreated { new_tid: tid })
            }
            DebugEvent::ExitThread { code } => {
                self.threads.remove(&tid);
                stop(StopReason::ThreadExited(ExitStatus::Code(code as i32)))
            }
            DebugEvent::ExitProcess { code } => {
                // Let the system finish the process: nothing of it can be done any more.
                self.continue_held(true)?;
                self.gone = true;
                self.threads.clear();
                stop(StopReason::Exited(ExitStatus::Code(code as i32)))
            }
            DebugEvent::LoadDll { file, base } => {
                let path = file
                    .and_then(|f| sys::final_path(f.get()))
                    .or_else(|| self.process.and_then(|p| sys::mapped_file_name(p, base)))
                    .unwrap_or_else(|| format!("{base:#x}"));
                self.libraries.insert(base, path.clone());
                stop(StopReason::LibraryLoaded { path, base })
            }
            DebugEvent::UnloadDll { base } => match self.libraries.remove(&base) {
                Some(path) => stop(StopReason::LibraryUnloaded { path, base }),
                None => Decoded::Absorbed,
            },
            DebugEvent::DebugString { addr, unicode, len } => {
                stop(StopReason::DebugString(self.debug_string(addr, unicode, len)))
            }
            DebugEvent::Rip { error, kind } => stop(StopReason::DebugError { error, kind }),
            DebugEvent::Exception { code, address, first_chance, params } => {
                self.exception(tid, code, address, first_chance, &params)?
            }
        })
    }

    /// The text of an `OUTPUT_DEBUG_STRING` event, without its terminating NUL.
    fn debug_string(&mut self, addr: u64, unicode: bool, len: u16) -> String {
        let units = usize::from(len);
        let mut bytes = vec![0u8; if unicode { units * 2 } else { units }];
        if self.read_mem(addr, &mut bytes).is_err() {
            return String::new();
        }
        let text = if unicode {
            let wide: Vec<u16> = bytes.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
            String::from_utf16_lossy(&wide)
        } else {
            String::from_utf8_lossy(&bytes).into_owned()
        };
        text.trim_end_matches('\0').to_owned()
    }

    /// Whether `addr` lies in ntdll, where `DebugBreakProcess`'s thread breaks.
    fn in_ntdll(&self, addr: u64) -> bool {
        let Some(process) = self.process else { return false };
        let Some(region) = sys::query(process, addr) else { return false };
        self.libraries
            .get(&region.allocation_base)
            .is_some_and(|path| crate::symbols::normalize_module_name(path) == "ntdll")
    }

    fn exception(&mut self, tid: Tid, code: u32, address: u64, first_chance: bool, params: &[u64]) -> Result<Decoded> {
        let stop = |reason| Decoded::Stop(Stop { tid, reason });
        match code {
            BREAKPOINT | WX86_BREAKPOINT => {
                if self.own_breaks > 0 && self.in_ntdll(address) {
                    self.own_breaks -= 1;
                    return Ok(if self.breaking_in { Decoded::Halted } else { Decoded::Absorbed });
                }
                if self.in_ntdll(address) && self.interrupt.take_request() {
                    return Ok(stop(StopReason::Interrupted));
                }
                let mut byte = [0u8];
                if self.read_mem(address, &mut byte).is_ok() && byte[0] != INT3 {
                    // A hit queued by the system while the breakpoint was taken
                    // out: the thread goes back to run the instruction there.
                    self.set_thread_pc(tid, address)?;
                    return Ok(Decoded::Absorbed);
                }
                Ok(stop(StopReason::SoftwareBreak))
            }
            SINGLE_STEP | WX86_SINGLE_STEP => {
                let Some(info) = self.threads.get(&tid) else { return Ok(stop(StopReason::Step)) };
                let ctx = sys::get_context(info.handle).map_err(|e| self.os_error("GetThreadContext", e))?;
                let hit = ctx.0.Dr6 & 0xf;
                if hit == 0 {
                    return Ok(stop(StopReason::Step));
                }
                // An instruction breakpoint (R/W bits 00) fires before the
                // instruction: it is resumed with RF, or it fires again.
                let slot = hit.trailing_zeros();
                let execute = (ctx.0.Dr7 >> (16 + 4 * slot)) & 3 == 0;
                if let Some(info) = self.threads.get_mut(&tid) {
                    info.on_hardware_break = execute;
                }
                Ok(stop(StopReason::HardwareBreak))
            }
            _ => {
                let faulting = matches!(code, ACCESS_VIOLATION | GUARD_PAGE | IN_PAGE_ERROR);
                let fault_addr = if faulting { params.get(1).copied() } else { None };
                let access = faulting.then(|| match params.first() {
                    Some(1) => PageAccess::Write,
                    Some(8) => PageAccess::Execute,
                    _ => PageAccess::Read,
                });
                Ok(stop(StopReason::Signal(SignalInfo {
                    signo: signal_of(code),
                    code: code as i32,
                    fault_addr,
                    exception: Some(ExceptionInfo { code, address, first_chance, access }),
                    ..SignalInfo::default()
                })))
            }
        }
    }
}
