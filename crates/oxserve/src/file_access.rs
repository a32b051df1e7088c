//! Which host files a client may read through `vFile`.
//!
//! By default, what a debugger needs for the process served: its program,
//! every file it has mapped (the dynamic linker, the libraries), the separate
//! debug files of those (where [`debug_file_candidates`] says they are: by
//! build-id and by debug link), and a few of its `/proc/PID` files (`maps`,
//! `cmdline`, `auxv`...). [`Policy::extra_files`](crate::Policy::extra_files)
//! adds files or directories.
//!
//! Files are compared by identity (device and inode, symbolic links
//! followed), so any name of an allowed file works and no name of another
//! file does. The file opened is checked again after opening, so a name
//! changed in between does not get another file. The set is recomputed when
//! a file is not in it, since the process maps new files as it runs.

use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::ErrorKind;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use object::read::ReadCache;
use object::Object;
use oxtrace::symbols::debug_file_candidates;
use oxtrace::Trace;

/// A file's identity: (device, inode).
type Identity = (u64, u64);

/// The `/proc/PID` files of the served process a client may read.
const PROC_FILES: &[&str] = &["maps", "smaps", "cmdline", "auxv", "stat", "status", "comm", "exe"];
/// The `/proc/PID/task/TID` files of its threads a client may read.
const TASK_FILES: &[&str] = &["maps", "smaps", "stat", "status", "comm"];

/// The most of the vdso read to find its build-id.
const MAX_VDSO: usize = 64 * 1024;

/// Why a file is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Not a file the client may read (`EACCES`).
    NotAllowed,
    /// A file the client may read, not there (`ENOENT`).
    Missing,
}

/// The files a client may read, as last computed for one process.
#[derive(Debug, Default)]
pub(crate) struct FileAccess {
    /// The process the set was computed for.
    pid: oxtrace::Pid,
    /// Identities of the files allowed.
    allowed: HashSet<Identity>,
    /// Names allowed even when missing: the debug-file candidates (their absence is `ENOENT`).
    names: HashSet<PathBuf>,
    /// The debug-file candidates of each file seen, so a file is parsed once.
    candidates: HashMap<Identity, Vec<PathBuf>>,
}

fn identity(meta: &std::fs::Metadata) -> Identity {
    (meta.dev(), meta.ino())
}

/// The identity of the file `path` names (symbolic links followed), if it is there.
pub(crate) fn file_identity(path: &Path) -> Option<Identity> {
    std::fs::metadata(path).ok().map(|meta| identity(&meta))
}

/// Opens `path` read-only, without blocking on a FIFO and without following a last symbolic link.
fn open_no_follow(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK).open(path)
}

