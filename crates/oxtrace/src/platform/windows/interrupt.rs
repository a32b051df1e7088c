//! Interrupting a Windows debuggee from any thread: `DebugBreakProcess`
//! makes it raise a breakpoint in a new thread, which the backend reports as
//! [`StopReason::Interrupted`](crate::platform::StopReason::Interrupted).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::sys;
use crate::error::{Error, Result};
use crate::platform::InterruptSource;

/// The interrupter of one process.
#[derive(Debug)]
pub(super) struct WindowsInterrupter {
    pid: u32,
    flag: Arc<AtomicBool>,
}

impl WindowsInterrupter {
    pub(super) fn new(pid: u32, flag: Arc<AtomicBool>) -> Self {
        Self { pid, flag }
    }
}

impl InterruptSource for WindowsInterrupter {
    fn interrupt(&self) -> Result<()> {
        let pid = self.pid as crate::error::Pid;
        let process =
            sys::open_process(self.pid).map_err(|e| Error::Os { op: "OpenProcess", pid, tid: 0, source: e })?;
        self.flag.store(true, Ordering::SeqCst);
        sys::debug_break(process.get()).map_err(|e| Error::Os { op: "DebugBreakProcess", pid, tid: 0, source: e })
    }
}
