//! The small set of primitives a debugging backend must provide.
//!
//! [`Platform`] is what [`Trace`](crate::Trace) stands on. It does not know about
//! breakpoints, modes, notifiers or symbols: those are written once, in `trace`,
//! above this trait, so that every backend (ptrace, a core file, a GDB remote stub,
//! the Win32 debug API) gets them for free.
//!
//! The contract is *all-stop*: when [`Platform::wait`] returns a [`Stop`], every
//! thread of the process is stopped, and stays stopped until [`Platform::resume`].
//! Events that other threads produced while they were being stopped are kept by
//! the backend and returned by the following `wait` calls, before anything is
//! resumed again.

use std::sync::Arc;
use std::time::Duration;

use crate::arch::{Arch, CallingConvention, RegisterGroup};
use crate::error::{Error, Pid, Result, Tid};
use crate::event::{ExitStatus, SignalInfo, SyscallStop};
use crate::memory::MemoryMap;

pub mod core;
#[cfg(target_os = "linux")]
pub mod linux;
pub mod remote;
#[cfg(windows)]
pub mod windows;

/// Why a thread stopped, as the backend sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopReason {
    /// A SIGTRAP not classified yet: a breakpoint instruction, a hardware
    /// breakpoint, or a SIGTRAP signal. The caller, which knows where its
    /// breakpoints are, recognises its own; for the rest it asks
    /// [`Platform::classify_trap`]. (This spares a system call per breakpoint hit.)
    Trap,
    /// A software breakpoint instruction trapped. The program counter is as the
    /// CPU left it (after the instruction when [`Arch::pc_after_break`]).
    SoftwareBreak,
    /// A single step completed.
    Step,
    /// A hardware breakpoint or watchpoint fired (the debug status register tells which).
    HardwareBreak,
    /// A signal is about to be delivered to the thread.
    Signal(SignalInfo),
    /// A system call entry or exit (when resumed with [`ResumeKind::Syscall`]).
    Syscall(SyscallStop),
    /// The stop that [`Interrupter::interrupt`] asked for.
    Interrupted,
    /// The thread created a new thread, which is now traced and stopped.
    ThreadCreated {
        /// The new thread.
        new_tid: Tid,
    },
    /// This thread ended; the process lives on.
    ThreadExited(ExitStatus),
    /// The whole process ended; the backend can do nothing more.
    Exited(ExitStatus),
    /// The process created a child process (`fork`, `vfork`, or `clone`
    /// without `CLONE_THREAD`). The child is traced and stopped: take it with
    /// [`Platform::take_child`] to keep it, clean it or let it go.
    Forked {
        /// The child's pid.
        child: Pid,
        /// Whether the child shares the parent's memory until it executes a
        /// program or exits (`vfork`); the parent thread waits until then.
        vfork: bool,
    },
    /// The parent of a `vfork` child goes on: the child executed a program or
    /// exited, and no longer shares the parent's memory.
    VforkDone,
    /// The process executed a new program; only this thread remains.
    Exec {
        /// The new program's path.
        path: String,
    },
    /// The system loaded a library into the process and said so (the Win32
    /// debug API does; on Linux the trace finds libraries itself).
    LibraryLoaded {
        /// Its path.
        path: String,
        /// Its base address.
        base: u64,
    },
    /// The system unloaded a library the backend reported loaded.
    LibraryUnloaded {
        /// Its path.
        path: String,
        /// Its base address.
        base: u64,
    },
    /// The program wrote a string for its debugger (Windows' `OutputDebugString`).
    DebugString(String),
    /// The system reports an error in debugging the process (Windows' `RIP_EVENT`).
    DebugError {
        /// The error code.
        error: u32,
        /// Its kind (`SLE_ERROR`, `SLE_MINORERROR`, `SLE_WARNING`, or 0).
        kind: u32,
    },
}

/// One thread's stop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stop {
    /// The thread.
    pub tid: Tid,
    /// Why it stopped.
    pub reason: StopReason,
}

/// How to resume one thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResumeKind {
    /// Run freely.
    Continue,
    /// Execute one instruction.
    Step,
    /// Run until the next system call entry or exit.
    Syscall,
}

/// One thread's part in a resume.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResumeAction {
    /// The thread.
    pub tid: Tid,
    /// How it runs.
    pub kind: ResumeKind,
    /// A signal to deliver to it as it resumes.
    pub signal: Option<i32>,
}

/// Something that can interrupt a running process from any thread.
pub trait InterruptSource: Send + Sync + std::fmt::Debug {
    /// Ask the process to stop; the trace then reports [`StopReason::Interrupted`].
    fn interrupt(&self) -> Result<()>;
}

/// A handle that stops a running trace from another thread (vtrace's `sendBreak`).
///
/// Cheap to clone; `Send` and `Sync`. Interrupting a process that is already
/// stopped makes the next run stop at once with
/// [`EventKind::Interrupted`](crate::EventKind::Interrupted).
#[derive(Debug, Clone)]
pub struct Interrupter {
    source: Arc<dyn InterruptSource>,
}

impl Interrupter {
    /// Wraps a backend's interrupt source.
    pub fn new(source: Arc<dyn InterruptSource>) -> Self {
        Self { source }
    }

