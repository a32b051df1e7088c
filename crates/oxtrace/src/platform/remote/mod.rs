//! A backend over the GDB Remote Serial Protocol: any stub (gdbserver,
//! `qemu-user -g`, `qemu-system -s`, `oxdb serve`) drives a [`Trace`] like a
//! local process, with breakpoints, stepping, modes, notifiers, symbols from
//! the local files and stacks all coming from `trace` above [`Platform`].
//!
//! [`Trace::connect`] connects, negotiates (`qSupported`, `QStartNoAckMode`),
//! reads the stop the stub is in (`?`), the thread list and the register
//! layout (the target description). Then:
//!
//! * registers: `Hg` + `g`/`G` in the stub's layout, mapped by name onto
//!   oxtrace's register blocks (the general and vector groups of the [`Arch`]);
//! * memory: `m`/`M` in pieces that fit the stub's packet size; the maps are
//!   `/proc/PID/maps` read through the stub's file access (`vFile`); without
//!   it (qemu), the segments of the program named to [`Trace::connect_with_program`]
//!   (symbols then come from the program alone);
//! * breakpoints: `Z0` where the stub has it (a system emulator's stub must
//!   see them, qemu-user's writes no code), the break instruction written into
//!   memory otherwise; hardware watchpoints: the trace's debug-register writes
//!   become `Z1`-`Z4`/`z` requests (the `debug` module), and a `watch` stop sets DR6;
//! * run control: `vCont` with per-thread continue, step and signals; the
//!   interrupter sends `0x03`; a stop is all-stop, as the trait wants.
//!
//! The caller must keep the trace on one thread (the connection is not shared)
//! and knows that what the protocol does not carry is missing: threads are
//! reported created when first seen at a stop (the thread list is read again
//! at each stop, and the new ones come first), thread exits are not reported,
//! and there are no system call stops and no signal given to detach. The
//! architecture is the one the target description names: x86_64, i386 (a
//! 32-bit program: its 32-bit registers land in the i386 table's slots of the
//! 64-bit blocks) or aarch64 (others are refused); a stub without a
//! description is taken to be x86_64.

mod connection;
mod debug;
mod files;
pub mod packet;
mod program;
pub mod signals;
pub mod stop;
pub mod tdesc;

use std::collections::HashMap;
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use connection::Connection;
use stop::{StopReply, ThreadId, Trigger};
use tdesc::Layout;

use crate::arch::{x86_64::X86_64, Arch, RegisterGroup};
use crate::error::{Error, Pid, Result, Tid};
use crate::event::{ExitStatus, SignalInfo};
use crate::memory::MemoryMap;
use crate::platform::{InterruptSource, Interrupter, Platform, ResumeAction, ResumeKind, Stop, StopReason};
use crate::signals::{SIGBUS, SIGFPE, SIGILL, SIGSEGV, SIGTRAP};
use crate::Trace;

/// The most bytes one `m`/`M` request carries when the stub gives no packet size.
const DEFAULT_PACKET_SIZE: usize = 4096;

/// gdb's number for SIGTRAP, SIGINT and SIGSTOP.
const GDB_SIGTRAP: u8 = 5;
const GDB_SIGINT: u8 = 2;
const GDB_SIGSTOP: u8 = 17;

impl Trace {
    /// Connects to a GDB remote protocol stub at `addr` (`host:port`) and
    /// traces the process it holds, stopped where the stub has it. Dropping
    /// the trace detaches (the stub decides what then happens to the process).
    pub fn connect(addr: &str) -> Result<Trace> {
        let process = RemoteProcess::connect(addr, None)?;
        Ok(Trace::from_platform(Box::new(process), false))
    }

    /// [`Trace::connect`], naming the program the stub runs (a local path).
    /// For stubs that cannot show the process's maps or program (qemu's), the
    /// maps are made up from this file, so that its symbols are found.
    pub fn connect_with_program(addr: &str, program: &str) -> Result<Trace> {
        let process = RemoteProcess::connect(addr, Some(program.to_owned()))?;
        Ok(Trace::from_platform(Box::new(process), false))
    }
}

