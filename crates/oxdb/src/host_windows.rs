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

/// The C compiler `oxdb demo` runs when `CC` is not set (MinGW-w64's gcc),
/// and its flags: DWARF 4, the version oxtrace reads on Windows as wine's tools do.
pub const DEMO_COMPILER: (&str, &[&str]) = ("gcc", &["-O0", "-g", "-gdwarf-4", "-fno-omit-frame-pointer"]);

/// What to install when the demo's compiler cannot be run.
pub const DEMO_COMPILER_HINT: &str =
    "oxdb demo needs a C compiler on Windows: install MinGW-w64 (x86_64 gcc) and put its bin directory on PATH, \
     or set CC to a gcc that builds x86_64 Windows programs";
