//! Child processes: a `fork`, `vfork` or `clone` without `CLONE_THREAD` of a
//! traced process gives a child that the kernel traces too (ptrace's fork
//! options), stopped before its first instruction. Until the trace cleans it,
//! it holds every breakpoint byte of its parent, so it is handed over as a
//! backend of its own ([`Platform::take_child`](crate::platform::Platform::take_child)).

use super::status::MAILBOX;
use super::{sys, LinuxProcess, ThreadState};
use crate::error::{Pid, Result};
use crate::platform::StopReason;

impl LinuxProcess {
    /// The parent `self` created `child`: waits for the child's first stop,
    /// keeps the child for the trace, and says what happened.
    pub(super) fn child_created(&mut self, child: Pid, vfork: bool) -> Result<StopReason> {
        self.wait_first_stop(child)?;
        let mut process = LinuxProcess::new(child, self.spawned);
        process.threads.insert(child, ThreadState::stopped());
        process.poll_before_blocking = self.poll_before_blocking;
        self.children.push(process);
        Ok(StopReason::Forked { child, vfork })
    }

    /// A new child starts with a SIGSTOP (or dies at once). Its status may
    /// already sit in this thread's mailbox, taken by a `waitpid(-1)`.
    fn wait_first_stop(&mut self, child: Pid) -> Result<()> {
        let seen = MAILBOX.with(|m| {
            let mut m = m.borrow_mut();
            let i = m.iter().position(|&(tid, _)| tid == child)?;
            Some(m.remove(i))
        });
        if seen.is_some() {
            return Ok(());
        }
        loop {
            match sys::wait_pid(child, libc::__WALL) {
                Ok(Some(_)) => return Ok(()),
                Ok(None) => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.os_error("waitpid(new child)", child, e)),
            }
        }
    }
}