/// A process behind a GDB remote protocol stub. See the module docs.
#[derive(Debug)]
pub struct RemoteProcess {
    conn: Connection,
    pid: Pid,
    multiprocess: bool,
    packet_size: usize,
    layout: Layout,
    /// The architecture the layout names.
    arch: &'static Arch,
    threads: Vec<Tid>,
    /// The thread `Hg` last selected.
    selected: Option<Tid>,
    /// `g` images read since the last stop.
    images: HashMap<Tid, Vec<u8>>,
    running: Arc<AtomicBool>,
    interrupted: Arc<AtomicBool>,
    /// The thread a step was asked of (its trap is the step).
    stepping: Option<Tid>,
    /// What the last stop said beyond its signal.
    last_trigger: Option<Trigger>,
    /// Stops to report before anything runs again: an interrupt asked while
    /// stopped, or threads found new at a stop (before the stop itself).
    pending: std::collections::VecDeque<Stop>,
    /// The process has ended.
    gone: bool,
    debug: debug::DebugRegisters,
    /// Whether the stub reads files for us (`vFile`), once tried.
    files: Option<bool>,
    interrupter: Interrupter,
    /// The program's local path, as given to `connect`.
    program: Option<String>,
    /// Breakpoints placed with `Z0`.
    z0: std::collections::BTreeSet<u64>,
    /// Whether the stub takes `Z0`, once tried.
    z0_supported: Option<bool>,
}

/// Sends `0x03` on the connection: the stub stops the process.
#[derive(Debug)]
struct RemoteInterrupter {
    stream: Mutex<TcpStream>,
    running: Arc<AtomicBool>,
    flag: Arc<AtomicBool>,
    addr: String,
}

impl InterruptSource for RemoteInterrupter {
    fn interrupt(&self) -> Result<()> {
        use std::io::Write;
        self.flag.store(true, Ordering::SeqCst);
        if !self.running.load(Ordering::SeqCst) {
            // Stopped: the next resume reports the interruption at once.
            return Ok(());
        }
        let mut stream = self.stream.lock().unwrap_or_else(|e| e.into_inner());
        stream.write_all(&[0x03]).map_err(|e| Error::Remote { addr: self.addr.clone(), what: e.to_string() })
    }
}

impl RemoteProcess {
    /// Connects and reads the stub's state; see the module docs. `program`
    /// is the local path of the program the stub runs, if known.
    pub fn connect(addr: &str, program: Option<String>) -> Result<RemoteProcess> {
        let mut conn = Connection::connect(addr)?;
        // A stub may send a `+` first; nothing else is expected before our first packet.
        let features = conn.request("qSupported:multiprocess+;swbreak+;hwbreak+;vContSupported+;xmlRegisters=i386")?;
        let features = String::from_utf8_lossy(&features).into_owned();
        let has = |name: &str| features.split(';').any(|f| f == format!("{name}+"));
        let packet_size = features
            .split(';')
            .find_map(|f| f.strip_prefix("PacketSize="))
            .and_then(|v| packet::parse_hex_u64(v.as_bytes()))
            .map_or(DEFAULT_PACKET_SIZE, |v| (v as usize).clamp(64, 1 << 20));
        if has("QStartNoAckMode") && conn.request("QStartNoAckMode")? == b"OK" {
            conn.no_ack = true;
        }
        let multiprocess = has("multiprocess");
        let first = conn.request("?")?;
        let first_thread = match stop::parse(&first) {
            Some(StopReply::Stopped { thread, .. }) => thread,
            Some(StopReply::Exited(_) | StopReply::Killed(_)) => {
                return Err(conn.error("the stub's process has already ended"));
            }
            _ => return Err(conn.error(format!("? answered {}", String::from_utf8_lossy(&first)))),
        };
        let current = stop::parse_thread_id(conn.request("qC")?.strip_prefix(b"QC").unwrap_or(b"")).or(first_thread);
        let pid = match current {
            Some(ThreadId { pid: Some(pid), .. }) if pid > 0 => pid,
            Some(ThreadId { tid, .. }) if tid > 0 => tid,
            _ => return Err(conn.error("the stub names no process or thread")),
        };
        let pid = Pid::try_from(pid).map_err(|_| conn.error(format!("process id {pid:#x} is out of range")))?;
        // After `?`: gdbserver describes the registers of its current thread, and has none before.
        let layout = if has("qXfer:features:read") { read_layout(&mut conn)? } else { tdesc::amd64_default() };
        let arch = if layout.architecture.is_empty() {
            &X86_64
        } else {
            crate::arch::by_gdb_name(&layout.architecture).ok_or_else(|| {
                conn.error(format!(
                    "the stub's architecture is {}; only x86_64, i386 and aarch64 are supported",
                    layout.architecture
                ))
            })?
        };
        let running = Arc::new(AtomicBool::new(false));
        let interrupted = Arc::new(AtomicBool::new(false));
        let interrupter = Interrupter::new(Arc::new(RemoteInterrupter {
            stream: Mutex::new(conn.clone_stream()?),
            running: running.clone(),
            flag: interrupted.clone(),
            addr: addr.to_owned(),
        }));
        let mut process = RemoteProcess {
            conn,
            pid,
            multiprocess,
            packet_size,
            layout,
            arch,
            threads: Vec::new(),
            selected: None,
            images: HashMap::new(),
            running,
            interrupted,
            stepping: None,
            last_trigger: None,
            pending: Default::default(),
            gone: false,
            debug: debug::DebugRegisters::default(),
            files: None,
            interrupter,
            program,
            z0: Default::default(),
            z0_supported: None,
        };
        process.refresh_threads()?;
        Ok(process)
    }
}

