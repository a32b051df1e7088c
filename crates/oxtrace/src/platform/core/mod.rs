//! A core file as a backend: an ELF core from the kernel, from gdb's `gcore`
//! or from [`Trace::save_snapshot`](crate::Trace::save_snapshot), served
//! through the [`Platform`] trait so that everything above it (memory, maps,
//! threads, registers, symbols, stack traces, expressions) works unchanged.
//!
//! * Memory: `PT_LOAD` contents, mapped files for what the core
//!   leaves out, and an overlay for writes. The core file is only ever read.
//! * Maps: one per `PT_LOAD`, named from oxtrace's own note when present (exact
//!   perms and pseudo names like `[heap]`), else from `NT_FILE`, with the vdso
//!   found through the auxiliary vector.
//! * Threads: one per `NT_PRSTATUS`, in file order (the kernel puts the thread
//!   that crashed first). Registers: General from `pr_reg`; Vector from
//!   `NT_X86_XSTATE`, else `NT_FPREGSET`; Debug reads as zeros. Register writes
//!   change only the copy in memory.
//! * An i386 core (ELF32, a 32-bit process) is read in the kernel's 32-bit
//!   layouts and served as the i386 architecture, its registers widened into
//!   the 64-bit blocks (see [`crate::snapshot::i386`]); its FXSAVE area is
//!   `NT_PRXFPREG`.
//! * Running, waiting, stopping, detaching and killing fail with an error naming the core file.
//!
//! Open one with [`Trace::open_core`](crate::Trace::open_core).

mod memory;
pub(crate) mod parse;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::arch::{Arch, RegisterGroup};
use crate::error::{Error, Pid, Result, Tid};
use crate::event::ExitStatus;
use crate::memory::{MemoryMap, Perms};
use crate::platform::{InterruptSource, Interrupter, Platform, ProcessInfo, ResumeAction, Stop, StopReason};
use crate::snapshot::elf::{
    auxv_value_sized, u64_at, CoreClass, AT_ENTRY, AT_PHDR, AT_SYSINFO_EHDR, FXSAVE_SIZE, NT_AUXV, NT_FILE,
    NT_FPREGSET, NT_OXTRACE_INFO, NT_PRPSINFO, NT_PRSTATUS, NT_PRXFPREG, NT_X86_XSTATE, PF_R, PF_W, PF_X,
};
use crate::snapshot::info::SnapshotInfo;
use crate::snapshot::notes::{parse_nt_file_sized, parse_prpsinfo, parse_prstatus, FileMapping};
use memory::CoreMemory;

/// One thread of a core file.
#[derive(Debug, Clone)]
struct CoreThread {
    tid: Tid,
    signal: Option<i32>,
    general: Vec<u8>,
    /// The whole XSAVE area, or the FXSAVE area alone.
    xsave: Option<Vec<u8>>,
    /// Whether `xsave` is a full XSAVE area (`NT_X86_XSTATE`) rather than FXSAVE only.
    full_xsave: bool,
    debug: Vec<u8>,
}

/// An ELF core file opened as a stopped, unrunnable process.
#[derive(Debug)]
pub struct CoreProcess {
    path: PathBuf,
    arch: &'static Arch,
    pid: Pid,
    threads: Vec<CoreThread>,
    memory: CoreMemory,
    maps: Vec<MemoryMap>,
    auxv: Option<Vec<u8>>,
    exe: Option<String>,
    process_info: Option<ProcessInfo>,
    info: Option<SnapshotInfo>,
}

