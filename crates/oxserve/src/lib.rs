//! oxserve: a GDB Remote Serial Protocol server over an oxtrace [`Trace`].
//!
//! gdb (`target extended-remote HOST:PORT`) and lldb (`gdb-remote HOST:PORT`)
//! debug through it: registers with a target description, memory, software and
//! hardware breakpoints, watchpoints, single-step, continue, threads, Ctrl-C,
//! the library list (`qXfer:libraries-svr4:read`), the auxiliary vector, the
//! program's path, and extended mode's run, attach, kill and detach.
//!
//! The protocol engine is the `gdbstub` crate; this crate is the target it
//! drives ([`TraceTarget`]), the blocking event loop that waits for the trace
//! and the connection at once, and a guard in front of gdbstub
//! ([`framing`]) that drops malformed and oversized packets, so no input
//! ends a session or reaches the process. Everything the trace does (its
//! breakpoints, stepping over them, watchpoints in every thread) applies.
//!
//! # Use
//!
//! ```no_run
//! use std::process::Command;
//! use oxserve::{listen, serve_connection, SessionEnd, TraceTarget};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let trace = oxtrace::Trace::spawn(Command::new("/bin/true"))?;
//! let mut target = TraceTarget::new(trace, true, None);
//! let listener = listen("127.0.0.1:0")?;
//! println!("listening on {}", listener.local_addr()?);
//! let (stream, _) = listener.accept()?;
//! match serve_connection(&mut target, stream)? {
//!     SessionEnd::Detached => target.trace_mut().detach()?,
//!     _ => {}
//! }
//! # Ok(())
//! # }
//! ```
//!
//! # Access
//!
//! A client gets least privilege unless the target's [`Policy`] widens it:
//! it debugs the one process served (and may start that program again), reads
//! through `vFile` only the files a debugger needs for it, and may stay idle
//! for ever. [`listen_on`] also takes `unix:PATH`, a Unix domain socket of
//! mode 0600 that no other user or machine reaches.
//!
//! The caller owns the listener and decides what a session's end means (the
//! `oxdb serve` command detaches or kills and exits). A [`Trace`] is pinned to
//! its thread, so the server runs on the thread that created the trace.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod breakpoints;
pub mod connection;
mod extended;
mod file_access;
pub mod framing;
mod host_io;
mod listener;
mod local;
mod policy;
pub mod registers;
mod resume;
pub mod signals;
mod stops;
mod stream;
mod target;
pub mod xfer;

use std::net::{IpAddr, SocketAddr, TcpListener, ToSocketAddrs};

use gdbstub::conn::ConnectionExt;
use gdbstub::stub::{DisconnectReason, GdbStub, GdbStubError};
pub use oxtrace::Trace;

pub use connection::GuardedConnection;
pub use listener::{listen_on, Listener};
pub use policy::Policy;
pub use stops::TraceEventLoop;
pub use stream::ClientStream;
pub use target::{Launch, TraceTarget};

/// The largest packet accepted (and advertised as `PacketSize`), in bytes.
pub const PACKET_SIZE: usize = 0x1000;

/// How many protocol errors one connection may cause before it is closed.
const MAX_PROTOCOL_ERRORS: u32 = 1000;

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionEnd {
    /// The client detached (`D`): the caller should detach the trace.
    Detached,
    /// The client killed the process and left (`k` outside extended mode).
    Killed,
    /// The client closed the connection.
    ClientGone,
    /// The client sent nothing for the policy's idle timeout and was dropped.
    IdleTimeout,
}

/// Why serving failed.
#[derive(Debug)]
pub enum ServeError {
    /// The trace failed in a way the session cannot go on from.
    Trace(oxtrace::Error),
    /// The connection failed.
    Io(std::io::Error),
    /// The client caused more than a thousand protocol errors.
    TooManyErrors,
}

