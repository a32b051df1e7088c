//! Starting a process under trace, and attaching to a running one.

use std::os::unix::process::CommandExt;
use std::process::Command;

use super::{sys, LinuxProcess, ThreadState};
use crate::error::{Error, Pid, Result};

/// Options of a spawn beyond what [`Command`] holds.
#[derive(Debug, Clone, Copy, Default)]
pub struct SpawnOptions {
    /// Turn off address-space layout randomization in the child (as gdb does by default).
    pub disable_aslr: bool,
}

/// ptrace options for every traced thread: syscall stops marked, new threads
/// and child processes traced (a child inherits the parent's breakpoint bytes:
/// the trace must clean it before it runs), exec reported.
const OPTIONS: libc::c_int = libc::PTRACE_O_TRACESYSGOOD
    | libc::PTRACE_O_TRACECLONE
    | libc::PTRACE_O_TRACEFORK
    | libc::PTRACE_O_TRACEVFORK
    | libc::PTRACE_O_TRACEVFORKDONE
    | libc::PTRACE_O_TRACEEXEC;

impl LinuxProcess {
    /// Starts `command` traced. It stops before its first instruction (at the
    /// dynamic linker's entry point for a dynamic program), and dies with the
    /// tracer thread unless it is detached.
    pub fn spawn(mut command: Command, options: SpawnOptions) -> Result<LinuxProcess> {
        let program = command.get_program().to_string_lossy().into_owned();
        super::executable::check_program(command.get_program(), command.get_current_dir())
            .map_err(|reason| Error::Spawn { program: program.clone(), source: std::io::Error::other(reason) })?;
        // SAFETY: the closure runs in the child between fork and exec and calls
        // only async-signal-safe functions (prctl, personality, ptrace).
        unsafe {
            command.pre_exec(move || sys::prepare_traced_child(options.disable_aslr));
        }
        let child = command.spawn().map_err(|source| Error::Spawn { program: program.clone(), source })?;
        let pid = child.id() as Pid;
        // The Child handle is not needed: the process is reaped through ptrace.
        drop(child);
        let mut process = LinuxProcess::new(pid, true);
        match sys::wait_pid(pid, libc::__WALL) {
            Ok(Some((_, status))) if libc::WIFSTOPPED(status) && libc::WSTOPSIG(status) == libc::SIGTRAP => {}
            Ok(other) => {
                process.gone = true;
                let reason = format!("unexpected first status {other:?}");
                return Err(Error::Spawn { program, source: std::io::Error::other(reason) });
            }
            Err(e) => {
                process.gone = true;
                return Err(Error::Spawn { program, source: e });
            }
        }
        process.threads.insert(pid, ThreadState::stopped());
        process.arch = super::elf_class::arch_of(pid);
        sys::set_options(pid, OPTIONS | libc::PTRACE_O_EXITKILL)
            .map_err(|e| process.os_error("PTRACE_SETOPTIONS", pid, e))?;
        Ok(process)
    }

    /// Attaches to every thread of the running process `pid` and stops it.
    pub fn attach(pid: Pid) -> Result<LinuxProcess> {
        if pid <= 0 || !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            return Err(Error::NoSuchProcess { pid });
        }
        if super::status::thread_group_of(pid) != Some(pid) {
            return Err(Error::NotTraceable {
                pid,
                source: std::io::Error::other("not a process id (a thread of another process?)"),
            });
        }
        let mut process = LinuxProcess::new(pid, false);
        // Threads may start while we attach: scan until a pass finds none new.
        loop {
            let tids = list_threads(pid).map_err(|_| Error::NoSuchProcess { pid })?;
            let new: Vec<_> = tids.into_iter().filter(|t| !process.threads.contains_key(t)).collect();
            if new.is_empty() {
                break;
            }
            for tid in new {
                match sys::attach(tid) {
                    Ok(()) => {}
                    Err(e) if e.raw_os_error() == Some(libc::ESRCH) && tid != pid => continue,
                    Err(e) if e.raw_os_error() == Some(libc::ESRCH) => return Err(Error::NoSuchProcess { pid }),
                    Err(source) => {
                        process.gone = process.threads.is_empty();
                        return Err(Error::NotTraceable { pid, source });
                    }
                }
                process
                    .threads
                    .insert(tid, ThreadState { running: true, stop_pending: true, ..ThreadState::stopped() });
            }
            process.stop_running()?;
        }
        process.arch = super::elf_class::arch_of(pid);
        for &tid in process.threads.keys() {
            // ESRCH: the thread exited meanwhile; its exit will be reported.
            if let Err(e) = sys::set_options(tid, OPTIONS) {
                if e.raw_os_error() != Some(libc::ESRCH) {
                    return Err(process.os_error("PTRACE_SETOPTIONS", tid, e));
                }
            }
        }
        Ok(process)
    }
}

/// The thread ids of a process, from `/proc/PID/task`.
fn list_threads(pid: Pid) -> std::io::Result<Vec<i32>> {
    let mut tids: Vec<i32> = std::fs::read_dir(format!("/proc/{pid}/task"))?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    tids.sort_unstable();
    Ok(tids)
}
