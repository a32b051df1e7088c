//! [`Trace`]: one traced process, and everything done to it.
//!
//! A `Trace` owns a [`Platform`] backend and adds, once for every backend, the
//! policy a debugger needs: the run loop and its [modes](Mode), breakpoints,
//! notifiers and the auto-continue list, per-thread register caches written back
//! before the threads run, breakpoint-aware memory access, pending and ignored
//! signals, metadata and variables.
//!
//! A `Trace` is pinned to the thread that created it (ptrace requires it, see
//! [`crate::platform::linux`]); use [`Trace::interrupter`] to stop it from
//! another thread. Dropping a `Trace` never leaves the debuggee stopped or with
//! breakpoint bytes in it: a spawned debuggee is killed, an attached one is
//! detached with its original code restored.

mod breakpoints;
mod c_call;
mod c_call_ms;
mod c_values;
mod call;
mod disassemble;
mod displaced;
mod expressions;
mod fork;
mod group;
mod hooks;
mod inject_so;
mod libraries;
mod lifecycle;
mod locations;
mod memory;
mod metadata;
mod modes;
mod notifiers;
mod pads;
mod page_watch;
mod parking;
mod registers;
mod run;
mod signals;
mod snapshot;
mod source_step;
mod stack;
mod stepping;
mod structs;
mod syscalls;
mod threads;
mod watchpoints;

use std::collections::{BTreeMap, BTreeSet, HashMap};

/// A hash map keyed by small integers (thread ids): hashed by rustc's Fx hash,
/// several times cheaper than SipHash on the per-stop paths.
type TidMap<V> = rustc_hash::FxHashMap<Tid, V>;

pub use breakpoints::{BreakCallback, BreakCondition, Breakpoint, BreakpointKind};
pub use c_values::{CTarget, FrameContext, FrameVariable};
pub use call::{CallArg, CallResult};
pub use disassemble::Instruction;
pub use fork::FollowFork;
pub use group::TraceGroup;
pub use hooks::{HookCall, PostHook, PreHook};
pub use libraries::{Library, LinkMapEntry};
pub use metadata::MetaValue;
pub use modes::Mode;
pub use notifiers::{Notifier, NotifierId};
pub use pads::{InProcessOptions, InProcessRecord, InProcessRecords};
pub use page_watch::{PageAccess, PageWatch};
pub use stack::BacktraceFrame;
pub use watchpoints::{WatchKind, Watchpoint};

use crate::arch::Arch;
use crate::error::{Error, Pid, Result, Tid};
use crate::event::{Event, EventType, ExitStatus};
use crate::platform::{Platform, Stop};
use crate::registers::RegisterContext;
use crate::symbols::SymbolResolver;

/// Where a trace stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraceState {
    /// Every thread is stopped; the trace can be inspected and changed.
    Stopped,
    /// The process runs ([`Trace::start`] was called and no event ended it yet).
    Running,
    /// The process has ended.
    Exited(ExitStatus),
    /// The trace let the process go.
    Detached,
}