impl FileAccess {
    /// Opens `path` for reading if the client may read it.
    pub(crate) fn open(
        &mut self,
        trace: &mut Trace,
        program: Option<&Path>,
        extra: &[PathBuf],
        path: &Path,
    ) -> Result<std::io::Result<File>, Refusal> {
        if self.is_proc_file(trace, path) {
            return Ok(File::open(path));
        }
        if let Some(file) = open_under(extra, path) {
            return Ok(file);
        }
        let meta = match std::fs::metadata(path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                self.refresh_if_needed(trace, program, |access| access.names.contains(path));
                return Err(if self.names.contains(path) { Refusal::Missing } else { Refusal::NotAllowed });
            }
            Err(_) => return Err(Refusal::NotAllowed),
        };
        let id = identity(&meta);
        self.refresh_if_needed(trace, program, |access| access.allowed.contains(&id));
        if !self.allowed.contains(&id) || !meta.is_file() {
            return Err(Refusal::NotAllowed);
        }
        // The name may have changed since (even to a FIFO, hence no blocking):
        // what is opened must be the file checked.
        let file = match OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(path) {
            Ok(file) => file,
            Err(e) => return Ok(Err(e)),
        };
        match file.metadata() {
            Ok(opened) if identity(&opened) == id => Ok(Ok(file)),
            Ok(_) => Err(Refusal::NotAllowed),
            Err(e) => Ok(Err(e)),
        }
    }

    /// Whether the client may read the symbolic link `path` (what it points to is then no secret).
    pub(crate) fn may_readlink(
        &mut self,
        trace: &mut Trace,
        program: Option<&Path>,
        extra: &[PathBuf],
        path: &Path,
    ) -> bool {
        if self.is_proc_file(trace, path) || path == Path::new(&format!("/proc/{}/cwd", trace.pid())) {
            return true;
        }
        // A link in an allowed directory (its target need not be there: the name is all that is read).
        let directory = path.parent().and_then(|p| std::fs::canonicalize(p).ok());
        if directory.is_some_and(|d| is_inside(extra, &d)) {
            return true;
        }
        let Ok(meta) = std::fs::metadata(path) else { return false };
        let id = identity(&meta);
        self.refresh_if_needed(trace, program, |access| access.allowed.contains(&id));
        self.allowed.contains(&id)
    }

    /// Whether `path` is one of the served process's `/proc` files a client may read (by name).
    fn is_proc_file(&self, trace: &Trace, path: &Path) -> bool {
        let dir = PathBuf::from(format!("/proc/{}", trace.pid()));
        let Ok(rest) = path.strip_prefix(&dir) else { return false };
        let parts: Vec<_> = rest.iter().map(|p| p.to_str().unwrap_or("")).collect();
        match parts[..] {
            [name] => PROC_FILES.contains(&name),
            ["task", tid, name] => {
                TASK_FILES.contains(&name) && tid.parse().is_ok_and(|tid| trace.threads().contains(&tid))
            }
            _ => false,
        }
    }

    /// Computes the set again if `present` says what is looked for is not in it.
    fn refresh_if_needed(&mut self, trace: &mut Trace, program: Option<&Path>, present: impl Fn(&Self) -> bool) {
        if self.pid == trace.pid() && present(self) {
            return;
        }
        self.refresh(trace, program);
    }

    /// The program, the files the process maps, and their debug files.
    fn refresh(&mut self, trace: &mut Trace, program: Option<&Path>) {
        self.pid = trace.pid();
        self.allowed.clear();
        self.names.clear();
        let mut files: Vec<PathBuf> = program.into_iter().map(Path::to_owned).collect();
        files.push(PathBuf::from(format!("/proc/{}/exe", trace.pid())));
        let maps = trace.memory_maps().unwrap_or_default();
        // The vdso is no file, but gdb looks for its debug file by build-id.
        if let Some(vdso) = maps.iter().find(|m| m.path.as_deref() == Some("[vdso]")) {
            let mut image = vec![0u8; usize::try_from(vdso.end - vdso.start).unwrap_or(0).min(MAX_VDSO)];
            if trace.read_into(vdso.start, &mut image).is_ok() {
                if let Ok(elf) = object::File::parse(&image[..]) {
                    let build_id = elf.build_id().ok().flatten();
                    self.names.extend(debug_file_candidates(Path::new("/"), build_id, None));
                }
            }
        }
        let mapped = maps.into_iter().filter(|m| m.inode != 0).filter_map(|m| m.path);
        files.extend(mapped.filter(|p| p.starts_with('/') && !p.ends_with(" (deleted)")).map(PathBuf::from));
        files.sort();
        files.dedup();
        for file in files {
            let Ok(meta) = std::fs::metadata(&file) else { continue };
            let id = identity(&meta);
            if !self.allowed.insert(id) {
                continue;
            }
            let real = std::fs::canonicalize(&file).unwrap_or(file);
            let candidates = self.candidates.entry(id).or_insert_with(|| debug_files_of(&real)).clone();
            for candidate in candidates {
                if let Ok(meta) = std::fs::metadata(&candidate) {
                    if meta.is_file() {
                        self.allowed.insert(identity(&meta));
                    }
                }
                self.names.insert(candidate);
            }
        }
    }
}

/// Where the separate debug files of the ELF file `path` may be (none if it is not ELF).
fn debug_files_of(path: &Path) -> Vec<PathBuf> {
    let Ok(file) = File::open(path) else { return Vec::new() };
    // Only the notes and the debug link section are read, not the whole file.
    let cache = ReadCache::new(file);
    let Ok(elf) = object::File::parse(&cache) else { return Vec::new() };
    let build_id = elf.build_id().ok().flatten();
    let link = elf.gnu_debuglink().ok().flatten().map(|(name, _crc)| name);
    debug_file_candidates(path, build_id, link)
}

/// Whether the resolved path `real` is one of the `extra` files or lies under one of its directories.
fn is_inside(extra: &[PathBuf], real: &Path) -> bool {
    extra.iter().filter_map(|e| std::fs::canonicalize(e).ok()).any(|e| real.starts_with(e))
}

/// Opens `path` if it lies in one of the `extra` files or directories the
/// policy adds (symbolic links resolved): the resolved name is checked, and
/// what was opened is checked again by its real name.
fn open_under(extra: &[PathBuf], path: &Path) -> Option<std::io::Result<File>> {
    if extra.is_empty() {
        return None;
    }
    let inside = |real: &Path| is_inside(extra, real);
    let real = match std::fs::canonicalize(path) {
        Ok(real) => real,
        // A missing file in an allowed directory is missing, not refused.
        Err(e) if e.kind() == ErrorKind::NotFound => {
            let parent = path.parent().and_then(|p| std::fs::canonicalize(p).ok())?;
            return inside(&parent).then(|| Err(e));
        }
        Err(_) => return None,
    };
    if !inside(&real) {
        return None;
    }
    let file = open_no_follow(&real);
    if let Ok(opened) = &file {
        let fd = std::os::fd::AsRawFd::as_raw_fd(opened);
        let now = std::fs::read_link(format!("/proc/self/fd/{fd}")).ok()?;
        if !inside(&now) {
            return None;
        }
    }
    Some(file)
}
