//! [`TraceTarget`]: a [`Trace`] as gdbstub's target, and its base operations
//! (registers, memory, threads).
//!
//! Every request the client makes ends in an answer: a failure of the trace
//! (bad address, unknown thread, the process gone) becomes an `Exx` reply with
//! an errno, never a panic and never the end of the session. Only a failure to
//! run or wait for the process ends a session.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::OsString;
use std::num::NonZeroUsize;

use gdbstub::common::Tid as GdbTid;
use gdbstub::stub::MultiThreadStopReason;
use gdbstub::target::ext::base::multithread::{MultiThreadBase, MultiThreadResumeOps};
use gdbstub::target::ext::base::single_register_access::{SingleRegisterAccess, SingleRegisterAccessOps};
use gdbstub::target::ext::base::BaseOps;
use gdbstub::target::ext::breakpoints::WatchKind as GdbWatchKind;
use gdbstub::target::{Target, TargetError, TargetResult};
use oxtrace::{Error, RegValue, Tid, Trace};

use crate::policy::Policy;
use crate::registers::{GdbRegister, RegisterFile, RegisterNumber, Source, X86_64Linux, X86_64_REGISTERS};

/// A program and its arguments, to start again on `run` / `R`.
#[derive(Debug, Clone)]
pub struct Launch {
    /// The program.
    pub program: OsString,
    /// Its arguments.
    pub args: Vec<OsString>,
}

/// How one thread is to resume (from a `vCont` action).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    Continue,
    Step,
}

/// A trace served to a GDB remote client.
///
/// Build it with [`TraceTarget::new`] and hand it to [`crate::serve_connection`].
#[derive(Debug)]
pub struct TraceTarget {
    /// The trace. In a `RefCell` because gdbstub's `qXfer` handlers take `&self`.
    pub(crate) trace: RefCell<Trace>,
    /// Whether the process was started by the server (not attached to).
    pub(crate) spawned: bool,
    /// What `run` starts when the client names no program.
    pub(crate) launch: Option<Launch>,
    /// Software breakpoints the client set: address → trace breakpoint id.
    pub(crate) sw_breaks: HashMap<u64, u32>,
    /// Hardware breakpoints: address → trace watchpoint id.
    pub(crate) hw_breaks: HashMap<u64, u32>,
    /// Data watchpoints: trace watchpoint id → (address, length, the kind the client asked for).
    pub(crate) watches: HashMap<u32, (u64, u64, GdbWatchKind)>,
    /// The resume actions of the `vCont` being assembled.
    pub(crate) actions: Vec<(Tid, Action, Option<i32>)>,
    /// A stop already known (after a step) to report when the client waits.
    pub(crate) pending_stop: Option<MultiThreadStopReason<u64>>,
    /// The library list XML, built on first request after each stop.
    pub(crate) libraries_xml: RefCell<Option<Vec<u8>>>,
    /// Files the client opened through `vFile`.
    pub(crate) open_files: crate::host_io::OpenFiles,
    /// The files the client may open through `vFile`.
    pub(crate) file_access: crate::file_access::FileAccess,
    /// What the client may do beyond debugging the process served.
    pub(crate) policy: Policy,
    /// The identity (device, inode) of the executable of the process first served.
    pub(crate) served_exe: Option<(u64, u64)>,
}

impl TraceTarget {
    /// Serves `trace`. `spawned` says whether the server started the process;
    /// `launch` is what the client's `run` starts again (the same program, usually).
    pub fn new(trace: Trace, spawned: bool, launch: Option<Launch>) -> TraceTarget {
        let served_exe = crate::file_access::file_identity(std::path::Path::new(&format!("/proc/{}/exe", trace.pid())));
        TraceTarget {
            trace: RefCell::new(trace),
            spawned,
            launch,
            sw_breaks: HashMap::new(),
            hw_breaks: HashMap::new(),
            watches: HashMap::new(),
            actions: Vec::new(),
            pending_stop: None,
            libraries_xml: RefCell::new(None),
            open_files: Default::default(),
            file_access: Default::default(),
            policy: Policy::default(),
            served_exe,
        }
    }

    /// Sets the access policy (least privilege until then: see [`Policy`]).
    pub fn set_policy(&mut self, policy: Policy) {
        self.policy = policy;
    }

    /// Whether the process served now was started by the server (not attached to).
    pub fn spawned(&self) -> bool {
        self.spawned
    }

    /// The access policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The trace being served.
    pub fn trace_mut(&mut self) -> &mut Trace {
        self.trace.get_mut()
    }

    /// Gives the trace back.
    pub fn into_trace(self) -> Trace {
        self.trace.into_inner()
    }

