//! The signal and error numbers oxtrace's events and errors speak in, on every
//! platform: Linux x86_64's (`signal(7)`, `errno(3)`).
//!
//! Events carry signals as numbers ([`SignalInfo::signo`](crate::SignalInfo::signo)),
//! and the trace layer recognises a few of them (a trap, a fault on a watched
//! page). On Linux these are the kernel's own; a backend of another system
//! (the Win32 debug API) reports its exceptions under the nearest of them, so
//! that the layer above needs no `cfg` and the numbers mean the same thing
//! everywhere.

/// Illegal instruction.
pub const SIGILL: i32 = 4;
/// Trace or breakpoint trap.
pub const SIGTRAP: i32 = 5;
/// Bus error (a bad memory access that is not a protection fault).
pub const SIGBUS: i32 = 7;
/// Arithmetic error (division by zero, overflow).
pub const SIGFPE: i32 = 8;
/// Kill (cannot be caught).
pub const SIGKILL: i32 = 9;
/// Invalid memory reference (a protection or mapping fault).
pub const SIGSEGV: i32 = 11;

/// An exception of another system with no Linux counterpart (a Windows
/// exception such as a C++ throw, `0xE06D7363`, or mingw's `0x20474343`): one
/// past Linux's last signal. Its code is in [`SignalInfo::exception`](crate::SignalInfo::exception).
pub const SIGEXCEPTION: i32 = 65;

/// `si_code` of a trap raised by a breakpoint instruction (the kernel's `SI_KERNEL`).
pub const SI_KERNEL: i32 = 0x80;
/// `si_code` of a single-step trap.
pub const TRAP_TRACE: i32 = 2;
/// `si_code` of a hardware breakpoint or watchpoint trap.
pub const TRAP_HWBKPT: i32 = 4;

/// "No such process": the thread or process vanished under a request.
pub const ESRCH: i32 = 3;

#[cfg(all(test, target_os = "linux"))]
mod tests {
    #[test]
    fn the_numbers_are_linuxs() {
        assert_eq!(
            [super::SIGILL, super::SIGTRAP, super::SIGBUS, super::SIGFPE, super::SIGKILL, super::SIGSEGV],
            [libc::SIGILL, libc::SIGTRAP, libc::SIGBUS, libc::SIGFPE, libc::SIGKILL, libc::SIGSEGV]
        );
        assert_eq!(super::ESRCH, libc::ESRCH);
    }
}
