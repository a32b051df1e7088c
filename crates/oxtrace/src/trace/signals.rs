//! Pending and ignored signals.
//!
//! When a thread stops for a signal, the signal becomes that thread's pending
//! signal and is delivered (the program's own handler runs) when the thread
//! resumes, unless it is changed or cleared first. Signals on the ignore list
//! are delivered without stopping. A SIGTRAP from a breakpoint instruction that
//! is not one of ours is reported but not delivered, as gdb does.

use super::Trace;
use crate::error::{Error, Result, Tid};
use crate::platform::{Stop, StopReason};

/// x86_64 `tgkill`.
const SYS_TGKILL: u64 = 234;

impl Trace {
    /// The signal the current thread will receive when it resumes.
    pub fn pending_signal(&self) -> Option<i32> {
        self.pending_signals.get(&self.current_tid).copied()
    }

    /// Changes (`Some`) or suppresses (`None`) the current thread's pending signal.
    pub fn set_pending_signal(&mut self, signal: Option<i32>) -> Result<()> {
        match signal {
            Some(sig) if !(1..=64).contains(&sig) => {
                Err(Error::InvalidArgument(format!("{sig} is not a signal number")))
            }
            Some(sig) => {
                self.pending_signals.insert(self.current_tid, sig);
                Ok(())
            }
            None => {
                self.pending_signals.remove(&self.current_tid);
                Ok(())
            }
        }
    }

    /// Signals of this number are delivered without stopping the trace.
    pub fn ignore_signal(&mut self, signal: i32) {
        self.ignored_signals.insert(signal);
    }

    /// Signals of this number stop the trace again.
    pub fn unignore_signal(&mut self, signal: i32) {
        self.ignored_signals.remove(&signal);
    }

    /// The ignored signals, sorted.
    pub fn ignored_signals(&self) -> Vec<i32> {
        self.ignored_signals.iter().copied().collect()
    }

    /// Before a detach: the signals the process still has to receive (pending
    /// ones, and those of stops not reported yet, which are dropped). The
    /// current thread's, or else the first, is returned for the detach to
    /// deliver; the others are raised again in their threads (`tgkill` run by
    /// the current thread), to be delivered once the process runs untraced.
    pub(super) fn signals_for_detach(&mut self) -> Option<(Tid, i32)> {
        let mut signals: Vec<(Tid, i32)> = Vec::new();
        let mut note = |tid: Tid, signo: i32| {
            if !signals.iter().any(|&(t, _)| t == tid) {
                signals.push((tid, signo));
            }
        };
        if let Some(&signo) = self.pending_signals.get(&self.current_tid) {
            note(self.current_tid, signo);
        }
        for (&tid, &signo) in self.pending_signals.iter() {
            note(tid, signo);
        }
        for stop in std::mem::take(&mut self.deferred_stops) {
            if let Stop { tid, reason: StopReason::Signal(info) } = stop {
                note(tid, info.signo);
            }
        }
        self.pending_signals.clear();
        let mut signals = signals.into_iter().filter(|&(tid, _)| self.platform.has_thread(tid));
        let first = signals.next();
        for (tid, signo) in signals.collect::<Vec<_>>() {
            // Best effort: a thread that cannot be signalled again loses the
            // signal, as every signal was lost before this existed.
            let args = [self.pid as u64, tid as u64, signo as u64];
            let _ = self
                .in_thread_free_to_inject(self.current_tid, |trace| trace.inject_syscall("tgkill", SYS_TGKILL, &args));
        }
        first
    }
}