/// The thread a stop reply names, when it names one in range.
fn thread_tid(thread: Option<ThreadId>) -> Option<Tid> {
    thread.and_then(|t| Tid::try_from(t.tid).ok())
}

/// Whether a reply is `Exx` (which is also valid hex, so it must be told apart).
fn is_error_reply(reply: &[u8]) -> bool {
    reply.len() == 3 && reply[0] == b'E'
}

/// Reads the target description and the files it includes.
fn read_layout(conn: &mut Connection) -> Result<Layout> {
    let top = conn.read_xfer("features", "target.xml", 0x800)?;
    let top = String::from_utf8_lossy(&top).into_owned();
    let mut layout = Layout::default();
    tdesc::scan(&top, &mut layout);
    for include in tdesc::includes(&top).iter().take(32) {
        let part = conn.read_xfer("features", include, 0x800)?;
        tdesc::scan(&String::from_utf8_lossy(&part), &mut layout);
    }
    tdesc::finish(&mut layout);
    if layout.registers.is_empty() {
        return Ok(tdesc::amd64_default());
    }
    Ok(layout)
}

impl RemoteProcess {
    /// A thread id as the stub wants it.
    fn thread_id(&self, tid: Tid) -> String {
        if self.multiprocess {
            format!("p{:x}.{:x}", self.pid, tid)
        } else {
            format!("{tid:x}")
        }
    }

    fn require_alive(&self) -> Result<()> {
        if self.gone {
            return Err(Error::ProcessExited { pid: self.pid });
        }
        Ok(())
    }

    /// Reads the thread list (`qfThreadInfo`, `qsThreadInfo`), the main thread first.
    fn refresh_threads(&mut self) -> Result<()> {
        let mut threads = Vec::new();
        let mut reply = self.conn.request("qfThreadInfo")?;
        while let Some(list) = reply.strip_prefix(b"m") {
            for id in list.split(|&b| b == b',').filter_map(stop::parse_thread_id) {
                if id.pid.is_none_or(|p| p == i64::from(self.pid)) {
                    if let Ok(tid) = Tid::try_from(id.tid) {
                        threads.push(tid);
                    }
                }
            }
            if threads.len() > 100_000 {
                break;
            }
            reply = self.conn.request("qsThreadInfo")?;
        }
        threads.sort_by_key(|&t| (t != self.pid, t));
        threads.dedup();
        if threads.is_empty() {
            threads.push(self.pid);
        }
        self.threads = threads;
        Ok(())
    }

    /// Makes `tid` the thread of `g`/`G`.
    fn select(&mut self, tid: Tid) -> Result<()> {
        if self.selected != Some(tid) {
            let id = self.thread_id(tid);
            self.conn.request_ok(&format!("Hg{id}"))?;
            self.selected = Some(tid);
        }
        Ok(())
    }

