//! Extended mode (`target extended-remote`): `vRun`, `vAttach`, `qAttached`,
//! `vKill`/`k`, `R`, and the process id in thread ids (multiprocess).
//!
//! `run` starts a program (the one named, or the one the server was started
//! with) under a new trace and drops the old one, which kills a spawned
//! process and detaches an attached one. `kill` kills the process and keeps
//! the session, so the client can `run` again.
//!
//! Unless the policy allows it ([`Policy::multi`](crate::Policy::multi)), the
//! client serves only the process it was given: `run` starts only the served
//! program (the same file), `attach` takes no other process, and `kill` of another process is
//! refused (`EPERM`, logged).

use std::ffi::{OsStr, OsString};
use std::path::Path;
use std::process::Command;

use gdbstub::common::Pid as GdbPid;
use gdbstub::target::ext::extended_mode::{
    Args, AttachKind, CurrentActivePid, CurrentActivePidOps, ExtendedMode, ShouldTerminate,
};
use gdbstub::target::{TargetError, TargetResult};
use oxtrace::{Error, Trace};

use crate::file_access::file_identity;
use crate::policy::log_refusal;
use crate::target::{reply_error, Launch, TraceTarget};

/// The reply to a request the policy refuses: `EPERM`.
const EPERM: u8 = 1;

#[cfg(unix)]
fn os_string(bytes: &[u8]) -> std::ffi::OsString {
    use std::os::unix::ffi::OsStrExt;
    std::ffi::OsStr::from_bytes(bytes).to_owned()
}

impl TraceTarget {
    fn replace_trace(&mut self, trace: Trace, spawned: bool) {
        self.forget_process();
        self.spawned = spawned;
        // Dropping the old trace kills (spawned) or detaches (attached) its process.
        *self.trace.get_mut() = trace;
    }

    /// The program to start for the client's `run` of `program`, if the policy
    /// lets it: any with `multi`, else only the served program (the same file
    /// by any name), started by its resolved name so that no search of `PATH`
    /// picks another.
    fn may_run(&self, program: &OsStr) -> Option<OsString> {
        if self.policy.multi {
            return Some(program.to_owned());
        }
        let real = std::fs::canonicalize(program).ok()?;
        let id = file_identity(&real)?;
        let launched = self.launch.as_ref().and_then(|launch| file_identity(Path::new(&launch.program)));
        (Some(id) == self.served_exe || Some(id) == launched).then(|| real.into_os_string())
    }

    fn start(&mut self, launch: Launch) -> TargetResult<GdbPid, Self> {
        let mut command = Command::new(&launch.program);
        command.args(&launch.args);
        let trace = Trace::spawn(command).map_err(reply_error)?;
        let pid = trace.pid();
        self.replace_trace(trace, true);
        self.launch = Some(launch);
        crate::target::gdb_pid(pid)
    }
}

impl ExtendedMode for TraceTarget {
    fn run(&mut self, filename: Option<&[u8]>, args: Args<'_, '_>) -> TargetResult<GdbPid, Self> {
        let args: Vec<_> = args.map(os_string).collect();
        let launch = match (filename, &self.launch) {
            (Some(name), _) => {
                let Some(program) = self.may_run(&os_string(name)) else {
                    let name = String::from_utf8_lossy(name);
                    log_refusal(format_args!(
                        "vRun of {name} (not the served program; the server was not started with --multi)"
                    ));
                    return Err(TargetError::Errno(EPERM));
                };
                Launch { program, args }
            }
            (None, Some(previous)) => Launch {
                program: previous.program.clone(),
                args: if args.is_empty() { previous.args.clone() } else { args },
            },
            (None, None) => return Err(TargetError::Errno(2)),
        };
        self.start(launch)
    }

    fn attach(&mut self, pid: GdbPid) -> TargetResult<(), Self> {
        let pid = i32::try_from(pid.get()).map_err(|_| TargetError::Errno(3))?;
        if !self.policy.multi && pid != self.trace.get_mut().pid() {
            log_refusal(format_args!(
                "vAttach to process {pid} (not the served one; the server was not started with --multi)"
            ));
            return Err(TargetError::Errno(EPERM));
        }
        let trace = Trace::attach(pid).map_err(reply_error)?;
        self.replace_trace(trace, false);
        Ok(())
    }

    fn query_if_attached(&mut self, _pid: GdbPid) -> TargetResult<AttachKind, Self> {
        Ok(if self.spawned { AttachKind::Run } else { AttachKind::Attach })
    }

    fn kill(&mut self, pid: Option<GdbPid>) -> TargetResult<ShouldTerminate, Self> {
        let trace = self.trace.get_mut();
        if let Some(pid) = pid.filter(|pid| i32::try_from(pid.get()).ok() != Some(trace.pid())) {
            // The server kills only the process it serves.
            if self.policy.multi {
                return Err(TargetError::Errno(3));
            }
            log_refusal(format_args!("vKill of process {pid} (not the served one)"));
            return Err(TargetError::Errno(EPERM));
        }
        if trace.is_attached() {
            match trace.kill() {
                Ok(_) | Err(Error::ProcessExited { .. }) => {}
                Err(e) => return Err(reply_error(e)),
            }
        }
        self.forget_process();
        Ok(ShouldTerminate::No)
    }

    fn support_current_active_pid(&mut self) -> Option<CurrentActivePidOps<'_, Self>> {
        Some(self)
    }

    fn restart(&mut self) -> Result<(), Self::Error> {
        let Some(launch) = self.launch.clone() else {
            return Err(Error::Unsupported("restart without a program to start"));
        };
        self.start(launch).map(drop).map_err(|_| Error::Unsupported("restart: the program could not be started"))
    }
}

impl CurrentActivePid for TraceTarget {
    fn current_active_pid(&mut self) -> Result<GdbPid, Self::Error> {
        let pid = self.trace.get_mut().pid();
        crate::target::gdb_pid(pid).map_err(|_| Error::InvalidArgument(format!("{pid} is not a process id")))
    }
}
