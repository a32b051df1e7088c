//! Child processes: what happens at a `fork`, `vfork` or `clone` without
//! `CLONE_THREAD` of the traced process.
//!
//! A child starts as a copy of its parent, breakpoint bytes included: left
//! alone, it would die of SIGTRAP at the first one. The trace therefore makes
//! a [`Trace`] of the child at once, with a copy of the parent's breakpoint
//! table, and then, as gdb does by default (`follow-fork-mode parent`,
//! `detach-on-fork on`), detaches it: detaching takes every byte of ours out of
//! the child's memory first. [`FollowFork::Child`] follows the child instead
//! (the parent is cleaned and detached), and `detach_on_fork(false)` keeps
//! both: the other process becomes a trace of its own, taken with
//! [`Trace::take_child`] (a [`TraceGroup`](crate::TraceGroup) takes them by itself).
//!
//! A `vfork` child shares its parent's memory until it executes a program or
//! exits, and the parent thread waits until then. Cleaning the child would
//! clean the parent: instead the parent's breakpoint bytes leave the shared
//! memory for that time and come back at the parent's `VforkDone`, so that a
//! vfork child never meets one (other threads of the parent miss them
//! meanwhile, as under gdb).

use super::{Trace, TraceState};
use crate::error::{Error, Pid, Result, Tid};
use crate::event::EventKind;
use crate::platform::Platform;

/// Which process a trace goes on with after a fork (gdb's `follow-fork-mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FollowFork {
    /// The parent (the default).
    #[default]
    Parent,
    /// The child: the trace now follows the child's pid.
    Child,
}

/// The fork policy of a trace.
#[derive(Debug, Clone, Copy)]
pub(super) struct ForkPolicy {
    pub follow: FollowFork,
    pub detach_on_fork: bool,
}

impl Default for ForkPolicy {
    fn default() -> Self {
        ForkPolicy { follow: FollowFork::Parent, detach_on_fork: true }
    }
}

impl Trace {
    /// Which process the trace follows after a fork (default: the parent).
    pub fn set_follow_fork(&mut self, follow: FollowFork) {
        self.fork_policy.follow = follow;
    }

    /// The process followed after a fork.
    pub fn follow_fork(&self) -> FollowFork {
        self.fork_policy.follow
    }

    /// Whether the process not followed after a fork is detached (the
    /// default, `true`) or kept as a trace of its own ([`Trace::take_child`]).
    pub fn set_detach_on_fork(&mut self, detach: bool) {
        self.fork_policy.detach_on_fork = detach;
    }

    /// Whether the process not followed after a fork is detached.
    pub fn detach_on_fork(&self) -> bool {
        self.fork_policy.detach_on_fork
    }

    /// The processes kept after forks (with `set_detach_on_fork(false)`) and not taken yet.
    pub fn kept_children(&self) -> Vec<Pid> {
        self.kept.iter().map(|t| t.pid).collect()
    }

    /// Takes a process kept after a fork as a trace of its own, stopped, with
    /// a copy of this trace's breakpoints (the same callbacks and conditions),
    /// modes, ignored signals and fork policy. Dropping it kills or detaches
    /// the process as dropping any trace does.
    pub fn take_child(&mut self, pid: Pid) -> Option<Trace> {
        let i = self.kept.iter().position(|t| t.pid == pid)?;
        Some(self.kept.remove(i))
    }

    /// Takes every kept process (see [`Trace::take_child`]).
    pub fn take_children(&mut self) -> Vec<Trace> {
        std::mem::take(&mut self.kept)
    }

    /// A fork stop of thread `tid`: the child is made a trace and then
    /// detached, followed or kept, as the policy says.
    pub(super) fn child_forked(&mut self, tid: Tid, child: Pid, vfork: bool) -> Result<EventKind> {
        let platform = self.platform.take_child(child).ok_or(Error::NoSuchProcess { pid: child })?;
        let kept = !self.fork_policy.detach_on_fork;
        // A vfork child let go shares our memory: our bytes leave it until
        // `VforkDone`, and the child gets no table, so that its detach does not
        // touch them. A vfork child traced (followed or kept) runs into the
        // shared bytes as we would: it gets the table.
        let let_go_vfork = vfork && !kept && self.fork_policy.follow == FollowFork::Parent;
        let mut other = self.copy_for_child(platform, !let_go_vfork);
        if self.fork_policy.follow == FollowFork::Child {
            self.swap_process(&mut other);
        }
        // `other` is now the process not followed.
        if self.fork_policy.follow == FollowFork::Child {
            // The parent stands inside its fork call: a system call injected
            // now (to unmap the scratch page at its detach) would take the
            // place of the fork's return value. The page stays, unused.
            other.scratch.reset();
            other.pads.keep_memory();
        }
        if let_go_vfork {
            self.take_out_break_bytes_for_vfork()?;
        }
        match (kept, vfork, self.fork_policy.follow) {
            (true, _, _) => self.kept.push(other),
            // The parent waits for the child we follow; it is cleaned and let go
            // once the child no longer shares its memory.
            (false, true, FollowFork::Child) => self.vfork_parent = Some(Box::new(other)),
            (false, _, _) => Self::let_go(&mut other)?,
        }
        if self.fork_policy.follow == FollowFork::Child {
            self.current_tid = self.pid;
        } else {
            self.current_tid = tid;
        }
        Ok(EventKind::Forked { child, vfork })
    }

