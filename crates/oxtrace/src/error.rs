//! The one error type of the library.
//!
//! Every error names the thing it is about: the pid, the tid, the address, the
//! register or the file. Callers match on the variant to tell a bad request
//! (an unmapped address, an unknown register) from a dead debuggee.

use std::io;

/// A process id.
pub type Pid = i32;
/// A thread id (on Linux, the kernel task id).
pub type Tid = i32;

/// Everything that can go wrong in oxtrace.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The program could not be started.
    #[error("cannot start {program:?}: {source}")]
    Spawn {
        /// The program as given.
        program: String,
        /// Why.
        source: io::Error,
    },
    /// No such process (or it is already gone).
    #[error("no process with pid {pid}")]
    NoSuchProcess {
        /// The pid asked for.
        pid: Pid,
    },
    /// The process exists but may not be traced (permissions, already traced, a kernel thread).
    #[error("cannot trace pid {pid}: {source}")]
    NotTraceable {
        /// The pid asked for.
        pid: Pid,
        /// What the kernel said.
        source: io::Error,
    },
    /// A thread id that the trace does not know.
    #[error("no thread {tid} in process {pid}")]
    NoSuchThread {
        /// The process.
        pid: Pid,
        /// The thread asked for.
        tid: Tid,
    },
    /// A memory access failed.
    #[error("cannot {access} {len} bytes at {addr:#x} in process {pid}: {reason}")]
    Memory {
        /// The process.
        pid: Pid,
        /// "read" or "write".
        access: &'static str,
        /// The first address of the access.
        addr: u64,
        /// Its length.
        len: usize,
        /// Why (unmapped, short access, OS error).
        reason: String,
    },
    /// A register name that this architecture does not have.
    #[error("unknown register {name:?} on {arch}")]
    UnknownRegister {
        /// The name asked for.
        name: String,
        /// The architecture's name.
        arch: &'static str,
    },
    /// A value that does not fit where it was to go (register width, argument range).
    #[error("{0}")]
    InvalidArgument(String),
    /// The process has exited; nothing more can be done with it.
    #[error("process {pid} has exited")]
    ProcessExited {
        /// The process.
        pid: Pid,
    },
    /// The trace is detached.
    #[error("process {pid} is detached")]
    Detached {
        /// The process.
        pid: Pid,
    },
    /// The request needs a stopped process, but it is running.
    #[error("process {pid} is running; stop it first")]
    Running {
        /// The process.
        pid: Pid,
    },
    /// The request needs a running process, but it is stopped.
    #[error("process {pid} is not running")]
    NotRunning {
        /// The process.
        pid: Pid,
    },
    /// An operating system call failed.
    #[error("{op} failed for pid {pid} tid {tid}: {source}")]
    Os {
        /// The operation (the ptrace request or system call).
        op: &'static str,
        /// The process.
        pid: Pid,
        /// The thread (equal to the pid for process-wide operations).
        tid: Tid,
        /// The error the kernel returned.
        source: io::Error,
    },
    /// A breakpoint id that does not exist.
    #[error("no breakpoint with id {0}")]
    NoSuchBreakpoint(u32),
    /// A breakpoint is already set at this address.
    #[error("a breakpoint (id {id}) is already set at {addr:#x}")]
    DuplicateBreakpoint {
        /// The existing breakpoint.
        id: u32,
        /// The address.
        addr: u64,
    },
    /// A symbol or module name that could not be found.
    #[error("no symbol {0:?}")]
    NoSuchSymbol(String),
    /// A file could not be read or parsed.
    #[error("{path}: {reason}")]
    File {
        /// The file.
        path: String,
        /// What was wrong.
        reason: String,
    },
    /// An expression that does not parse or evaluate; says where.
    #[error("bad expression: {0}")]
    Expression(#[from] crate::expression::ExprError),
    /// A function called in the debuggee did not return: something stopped it first
    /// (a signal, a breakpoint, the process's end). The thread's registers are restored.
    #[error("the call of {function:#x} in thread {tid} did not return: {event}")]
    CallInterrupted {
        /// The called function.
        function: u64,
        /// The calling thread.
        tid: Tid,
        /// What stopped it.
        event: String,
    },
    /// A system call injected into the debuggee failed.
    #[error("{name} in pid {pid} failed: {source}")]
    Syscall {
        /// The system call's name (`mmap`).
        name: &'static str,
        /// The process.
        pid: Pid,
        /// The error it returned.
        source: io::Error,
    },
    /// The backend does not offer this capability.
    #[error("{0} is not supported by this backend")]
    Unsupported(&'static str),
    /// A GDB remote protocol stub could not be reached or answered wrongly.
    #[error("remote stub at {addr}: {what}")]
    Remote {
        /// The stub's address (`host:port`).
        addr: String,
        /// What went wrong (the request and the reply, or the I/O error).
        what: String,
    },
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Whether this is a thread or process that vanished under a request
    /// (`ESRCH`): the process is dying, or another thread executed a new
    /// program. The trace then reports the exit (or the exec) that follows.
    pub fn is_vanished(&self) -> bool {
        match self {
            Error::Os { source, .. } => source.raw_os_error() == Some(crate::signals::ESRCH),
            Error::ProcessExited { .. } => true,
            // Memory errors keep the OS error as text (a failed access reads
            // better with its address): ESRCH is this one.
            Error::Memory { reason, .. } => *reason == io::Error::from_raw_os_error(crate::signals::ESRCH).to_string(),
            _ => false,
        }
    }
}
