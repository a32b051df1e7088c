//! Snapshots through the trace: save a stopped process as an ELF core file,
//! open a core file as a trace, and breakpoints that save a snapshot at every hit.
//!
//! See [`crate::snapshot`] for the file format. Saving needs a stopped trace;
//! memory is read through the trace, so breakpoint instructions are saved as
//! the original bytes and register changes not yet written back are saved as
//! changed.

use std::path::{Path, PathBuf};

use super::Trace;
use crate::arch::RegisterGroup;
use crate::error::{Result, Tid};
use crate::memory::MemoryMap;
use crate::platform::core::CoreProcess;
use crate::platform::ProcessInfo;
use crate::snapshot::elf::{
    encode_note, CoreClass, NT_AUXV, NT_FILE, NT_FPREGSET, NT_OXTRACE_INFO, NT_PRPSINFO, NT_PRSTATUS, NT_PRXFPREG,
    NT_X86_XSTATE, PAGE_SIZE, PF_R, PF_W, PF_X,
};
use crate::snapshot::i386;
use crate::snapshot::info::{SavedBreakpoint, SavedModule, SnapshotInfo};
use crate::snapshot::notes::{fpregset, nt_file_sized, prpsinfo, prstatus, FileMapping};
use crate::snapshot::writer::{write_core, Segment, WriteStats};

/// Offsets in the XSAVE area of the FXSAVE region and of the AVX upper halves
/// that the Vector register block holds.
const FXSAVE_END: usize = 512;
const YMM_HI: std::ops::Range<usize> = 576..832;

/// Maps whose memory is not saved: the kernel's data pages behind the vdso
/// (reading them faults) and the legacy vsyscall page.
const NOT_DUMPED: [&str; 3] = ["[vvar]", "[vvar_vclock]", "[vsyscall]"];

/// One thread's registers for the notes.
struct CoreRegs {
    /// `user_regs_struct`.
    general: Vec<u8>,
    /// The whole XSAVE area, or the FXSAVE area alone.
    fp: Vec<u8>,
    /// Whether `fp` is the whole XSAVE area.
    full_xsave: bool,
}

impl Trace {
    /// Saves the stopped process as an ELF core file at `path` (see
    /// [`crate::snapshot`]): every thread's registers, every readable map's
    /// memory, auxv, the file-backed maps, and oxtrace's note with metadata,
    /// variables, breakpoints, modules, maps and open files. `gdb PROGRAM FILE`
    /// opens it; [`Trace::open_core`] opens it as a trace.
    ///
    /// Memory goes straight from the process to the file in chunks of 1 MiB, so the tracer's memory does not grow with the process's.
    pub fn save_snapshot(&mut self, path: impl AsRef<Path>) -> Result<WriteStats> {
        self.require_stopped()?;
        // Every thread, stopped: a callback may run while the others still do.
        self.ensure_all_stopped()?;
        let path = path.as_ref();
        let maps = self.memory_maps()?;
        let notes = self.snapshot_notes(&maps)?;
        let mut segments = Vec::with_capacity(maps.len());
        for map in &maps {
            let flags =
                (map.perms.read as u32 * PF_R) | (map.perms.write as u32 * PF_W) | (map.perms.exec as u32 * PF_X);
            let skipped = map.path.as_deref().is_some_and(|p| NOT_DUMPED.contains(&p));
            let dumped = map.perms.read && !skipped && self.read_into(map.start, &mut [0u8; 1]).is_ok();
            segments.push(Segment { start: map.start, end: map.end, flags, dumped });
        }
        write_core(path, CoreClass::of(self.arch), &notes, &segments, &mut |addr, buf| self.read_into(addr, buf))
    }