impl std::fmt::Display for ServeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServeError::Trace(e) => write!(f, "the traced process: {e}"),
            ServeError::Io(e) => write!(f, "the client connection: {e}"),
            ServeError::TooManyErrors => write!(f, "the client sent more than {MAX_PROTOCOL_ERRORS} bad packets"),
        }
    }
}

impl std::error::Error for ServeError {}

/// Whether an address is on the loopback interface (anything else can be
/// reached from other machines): `127.0.0.0/8`, `::1`, and IPv4 loopback
/// addresses mapped into IPv6 (`::ffff:127.0.0.1`). The unspecified
/// addresses (`0.0.0.0`, `::`) are every interface, so not loopback.
pub fn is_loopback(addr: &SocketAddr) -> bool {
    match addr.ip() {
        IpAddr::V4(ip) => ip.is_loopback(),
        IpAddr::V6(ip) => ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
    }
}

/// Binds a listener on `addr` (`HOST:PORT`; port 0 picks a free one).
pub fn listen(addr: impl ToSocketAddrs) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr)
}

/// Serves `target` to the client on `stream` until it detaches, kills or leaves.
///
/// A packet gdbstub refuses as a protocol error ends only that gdbstub session:
/// a new one takes the connection over (the client's next packet is answered).
/// If the process was running then, it is stopped first. After the process
/// ends, the session goes on too (extended mode: the client may start another).
///
/// With the policy's idle timeout, a client that sends nothing for that long
/// while the process is stopped is dropped ([`SessionEnd::IdleTimeout`]).
pub fn serve_connection(target: &mut TraceTarget, stream: impl Into<ClientStream>) -> Result<SessionEnd, ServeError> {
    // The served register file is gdb's amd64 one (a 32-bit process would need i386's).
    let arch = target.trace_mut().arch().name;
    if arch != "x86_64" {
        return Err(ServeError::Trace(oxtrace::Error::InvalidArgument(format!(
            "oxserve serves x86_64 processes only; this one is {arch}"
        ))));
    }
    let conn = GuardedConnection::new(stream, PACKET_SIZE);
    conn.set_idle_timeout(target.policy().idle_timeout).map_err(ServeError::Io)?;
    let mut errors = 0;
    loop {
        let stub = GdbStub::<TraceTarget, GuardedConnection>::builder(conn.clone())
            .packet_buffer_size(PACKET_SIZE)
            .build()
            .map_err(|e| ServeError::Io(std::io::Error::other(e.to_string())))?;
        match run_session(stub, target) {
            Ok(DisconnectReason::Disconnect) => return Ok(SessionEnd::Detached),
            Ok(DisconnectReason::Kill) => return Ok(SessionEnd::Killed),
            // gdbstub ends its session after reporting an exit, even in extended
            // mode; the client stays and may `run` again, so a new session goes on.
            Ok(DisconnectReason::TargetExited(_) | DisconnectReason::TargetTerminated(_)) => {}
            Err(SessionError::Io(error)) => return connection_end(error),
            Err(SessionError::Target(error)) => return Err(ServeError::Trace(error)),
            Err(SessionError::Stub(e)) if e.is_connection_error() => {
                let (error, _) = e.into_connection_error().expect("a connection error");
                return connection_end(error);
            }
            Err(SessionError::Stub(e)) if e.is_target_error() => {
                return Err(ServeError::Trace(e.into_target_error().expect("a target error")));
            }
            Err(SessionError::Stub(e)) => {
                errors += 1;
                if errors > MAX_PROTOCOL_ERRORS {
                    return Err(ServeError::TooManyErrors);
                }
                eprintln!("oxserve: bad packet ({e}); the session goes on");
                settle(target)?;
                // The refused packet gets an error reply, so the client is not left waiting.
                conn.send_raw(&framing::frame(b"E01")).map_err(ServeError::Io)?;
            }
        }
    }
}