    /// The `g` image of `tid`, read once per stop.
    fn image(&mut self, tid: Tid) -> Result<&mut Vec<u8>> {
        self.require_alive()?;
        if !self.threads.contains(&tid) {
            return Err(Error::NoSuchThread { pid: self.pid, tid });
        }
        if !self.images.contains_key(&tid) {
            self.select(tid)?;
            let reply = self.conn.request("g")?;
            let bytes =
                packet::from_hex(&reply).filter(|_| !reply.starts_with(b"E") || reply.len() != 3).ok_or_else(|| {
                    self.conn.error(format!("g for thread {tid} answered {}", String::from_utf8_lossy(&reply)))
                })?;
            self.images.insert(tid, bytes);
        }
        Ok(self.images.get_mut(&tid).expect("inserted above"))
    }

    /// Forgets what a resume changes.
    fn forget_stop_state(&mut self) {
        self.images.clear();
        self.selected = None;
        self.last_trigger = None;
    }

    /// The stop a stub's stop reply means.
    fn stop_from_reply(&mut self, reply: StopReply) -> Result<Option<Stop>> {
        self.running.store(false, Ordering::SeqCst);
        let stepping = self.stepping.take();
        match reply {
            StopReply::Output(text) => {
                // Output while running is passed on; the process still runs.
                self.running.store(true, Ordering::SeqCst);
                self.stepping = stepping;
                eprint!("{}", String::from_utf8_lossy(&text));
                Ok(None)
            }
            StopReply::Exited(code) => {
                self.gone = true;
                Ok(Some(Stop { tid: self.pid, reason: StopReason::Exited(ExitStatus::Code(i32::from(code))) }))
            }
            StopReply::Killed(signal) => {
                self.gone = true;
                let signal = signals::from_gdb(signal).unwrap_or(crate::signals::SIGKILL);
                Ok(Some(Stop {
                    tid: self.pid,
                    reason: StopReason::Exited(ExitStatus::Signaled { signal, core_dumped: false }),
                }))
            }
            // `w` and `create` come only to a client that asks with `QThreadEvents`.
            // oxtrace does not (gdbserver 13 segfaulted in that mode, see
            // docs/design.md), but takes them from a stub that sends them anyway.
            StopReply::ThreadExited { code, thread } => {
                let tid = thread_tid(thread).unwrap_or(self.pid);
                self.refresh_threads()?;
                self.threads.retain(|&t| t != tid);
                let reason = StopReason::ThreadExited(ExitStatus::Code(i32::from(code)));
                Ok(Some(Stop { tid, reason }))
            }
            StopReply::Stopped { signal, thread, trigger, exec, created } => {
                let known = std::mem::take(&mut self.threads);
                self.refresh_threads()?;
                if created {
                    let tid = thread_tid(thread).unwrap_or(self.pid);
                    if !self.threads.contains(&tid) {
                        self.threads.push(tid);
                    }
                    return Ok(Some(Stop { tid, reason: StopReason::ThreadCreated { new_tid: tid } }));
                }
                if exec.is_none() {
                    // The stub does not say when threads start: those new at this
                    // stop are reported first, as created, then the stop itself.
                    for &new_tid in self.threads.iter().filter(|t| !known.contains(t)) {
                        self.pending.push_back(Stop { tid: new_tid, reason: StopReason::ThreadCreated { new_tid } });
                    }
                }
                let tid = thread
                    .and_then(|t| Tid::try_from(t.tid).ok())
                    .filter(|t| self.threads.contains(t))
                    .or(stepping)
                    .unwrap_or(self.threads[0]);
                self.last_trigger = trigger;
                if let Some(path) = exec {
                    self.debug = debug::DebugRegisters::default();
                    return Ok(Some(Stop { tid, reason: StopReason::Exec { path } }));
                }
                let interrupted = self.interrupted.swap(false, Ordering::SeqCst);
                let reason = match signal {
                    GDB_SIGTRAP => match trigger {
                        Some(Trigger::Watch(addr)) => {
                            self.debug.fired(addr);
                            StopReason::HardwareBreak
                        }
                        Some(Trigger::HardwareBreak) => {
                            let pc = self.pc(tid)?;
                            self.debug.fired(pc);
                            StopReason::HardwareBreak
                        }
                        Some(Trigger::SoftwareBreak) => {
                            self.undo_pc_adjustment(tid)?;
                            StopReason::Trap
                        }
                        _ if stepping == Some(tid) => StopReason::Step,
                        // A `Z0` breakpoint: the stub stops before the instruction.
                        _ if self.at_z0_breakpoint(tid)? => {
                            self.undo_pc_adjustment(tid)?;
                            StopReason::Trap
                        }
                        _ => StopReason::Trap,
                    },
                    GDB_SIGINT | GDB_SIGSTOP if interrupted => StopReason::Interrupted,
                    other => {
                        let signo = signals::from_gdb(other).unwrap_or(0);
                        StopReason::Signal(self.signal_info(signo))
                    }
                };
                if self.pending.is_empty() {
                    return Ok(Some(Stop { tid, reason }));
                }
                // A step is reported before the threads found new (the caller
                // waits for it); anything else after them.
                if reason == StopReason::Step {
                    self.pending.push_front(Stop { tid, reason });
                } else {
                    self.pending.push_back(Stop { tid, reason });
                }
                Ok(self.pending.pop_front())
            }
        }
    }

