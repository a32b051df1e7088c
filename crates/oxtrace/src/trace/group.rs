//! [`TraceGroup`]: several traced processes driven from one event loop
//! (vtrace's name): spawned, attached, and the children that their traces
//! keep after forks.

use std::collections::BTreeMap;
use std::time::Duration;

use super::{Trace, TraceState};
use crate::error::{Error, Pid, Result};
use crate::event::{Event, EventKind, ExitStatus};

/// Several traces run together: [`TraceGroup::run`] resumes every stopped
/// one and returns the next event of any of them (its `pid` says whose).
/// Children that a member keeps after a fork (see
/// [`Trace::set_detach_on_fork`]) join the group by themselves, with the
/// parent's breakpoints.
///
/// Like a [`Trace`], a group stays on the thread that created its traces.
#[derive(Debug, Default)]
pub struct TraceGroup {
    traces: BTreeMap<Pid, Trace>,
    /// Members exited or detached, with how they ended.
    ended: Vec<(Pid, Option<ExitStatus>)>,
}

impl TraceGroup {
    /// An empty group.
    pub fn new() -> TraceGroup {
        TraceGroup::default()
    }

    /// Adds a trace (stopped or running); returns its pid.
    pub fn add(&mut self, trace: Trace) -> Pid {
        let pid = trace.pid();
        self.traces.insert(pid, trace);
        pid
    }

    /// The member traces' pids, in order.
    pub fn pids(&self) -> Vec<Pid> {
        self.traces.keys().copied().collect()
    }

    /// One member.
    pub fn trace(&mut self, pid: Pid) -> Option<&mut Trace> {
        self.traces.get_mut(&pid)
    }

    /// Every member, in pid order.
    pub fn traces(&mut self) -> impl Iterator<Item = &mut Trace> {
        self.traces.values_mut()
    }

    /// Takes a member out of the group.
    pub fn remove(&mut self, pid: Pid) -> Option<Trace> {
        self.traces.remove(&pid)
    }

    /// Whether no member is left.
    pub fn is_empty(&self) -> bool {
        self.traces.is_empty()
    }

    /// How the members that left the group ended (`None`: detached), in order.
    pub fn ended(&self) -> &[(Pid, Option<ExitStatus>)] {
        &self.ended
    }

    /// Sets a breakpoint by expression in every member (see
    /// [`Trace::add_break_by_expr`]); returns each member's breakpoint id.
    pub fn add_break_by_expr_all(&mut self, expr: &str) -> Result<Vec<(Pid, u32)>> {
        self.traces.iter_mut().map(|(&pid, trace)| Ok((pid, trace.add_break_by_expr(expr)?))).collect()
    }

    /// Resumes every stopped member and waits for the next event of any
    /// member. A member whose process ended or was detached leaves the group
    /// after its last event. `Err` if the group is empty.
    pub fn run(&mut self) -> Result<Event> {
        for trace in self.traces.values_mut() {
            if trace.state() == TraceState::Stopped {
                trace.start()?;
            }
        }
        self.wait()
    }

    /// Waits for the next event of any running member (without resuming any).
    pub fn wait(&mut self) -> Result<Event> {
        loop {
            if self.traces.is_empty() {
                return Err(Error::InvalidArgument("the trace group has no process left".into()));
            }
            let mut running = false;
            let pids = self.pids();
            for pid in pids {
                let trace = self.traces.get_mut(&pid).expect("listed above");
                if !trace.is_running() {
                    continue;
                }
                running = true;
                let event = trace.poll()?;
                // A child kept at a fork that the member handled without
                // stopping runs at once: its parent may be waiting for it.
                let mut children = trace.take_children();
                for child in &mut children {
                    child.start()?;
                }
                self.traces.extend(children.into_iter().map(|child| (child.pid(), child)));
                if let Some(event) = event {
                    self.after_event(pid, &event);
                    return Ok(event);
                }
            }
            if !running {
                return Err(Error::InvalidArgument("no process of the trace group is running".into()));
            }
            #[cfg(target_os = "linux")]
            crate::platform::linux::park_until_status(Duration::from_millis(50));
            #[cfg(not(target_os = "linux"))]
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Runs every member to its end (through every event); returns how each ended.
    pub fn run_to_end(&mut self) -> Result<Vec<(Pid, Option<ExitStatus>)>> {
        while !self.traces.is_empty() {
            self.run()?;
        }
        Ok(self.ended.clone())
    }

    fn after_event(&mut self, pid: Pid, event: &Event) {
        let trace = self.traces.get_mut(&pid).expect("the member that reported");
        let children = trace.take_children();
        let left = match event.kind {
            EventKind::Exited(status) => Some(Some(status)),
            _ if !trace.is_attached() => Some(None),
            _ => None,
        };
        // A member that follows its child changed pid at the fork.
        let now = trace.pid();
        if now != pid {
            let trace = self.traces.remove(&pid).expect("present");
            self.traces.insert(now, trace);
        }
        if let Some(status) = left {
            self.traces.remove(&now);
            self.ended.push((now, status));
        }
        for child in children {
            self.add(child);
        }
    }
}
