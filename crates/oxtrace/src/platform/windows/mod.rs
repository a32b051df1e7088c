//! The Windows backend: the Win32 debug API (x86_64 programs).
//!
//! # Threading
//!
//! Windows delivers a process's debug events to the thread that started or
//! attached to it, and only that thread may continue them: a
//! [`WindowsProcess`] (and a [`Trace`](crate::Trace) on it) stays on the thread
//! that created it. Its [`Interrupter`] may be used from any thread.
//!
//! # All-stop
//!
//! While the debugger holds a debug event, every thread of the process is
//! frozen by the system: each event is an all-stop stop. A resume that lists
//! only some threads suspends the others (`SuspendThread`) before the event is
//! continued, and lets them go at the next resume that lists them.
//!
//! # Events
//!
//! * `CREATE_PROCESS` and the loader's first breakpoint make the spawn (or
//!   attach) stop; libraries loaded before it are reported at the first run.
//! * `CREATE_THREAD`, `EXIT_THREAD`, `EXIT_PROCESS`: thread and process events.
//! * `LOAD_DLL`, `UNLOAD_DLL`: library events, the path from the file handle.
//! * `OUTPUT_DEBUG_STRING`: [`StopReason::DebugString`]; `RIP`: [`StopReason::DebugError`].
//! * Exceptions: a breakpoint instruction, a single step, a hardware
//!   breakpoint (by DR6); an `interrupt`'s breakpoint; anything else is a
//!   signal-like stop ([`crate::signals`] gives the numbers, and
//!   [`SignalInfo::exception`](crate::SignalInfo::exception) the exception).
//!   A signal the trace delivers on resume continues the event with
//!   `DBG_EXCEPTION_NOT_HANDLED` (the program's handlers see it); otherwise it
//!   is `DBG_CONTINUE` (the faulting instruction runs again).
//!
//! # Lifetime
//!
//! `DebugSetProcessKillOnExit` follows the project's rule: a spawned process
//! dies with its tracer, an attached one is released. (The setting belongs to
//! the tracer's thread: a thread that spawns one process and attaches to
//! another keeps the last setting.)

mod command_line;
mod context;
mod events;
mod hardware;
mod inject;
mod interrupt;
mod memory;
#[allow(unsafe_code)]
mod sys;

use std::collections::{BTreeMap, VecDeque};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use events::Decoded;
use sys::Handle;

use crate::arch::{x86_64::X86_64, Arch, CallingConvention, RegisterGroup};
use crate::error::{Error, Pid, Result, Tid};
use crate::event::ExitStatus;
use crate::memory::{MemoryMap, Perms};
use crate::platform::{Interrupter, Platform, ResumeAction, ResumeKind, Stop, StopReason};

/// The trap flag of EFLAGS (single step).
const TRAP_FLAG: u32 = 1 << 8;

/// What the backend knows of one thread.
#[derive(Debug, Clone)]
struct ThreadInfo {
    /// The handle the debug event gave (the system closes it).
    handle: Handle,
    /// Its thread environment block.
    teb: u64,
    /// Suspended by us, for a resume that did not list it.
    suspended: bool,
    /// Stopped by an instruction breakpoint in the debug registers: it would
    /// fire again at once when resumed. (The resume flag would prevent that,
    /// but wine does not keep it.)
    on_hardware_break: bool,
}

impl ThreadInfo {
    fn new(handle: Handle, teb: u64) -> Self {
        Self { handle, teb, suspended: false, on_hardware_break: false }
    }
}

/// The debug event the process stands in, not continued yet.
#[derive(Debug, Clone, Copy)]
struct Held {
    tid: u32,
}

