//! The Linux ptrace backend (x86_64, and i386 programs on x86_64).
//!
//! # Threading
//!
//! Linux lets only the thread that attached to a tracee make ptrace requests
//! for it. A [`LinuxProcess`] (and so a [`Trace`](crate::Trace) built on it) is
//! therefore pinned to the thread that created it: it is not `Send`. To trace
//! from a background thread, create the trace in that thread; to stop it from
//! elsewhere, use its [`Interrupter`], which is `Send`. When the creating thread
//! ends, the kernel detaches its tracees; a spawned debuggee is killed with it
//! (`PTRACE_O_EXITKILL` and `PR_SET_PDEATHSIG`).
//!
//! Waiting uses `waitpid(-1, __WALL | __WNOTHREAD)`, so it sees only children
//! and tracees of the calling thread. Several traces may share one thread:
//! statuses that belong to another trace's process are kept in a per-thread
//! mailbox until that trace waits. The caller must not, on the same thread and
//! while a trace runs, expect `waitpid(-1)` of its own to see its other children.
//!
//! # All-stop
//!
//! When one thread stops, the others are stopped with `SIGSTOP` (`tgkill`). A
//! thread that meanwhile hit a software breakpoint is rewound onto it and will
//! hit it again when resumed (so no hit is lost and none is reported twice);
//! any other stop it reports is kept and returned by the next
//! [`wait`](crate::platform::Platform::wait) before anything runs again.

pub use procfs::processes;
pub use status::park_until_status;

mod elf_class;
mod interrupt;
// `pre_exec` is an unsafe API: the one block is in `LinuxProcess::spawn`.
mod executable;
mod fork;
#[allow(unsafe_code)]
mod launch;
mod memory;
mod procfs;
mod procinfo;
mod regs;
mod status;
#[allow(unsafe_code)]
mod sys;
mod threads;

use std::collections::{BTreeMap, VecDeque};
use std::fs::File;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use launch::SpawnOptions;

use crate::arch::{x86_64::X86_64, Arch, RegisterGroup};
use crate::error::{Error, Pid, Result, Tid};
use crate::event::ExitStatus;
use crate::memory::MemoryMap;
use crate::platform::{Interrupter, Platform, ProcessInfo, ResumeAction, ResumeKind, Stop, StopReason};

/// What the backend knows of one traced thread.
#[derive(Debug, Clone)]
struct ThreadState {
    /// Resumed and not yet seen stopping.
    running: bool,
    /// A SIGSTOP was sent (or is due, for a new thread) and has not been seen yet.
    stop_pending: bool,
    /// How it was last resumed, to resume it the same way after an internal stop.
    last_resume: ResumeKind,
    /// The number of the system call it is in, between entry and exit stops.
    in_syscall: Option<u64>,
    /// Stopped inside a system call that has not returned yet (a ptrace
    /// event stop, or a system call entry stop): see
    /// [`Platform::stopped_in_syscall`].
    mid_syscall: bool,
    /// It was resumed alone while every other thread stayed stopped (a step,
    /// an injected system call): it stops by itself, so it gets no SIGSTOP,
    /// and its trap is its own, never a breakpoint hit to undo.
    solo: bool,
    /// Its creation was reported (its creator's clone event was seen, or it
    /// was there when we attached). A thread may stop, and even end, before
    /// its creator's clone event arrives.
    announced: bool,
}

impl ThreadState {
    fn stopped() -> Self {
        Self {
            running: false,
            stop_pending: false,
            last_resume: ResumeKind::Continue,
            in_syscall: None,
            mid_syscall: false,
            solo: false,
            announced: true,
        }
    }
}

/// A process traced with ptrace. See the module docs for the threading rule.
#[derive(Debug)]
pub struct LinuxProcess {
    pid: Pid,
    threads: BTreeMap<Tid, ThreadState>,
    /// Stops of other threads collected while stopping them, not yet reported.
    pending: VecDeque<Stop>,
    /// `/proc/PID/mem`, opened read-write; reopened after exec.
    mem: Option<File>,
    /// Set by the interrupter before it sends SIGSTOP.
    interrupt_flag: Arc<AtomicBool>,
    /// Set once the process is gone (exited, killed or detached).
    gone: bool,
    /// Cached size of the XSAVE area, once known.
    xstate_size: Option<usize>,
    /// Whether the process was started by us (it is killed, not detached, on drop).
    spawned: bool,
    /// The last `wait_one` took a status while other threads ran: they still run.
    others_running: bool,
    /// Threads stopped by the backend itself (a new thread seen before its
    /// clone event), not reported: the next resume lets them go too, even one
    /// that lists only the thread that stopped.
    held: Vec<Tid>,
    /// Threads that ended before their creator's clone event came: neither
    /// their creation nor their end is reported.
    ended_unannounced: rustc_hash::FxHashSet<Tid>,
    /// Child processes announced by a fork stop, not yet taken by the trace.
    children: Vec<LinuxProcess>,
    /// The architecture of the program it runs (i386 for a 32-bit one), read
    /// at the first stop and again after each exec.
    arch: &'static Arch,
    /// Whether waits poll before blocking: the tracer may use more than one
    /// CPU (read when the trace starts; see `SPIN_BUDGET` in `status.rs`).
    poll_before_blocking: bool,
}

