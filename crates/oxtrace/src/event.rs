//! Events: what a trace reports when the debuggee stops or changes.
//!
//! An [`Event`] is a plain value carrying the pid and the tid it concerns;
//! [`Trace::run`](crate::Trace::run) returns one, and notifiers receive each
//! one as it happens.

use crate::error::{Pid, Tid};

/// How a process or thread ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// It called exit with this code.
    Code(i32),
    /// A signal killed it.
    Signaled {
        /// The signal number.
        signal: i32,
        /// Whether it dumped core.
        core_dumped: bool,
    },
}

/// The kernel's extra information about a signal (the parts of `siginfo_t` that matter to a debugger).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SignalInfo {
    /// The signal number.
    pub signo: i32,
    /// The `si_code`: why it was sent (`SI_USER`, `SEGV_MAPERR`, `TRAP_BRKPT`...).
    pub code: i32,
    /// The `si_errno` field.
    pub errno: i32,
    /// For SIGSEGV, SIGBUS, SIGILL, SIGFPE and SIGTRAP: the faulting address.
    pub fault_addr: Option<u64>,
    /// For signals sent by a process (`kill`, `tgkill`): its pid.
    pub sender_pid: Option<Pid>,
    /// On Windows, the exception the signal stands for (see [`crate::signals`]
    /// for the signal numbers exceptions are reported under).
    pub exception: Option<ExceptionInfo>,
}

/// A Windows exception, as the debug API reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExceptionInfo {
    /// The exception code (`0xC0000005` for an access violation).
    pub code: u32,
    /// The address of the instruction that raised it.
    pub address: u64,
    /// Whether the program's own handlers have yet to see it (first chance),
    /// or saw it and did not handle it (second chance: passing it on ends the process).
    pub first_chance: bool,
    /// For an access violation or a guard page: what the instruction did to
    /// [`SignalInfo::fault_addr`] (read, write or execute).
    pub access: Option<crate::trace::PageAccess>,
}

/// A system call stop (in [`Mode::Syscall`](crate::Mode::Syscall)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyscallStop {
    /// The thread is entering a system call.
    Entry {
        /// The system call number.
        number: u64,
        /// Its six argument registers.
        args: [u64; 6],
    },
    /// The thread is leaving a system call.
    Exit {
        /// The system call number (remembered from the entry).
        number: u64,
        /// The return value (negative errno on failure).
        ret: i64,
    },
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventKind {
    /// The trace attached to the process (or spawned it): it is stopped and ready.
    Attached,
    /// The trace is about to detach from the process.
    Detached,
    /// The process is about to be resumed.
    Continued,
    /// A breakpoint was hit; the program counter is back on its address.
    Breakpoint {
        /// The breakpoint's id.
        id: u32,
        /// Its address.
        addr: u64,
    },
    /// A hardware watchpoint fired.
    Watchpoint {
        /// The watchpoint's id.
        id: u32,
        /// The watched address.
        addr: u64,
        /// Where the thread stopped (after the access, for data watchpoints).
        pc: u64,
        /// The instruction that made the access, when it could be found.
        access_pc: Option<u64>,
        /// The value before the access (data watchpoints).
        old: Option<u64>,
        /// The value after it (data watchpoints).
        new: Option<u64>,
    },
    /// A signal arrived. It is delivered on the next resume unless changed
    /// with [`Trace::set_pending_signal`](crate::Trace::set_pending_signal).
    Signal(SignalInfo),
    /// A single step finished.
    Step,
    /// A system call entry or exit.
    Syscall(SyscallStop),
    /// The process was interrupted at the user's request ([`Interrupter::interrupt`](crate::Interrupter::interrupt)).
    Interrupted,
    /// The whole process ended.
    Exited(ExitStatus),
    /// A new thread appeared.
    ThreadCreated {
        /// Its tid.
        new_tid: Tid,
    },
    /// A thread other than the last one ended.
    ThreadExited(ExitStatus),
    /// A shared library was loaded (once library tracking is on).
    LibraryLoaded {
        /// Its normalized name (`libc`), the one symbols are qualified with.
        name: String,
        /// Its path.
        path: String,
        /// Its lowest mapped address.
        base: u64,
    },
    /// A shared library was unloaded.
    LibraryUnloaded {
        /// Its normalized name.
        name: String,
        /// Its path.
        path: String,
        /// Its lowest mapped address.
        base: u64,
    },
    /// The process created a child process (`fork`, `vfork`, or `clone`
    /// without `CLONE_THREAD`). By the trace's fork policy the child was
    /// cleaned of our breakpoints and detached (the default), followed (the
    /// event's pid is then the child's), or kept as a trace of its own
    /// ([`Trace::take_child`](crate::Trace::take_child)).
    Forked {
        /// The child's pid.
        child: crate::error::Pid,
        /// Whether it was a `vfork`: the child shares the parent's memory
        /// until it executes a program or exits ([`EventKind::VforkDone`]).
        vfork: bool,
    },
    /// The parent of a vfork child goes on: the child executed a program or exited.
    VforkDone,
    /// The process called `execve`; the old image, its threads and breakpoints are gone.
    Exec {
        /// The new program's path.
        path: String,
    },
    /// The program wrote a string for its debugger (Windows' `OutputDebugString`).
    DebugString {
        /// The string.
        text: String,
    },
    /// The system reported an error in debugging the process (Windows' `RIP_EVENT`).
    DebugError {
        /// The error code.
        error: u32,
        /// Its kind (1: error, 2: minor error, 3: warning; 0: none given).
        kind: u32,
    },
    /// A page watchpoint was hit (see [`crate::Trace::add_page_watch`]).
    PageWatch {
        /// The page watchpoint.
        id: u32,
        /// The accessing instruction.
        pc: u64,
        /// The address accessed.
        addr: u64,
        /// How.
        access: crate::trace::PageAccess,
    },
}