    /// The encoded notes: per thread (the current one first) `NT_PRSTATUS`,
    /// `NT_FPREGSET` (`NT_PRXFPREG` for i386) and `NT_X86_XSTATE`; after the
    /// first thread's status the process's `NT_PRPSINFO`, `NT_AUXV` and
    /// `NT_FILE`; last `OXTRACE`. An i386 process gets the kernel's 32-bit layouts.
    fn snapshot_notes(&mut self, maps: &[MemoryMap]) -> Result<Vec<u8>> {
        let mut tids = self.threads();
        if let Some(i) = tids.iter().position(|&t| t == self.current_tid) {
            tids.remove(i);
            tids.insert(0, self.current_tid);
        }
        let mut out = Vec::new();
        let class = CoreClass::of(self.arch);
        for (index, &tid) in tids.iter().enumerate() {
            let regs = self.thread_state_for_core(tid)?;
            let signal = self.pending_signals.get(&tid).copied();
            let status = match class {
                CoreClass::X86_64 => prstatus(tid, self.pid, signal, &regs.general, true),
                CoreClass::I386 => i386::prstatus(tid, self.pid, signal, &regs.general, true),
            };
            encode_note(&mut out, "CORE", NT_PRSTATUS, &status);
            if index == 0 {
                self.process_notes(&mut out, maps, class);
            }
            match class {
                CoreClass::X86_64 => encode_note(&mut out, "CORE", NT_FPREGSET, &fpregset(&regs.fp)),
                CoreClass::I386 => encode_note(&mut out, "LINUX", NT_PRXFPREG, &fpregset(&regs.fp)),
            }
            if regs.full_xsave {
                encode_note(&mut out, "LINUX", NT_X86_XSTATE, &regs.fp);
            }
        }
        let info = self.snapshot_info(maps);
        encode_note(&mut out, "OXTRACE", NT_OXTRACE_INFO, &info.encode());
        Ok(out)
    }

    /// A thread's registers as the notes carry them, with the trace's cached (maybe changed) values.
    fn thread_state_for_core(&mut self, tid: Tid) -> Result<CoreRegs> {
        let general = self.context_with(tid, RegisterGroup::General)?.block(RegisterGroup::General);
        let general = general.unwrap_or_default().to_vec();
        let vector = self.context_with(tid, RegisterGroup::Vector)?.block(RegisterGroup::Vector);
        let vector = vector.unwrap_or_default().to_vec();
        match self.platform.read_xsave_area(tid)? {
            Some(mut area) if area.len() >= YMM_HI.end && vector.len() >= YMM_HI.end => {
                area[..FXSAVE_END].copy_from_slice(&vector[..FXSAVE_END]);
                area[YMM_HI].copy_from_slice(&vector[YMM_HI]);
                Ok(CoreRegs { general, fp: area, full_xsave: true })
            }
            _ => Ok(CoreRegs { general, fp: vector[..FXSAVE_END.min(vector.len())].to_vec(), full_xsave: false }),
        }
    }

    /// `NT_PRPSINFO`, `NT_AUXV` and `NT_FILE`.
    fn process_notes(&mut self, out: &mut Vec<u8>, maps: &[MemoryMap], class: CoreClass) {
        let info = self.platform.process_info().unwrap_or_else(|| {
            let exe = self.exe_path().unwrap_or_default();
            let name = exe.rsplit('/').next().unwrap_or_default().to_owned();
            ProcessInfo { state: b't', name, args: exe, ..Default::default() }
        });
        let psinfo = match class {
            CoreClass::X86_64 => prpsinfo(self.pid, &info),
            CoreClass::I386 => i386::prpsinfo(self.pid, &info),
        };
        encode_note(out, "CORE", NT_PRPSINFO, &psinfo);
        if let Some(auxv) = self.platform.auxv() {
            encode_note(out, "CORE", NT_AUXV, &auxv);
        }
        let files: Vec<FileMapping> = maps
            .iter()
            .filter(|m| m.is_file_backed())
            .map(|m| FileMapping {
                start: m.start,
                end: m.end,
                offset: m.offset,
                path: m.path.clone().unwrap_or_default(),
            })
            .collect();
        encode_note(out, "CORE", NT_FILE, &nt_file_sized(&files, PAGE_SIZE, class.word()));
    }