impl CoreProcess {
    /// Opens the core file `path`. `program`, when given, is the executable the
    /// core was made from: its maps are read from that path (for a core made
    /// elsewhere, or a program that has moved since).
    pub fn open(path: &Path, program: Option<&Path>) -> Result<CoreProcess> {
        let fail = |reason: String| Error::File { path: path.display().to_string(), reason };
        let mut file = File::open(path).map_err(|e| fail(e.to_string()))?;
        let layout = parse::read_layout(path, &mut file)?;
        let class = layout.class;
        let arch = class.arch();
        let mut threads: Vec<CoreThread> = Vec::new();
        let mut pid = None;
        let mut process_info = None;
        let mut auxv = None;
        let mut files = Vec::new();
        let mut info = None;
        for note in &layout.notes {
            match (note.name.as_str(), note.kind) {
                ("CORE", NT_PRSTATUS) => {
                    let status = match class {
                        CoreClass::X86_64 => parse_prstatus(&note.desc),
                        CoreClass::I386 => crate::snapshot::i386::parse_prstatus(&note.desc),
                    };
                    let status =
                        status.ok_or_else(|| fail(format!("NT_PRSTATUS of {} bytes is too short", note.desc.len())))?;
                    threads.push(CoreThread {
                        tid: status.tid,
                        signal: status.signal,
                        general: status.general,
                        xsave: None,
                        full_xsave: false,
                        debug: vec![0; arch.group_size(RegisterGroup::Debug)],
                    });
                }
                // On i386, NT_FPREGSET is the FSAVE layout; the FXSAVE area is NT_PRXFPREG.
                ("LINUX", NT_PRXFPREG) if class == CoreClass::I386 => {
                    if let Some(thread) = threads.last_mut().filter(|t| !t.full_xsave) {
                        thread.xsave = Some(note.desc.clone());
                    }
                }
                ("CORE", NT_FPREGSET) if class == CoreClass::X86_64 => {
                    if let Some(thread) = threads.last_mut().filter(|t| !t.full_xsave) {
                        thread.xsave = Some(note.desc.clone());
                    }
                }
                ("LINUX", NT_X86_XSTATE) => {
                    if let Some(thread) = threads.last_mut() {
                        thread.xsave = Some(note.desc.clone());
                        thread.full_xsave = true;
                    }
                }
                ("CORE", NT_PRPSINFO) => {
                    let parsed = match class {
                        CoreClass::X86_64 => parse_prpsinfo(&note.desc),
                        CoreClass::I386 => crate::snapshot::i386::parse_prpsinfo(&note.desc),
                    };
                    if let Some((p, i)) = parsed {
                        pid = Some(p);
                        process_info = Some(i);
                    }
                }
                ("CORE", NT_AUXV) => auxv = Some(note.desc.clone()),
                ("CORE", NT_FILE) => files = parse_nt_file_sized(&note.desc, class.word()).map_err(fail)?,
                ("OXTRACE", NT_OXTRACE_INFO) => info = Some(SnapshotInfo::decode(&note.desc).map_err(fail)?),
                _ => {}
            }
        }
        let Some(first) = threads.first() else {
            return Err(fail("no threads in this core file (no NT_PRSTATUS note)".into()));
        };
        let pid = pid.filter(|&p| p > 0).unwrap_or(first.tid);

        // The program's path: as recorded, else the file mapped where the entry point is.
        let aux = |key| auxv.as_deref().and_then(|a| auxv_value_sized(a, key, class.word()));
        let recorded_exe = info
            .as_ref()
            .and_then(|i| i.meta.iter().find(|(k, _)| k == "ExeName").and_then(|(_, v)| v.as_str().map(str::to_owned)))
            .or_else(|| {
                [aux(AT_ENTRY), aux(AT_PHDR)]
                    .into_iter()
                    .flatten()
                    .find_map(|addr| files.iter().find(|f| f.start <= addr && addr < f.end).map(|f| f.path.clone()))
            });
        let exe = match program {
            Some(program) => {
                let program = program.display().to_string();
                if let Some(old) = recorded_exe.as_deref() {
                    for f in files.iter_mut().filter(|f| f.path == old) {
                        f.path = program.clone();
                    }
                }
                Some(program)
            }
            None => recorded_exe.clone(),
        };
        // The main thread's stack pointer names its map `[stack]` (rsp is word 19 of `user_regs_struct`).
        let main_sp = threads.iter().find(|t| t.tid == pid).and_then(|t| u64_at(&t.general, 19 * 8));
        let pseudo = Pseudo { vdso: aux(AT_SYSINFO_EHDR), stack: main_sp };
        let (recorded, exe_now) = (recorded_exe.as_deref(), exe.as_deref());
        let maps = build_maps(&layout.loads, &files, info.as_ref(), pseudo, recorded, exe_now);
        let memory = CoreMemory::new(path, pid, file, layout.loads, files);
        Ok(CoreProcess { path: path.to_owned(), arch, pid, threads, memory, maps, auxv, exe, process_info, info })
    }

