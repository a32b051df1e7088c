//! `oxdb serve`: one program or process served to gdb or lldb over the GDB
//! remote protocol (the `oxserve` crate does the protocol).
//!
//! It starts the program (or attaches to `--pid`), listens, prints
//! `listening on ADDR:PORT` (or `listening on unix:PATH`) on one line of
//! stdout (a port of 0 becomes the one picked), warns on stderr when the
//! address is not a loopback one, and serves the first client with the least
//! privilege unless told otherwise (`--multi`, `--allow-files`; see
//! [`oxserve::Policy`]), dropping it after `--idle-timeout` seconds without a packet. When the client detaches, the process runs on untraced
//! and `oxdb serve` waits for a started program to end (it would die with its
//! parent otherwise); after a kill or the client's departure it ends the
//! process it started, or lets an attached one go.
//!
//! SIGTERM, SIGHUP and SIGQUIT end it the same way, whatever it is doing:
//! the client's connection is shut down, an attached process is detached
//! (it runs on as it would untraced), a started one killed, and `oxdb serve`
//! exits with 128 + the signal's number.

use std::io::Write;
use std::process::Command;
use std::time::Duration;

use nix::sys::signal::Signal;

use oxserve::{is_loopback, Launch, Listener, Policy, SessionEnd, TraceTarget};
use oxtrace::Trace;

use crate::cli::ServeArgs;
use crate::script::ERROR_EXIT;

/// Runs `oxdb serve`; returns the exit code.
pub fn main(args: &ServeArgs) -> i32 {
    crate::interrupt::catch(&[Signal::SIGTERM, Signal::SIGHUP, Signal::SIGQUIT]);
    match serve(args) {
        Ok(()) => crate::ending::requested().map_or(0, crate::ending::exit_code),
        Err(e) => {
            eprintln!("error: {e}");
            ERROR_EXIT
        }
    }
}

fn serve(args: &ServeArgs) -> Result<(), String> {
    let (trace, launch) = start(args)?;
    let pid = trace.pid();
    let spawned = launch.is_some();
    let mut target = TraceTarget::new(trace, spawned, launch);
    target.set_policy(Policy {
        multi: args.multi,
        extra_files: args.allow_files.clone(),
        idle_timeout: args.idle_timeout.map(Duration::from_secs),
    });
    let listener = oxserve::listen_on(&args.listen).map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let addr = listener.address();
    if listener.tcp_address().is_some_and(|tcp| !is_loopback(&tcp)) {
        eprintln!(
            "warning: listening on {addr}, which other machines can reach: whoever connects controls process {pid} \
             and can run code as this user"
        );
    }
    let mut stdout = std::io::stdout();
    let _ = writeln!(stdout, "listening on {addr}");
    let _ = stdout.flush();
    let Some((stream, peer)) = accept(&listener).map_err(|e| format!("accepting a client on {addr}: {e}"))? else {
        return end_on_signal(target.into_trace());
    };
    // One client: the socket file of a Unix listener goes now.
    drop(listener);
    eprintln!("oxdb serve: client {peer} connected");
    if let Ok(clone) = stream.try_clone() {
        // A signal that ends oxdb ends the session: the connection's reads see its end.
        crate::ending::on_request(move || {
            let _ = clone.shutdown();
        });
        if crate::ending::requested().is_some() {
            let _ = stream.shutdown();
        }
    }
    let end = oxserve::serve_connection(&mut target, stream);
    if crate::ending::requested().is_some() {
        return end_on_signal(target.into_trace());
    }
    let end = end.map_err(|e| e.to_string())?;
    // With --multi the client may have started or attached to another process.
    let spawned = target.spawned();
    let mut trace = target.into_trace();
    let pid = trace.pid();
    match end {
        SessionEnd::Detached if trace.is_attached() => {
            trace.detach().map_err(|e| format!("detaching from process {pid}: {e}"))?;
            eprintln!("oxdb serve: detached from process {pid}");
            if spawned {
                wait_for_end(trace.pid());
            }
        }
        SessionEnd::Detached | SessionEnd::Killed => {}
        SessionEnd::ClientGone => eprintln!("oxdb serve: the client left"),
        SessionEnd::IdleTimeout => eprintln!(
            "oxdb serve: dropped the client, idle for {} s (--idle-timeout)",
            args.idle_timeout.unwrap_or_default()
        ),
    }
    // Dropping the trace kills a started process and lets an attached one go.
    drop(trace);
    Ok(())
}

/// Waits for a client, or for a signal that ends oxdb (`None`).
fn accept(listener: &Listener) -> std::io::Result<Option<(oxserve::ClientStream, String)>> {
    listener.set_nonblocking(true)?;
    loop {
        match listener.accept() {
            Ok((stream, peer)) => {
                stream.set_nonblocking(false)?;
                return Ok(Some((stream, peer)));
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if crate::ending::requested().is_some() {
                    return Ok(None);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => return Err(e),
        }
    }
}

/// After a signal asked oxdb to end: lets the process go as `quit` does, and says so.
fn end_on_signal(trace: Trace) -> Result<(), String> {
    let name = crate::commands::signals::signal_name(crate::ending::requested().unwrap_or(0));
    let pid = trace.pid();
    let (live, spawned) = (trace.is_attached(), trace.is_spawned());
    trace.release().map_err(|e| format!("{name}: leaving process {pid}: {e}"))?;
    match (live, spawned) {
        (false, _) => eprintln!("oxdb serve: {name}"),
        (true, true) => eprintln!("oxdb serve: {name}: killed process {pid}"),
        (true, false) => eprintln!("oxdb serve: {name}: detached from process {pid}"),
    }
    Ok(())
}

/// Starts the program or attaches to the process the arguments name.
fn start(args: &ServeArgs) -> Result<(Trace, Option<Launch>), String> {
    if let Some(pid) = args.pid {
        let trace = Trace::attach(pid).map_err(|e| e.to_string())?;
        return Ok((trace, None));
    }
    let Some((program, rest)) = args.program.split_first() else {
        return Err("nothing to serve: give a program (oxdb serve PROGRAM [ARGS...]) or --pid PID".into());
    };
    let mut command = Command::new(program);
    command.args(rest);
    let trace = Trace::spawn(command).map_err(|e| format!("cannot start {}: {e}", program.to_string_lossy()))?;
    let launch = Launch { program: program.clone(), args: rest.to_vec() };
    Ok((trace, Some(launch)))
}

/// Waits until process `pid` (a detached child of ours) has ended: it is a zombie or gone.
fn wait_for_end(pid: i32) {
    loop {
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|stat| stat.rsplit_once(')').and_then(|(_, rest)| rest.trim_start().chars().next()));
        match state {
            None | Some('Z') | Some('X') => return,
            Some(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}