/// How a session ends on the client's connection: its closing is the client leaving.
fn connection_end(error: std::io::Error) -> Result<SessionEnd, ServeError> {
    match error.kind() {
        std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe => {
            Ok(SessionEnd::ClientGone)
        }
        std::io::ErrorKind::TimedOut => Ok(SessionEnd::IdleTimeout),
        _ => Err(ServeError::Io(error)),
    }
}

/// Why one gdbstub session stopped short.
enum SessionError {
    /// gdbstub's own error (protocol, connection or target).
    Stub(GdbStubError<oxtrace::Error, std::io::Error>),
    /// Waiting for the process failed.
    Target(oxtrace::Error),
    /// The connection failed while the server answered a packet itself.
    Io(std::io::Error),
}

/// One gdbstub session: gdbstub's blocking loop, except that between packets
/// the ones gdbstub does not know ([`local`]) are answered here, with the target at hand.
fn run_session(
    stub: GdbStub<'_, TraceTarget, GuardedConnection>,
    target: &mut TraceTarget,
) -> Result<DisconnectReason, SessionError> {
    use gdbstub::stub::run_blocking::{BlockingEventLoop, Event, WaitForStopReasonError};
    use gdbstub::stub::state_machine::GdbStubStateMachine;

    let mut gdb = stub.run_state_machine(target).map_err(SessionError::Stub)?;
    loop {
        gdb = match gdb {
            GdbStubStateMachine::Idle(mut gdb) => {
                let conn = gdb.borrow_conn();
                conn.wait_for_input().map_err(SessionError::Io)?;
                if let Some(body) = conn.take_packet_if(local::handles) {
                    let reply = local::answer(target, &body);
                    gdb.borrow_conn().reply(&reply).map_err(SessionError::Io)?;
                    GdbStubStateMachine::Idle(gdb)
                } else {
                    let byte = conn.read().map_err(SessionError::Io)?;
                    gdb.incoming_data(target, byte).map_err(SessionError::Stub)?
                }
            }
            GdbStubStateMachine::Disconnected(gdb) => return Ok(gdb.get_reason()),
            GdbStubStateMachine::CtrlCInterrupt(gdb) => {
                let stop = TraceEventLoop::on_interrupt(target).map_err(SessionError::Target)?;
                gdb.interrupt_handled(target, stop).map_err(SessionError::Stub)?
            }
            GdbStubStateMachine::Running(mut gdb) => {
                match TraceEventLoop::wait_for_stop_reason(target, gdb.borrow_conn()) {
                    Ok(Event::TargetStopped(stop)) => gdb.report_stop(target, stop).map_err(SessionError::Stub)?,
                    Ok(Event::IncomingData(byte)) => gdb.incoming_data(target, byte).map_err(SessionError::Stub)?,
                    Err(WaitForStopReasonError::Target(e)) => return Err(SessionError::Target(e)),
                    Err(WaitForStopReasonError::Connection(e)) => return Err(SessionError::Io(e)),
                }
            }
        };
    }
}

/// Stops a process left running by a session that ended on a protocol error.
fn settle(target: &mut TraceTarget) -> Result<(), ServeError> {
    let trace = target.trace_mut();
    if trace.is_running() {
        trace.interrupter().interrupt().map_err(ServeError::Trace)?;
        trace.wait().map_err(ServeError::Trace)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_in_every_form() {
        let loopback = |s: &str| is_loopback(&s.parse().unwrap());
        for addr in
            ["127.0.0.1:1", "127.0.0.2:1", "127.255.0.9:1", "[::1]:1", "[::ffff:127.0.0.1]:1", "[::ffff:127.1.2.3]:1"]
        {
            assert!(loopback(addr), "{addr} is loopback");
        }
        for addr in ["0.0.0.0:1", "[::]:1", "10.0.0.1:1", "[::ffff:10.0.0.1]:1", "[::ffff:0.0.0.0]:1", "[fe80::1]:1"] {
            assert!(!loopback(addr), "{addr} is not loopback");
        }
    }
}
