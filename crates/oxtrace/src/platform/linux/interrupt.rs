//! Interrupting a running process from any thread.
//!
//! ptrace requests are tied to the tracer thread, but signals are not: the
//! interrupter raises a flag and sends the process a SIGSTOP; the backend sees
//! the SIGSTOP with the flag raised and reports it as an interruption rather
//! than as a signal.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::sys;
use crate::error::{Error, Pid, Result};
use crate::platform::InterruptSource;

/// The Linux [`InterruptSource`].
#[derive(Debug)]
pub struct LinuxInterrupter {
    pid: Pid,
    flag: Arc<AtomicBool>,
}

impl LinuxInterrupter {
    /// An interrupter for `pid` sharing the backend's flag.
    pub fn new(pid: Pid, flag: Arc<AtomicBool>) -> Self {
        Self { pid, flag }
    }
}

impl InterruptSource for LinuxInterrupter {
    fn interrupt(&self) -> Result<()> {
        self.flag.store(true, Ordering::SeqCst);
        sys::kill(self.pid, libc::SIGSTOP).map_err(|e| {
            self.flag.store(false, Ordering::SeqCst);
            if e.raw_os_error() == Some(libc::ESRCH) {
                Error::ProcessExited { pid: self.pid }
            } else {
                Error::Os { op: "kill(SIGSTOP)", pid: self.pid, tid: self.pid, source: e }
            }
        })
    }
}
