//! Signals sent to oxdb, read by a thread of their own from a signalfd (the
//! signals are blocked in every thread of oxdb, so that none runs a handler:
//! no unsafe code here, and the sender and cause of each are known). ptrace
//! calls stay on the main thread, so this thread only raises flags and stops
//! a running program through the trace's interrupter. Programs oxdb starts
//! get an empty signal mask (the standard library resets it).
//!
//! Ctrl-C while the program runs stops it and brings the prompt back, as gdb
//! does, instead of killing oxdb (and with it a started program). A program
//! in oxdb's process group gets the terminal's SIGINT itself and stops with
//! it; an attached program in another group, or any program when the SIGINT
//! was sent to oxdb alone (`kill -INT`), is stopped through the interrupter.
//! Either way the SIGINT the user typed is not passed on to the program when
//! it resumes.
//!
//! SIGTERM, SIGHUP and SIGQUIT end oxdb as `quit` does (see [`crate::ending`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::SignalFd;
use oxtrace::{Event, EventKind, Interrupter, Trace};

const SIGINT: i32 = Signal::SIGINT as i32;

/// The running trace's interrupter, and whether the program shares oxdb's process group.
static CURRENT: Mutex<Option<(Interrupter, bool)>> = Mutex::new(None);
/// Set by Ctrl-C, taken at the next stop.
static REQUESTED: AtomicBool = AtomicBool::new(false);
/// True while the main thread waits for the running program to stop.
static RUNNING: AtomicBool = AtomicBool::new(false);
static INSTALLED: OnceLock<()> = OnceLock::new();

/// Catches SIGINT, SIGTERM, SIGHUP and SIGQUIT for the rest of oxdb's life
/// (once; later calls do nothing). Call it before starting other threads.
pub fn install() {
    catch(&[Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP, Signal::SIGQUIT]);
}

/// Catches `signals` (SIGINT as Ctrl-C, the others as the end of oxdb), once.
pub fn catch(signals: &[Signal]) {
    INSTALLED.get_or_init(|| {
        let mut mask = SigSet::empty();
        for &signal in signals {
            mask.add(signal);
        }
        // Blocked before any other thread starts: threads inherit the mask.
        if mask.thread_block().is_err() {
            return;
        }
        let Ok(fd) = SignalFd::new(&mask) else {
            let _ = mask.thread_unblock();
            return;
        };
        std::thread::spawn(move || loop {
            match fd.read_signal() {
                Ok(Some(info)) if info.ssi_signo as i32 == SIGINT => interrupt_requested(info.ssi_code),
                Ok(Some(info)) => {
                    crate::ending::request(info.ssi_signo as i32);
                    stop_running_program();
                }
                Ok(None) | Err(Errno::EINTR) => {}
                Err(_) => return,
            }
        });
    });
}

/// A SIGINT: from the terminal (the program in oxdb's group has it too), or
/// sent to oxdb alone by a process.
fn interrupt_requested(code: i32) {
    REQUESTED.store(true, Ordering::SeqCst);
    let from_terminal = code == SI_KERNEL;
    let same_group = CURRENT.lock().unwrap_or_else(|e| e.into_inner()).as_ref().is_some_and(|(_, same)| *same);
    if !(from_terminal && same_group) {
        stop_running_program();
    }
}

/// Stops the program if the main thread is waiting for it.
fn stop_running_program() {
    if !RUNNING.load(Ordering::SeqCst) {
        return;
    }
    if let Some((interrupter, _)) = CURRENT.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
        let _ = interrupter.interrupt();
    }
}

/// Makes Ctrl-C stop this trace's program.
pub fn watch(trace: &Trace) {
    let same_group = process_group(trace.pid()).is_some_and(|g| Some(g) == process_group(std::process::id() as i32));
    *CURRENT.lock().unwrap_or_else(|e| e.into_inner()) = Some((trace.interrupter(), same_group));
}

/// Runs `f` (which resumes the program and waits for it) with signals to
/// oxdb allowed to stop the program.
pub fn while_running<T>(f: impl FnOnce() -> T) -> T {
    RUNNING.store(true, Ordering::SeqCst);
    if crate::ending::requested().is_some() {
        // The signal came just before: the program must not run away with it unseen.
        stop_running_program();
    }
    let result = f();
    RUNNING.store(false, Ordering::SeqCst);
    result
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
