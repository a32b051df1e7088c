//! Turning `waitpid` statuses into [`Stop`]s.
//!
//! Stops that only serve the backend (the SIGSTOPs it sent to stop threads,
//! the first stop of a new thread, group-stops) are absorbed here; the rest
//! become [`StopReason`]s.

use std::cell::RefCell;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::{sys, LinuxProcess, ThreadState};
use crate::error::{Error, Result, Tid};
use crate::event::{ExitStatus, SignalInfo, SyscallStop};
use crate::platform::{ResumeKind, Stop, StopReason};

/// `si_code` of a trap raised by the `int3` instruction.
const SI_KERNEL: i32 = 0x80;
/// `si_code` of a single-step trap.
const TRAP_TRACE: i32 = 2;
/// `si_code` of a hardware breakpoint or watchpoint trap.
const TRAP_HWBKPT: i32 = 4;
/// `si_code` of a breakpoint trap on architectures that report it so.
const TRAP_BRKPT: i32 = 1;

thread_local! {
    /// Statuses this thread reaped for tracees of another trace on the same thread.
    pub(super) static MAILBOX: RefCell<Vec<(Tid, i32)>> = const { RefCell::new(Vec::new()) };
}

/// The thread group a task belongs to, from `/proc/TID/status`.
pub(super) fn thread_group_of(tid: Tid) -> Option<i32> {
    let text = std::fs::read_to_string(format!("/proc/{tid}/status")).ok()?;
    text.lines().find_map(|l| l.strip_prefix("Tgid:")).and_then(|v| v.trim().parse().ok())
}

/// Decodes a `waitpid` status that is not a stop.
pub(super) fn exit_status(status: i32) -> Option<ExitStatus> {
    if libc::WIFEXITED(status) {
        Some(ExitStatus::Code(libc::WEXITSTATUS(status)))
    } else if libc::WIFSIGNALED(status) {
        Some(ExitStatus::Signaled { signal: libc::WTERMSIG(status), core_dumped: libc::WCOREDUMP(status) })
    } else {
        None
    }
}

/// How long a blocking wait polls (`WNOHANG`) before it blocks. A blocked
/// tracer is woken by the debuggee's stop through the scheduler, which on a
/// virtual machine with the two on different CPUs costs as much as the stop
/// itself (an idle virtual CPU is woken by the host); polling keeps the
/// tracer's CPU awake for the next stop of a debuggee that stops often. Never
/// done where the tracer may use one CPU only (`poll_before_blocking`): there
/// polling would keep the debuggee from running.
const SPIN_BUDGET: Duration = Duration::from_micros(200);

impl LinuxProcess {
    fn is_ours(&self, tid: Tid) -> bool {
        self.threads.contains_key(&tid) || thread_group_of(tid) == Some(self.pid)
    }

    /// The next status of one of our threads, from the mailbox or from `waitpid`.
    pub(super) fn next_status(&mut self, deadline: Option<Instant>) -> Result<Option<(Tid, i32)>> {
        let mine = MAILBOX.with(|m| {
            let mut m = m.borrow_mut();
            let i = m.iter().position(|&(tid, _)| self.threads.contains_key(&tid))?;
            Some(m.remove(i))
        });
        if mine.is_some() {
            return Ok(mine);
        }
        // A blocking wait first polls for a while (see `SPIN_BUDGET`).
        let spin_until = (deadline.is_none() && self.poll_before_blocking).then(|| Instant::now() + SPIN_BUDGET);
        let mut nap = Duration::from_micros(20);
        loop {
            let polling = deadline.is_some() || spin_until.is_some_and(|until| Instant::now() < until);
            let flags = libc::__WALL | libc::__WNOTHREAD | if polling { libc::WNOHANG } else { 0 };
            match sys::wait_pid(-1, flags) {
                Ok(Some((tid, status))) => {
                    if self.is_ours(tid) {
                        return Ok(Some((tid, status)));
                    }
                    MAILBOX.with(|m| m.borrow_mut().push((tid, status)));
                }
                Ok(None) => {
                    let Some(deadline) = deadline else {
                        std::hint::spin_loop();
                        continue;
                    };
                    let now = Instant::now();
                    if now >= deadline {
                        return Ok(None);
                    }
                    std::thread::sleep(nap.min(deadline - now));
                    nap = (nap * 2).min(Duration::from_millis(5));
                }
                Err(e) if e.raw_os_error() == Some(libc::ECHILD) => {
                    // No child left: the process vanished without us seeing its exit.
                    self.gone = true;
                    return Err(Error::ProcessExited { pid: self.pid });
                }
                Err(e) => return Err(self.os_error("waitpid", self.pid, e)),
            }
        }
    }