impl LinuxProcess {
    fn new(pid: Pid, spawned: bool) -> Self {
        Self {
            pid,
            threads: BTreeMap::new(),
            pending: VecDeque::new(),
            mem: None,
            interrupt_flag: Arc::new(AtomicBool::new(false)),
            gone: false,
            others_running: false,
            held: Vec::new(),
            ended_unannounced: Default::default(),
            children: Vec::new(),
            poll_before_blocking: sys::cpus_allowed() > 1,
            xstate_size: None,
            spawned,
            arch: &X86_64,
        }
    }

    /// Whether this process was spawned by the trace (rather than attached to).
    pub fn was_spawned(&self) -> bool {
        self.spawned
    }

    fn os_error(&self, op: &'static str, tid: Tid, source: std::io::Error) -> Error {
        if source.raw_os_error() == Some(libc::ESRCH) && self.gone {
            return Error::ProcessExited { pid: self.pid };
        }
        Error::Os { op, pid: self.pid, tid, source }
    }

    fn check_thread(&self, tid: Tid) -> Result<()> {
        if self.gone {
            return Err(Error::ProcessExited { pid: self.pid });
        }
        match self.threads.get(&tid) {
            None => Err(Error::NoSuchThread { pid: self.pid, tid }),
            Some(t) if t.running => Err(Error::Running { pid: self.pid }),
            Some(_) => Ok(()),
        }
    }

    fn resume_thread(&mut self, tid: Tid, kind: ResumeKind, signal: i32) -> Result<()> {
        let result = match kind {
            ResumeKind::Continue => sys::cont(tid, signal),
            ResumeKind::Step => sys::single_step(tid, signal),
            ResumeKind::Syscall => sys::cont_syscall(tid, signal),
        };
        match result {
            Ok(()) => {
                if let Some(t) = self.threads.get_mut(&tid) {
                    t.running = true;
                    t.mid_syscall = false;
                    t.last_resume = kind;
                }
                Ok(())
            }
            // A thread killed by a process-wide exit between its stop and now:
            // its exit status is still to come from waitpid.
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {
                if let Some(t) = self.threads.get_mut(&tid) {
                    t.running = true;
                }
                Ok(())
            }
            Err(e) => Err(self.os_error("ptrace(resume)", tid, e)),
        }
    }
}

