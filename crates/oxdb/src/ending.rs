//! SIGTERM, SIGHUP and SIGQUIT end oxdb as `quit` does: the signal thread
//! ([`crate::interrupt`]) records the signal, stops a running program and
//! wakes the prompt; the main thread then detaches from an attached program
//! (which runs on as it would untraced) or kills a started one, and exits with
//! 128 + the signal's number, as a process killed by it would be seen by a shell.

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Mutex;

/// The signal that asked oxdb to end (0: none).
static SIGNAL: AtomicI32 = AtomicI32::new(0);
/// Called by the signal thread when one comes: wakes whoever waits for input.
type Waker = Box<dyn Fn() + Send>;
static WAKER: Mutex<Option<Waker>> = Mutex::new(None);

/// Records that `signal` asks oxdb to end, and wakes the prompt.
// Only the Linux signal thread calls it: Windows has no such thread yet.
#[cfg_attr(windows, allow(dead_code))]
pub fn request(signal: i32) {
    // The first signal decides the exit status.
    let _ = SIGNAL.compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst);
    if let Some(wake) = WAKER.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
        wake();
    }
}

/// The signal that asked oxdb to end, if one did.
pub fn requested() -> Option<i32> {
    match SIGNAL.load(Ordering::SeqCst) {
        0 => None,
        signal => Some(signal),
    }
}

/// Sets what wakes the prompt when a signal comes.
pub fn on_request(wake: impl Fn() + Send + 'static) {
    *WAKER.lock().unwrap_or_else(|e| e.into_inner()) = Some(Box::new(wake));
}

/// The exit code after ending on `signal`.
pub fn exit_code(signal: i32) -> i32 {
    128 + signal
}
