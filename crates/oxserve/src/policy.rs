//! What a client may do beyond debugging the one process served: the
//! server's access policy.
//!
//! The default is least privilege: the client debugs the process the server
//! was given (and may start that program again), reads only the files a
//! debugger needs for it (see [`crate::file_access`]), and waits as long as it
//! likes between packets. Each of these is widened explicitly.
//!
//! The policy limits what the protocol hands out. It is not a sandbox: a
//! client that controls the process can make it run any code the process
//! may run.

use std::path::PathBuf;
use std::time::Duration;

/// The server's access policy; [`Policy::default`] is least privilege.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    /// Extended mode's `vRun` of other programs, `vAttach` to other processes
    /// and `vKill` of processes not served (gdbserver's `--multi`).
    pub multi: bool,
    /// Files or directories the client may also read through `vFile`, beyond
    /// the served program, the files it has mapped and their debug files.
    /// `/` allows every file the server's user can read.
    pub extra_files: Vec<PathBuf>,
    /// How long the server waits for the client's next packet while the
    /// process is stopped before it drops the client (`None`: for ever).
    pub idle_timeout: Option<Duration>,
}

/// Logs a request the policy refused, on stderr, as one line.
pub(crate) fn log_refusal(what: std::fmt::Arguments<'_>) {
    eprintln!("oxserve: refused {what}");
}