/// The kind of an event without its data: for notifier registration and the auto-continue list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[allow(missing_docs)]
pub enum EventType {
    Attached,
    Detached,
    Continued,
    Breakpoint,
    Watchpoint,
    Signal,
    Step,
    Syscall,
    Interrupted,
    Exited,
    ThreadCreated,
    ThreadExited,
    LibraryLoaded,
    LibraryUnloaded,
    Exec,
    PageWatch,
    Forked,
    VforkDone,
    DebugString,
    DebugError,
}

impl EventKind {
    /// This event's type.
    pub fn event_type(&self) -> EventType {
        match self {
            EventKind::Attached => EventType::Attached,
            EventKind::Detached => EventType::Detached,
            EventKind::Continued => EventType::Continued,
            EventKind::Breakpoint { .. } => EventType::Breakpoint,
            EventKind::Watchpoint { .. } => EventType::Watchpoint,
            EventKind::Signal(_) => EventType::Signal,
            EventKind::Step => EventType::Step,
            EventKind::Syscall(_) => EventType::Syscall,
            EventKind::Interrupted => EventType::Interrupted,
            EventKind::Exited(_) => EventType::Exited,
            EventKind::ThreadCreated { .. } => EventType::ThreadCreated,
            EventKind::ThreadExited(_) => EventType::ThreadExited,
            EventKind::LibraryLoaded { .. } => EventType::LibraryLoaded,
            EventKind::LibraryUnloaded { .. } => EventType::LibraryUnloaded,
            EventKind::Exec { .. } => EventType::Exec,
            EventKind::Forked { .. } => EventType::Forked,
            EventKind::VforkDone => EventType::VforkDone,
            EventKind::PageWatch { .. } => EventType::PageWatch,
            EventKind::DebugString { .. } => EventType::DebugString,
            EventKind::DebugError { .. } => EventType::DebugError,
        }
    }
}

/// Something that happened to a traced process: which process, which thread, what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The process.
    pub pid: Pid,
    /// The thread it happened in (the pid for process-wide events).
    pub tid: Tid,
    /// What happened.
    pub kind: EventKind,
}

impl Event {
    /// This event's type.
    pub fn event_type(&self) -> EventType {
        self.kind.event_type()
    }
}

impl std::fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExitStatus::Code(code) => write!(f, "exit code {code}"),
            ExitStatus::Signaled { signal, core_dumped: false } => write!(f, "killed by signal {signal}"),
            ExitStatus::Signaled { signal, core_dumped: true } => write!(f, "killed by signal {signal} (core dumped)"),
        }
    }
}

impl std::fmt::Display for Event {
    /// One line: `[pid:tid] what happened`, for logs and verbose notifiers.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "[{}:{}] ", self.pid, self.tid)?;
        match &self.kind {
            EventKind::Attached => write!(f, "attached"),
            EventKind::Detached => write!(f, "detached"),
            EventKind::Continued => write!(f, "continued"),
            EventKind::Breakpoint { id, addr } => write!(f, "breakpoint {id} at {addr:#x}"),
            EventKind::Watchpoint { id, addr, pc, old, new, .. } => {
                write!(f, "watchpoint {id} at {addr:#x} fired, pc {pc:#x}")?;
                if let (Some(old), Some(new)) = (old, new) {
                    write!(f, ": {old:#x} -> {new:#x}")?;
                }
                Ok(())
            }
            EventKind::Signal(info) => {
                write!(f, "signal {} (code {})", info.signo, info.code)?;
                if let Some(addr) = info.fault_addr {
                    write!(f, " at {addr:#x}")?;
                }
                if let Some(pid) = info.sender_pid {
                    write!(f, " from pid {pid}")?;
                }
                Ok(())
            }
            EventKind::Step => write!(f, "step"),
            EventKind::Syscall(SyscallStop::Entry { number, args }) => {
                write!(f, "syscall {number} entry {args:x?}")
            }
            EventKind::Syscall(SyscallStop::Exit { number, ret }) => {
                write!(f, "syscall {number} exit = {ret}")
            }
            EventKind::Interrupted => write!(f, "interrupted"),
            EventKind::Exited(status) => write!(f, "exited: {status}"),
            EventKind::ThreadCreated { new_tid } => write!(f, "thread {new_tid} created"),
            EventKind::ThreadExited(status) => write!(f, "thread exited: {status}"),
            EventKind::LibraryLoaded { name, path, base } => write!(f, "loaded {name} ({path}) at {base:#x}"),
            EventKind::LibraryUnloaded { name, path, base } => write!(f, "unloaded {name} ({path}) from {base:#x}"),
            EventKind::Exec { path } => write!(f, "exec {path}"),
            EventKind::Forked { child, vfork: false } => write!(f, "fork: child process {child}"),
            EventKind::Forked { child, vfork: true } => write!(f, "vfork: child process {child}"),
            EventKind::VforkDone => write!(f, "vfork done"),
            EventKind::PageWatch { id, pc, addr, access } => {
                write!(f, "page watchpoint {id}: {access:?} of {addr:#x} by the instruction at {pc:#x}")
            }
            EventKind::DebugString { text } => write!(f, "debug string {text:?}"),
            EventKind::DebugError { error, kind } => write!(f, "debugging error {error:#x} (kind {kind})"),
        }
    }
}
