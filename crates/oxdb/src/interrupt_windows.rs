//! Ctrl-C and ending signals on Windows: not caught yet. The Linux version
//! (`interrupt.rs`) reads signals from a signalfd; Windows has console control
//! handlers instead, which oxdb does not install, so Ctrl-C ends oxdb (and a
//! program it started) as it would any console program. Stopping a running
//! program from another thread works through [`oxtrace::Interrupter`]; only the
//! console hook is missing (see docs/windows-oxdb.md).

use oxtrace::{Event, Trace};

/// Nothing to catch on Windows (see the module's note).
pub fn install() {}

/// Nothing to watch: no Ctrl-C handler stops the program on Windows.
pub fn watch(_trace: &Trace) {}

/// Runs `f` (which resumes the program and waits for it).
pub fn while_running<T>(f: impl FnOnce() -> T) -> T {
    f()
}

/// After a stop: whether Ctrl-C caused it (never, without a console handler).
pub fn stopped_by_user(_trace: &mut Trace, _event: &Event) -> bool {
    false
}