    /// Forgets what belonged to the previous process (after `run` or `attach`).
    pub(crate) fn forget_process(&mut self) {
        self.sw_breaks.clear();
        self.hw_breaks.clear();
        self.watches.clear();
        self.actions.clear();
        self.pending_stop = None;
        *self.libraries_xml.get_mut() = None;
    }
}

/// The errno a failed request answers with (`Exx`).
pub(crate) fn errno(error: &Error) -> u8 {
    const EIO: u8 = 5;
    const ESRCH: u8 = 3;
    const EFAULT: u8 = 14;
    const EINVAL: u8 = 22;
    const EBUSY: u8 = 16;
    const ENOSPC: u8 = 28;
    match error {
        Error::Memory { .. } => EFAULT,
        Error::NoSuchThread { .. } | Error::NoSuchProcess { .. } | Error::ProcessExited { .. } => ESRCH,
        Error::Detached { .. } => ESRCH,
        Error::Running { .. } => EBUSY,
        Error::InvalidArgument(message) if message.contains("in use") => ENOSPC,
        Error::InvalidArgument(_) | Error::UnknownRegister { .. } | Error::DuplicateBreakpoint { .. } => EINVAL,
        _ => EIO,
    }
}

/// A trace error as a non-fatal reply.
pub(crate) fn reply_error(error: Error) -> TargetError<Error> {
    TargetError::Errno(errno(&error))
}

/// gdbstub's thread id before the client picked one with `Hg` (gdb always does; simple clients may not).
const UNSET_TID: usize = 1;

/// A protocol thread id as a trace thread id (`ESRCH` if it cannot be one).
/// gdbstub's placeholder before any `Hg` stands for the current thread.
pub(crate) fn trace_tid(trace: &Trace, tid: GdbTid) -> TargetResult<Tid, TraceTarget> {
    let id = Tid::try_from(tid.get()).map_err(|_| TargetError::Errno(3))?;
    if tid.get() == UNSET_TID && !trace.threads().contains(&id) {
        return Ok(trace.current_thread());
    }
    Ok(id)
}

/// A trace thread id as a protocol thread id (thread ids are positive; 1 stands in otherwise).
pub(crate) fn gdb_tid(tid: Tid) -> GdbTid {
    usize::try_from(tid).ok().and_then(NonZeroUsize::new).unwrap_or(NonZeroUsize::MIN)
}

/// A process id as a protocol process id.
pub(crate) fn gdb_pid(pid: oxtrace::Pid) -> TargetResult<gdbstub::common::Pid, TraceTarget> {
    usize::try_from(pid).ok().and_then(NonZeroUsize::new).ok_or(TargetError::Errno(3))
}

/// Copies `value` into `out`, zero-extended or truncated.
fn copy_resized(value: &[u8], out: &mut [u8]) {
    out.fill(0);
    let n = value.len().min(out.len());
    out[..n].copy_from_slice(&value[..n]);
}

/// Reads one gdb register of `tid` into `out` (of the register's size).
fn read_one(trace: &mut Trace, tid: Tid, reg: &GdbRegister, out: &mut [u8]) -> oxtrace::Result<()> {
    match reg.source {
        Source::Named => copy_resized(trace.thread_register(tid, reg.name)?.as_bytes(), out),
        Source::Fxsave { offset, len } => {
            // oxtrace names no register for these: take them from the FXSAVE image
            // (the first 512 bytes of the vector group).
            let context = trace.register_context(tid)?;
            let block = context.block(oxtrace::arch::RegisterGroup::Vector).unwrap_or(&[]);
            copy_resized(block.get(offset..offset + len).unwrap_or(&[]), out);
        }
    }
    Ok(())
}

/// Writes one gdb register of `tid` from `bytes`, if it changed. The x87
/// pointer registers are read-only here (oxtrace does not name them).
fn write_one(trace: &mut Trace, tid: Tid, reg: &GdbRegister, bytes: &[u8]) -> oxtrace::Result<()> {
    if reg.source != Source::Named {
        return Ok(());
    }
    let current = trace.thread_register(tid, reg.name)?;
    let mut wanted = vec![0u8; current.len()];
    copy_resized(bytes, &mut wanted);
    if wanted != current.as_bytes() {
        trace.set_thread_register(tid, reg.name, RegValue::from_bytes(&wanted)?)?;
    }
    Ok(())
}

impl Target for TraceTarget {
    type Arch = X86_64Linux;
    type Error = Error;

