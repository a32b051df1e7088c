//! Breakpoints out of memory while the caller has the process stopped.
//!
//! With [`Trace::set_breakpoints_out_while_stopped`] on, every breakpoint
//! instruction leaves memory when the run loop hands an event to its caller,
//! and goes back in when the process resumes, as gdb does. A tracer killed
//! while the process is stopped (at a debugger's prompt) then leaves code that
//! runs on correctly: no break instruction in it, and no thread left just
//! after one (a thread that hit a breakpoint is put back on it, in the
//! kernel's copy of its registers too, before the bytes leave).
//!
//! While the breakpoints are out, the table keeps every entry as inserted:
//! reads, writes, new and removed breakpoints and single steps work as usual;
//! only memory differs. Hits that go on quietly (fast and tracker breakpoints,
//! false conditions, callbacks that run again) never reach the caller and pay
//! nothing for it.

use std::time::Duration;

use super::{Trace, TraceState};
use crate::arch::RegisterGroup;
use crate::error::{Result, Tid};
use crate::event::SignalInfo;
use crate::platform::StopReason;

/// The option and the state of memory.
#[derive(Debug, Default)]
pub(super) struct Parking {
    /// Breakpoints leave memory while the caller has the process stopped.
    pub wanted: bool,
    /// They are out now (memory holds the original bytes of every inserted entry).
    pub parked: bool,
}

impl Trace {
    /// Whether breakpoint instructions leave memory whenever the process is
    /// stopped for the caller (off by default). When on, a tracer that dies
    /// while the process is stopped leaves it with its code intact, at the
    /// price of writing every breakpoint out and in again at each stop that
    /// reaches the caller (quiet hits are not such stops). Turning it on while
    /// the process is stopped takes the breakpoints out at once.
    pub fn set_breakpoints_out_while_stopped(&mut self, on: bool) -> Result<()> {
        self.parking.wanted = on;
        match on {
            true => self.park_breakpoints(),
            false => self.unpark_breakpoints(),
        }
    }

    /// Whether [`Trace::set_breakpoints_out_while_stopped`] is on.
    pub fn breakpoints_out_while_stopped(&self) -> bool {
        self.parking.wanted
    }

    /// The run loop hands an event to its caller: takes the breakpoints out of
    /// memory if the option is on and the process is stopped.
    pub(super) fn park_breakpoints(&mut self) -> Result<()> {
        if !self.parking.wanted || self.parking.parked || self.state != TraceState::Stopped {
            return Ok(());
        }
        if !self.breakpoints.by_id.values().any(|e| e.saved.is_some()) && !self.pads.sites.values().any(|s| s.patched) {
            return Ok(());
        }
        self.take_back_unreported_hits()?;
        self.write_back_registers()?;
        self.parking.parked = true;
        self.write_original_bytes()
    }

    /// Writes the original bytes under every inserted breakpoint; the table
    /// still says inserted (for parking, and while a vfork child shares the memory).
    pub(super) fn write_original_bytes(&mut self) -> Result<()> {
        let inserted: Vec<(u64, Vec<u8>)> =
            self.breakpoints.by_id.values().filter_map(|e| Some((e.info.addr, e.saved.clone()?))).collect();
        let mut first_error = self.write_original_pad_bytes().err();
        for (addr, saved) in inserted {
            if let Err(e) = self.platform.remove_break(addr, &saved) {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Writes the break instruction back under every breakpoint the table
    /// says inserted; one that cannot be written is no longer inserted.
    pub(super) fn write_break_bytes(&mut self) {
        let inserted: Vec<(u32, u64)> = self
            .breakpoints
            .by_id
            .iter()
            .filter(|(_, e)| e.saved.is_some())
            .map(|(&id, e)| (id, e.info.addr))
            .collect();
        // A jump that cannot go back leaves its site running the original code, which is correct.
        let _ = self.write_pad_jumps();
        for (id, addr) in inserted {
            if self.platform.insert_break(addr, self.arch.break_instruction).is_err() {
                if let Some(entry) = self.breakpoints.by_id.get_mut(&id) {
                    entry.saved = None;
                }
            }
        }
    }

    /// [`Trace::park_breakpoints`] as the run loop returns an event. A failure
    /// leaves breakpoint bytes in memory, as when the option is off, and must
    /// not cost the caller its event: it is not reported.
    pub(super) fn park_breakpoints_for_caller(&mut self) {
        if self.parking.wanted {
            let _ = self.park_breakpoints();
        }
    }

    /// The process resumes: puts the breakpoints back if they are out. One
    /// whose code can no longer be written (the program unmapped it) is
    /// forgotten as inserted rather than keeping the process from running.
    /// The process resumes: puts the breakpoints back if they are out. One
    /// whose code can no longer be written (the program unmapped it) is
    /// forgotten as inserted rather than keeping the process from running.
    pub(super) fn unpark_breakpoints(&mut self) -> Result<()> {
        if !std::mem::take(&mut self.parking.parked) || !self.is_attached() {
            return Ok(());
        }
        // While a vfork child shares the memory, the bytes stay out until `VforkDone`.
        if !self.vfork_bytes_out {
            self.write_break_bytes();
        }
        Ok(())
    }

    /// Takes the stops the backend holds but has not reported yet, keeping
    /// them to be reported in order, except breakpoint hits: those threads are
    /// put back on the breakpoint and their stop forgotten, so that they hit it
    /// again when they resume; so are faults on watched pages (the access
    /// faults again, or succeeds once the watch is gone). Before the break instructions leave memory, no
    /// thread may be left just after one (half way into the original
    /// instruction). The pcs changed are in the register cache, to write back.
    pub(super) fn take_back_unreported_hits(&mut self) -> Result<()> {
        while let Some(stop) = self.platform.wait(Some(Duration::ZERO))? {
            self.deferred_stops.push_back(stop);
        }
        for stop in std::mem::take(&mut self.deferred_stops) {
            let taken_back = match &stop.reason {
                StopReason::Trap | StopReason::SoftwareBreak => self.put_back_on_breakpoint(stop.tid)?,
                StopReason::Signal(info) => self.faults_on_watched_page(info),
                _ => false,
            };
            if !taken_back {
                self.deferred_stops.push_back(stop);
            }
        }
        Ok(())
    }

    /// Whether a signal is a fault on a page a page watch protects.
    fn faults_on_watched_page(&self, info: &SignalInfo) -> bool {
        info.signo == crate::signals::SIGSEGV
            && info.fault_addr.is_some_and(|addr| self.page_watches.values().any(|w| w.page_of(addr).is_some()))
    }

    /// If `tid` stands just after one of our break instructions, moves it back
    /// onto it; says whether it did.
    fn put_back_on_breakpoint(&mut self, tid: Tid) -> Result<bool> {
        if !self.platform.has_thread(tid) || !self.arch.pc_after_break {
            return Ok(false);
        }
        let pc = self.thread_pc(tid)?;
        let addr = pc.wrapping_sub(self.arch.break_instruction.len() as u64);
        if self.breakpoints.inserted_at(addr).is_none() {
            return Ok(false);
        }
        self.context_with(tid, RegisterGroup::General)?.set_pc(addr)?;
        Ok(true)
    }
}