/// A process debugged through the Win32 debug API. See the module docs.
#[derive(Debug)]
pub struct WindowsProcess {
    pid: Pid,
    process: Option<Handle>,
    threads: BTreeMap<Tid, ThreadInfo>,
    main_tid: Tid,
    held: Option<Held>,
    /// Stops collected but not reported yet.
    pending: VecDeque<Stop>,
    /// Loaded libraries by base address.
    libraries: BTreeMap<u64, String>,
    exe_path: Option<String>,
    image_base: u64,
    entry: u64,
    spawned: bool,
    gone: bool,
    interrupt: Arc<interrupt::Shared>,
    /// Breakpoints the backend raised itself (to stop a running process), to absorb.
    own_breaks: u32,
    /// A break-in is under way: its breakpoint leaves the process stopped.
    breaking_in: bool,
    /// The last resume left some threads suspended (a step of one thread).
    solo: bool,
    /// Threads created during a solo resume, kept suspended, and stops of
    /// threads it left suspended: reported after its stop.
    created_meanwhile: Vec<Stop>,
}

impl WindowsProcess {
    fn new(pid: u32, spawned: bool) -> Self {
        Self {
            pid: pid as Pid,
            process: None,
            threads: BTreeMap::new(),
            main_tid: 0,
            held: None,
            pending: VecDeque::new(),
            libraries: BTreeMap::new(),
            exe_path: None,
            image_base: 0,
            entry: 0,
            spawned,
            gone: false,
            interrupt: Arc::default(),
            own_breaks: 0,
            breaking_in: false,
            solo: false,
            created_meanwhile: Vec::new(),
        }
    }

    /// Starts `command` under the debugger, stopped at the loader's breakpoint.
    /// The program, its arguments (quoted the Windows way), environment
    /// changes and working directory are taken from the command; its stdio is inherited.
    pub fn spawn(command: &Command) -> Result<WindowsProcess> {
        let program = command.get_program().to_string_lossy().into_owned();
        let mut line: Vec<u16> = command_line::command_line(command).encode_utf16().chain([0]).collect();
        let environment = command_line::environment_block(command);
        let directory = command.get_current_dir().map(|d| command_line::wide(d.as_os_str()));
        let application = command_line::wide(command.get_program());
        let (pid, _tid) = sys::create_process(&application, &mut line, environment.as_deref(), directory.as_deref())
            .map_err(|e| Error::Spawn { program, source: e })?;
        sys::kill_on_exit(true).map_err(|e| Error::Os {
            op: "DebugSetProcessKillOnExit",
            pid: pid as Pid,
            tid: 0,
            source: e,
        })?;
        let mut process = WindowsProcess::new(pid, true);
        process.until_loader_break()?;
        Ok(process)
    }

    /// Attaches to the running process `pid` and stops it.
    pub fn attach(pid: Pid) -> Result<WindowsProcess> {
        sys::debug_active_process(pid as u32).map_err(|e| Error::Os {
            op: "DebugActiveProcess",
            pid,
            tid: 0,
            source: e,
        })?;
        sys::kill_on_exit(false).map_err(|e| Error::Os { op: "DebugSetProcessKillOnExit", pid, tid: 0, source: e })?;
        let mut process = WindowsProcess::new(pid as u32, false);
        process.until_loader_break()?;
        Ok(process)
    }

    /// Whether this process was spawned by the trace (rather than attached to).
    pub fn was_spawned(&self) -> bool {
        self.spawned
    }

    fn os_error(&self, op: &'static str, source: std::io::Error) -> Error {
        if self.gone {
            return Error::ProcessExited { pid: self.pid };
        }
        Error::Os { op, pid: self.pid, tid: 0, source }
    }

    fn process(&self) -> Result<Handle> {
        match self.process {
            Some(handle) if !self.gone => Ok(handle),
            _ => Err(Error::ProcessExited { pid: self.pid }),
        }
    }

    fn thread(&self, tid: Tid) -> Result<&ThreadInfo> {
        if self.gone {
            return Err(Error::ProcessExited { pid: self.pid });
        }
        if self.held.is_none() {
            return Err(Error::Running { pid: self.pid });
        }
        self.threads.get(&tid).ok_or(Error::NoSuchThread { pid: self.pid, tid })
    }

