//! Resuming: `vCont` actions (continue, step, with signals, scheduler locking).
//!
//! gdbstub hands over the actions of one `vCont` thread by thread, then calls
//! `resume`. Signals the client gives become the threads' pending signals (and
//! a thread given none has its pending signal cleared, as the protocol says).
//! A step runs [`Trace::stepi`](oxtrace::Trace::stepi) on its thread alone (the
//! others stay stopped, which the protocol allows for the length of a step)
//! and keeps the resulting stop to report; otherwise every thread continues.
//! With scheduler locking the client asks that only some threads continue:
//! the trace resumes all of them (it has no per-thread continue), a documented
//! difference.

use gdbstub::common::{Signal, Tid as GdbTid};
use gdbstub::target::ext::base::multithread::{
    MultiThreadResume, MultiThreadSchedulerLocking, MultiThreadSchedulerLockingOps, MultiThreadSingleStep,
    MultiThreadSingleStepOps,
};
use oxtrace::Error;

use crate::signals;
use crate::target::{Action, TraceTarget};

impl TraceTarget {
    fn push_action(&mut self, tid: GdbTid, action: Action, signal: Option<Signal>) -> Result<(), Error> {
        // A thread id the trace cannot have is simply not resumed.
        if let Ok(tid) = oxtrace::Tid::try_from(tid.get()) {
            self.actions.push((tid, action, signal.and_then(signals::from_gdb)));
        }
        Ok(())
    }

    /// Resumes as the collected actions say; see the module docs.
    fn resume_now(&mut self) -> Result<(), Error> {
        let actions = std::mem::take(&mut self.actions);
        *self.libraries_xml.get_mut() = None;
        self.pending_stop = None;
        let trace = self.trace.get_mut();
        if !trace.is_attached() {
            // Nothing to run: report the end again.
            self.pending_stop = Some(crate::stops::end_of(trace));
            return Ok(());
        }
        let current = trace.current_thread();
        for tid in trace.threads() {
            let signal = actions.iter().find(|(t, ..)| *t == tid).and_then(|&(_, _, signal)| signal);
            trace.select_thread(tid)?;
            trace.set_pending_signal(signal)?;
        }
        let step = actions.iter().find(|(_, action, _)| *action == Action::Step).map(|&(tid, ..)| tid);
        match step {
            Some(tid) => {
                trace.select_thread(tid).or_else(|_| trace.select_thread(current))?;
                let event = trace.stepi()?;
                self.pending_stop = Some(crate::stops::stop_reason(self, &event));
            }
            None => {
                let _ = trace.select_thread(current);
                trace.start()?;
            }
        }
        Ok(())
    }
}

impl MultiThreadResume for TraceTarget {
    fn resume(&mut self) -> Result<(), Self::Error> {
        match self.resume_now() {
            Ok(()) => Ok(()),
            // The process ended under the request: report that instead of failing the session.
            Err(_) if !self.trace.get_mut().is_attached() => {
                self.pending_stop = Some(crate::stops::end_of(self.trace.get_mut()));
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    fn clear_resume_actions(&mut self) -> Result<(), Self::Error> {
        self.actions.clear();
        Ok(())
    }

    fn set_resume_action_continue(&mut self, tid: GdbTid, signal: Option<Signal>) -> Result<(), Self::Error> {
        self.push_action(tid, Action::Continue, signal)
    }

    fn support_single_step(&mut self) -> Option<MultiThreadSingleStepOps<'_, Self>> {
        Some(self)
    }

    fn support_scheduler_locking(&mut self) -> Option<MultiThreadSchedulerLockingOps<'_, Self>> {
        Some(self)
    }
}

impl MultiThreadSingleStep for TraceTarget {
    fn set_resume_action_step(&mut self, tid: GdbTid, signal: Option<Signal>) -> Result<(), Self::Error> {
        self.push_action(tid, Action::Step, signal)
    }
}

impl MultiThreadSchedulerLocking for TraceTarget {
    fn set_resume_action_scheduler_lock(&mut self) -> Result<(), Self::Error> {
        // Steps already run alone; continues resume every thread (see the module docs).
        Ok(())
    }
}
