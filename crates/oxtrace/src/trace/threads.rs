//! Threads of the debuggee and the current thread.

use super::Trace;
use crate::error::{Error, Result, Tid};

impl Trace {
    /// The live threads, the main thread first.
    pub fn threads(&self) -> Vec<Tid> {
        if !self.is_attached() {
            return Vec::new();
        }
        self.platform.threads()
    }

    /// The thread that register and stepping calls act on (the one of the last event, unless selected).
    pub fn current_thread(&self) -> Tid {
        self.current_tid
    }

    /// Makes `tid` the current thread.
    pub fn select_thread(&mut self, tid: Tid) -> Result<()> {
        self.require_stopped()?;
        if !self.platform.has_thread(tid) {
            return Err(Error::NoSuchThread { pid: self.pid, tid });
        }
        self.current_tid = tid;
        Ok(())
    }

    /// The address of the current thread's environment block (vtrace's
    /// `getTeb`): Windows' TEB, where `gs` points. Other systems have none.
    pub fn teb(&mut self) -> Result<u64> {
        self.require_stopped()?;
        let tid = self.current_tid;
        self.platform.thread_block(tid)
    }
}