    /// Takes the events of a new debuggee up to the loader's breakpoint (or,
    /// when attaching, the breakpoint of the thread the system starts to stop it).
    fn until_loader_break(&mut self) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let Some(event) = self.next_event(Some(deadline))? else {
                return Err(Error::InvalidArgument(format!("process {} never reached its first stop", self.pid)));
            };
            self.hold(event.tid);
            if let sys::DebugEvent::Exception { code, .. } = event.event {
                if code == events::BREAKPOINT || code == events::WX86_BREAKPOINT {
                    return Ok(());
                }
            }
            match self.decode(event)? {
                // Libraries before the first stop are reported at the first run.
                Decoded::Stop(stop @ Stop { reason: StopReason::LibraryLoaded { .. }, .. }) => {
                    self.pending.push_back(stop)
                }
                Decoded::Stop(Stop { reason: StopReason::Exited(status), .. }) => {
                    return Err(Error::InvalidArgument(format!(
                        "process {} ended ({status}) before its first stop",
                        self.pid
                    )))
                }
                _ => {}
            }
            self.continue_held(true)?;
        }
    }

    /// The next debug event of this process, from the mailbox or the system.
    fn next_event(&mut self, deadline: Option<Instant>) -> Result<Option<sys::RawEvent>> {
        if let Some(event) = events::take_mailed(self.pid as u32) {
            return Ok(Some(event));
        }
        loop {
            let millis = match deadline {
                None => u32::MAX,
                Some(d) => d.saturating_duration_since(Instant::now()).as_millis().min(u32::MAX as u128 - 1) as u32,
            };
            match sys::wait_event(millis) {
                Ok(Some(event)) if event.pid == self.pid as u32 => return Ok(Some(event)),
                Ok(Some(event)) => events::mail(event),
                Ok(None) => return Ok(None),
                Err(e) => return Err(self.os_error("WaitForDebugEvent", e)),
            }
        }
    }

    /// The process stands in an event of thread `tid`.
    fn hold(&mut self, tid: u32) {
        self.held = Some(Held { tid });
        self.interrupt.set_running(false);
    }

    /// Continues the held event: `handled` unless an exception goes to the program.
    fn continue_held(&mut self, handled: bool) -> Result<()> {
        if let Some(held) = self.held.take() {
            self.interrupt.set_running(true);
            sys::continue_event(self.pid as u32, held.tid, handled)
                .map_err(|e| self.os_error("ContinueDebugEvent", e))?;
        }
        Ok(())
    }

    /// Suspends thread `tid` unless we hold it suspended already; true when
    /// this call suspended it (an unknown thread is left alone).
    fn suspend_thread(&mut self, tid: Tid) -> Result<bool> {
        let Some(info) = self.threads.get_mut(&tid) else { return Ok(false) };
        if info.suspended {
            return Ok(false);
        }
        sys::suspend(info.handle).map_err(|e| Error::Os { op: "SuspendThread", pid: self.pid, tid, source: e })?;
        info.suspended = true;
        Ok(true)
    }

    /// Resumes thread `tid` if we hold it suspended.
    fn unsuspend_thread(&mut self, tid: Tid) -> Result<()> {
        let Some(info) = self.threads.get_mut(&tid) else { return Ok(()) };
        if std::mem::take(&mut info.suspended) {
            sys::resume(info.handle).map_err(|e| Error::Os { op: "ResumeThread", pid: self.pid, tid, source: e })?;
        }
        Ok(())
    }

    /// Sets or clears a flag of a stopped thread's EFLAGS.
    fn set_eflag(&mut self, tid: Tid, flag: u32, on: bool) -> Result<()> {
        let handle = self.thread(tid)?.handle;
        let mut ctx = sys::get_context(handle).map_err(|e| self.os_error("GetThreadContext", e))?;
        let flags = if on { ctx.0.EFlags | flag } else { ctx.0.EFlags & !flag };
        if flags != ctx.0.EFlags {
            ctx.0.EFlags = flags;
            sys::set_context(handle, &ctx).map_err(|e| self.os_error("SetThreadContext", e))?;
        }
        Ok(())
    }

    /// Stops a running process: a breakpoint the system raises in a new
    /// thread, absorbed. Events that come first stop it instead: they are
    /// kept to be reported, and their thread is held (suspended) where it is.
    fn break_in(&mut self) -> Result<()> {
        if self.held.is_some() || self.gone {
            return Ok(());
        }
        sys::debug_break(self.process()?).map_err(|e| self.os_error("DebugBreakProcess", e))?;
        self.own_breaks += 1;
        self.breaking_in = true;
        let outcome = self.wait_event(None);
        self.breaking_in = false;
        if let Some(stop) = outcome? {
            self.pending.push_back(stop);
        }
        Ok(())
    }

    /// Waits for the next event and decodes it; events that are the backend's
    /// own business are continued here. `None`: the time ran out, or the
    /// backend's own break-in stopped the process.
    fn wait_event(&mut self, deadline: Option<Instant>) -> Result<Option<Stop>> {
        loop {
            let Some(event) = self.next_event(deadline)? else { return Ok(None) };
            self.hold(event.tid);
            match self.decode(event)? {
                Decoded::Stop(Stop { tid, reason: StopReason::ThreadCreated { new_tid } }) if self.solo => {
                    // Not one of the threads this resume lets run: it waits, suspended.
                    self.suspend_thread(new_tid)?;
                    self.created_meanwhile.push(Stop { tid, reason: StopReason::ThreadCreated { new_tid } });
                    self.continue_held(true)?;
                }
                Decoded::Stop(stop) if self.solo && self.threads.get(&stop.tid).is_some_and(|t| t.suspended) => {
                    // A stop of a thread this resume did not let run, queued by
                    // the system before: a breakpoint hit is taken back (the
                    // thread hits it again when it runs), anything else waits
                    // for the stop of the threads that run.
                    let taken_back = match stop.reason {
                        StopReason::SoftwareBreak => {
                            self.set_thread_pc(stop.tid, self.thread_pc(stop.tid)? - 1).map(|()| true)?
                        }
                        StopReason::HardwareBreak => self.drop_instruction_break(stop.tid)?,
                        _ => false,
                    };
                    if !taken_back {
                        self.created_meanwhile.push(stop);
                    }
                    self.continue_held(true)?;
                }
                Decoded::Stop(stop) => {
                    self.solo = false;
                    self.pending.extend(self.created_meanwhile.drain(..));
                    return Ok(Some(stop));
                }
                Decoded::Absorbed => self.continue_held(true)?,
                Decoded::Halted => return Ok(None),
            }
        }
    }

    /// The process died under us: its remaining events up to its end are taken.
    fn reap(&mut self) -> Result<ExitStatus> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            self.continue_held(true)?;
            let Some(event) = self.next_event(Some(deadline))? else {
                return Err(Error::InvalidArgument(format!("process {} did not end", self.pid)));
            };
            self.hold(event.tid);
            if let sys::DebugEvent::ExitProcess { code } = event.event {
                self.continue_held(true)?;
                self.gone = true;
                self.threads.clear();
                return Ok(ExitStatus::Code(code as i32));
            }
        }
    }

    fn detach_all(&mut self, signal: Option<(Tid, i32)>) -> Result<()> {
        if self.gone {
            return Ok(());
        }
        self.break_in()?;
        let tids: Vec<Tid> = self.threads.keys().copied().collect();
        for tid in tids {
            let info = self.threads[&tid].clone();
            if info.suspended {
                let _ = sys::resume(info.handle);
            }
            if let Some(t) = self.threads.get_mut(&tid) {
                t.suspended = false;
            }
            let _ = self.set_eflag(tid, TRAP_FLAG, false);
        }
        let held_tid = self.held.map(|h| h.tid as Tid);
        let deliver = signal.is_some_and(|(tid, _)| Some(tid) == held_tid);
        self.continue_held(!deliver)?;
        sys::debug_active_process_stop(self.pid as u32).map_err(|e| self.os_error("DebugActiveProcessStop", e))?;
        self.gone = true;
        self.threads.clear();
        Ok(())
    }

    fn kill_and_reap(&mut self) -> Result<ExitStatus> {
        if self.gone {
            return Err(Error::ProcessExited { pid: self.pid });
        }
        let process = self.process()?;
        sys::terminate(process, 1).map_err(|e| self.os_error("TerminateProcess", e))?;
        for info in self.threads.values_mut() {
            if std::mem::take(&mut info.suspended) {
                let _ = sys::resume(info.handle);
            }
        }
        self.pending.clear();
        self.reap()?;
        Ok(ExitStatus::Signaled { signal: crate::signals::SIGKILL, core_dumped: false })
    }
}

