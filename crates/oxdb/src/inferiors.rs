//! Inferiors: the processes of a session. The first is the program started or
//! attached; with `set detach-on-fork off`, every process a fork leaves
//! behind (the child, or the parent when following the child) is kept stopped
//! as one more, as gdb keeps them. Only the current inferior runs when the
//! program is resumed (gdb's default `schedule-multiple off`).

use std::collections::BTreeMap;
use std::io::Write;

use oxtrace::Trace;

use crate::session::{CmdError, CmdResult, Session};

/// The inferiors besides the current one, and their numbering.
#[derive(Debug)]
pub struct Inferiors {
    /// The number of the current inferior (the session's trace).
    pub current: usize,
    /// The others, by number.
    pub others: BTreeMap<usize, Trace>,
    next: usize,
    /// How to start the program again (`run`), when oxdb started it.
    pub launch: Option<crate::commands::restart::Launch>,
    /// Whether programs are started with address-space randomization off (the default, as gdb).
    pub disable_aslr: bool,
}

impl Default for Inferiors {
    fn default() -> Self {
        Inferiors { current: 1, others: BTreeMap::new(), next: 2, launch: None, disable_aslr: true }
    }
}

impl Session {
    /// Makes the processes the current trace kept after forks inferiors of
    /// their own, with oxdb's notifier and signal table. Says so, one line each.
    pub fn adopt_children(&mut self, out: &mut dyn Write) -> CmdResult {
        let Some(trace) = self.trace.as_mut() else { return Ok(()) };
        for mut child in trace.take_children() {
            crate::policy::install(&mut child, &self.shared);
            let num = self.inferiors.next;
            self.inferiors.next += 1;
            writeln!(out, "[inferior {num} (process {}) added, stopped]", child.pid())?;
            self.inferiors.others.insert(num, child);
        }
        Ok(())
    }

    /// Ends every inferior (killing started ones, detaching attached ones) and
    /// makes `trace` the only one, with oxdb's notifier and library tracking.
    pub fn replace_trace(&mut self, mut trace: Trace) {
        if let Some(old) = self.trace.take() {
            let _ = old.release();
        }
        for old in std::mem::take(&mut self.inferiors.others).into_values() {
            let _ = old.release();
        }
        crate::interrupt::watch(&trace);
        crate::policy::install(&mut trace, &self.shared);
        let _ = trace.track_libraries();
        self.trace = Some(trace);
        self.inferiors.current = 1;
        self.inferiors.next = 2;
        self.selected_frame = 0;
        self.queue.clear();
    }

    /// Gives every inferior the current signal table and catchpoints.
    pub fn apply_signal_policy(&mut self) {
        let shared = self.shared.borrow();
        for trace in self.trace.iter_mut().chain(self.inferiors.others.values_mut()) {
            crate::policy::apply(trace, &shared);
        }
    }

    /// Makes inferior `num` the current one.
    pub fn switch_inferior(&mut self, num: usize) -> CmdResult {
        if num == self.inferiors.current {
            return Ok(());
        }
        let mut next = self.inferiors.others.remove(&num).ok_or_else(|| CmdError(format!("no inferior {num}")))?;
        crate::interrupt::watch(&next);
        if let Some(old) = self.trace.as_mut() {
            std::mem::swap(old, &mut next);
            self.inferiors.others.insert(self.inferiors.current, next);
        } else {
            self.trace = Some(next);
        }
        self.inferiors.current = num;
        self.selected_frame = 0;
        Ok(())
    }

    /// Every inferior's number and trace, in order.
    pub fn inferior_list(&mut self) -> Vec<(usize, bool, &mut Trace)> {
        let current = self.inferiors.current;
        let mut list: Vec<(usize, bool, &mut Trace)> = self.trace.iter_mut().map(|t| (current, true, t)).collect();
        list.extend(self.inferiors.others.iter_mut().map(|(n, t)| (*n, false, t)));
        list.sort_by_key(|(n, _, _)| *n);
        list
    }
}