/// A traced process: run control, breakpoints, notifiers, registers, memory,
/// signals, metadata, symbols and stacks.
///
/// A `Trace` is pinned to the thread that created it (ptrace requires it) and
/// is not `Send`; [`Trace::interrupter`] gives a handle that stops it from any
/// thread. Dropping it never leaves the debuggee stopped or patched: a spawned
/// process is killed, an attached one detached with its code restored.
pub struct Trace {
    platform: Box<dyn Platform>,
    arch: &'static Arch,
    pid: Pid,
    state: TraceState,
    spawned: bool,
    current_tid: Tid,
    registers: TidMap<RegisterContext>,
    breakpoints: breakpoints::Breakpoints,
    watchpoints: BTreeMap<u32, watchpoints::Watch>,
    page_watches: BTreeMap<u32, PageWatch>,
    /// Copies of breakpointed instructions, run out of line.
    scratch: displaced::Scratch,
    /// In-process breakpoints: their jump pads, or why they fell back to int3.
    pads: pads::Pads,
    /// Whether breakpoint bytes leave memory while the caller has the process stopped, and whether they are out.
    parking: parking::Parking,
    /// Debug registers were written at some point: a detach clears them.
    debug_registers_used: bool,
    /// Threads that faulted on a watched page (at this address), to step the access before they run.
    page_steps: TidMap<u64>,
    /// The last stop was a fault on a watched page outside the watched range: go on silently.
    quiet_page_fault: bool,
    modes: modes::Modes,
    notifiers: notifiers::Notifiers,
    auto_continue: BTreeSet<EventType>,
    ignored_signals: BTreeSet<i32>,
    pending_signals: TidMap<i32>,
    metadata: metadata::Metadata,
    variables: HashMap<String, u64>,
    run_again: bool,
    last_event: Option<Event>,
    /// A stop seen while stepping a thread over a breakpoint, to report before running again.
    deferred_stops: std::collections::VecDeque<Stop>,
    /// Threads that reported a breakpoint hit at their current pc, to step over it on resume.
    on_breakpoint: TidMap<u64>,
    /// The last hit went on quietly (fast breakpoint, false condition): no `Continued` event.
    quiet_resume: bool,
    /// The thread a [`Trace::stepi`] is stepping.
    stepping: Option<Tid>,
    /// The thread whose stop is being handled while the other threads still
    /// run (see [`Trace::ensure_all_stopped`]); `None` when every thread is stopped.
    lazy_stop: Option<Tid>,
    /// What happens at a fork.
    fork_policy: fork::ForkPolicy,
    /// Child processes kept after forks, not taken yet.
    kept: Vec<Trace>,
    /// The parent of a followed vfork child, stopped until the child stops sharing its memory.
    vfork_parent: Option<Box<Trace>>,
    /// The breakpoint bytes are out of memory while a vfork child shares it.
    vfork_bytes_out: bool,
    symbols: Option<SymbolResolver>,
    /// Libraries known to be loaded, once tracking is on (`None` before).
    libraries: Option<Vec<libraries::Library>>,
    /// Counts stops, so that derived views (symbols) know when to refresh.
    stops: u64,
    /// The value of `stops` when `symbols` was last brought up to date.
    symbols_at_stop: u64,
}

impl std::fmt::Debug for Trace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trace")
            .field("pid", &self.pid)
            .field("state", &self.state)
            .field("current_tid", &self.current_tid)
            .field("breakpoints", &self.breakpoints.len())
            .finish_non_exhaustive()
    }
}

impl std::fmt::Display for Trace {
    /// vtrace's one-line summary: `[pid] - program state`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match self.state {
            TraceState::Stopped => "stopped".to_string(),
            TraceState::Running => "running".to_string(),
            TraceState::Exited(status) => format!("exited ({status})"),
            TraceState::Detached => "detached".to_string(),
        };
        let exe = self.meta("ExeName").and_then(|v| v.as_str()).unwrap_or("unknown");
        write!(f, "[{}] - {exe} {state}", self.pid)
    }
}

