//! oxtrace: a programmatic debugger framework.
//!
//! oxtrace starts or attaches to processes, stops them at breakpoints, steps
//! them, reads and changes their memory and registers, and reports what happens
//! to them as [`Event`]s. It is meant for writing debuggers and research tools
//! (tracers, coverage collectors, crash triagers, fuzzing harnesses) in a few
//! lines; `oxdb`, the debugger of this workspace, is built on it.
//!
//! # Shape
//!
//! * [`Trace`] is the one object a user holds: run control, breakpoints,
//!   notifiers, registers, memory, signals, metadata, symbols and stacks.
//! * [`platform::Platform`] is the small trait a backend implements (Linux ptrace
//!   today); everything else is written once above it.
//! * [`snapshot`] saves a stopped process as an ELF core file that gdb opens;
//!   [`Trace::open_core`] opens any Linux x86_64 core file as a trace.
//! * [`arch`] describes processors as data; [`registers`] holds register values.
//!
//! # Example
//!
//! ```no_run
//! use std::process::Command;
//! use oxtrace::{EventKind, Trace};
//!
//! # fn main() -> oxtrace::Result<()> {
//! let mut trace = Trace::spawn(Command::new("/bin/true"))?;
//! let main = trace.sym_by_name("main")?;   // or any address
//! trace.add_break_by_addr(main)?;
//! let event = trace.run()?;
//! if let EventKind::Breakpoint { addr, .. } = event.kind {
//!     println!("stopped at {addr:#x}, rsp = {:#x}", trace.register_u64("rsp")?);
//! }
//! trace.kill()?;
//! # Ok(())
//! # }
//! ```
//!
//! # Threading
//!
//! A `Trace` must stay on the thread that created it (a ptrace rule); it is not
//! `Send`. Stop it from other threads with an [`Interrupter`].

#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod arch;
pub mod cexpr;
pub mod error;
pub mod event;
pub mod expression;
pub mod memory;
pub mod platform;
pub mod registers;
pub mod signals;
pub mod snapshot;
pub mod symbols;
mod trace;
pub mod unwind;

pub use error::{Error, Pid, Result, Tid};
pub use event::{Event, EventKind, EventType, ExceptionInfo, ExitStatus, SignalInfo, SyscallStop};
pub use memory::{MemoryMap, Needle, Perms};
#[cfg(target_os = "linux")]
pub use platform::linux::processes;
#[cfg(target_os = "linux")]
pub use platform::linux::SpawnOptions;
pub use platform::{FdKind, FileDescriptor, Interrupter, ProcessEntry, ProcessInfo};
pub use registers::{RegValue, RegisterContext};
pub use trace::{
    BacktraceFrame, BreakCallback, BreakCondition, Breakpoint, BreakpointKind, CTarget, CallArg, CallResult,
    FollowFork, FrameContext, FrameVariable, HookCall, InProcessOptions, InProcessRecord, InProcessRecords,
    Instruction, Library, LinkMapEntry, MetaValue, Mode, Notifier, NotifierId, PageAccess, PageWatch, PostHook,
    PreHook, Trace, TraceGroup, TraceState, WatchKind, Watchpoint,
};

/// The README's examples, compiled as doctests.
#[doc = include_str!("../../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