    /// Ask the traced process to stop.
    pub fn interrupt(&self) -> Result<()> {
        self.source.interrupt()
    }
}

/// The primitives of a debugging backend. See the module docs for the all-stop contract.
pub trait Platform: std::fmt::Debug {
    /// The architecture of the debuggee.
    fn arch(&self) -> &'static Arch;
    /// The calling convention of the debuggee's C functions, by which
    /// `Trace::call` and hooks place arguments: System V (cdecl on i386)
    /// unless the backend says otherwise (Windows: [`CallingConvention::Microsoft64`]).
    fn calling_convention(&self) -> CallingConvention {
        match self.arch().name {
            "i386" => CallingConvention::Cdecl32,
            _ => CallingConvention::SysV64,
        }
    }
    /// The process id.
    fn pid(&self) -> Pid;
    /// The threads the backend knows to be alive, the main thread first if it is alive.
    fn threads(&self) -> Vec<Tid>;
    /// Resume the listed threads; threads not listed stay stopped, and listed
    /// threads that already run (after [`Platform::wait_one`]) go on as they are.
    ///
    /// Returns `false` when nothing was resumed because stops are still waiting
    /// to be reported (the next [`Platform::wait`] gives them): the caller then
    /// keeps what it meant to deliver (pending signals) for the next resume.
    fn resume(&mut self, actions: &[ResumeAction]) -> Result<bool>;
    /// Whether `tid` is a live thread of the process (cheaper than [`Platform::threads`]).
    fn has_thread(&self, tid: Tid) -> bool {
        self.threads().contains(&tid)
    }
    /// Wait for the next stop, at most `timeout` (forever when `None`). `Ok(None)` means the time ran out.
    fn wait(&mut self, timeout: Option<Duration>) -> Result<Option<Stop>>;
    /// Like [`Platform::wait`], but a backend that can stop one thread at a
    /// time may leave the other threads running: the caller handles the stop
    /// (a breakpoint whose condition is false, an auto-continued event) and
    /// either resumes that thread alone or calls [`Platform::complete_stop`]
    /// before it needs the others. By default this is [`Platform::wait`].
    fn wait_one(&mut self, timeout: Option<Duration>) -> Result<Option<Stop>> {
        self.wait(timeout)
    }
    /// After [`Platform::wait_one`]: stops the threads still running, keeping
    /// what they report for the next waits (the all-stop state of [`Platform::wait`]).
    /// Does nothing on backends that stop every thread at every stop.
    fn complete_stop(&mut self) -> Result<()> {
        Ok(())
    }
    /// Whether the process is ending (killed, or exiting) though its exit was
    /// not reported yet: requests then fail, and the exit is on its way.
    fn is_dying(&self) -> bool {
        false
    }
    /// Whether the last [`Platform::wait_one`] left other threads running.
    fn others_running(&self) -> bool {
        false
    }
    /// Whether `tid` is stopped (always, on backends whose stops are all-stop).
    fn is_stopped(&self, tid: Tid) -> bool {
        self.has_thread(tid)
    }
    /// Whether `tid` is stopped inside a system call that has not returned
    /// yet (at an event of it, such as a new thread's creation, or at its
    /// entry): when it goes on, the kernel finishes the call and writes its
    /// result over the registers, so code run in it now would be clobbered
    /// and registers saved now would undo the call's result. False where the
    /// backend cannot tell.
    fn stopped_in_syscall(&self, tid: Tid) -> bool {
        let _ = tid;
        false
    }
    /// Stop every running thread without reporting anything (for detach, kill and drop of a running trace).
    fn stop_all(&mut self) -> Result<()>;
    /// Read exactly `buf.len()` bytes at `addr`, or fail naming the first address that could not be read.
    fn read_memory(&mut self, addr: u64, buf: &mut [u8]) -> Result<()>;
    /// Write all of `data` at `addr`, read-only pages included.
    fn write_memory(&mut self, addr: u64, data: &[u8]) -> Result<()>;
    /// Puts a software breakpoint at `addr`: `brk` is the architecture's
    /// break instruction. By default it is written into memory; a backend
    /// whose target keeps breakpoints itself (a remote stub's `Z0`) asks it to.
    fn insert_break(&mut self, addr: u64, brk: &[u8]) -> Result<()> {
        self.write_memory(addr, brk)
    }
    /// Takes the software breakpoint at `addr` out, leaving `original` there.
    fn remove_break(&mut self, addr: u64, original: &[u8]) -> Result<()> {
        self.write_memory(addr, original)
    }
    /// The process's memory maps, sorted by address.
    fn memory_maps(&mut self) -> Result<Vec<MemoryMap>>;
    /// Read one register group of a stopped thread into `buf` (of [`Arch::group_size`] bytes).
    fn read_registers(&mut self, tid: Tid, group: RegisterGroup, buf: &mut [u8]) -> Result<()>;
    /// Write one register group of a stopped thread.
    fn write_registers(&mut self, tid: Tid, group: RegisterGroup, buf: &[u8]) -> Result<()>;
    /// Says what a [`StopReason::Trap`] of a stopped thread was (never `Trap` again).
    fn classify_trap(&mut self, tid: Tid) -> Result<StopReason>;
    /// Detach from every thread, delivering `signal` to `tid` if given; the process runs on untraced.
    fn detach(&mut self, signal: Option<(Tid, i32)>) -> Result<()>;
    /// Kill the process and reap it.
    fn kill(&mut self) -> Result<ExitStatus>;
    /// A handle that interrupts the process from any thread.
    fn interrupter(&self) -> Interrupter;
    /// The child process announced by a [`StopReason::Forked`], traced and
    /// stopped, as a backend of its own (once: later calls give `None`).
    fn take_child(&mut self, _child: Pid) -> Option<Box<dyn Platform>> {
        None
    }
    /// The path of the program the process runs, if known.
    fn exe_path(&mut self) -> Option<String>;
    /// The process's open file descriptors (not every backend knows them).
    fn file_descriptors(&mut self) -> Result<Vec<FileDescriptor>> {
        Err(Error::Unsupported("listing file descriptors"))
    }