    /// oxtrace's own note, if the core file is an oxtrace snapshot.
    pub fn snapshot_info(&self) -> Option<&SnapshotInfo> {
        self.info.as_ref()
    }

    /// Every thread with the signal it stopped with, as the core records it.
    pub fn threads_with_signals(&self) -> Vec<(Tid, Option<i32>)> {
        self.threads.iter().map(|t| (t.tid, t.signal)).collect()
    }

    /// The core file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many pages writes have copied into the overlay.
    pub fn overlay_pages(&self) -> usize {
        self.memory.overlay_pages()
    }

    fn cannot(&self, what: &str) -> Error {
        Error::File { path: self.path.display().to_string(), reason: format!("a core file cannot {what}") }
    }

    fn thread(&mut self, tid: Tid) -> Result<&mut CoreThread> {
        let pid = self.pid;
        self.threads.iter_mut().find(|t| t.tid == tid).ok_or(Error::NoSuchThread { pid, tid })
    }
}

/// Addresses that name anonymous maps of a core without oxtrace's note.
#[derive(Debug, Clone, Copy)]
struct Pseudo {
    /// The vdso's ELF header (`AT_SYSINFO_EHDR`).
    vdso: Option<u64>,
    /// The main thread's stack pointer.
    stack: Option<u64>,
}

/// The address of the legacy vsyscall page.
const VSYSCALL: u64 = 0xffff_ffff_ff60_0000;

/// The maps of a core: one per `PT_LOAD`, named and flagged as well as the notes allow.
fn build_maps(
    loads: &[crate::snapshot::elf::ProgramHeader],
    files: &[FileMapping],
    info: Option<&SnapshotInfo>,
    pseudo: Pseudo,
    recorded_exe: Option<&str>,
    exe: Option<&str>,
) -> Vec<MemoryMap> {
    let mut maps: Vec<MemoryMap> = loads
        .iter()
        .filter(|ph| ph.memsz > 0)
        .map(|ph| {
            let (start, end) = (ph.vaddr, ph.vaddr + ph.memsz);
            let perms = Perms {
                read: ph.flags & PF_R != 0,
                write: ph.flags & PF_W != 0,
                exec: ph.flags & PF_X != 0,
                shared: false,
            };
            let mut map = MemoryMap { start, end, perms, offset: 0, device: (0, 0), inode: 0, path: None };
            if let Some(saved) = info.and_then(|i| i.maps.iter().find(|m| m.start == start)) {
                map.perms = saved.perms;
                map.offset = saved.offset;
                map.path = saved.path.clone();
                if map.path.as_deref().is_some_and(|p| Some(p) == recorded_exe) {
                    map.path = exe.map(str::to_owned);
                }
            } else if let Some(f) = files.iter().find(|f| f.start <= start && start < f.end) {
                map.offset = f.offset + (start - f.start);
                map.path = Some(f.path.clone());
            } else if pseudo.vdso.is_some_and(|v| start <= v && v < end) {
                map.path = Some("[vdso]".into());
            } else if pseudo.stack.is_some_and(|sp| start <= sp && sp < end) {
                map.path = Some("[stack]".into());
            } else if start == VSYSCALL {
                map.path = Some("[vsyscall]".into());
            }
            map
        })
        .collect();
    maps.sort_by_key(|m| m.start);
    maps
}

/// The interrupter of a core file: there is nothing running to interrupt.
#[derive(Debug)]
struct CoreInterrupter {
    path: String,
}

impl InterruptSource for CoreInterrupter {
    fn interrupt(&self) -> Result<()> {
        Err(Error::File {
            path: self.path.clone(),
            reason: "a core file cannot be interrupted: it does not run".into(),
        })
    }
}

