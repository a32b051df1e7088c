//! Facts about a process from `/proc` that a core file records: the
//! `NT_PRPSINFO` fields (state, parents, ids, name, command line).

use crate::error::Pid;
use crate::platform::ProcessInfo;

/// State, parent, group, session, ids, name and command line of `pid`, or `None` if it is gone.
pub(super) fn process_info(pid: Pid) -> Option<ProcessInfo> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (name) state ppid pgrp session ...`; the name may hold spaces and parentheses.
    let (head, tail) = stat.rsplit_once(')')?;
    let name = head.split_once('(')?.1.to_owned();
    let mut fields = tail.split_whitespace();
    let state = fields.next()?.bytes().next()?;
    let mut number = || fields.next().and_then(|f| f.parse().ok()).unwrap_or(0);
    let (ppid, pgrp, sid) = (number(), number(), number());
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let id = |key: &str| {
        status.lines().find_map(|l| l.strip_prefix(key)).and_then(|v| v.split_whitespace().next()?.parse().ok())
    };
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let args = String::from_utf8_lossy(&cmdline).trim_end_matches('\0').replace('\0', " ");
    Some(ProcessInfo { state, ppid, pgrp, sid, uid: id("Uid:").unwrap_or(0), gid: id("Gid:").unwrap_or(0), name, args })
}