impl Platform for WindowsProcess {
    fn arch(&self) -> &'static Arch {
        &X86_64
    }

    fn pid(&self) -> Pid {
        self.pid
    }

    fn threads(&self) -> Vec<Tid> {
        let mut tids: Vec<Tid> = self.threads.keys().copied().collect();
        if let Some(i) = tids.iter().position(|&t| t == self.main_tid) {
            tids.remove(i);
            tids.insert(0, self.main_tid);
        }
        tids
    }

    fn has_thread(&self, tid: Tid) -> bool {
        self.threads.contains_key(&tid)
    }

    fn resume(&mut self, actions: &[ResumeAction]) -> Result<bool> {
        if !self.pending.is_empty() {
            return Ok(false);
        }
        if self.gone {
            return Err(Error::ProcessExited { pid: self.pid });
        }
        let Some(held) = self.held else {
            return Ok(true); // already running
        };
        if self.interrupt.take_request() {
            // Interrupted while stopped: that is the next stop, and nothing runs.
            let tid = if self.threads.contains_key(&(held.tid as Tid)) { held.tid as Tid } else { self.main_tid };
            self.pending.push_back(Stop { tid, reason: StopReason::Interrupted });
            return Ok(false);
        }
        for action in actions {
            if !self.threads.contains_key(&action.tid) {
                return Err(Error::NoSuchThread { pid: self.pid, tid: action.tid });
            }
            if action.kind == ResumeKind::Syscall {
                return Err(Error::Unsupported("system call stops on Windows"));
            }
        }
        // A thread on an instruction breakpoint of the debug registers steps past it first.
        let on_break = actions.iter().find(|a| a.tid == held.tid as Tid && self.threads[&a.tid].on_hardware_break);
        if let Some(&action) = on_break {
            let stepped = self.step_past_hardware_break(action.tid, action.signal.is_none())?;
            if !stepped || !self.pending.is_empty() {
                // Stops came meanwhile: they are reported first, with the process stopped.
                return Ok(false);
            }
            if action.kind == ResumeKind::Step {
                self.pending.push_back(Stop { tid: action.tid, reason: StopReason::Step });
                return Ok(false);
            }
        }
        let tids: Vec<Tid> = self.threads.keys().copied().collect();
        for tid in tids {
            match actions.iter().find(|a| a.tid == tid) {
                Some(action) => {
                    if action.kind == ResumeKind::Step {
                        self.set_eflag(tid, TRAP_FLAG, true)?;
                    }
                    self.threads.get_mut(&tid).expect("listed").on_hardware_break = false;
                    self.unsuspend_thread(tid)?;
                }
                None => {
                    self.suspend_thread(tid)?;
                }
            }
        }
        let held_tid = self.held.map(|h| h.tid as Tid);
        let deliver = actions.iter().any(|a| Some(a.tid) == held_tid && a.signal.is_some());
        self.solo = self.threads.values().any(|t| t.suspended);
        self.continue_held(!deliver)?;
        Ok(true)
    }

    fn wait(&mut self, timeout: Option<Duration>) -> Result<Option<Stop>> {
        if let Some(stop) = self.pending.pop_front() {
            return Ok(Some(stop));
        }
        if self.gone {
            return Err(Error::ProcessExited { pid: self.pid });
        }
        if self.held.is_some() {
            // Stopped: nothing can happen until a resume.
            return Ok(None);
        }
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            match self.wait_event(deadline)? {
                Some(stop) => return Ok(Some(stop)),
                None if deadline.is_some_and(|d| Instant::now() >= d) => return Ok(None),
                None if self.held.is_some() => return Ok(None),
                None => {}
            }
        }
    }

    fn is_dying(&self) -> bool {
        self.gone
    }

    fn stop_all(&mut self) -> Result<()> {
        self.break_in()
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
        let info = self.thread(tid)?.clone();
        let ctx = sys::get_context(info.handle).map_err(|e| Error::Os {
            op: "GetThreadContext",
            pid: self.pid,
            tid,
            source: e,
        })?;
        context::read_group(&ctx, info.teb, group, buf);
        Ok(())
    }

    fn write_registers(&mut self, tid: Tid, group: RegisterGroup, buf: &[u8]) -> Result<()> {
        let handle = self.thread(tid)?.handle;
        let os = |op, e| Error::Os { op, pid: self.pid, tid, source: e };
        let mut ctx = sys::get_context(handle).map_err(|e| os("GetThreadContext", e))?;
        if context::loses_avx(&ctx, group, buf) {
            return Err(Error::Unsupported(
                "writing the AVX upper halves of ymm0-15 without CONTEXT_XSTATE from the system",
            ));
        }
        context::write_group(&mut ctx, group, buf);
        sys::set_context(handle, &ctx).map_err(|e| os("SetThreadContext", e))
    }

    fn classify_trap(&mut self, tid: Tid) -> Result<StopReason> {
        let handle = self.thread(tid)?.handle;
        let ctx = sys::get_context(handle).map_err(|e| self.os_error("GetThreadContext", e))?;
        Ok(if ctx.0.Dr6 & 0xf != 0 { StopReason::HardwareBreak } else { StopReason::Step })
    }

    fn detach(&mut self, signal: Option<(Tid, i32)>) -> Result<()> {
        self.detach_all(signal)
    }

    fn kill(&mut self) -> Result<ExitStatus> {
        self.kill_and_reap()
    }

    fn interrupter(&self) -> Interrupter {
        Interrupter::new(Arc::new(interrupt::WindowsInterrupter::new(self.pid as u32, self.interrupt.clone())))
    }

    fn exe_path(&mut self) -> Option<String> {
        self.exe_path.clone()
    }

    fn calling_convention(&self) -> CallingConvention {
        CallingConvention::Microsoft64
    }

    fn entry_point(&mut self) -> Option<u64> {
        (self.entry != 0).then_some(self.entry)
    }

    fn allocate_memory(&mut self, size: u64, perms: Perms, hint: Option<u64>) -> Option<Result<u64>> {
        Some(self.allocate(size, perms, hint))
    }

    fn protect_memory(&mut self, addr: u64, size: u64, perms: Perms) -> Option<Result<()>> {
        Some(self.protect(addr, size, perms))
    }

    fn free_memory(&mut self, addr: u64, _size: u64) -> Option<Result<()>> {
        Some(self.free(addr))
    }

    fn inject_library(&mut self, path: &str) -> Option<Result<u64>> {
        Some(self.load_library(path))
    }

    fn thread_block(&mut self, tid: Tid) -> Result<u64> {
        Ok(self.thread(tid)?.teb)
    }
}

impl Drop for WindowsProcess {
    fn drop(&mut self) {
        if self.gone {
            return;
        }
        // The Trace above normally detaches or kills first; this is the last guard.
        if self.spawned {
            let _ = self.kill_and_reap();
        } else {
            let _ = self.detach_all(None);
        }
    }
}
