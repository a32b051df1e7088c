//! The connection to a stub: packets out with their acknowledgements, packets
//! in (acknowledged, damaged ones asked for again), requests and replies.
//!
//! After `QStartNoAckMode` neither side acknowledges. Every failure is an
//! [`Error::Remote`] naming the stub's address and the request.

use std::collections::VecDeque;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use super::packet::{decode, frame, Framer, Item};
use crate::error::{Error, Result};

/// How long a request waits for its reply.
const REPLY_TIMEOUT: Duration = Duration::from_secs(30);

/// Bodies longer than this are refused as damaged (a stub sends at most its `PacketSize`).
const MAX_BODY: usize = 1 << 22;

/// A connection to a stub.
#[derive(Debug)]
pub struct Connection {
    stream: TcpStream,
    addr: String,
    framer: Framer,
    items: VecDeque<Item>,
    /// Set once the stub agreed to `QStartNoAckMode`.
    pub no_ack: bool,
}

impl Connection {
    /// Connects to `addr` (`host:port`).
    pub fn connect(addr: &str) -> Result<Connection> {
        let stream = TcpStream::connect(addr).map_err(|e| Error::Remote { addr: addr.into(), what: e.to_string() })?;
        let _ = stream.set_nodelay(true);
        Ok(Connection {
            stream,
            addr: addr.into(),
            framer: Framer::new(MAX_BODY),
            items: VecDeque::new(),
            no_ack: false,
        })
    }

    /// An error about this stub.
    pub fn error(&self, what: impl Into<String>) -> Error {
        Error::Remote { addr: self.addr.clone(), what: what.into() }
    }

    /// A second handle on the socket (for the interrupter's `0x03`).
    pub fn clone_stream(&self) -> Result<TcpStream> {
        self.stream.try_clone().map_err(|e| self.error(format!("cannot share the connection: {e}")))
    }

    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.stream.write_all(bytes).map_err(|e| Error::Remote { addr: self.addr.clone(), what: e.to_string() })
    }

    /// Reads what the socket has into the item queue, waiting until `deadline`.
    /// Returns false if the time ran out with nothing read.
    fn fill(&mut self, deadline: Option<Instant>) -> Result<bool> {
        let timeout = match deadline {
            Some(deadline) => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Ok(false);
                }
                Some(left)
            }
            None => None,
        };
        self.stream.set_read_timeout(timeout).map_err(|e| self.error(e.to_string()))?;
        let mut chunk = [0u8; 16384];
        match self.stream.read(&mut chunk) {
            Ok(0) => Err(self.error("the stub closed the connection")),
            Ok(n) => {
                let mut items = Vec::new();
                self.framer.push(&chunk[..n], &mut items);
                self.items.extend(items);
                Ok(true)
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => Ok(false),
            Err(e) if e.kind() == ErrorKind::Interrupted => Ok(true),
            Err(e) => Err(self.error(e.to_string())),
        }
    }

    /// Sends one packet; in acknowledged mode, waits for its `+` (sending it again after a `-`).
    pub fn send(&mut self, body: &[u8]) -> Result<()> {
        log_packet("->", body);
        let packet = frame(body);
        self.write(&packet)?;
        if self.no_ack {
            return Ok(());
        }
        let deadline = Instant::now() + REPLY_TIMEOUT;
        let mut tries = 0;
        loop {
            match self.items.front() {
                Some(Item::Ack) => {
                    self.items.pop_front();
                    return Ok(());
                }
                Some(Item::Nack) if tries < 3 => {
                    self.items.pop_front();
                    tries += 1;
                    self.write(&packet)?;
                }
                Some(Item::Nack) => return Err(self.error("the stub refused a packet three times")),
                // A reply before the `+` (some stubs): the `+` was lost or skipped.
                Some(_) => return Ok(()),
                None => {
                    if !self.fill(Some(deadline))? {
                        return Err(self.error(format!("no acknowledgement of {}", String::from_utf8_lossy(body))));
                    }
                }
            }
        }
    }

    /// The next packet's decoded body, waiting until `deadline` (`None`: forever).
    pub fn receive(&mut self, deadline: Option<Instant>) -> Result<Option<Vec<u8>>> {
        loop {
            match self.items.pop_front() {
                Some(Item::Packet(body)) => {
                    if !self.no_ack {
                        self.write(b"+")?;
                    }
                    let body = decode(&body);
                    log_packet("<-", &body);
                    return Ok(Some(body));
                }
                Some(Item::Damaged) => {
                    if !self.no_ack {
                        self.write(b"-")?;
                    }
                }
                // Stray acknowledgements and notifications (non-stop mode only) are not used.
                Some(Item::Ack | Item::Nack | Item::Notification(_)) => {}
                None => {
                    if !self.fill(deadline)? {
                        return Ok(None);
                    }
                }
            }
        }
    }

    /// Sends a request and returns its reply.
    pub fn request(&mut self, body: &str) -> Result<Vec<u8>> {
        self.send(body.as_bytes())?;
        match self.receive(Some(Instant::now() + REPLY_TIMEOUT))? {
            Some(reply) => Ok(reply),
            None => Err(self.error(format!("no reply to {body}"))),
        }
    }

    /// Sends a request whose reply must be `OK`.
    pub fn request_ok(&mut self, body: &str) -> Result<()> {
        let reply = self.request(body)?;
        if reply == b"OK" {
            Ok(())
        } else {
            Err(self.error(format!("{body} answered {}", String::from_utf8_lossy(&reply))))
        }
    }

    /// Reads a whole `qXfer` object (`qXfer:OBJECT:read:ANNEX:offset,length`), piece by piece.
    pub fn read_xfer(&mut self, object: &str, annex: &str, piece: usize) -> Result<Vec<u8>> {
        let mut data = Vec::new();
        loop {
            let reply = self.request(&format!("qXfer:{object}:read:{annex}:{:x},{piece:x}", data.len()))?;
            match reply.split_first() {
                Some((b'm', rest)) if !rest.is_empty() => data.extend_from_slice(rest),
                Some((b'l', rest)) => {
                    data.extend_from_slice(rest);
                    return Ok(data);
                }
                _ => {
                    return Err(
                        self.error(format!("qXfer:{object}:read:{annex} answered {}", String::from_utf8_lossy(&reply)))
                    )
                }
            }
            if data.len() > MAX_BODY {
                return Err(self.error(format!("qXfer:{object} is larger than {MAX_BODY} bytes")));
            }
        }
    }

    /// Sends the interrupt byte.
    pub fn send_interrupt(&mut self) -> Result<()> {
        self.write(&[0x03])
    }
}

/// With `OXTRACE_RSP_LOG` set in the environment, every packet goes to
/// stderr as it is sent (`->`) or received (`<-`): a stub's side of a
/// conversation, for when one goes wrong.
fn log_packet(direction: &str, body: &[u8]) {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    if *ON.get_or_init(|| std::env::var_os("OXTRACE_RSP_LOG").is_some()) {
        let shown = &body[..body.len().min(200)];
        eprintln!("rsp {direction} {}", String::from_utf8_lossy(shown));
    }
}