impl Platform for LinuxProcess {
    fn arch(&self) -> &'static Arch {
        self.arch
    }

    fn pid(&self) -> Pid {
        self.pid
    }

    fn has_thread(&self, tid: Tid) -> bool {
        self.threads.contains_key(&tid)
    }

    fn threads(&self) -> Vec<Tid> {
        let mut tids: Vec<Tid> = self.threads.keys().copied().collect();
        if let Some(i) = tids.iter().position(|&t| t == self.pid) {
            tids.remove(i);
            tids.insert(0, self.pid);
        }
        tids
    }

    fn resume(&mut self, actions: &[ResumeAction]) -> Result<bool> {
        if !self.pending.is_empty() {
            // Stops are still waiting to be reported (the process's own exit,
            // perhaps): report them first.
            return Ok(false);
        }
        if self.gone {
            return Err(Error::ProcessExited { pid: self.pid });
        }
        for action in actions {
            if !self.threads.contains_key(&action.tid) {
                return Err(Error::NoSuchThread { pid: self.pid, tid: action.tid });
            }
        }
        // One thread resumed while the others stay stopped (not a process's only thread).
        let solo = actions.len() == 1 && self.threads.len() > 1 && !self.others_running;
        for action in actions {
            // Threads left running by `wait_one` go on as they are.
            if !self.threads[&action.tid].running {
                self.resume_thread(action.tid, action.kind, action.signal.unwrap_or(0))?;
                if let Some(thread) = self.threads.get_mut(&action.tid) {
                    thread.solo = solo || action.kind == ResumeKind::Step;
                }
            }
        }
        // Only when the other threads run (a stop handled one thread at a
        // time): a thread resumed alone while the others stay stopped (a step,
        // an injected system call) must stay alone.
        if !self.others_running || actions.iter().any(|a| a.kind == ResumeKind::Step) {
            return Ok(true);
        }
        for tid in std::mem::take(&mut self.held) {
            if self.threads.get(&tid).is_some_and(|t| !t.running) {
                self.resume_thread(tid, ResumeKind::Continue, 0)?;
            }
        }
        Ok(true)
    }

    fn wait(&mut self, timeout: Option<Duration>) -> Result<Option<Stop>> {
        let stop = self.wait_one(timeout)?;
        if stop.as_ref().is_some_and(|s| !matches!(s.reason, StopReason::Exited(_))) {
            self.complete_stop()?;
        }
        Ok(stop)
    }

    fn wait_one(&mut self, timeout: Option<Duration>) -> Result<Option<Stop>> {
        if let Some(stop) = self.pending.pop_front() {
            // Kept by an earlier stop of every thread: none runs.
            return Ok(Some(stop));
        }
        if self.gone {
            return Err(Error::ProcessExited { pid: self.pid });
        }
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            let Some((tid, status)) = self.next_status(deadline)? else {
                return Ok(None);
            };
            if let Some(stop) = self.handle_status(tid, status)? {
                self.others_running = !self.gone;
                return Ok(Some(stop));
            }
        }
    }

    fn others_running(&self) -> bool {
        self.others_running
    }

    fn is_dying(&self) -> bool {
        // The leader is a zombie (or gone) once the process is killed or exits.
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{}/stat", self.pid)) else { return true };
        let state = stat.rsplit_once(')').and_then(|(_, rest)| rest.trim_start().chars().next());
        matches!(state, Some('Z' | 'X'))
    }

    fn complete_stop(&mut self) -> Result<()> {
        if self.gone {
            return Ok(());
        }
        self.stop_running()
    }

    fn is_stopped(&self, tid: Tid) -> bool {
        self.threads.get(&tid).is_some_and(|t| !t.running)
    }

    fn stopped_in_syscall(&self, tid: Tid) -> bool {
        self.threads.get(&tid).is_some_and(|t| !t.running && t.mid_syscall)
    }

    fn stop_all(&mut self) -> Result<()> {
        if self.gone {
            return Ok(());
        }
        self.stop_running()
    }

    fn read_memory(&mut self, addr: u64, buf: &mut [u8]) -> Result<()> {
        self.read_mem(addr, buf)
    }

    fn write_memory(&mut self, addr: u64, data: &[u8]) -> Result<()> {
        self.write_mem(addr, data)
    }

    fn memory_maps(&mut self) -> Result<Vec<MemoryMap>> {
        self.maps()
    }

    fn read_registers(&mut self, tid: Tid, group: RegisterGroup, buf: &mut [u8]) -> Result<()> {
        self.check_thread(tid)?;
        self.read_group(tid, group, buf)
    }

    fn write_registers(&mut self, tid: Tid, group: RegisterGroup, buf: &[u8]) -> Result<()> {
        self.check_thread(tid)?;
        self.write_group(tid, group, buf)
    }

    fn classify_trap(&mut self, tid: Tid) -> Result<StopReason> {
        self.check_thread(tid)?;
        let info = self.signal_info(tid)?;
        Ok(self.trap_reason(info))
    }

    fn detach(&mut self, signal: Option<(Tid, i32)>) -> Result<()> {
        self.detach_all(signal)
    }

    fn kill(&mut self) -> Result<ExitStatus> {
        self.kill_and_reap()
    }

    fn interrupter(&self) -> Interrupter {
        Interrupter::new(Arc::new(interrupt::LinuxInterrupter::new(self.pid, self.interrupt_flag.clone())))
    }

    fn take_child(&mut self, child: Pid) -> Option<Box<dyn Platform>> {
        let i = self.children.iter().position(|c| c.pid == child)?;
        Some(Box::new(self.children.remove(i)))
    }

    fn exe_path(&mut self) -> Option<String> {
        std::fs::read_link(format!("/proc/{}/exe", self.pid)).ok().map(|p| p.to_string_lossy().into_owned())
    }

    fn file_descriptors(&mut self) -> Result<Vec<crate::platform::FileDescriptor>> {
        procfs::file_descriptors(self.pid)
    }

    fn read_xsave_area(&mut self, tid: Tid) -> Result<Option<Vec<u8>>> {
        self.check_thread(tid)?;
        self.read_xsave(tid)
    }

    fn auxv(&mut self) -> Option<Vec<u8>> {
        std::fs::read(format!("/proc/{}/auxv", self.pid)).ok()
    }

    fn process_info(&mut self) -> Option<ProcessInfo> {
        procinfo::process_info(self.pid)
    }
}

impl Drop for LinuxProcess {
    fn drop(&mut self) {
        if self.gone {
            return;
        }
        // The Trace above normally detaches or kills first; this is the last guard.
        if self.spawned {
            let _ = self.kill_and_reap();
        } else {
            let _ = self.stop_all();
            let _ = self.detach_all(None);
        }
    }
}