    /// The parent's vfork child executed a program or exited: the parent's
    /// breakpoint bytes go back into its memory.
    pub(super) fn vfork_done(&mut self) -> Result<EventKind> {
        self.put_back_break_bytes_after_vfork()?;
        Ok(EventKind::VforkDone)
    }

    /// The followed vfork child no longer shares its parent's memory (it
    /// executed a program or exited): the parent, kept stopped until now, is
    /// cleaned and let go.
    pub(super) fn release_vfork_parent(&mut self) -> Result<()> {
        match self.vfork_parent.take() {
            Some(mut parent) => Self::let_go(&mut parent),
            None => Ok(()),
        }
    }

    /// Detaches the process not followed. A detach that let the process go
    /// but could not unmap the scratch page is not an error of the fork: the
    /// page is only memory, and the process runs on.
    fn let_go(other: &mut Trace) -> Result<()> {
        let result = other.detach();
        if other.is_attached() {
            result?;
        }
        Ok(())
    }

    /// A trace of a new child process with this trace's settings and, with
    /// `with_table`, its breakpoints (whose bytes the child inherited),
    /// scratch copies and page watches.
    fn copy_for_child(&self, platform: Box<dyn Platform>, with_table: bool) -> Trace {
        let mut child = Trace::from_platform(platform, self.spawned);
        if with_table {
            child.breakpoints = self.breakpoints.clone();
            child.scratch = self.scratch.clone();
            child.page_watches = self.page_watches.clone();
            child.pads = self.pads.clone();
            child.adopt_pads();
        }
        child.libraries = self.libraries.clone();
        child.modes = self.modes;
        child.auto_continue = self.auto_continue.clone();
        child.ignored_signals = self.ignored_signals.clone();
        child.fork_policy = self.fork_policy;
        child
    }

    /// Exchanges the process-specific state of two traces (to follow a child).
    fn swap_process(&mut self, other: &mut Trace) {
        std::mem::swap(&mut self.platform, &mut other.platform);
        std::mem::swap(&mut self.pid, &mut other.pid);
        std::mem::swap(&mut self.state, &mut other.state);
        std::mem::swap(&mut self.current_tid, &mut other.current_tid);
        std::mem::swap(&mut self.registers, &mut other.registers);
        std::mem::swap(&mut self.pending_signals, &mut other.pending_signals);
        std::mem::swap(&mut self.on_breakpoint, &mut other.on_breakpoint);
        std::mem::swap(&mut self.deferred_stops, &mut other.deferred_stops);
        std::mem::swap(&mut self.page_steps, &mut other.page_steps);
        std::mem::swap(&mut self.lazy_stop, &mut other.lazy_stop);
        std::mem::swap(&mut self.stepping, &mut other.stepping);
        // The parent trace was the one in the middle of handling a stop.
        other.state = TraceState::Stopped;
        self.state = TraceState::Stopped;
    }

    /// Writes the original bytes under every inserted breakpoint (the table
    /// still says inserted: the bytes come back at `VforkDone`).
    fn take_out_break_bytes_for_vfork(&mut self) -> Result<()> {
        self.ensure_all_stopped()?;
        self.write_original_bytes()?;
        self.vfork_bytes_out = true;
        Ok(())
    }

    fn put_back_break_bytes_after_vfork(&mut self) -> Result<()> {
        // Parked for the caller meanwhile: the bytes go back when it resumes.
        if !std::mem::take(&mut self.vfork_bytes_out) || self.parking.parked {
            return Ok(());
        }
        self.ensure_all_stopped()?;
        self.write_break_bytes();
        Ok(())
    }
}
