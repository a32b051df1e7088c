//! What oxdb asks of the operating system beyond the trace itself, on
//! Windows: a program is started as it is (oxtrace's Windows backend has no
//! switch for address-space randomization), and there is no process list yet.

use std::process::Command;

use oxtrace::{ProcessEntry, Trace};

/// Starts `command` traced (randomization stays as the image asks).
pub fn spawn(command: Command, _disable_aslr: bool) -> oxtrace::Result<Trace> {
    Trace::spawn(command)
}

/// The process list is not available on Windows: a clear error.
pub fn processes() -> oxtrace::Result<Vec<ProcessEntry>> {
    Err(oxtrace::Error::Unsupported("the process list (ps)"))
}
