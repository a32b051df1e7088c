//! Starting, attaching, detaching, killing and dropping a trace.

use std::process::Command;

use super::{Trace, TraceState};
use crate::error::{Pid, Result};
use crate::event::{Event, EventKind, ExitStatus};

#[cfg(target_os = "linux")]
use crate::platform::linux::{LinuxProcess, SpawnOptions};

#[cfg(target_os = "linux")]
impl Trace {
    /// Starts `command` (program, arguments, environment, working directory and
    /// stdio as set on it) under trace, stopped before its first instruction.
    ///
    /// The process is killed when the trace is dropped, unless detached first.
    pub fn spawn(command: Command) -> Result<Trace> {
        Self::spawn_with(command, SpawnOptions::default())
    }

    /// [`Trace::spawn`] with options (such as turning ASLR off).
    pub fn spawn_with(command: Command, options: SpawnOptions) -> Result<Trace> {
        let process = LinuxProcess::spawn(command, options)?;
        Ok(Trace::from_platform(Box::new(process), true))
    }

    /// Attaches to the running process `pid` and all its threads, and stops it.
    ///
    /// When the trace is dropped, the process is detached and runs on.
    pub fn attach(pid: Pid) -> Result<Trace> {
        let process = LinuxProcess::attach(pid)?;
        Ok(Trace::from_platform(Box::new(process), false))
    }
}

#[cfg(windows)]
impl Trace {
    /// Starts `command` (program, arguments, environment changes, working
    /// directory) under the Win32 debug API, stopped at the loader's initial
    /// breakpoint, before the program's own code runs.
    ///
    /// The process is killed when the trace is dropped, unless detached first.
    pub fn spawn(command: Command) -> Result<Trace> {
        let process = crate::platform::windows::WindowsProcess::spawn(&command)?;
        Ok(Trace::from_platform(Box::new(process), true))
    }

    /// Attaches to the running process `pid` and stops it.
    ///
    /// When the trace is dropped, the process is detached and runs on.
    pub fn attach(pid: Pid) -> Result<Trace> {
        let process = crate::platform::windows::WindowsProcess::attach(pid)?;
        Ok(Trace::from_platform(Box::new(process), false))
    }
}

impl Trace {
    /// Lets the process go, with nothing of the trace left in it: removes
    /// every breakpoint instruction (threads that hit one and were not
    /// reported yet are put back on it), page-watch protections and debug
    /// registers; moves threads out of the out-of-line copies and unmaps their
    /// scratch page; writes back changed registers; delivers pending signals;
    /// and detaches. The process runs on untraced.
    pub fn detach(&mut self) -> Result<()> {
        if self.state == TraceState::Running {
            self.platform.stop_all()?;
            self.state = TraceState::Stopped;
        }
        self.require_stopped()?;
        self.ensure_all_stopped()?;
        let event = Event { pid: self.pid, tid: self.current_tid, kind: EventKind::Detached };
        self.fire_notifiers(&event);
        if !self.breakpoints.by_id.is_empty() || !self.page_watches.is_empty() {
            self.take_back_unreported_hits()?;
        }
        self.remove_all_page_watches()?;
        self.remove_all_break_bytes()?;
        self.parking.parked = false;
        if !self.watchpoints.is_empty() || self.debug_registers_used {
            // Armed debug registers would SIGTRAP the process once it is untraced.
            self.watchpoints.clear();
            self.apply_watchpoints_everywhere()?;
        }
        // Not fatal: the process must not stay stopped for it (the page is only memory).
        let pads = self.release_all_pads();
        let scratch = self.unmap_scratch_page();
        let signal = self.signals_for_detach();
        self.flush_registers()?;
        self.platform.detach(signal)?;
        self.state = TraceState::Detached;
        self.last_event = Some(event);
        pads.and(scratch)
    }

    /// Whether the trace started the process (so that ending the trace kills
    /// it) rather than attached to it (ending the trace detaches).
    pub fn is_spawned(&self) -> bool {
        self.spawned
    }

    /// Kills the process and waits for it to end.
    pub fn kill(&mut self) -> Result<ExitStatus> {
        if !self.is_attached() {
            self.require_stopped()?;
        }
        let status = self.platform.kill()?;
        self.state = TraceState::Exited(status);
        Ok(status)
    }

    /// Ends the trace the way dropping it does: a spawned process is killed,
    /// an attached one detached. Reports what went wrong, which `drop` cannot.
    pub fn release(mut self) -> Result<()> {
        self.release_inner()
    }

    fn release_inner(&mut self) -> Result<()> {
        if !self.is_attached() {
            return Ok(());
        }
        if self.spawned {
            self.kill().map(drop)
        } else {
            self.detach()
        }
    }
}

impl Drop for Trace {
    fn drop(&mut self) {
        let _ = self.release_inner();
    }
}