    /// Decodes one status of thread `tid`. `None` means the stop was internal
    /// (the thread is resumed again where needed) and waiting should go on.
    pub(super) fn handle_status(&mut self, tid: Tid, status: i32) -> Result<Option<Stop>> {
        if let Some(exit) = exit_status(status) {
            return Ok(self.thread_gone(tid, exit));
        }
        if !libc::WIFSTOPPED(status) {
            return Ok(None);
        }
        let known = self.threads.contains_key(&tid);
        if !known {
            // A new thread whose first stop came before its creator's clone
            // event: it waits, stopped, for the next resume (see `held`).
            let state = ThreadState { announced: false, ..ThreadState::stopped() };
            self.threads.insert(tid, state);
            self.held.push(tid);
            return Ok(None);
        }
        if let Some(t) = self.threads.get_mut(&tid) {
            t.running = false;
        }
        let signal = libc::WSTOPSIG(status);
        let event = (status >> 16) & 0xff;
        let reason = if signal == (libc::SIGTRAP | 0x80) {
            self.syscall_stop(tid)?
        } else if signal == libc::SIGTRAP && event != 0 {
            match self.ptrace_event(tid, event)? {
                Some(reason) => reason,
                None => return self.resume_quietly(tid),
            }
        } else if signal == libc::SIGSTOP {
            match self.stop_signal(tid)? {
                Some(reason) => reason,
                None => return self.resume_quietly(tid),
            }
        } else if signal == libc::SIGTRAP && self.threads.get(&tid).is_some_and(|t| t.last_resume == ResumeKind::Step) {
            // After a single step, a SIGTRAP is the step. (A program's own int3
            // stepped over also ends here, as a step: its SIGTRAP would not be
            // delivered anyway. Hardware watchpoints are told apart by DR6.)
            // Not asking for the siginfo spares a system call per step.
            StopReason::Step
        } else if signal == libc::SIGTRAP {
            StopReason::Trap
        } else {
            StopReason::Signal(self.signal_info(tid)?)
        };
        // At a ptrace event (inside clone, fork, vfork or execve) or at a
        // system call's entry, the call is still to finish: it will write its
        // result into rax when the thread goes on.
        let mid_syscall =
            (signal == libc::SIGTRAP && event != 0) || matches!(reason, StopReason::Syscall(SyscallStop::Entry { .. }));
        if let Some(t) = self.threads.get_mut(&tid) {
            t.mid_syscall = mid_syscall;
        }
        Ok(Some(Stop { tid, reason }))
    }

    /// A thread ended. Returns the stop to report.
    fn thread_gone(&mut self, tid: Tid, exit: ExitStatus) -> Option<Stop> {
        if tid == self.pid {
            // The leader's status comes last: the whole process is gone. Stops
            // already queued (other threads' exits) are still reported first.
            self.threads.clear();
            self.gone = true;
            self.mem = None;
            return Some(Stop { tid, reason: StopReason::Exited(exit) });
        }
        let thread = self.threads.remove(&tid)?;
        if !thread.announced {
            self.ended_unannounced.insert(tid);
            return None;
        }
        Some(Stop { tid, reason: StopReason::ThreadExited(exit) })
    }

    /// An internal stop: resume the thread as it was going, unless it was stopped on purpose.
    fn resume_quietly(&mut self, tid: Tid) -> Result<Option<Stop>> {
        let kind = self.threads.get(&tid).map(|t| t.last_resume).unwrap_or(ResumeKind::Continue);
        self.resume_thread(tid, kind, 0)?;
        Ok(None)
    }

    fn syscall_stop(&mut self, tid: Tid) -> Result<StopReason> {
        let info = sys::syscall_info(tid).map_err(|e| self.os_error("PTRACE_GET_SYSCALL_INFO", tid, e))?;
        let thread = self.threads.get_mut(&tid).expect("known thread");
        Ok(StopReason::Syscall(match info {
            sys::SyscallInfo::Entry { number, args } => {
                thread.in_syscall = Some(number);
                SyscallStop::Entry { number, args }
            }
            sys::SyscallInfo::Exit { ret } => {
                SyscallStop::Exit { number: thread.in_syscall.take().unwrap_or(u64::MAX), ret }
            }
            sys::SyscallInfo::Other => {
                SyscallStop::Exit { number: thread.in_syscall.take().unwrap_or(u64::MAX), ret: 0 }
            }
        }))
    }

