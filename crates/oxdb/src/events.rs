//! Events as one line each, for what happens while the program runs:
//! breakpoint and watchpoint hits, signals, exits, threads, libraries.

use oxtrace::{Event, EventKind, ExitStatus, FollowFork, SyscallStop, Trace, WatchKind};

use crate::commands::signals::signal_name;
use crate::commands::symbols::describe_addr;

/// The line printed for an event, or `None` for events not shown (continue, steps).
pub fn describe(trace: &mut Trace, event: &Event) -> Option<String> {
    let tid = event.tid;
    let pid = event.pid;
    Some(match &event.kind {
        EventKind::Breakpoint { id, addr } => {
            format!("[thread {tid}] breakpoint {id} hit at {}", describe_addr(trace, *addr))
        }
        EventKind::Watchpoint { id, addr, pc, access_pc, old, new } => {
            let kind = trace.watchpoints().into_iter().find(|w| w.id == *id).map(|w| w.kind);
            let kind = match kind {
                Some(WatchKind::Execute) => "execute",
                Some(WatchKind::ReadWrite) => "access",
                _ => "write",
            };
            let mut line = format!("[thread {tid}] watchpoint {id} ({kind}) at 0x{addr:016x}");
            if let (Some(old), Some(new)) = (old, new) {
                line.push_str(&format!(": {old:#x} -> {new:#x}"));
            }
            let at = access_pc.unwrap_or(*pc);
            line.push_str(&format!(", by {}", describe_addr(trace, at)));
            line
        }
        EventKind::Signal(info) => {
            let mut line = format!("[thread {tid}] signal {} ({})", signal_name(info.signo), info.signo);
            if let Ok(pc) = trace.thread_pc(tid) {
                line.push_str(&format!(" at {}", describe_addr(trace, pc)));
            }
            if let Some(addr) = info.fault_addr {
                line.push_str(&format!(", fault address 0x{addr:016x}"));
            }
            line
        }
        EventKind::Exited(status) => format!("[process {pid}] {}", exit_text(*status)),
        EventKind::ThreadCreated { new_tid } => format!("[thread {tid}] new thread {new_tid}"),
        EventKind::ThreadExited(status) => format!("[thread {tid}] thread exited ({status})"),
        EventKind::LibraryLoaded { name, path, base } => {
            format!("[process {pid}] library loaded: {name} at 0x{base:016x} ({path})")
        }
        EventKind::LibraryUnloaded { name, path, base } => {
            format!("[process {pid}] library unloaded: {name} from 0x{base:016x} ({path})")
        }
        EventKind::Exec { path } => format!("[process {pid}] exec {path}"),
        EventKind::Forked { child, vfork } => fork_line(trace, pid, *child, *vfork),
        EventKind::PageWatch { id, pc, addr, access } => {
            let access = format!("{access:?}").to_lowercase();
            format!("[thread {tid}] page watchpoint {id}: {access} of 0x{addr:016x} by {}", describe_addr(trace, *pc))
        }
        EventKind::Interrupted => format!("[thread {tid}] interrupted"),
        EventKind::Syscall(SyscallStop::Entry { number, args }) => {
            let args: Vec<String> = args.iter().map(|a| format!("{a:#x}")).collect();
            format!("[thread {tid}] syscall {number} ({})", args.join(", "))
        }
        EventKind::Syscall(SyscallStop::Exit { number, ret }) => {
            format!("[thread {tid}] syscall {number} returned {ret}")
        }
        _ => return None,
    })
}

/// The line of a fork: which process goes on traced, and what became of the other.
fn fork_line(trace: &Trace, pid: i32, child: i32, vfork: bool) -> String {
    let what = if vfork { "vfork" } else { "fork" };
    let other = if trace.detach_on_fork() { "detached" } else { "kept stopped as a new inferior" };
    match trace.follow_fork() {
        FollowFork::Parent => format!("[process {pid}] {what}: child process {child} {other}"),
        // The trace follows the child now: its pid is the child's.
        FollowFork::Child => format!("[process {pid}] {what}: following child process {child}, the parent {other}"),
    }
}

/// How a process ended, as words: `exited with code 0`, `killed by signal SIGKILL (9)`.
pub fn exit_text(status: ExitStatus) -> String {
    match status {
        ExitStatus::Code(code) => format!("exited with code {code}"),
        ExitStatus::Signaled { signal, core_dumped } => {
            let core = if core_dumped { ", core dumped" } else { "" };
            format!("killed by signal {} ({signal}{core})", signal_name(signal))
        }
    }
}
