//! Trace events as protocol stop reasons, and the blocking event loop that
//! waits for them while watching the connection.
//!
//! While the process runs, the loop alternates between a short
//! [`Trace::wait_timeout`] and a non-blocking look at the connection, so that
//! a Ctrl-C (`0x03`) from the client is seen within a few milliseconds. An
//! interrupt stops the process through the trace's [`Interrupter`](oxtrace::Interrupter)
//! and is reported as `SIGINT`, as gdbserver does.

use std::time::Duration;

use gdbstub::common::Signal;
use gdbstub::conn::{Connection, ConnectionExt};
use gdbstub::stub::run_blocking::{BlockingEventLoop, Event as LoopEvent, WaitForStopReasonError};
use gdbstub::stub::MultiThreadStopReason;
use oxtrace::{Event, EventKind, ExitStatus, Trace};

use crate::connection::GuardedConnection;
use crate::signals;
use crate::target::{gdb_tid, TraceTarget};

/// How long one wait for the process lasts before the connection is looked at.
const POLL: Duration = Duration::from_millis(5);

/// The stop reason for an event of `target`'s trace.
pub(crate) fn stop_reason(target: &TraceTarget, event: &Event) -> MultiThreadStopReason<u64> {
    let tid = gdb_tid(event.tid);
    match &event.kind {
        EventKind::Breakpoint { .. } => MultiThreadStopReason::SwBreak(tid),
        EventKind::Watchpoint { id, addr, .. } => match target.watches.get(id) {
            Some(&(_, _, kind)) => MultiThreadStopReason::Watch { tid, kind, addr: *addr },
            None => MultiThreadStopReason::HwBreak(tid),
        },
        EventKind::Signal(info) => MultiThreadStopReason::SignalWithThread { tid, signal: signals::to_gdb(info.signo) },
        EventKind::Interrupted => MultiThreadStopReason::SignalWithThread { tid, signal: Signal::SIGINT },
        EventKind::Exited(status) => exit_reason(*status),
        // A step, an exec, anything else that stops: a trap, as for any stepping stub.
        _ => MultiThreadStopReason::SignalWithThread { tid, signal: Signal::SIGTRAP },
    }
}

fn exit_reason(status: ExitStatus) -> MultiThreadStopReason<u64> {
    match status {
        // The protocol carries the low 8 bits of the exit code, as the kernel keeps them.
        ExitStatus::Code(code) => MultiThreadStopReason::Exited((code & 0xff) as u8),
        ExitStatus::Signaled { signal, .. } => MultiThreadStopReason::Terminated(signals::to_gdb(signal)),
    }
}

/// The stop to report for a process that is no longer there.
pub(crate) fn end_of(trace: &Trace) -> MultiThreadStopReason<u64> {
    match trace.exit_status() {
        Some(status) => exit_reason(status),
        None => MultiThreadStopReason::Exited(0),
    }
}

/// gdbstub's blocking event loop over a [`TraceTarget`].
#[derive(Debug)]
pub enum TraceEventLoop {}

impl BlockingEventLoop for TraceEventLoop {
    type Target = TraceTarget;
    type Connection = GuardedConnection;
    type StopReason = MultiThreadStopReason<u64>;

    fn wait_for_stop_reason(
        target: &mut TraceTarget,
        conn: &mut GuardedConnection,
    ) -> Result<
        LoopEvent<Self::StopReason>,
        WaitForStopReasonError<oxtrace::Error, <GuardedConnection as Connection>::Error>,
    > {
        if let Some(stop) = target.pending_stop.take() {
            return Ok(LoopEvent::TargetStopped(stop));
        }
        loop {
            let waited = target.trace.get_mut().wait_timeout(POLL);
            match waited {
                Ok(Some(event)) => return Ok(LoopEvent::TargetStopped(stop_reason(target, &event))),
                Ok(None) => {}
                Err(_) if !target.trace.get_mut().is_attached() => {
                    return Ok(LoopEvent::TargetStopped(end_of(target.trace.get_mut())));
                }
                Err(e) => return Err(WaitForStopReasonError::Target(e)),
            }
            if conn.peek().map_err(WaitForStopReasonError::Connection)?.is_some() {
                let byte = conn.read().map_err(WaitForStopReasonError::Connection)?;
                return Ok(LoopEvent::IncomingData(byte));
            }
        }
    }

    fn on_interrupt(target: &mut TraceTarget) -> Result<Option<Self::StopReason>, oxtrace::Error> {
        let trace = target.trace.get_mut();
        if !trace.is_running() {
            return Ok(None);
        }
        trace.interrupter().interrupt()?;
        // The interrupt, or whatever stopped the process first.
        let event = trace.wait()?;
        Ok(Some(stop_reason(target, &event)))
    }
}