    fn ptrace_event(&mut self, tid: Tid, event: i32) -> Result<Option<StopReason>> {
        match event {
            libc::PTRACE_EVENT_CLONE | libc::PTRACE_EVENT_FORK | libc::PTRACE_EVENT_VFORK => {
                let new_tid = match sys::event_message(tid) {
                    Ok(message) => message as Tid,
                    // Killed since the event: its exit is on its way, and the new task's.
                    Err(e) if e.raw_os_error() == Some(libc::ESRCH) => return Ok(None),
                    Err(e) => return Err(self.os_error("PTRACE_GETEVENTMSG", tid, e)),
                };
                let is_thread = event == libc::PTRACE_EVENT_CLONE && self.clone_made_thread(tid, new_tid)?;
                if !is_thread {
                    return self.child_created(new_tid, event == libc::PTRACE_EVENT_VFORK).map(Some);
                }
                if self.ended_unannounced.remove(&new_tid) {
                    // It lived and ended before this event: nothing to report.
                    return Ok(None);
                }
                // Unless its first stop was already seen, it is on its way to a SIGSTOP.
                self.threads
                    .entry(new_tid)
                    .or_insert_with(|| ThreadState { running: true, stop_pending: true, ..ThreadState::stopped() })
                    .announced = true;
                Ok(Some(StopReason::ThreadCreated { new_tid }))
            }
            libc::PTRACE_EVENT_VFORK_DONE => Ok(Some(StopReason::VforkDone)),
            libc::PTRACE_EVENT_EXEC => {
                // Every other thread is gone; the execing thread now has the leader's tid.
                self.threads.retain(|&t, _| t == self.pid);
                self.threads.entry(self.pid).or_insert_with(ThreadState::stopped);
                self.mem = None;
                self.xstate_size = None;
                self.arch = super::elf_class::arch_of(self.pid);
                let path = crate::platform::Platform::exe_path(self).unwrap_or_default();
                Ok(Some(StopReason::Exec { path }))
            }
            _ => Ok(None),
        }
    }

    /// A SIGSTOP: ours (absorbed), the interrupter's, or the program's own.
    fn stop_signal(&mut self, tid: Tid) -> Result<Option<StopReason>> {
        let thread = self.threads.get_mut(&tid).expect("known thread");
        if thread.stop_pending {
            // A SIGSTOP we sent in an earlier round, arriving late: the thread
            // was resumed since, so let it go on.
            thread.stop_pending = false;
            return Ok(None);
        }
        if self.interrupt_flag.swap(false, Ordering::SeqCst) {
            return Ok(Some(StopReason::Interrupted));
        }
        match sys::signal_info(tid) {
            Ok(info) => Ok(Some(StopReason::Signal(decode_siginfo(&info)))),
            // EINVAL: a group-stop, not a signal delivery. Keep the thread running.
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => Ok(None),
            Err(e) => Err(self.os_error("PTRACE_GETSIGINFO", tid, e)),
        }
    }

    pub(super) fn signal_info(&self, tid: Tid) -> Result<SignalInfo> {
        sys::signal_info(tid).map(|i| decode_siginfo(&i)).map_err(|e| self.os_error("PTRACE_GETSIGINFO", tid, e))
    }

    /// Why a SIGTRAP of a thread that was not single-stepping arrived.
    pub(super) fn trap_reason(&self, info: SignalInfo) -> StopReason {
        match info.code {
            SI_KERNEL | TRAP_BRKPT => StopReason::SoftwareBreak,
            TRAP_HWBKPT => StopReason::HardwareBreak,
            TRAP_TRACE => StopReason::Step,
            _ => StopReason::Signal(info),
        }
    }
}

/// The parts of a kernel siginfo a debugger reports.
pub(super) fn decode_siginfo(info: &libc::siginfo_t) -> SignalInfo {
    let signo = info.si_signo;
    let code = info.si_code;
    let from_process = code <= 0; // SI_USER (0), SI_QUEUE, SI_TKILL (-6)...
    let faulting = matches!(signo, libc::SIGSEGV | libc::SIGBUS | libc::SIGILL | libc::SIGFPE | libc::SIGTRAP);
    SignalInfo {
        signo,
        code,
        errno: info.si_errno,
        fault_addr: (faulting && !from_process).then(|| sys::siginfo_addr(info)),
        sender_pid: from_process.then(|| sys::siginfo_pid(info)),
        exception: None,
    }
}

/// Blocks until a tracee of the calling thread (of any trace) reports a
/// status, or `timeout` passes, and keeps the status in the thread's mailbox
/// for its trace's next wait. For event loops over several traces
/// ([`TraceGroup`](crate::TraceGroup)), after every trace was polled.
pub fn park_until_status(timeout: Duration) {
    let deadline = Instant::now() + timeout;
    let mut nap = Duration::from_micros(20);
    loop {
        match sys::wait_pid(-1, libc::__WALL | libc::__WNOTHREAD | libc::WNOHANG) {
            Ok(Some(status)) => {
                MAILBOX.with(|m| m.borrow_mut().push(status));
                return;
            }
            Ok(None) if Instant::now() < deadline => {
                std::thread::sleep(nap.min(deadline.saturating_duration_since(Instant::now())));
                nap = (nap * 2).min(Duration::from_millis(2));
            }
            _ => return,
        }
    }
}
