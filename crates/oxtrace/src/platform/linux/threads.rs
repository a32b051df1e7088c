//! Stopping every thread (all-stop), detaching and killing.

use rustc_hash::FxHashSet;

use super::status::exit_status;
use super::{sys, LinuxProcess};
use crate::error::{Error, Result, Tid};
use crate::event::ExitStatus;
use crate::platform::{ResumeKind, Stop, StopReason};

/// `si_code` of a trap raised by the `int3` instruction.
const SI_KERNEL: i32 = 0x80;
/// Byte offset of `rip` in `user_regs_struct`.
const RIP_OFFSET: usize = 16 * 8;

impl LinuxProcess {
    /// Stops every running thread: one SIGSTOP each, then one round of
    /// `waitpid(-1)` that takes whatever any thread reports, in the order the
    /// kernel gives it. Stops other than our own SIGSTOP are kept in `pending`,
    /// except software-breakpoint traps, which are undone (the thread is put
    /// back on the breakpoint to hit it again). A thread that ends meanwhile,
    /// or the whole process, is reported, never waited for forever: waiting
    /// on any thread reaps the exits that a process-wide death queues.
    pub(super) fn stop_running(&mut self) -> Result<()> {
        self.others_running = false;
        let mut waiting = FxHashSet::default();
        for (&tid, thread) in self.threads.iter_mut() {
            if !thread.running {
                continue;
            }
            // A thread stepping stops by itself after one instruction: a
            // SIGSTOP could come first and take the place of its step.
            if !thread.stop_pending && thread.last_resume != ResumeKind::Step {
                // ESRCH: it is exiting; its exit is reported below.
                let _ = sys::tgkill(self.pid, tid, libc::SIGSTOP);
                thread.stop_pending = true;
            }
            waiting.insert(tid);
        }
        self.wait_for_stops(waiting)
    }

    /// Takes statuses until every thread of `waiting` is stopped or gone.
    fn wait_for_stops(&mut self, mut waiting: FxHashSet<Tid>) -> Result<()> {
        while !waiting.is_empty() && !self.gone {
            let Some((tid, status)) = self.next_status(None)? else { continue };
            if let Some(new_tid) = self.take_status_while_stopping(tid, status)? {
                waiting.insert(new_tid);
            }
            if !self.threads.get(&tid).is_some_and(|t| t.running) {
                waiting.remove(&tid);
            }
        }
        Ok(())
    }

    /// One status seen while stopping threads. Returns a thread created
    /// meanwhile that is still on its way to its first stop.
    fn take_status_while_stopping(&mut self, tid: Tid, status: i32) -> Result<Option<Tid>> {
        if libc::WIFSTOPPED(status) && (status >> 16) == 0 {
            if let Some(thread) = self.threads.get_mut(&tid) {
                let signal = libc::WSTOPSIG(status);
                if signal == libc::SIGSTOP && thread.stop_pending {
                    thread.stop_pending = false;
                    thread.running = false;
                    return Ok(None);
                }
                if signal == libc::SIGTRAP && self.undo_breakpoint_trap(tid)? {
                    self.threads.get_mut(&tid).expect("known thread").running = false;
                    return Ok(None);
                }
            }
        }
        let Some(stop) = self.handle_status(tid, status)? else {
            // An internal stop: the thread runs again (or a new thread's first stop).
            return Ok(None);
        };
        let new_thread = match stop.reason {
            StopReason::ThreadCreated { new_tid } if self.threads.get(&new_tid).is_some_and(|t| t.running) => {
                Some(new_tid)
            }
            _ => None,
        };
        self.pending.push_back(stop);
        Ok(new_thread)
    }

