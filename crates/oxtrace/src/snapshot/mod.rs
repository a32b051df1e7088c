//! Snapshots: a stopped process saved as a standard ELF core file, and the
//! pieces to read one back.
//!
//! [`Trace::save_snapshot`](crate::Trace::save_snapshot) writes every
//! thread's registers, every readable map's memory and the process's notes as
//! an x86_64 Linux core file that `gdb PROGRAM FILE` opens, plus a note of
//! oxtrace's own ([`SnapshotInfo`]) with what gdb has no place for: metadata,
//! variables, breakpoints, modules, the exact maps and the open files.
//! [`Trace::open_core`](crate::Trace::open_core) opens it, or any Linux x86_64
//! core file (the kernel's, gdb's `gcore`), as a trace.
//!
//! The file is laid out as the kernel lays out its own core dumps:
//!
//! ```text
//! ELF header | program headers: PT_NOTE, then one PT_LOAD per map | notes | (page aligned) memory of each map
//! ```
//!
//! Notes: per thread `NT_PRSTATUS` (kernel `struct elf_prstatus`, 336 bytes),
//! `NT_FPREGSET` (FXSAVE, 512 bytes) and `NT_X86_XSTATE` (the XSAVE area); once
//! `NT_PRPSINFO` (136 bytes), `NT_AUXV` and `NT_FILE` (the file-backed maps); and
//! `OXTRACE`. Memory is streamed in chunks of 1 MiB (see [`writer`]),
//! so the tracer's memory does not grow with the process's.
//!
//! [`diff()`] says which pages differ between two core files.

pub mod diff;
pub mod elf;
pub mod i386;
pub mod info;
pub mod notes;
pub mod writer;

use std::path::Path;

pub use diff::diff;
pub use info::{SavedBreakpoint, SavedModule, SnapshotInfo};
pub use writer::WriteStats;

use crate::error::Result;
use crate::platform::core::CoreProcess;

/// oxtrace's own note of a core file: `None` for a core file that oxtrace did not write.
pub fn read_info(path: &Path) -> Result<Option<SnapshotInfo>> {
    Ok(CoreProcess::open(path, None)?.snapshot_info().cloned())
}
