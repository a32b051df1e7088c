//! The run loop: resuming, waiting, turning backend stops into events, and
//! deciding whether to stop or keep going.
//!
//! One turn of the loop: fire `Continued`; step every thread that sits on a
//! breakpoint it reported over that breakpoint (alone, with the instruction
//! put back afterwards); write back changed registers; resume every thread
//! with its pending signal; wait for a stop; turn it into an [`Event`]; run the
//! breakpoint's callback and the notifiers; then stop, unless the event type
//! is on the auto-continue list, the signal is ignored, [`Mode::RunForever`]
//! is on, or a callback asked to [`Trace::run_again`].

use std::time::{Duration, Instant};

use super::{BreakpointKind, Mode, Trace, TraceState};
use crate::arch::RegisterGroup;
use crate::error::{Error, Result, Tid};
use crate::event::{Event, EventKind, EventType, SignalInfo};
use crate::platform::{Interrupter, ResumeAction, ResumeKind, Stop, StopReason};
use crate::signals::{SIGTRAP, SI_KERNEL, TRAP_HWBKPT, TRAP_TRACE};

impl Trace {
    /// Resumes the process and blocks until an event stops the trace.
    pub fn run(&mut self) -> Result<Event> {
        self.start()?;
        self.wait()
    }

    /// Runs until any thread reaches `addr` (or another
    /// event stops the trace first). A breakpoint set for this is removed again.
    pub fn run_until(&mut self, addr: u64) -> Result<Event> {
        let temporary = match self.breakpoints.by_addr.get(&addr) {
            Some(_) => None,
            None => Some(self.add_temporary_breakpoint(addr, BreakpointKind::StopAndRemove)?),
        };
        let result = self.run();
        if let Some(id) = temporary {
            if self.breakpoints.by_id.contains_key(&id) && self.is_attached() {
                let cleanup = if self.is_running() { Ok(()) } else { self.remove_breakpoint(id) };
                cleanup?;
            }
        }
        result
    }

    /// Runs until thread `tid` exits (vtrace's `joinThread`), through any other
    /// events except the process's exit and interruptions. Returns the last event.
    pub fn join_thread(&mut self, tid: Tid) -> Result<Event> {
        if !self.threads().contains(&tid) {
            return Err(Error::NoSuchThread { pid: self.pid, tid });
        }
        loop {
            self.start()?;
            let event = self.wait_reporting_thread_exits()?;
            let done = match event.kind {
                EventKind::ThreadExited(_) => event.tid == tid,
                EventKind::Exited(_) | EventKind::Interrupted => true,
                _ => false,
            };
            if done {
                return Ok(event);
            }
        }
    }

    /// Like [`Trace::wait`], but thread exits stop even when auto-continued.
    fn wait_reporting_thread_exits(&mut self) -> Result<Event> {
        let was_auto = self.auto_continue.remove(&EventType::ThreadExited);
        let result = self.wait();
        if was_auto {
            self.auto_continue.insert(EventType::ThreadExited);
        }
        result
    }

    /// A handle that stops this trace from any thread (vtrace's `sendBreak`):
    /// the running process stops and the trace reports [`EventKind::Interrupted`].
    pub fn interrupter(&self) -> Interrupter {
        self.platform.interrupter()
    }

    /// Resumes the process without waiting: follow with [`Trace::wait`],
    /// [`Trace::wait_timeout`] or [`Trace::poll`].
    pub fn start(&mut self) -> Result<()> {
        self.require_stopped()?;
        self.resume_all_unless_dying()
    }

    /// Resumes; if that fails because the process is dying, the trace counts
    /// as running: the next wait reports the exit on its way.
    fn resume_all_unless_dying(&mut self) -> Result<()> {
        match self.resume_all() {
            Err(error) if self.is_death(&error) => {
                self.lazy_stop = None;
                self.state = TraceState::Running;
                Ok(())
            }
            other => other,
        }
    }

    /// Blocks until an event stops the trace.
    pub fn wait(&mut self) -> Result<Event> {
        loop {
            if let Some(event) = self.wait_until(None)? {
                return Ok(event);
            }
        }
    }