    /// The whole XSAVE area of a stopped thread in the kernel's standard
    /// (non-compacted) format, as `NT_X86_XSTATE` carries it; `None` when the
    /// backend has no more than the [`RegisterGroup::Vector`] block.
    fn read_xsave_area(&mut self, _tid: Tid) -> Result<Option<Vec<u8>>> {
        Ok(None)
    }

    /// The process's auxiliary vector (pairs of native words), as `NT_AUXV` carries it, if known.
    fn auxv(&mut self) -> Option<Vec<u8>> {
        None
    }

    /// Facts about the process for a core file's `NT_PRPSINFO`, if known.
    fn process_info(&mut self) -> Option<ProcessInfo> {
        None
    }

    /// The program's entry point, where the trace makes called functions
    /// return, when the backend knows it without the symbols.
    fn entry_point(&mut self) -> Option<u64> {
        None
    }

    /// Allocates `size` bytes with `perms` in the process, near `hint`, by a
    /// system call of the tracer's own (`None`: the backend has none, and the
    /// trace injects the system call into the debuggee instead).
    fn allocate_memory(&mut self, _size: u64, _perms: crate::memory::Perms, _hint: Option<u64>) -> Option<Result<u64>> {
        None
    }

    /// Changes the protection of the pages of `[addr, addr + size)` (`None`: as [`Platform::allocate_memory`]).
    fn protect_memory(&mut self, _addr: u64, _size: u64, _perms: crate::memory::Perms) -> Option<Result<()>> {
        None
    }

    /// Releases memory of [`Platform::allocate_memory`] (`None`: as there).
    fn free_memory(&mut self, _addr: u64, _size: u64) -> Option<Result<()>> {
        None
    }

    /// Loads a library into the process by the system's own means (a remote
    /// thread calling `LoadLibraryW` on Windows) and returns its base; `None`
    /// when the backend has no such means (the trace then calls the dynamic
    /// linker in the current thread).
    fn inject_library(&mut self, _path: &str) -> Option<Result<u64>> {
        None
    }

    /// The address of a thread's environment block (Windows' TEB), if the system has one.
    fn thread_block(&mut self, _tid: Tid) -> Result<u64> {
        Err(Error::Unsupported("thread environment blocks on this platform"))
    }
}

/// What a core file's `NT_PRPSINFO` says about a process.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcessInfo {
    /// The state letter (`R`, `S`, `t`...).
    pub state: u8,
    /// The parent's pid.
    pub ppid: Pid,
    /// The process group.
    pub pgrp: Pid,
    /// The session.
    pub sid: Pid,
    /// The real user id.
    pub uid: u32,
    /// The real group id.
    pub gid: u32,
    /// The command name (at most 15 bytes are kept).
    pub name: String,
    /// The command line, arguments separated by spaces (at most 79 bytes are kept).
    pub args: String,
}

/// What a file descriptor refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FdKind {
    /// A file (or directory, or device) with a path.
    File,
    /// A socket.
    Socket,
    /// A pipe.
    Pipe,
    /// Anything else (eventfd, epoll, timerfd...).
    Other,
}

impl FdKind {
    /// The kind of a descriptor from what `/proc/PID/fd/N` points to.
    pub fn of_target(target: &str) -> FdKind {
        if target.starts_with("socket:") {
            FdKind::Socket
        } else if target.starts_with("pipe:") {
            FdKind::Pipe
        } else if target.starts_with('/') {
            FdKind::File
        } else {
            FdKind::Other
        }
    }
}

/// One open file descriptor of the debuggee.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileDescriptor {
    /// Its number.
    pub fd: i32,
    /// What it refers to.
    pub kind: FdKind,
    /// Its name: a path, or the kernel's `socket:[inode]`, `pipe:[inode]`, `anon_inode:[...]`.
    pub name: String,
}

/// A process of the machine, as `oxtrace::processes` lists it (on Linux).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessEntry {
    /// Its id.
    pub pid: Pid,
    /// Its command name.
    pub name: String,
    /// Its arguments (empty for kernel threads).
    pub command_line: Vec<String>,
}