    fn base_ops(&mut self) -> BaseOps<'_, Self::Arch, Self::Error> {
        BaseOps::MultiThread(self)
    }

    fn support_breakpoints(&mut self) -> Option<gdbstub::target::ext::breakpoints::BreakpointsOps<'_, Self>> {
        Some(self)
    }

    fn support_extended_mode(&mut self) -> Option<gdbstub::target::ext::extended_mode::ExtendedModeOps<'_, Self>> {
        Some(self)
    }

    fn support_libraries_svr4(&mut self) -> Option<gdbstub::target::ext::libraries::LibrariesSvr4Ops<'_, Self>> {
        Some(self)
    }

    fn support_auxv(&mut self) -> Option<gdbstub::target::ext::auxv::AuxvOps<'_, Self>> {
        Some(self)
    }

    fn support_host_io(&mut self) -> Option<gdbstub::target::ext::host_io::HostIoOps<'_, Self>> {
        Some(self)
    }

    fn support_exec_file(&mut self) -> Option<gdbstub::target::ext::exec_file::ExecFileOps<'_, Self>> {
        Some(self)
    }

    // The trace keeps its own breakpoints in memory and steps over them.
    fn guard_rail_implicit_sw_breakpoints(&self) -> bool {
        true
    }
}

impl MultiThreadBase for TraceTarget {
    fn read_registers(&mut self, regs: &mut RegisterFile, tid: GdbTid) -> TargetResult<(), Self> {
        let trace = self.trace.get_mut();
        let tid = trace_tid(trace, tid)?;
        for (index, reg) in X86_64_REGISTERS.iter().enumerate() {
            read_one(trace, tid, reg, regs.register_mut(index)).map_err(reply_error)?;
        }
        Ok(())
    }

    fn write_registers(&mut self, regs: &RegisterFile, tid: GdbTid) -> TargetResult<(), Self> {
        let trace = self.trace.get_mut();
        let tid = trace_tid(trace, tid)?;
        for (index, reg) in X86_64_REGISTERS.iter().enumerate() {
            write_one(trace, tid, reg, regs.register(index)).map_err(reply_error)?;
        }
        Ok(())
    }

    fn support_single_register_access(&mut self) -> Option<SingleRegisterAccessOps<'_, GdbTid, Self>> {
        Some(self)
    }

    fn read_addrs(&mut self, start: u64, data: &mut [u8], _tid: GdbTid) -> TargetResult<usize, Self> {
        let trace = self.trace.get_mut();
        if data.is_empty() {
            return Ok(0);
        }
        if start.checked_add(data.len() as u64).is_none() {
            return Err(TargetError::Errno(14));
        }
        if trace.read_into(start, data).is_ok() {
            return Ok(data.len());
        }
        // Part of the range is unreadable: give what can be read, up to the first bad page.
        const PAGE: u64 = 4096;
        let mut done = 0usize;
        while done < data.len() {
            let at = start + done as u64;
            let chunk = ((PAGE - at % PAGE) as usize).min(data.len() - done);
            if trace.read_into(at, &mut data[done..done + chunk]).is_err() {
                break;
            }
            done += chunk;
        }
        if done == 0 {
            return Err(TargetError::Errno(14));
        }
        Ok(done)
    }

    fn write_addrs(&mut self, start: u64, data: &[u8], _tid: GdbTid) -> TargetResult<(), Self> {
        if start.checked_add(data.len() as u64).is_none() {
            return Err(TargetError::Errno(14));
        }
        self.trace.get_mut().write_memory(start, data).map_err(reply_error)
    }

    fn list_active_threads(&mut self, thread_is_active: &mut dyn FnMut(GdbTid)) -> Result<(), Self::Error> {
        let trace = self.trace.get_mut();
        if trace.is_attached() {
            for tid in trace.threads() {
                thread_is_active(gdb_tid(tid));
            }
        }
        Ok(())
    }

    fn support_resume(&mut self) -> Option<MultiThreadResumeOps<'_, Self>> {
        Some(self)
    }
}

impl SingleRegisterAccess<GdbTid> for TraceTarget {
    fn read_register(&mut self, tid: GdbTid, reg: RegisterNumber, buf: &mut [u8]) -> TargetResult<usize, Self> {
        let trace = self.trace.get_mut();
        let tid = trace_tid(trace, tid)?;
        let def = X86_64_REGISTERS.get(reg.0).ok_or(TargetError::Errno(22))?;
        let out = buf.get_mut(..def.size).ok_or(TargetError::Errno(22))?;
        read_one(trace, tid, def, out).map_err(reply_error)?;
        Ok(def.size)
    }

    fn write_register(&mut self, tid: GdbTid, reg: RegisterNumber, val: &[u8]) -> TargetResult<(), Self> {
        let trace = self.trace.get_mut();
        let tid = trace_tid(trace, tid)?;
        let def = X86_64_REGISTERS.get(reg.0).ok_or(TargetError::Errno(22))?;
        write_one(trace, tid, def, val).map_err(reply_error)
    }
}
