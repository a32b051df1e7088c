//! Signal numbers: Linux's and the GDB remote protocol's differ; the table is
//! oxtrace's ([`oxtrace::platform::remote::signals`]), shared with its client.

use gdbstub::common::Signal;
use oxtrace::platform::remote::signals;

/// The protocol's signal for Linux signal `signo` (signal 0 for numbers gdb lacks).
pub fn to_gdb(signo: i32) -> Signal {
    Signal(signals::to_gdb(signo))
}

/// The Linux signal number for a protocol signal, if Linux has it.
pub fn from_gdb(signal: Signal) -> Option<i32> {
    signals::from_gdb(signal.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gdbstub_names_agree() {
        assert_eq!(to_gdb(11), Signal::SIGSEGV);
        assert_eq!(to_gdb(10), Signal::SIGUSR1);
        assert_eq!(to_gdb(17), Signal::SIGCHLD);
        assert_eq!(to_gdb(34), Signal::SIG34);
        assert_eq!(from_gdb(Signal::SIGINT), Some(2));
    }
}