    /// What oxtrace's own note carries.
    fn snapshot_info(&mut self, maps: &[MemoryMap]) -> SnapshotInfo {
        let modules = match self.symbols() {
            Ok(symbols) => symbols
                .modules()
                .iter()
                .map(|m| SavedModule { name: m.name.clone(), path: m.path.clone(), base: m.start, end: m.end })
                .collect(),
            Err(_) => Vec::new(),
        };
        SnapshotInfo {
            meta: self.metadata.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            variables: self.variables(),
            breakpoints: self
                .breakpoints()
                .into_iter()
                .map(|b| SavedBreakpoint {
                    id: b.id,
                    addr: b.addr,
                    enabled: b.enabled,
                    kind: format!("{:?}", b.kind),
                    expr: b.expr,
                })
                .collect(),
            modules,
            maps: maps.to_vec(),
            fds: self.platform.file_descriptors().unwrap_or_default().into_iter().map(|f| (f.fd, f.name)).collect(),
        }
    }

    /// Opens a core file — an oxtrace snapshot, a kernel core dump, or gdb's
    /// `gcore` output (Linux x86_64) — as a stopped trace: memory, maps,
    /// threads, registers, symbols, stack traces and expressions work as on a
    /// live process. Writes to memory and registers go to a copy in memory,
    /// never to the file. Running, stepping, detaching and killing fail with an
    /// error naming the core file.
    ///
    /// `program` is the executable the core was made from, when its path in the
    /// core is not right on this machine. A snapshot's metadata and variables are
    /// restored; its breakpoints are listed by [`crate::snapshot::read_info`].
    pub fn open_core(core: impl AsRef<Path>, program: Option<&Path>) -> Result<Trace> {
        let core = core.as_ref();
        let process = CoreProcess::open(core, program)?;
        let info = process.snapshot_info().cloned();
        let signals: Vec<(Tid, i32)> =
            process.threads_with_signals().into_iter().filter_map(|(t, s)| s.map(|s| (t, s))).collect();
        let mut trace = Trace::from_platform(Box::new(process), false);
        if let Some(info) = info {
            for (key, value) in info.meta {
                // The platform's program path (which honours `program`) wins.
                if key != "ExeName" || !trace.has_meta("ExeName") {
                    trace.metadata.insert(key, value);
                }
            }
            for (name, value) in info.variables {
                trace.set_variable(&name, value);
            }
        }
        trace.pending_signals.extend(signals);
        trace.set_meta("CoreFile", core.display().to_string());
        Ok(trace)
    }

    /// Sets a breakpoint that saves a snapshot at every hit and lets the
    /// process go on. `pattern` names the files: `{n}` is the hit number (from
    /// 1), `{pid}`, `{tid}` and `{addr}` (hex) what they say; for example
    /// `snap-{n}-{tid}.core`. A snapshot that fails to save is recorded in the
    /// metadata `SnapshotError` and the process goes on.
    pub fn add_snapshot_break(&mut self, addr: u64, pattern: &str) -> Result<u32> {
        let pattern = pattern.to_owned();
        let mut hits = 0u64;
        self.add_break_with(addr, move |trace, event| {
            hits += 1;
            let path = snapshot_name(&pattern, hits, trace.pid(), event.tid, addr);
            if let Err(e) = trace.save_snapshot(&path) {
                trace.set_meta("SnapshotError", format!("{}: {e}", path.display()));
            }
            trace.run_again();
        })
    }
}

/// Expands a snapshot file name pattern.
fn snapshot_name(pattern: &str, n: u64, pid: i32, tid: Tid, addr: u64) -> PathBuf {
    PathBuf::from(
        pattern
            .replace("{n}", &n.to_string())
            .replace("{pid}", &pid.to_string())
            .replace("{tid}", &tid.to_string())
            .replace("{addr}", &format!("{addr:x}")),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn snapshot_names_expand() {
        let path = super::snapshot_name("s-{n}-{pid}-{tid}-{addr}.core", 3, 10, 11, 0x401000);
        assert_eq!(path.to_str(), Some("s-3-10-11-401000.core"));
    }
}