    /// Waits at most `timeout` for an event that stops the trace; `None` if the process still runs.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Result<Option<Event>> {
        self.wait_until(Some(Instant::now() + timeout))
    }

    /// Handles whatever happened since [`Trace::start`] without blocking; `None` if the process still runs.
    pub fn poll(&mut self) -> Result<Option<Event>> {
        self.wait_timeout(Duration::ZERO)
    }

    /// Executes one instruction of the current thread (other threads stay
    /// stopped). Breakpoints are stepped over; pending signals are kept for the
    /// next resume. Fires `Step` notifiers unless [`Mode::FastStep`] is on.
    pub fn stepi(&mut self) -> Result<Event> {
        self.require_stopped()?;
        self.run_again = false;
        let tid = self.current_tid;
        let stop = self.step_thread(tid)?;
        let event = self.translate(stop)?;
        let quiet = self.modes.fast_step && event.kind == EventKind::Step;
        if !quiet {
            self.dispatch(&event)?;
        }
        self.last_event = Some(event.clone());
        Ok(event)
    }

    fn wait_until(&mut self, deadline: Option<Instant>) -> Result<Option<Event>> {
        if self.state != TraceState::Running {
            self.require_stopped()?;
            return Err(Error::NotRunning { pid: self.pid });
        }
        loop {
            let stop = match self.deferred_stops.pop_front() {
                Some(stop) => stop,
                None => {
                    let timeout = deadline.map(|d| d.saturating_duration_since(Instant::now()));
                    let waited = match self.platform.wait_one(timeout) {
                        Err(error) if self.is_attached() && self.is_death(&error) => {
                            return self.report_death(error).map(Some)
                        }
                        waited => waited?,
                    };
                    match waited {
                        Some(stop) => {
                            self.lazy_stop = self.platform.others_running().then_some(stop.tid);
                            stop
                        }
                        None => return Ok(None),
                    }
                }
            };
            match self.handle_stop(stop) {
                Ok(Some(event)) => return Ok(Some(event)),
                Ok(None) => {}
                Err(error) if self.is_attached() && self.is_death(&error) => return self.report_death(error).map(Some),
                Err(error) => return Err(error),
            }
        }
    }

    /// One stop: translated, dispatched, and either returned (every thread
    /// stopped) or followed by the next resume (`None`).
    fn handle_stop(&mut self, stop: Stop) -> Result<Option<Event>> {
        self.state = TraceState::Stopped;
        let event = self.translate(stop)?;
        let stop_here = self.dispatch(&event)?;
        self.last_event = Some(event.clone());
        if stop_here || !self.is_attached() {
            if self.is_attached() {
                self.ensure_all_stopped()?;
            }
            self.park_breakpoints_for_caller();
            return Ok(Some(event));
        }
        self.resume_all_unless_dying()?;
        Ok(None)
    }

    /// A thread vanished under a request (`ESRCH`): the process is dying, or
    /// another thread executed a new program. Takes the stops that follow
    /// until the exit or the exec, and reports that instead of the error.
    fn report_death(&mut self, error: Error) -> Result<Event> {
        self.lazy_stop = None;
        loop {
            let stop = match self.platform.wait(Some(Duration::from_secs(10))) {
                Ok(Some(stop)) => stop,
                Ok(None) | Err(_) => return Err(error),
            };
            let last = matches!(stop.reason, StopReason::Exited(_) | StopReason::Exec { .. });
            self.state = TraceState::Stopped;
            let Ok(event) = self.translate(stop) else { continue };
            if last {
                self.dispatch(&event)?;
                self.last_event = Some(event.clone());
                return Ok(event);
            }
        }
    }

    /// Whether `error` comes from the process dying (a thread vanished under
    /// a request, or the process is ending): its exit is on its way.
    fn is_death(&self, error: &Error) -> bool {
        error.is_vanished() || self.platform.is_dying()
    }

    /// Stops the threads that a stop handled one thread at a time left
    /// running (see [`Platform::wait_one`](crate::platform::Platform::wait_one)),
    /// before anything that needs them stopped: another thread's registers, a
    /// breakpoint lifted or moved, a single step, a report to the caller.
    pub(super) fn ensure_all_stopped(&mut self) -> Result<()> {
        if self.lazy_stop.take().is_some() {
            self.platform.complete_stop()?;
        }
        Ok(())
    }

    /// One turn of resuming: see the module docs.
    fn resume_all(&mut self) -> Result<()> {
        self.unpark_breakpoints()?;
        if !std::mem::take(&mut self.quiet_resume) {
            let continued = Event { pid: self.pid, tid: self.current_tid, kind: EventKind::Continued };
            self.fire_notifiers(&continued);
        }
        self.run_again = false;
        let stepped = if !self.deferred_stops.is_empty() {
            None
        } else if let Some(stop) = self.step_over_page_faults()? {
            Some(stop)
        } else {
            self.step_over_breakpoints()?
        };
        if let Some(stop) = stepped {
            self.deferred_stops.push_back(stop);
        }
        if !self.deferred_stops.is_empty() {
            // Stops seen meanwhile (while stepping, or during an injected system
            // call) are reported before anything runs.
            self.state = TraceState::Running;
            return Ok(());
        }
        if self.modes.single_step {
            // One thread runs: the others must not be left running.
            self.ensure_all_stopped()?;
        }
        self.flush_registers()?;
        let threads = match self.lazy_stop {
            // The other threads still run: only the one that stopped goes on.
            Some(tid) => self.platform.has_thread(tid).then_some(tid).into_iter().collect(),
            None if self.modes.single_step => {
                self.stepping = Some(self.current_tid);
                vec![self.current_tid]
            }
            None => self.platform.threads(),
        };
        let kind = if self.modes.single_step {
            ResumeKind::Step
        } else if self.modes.syscall {
            ResumeKind::Syscall
        } else {
            ResumeKind::Continue
        };
        let actions: Vec<ResumeAction> = threads
            .into_iter()
            .map(|tid| ResumeAction { tid, kind, signal: self.pending_signals.get(&tid).copied() })
            .collect();
        // Signals are delivered only by a resume that happens: a backend that
        // still holds stops to report resumes nothing, and they wait for the next.
        if self.platform.resume(&actions)? {
            for action in &actions {
                self.pending_signals.remove(&action.tid);
            }
        }
        self.state = TraceState::Running;
        Ok(())
    }

    /// Steps every thread that reported a breakpoint at its pc over that
    /// breakpoint. A stop other than the expected step is returned, to be reported first.
    fn step_over_breakpoints(&mut self) -> Result<Option<Stop>> {
        let mut todo: Vec<(Tid, u64)> = self.on_breakpoint.drain().collect();
        while let Some((tid, addr)) = todo.pop() {
            if !self.platform.has_thread(tid) || self.thread_pc(tid)? != addr {
                continue;
            }
            if let Some(resume) = self.pads.resume_at(addr) {
                // Reported from a pad's int3 with the site's registers: on through the pad's copies.
                self.context_with(tid, RegisterGroup::General)?.set_pc(resume)?;
                continue;
            }
            let Some(id) = self.breakpoints.inserted_at(addr) else { continue };
            // One stop per hit: resume the thread at a copy of the instruction run
            // out of line (one system call fewer than emulating a push, whose
            // write would be one more). Not under watchpoints, which must see
            // the access at its real pc.
            if self.watchpoints.is_empty() {
                if let Some(slot) = self.displaced_copy(addr, tid) {
                    self.context_with(tid, RegisterGroup::General)?.set_pc(slot)?;
                    continue;
                }
            }
            if let Some(insn) = self.breakpoint_emulation(id) {
                // Otherwise (no scratch page, watchpoints set): do the instruction's work here.
                let mut regs = self.context_with(tid, RegisterGroup::General)?.clone();
                let write = insn.apply(&mut regs)?;
                // A push onto a watched or unmapped slot must happen for real: then step it instead.
                let watched = write.is_some_and(|(at, _)| self.watches_range(at, 8));
                if !watched && write.is_none_or(|(at, bytes)| self.write_around_breaks(at, &bytes).is_ok()) {
                    self.registers.insert(tid, regs);
                    continue;
                }
            }
            let mut stop = self.step_thread(tid)?;
            if stop.tid == tid && stop.reason == StopReason::Step && self.fired_watchpoint(tid)?.is_some() {
                // The stepped instruction hit a watchpoint: report that.
                stop.reason = StopReason::HardwareBreak;
            }
            if stop.tid != tid || stop.reason != StopReason::Step {
                // Not stepped yet: keep it (and the others) for the next resume.
                if self.is_attached() && self.platform.has_thread(tid) {
                    self.on_breakpoint.insert(tid, addr);
                }
                self.on_breakpoint.extend(todo);
                return Ok(Some(stop));
            }
        }
        Ok(None)
    }

    /// Single-steps one thread, lifting a breakpoint under its pc for the step.
    pub(super) fn step_thread(&mut self, tid: Tid) -> Result<Stop> {
        // The step is all-stop: no other thread runs (past a lifted breakpoint, too).
        self.ensure_all_stopped()?;
        // Without breakpoints there is nothing to lift: spare reading the pc.
        let lifted = if self.breakpoints.by_addr.is_empty() {
            None
        } else {
            let pc = self.thread_pc(tid)?;
            self.breakpoints.inserted_at(pc)
        };
        if let Some(id) = lifted {
            self.lift_breakpoint(id)?;
        }
        // A thread on a jump steps the original instruction, with the jump out for the step.
        let pad_lifted = match self.pads.sites.is_empty() {
            true => None,
            false => {
                let pc = self.thread_pc(tid)?;
                self.lift_pad_for_step(pc)?
            }
        };
        self.on_breakpoint.remove(&tid);
        let stepped = self.flush_registers().and_then(|()| {
            self.platform.resume(&[ResumeAction { tid, kind: ResumeKind::Step, signal: None }])?;
            self.stepping = Some(tid);
            self.platform.wait(None)
        });
        let exited = matches!(stepped, Ok(Some(Stop { reason: StopReason::Exited(_), .. })));
        if let Some(id) = lifted {
            if !exited {
                self.restore_breakpoint(id)?;
            }
        }
        if let Some(id) = pad_lifted {
            if !exited {
                self.patch_site(id)?;
            }
        }
        let stop = stepped?.ok_or(Error::ProcessExited { pid: self.pid })?;
        Ok(stop)
    }

    /// Turns a backend stop into an event and updates the trace's state to match.
    fn translate(&mut self, stop: Stop) -> Result<Event> {
        let Stop { tid, reason } = stop;
        let stepping = self.stepping.take();
        self.state = TraceState::Stopped;
        self.stops += 1;
        let reason = match reason {
            StopReason::Trap if self.is_our_break_trap(tid)? => StopReason::SoftwareBreak,
            StopReason::Trap => self.platform.classify_trap(tid)?,
            other => other,
        };
        let kind = match reason {
            StopReason::SoftwareBreak => self.breakpoint_hit(tid)?,
            StopReason::Step if stepping == Some(tid) => match self.fired_watchpoint(tid)? {
                // A data watchpoint that fired on the stepped instruction.
                Some(id) => self.watchpoint_hit(tid, id)?,
                None => EventKind::Step,
            },
            StopReason::Step => {
                EventKind::Signal(SignalInfo { signo: SIGTRAP, code: TRAP_TRACE, ..SignalInfo::default() })
            }
            StopReason::Trap => EventKind::Signal(SignalInfo { signo: SIGTRAP, ..SignalInfo::default() }),
            StopReason::HardwareBreak => match self.fired_watchpoint(tid)? {
                Some(id) => self.watchpoint_hit(tid, id)?,
                None => EventKind::Signal(SignalInfo { signo: SIGTRAP, code: TRAP_HWBKPT, ..SignalInfo::default() }),
            },
            StopReason::Signal(info) => match self.watched_page_fault(tid, &info) {
                Some(Some(hit)) => hit,
                Some(None) => {
                    self.quiet_page_fault = true;
                    EventKind::Signal(info)
                }
                None => {
                    self.pending_signals.insert(tid, info.signo);
                    EventKind::Signal(info)
                }
            },
            StopReason::Syscall(call) => EventKind::Syscall(call),
            StopReason::Forked { child, vfork } => self.child_forked(tid, child, vfork)?,
            StopReason::VforkDone => self.vfork_done()?,
            StopReason::Interrupted => EventKind::Interrupted,
            StopReason::ThreadCreated { new_tid } => {
                // Debug registers are not inherited: give the new thread the watchpoints.
                if !self.watchpoints.is_empty() {
                    self.apply_watchpoints(new_tid)?;
                }
                EventKind::ThreadCreated { new_tid }
            }
            StopReason::ThreadExited(status) => {
                self.registers.remove(&tid);
                self.on_breakpoint.remove(&tid);
                self.pending_signals.remove(&tid);
                EventKind::ThreadExited(status)
            }
            StopReason::Exited(status) => {
                self.release_vfork_parent()?;
                self.state = TraceState::Exited(status);
                self.registers.clear();
                self.on_breakpoint.clear();
                self.pending_signals.clear();
                if let crate::event::ExitStatus::Code(code) = status {
                    self.set_meta("ExitCode", code);
                }
                EventKind::Exited(status)
            }
            StopReason::LibraryLoaded { path, base } => {
                EventKind::LibraryLoaded { name: crate::symbols::normalize_module_name(&path), path, base }
            }
            StopReason::LibraryUnloaded { path, base } => {
                EventKind::LibraryUnloaded { name: crate::symbols::normalize_module_name(&path), path, base }
            }
            StopReason::DebugString(text) => EventKind::DebugString { text },
            StopReason::DebugError { error, kind } => EventKind::DebugError { error, kind },
            StopReason::Exec { path } => {
                self.release_vfork_parent()?;
                // The new program may be of the other width (a 64-bit shell running a 32-bit program).
                self.arch = self.platform.arch();
                self.set_meta("Architecture", self.arch.name);
                self.forget_break_bytes();
                self.scratch.reset();
                // The watched addresses belonged to the old image.
                self.watchpoints.clear();
                self.state = TraceState::Stopped;
                self.libraries_after_exec()?;
                self.registers.clear();
                self.on_breakpoint.clear();
                self.symbols = None;
                self.set_meta("ExeName", path.clone());
                EventKind::Exec { path }
            }
        };
        if self.is_attached() {
            if self.platform.has_thread(tid) {
                self.current_tid = tid;
            } else if !self.platform.has_thread(self.current_tid) {
                self.current_tid = self.platform.threads().first().copied().unwrap_or(self.pid);
            }
        }
        Ok(Event { pid: self.pid, tid, kind })
    }

    /// Whether `tid` stands just after one of our break instructions (so its trap is our breakpoint).
    fn is_our_break_trap(&mut self, tid: Tid) -> Result<bool> {
        if self.breakpoints.by_addr.is_empty() {
            return Ok(false);
        }
        let pc = self.thread_pc(tid)?;
        let len = if self.arch.pc_after_break { self.arch.break_instruction.len() as u64 } else { 0 };
        let at = pc.wrapping_sub(len);
        Ok(self.breakpoints.inserted_at(at).is_some() || self.pads.trap_at(at).is_some())
    }

    /// A breakpoint instruction trapped in `tid`: ours (pc moved back onto it) or the program's own.
    fn breakpoint_hit(&mut self, tid: Tid) -> Result<EventKind> {
        let pc = self.thread_pc(tid)?;
        let addr = if self.arch.pc_after_break { pc - self.arch.break_instruction.len() as u64 } else { pc };
        if let Some((id, site)) = self.pads.trap_at(addr) {
            // A pad's int3 comes after it restored the site's registers: the hit is at the site.
            self.set_thread_pc(tid, site)?;
            self.on_breakpoint.insert(tid, site);
            return Ok(EventKind::Breakpoint { id, addr: site });
        }
        let Some(id) = self.breakpoints.inserted_at(addr) else {
            return Ok(EventKind::Signal(SignalInfo {
                signo: SIGTRAP,
                code: SI_KERNEL,
                fault_addr: Some(pc),
                ..SignalInfo::default()
            }));
        };
        if addr != pc {
            self.set_thread_pc(tid, addr)?;
        }
        self.on_breakpoint.insert(tid, addr);
        Ok(EventKind::Breakpoint { id, addr })
    }

    fn set_thread_pc(&mut self, tid: Tid, pc: u64) -> Result<()> {
        let saved = self.current_tid;
        self.current_tid = tid;
        let result = self.set_pc(pc);
        self.current_tid = saved;
        result
    }

    /// Runs the breakpoint callback and the notifiers; returns whether the trace stops here.
    fn dispatch(&mut self, event: &Event) -> Result<bool> {
        if std::mem::take(&mut self.quiet_page_fault) {
            // An access next to a watched range: it goes on unseen.
            self.quiet_resume = true;
            return Ok(false);
        }
        if let EventKind::Signal(info) = &event.kind {
            if self.ignored_signals.contains(&info.signo) {
                return Ok(false);
            }
        }
        let mut must_stop = matches!(event.kind, EventKind::Exited(_) | EventKind::Interrupted);
        if let EventKind::Breakpoint { id, .. } = event.kind {
            match self.breakpoint_reached(id, event)? {
                Reached::Normally => {}
                Reached::Stopping => must_stop = true,
                Reached::Quietly => {
                    self.quiet_resume = true;
                    return Ok(false);
                }
            }
        }
        self.fire_notifiers(event);
        if must_stop || !self.is_attached() {
            return Ok(true);
        }
        let keep_going =
            self.auto_continue.contains(&event.event_type()) || self.run_again || self.mode(Mode::RunForever);
        Ok(!keep_going)
    }

    /// Evaluates a hit breakpoint's condition, counts the hit, runs its
    /// callback and applies its kind. Says how the hit goes on.
    fn breakpoint_reached(&mut self, id: u32, event: &Event) -> Result<Reached> {
        let Some(entry) = self.breakpoints.by_id.get_mut(&id) else {
            return Ok(Reached::Normally);
        };
        // A condition or callback already running (a hit from inside it) is not run again.
        if let Some(condition) = entry.condition.clone() {
            if let Ok(mut condition) = condition.try_borrow_mut() {
                if !condition(self) {
                    return Ok(Reached::Quietly);
                }
            }
        }
        let Some(entry) = self.breakpoints.by_id.get_mut(&id) else {
            return Ok(Reached::Normally);
        };
        entry.info.hits += 1;
        let kind = entry.info.kind;
        if let Some(callback) = entry.callback.clone() {
            if let Ok(mut callback) = callback.try_borrow_mut() {
                callback(self, event);
            }
        }
        Ok(match kind {
            BreakpointKind::Normal | BreakpointKind::Silent => Reached::Normally,
            BreakpointKind::Tracker | BreakpointKind::Fast => Reached::Quietly,
            BreakpointKind::InProcess if self.pads.stops(id) => Reached::Normally,
            BreakpointKind::InProcess => Reached::Quietly,
            BreakpointKind::StopRunForever => {
                self.modes.run_forever = false;
                Reached::Stopping
            }
            BreakpointKind::OneTime | BreakpointKind::StopAndRemove => {
                if self.breakpoints.by_id.contains_key(&id) {
                    self.remove_breakpoint(id)?;
                }
                if kind == BreakpointKind::OneTime {
                    Reached::Normally
                } else {
                    Reached::Stopping
                }
            }
        })
    }
}

/// How a breakpoint hit goes on.
enum Reached {
    /// Like any event: notifiers, then the usual stop-or-continue rules.
    Normally,
    /// Stops whatever the modes say.
    Stopping,
    /// Goes on at once: no notifiers, no stop (false condition, tracker and fast breakpoints).
    Quietly,
}
