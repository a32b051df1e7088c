//! Ctrl-C while the program runs: stop it and come back to the prompt, as gdb
//! does, instead of killing oxdb (and with it a started program).
//!
//! SIGINT is caught by a thread of its own (signal-hook's iterator, no unsafe
//! code here). A program in oxdb's process group gets the terminal's SIGINT
//! itself and stops with it; an attached program in another group is stopped
//! through the trace's interrupter. Either way the SIGINT the user typed is
//! not passed on to the program when it resumes.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use oxtrace::{Event, EventKind, Interrupter, Trace};
use signal_hook::consts::SIGINT;

/// The running trace's interrupter, and whether the program shares oxdb's process group.
static CURRENT: Mutex<Option<(Interrupter, bool)>> = Mutex::new(None);
/// Set by Ctrl-C, taken at the next stop.
static REQUESTED: AtomicBool = AtomicBool::new(false);
static INSTALLED: OnceLock<()> = OnceLock::new();

/// Catches SIGINT for the rest of oxdb's life (once; later calls do nothing).
pub fn install() {
    INSTALLED.get_or_init(|| {
        let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT]) else {
            return;
        };
        std::thread::spawn(move || {
            for _ in signals.forever() {
                REQUESTED.store(true, Ordering::SeqCst);
                if let Some((interrupter, same_group)) = CURRENT.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
                    if !same_group {
                        let _ = interrupter.interrupt();
                    }
                }
            }
        });
    });
}

/// Makes Ctrl-C stop this trace's program.
pub fn watch(trace: &Trace) {
    let same_group = process_group(trace.pid()).is_some_and(|g| Some(g) == process_group(std::process::id() as i32));
    *CURRENT.lock().unwrap_or_else(|e| e.into_inner()) = Some((trace.interrupter(), same_group));
}

/// `si_code` of a signal the kernel sent: a terminal's SIGINT.
const SI_KERNEL: i32 = 0x80;

/// After a stop: whether Ctrl-C caused it. A SIGINT from the terminal is then
/// taken away from the program (it was meant for the debugger).
pub fn stopped_by_user(trace: &mut Trace, event: &Event) -> bool {
    let from_terminal =
        matches!(&event.kind, EventKind::Signal(info) if info.signo == SIGINT && info.code == SI_KERNEL);
    if from_terminal {
        // Our own catcher runs on another thread and may not have seen it yet:
        // give it a moment, so that its flag does not fall on the next stop.
        let deadline = Instant::now() + Duration::from_millis(200);
        while !REQUESTED.load(Ordering::SeqCst) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = trace.set_pending_signal(None);
    }
    REQUESTED.swap(false, Ordering::SeqCst) || from_terminal
}

/// The process group of a process, from `/proc/PID/stat` (the field after the state).
fn process_group(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?.1.split_whitespace().nth(2)?.parse().ok()
}
