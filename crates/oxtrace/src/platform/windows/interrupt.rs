//! Interrupting a Windows debuggee from any thread.
//!
//! A running process is made to raise a breakpoint in a new thread
//! (`DebugBreakProcess`), which the backend reports as
//! [`StopReason::Interrupted`](crate::platform::StopReason::Interrupted). A
//! stopped one is left alone: its next resume reports the interrupt instead of
//! running. (A thread created in a process that is still being initialized, as
//! at the loader's breakpoint, may end it under wine.)

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::sys;
use crate::error::{Error, Result};
use crate::platform::InterruptSource;

/// What the backend and its interrupters share.
#[derive(Debug, Default)]
pub(super) struct Shared {
    /// An interrupt was asked for and not reported yet.
    pub requested: AtomicBool,
    /// Whether the process runs (its debug event was continued); the lock
    /// orders an interrupter's look at it with the backend's resumes and stops.
    pub running: Mutex<bool>,
}

impl Shared {
    /// Notes whether the process runs.
    pub(super) fn set_running(&self, running: bool) {
        *self.running.lock().unwrap_or_else(|e| e.into_inner()) = running;
    }

    /// Takes a pending interrupt request.
    pub(super) fn take_request(&self) -> bool {
        self.requested.swap(false, Ordering::SeqCst)
    }
}

/// The interrupter of one process.
#[derive(Debug)]
pub(super) struct WindowsInterrupter {
    pid: u32,
    shared: Arc<Shared>,
}

impl WindowsInterrupter {
    pub(super) fn new(pid: u32, shared: Arc<Shared>) -> Self {
        Self { pid, shared }
    }
}

impl InterruptSource for WindowsInterrupter {
    fn interrupt(&self) -> Result<()> {
        let pid = self.pid as crate::error::Pid;
        let running = self.shared.running.lock().unwrap_or_else(|e| e.into_inner());
        self.shared.requested.store(true, Ordering::SeqCst);
        if !*running {
            return Ok(());
        }
        let process =
            sys::open_process(self.pid).map_err(|e| Error::Os { op: "OpenProcess", pid, tid: 0, source: e })?;
        sys::debug_break(process.get()).map_err(|e| Error::Os { op: "DebugBreakProcess", pid, tid: 0, source: e })
    }
}
