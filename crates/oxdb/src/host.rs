//! What oxdb asks of the operating system beyond the trace itself, on Linux:
//! starting a program with address-space randomization off, and the process
//! list (`/proc`). `host_windows.rs` is the same on Windows.

use std::process::Command;

use oxtrace::{ProcessEntry, SpawnOptions, Trace};

/// Starts `command` traced, with randomization off if `disable_aslr`.
pub fn spawn(command: Command, disable_aslr: bool) -> oxtrace::Result<Trace> {
    Trace::spawn_with(command, SpawnOptions { disable_aslr })
}

/// The processes of the system.
pub fn processes() -> oxtrace::Result<Vec<ProcessEntry>> {
    oxtrace::processes()
}

/// The C compiler `oxdb demo` runs when `CC` is not set, and its flags.
pub const DEMO_COMPILER: (&str, &[&str]) = ("cc", &["-O0", "-g", "-fno-omit-frame-pointer"]);

/// What to install when the demo's compiler cannot be run.
pub const DEMO_COMPILER_HINT: &str = "install gcc or clang, or set CC";
