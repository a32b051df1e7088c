//! The program behaves as it does untraced: every signal delivered exactly
//! once whatever the order of stops, and the death of the program at any
//! moment reported as its exit, never a hang or a raw ptrace error.

use std::process::{Command, Stdio};
use std::time::Duration;

use oxtrace::{BreakpointKind, EventKind, ExitStatus, Trace};

use crate::support::{fixture, Opt};
use crate::{read_all, spawn_with_output};

/// Aborts the test binary if `f` takes longer than `limit`: a hang is a failure, not a stuck CI.
fn within<T>(limit: Duration, what: &str, f: impl FnOnce() -> T) -> T {
    let (done, watch) = std::sync::mpsc::channel::<()>();
    let what = what.to_owned();
    let watchdog = std::thread::spawn(move || {
        if watch.recv_timeout(limit) == Err(std::sync::mpsc::RecvTimeoutError::Timeout) {
            eprintln!("HANG: {what} took more than {limit:?}");
            std::process::abort();
        }
    });
    let result = f();
    let _ = done.send(());
    watchdog.join().unwrap();
    result
}

#[test]
fn every_signal_stopped_on_reaches_the_handler_exactly_once_while_threads_come_and_go() {
    within(Duration::from_secs(120), "1,000 signal stops", || {
        let (mut trace, output) = spawn_with_output("churn", Opt::O2, &["signals", "1000"]);
        let mut stops = 0;
        let status = loop {
            match trace.run().unwrap().kind {
                EventKind::Signal(info) if info.signo == libc::SIGUSR1 => stops += 1,
                EventKind::Exited(status) => break status,
                other => panic!("unexpected stop {other:?}"),
            }
        };
        assert_eq!(status, ExitStatus::Code(0));
        assert_eq!(read_all(output), "handled 1000 of 1000\n");
        assert_eq!(stops, 1000);
    });
}

#[test]
fn every_ignored_signal_reaches_the_handler_exactly_once_while_threads_come_and_go() {
    within(Duration::from_secs(120), "1,000 ignored signals", || {
        let (mut trace, output) = spawn_with_output("churn", Opt::O2, &["signals", "1000"]);
        trace.ignore_signal(libc::SIGUSR1);
        let event = trace.run().unwrap();
        assert_eq!(event.kind, EventKind::Exited(ExitStatus::Code(0)));
        assert_eq!(read_all(output), "handled 1000 of 1000\n");
    });
}

/// How the breakpoint on `hit` behaves while the program is killed.
#[derive(Debug, Clone, Copy)]
enum Hits {
    FalseCondition,
    Tracker,
    /// Every hit is reported to the caller, which runs again (oxdb's `commands` + `continue`).
    Reported,
}

/// Spawns `churn hits N` without address randomization (so that `hit` is at
/// the same address in every run and symbols are read once) with a
/// breakpoint of `kind` on `hit`.
fn spawn_hitting(kind: Hits, calls_per_thread: &str) -> Trace {
    static HIT: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let spawn = || {
        let mut command = Command::new(fixture("churn", Opt::O2));
        command.args(["hits", calls_per_thread]).stdout(Stdio::null());
        Trace::spawn_with(command, oxtrace::SpawnOptions { disable_aslr: true }).unwrap()
    };
    let hit = *HIT.get_or_init(|| spawn().sym_by_name("hit").unwrap());
    let mut trace = spawn();
    match kind {
        Hits::FalseCondition => trace.add_break_if(hit, |_| false).map(drop).unwrap(),
        Hits::Tracker => trace.add_breakpoint(hit, BreakpointKind::Tracker, None).map(drop).unwrap(),
        Hits::Reported => trace.add_break_by_addr(hit).map(drop).unwrap(),
    }
    trace
}

/// Runs to the end, through every stop; the last event's exit status.
fn run_through(trace: &mut Trace) -> ExitStatus {
    loop {
        let event = trace.run().unwrap_or_else(|e| panic!("run failed instead of reporting the exit: {e}"));
        if let EventKind::Exited(status) = event.kind {
            return status;
        }
    }
}

#[test]
fn sigkill_at_any_moment_of_breakpoint_hits_is_reported_as_the_exit() {
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    for kind in [Hits::FalseCondition, Hits::Tracker, Hits::Reported] {
        within(Duration::from_secs(300), &format!("100 kills under {kind:?} hits"), || {
            for round in 0..100 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let delay = Duration::from_micros(seed % 20_000);
                let mut trace = spawn_hitting(kind, "1000000");
                let pid = trace.pid();
                let killer = std::thread::spawn(move || {
                    std::thread::sleep(delay);
                    kill_9(pid);
                });
                let status = run_through(&mut trace);
                killer.join().unwrap();
                assert_eq!(
                    status,
                    ExitStatus::Signaled { signal: libc::SIGKILL, core_dumped: false },
                    "{kind:?} round {round} (killed after {delay:?})"
                );
            }
        });
    }
}

#[test]
fn exit_from_one_thread_while_others_hit_is_reported_with_its_status() {
    for kind in [Hits::FalseCondition, Hits::Tracker, Hits::Reported] {
        within(Duration::from_secs(300), &format!("100 exits under {kind:?} hits"), || {
            for round in 0..100 {
                let mut trace = spawn_hitting(kind, "200");
                assert_eq!(run_through(&mut trace), ExitStatus::Code(0), "{kind:?} round {round}");
            }
        });
    }
}

/// `kill -9 PID`, through the command (no unsafe code outside the OS backend).
fn kill_9(pid: i32) {
    let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
}

#[test]
fn output_of_the_churn_program_is_the_same_traced() {
    let untraced = Command::new(fixture("churn", Opt::O0)).args(["hits", "500"]).output().unwrap();
    let (mut trace, output) = spawn_with_output("churn", Opt::O0, &["hits", "500"]);
    let hit = trace.sym_by_name("hit").unwrap();
    let id = trace.add_breakpoint(hit, BreakpointKind::Tracker, None).unwrap();
    assert_eq!(run_through(&mut trace), ExitStatus::Code(0));
    assert_eq!(read_all(output), String::from_utf8_lossy(&untraced.stdout));
    assert_eq!(trace.breakpoint(id).unwrap().hits, 4000, "8 threads x 500 calls, every hit counted once");
}
