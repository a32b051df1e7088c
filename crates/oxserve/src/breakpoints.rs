//! `Z`/`z` packets: software breakpoints (`Z0`) as trace breakpoints, hardware
//! breakpoints (`Z1`) and watchpoints (`Z2`-`Z4`) as trace watchpoints.
//!
//! Software breakpoints go through [`Trace::add_break_by_addr`](oxtrace::Trace::add_break_by_addr),
//! not raw memory writes, so the trace's own stepping over breakpoints and
//! its view of memory (original bytes shown) apply. A request the hardware
//! cannot take (an unaligned or odd-sized watch, all four debug registers in
//! use) answers "not supported" so that gdb falls back to software watchpoints.

use gdbstub::target::ext::breakpoints::{
    Breakpoints, HwBreakpoint, HwBreakpointOps, HwWatchpoint, HwWatchpointOps, SwBreakpoint, SwBreakpointOps,
    WatchKind as GdbWatchKind,
};
use gdbstub::target::{TargetError, TargetResult};
use oxtrace::{Error, WatchKind};

use crate::target::{reply_error, TraceTarget};

impl Breakpoints for TraceTarget {
    fn support_sw_breakpoint(&mut self) -> Option<SwBreakpointOps<'_, Self>> {
        Some(self)
    }

    fn support_hw_breakpoint(&mut self) -> Option<HwBreakpointOps<'_, Self>> {
        Some(self)
    }

    fn support_hw_watchpoint(&mut self) -> Option<HwWatchpointOps<'_, Self>> {
        Some(self)
    }
}

impl SwBreakpoint for TraceTarget {
    fn add_sw_breakpoint(&mut self, addr: u64, _kind: usize) -> TargetResult<bool, Self> {
        if self.sw_breaks.contains_key(&addr) {
            return Ok(true);
        }
        match self.trace.get_mut().add_break_by_addr(addr) {
            Ok(id) => {
                self.sw_breaks.insert(addr, id);
                Ok(true)
            }
            // Including a clash with one of the trace's own (a library hook): refused, not pretended.
            Err(e) => Err(reply_error(e)),
        }
    }

    fn remove_sw_breakpoint(&mut self, addr: u64, _kind: usize) -> TargetResult<bool, Self> {
        let Some(id) = self.sw_breaks.remove(&addr) else { return Ok(false) };
        self.trace.get_mut().remove_breakpoint(id).map_err(reply_error)?;
        Ok(true)
    }
}

impl HwBreakpoint for TraceTarget {
    fn add_hw_breakpoint(&mut self, addr: u64, _kind: usize) -> TargetResult<bool, Self> {
        if self.hw_breaks.contains_key(&addr) {
            return Ok(true);
        }
        match self.trace.get_mut().add_watchpoint(addr, 1, WatchKind::Execute) {
            Ok(id) => {
                self.hw_breaks.insert(addr, id);
                Ok(true)
            }
            Err(Error::InvalidArgument(_)) => Ok(false),
            Err(e) => Err(reply_error(e)),
        }
    }

    fn remove_hw_breakpoint(&mut self, addr: u64, _kind: usize) -> TargetResult<bool, Self> {
        let Some(id) = self.hw_breaks.remove(&addr) else { return Ok(false) };
        self.trace.get_mut().remove_watchpoint(id).map_err(reply_error)?;
        Ok(true)
    }
}

impl HwWatchpoint for TraceTarget {
    fn add_hw_watchpoint(&mut self, addr: u64, len: u64, kind: GdbWatchKind) -> TargetResult<bool, Self> {
        if !matches!(len, 1 | 2 | 4 | 8) || !addr.is_multiple_of(len) {
            return Ok(false);
        }
        if self.watches.values().any(|&w| w == (addr, len, kind)) {
            return Ok(true);
        }
        // x86 has no read-only watch: a read watch also fires on writes (as in gdbserver).
        let trace_kind = match kind {
            GdbWatchKind::Write => WatchKind::Write,
            GdbWatchKind::Read | GdbWatchKind::ReadWrite => WatchKind::ReadWrite,
        };
        match self.trace.get_mut().add_watchpoint(addr, len as usize, trace_kind) {
            Ok(id) => {
                self.watches.insert(id, (addr, len, kind));
                Ok(true)
            }
            Err(Error::InvalidArgument(_)) => Ok(false),
            Err(e) => Err(reply_error(e)),
        }
    }

    fn remove_hw_watchpoint(&mut self, addr: u64, len: u64, kind: GdbWatchKind) -> TargetResult<bool, Self> {
        let Some(id) = self.watches.iter().find(|(_, &w)| w == (addr, len, kind)).map(|(&id, _)| id) else {
            return Ok(false);
        };
        self.watches.remove(&id);
        self.trace.get_mut().remove_watchpoint(id).map_err(|e| match e {
            Error::NoSuchBreakpoint(_) => TargetError::Errno(22),
            other => reply_error(other),
        })?;
        Ok(true)
    }
}
