//! The remote row: breakpoint hits per second of gdb driving a GDB remote
//! protocol server, `oxserve` (what `oxdb serve` runs) against gdbserver, on
//! the same program, the same gdb session, in the same placement.
//!
//! gdb connects with `target extended-remote`, sets `break target` with a
//! `commands` block of `silent` and `continue`, and continues to the end. The
//! time of the same session with the breakpoint disabled (start-up, connection,
//! the program's own run) is subtracted. The server runs in a child process:
//! `oxbench serve PROGRAM ARGS` for oxserve, `gdbserver --once` for gdbserver.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use crate::programs::Programs;
use crate::tools::{time_command, Rate};

/// The remote row uses fewer hits than the others: every hit is a dozen packets.
pub fn remote_hits(hits: u64) -> u64 {
    (hits / 10).max(100)
}

/// Which server gdb drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Server {
    /// `oxbench serve`, the oxserve library over an oxtrace trace.
    Oxserve,
    /// Debian's gdbserver.
    Gdbserver,
}

/// Starts the server on `program hits`; returns it and the port it listens on.
fn start(server: Server, programs: &Programs, hits: u64) -> Result<(Child, u16), String> {
    let mut command = match server {
        Server::Oxserve => {
            let mut c = Command::new(std::env::current_exe().map_err(|e| e.to_string())?);
            c.arg("serve");
            c
        }
        Server::Gdbserver => {
            let mut c = Command::new("gdbserver");
            c.args(["--once", "127.0.0.1:0"]);
            c
        }
    };
    command.arg(&programs.target).arg(hits.to_string());
    // gdbserver says where it listens on stderr, oxbench serve on stdout.
    let mut child =
        command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                "not installed".to_string()
            } else {
                e.to_string()
            }
        })?;
    let lines: Box<dyn BufRead> = match server {
        Server::Oxserve => Box::new(BufReader::new(child.stdout.take().ok_or("no stdout")?)),
        Server::Gdbserver => Box::new(BufReader::new(child.stderr.take().ok_or("no stderr")?)),
    };
    for line in lines.lines() {
        let line = line.map_err(|e| e.to_string())?;
        let port = line
            .strip_prefix("Listening on port ")
            .or_else(|| line.strip_prefix("listening on ").and_then(|a| a.rsplit_once(':')).map(|(_, p)| p));
        if let Some(port) = port.and_then(|p| p.trim().parse().ok()) {
            return Ok((child, port));
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    Err(format!("{server:?} never said where it listens"))
}

/// One gdb session against a fresh server; its duration in seconds.
fn session(server: Server, programs: &Programs, hits: u64, breakpoint_on: bool) -> Result<f64, String> {
    let (mut child, port) = start(server, programs, hits)?;
    let script = programs.target.with_file_name(format!("remote-{}.gdb", std::process::id()));
    let mut text = format!("set pagination off\nset confirm off\ntarget extended-remote 127.0.0.1:{port}\n");
    text.push_str("break target\ncommands 1\nsilent\ncontinue\nend\n");
    if !breakpoint_on {
        text.push_str("disable 1\n");
    }
    text.push_str("continue\n");
    std::fs::write(&script, text).map_err(|e| e.to_string())?;
    let mut gdb = Command::new("gdb");
    gdb.args(["-nx", "-q", "-batch", "-x"]).arg(&script).arg(&programs.target);
    let elapsed = time_command(&mut gdb);
    let _ = child.kill();
    let _ = child.wait();
    elapsed
}

/// Breakpoint hits per second of gdb driving `server`.
pub fn measure(server: Server, programs: &Programs, hits: u64) -> Rate {
    if Command::new("gdb").arg("--version").output().is_err() {
        return Err("not installed".into());
    }
    let hits = remote_hits(hits);
    let elapsed = session(server, programs, hits, true)? - session(server, programs, hits, false)?;
    if elapsed <= 0.0 {
        return Err("the session was not longer than its baseline".into());
    }
    Ok(hits as f64 / elapsed)
}

/// `oxbench serve PROGRAM ARGS`: the program under oxserve, for one client.
pub fn serve(program: &std::path::Path, args: &[String]) -> Result<(), String> {
    let mut command = Command::new(program);
    command.args(args);
    let trace = oxtrace::Trace::spawn(command).map_err(|e| e.to_string())?;
    let mut target = oxserve::TraceTarget::new(trace, true, None);
    let listener = oxserve::listen("127.0.0.1:0").map_err(|e| e.to_string())?;
    println!("listening on {}", listener.local_addr().map_err(|e| e.to_string())?);
    let (stream, _) = listener.accept().map_err(|e| e.to_string())?;
    oxserve::serve_connection(&mut target, stream).map_err(|e| e.to_string())?;
    Ok(())
}
