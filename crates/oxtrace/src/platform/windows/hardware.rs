//! Instruction breakpoints of the debug registers under wine, which does not
//! keep a context's resume flag: a thread on one is stepped past it with DR7
//! off and every other thread suspended; hits other threads had queued
//! meanwhile are forgotten (those threads stand on the instruction and hit it
//! again when they run). And the program counter of a stopped thread.

use super::events::{self, Decoded};
use super::{sys, WindowsProcess, TRAP_FLAG};
use crate::error::{Error, Result, Tid};
use crate::platform::StopReason;

impl WindowsProcess {
    /// Steps thread `tid`, which stands on an instruction breakpoint of the
    /// debug registers, past it with them off and every other thread
    /// suspended; the process is left stopped at the step (`handled` is how
    /// the held event is continued). Returns false when another stop came
    /// first (it is kept to be reported).
    pub(super) fn step_past_hardware_break(&mut self, tid: Tid, handled: bool) -> Result<bool> {
        let handle = self.thread(tid)?.handle;
        let mut ctx = sys::get_context(handle).map_err(|e| self.os_error("GetThreadContext", e))?;
        let dr7 = ctx.0.Dr7;
        ctx.0.Dr7 = 0;
        ctx.0.EFlags |= TRAP_FLAG;
        sys::set_context(handle, &ctx).map_err(|e| self.os_error("SetThreadContext", e))?;
        let others: Vec<Tid> = self.threads.keys().copied().filter(|&other| other != tid).collect();
        let mut held_here = Vec::new();
        for other in others {
            if self.suspend_thread(other)? {
                held_here.push(other);
            }
        }
        if let Some(info) = self.threads.get_mut(&tid) {
            info.on_hardware_break = false;
        }
        self.unsuspend_thread(tid)?;
        self.continue_held(handled)?;
        let stepped = loop {
            let Some(event) = self.next_event(None)? else { continue };
            self.hold(event.tid);
            let single_step = matches!(event.event, sys::DebugEvent::Exception { code: events::SINGLE_STEP, .. });
            if single_step && event.tid as Tid == tid {
                break true;
            }
            if single_step && self.drop_instruction_break(event.tid as Tid)? {
                // Another thread's instruction breakpoint, queued meanwhile: it
                // stays on it (suspended), and hits it again when it runs.
                self.continue_held(true)?;
                continue;
            }
            match self.decode(event)? {
                Decoded::Stop(stop) => {
                    let mine = stop.tid == tid || matches!(stop.reason, StopReason::Exited(_));
                    self.pending.push_back(stop);
                    if mine {
                        break false;
                    }
                    self.continue_held(true)?;
                }
                Decoded::Absorbed | Decoded::Halted => self.continue_held(true)?,
            }
        };
        if !self.gone {
            if let Ok(handle) = self.thread(tid).map(|t| t.handle) {
                let mut ctx = sys::get_context(handle).map_err(|e| self.os_error("GetThreadContext", e))?;
                ctx.0.Dr7 = dr7;
                ctx.0.Dr6 = 0;
                sys::set_context(handle, &ctx).map_err(|e| self.os_error("SetThreadContext", e))?;
            }
            for other in held_here {
                self.unsuspend_thread(other)?;
            }
        }
        Ok(stepped)
    }

    /// The program counter of a stopped thread.
    pub(super) fn thread_pc(&self, tid: Tid) -> Result<u64> {
        let handle = self.threads.get(&tid).ok_or(Error::NoSuchThread { pid: self.pid, tid })?.handle;
        Ok(sys::get_context(handle).map_err(|e| self.os_error("GetThreadContext", e))?.0.Rip)
    }

    /// Moves a stopped thread's program counter.
    pub(super) fn set_thread_pc(&mut self, tid: Tid, pc: u64) -> Result<()> {
        let handle = self.threads.get(&tid).ok_or(Error::NoSuchThread { pid: self.pid, tid })?.handle;
        let mut ctx = sys::get_context(handle).map_err(|e| self.os_error("GetThreadContext", e))?;
        ctx.0.Rip = pc;
        sys::set_context(handle, &ctx).map_err(|e| self.os_error("SetThreadContext", e))
    }

    /// If thread `tid` stopped on an instruction breakpoint of its debug
    /// registers, forgets that stop (its DR6 cleared): the thread stands on
    /// the instruction and fires again when it runs.
    pub(super) fn drop_instruction_break(&mut self, tid: Tid) -> Result<bool> {
        let Some(handle) = self.threads.get(&tid).map(|t| t.handle) else { return Ok(false) };
        let mut ctx = sys::get_context(handle).map_err(|e| self.os_error("GetThreadContext", e))?;
        let hit = ctx.0.Dr6 & 0xf;
        if hit == 0 || (ctx.0.Dr7 >> (16 + 4 * hit.trailing_zeros())) & 3 != 0 {
            return Ok(false);
        }
        ctx.0.Dr6 = 0;
        sys::set_context(handle, &ctx).map_err(|e| self.os_error("SetThreadContext", e))?;
        Ok(true)
    }
}
