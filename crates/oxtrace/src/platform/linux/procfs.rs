//! What `/proc` tells of processes: a process's open file descriptors, and
//! the list of processes of the machine.

use std::path::Path;

use crate::error::{Error, Pid, Result};
use crate::platform::{FdKind, FileDescriptor, ProcessEntry};

/// The open file descriptors of `pid`, by number.
pub fn file_descriptors(pid: Pid) -> Result<Vec<FileDescriptor>> {
    let dir = format!("/proc/{pid}/fd");
    let entries = std::fs::read_dir(&dir).map_err(|e| Error::File { path: dir.clone(), reason: e.to_string() })?;
    let mut fds: Vec<FileDescriptor> = entries
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let fd: i32 = entry.file_name().to_str()?.parse().ok()?;
            let target = std::fs::read_link(entry.path()).ok()?.to_string_lossy().into_owned();
            Some(FileDescriptor { fd, kind: FdKind::of_target(&target), name: target })
        })
        .collect();
    fds.sort_by_key(|f| f.fd);
    Ok(fds)
}

/// Every process of the machine that `/proc` shows, by pid.
pub fn processes() -> Result<Vec<ProcessEntry>> {
    let entries =
        std::fs::read_dir("/proc").map_err(|e| Error::File { path: "/proc".into(), reason: e.to_string() })?;
    let mut list: Vec<ProcessEntry> = entries
        .filter_map(|entry| {
            let pid: Pid = entry.ok()?.file_name().to_str()?.parse().ok()?;
            let dir = Path::new("/proc").join(pid.to_string());
            let name = std::fs::read_to_string(dir.join("comm")).ok()?.trim_end().to_owned();
            let raw = std::fs::read(dir.join("cmdline")).unwrap_or_default();
            let command_line: Vec<String> =
                raw.split(|&b| b == 0).filter(|a| !a.is_empty()).map(|a| String::from_utf8_lossy(a).into()).collect();
            Some(ProcessEntry { pid, name, command_line })
        })
        .collect();
    list.sort_by_key(|p| p.pid);
    Ok(list)
}