impl Platform for CoreProcess {
    fn arch(&self) -> &'static Arch {
        self.arch
    }

    fn pid(&self) -> Pid {
        self.pid
    }

    fn threads(&self) -> Vec<Tid> {
        self.threads.iter().map(|t| t.tid).collect()
    }

    fn resume(&mut self, _actions: &[ResumeAction]) -> Result<bool> {
        Err(self.cannot("run: it is a snapshot of memory and registers"))
    }

    fn wait(&mut self, _timeout: Option<Duration>) -> Result<Option<Stop>> {
        Err(self.cannot("run, so there is nothing to wait for"))
    }

    fn stop_all(&mut self) -> Result<()> {
        Err(self.cannot("be stopped: it does not run"))
    }

    fn read_memory(&mut self, addr: u64, buf: &mut [u8]) -> Result<()> {
        self.memory.read(addr, buf)
    }

    fn write_memory(&mut self, addr: u64, data: &[u8]) -> Result<()> {
        self.memory.write(addr, data)
    }

    fn memory_maps(&mut self) -> Result<Vec<MemoryMap>> {
        Ok(self.maps.clone())
    }

    fn read_registers(&mut self, tid: Tid, group: RegisterGroup, buf: &mut [u8]) -> Result<()> {
        let thread = self.thread(tid)?;
        let source: &[u8] = match group {
            RegisterGroup::General => &thread.general,
            RegisterGroup::Vector => thread.xsave.as_deref().unwrap_or_default(),
            RegisterGroup::Debug => &thread.debug,
        };
        let n = source.len().min(buf.len());
        buf[..n].copy_from_slice(&source[..n]);
        buf[n..].fill(0);
        Ok(())
    }

    fn write_registers(&mut self, tid: Tid, group: RegisterGroup, buf: &[u8]) -> Result<()> {
        let thread = self.thread(tid)?;
        let target = match group {
            RegisterGroup::General => &mut thread.general,
            RegisterGroup::Vector => thread.xsave.get_or_insert_with(|| vec![0; FXSAVE_SIZE]),
            RegisterGroup::Debug => &mut thread.debug,
        };
        if target.len() < buf.len() {
            target.resize(buf.len(), 0);
        }
        target[..buf.len()].copy_from_slice(buf);
        Ok(())
    }

    fn classify_trap(&mut self, tid: Tid) -> Result<StopReason> {
        let signal = self.thread(tid)?.signal;
        Ok(match signal {
            Some(signo) => StopReason::Signal(crate::event::SignalInfo {
                signo,
                code: 0,
                errno: 0,
                fault_addr: None,
                sender_pid: None,
                exception: None,
            }),
            None => StopReason::Interrupted,
        })
    }

    fn detach(&mut self, _signal: Option<(Tid, i32)>) -> Result<()> {
        Err(self.cannot("be detached from: there is no process"))
    }

    fn kill(&mut self) -> Result<ExitStatus> {
        Err(self.cannot("be killed: there is no process"))
    }

    fn interrupter(&self) -> Interrupter {
        Interrupter::new(Arc::new(CoreInterrupter { path: self.path.display().to_string() }))
    }

    fn exe_path(&mut self) -> Option<String> {
        self.exe.clone()
    }

    fn read_xsave_area(&mut self, tid: Tid) -> Result<Option<Vec<u8>>> {
        let thread = self.thread(tid)?;
        Ok(thread.xsave.clone().filter(|_| thread.full_xsave))
    }

    fn auxv(&mut self) -> Option<Vec<u8>> {
        self.auxv.clone()
    }

    fn file_descriptors(&mut self) -> Result<Vec<crate::platform::FileDescriptor>> {
        // What the snapshot's own note recorded (other cores do not say).
        let saved = self.info.as_ref().map(|i| i.fds.clone()).unwrap_or_default();
        Ok(saved
            .into_iter()
            .map(|(fd, name)| crate::platform::FileDescriptor {
                fd,
                kind: crate::platform::FdKind::of_target(&name),
                name,
            })
            .collect())
    }

    fn process_info(&mut self) -> Option<ProcessInfo> {
        self.process_info.clone()
    }
}
