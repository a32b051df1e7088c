//! The client's stream: a TCP connection or a Unix domain socket connection.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::time::Duration;

/// A connected client, over TCP or a Unix domain socket.
#[derive(Debug)]
pub enum ClientStream {
    /// A TCP connection.
    Tcp(TcpStream),
    /// A Unix domain socket connection.
    Unix(UnixStream),
}

impl ClientStream {
    /// Sets or clears non-blocking mode.
    pub fn set_nonblocking(&self, on: bool) -> std::io::Result<()> {
        match self {
            ClientStream::Tcp(s) => s.set_nonblocking(on),
            ClientStream::Unix(s) => s.set_nonblocking(on),
        }
    }

    /// Sets how long a blocking read waits (`None`: for ever).
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> std::io::Result<()> {
        match self {
            ClientStream::Tcp(s) => s.set_read_timeout(timeout),
            ClientStream::Unix(s) => s.set_read_timeout(timeout),
        }
    }

    /// Sets how long a blocking write waits (`None`: for ever).
    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> std::io::Result<()> {
        match self {
            ClientStream::Tcp(s) => s.set_write_timeout(timeout),
            ClientStream::Unix(s) => s.set_write_timeout(timeout),
        }
    }

    /// Closes the connection both ways (a blocked read on a clone returns).
    pub fn shutdown(&self) -> std::io::Result<()> {
        match self {
            ClientStream::Tcp(s) => s.shutdown(std::net::Shutdown::Both),
            ClientStream::Unix(s) => s.shutdown(std::net::Shutdown::Both),
        }
    }

    /// Another handle on the same connection.
    pub fn try_clone(&self) -> std::io::Result<ClientStream> {
        Ok(match self {
            ClientStream::Tcp(s) => ClientStream::Tcp(s.try_clone()?),
            ClientStream::Unix(s) => ClientStream::Unix(s.try_clone()?),
        })
    }

    /// Sends small writes at once (TCP; nothing to do on a Unix socket).
    pub fn set_nodelay(&self) -> std::io::Result<()> {
        match self {
            ClientStream::Tcp(s) => s.set_nodelay(true),
            ClientStream::Unix(_) => Ok(()),
        }
    }
}

impl From<TcpStream> for ClientStream {
    fn from(stream: TcpStream) -> ClientStream {
        ClientStream::Tcp(stream)
    }
}

impl From<UnixStream> for ClientStream {
    fn from(stream: UnixStream) -> ClientStream {
        ClientStream::Unix(stream)
    }
}

impl Read for ClientStream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            ClientStream::Tcp(s) => s.read(buf),
            ClientStream::Unix(s) => s.read(buf),
        }
    }
}

impl Write for ClientStream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            ClientStream::Tcp(s) => s.write(buf),
            ClientStream::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            ClientStream::Tcp(s) => s.flush(),
            ClientStream::Unix(s) => s.flush(),
        }
    }
}
