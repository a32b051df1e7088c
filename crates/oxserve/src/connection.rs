//! The client connection: a TCP or Unix socket stream whose incoming bytes go through a [`Framer`].
//!
//! gdbstub reads and peeks one byte at a time; this connection reads what the
//! socket has in larger chunks, vets it, and hands out vetted bytes. Writes go
//! straight to the socket (gdbstub flushes at the end of each reply).
//! Clones share the socket and the framer, so that a new gdbstub session can
//! take over the connection after one ended on a protocol error.
//!
//! With an idle timeout, a blocking read that gets nothing for that long
//! fails with [`ErrorKind::TimedOut`]: the client is dropped.

use std::cell::RefCell;
use std::io::{ErrorKind, Read, Write};
use std::rc::Rc;
use std::time::Duration;

use gdbstub::conn::{Connection, ConnectionExt};

use crate::framing::Framer;
use crate::stream::ClientStream;

/// A client connection that only ever hands gdbstub well-formed input.
#[derive(Debug, Clone)]
pub struct GuardedConnection {
    inner: Rc<RefCell<Inner>>,
}

#[derive(Debug)]
struct Inner {
    stream: ClientStream,
    framer: Framer,
    nonblocking: bool,
    /// Set once the client closed the connection.
    closed: bool,
    /// Bytes written and not sent yet.
    out: Vec<u8>,
}

impl GuardedConnection {
    /// Wraps `stream`; packets larger than `limit` bytes are refused.
    pub fn new(stream: impl Into<ClientStream>, limit: usize) -> GuardedConnection {
        let stream = stream.into();
        let inner = Inner { stream, framer: Framer::new(limit), nonblocking: false, closed: false, out: Vec::new() };
        GuardedConnection { inner: Rc::new(RefCell::new(inner)) }
    }

    /// Makes blocking reads (and writes) fail with [`ErrorKind::TimedOut`]
    /// after `timeout` without input (or without the client taking output).
    pub fn set_idle_timeout(&self, timeout: Option<Duration>) -> std::io::Result<()> {
        let inner = self.inner.borrow();
        inner.stream.set_read_timeout(timeout)?;
        inner.stream.set_write_timeout(timeout)
    }

    /// How many packets were dropped as malformed or oversized.
    pub fn dropped_packets(&self) -> u64 {
        self.inner.borrow().framer.dropped
    }

    /// Takes the next packet from the client if it is whole, already received
    /// and `wanted` accepts its body (nothing is read from the socket here).
    /// The server answers it itself with [`GuardedConnection::reply`].
    pub fn take_packet_if(&self, wanted: impl FnOnce(&[u8]) -> bool) -> Option<Vec<u8>> {
        self.inner.borrow_mut().framer.take_packet_if(wanted)
    }

    /// Sends what was written, then blocks until the client's next vetted byte
    /// has arrived (without taking it).
    pub fn wait_for_input(&self) -> std::io::Result<()> {
        let mut inner = self.inner.borrow_mut();
        inner.send()?;
        while inner.framer.peek_byte().is_none() {
            inner.set_nonblocking(false)?;
            inner.fill()?;
        }
        Ok(())
    }

    /// Sends the reply to a packet taken with [`GuardedConnection::take_packet_if`],
    /// acknowledged first unless the client turned acknowledgements off.
    pub fn reply(&self, body: &[u8]) -> std::io::Result<()> {
        let mut bytes = Vec::with_capacity(body.len() + 5);
        if !self.inner.borrow().framer.no_ack() {
            bytes.push(b'+');
        }
        bytes.extend(crate::framing::frame(body));
        self.send_raw(&bytes)
    }

    /// Sends raw bytes to the client at once, after anything not sent yet.
    pub fn send_raw(&self, bytes: &[u8]) -> std::io::Result<()> {
        let mut inner = self.inner.borrow_mut();
        inner.out.extend_from_slice(bytes);
        inner.send()
    }
}

impl Inner {
    /// Sends what was written.
    fn send(&mut self) -> std::io::Result<()> {
        if self.out.is_empty() {
            return Ok(());
        }
        self.set_nonblocking(false)?;
        let out = std::mem::take(&mut self.out);
        Write::write_all(&mut self.stream, &out).map_err(timed_out)
    }

    fn set_nonblocking(&mut self, on: bool) -> std::io::Result<()> {
        if self.nonblocking != on {
            self.stream.set_nonblocking(on)?;
            self.nonblocking = on;
        }
        Ok(())
    }

    /// Reads once from the socket into the framer. Returns false if nothing was
    /// there (non-blocking mode). End of stream is an error.
    fn fill(&mut self) -> std::io::Result<bool> {
        if self.closed {
            return Err(ErrorKind::UnexpectedEof.into());
        }
        let mut chunk = [0u8; 4096];
        let n = match Read::read(&mut self.stream, &mut chunk) {
            Ok(0) => {
                self.closed = true;
                return Err(ErrorKind::UnexpectedEof.into());
            }
            Ok(n) => n,
            // A blocking read that waited its timeout out: the client is idle.
            Err(e) if !self.nonblocking && matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Err(ErrorKind::TimedOut.into())
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == ErrorKind::Interrupted => return Ok(false),
            Err(e) => return Err(e),
        };
        self.framer.push(&chunk[..n]);
        let replies = self.framer.take_replies();
        if !replies.is_empty() {
            Write::write_all(&mut self.stream, &replies).map_err(timed_out)?;
        }
        Ok(true)
    }
}

/// A blocking write that waited its timeout out is [`ErrorKind::TimedOut`] (the kernel says `WouldBlock`).
fn timed_out(error: std::io::Error) -> std::io::Error {
    match error.kind() {
        ErrorKind::WouldBlock => ErrorKind::TimedOut.into(),
        _ => error,
    }
}

impl Connection for GuardedConnection {
    type Error = std::io::Error;

    fn write(&mut self, byte: u8) -> Result<(), Self::Error> {
        self.inner.borrow_mut().out.push(byte);
        Ok(())
    }

    fn write_all(&mut self, buf: &[u8]) -> Result<(), Self::Error> {
        self.inner.borrow_mut().out.extend_from_slice(buf);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        self.inner.borrow_mut().send()
    }

    fn on_session_start(&mut self) -> Result<(), Self::Error> {
        self.inner.borrow().stream.set_nodelay()
    }
}

impl ConnectionExt for GuardedConnection {
    fn read(&mut self) -> Result<u8, Self::Error> {
        self.inner.borrow_mut().read_byte()
    }

    fn peek(&mut self) -> Result<Option<u8>, Self::Error> {
        self.inner.borrow_mut().peek_byte()
    }
}

impl Inner {
    fn read_byte(&mut self) -> std::io::Result<u8> {
        self.send()?;
        loop {
            if let Some(byte) = self.framer.next_byte() {
                return Ok(byte);
            }
            self.set_nonblocking(false)?;
            self.fill()?;
        }
    }

    fn peek_byte(&mut self) -> std::io::Result<Option<u8>> {
        self.send()?;
        if let Some(byte) = self.framer.peek_byte() {
            return Ok(Some(byte));
        }
        self.set_nonblocking(true)?;
        while self.fill()? {
            if let Some(byte) = self.framer.peek_byte() {
                return Ok(Some(byte));
            }
        }
        Ok(None)
    }
}