    /// A stub that reports `swbreak` has moved the pc back onto the break
    /// instruction; on x86 the trace, like the CPU, expects it after the
    /// instruction. The pc is put there, in the stub too (so a break that is
    /// not the trace's is not executed again). Where the CPU leaves the pc on
    /// the break instruction (aarch64) there is nothing to undo.
    fn undo_pc_adjustment(&mut self, tid: Tid) -> Result<()> {
        if !self.arch.pc_after_break {
            return Ok(());
        }
        let pc = self.pc(tid)?;
        let after = pc.wrapping_add(self.arch.break_instruction.len() as u64);
        let pc_name = self.arch.pc;
        let Some((rip, at, size)) =
            self.layout.offsets().find(|(r, ..)| r.name == pc_name).map(|(r, at, size)| (r.regnum, at, size))
        else {
            return Err(self.conn.error(format!("the register layout has no {pc_name}")));
        };
        let bytes = after.to_le_bytes();
        let n = size.min(8);
        let image = self.image(tid)?;
        if let Some(slot) = image.get_mut(at..at + n) {
            slot.copy_from_slice(&bytes[..n]);
        }
        let image = image.clone();
        self.select(tid)?;
        let reply = self.conn.request(&format!("P{rip:x}={}", packet::to_hex(&bytes[..n])))?;
        match reply.as_slice() {
            b"OK" => Ok(()),
            // No `P` (gdbserver on x86): the whole file with `G`.
            b"" => self.conn.request_ok(&format!("G{}", packet::to_hex(&image))),
            other => Err(self.conn.error(format!("P{rip:x} answered {}", String::from_utf8_lossy(other)))),
        }
    }

    /// The program counter of a stopped thread.
    fn pc(&mut self, tid: Tid) -> Result<u64> {
        let mut general = vec![0u8; self.arch.group_size(RegisterGroup::General)];
        self.read_registers(tid, RegisterGroup::General, &mut general)?;
        let def = self.arch.register(self.arch.pc).expect("an architecture has its pc");
        let piece = def.pieces[0];
        let bytes = &general[piece.offset as usize..piece.offset as usize + 8];
        Ok(u64::from_le_bytes(bytes.try_into().expect("8 bytes")))
    }

    /// The signal's details from `qXfer:siginfo:read` where the stub has it (the code and fault address).
    fn signal_info(&mut self, signo: i32) -> SignalInfo {
        let mut info = SignalInfo { signo, ..SignalInfo::default() };
        if let Ok(raw) = self.conn.read_xfer("siginfo", "", 0x80) {
            if raw.len() >= 24 {
                let word = |at: usize| u64::from_le_bytes(raw[at..at + 8].try_into().expect("8 bytes"));
                info.errno = i32::from_le_bytes(raw[4..8].try_into().expect("4 bytes"));
                info.code = i32::from_le_bytes(raw[8..12].try_into().expect("4 bytes"));
                if matches!(signo, SIGSEGV | SIGBUS | SIGILL | SIGFPE | SIGTRAP) {
                    info.fault_addr = Some(word(16));
                }
            }
        }
        info
    }

    /// Whether `tid` stopped on one of the `Z0` breakpoints.
    fn at_z0_breakpoint(&mut self, tid: Tid) -> Result<bool> {
        if self.z0.is_empty() {
            return Ok(false);
        }
        let pc = self.pc(tid)?;
        Ok(self.z0.contains(&pc))
    }

