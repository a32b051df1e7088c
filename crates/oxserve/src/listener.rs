//! Where the server waits for its client: a TCP address or a Unix domain
//! socket (`unix:PATH`), which no other machine and no other user reaches.
//!
//! The socket file is created with mode 0600 without a moment in which it is
//! open to others: it is bound in a new directory of mode 0700 beside PATH,
//! set to 0600 there, then linked to PATH. An existing PATH is an error,
//! even a socket: connecting to learn whether a server still uses it would be
//! that server's client. Dropping the listener removes the socket file.

use std::net::{SocketAddr, TcpListener};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};

use crate::stream::ClientStream;

/// The prefix of a Unix domain socket address.
const UNIX_PREFIX: &str = "unix:";

/// A bound listener, TCP or Unix domain socket.
#[derive(Debug)]
pub enum Listener {
    /// Listening on a TCP address.
    Tcp(TcpListener),
    /// Listening on a Unix domain socket file: the listener, the path, the file's (device, inode).
    Unix(UnixListener, PathBuf, (u64, u64)),
}

/// Listens on `address`: `unix:PATH` for a Unix domain socket, `HOST:PORT` for TCP (port 0 picks one).
pub fn listen_on(address: &str) -> std::io::Result<Listener> {
    match address.strip_prefix(UNIX_PREFIX) {
        Some(path) => bind_unix(Path::new(path)),
        None => Ok(Listener::Tcp(TcpListener::bind(address)?)),
    }
}

impl Listener {
    /// The TCP address listened on (`None` for a Unix socket).
    pub fn tcp_address(&self) -> Option<SocketAddr> {
        match self {
            Listener::Tcp(listener) => listener.local_addr().ok(),
            Listener::Unix(..) => None,
        }
    }

    /// The address as given to [`listen_on`], with the port picked: `127.0.0.1:PORT` or `unix:PATH`.
    pub fn address(&self) -> String {
        match self {
            Listener::Tcp(listener) => {
                listener.local_addr().map(|a| a.to_string()).unwrap_or_else(|_| "an unknown address".into())
            }
            Listener::Unix(_, path, _) => format!("{UNIX_PREFIX}{}", path.display()),
        }
    }

    /// Sets or clears non-blocking mode (for an accept that can be given up).
    pub fn set_nonblocking(&self, on: bool) -> std::io::Result<()> {
        match self {
            Listener::Tcp(listener) => listener.set_nonblocking(on),
            Listener::Unix(listener, ..) => listener.set_nonblocking(on),
        }
    }

    /// Waits for a client; gives its stream and a name for it (its address, or `unix socket`).
    pub fn accept(&self) -> std::io::Result<(ClientStream, String)> {
        match self {
            Listener::Tcp(listener) => listener.accept().map(|(stream, peer)| (stream.into(), peer.to_string())),
            Listener::Unix(listener, ..) => {
                listener.accept().map(|(stream, _)| (stream.into(), "on the unix socket".into()))
            }
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Listener::Unix(_, path, id) = self {
            // Only the file this listener made, not one that replaced it.
            if std::fs::symlink_metadata(&*path).is_ok_and(|m| (m.dev(), m.ino()) == *id) {
                let _ = std::fs::remove_file(&*path);
            }
        }
    }
}

/// Binds a Unix domain socket at `path` with mode 0600 (see the module docs).
fn bind_unix(path: &Path) -> std::io::Result<Listener> {
    if std::fs::symlink_metadata(path).is_ok() {
        let message = format!("{} exists (remove it if no server uses it)", path.display());
        return Err(std::io::Error::new(std::io::ErrorKind::AlreadyExists, message));
    }
    let name = path.file_name().ok_or_else(|| std::io::Error::other(format!("{} names no file", path.display())))?;
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let private = parent.join(format!(".{}.{}.tmp", name.to_string_lossy(), std::process::id()));
    std::fs::DirBuilder::new().mode(0o700).create(&private)?;
    let inner = private.join("socket");
    let result = (|| {
        let listener = UnixListener::bind(&inner)?;
        std::fs::set_permissions(&inner, std::fs::Permissions::from_mode(0o600))?;
        std::fs::hard_link(&inner, path)?;
        let meta = std::fs::symlink_metadata(path)?;
        Ok(Listener::Unix(listener, path.to_owned(), (meta.dev(), meta.ino())))
    })();
    let _ = std::fs::remove_file(&inner);
    let _ = std::fs::remove_dir(&private);
    result
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::FileTypeExt;
    use std::os::unix::net::UnixStream;

    use super::*;

    #[test]
    fn unix_socket_is_private_and_removed_on_drop() {
        let dir = std::env::temp_dir().join(format!("oxserve-listener-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("s.sock");
        let listener = listen_on(&format!("unix:{}", path.display())).unwrap();
        let meta = std::fs::symlink_metadata(&path).unwrap();
        assert!(meta.file_type().is_socket());
        assert_eq!(meta.mode() & 0o777, 0o600);
        assert_eq!(listener.address(), format!("unix:{}", path.display()));
        let _client = UnixStream::connect(&path).unwrap();
        let (_stream, _) = listener.accept().unwrap();
        // A second server is refused; a plain file is never replaced.
        assert!(listen_on(&format!("unix:{}", path.display())).is_err());
        drop(listener);
        assert!(!path.exists());
        std::fs::write(&path, b"x").unwrap();
        assert!(listen_on(&format!("unix:{}", path.display())).is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"x");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
