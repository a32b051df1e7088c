//! Signal numbers: Linux's and the GDB remote protocol's differ.
//!
//! The protocol numbers signals the way gdb's `enum gdb_signal` does, which
//! agrees with Linux only for 1-6, 8, 9, 11 and 13-15. Every signal crossing
//! a connection goes through [`to_gdb`] or [`from_gdb`] (the client here, and
//! the `oxserve` server).

/// Linux signal number → gdb signal number, for signals 1-31.
const LINUX_TO_GDB: [u8; 32] = [
    0,  // 0
    1,  // SIGHUP
    2,  // SIGINT
    3,  // SIGQUIT
    4,  // SIGILL
    5,  // SIGTRAP
    6,  // SIGABRT
    10, // SIGBUS
    8,  // SIGFPE
    9,  // SIGKILL
    30, // SIGUSR1
    11, // SIGSEGV
    31, // SIGUSR2
    13, // SIGPIPE
    14, // SIGALRM
    15, // SIGTERM
    0,  // SIGSTKFLT: gdb has no number for it
    20, // SIGCHLD
    19, // SIGCONT
    17, // SIGSTOP
    18, // SIGTSTP
    21, // SIGTTIN
    22, // SIGTTOU
    16, // SIGURG
    24, // SIGXCPU
    25, // SIGXFSZ
    26, // SIGVTALRM
    27, // SIGPROF
    28, // SIGWINCH
    23, // SIGIO
    32, // SIGPWR
    12, // SIGSYS
];

/// gdb's numbers for real-time signals 33 and 34-63 (`GDB_SIGNAL_REALTIME_33` = 45).
const GDB_REALTIME_33: u8 = 45;
/// gdb's number for `GDB_SIGNAL_REALTIME_32`.
const GDB_REALTIME_32: u8 = 77;
/// gdb's number for `GDB_SIGNAL_REALTIME_64`.
const GDB_REALTIME_64: u8 = 78;

/// The protocol's number for Linux signal `signo` (`0`, "no signal", for numbers gdb lacks).
pub fn to_gdb(signo: i32) -> u8 {
    match signo {
        1..=31 => LINUX_TO_GDB[signo as usize],
        32 => GDB_REALTIME_32,
        33..=63 => GDB_REALTIME_33 + (signo - 33) as u8,
        64 => GDB_REALTIME_64,
        _ => 0,
    }
}

/// The Linux signal number for a protocol signal, if Linux has it.
pub fn from_gdb(number: u8) -> Option<i32> {
    if number == 0 {
        return None;
    }
    if let Some(linux) = LINUX_TO_GDB.iter().position(|&g| g == number) {
        return Some(linux as i32);
    }
    match number {
        GDB_REALTIME_32 => Some(32),
        GDB_REALTIME_64 => Some(64),
        n if (GDB_REALTIME_33..GDB_REALTIME_33 + 31).contains(&n) => Some(33 + i32::from(n - GDB_REALTIME_33)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_known_signals() {
        assert_eq!(to_gdb(11), 11, "SIGSEGV");
        assert_eq!(to_gdb(5), 5, "SIGTRAP");
        assert_eq!(to_gdb(10), 30, "SIGUSR1");
        assert_eq!(to_gdb(17), 20, "SIGCHLD");
        assert_eq!(to_gdb(7), 10, "SIGBUS");
        assert_eq!(to_gdb(19), 17, "SIGSTOP");
        assert_eq!(from_gdb(2), Some(2), "SIGINT");
    }

    #[test]
    fn every_linux_signal_round_trips() {
        for signo in (1..=64).filter(|&s| s != 16) {
            assert_eq!(from_gdb(to_gdb(signo)), Some(signo), "signal {signo}");
        }
        for raw in 0..=255u8 {
            let _ = from_gdb(raw);
        }
        assert_eq!(to_gdb(-1), 0);
        assert_eq!(to_gdb(1000), 0);
    }
}