    /// Writes memory with `M` in pieces the stub takes.
    fn write_pieces(&mut self, addr: u64, data: &[u8]) -> Result<()> {
        let piece = (self.packet_size.saturating_sub(40) / 2).max(16);
        for (i, chunk) in data.chunks(piece).enumerate() {
            let at = addr.wrapping_add((i * piece) as u64);
            let reply = self.conn.request(&format!("M{at:x},{:x}:{}", chunk.len(), packet::to_hex(chunk)))?;
            if reply != b"OK" {
                return Err(Error::Memory {
                    pid: self.pid,
                    access: "write",
                    addr: at,
                    len: chunk.len(),
                    reason: format!("the stub answered {}", String::from_utf8_lossy(&reply)),
                });
            }
        }
        Ok(())
    }

    /// Reads memory in pieces the stub can send.
    fn read_pieces(&mut self, addr: u64, buf: &mut [u8]) -> Result<()> {
        let piece = (self.packet_size.saturating_sub(16) / 2).max(16);
        let mut done = 0;
        while done < buf.len() {
            let at = addr.wrapping_add(done as u64);
            let len = piece.min(buf.len() - done);
            let reply = self.conn.request(&format!("m{at:x},{len:x}"))?;
            let bytes = match packet::from_hex(&reply) {
                Some(bytes) if !is_error_reply(&reply) && !bytes.is_empty() => bytes,
                _ => {
                    return Err(Error::Memory {
                        pid: self.pid,
                        access: "read",
                        addr: at,
                        len: buf.len() - done,
                        reason: format!("the stub answered {}", String::from_utf8_lossy(&reply)),
                    })
                }
            };
            let n = bytes.len().min(len);
            buf[done..done + n].copy_from_slice(&bytes[..n]);
            done += n;
        }
        Ok(())
    }
}

