//! Ctrl-C during a blocking run or wait.
//!
//! The tracer thread blocks in `waitpid` with the GIL released, where Python
//! cannot raise `KeyboardInterrupt`. A thread of our own receives SIGINT too
//! (signal-hook's iterator, which keeps Python's handler and calls it as well) and
//! interrupts every trace waiting on the main thread: that trace stops
//! (an `interrupted` event, the process consistent and usable) and the wait
//! raises `KeyboardInterrupt`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use oxtrace::Interrupter;
use signal_hook::consts::SIGINT;

/// A trace waiting on the main thread: its interrupter and whether Ctrl-C stopped it.
struct Waiter {
    id: u64,
    interrupter: Interrupter,
    fired: Arc<AtomicBool>,
}

fn waiters() -> &'static Mutex<Vec<Waiter>> {
    static WAITERS: OnceLock<Mutex<Vec<Waiter>>> = OnceLock::new();
    WAITERS.get_or_init(|| {
        // Started once, on the first blocking wait of the main thread. If SIGINT
        // cannot be watched, Ctrl-C only takes effect when the wait ends.
        if let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT]) {
            std::thread::spawn(move || {
                for _ in signals.forever() {
                    let list = waiters().lock().unwrap_or_else(|e| e.into_inner());
                    for waiter in list.iter() {
                        waiter.fired.store(true, Ordering::SeqCst);
                        let _ = waiter.interrupter.interrupt();
                    }
                }
            });
        }
        Mutex::new(Vec::new())
    })
}

/// While alive, Ctrl-C interrupts this trace.
pub struct WaitGuard {
    id: u64,
    fired: Arc<AtomicBool>,
}

impl WaitGuard {
    /// Registers a trace about to block.
    pub fn new(interrupter: Interrupter) -> WaitGuard {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let id = NEXT.fetch_add(1, Ordering::Relaxed);
        let fired = Arc::new(AtomicBool::new(false));
        waiters().lock().unwrap_or_else(|e| e.into_inner()).push(Waiter { id, interrupter, fired: fired.clone() });
        WaitGuard { id, fired }
    }

    /// Whether Ctrl-C interrupted the trace during the wait.
    pub fn fired(&self) -> bool {
        self.fired.load(Ordering::SeqCst)
    }
}

impl Drop for WaitGuard {
    fn drop(&mut self) {
        waiters().lock().unwrap_or_else(|e| e.into_inner()).retain(|w| w.id != self.id);
    }
}