impl Trace {
    /// A trace over any backend, stopped, with `Attached` as its first event.
    /// `spawned` says whether dropping the trace kills the process (true) or detaches from it.
    pub fn from_platform(platform: Box<dyn Platform>, spawned: bool) -> Trace {
        let arch = platform.arch();
        let pid = platform.pid();
        let mut trace = Trace {
            platform,
            arch,
            pid,
            state: TraceState::Stopped,
            spawned,
            current_tid: pid,
            registers: TidMap::default(),
            breakpoints: breakpoints::Breakpoints::default(),
            watchpoints: BTreeMap::new(),
            page_watches: BTreeMap::new(),
            scratch: displaced::Scratch::default(),
            pads: pads::Pads::default(),
            parking: parking::Parking::default(),
            debug_registers_used: false,
            page_steps: TidMap::default(),
            quiet_page_fault: false,
            modes: modes::Modes::default(),
            notifiers: notifiers::Notifiers::default(),
            auto_continue: [
                EventType::ThreadCreated,
                EventType::ThreadExited,
                EventType::LibraryLoaded,
                EventType::LibraryUnloaded,
                EventType::Forked,
                EventType::VforkDone,
            ]
            .into_iter()
            .collect(),
            ignored_signals: BTreeSet::new(),
            pending_signals: TidMap::default(),
            metadata: metadata::Metadata::default(),
            variables: HashMap::new(),
            run_again: false,
            last_event: None,
            deferred_stops: std::collections::VecDeque::new(),
            on_breakpoint: TidMap::default(),
            quiet_resume: false,
            stepping: None,
            lazy_stop: None,
            fork_policy: fork::ForkPolicy::default(),
            kept: Vec::new(),
            vfork_parent: None,
            vfork_bytes_out: false,
            symbols: None,
            libraries: None,
            stops: 0,
            symbols_at_stop: 0,
        };
        if let Some(&first) = trace.platform.threads().first() {
            trace.current_tid = first;
        }
        trace.set_meta("Architecture", arch.name);
        trace.set_meta("Platform", std::env::consts::OS);
        if let Some(exe) = trace.platform.exe_path() {
            trace.set_meta("ExeName", exe);
        }
        trace.last_event = Some(Event { pid, tid: trace.current_tid, kind: crate::event::EventKind::Attached });
        trace
    }

    /// The process id.
    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// The debuggee's architecture.
    pub fn arch(&self) -> &'static Arch {
        self.arch
    }

    /// Where the trace stands.
    pub fn state(&self) -> TraceState {
        self.state
    }

    /// True while the process runs after [`Trace::start`].
    pub fn is_running(&self) -> bool {
        self.state == TraceState::Running
    }

    /// True once the process has ended.
    pub fn has_exited(&self) -> bool {
        matches!(self.state, TraceState::Exited(_))
    }

    /// True while the trace is attached (stopped or running).
    pub fn is_attached(&self) -> bool {
        matches!(self.state, TraceState::Stopped | TraceState::Running)
    }

    /// How the process ended, once it has.
    pub fn exit_status(&self) -> Option<ExitStatus> {
        match self.state {
            TraceState::Exited(status) => Some(status),
            _ => None,
        }
    }

    /// The last event the trace reported (the `Attached` event right after spawn or attach).
    pub fn last_event(&self) -> Option<&Event> {
        self.last_event.as_ref()
    }

    /// The path of the debuggee's program, if known.
    pub fn exe_path(&self) -> Option<String> {
        self.meta("ExeName").and_then(|v| v.as_str()).map(str::to_owned)
    }

    /// The module of the program itself (not a library), once its image is mapped.
    pub fn program_module(&mut self) -> Result<crate::symbols::Module> {
        let exe = self.platform.exe_path();
        let symbols = self.symbols()?;
        symbols
            .modules()
            .iter()
            .find(|m| exe.as_deref() == Some(m.path.as_str()))
            .cloned()
            .ok_or_else(|| Error::NoSuchSymbol(format!("the program's image ({})", exe.unwrap_or_default())))
    }

    /// The debuggee's open file descriptors, with their kind and name.
    pub fn file_descriptors(&mut self) -> Result<Vec<crate::platform::FileDescriptor>> {
        self.platform.file_descriptors()
    }

    /// Fails unless every thread is stopped and the process is alive.
    pub(crate) fn require_stopped(&self) -> Result<()> {
        match self.state {
            TraceState::Stopped => Ok(()),
            TraceState::Running => Err(Error::Running { pid: self.pid }),
            TraceState::Exited(_) => Err(Error::ProcessExited { pid: self.pid }),
            TraceState::Detached => Err(Error::Detached { pid: self.pid }),
        }
    }
}