    /// If the thread stopped on an `int3`, move it back onto the instruction
    /// so that it traps again when resumed. Returns whether it did.
    fn undo_breakpoint_trap(&mut self, tid: Tid) -> Result<bool> {
        let info = sys::signal_info(tid).map_err(|e| self.os_error("PTRACE_GETSIGINFO", tid, e))?;
        if info.si_code != SI_KERNEL {
            return Ok(false);
        }
        let mut regs = [0u8; 216];
        sys::get_regs(tid, &mut regs).map_err(|e| self.os_error("PTRACE_GETREGS", tid, e))?;
        let rip = u64::from_le_bytes(regs[RIP_OFFSET..RIP_OFFSET + 8].try_into().expect("8 bytes"));
        regs[RIP_OFFSET..RIP_OFFSET + 8].copy_from_slice(&(rip - 1).to_le_bytes());
        sys::set_regs(tid, &regs).map_err(|e| self.os_error("PTRACE_SETREGS", tid, e))?;
        Ok(true)
    }

    /// Detaches from every (stopped) thread. Signals that arrived and were not
    /// reported yet are delivered as the threads are let go.
    pub(super) fn detach_all(&mut self, signal: Option<(Tid, i32)>) -> Result<()> {
        if self.gone {
            return Err(Error::ProcessExited { pid: self.pid });
        }
        let mut deliver: Vec<(Tid, i32)> = signal.into_iter().collect();
        // A SIGSTOP we sent but never saw would stop the process once it is
        // untraced: run each such thread into it first.
        let stale: Vec<Tid> =
            self.threads.iter().filter(|(_, t)| t.stop_pending && !t.running).map(|(&t, _)| t).collect();
        for tid in stale {
            // Other stops may come first (they are kept and delivered below).
            for _ in 0..16 {
                if !self.threads.get(&tid).is_some_and(|t| t.stop_pending) || sys::cont(tid, 0).is_err() {
                    break;
                }
                self.threads.get_mut(&tid).expect("known thread").running = true;
                self.wait_for_stops(FxHashSet::from_iter([tid]))?;
                if self.gone {
                    return Ok(());
                }
            }
        }
        for stop in self.pending.drain(..) {
            if let Stop { tid, reason: StopReason::Signal(info) } = stop {
                deliver.push((tid, info.signo));
            }
        }
        let tids: Vec<Tid> = self.threads.keys().copied().collect();
        let mut first_error = None;
        for tid in tids {
            let sig = deliver.iter().find(|(t, _)| *t == tid).map_or(0, |&(_, s)| s);
            if let Err(e) = sys::detach(tid, sig) {
                if e.raw_os_error() != Some(libc::ESRCH) && first_error.is_none() {
                    first_error = Some(self.os_error("PTRACE_DETACH", tid, e));
                }
            }
        }
        self.threads.clear();
        self.gone = true;
        self.mem = None;
        first_error.map_or(Ok(()), Err)
    }

    /// Kills the process with SIGKILL and reaps every thread. Returns how the process ended.
    pub(super) fn kill_and_reap(&mut self) -> Result<ExitStatus> {
        if self.gone {
            return Err(Error::ProcessExited { pid: self.pid });
        }
        sys::kill(self.pid, libc::SIGKILL).map_err(|e| self.os_error("kill(SIGKILL)", self.pid, e))?;
        let others: Vec<Tid> = self.threads.keys().copied().filter(|&t| t != self.pid).collect();
        for tid in others {
            self.reap(tid);
        }
        let status = self.reap(self.pid).unwrap_or(ExitStatus::Signaled { signal: libc::SIGKILL, core_dumped: false });
        self.threads.clear();
        self.pending.clear();
        self.gone = true;
        self.mem = None;
        Ok(status)
    }

    /// Waits until a thread has ended; its exit status if it could be seen.
    fn reap(&mut self, tid: Tid) -> Option<ExitStatus> {
        loop {
            match sys::wait_pid(tid, libc::__WALL) {
                Ok(Some((_, status))) => {
                    if let Some(exit) = exit_status(status) {
                        return Some(exit);
                    }
                }
                Ok(None) => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return None,
            }
        }
    }
}
