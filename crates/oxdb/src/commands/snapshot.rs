//! `snapshot FILE`: save the stopped program as an ELF core file (an oxtrace
//! snapshot, which `gdb PROGRAM FILE` and `oxdb --core FILE` open).

use std::io::Write;

use super::Args;
use crate::session::{CmdError, CmdResult, Session};

/// `snapshot FILE`.
pub fn snapshot(session: &mut Session, args: Args<'_>, out: &mut dyn Write) -> CmdResult {
    let path = args.rest.trim();
    if path.is_empty() {
        return Err(CmdError("snapshot needs a file name: snapshot FILE".into()));
    }
    let trace = session.trace()?;
    let threads = trace.threads().len();
    let stats = trace.save_snapshot(path)?;
    writeln!(
        out,
        "snapshot saved to {path}: {threads} thread{}, {:.1} MiB of memory",
        if threads == 1 { "" } else { "s" },
        stats.bytes_written as f64 / (1024.0 * 1024.0)
    )?;
    Ok(())
}