impl Platform for RemoteProcess {
    fn arch(&self) -> &'static Arch {
        self.arch
    }

    fn pid(&self) -> Pid {
        self.pid
    }

    fn threads(&self) -> Vec<Tid> {
        if self.gone {
            return Vec::new();
        }
        self.threads.clone()
    }

    fn resume(&mut self, actions: &[ResumeAction]) -> Result<bool> {
        self.require_alive()?;
        if actions.is_empty() {
            return Ok(true);
        }
        if self.interrupted.swap(false, Ordering::SeqCst) {
            // An interrupt asked while stopped: the run stops at once.
            self.pending.push_back(Stop { tid: actions[0].tid, reason: StopReason::Interrupted });
            return Ok(false);
        }
        if !self.pending.is_empty() {
            // Nothing runs while stops wait to be reported: the next wait gives them.
            return Ok(false);
        }
        let mut request = String::from("vCont");
        // When every thread runs, plain continues go as the default action
        // (`;c`), as gdb sends them: one short packet whatever the thread count.
        let covers_all = self.threads.iter().all(|t| actions.iter().any(|a| a.tid == *t));
        let is_default = |a: &ResumeAction| covers_all && a.kind == ResumeKind::Continue && a.signal.is_none();
        for action in actions.iter().filter(|a| !is_default(a)) {
            let letter = match (action.kind, action.signal.is_some()) {
                (ResumeKind::Continue, false) => "c".to_string(),
                (ResumeKind::Continue, true) => format!("C{:02x}", signals::to_gdb(action.signal.unwrap_or(0))),
                (ResumeKind::Step, false) => "s".to_string(),
                (ResumeKind::Step, true) => format!("S{:02x}", signals::to_gdb(action.signal.unwrap_or(0))),
                (ResumeKind::Syscall, _) => {
                    return Err(Error::Unsupported("system call stops over the remote protocol"))
                }
            };
            request.push_str(&format!(";{letter}:{}", self.thread_id(action.tid)));
        }
        if actions.iter().any(is_default) {
            request.push_str(";c");
        }
        self.stepping = actions.iter().find(|a| a.kind == ResumeKind::Step).map(|a| a.tid);
        self.forget_stop_state();
        self.running.store(true, Ordering::SeqCst);
        if let Err(e) = self.conn.send(request.as_bytes()) {
            self.running.store(false, Ordering::SeqCst);
            return Err(e);
        }
        Ok(true)
    }

    fn wait(&mut self, timeout: Option<Duration>) -> Result<Option<Stop>> {
        if let Some(stop) = self.pending.pop_front() {
            return Ok(Some(stop));
        }
        self.require_alive()?;
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            let Some(reply) = self.conn.receive(deadline)? else { return Ok(None) };
            let parsed = stop::parse(&reply)
                .ok_or_else(|| self.conn.error(format!("not a stop reply: {}", String::from_utf8_lossy(&reply))))?;
            if let Some(stop) = self.stop_from_reply(parsed)? {
                return Ok(Some(stop));
            }
        }
    }

    fn stop_all(&mut self) -> Result<()> {
        if self.gone || !self.running.load(Ordering::SeqCst) {
            return Ok(());
        }
        self.conn.send_interrupt()?;
        let deadline = Some(Instant::now() + Duration::from_secs(10));
        while self.running.load(Ordering::SeqCst) {
            let Some(reply) = self.conn.receive(deadline)? else {
                return Err(self.conn.error("the process did not stop after an interrupt"));
            };
            if let Some(parsed) = stop::parse(&reply) {
                if let Some(stop) = self.stop_from_reply(parsed)? {
                    self.pending.push_front(stop);
                }
            }
        }
        // The interrupt's own stop is not an event; threads found new are.
        self.pending.retain(|s| matches!(s.reason, StopReason::ThreadCreated { .. }));
        self.interrupted.store(false, Ordering::SeqCst);
        Ok(())
    }

    fn read_memory(&mut self, addr: u64, buf: &mut [u8]) -> Result<()> {
        self.require_alive()?;
        self.read_pieces(addr, buf)
    }

    fn write_memory(&mut self, addr: u64, data: &[u8]) -> Result<()> {
        self.require_alive()?;
        // The bytes under the stub's own breakpoints are the trace's to keep
        // (it has patched its break instruction into `data` there): they are
        // written when the breakpoint is removed. The rest goes out as is.
        let brk_len = self.arch.break_instruction.len() as u64;
        let end = addr.saturating_add(data.len() as u64);
        let covered: Vec<u64> = self.z0.range(addr.saturating_sub(brk_len - 1)..end).copied().collect();
        let mut from = addr;
        for bp in covered {
            if bp > from {
                self.write_pieces(from, &data[(from - addr) as usize..(bp - addr) as usize])?;
            }
            from = from.max(bp.saturating_add(brk_len).min(end));
        }
        if from < end {
            self.write_pieces(from, &data[(from - addr) as usize..])?;
        }
        Ok(())
    }

    fn insert_break(&mut self, addr: u64, brk: &[u8]) -> Result<()> {
        self.require_alive()?;
        // `Z0` where the stub has it: a system emulator's stub must see a
        // break instruction coming, or the guest takes it as its own
        // exception, and qemu-user's stub writes no code. The kind is the
        // length of the break instruction.
        if self.z0_supported != Some(false) {
            match self.conn.request(&format!("Z0,{addr:x},{:x}", brk.len()))?.as_slice() {
                b"OK" => {
                    self.z0_supported = Some(true);
                    self.z0.insert(addr);
                    return Ok(());
                }
                // Not supported: written into memory from now on.
                b"" => self.z0_supported = Some(false),
                // Refused here: the write below says why if it fails too.
                _ => {}
            }
        }
        self.write_pieces(addr, brk)
    }

    fn remove_break(&mut self, addr: u64, original: &[u8]) -> Result<()> {
        self.require_alive()?;
        if self.z0.remove(&addr) {
            self.conn.request_ok(&format!("z0,{addr:x},{:x}", original.len()))?;
            // The stub put back what it saw when the breakpoint went in; the
            // trace's bytes win (a write over the breakpoint changed them).
            // Best effort: a stub that writes no code (qemu-user) keeps its own.
            let _ = self.write_pieces(addr, original);
            return Ok(());
        }
        self.write_pieces(addr, original)
    }

    fn memory_maps(&mut self) -> Result<Vec<MemoryMap>> {
        self.require_alive()?;
        if self.files != Some(false) {
            let path = format!("/proc/{}/maps", self.pid);
            match files::read_file(&mut self.conn, &path) {
                Ok(text) => {
                    self.files = Some(true);
                    return crate::memory::parse_proc_maps(&String::from_utf8_lossy(&text));
                }
                Err(_) => self.files = Some(false),
            }
        }
        // No file access: the program's own segments, if it was named.
        let Some(program) = self.program.clone() else { return Ok(Vec::new()) };
        let entry = self.conn.read_xfer("auxv", "", 0x800).ok().and_then(|auxv| program::auxv_entry(&auxv));
        program::program_maps(&program, entry)
    }

    fn read_registers(&mut self, tid: Tid, group: RegisterGroup, buf: &mut [u8]) -> Result<()> {
        buf.fill(0);
        if group == RegisterGroup::Debug {
            self.debug.write_block(buf);
            return Ok(());
        }
        let layout = self.layout.clone();
        let image = self.image(tid)?.clone();
        for (reg, at, size) in layout.offsets() {
            let Some(def) = self.arch.register(&reg.name).filter(|d| d.group == group && d.parent.is_none()) else {
                continue;
            };
            let Some(value) = image.get(at..at + size) else { continue };
            let mut from = 0;
            for piece in def.pieces {
                let (start, len) = (piece.offset as usize, piece.len as usize);
                let n = len.min(value.len().saturating_sub(from));
                if let Some(slot) = buf.get_mut(start..start + n) {
                    slot.copy_from_slice(&value[from..from + n]);
                }
                from += n;
            }
        }
        Ok(())
    }

    fn write_registers(&mut self, tid: Tid, group: RegisterGroup, buf: &[u8]) -> Result<()> {
        if group == RegisterGroup::Debug {
            let requests = self.debug.update(buf);
            for request in requests {
                let reply = self.conn.request(&request)?;
                if reply != b"OK" {
                    return Err(self.conn.error(format!("{request} answered {}", String::from_utf8_lossy(&reply))));
                }
            }
            return Ok(());
        }
        let layout = self.layout.clone();
        let mut image = self.image(tid)?.clone();
        for (reg, at, size) in layout.offsets() {
            let Some(def) = self.arch.register(&reg.name).filter(|d| d.group == group && d.parent.is_none()) else {
                continue;
            };
            let Some(value) = image.get_mut(at..at + size) else { continue };
            let mut from = 0;
            for piece in def.pieces {
                let (start, len) = (piece.offset as usize, piece.len as usize);
                let n = len.min(value.len().saturating_sub(from));
                if let Some(slot) = buf.get(start..start + n) {
                    value[from..from + n].copy_from_slice(slot);
                }
                from += n;
            }
        }
        self.select(tid)?;
        self.conn.request_ok(&format!("G{}", packet::to_hex(&image)))?;
        self.images.insert(tid, image);
        Ok(())
    }

    fn classify_trap(&mut self, _tid: Tid) -> Result<StopReason> {
        Ok(match self.last_trigger {
            Some(Trigger::SoftwareBreak) => StopReason::SoftwareBreak,
            Some(Trigger::HardwareBreak | Trigger::Watch(_)) => StopReason::HardwareBreak,
            None => StopReason::Signal(SignalInfo { signo: SIGTRAP, ..SignalInfo::default() }),
        })
    }

    fn detach(&mut self, _signal: Option<(Tid, i32)>) -> Result<()> {
        if self.gone {
            return Ok(());
        }
        let request = if self.multiprocess { format!("D;{:x}", self.pid) } else { "D".to_string() };
        self.conn.request_ok(&request)?;
        self.gone = true;
        Ok(())
    }

    fn kill(&mut self) -> Result<ExitStatus> {
        if !self.gone {
            self.stop_all()?;
            if self.multiprocess {
                let reply = self.conn.request(&format!("vKill;{:x}", self.pid))?;
                if reply != b"OK" && !reply.starts_with(b"X") && !reply.starts_with(b"W") {
                    return Err(self.conn.error(format!("vKill answered {}", String::from_utf8_lossy(&reply))));
                }
            } else {
                // `k` has no reply.
                self.conn.send(b"k")?;
            }
            self.gone = true;
        }
        Ok(ExitStatus::Signaled { signal: crate::signals::SIGKILL, core_dumped: false })
    }

    fn interrupter(&self) -> Interrupter {
        self.interrupter.clone()
    }

    fn exe_path(&mut self) -> Option<String> {
        let annex = format!("{:x}", self.pid);
        match self.conn.read_xfer("exec-file", &annex, 0x1000) {
            Ok(path) if !path.is_empty() => Some(String::from_utf8_lossy(&path).into_owned()),
            _ => self.program.clone(),
        }
    }
}
