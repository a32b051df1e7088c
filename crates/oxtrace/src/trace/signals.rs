//! Pending and ignored signals.
//!
//! When a thread stops for a signal, the signal becomes that thread's pending
//! signal and is delivered (the program's own handler runs) when the thread
//! resumes, unless it is changed or cleared first. Signals on the ignore list
//! are delivered without stopping. A SIGTRAP from a breakpoint instruction that
//! is not one of ours is reported but not delivered, as gdb does.

use super::Trace;
use crate::error::{Error, Result};

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
}
