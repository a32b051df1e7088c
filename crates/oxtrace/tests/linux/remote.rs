//! The remote protocol backend against Debian's gdbserver and qemu-user's
//! stub: the same scenario (break in `d`, registers, backtrace, memory, a step)
//! gives the same answers as the native backend; watchpoints through `Z2`, an
//! interrupt with `0x03`, and running to the end. Skipped, saying so, where
//! gdbserver or qemu-x86_64 is not installed (`.ci/run` installs them).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use std::collections::BTreeSet;

use oxtrace::{EventKind, EventType, ExitStatus, Tid, Trace, WatchKind};

use crate::support::{fixture, Opt};

/// A gdbserver holding one program, for one connection.
pub(crate) struct Gdbserver {
    child: Child,
    port: u16,
}

impl Gdbserver {
    /// `gdbserver --once 127.0.0.1:0 PROGRAM ARGS`, or `None` without gdbserver.
    pub(crate) fn start(program: &std::path::Path, args: &[&str]) -> Option<Gdbserver> {
        let spawned = Command::new("gdbserver")
            .args(["--once", "127.0.0.1:0"])
            .arg(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn();
        let mut child = match spawned {
            Ok(child) => child,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                eprintln!("gdbserver is not installed: remote backend test skipped");
                return None;
            }
            Err(e) => panic!("cannot run gdbserver: {e}"),
        };
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let port = lines
            .by_ref()
            .map_while(Result::ok)
            .find_map(|l| l.strip_prefix("Listening on port ").and_then(|p| p.trim().parse().ok()))
            .expect("gdbserver says where it listens");
        // Keep reading its stderr so that it never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Some(Gdbserver { child, port })
    }

    pub(crate) fn connect(&self) -> Trace {
        Trace::connect(&format!("127.0.0.1:{}", self.port)).expect("connect to gdbserver")
    }
}

impl Drop for Gdbserver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the scenario saw, with addresses made relative (the two runs differ in ASLR).
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    rdi: u64,
    pc_is_d: bool,
    functions: Vec<String>,
    marker: String,
    counter: u64,
    step_offset: u64,
    frame_pointer_chain_ok: bool,
}

fn scenario(trace: &mut Trace) -> Seen {
    let d = trace.sym_by_name("d").expect("symbol d");
    trace.add_break_by_addr(d).unwrap();
    let event = loop {
        let event = trace.run().unwrap();
        match event.kind {
            EventKind::Breakpoint { .. } => break event,
            EventKind::Exited(status) => panic!("exited ({status}) before d"),
            _ => continue,
        }
    };
    let pc = trace.pc().unwrap();
    let rdi = trace.register_u64("rdi").unwrap();
    let frames = trace.backtrace(event.tid).unwrap();
    let functions: Vec<String> = frames.iter().take(5).map(|f| f.function.clone().unwrap_or_default()).collect();
    let marker_addr = trace.sym_by_name("marker").unwrap();
    let marker = String::from_utf8(trace.read_c_string(marker_addr, 64).unwrap()).unwrap();
    let counter_addr = trace.sym_by_name("counter").unwrap();
    let counter = trace.read_u64(counter_addr).unwrap();
    trace.stepi().unwrap();
    trace.stepi().unwrap();
    let step_offset = trace.pc().unwrap() - d;
    let rbp = trace.register_u64("rbp").unwrap();
    let saved = trace.read_u64(rbp).unwrap();
    Seen { rdi, pc_is_d: pc == d, functions, marker, counter, step_offset, frame_pointer_chain_ok: saved > rbp }
}

#[test]
fn gdbserver_scenario_matches_the_native_backend() {
    let program = fixture("calls", Opt::O0);
    let Some(server) = Gdbserver::start(&program, &[]) else { return };
    let mut native = Trace::spawn({
        let mut c = Command::new(&program);
        c.stdout(Stdio::null());
        c
    })
    .unwrap();
    let expected = scenario(&mut native);
    assert_eq!(expected.functions, ["d", "c", "b", "a", "main"]);
    assert_eq!(expected.rdi, 4);

    let mut remote = server.connect();
    assert_eq!(remote.threads().len(), 1);
    assert!(remote.exe_path().is_some_and(|p| p.ends_with("calls-O0")), "{:?}", remote.exe_path());
    let seen = scenario(&mut remote);
    assert_eq!(seen, expected);

    // The rest of the program runs as it should once the breakpoint is gone.
    let d = remote.sym_by_name("d").unwrap();
    let id = remote.breakpoint_at(d).unwrap().id;
    remote.remove_breakpoint(id).unwrap();
    let end = remote.run().unwrap();
    assert_eq!(end.kind, EventKind::Exited(ExitStatus::Code(0)));
}

#[test]
fn gdbserver_watchpoints_interrupts_and_registers() {
    let program = fixture("calls", Opt::O0);
    let Some(server) = Gdbserver::start(&program, &[]) else { return };
    let mut trace = server.connect();
    let counter = trace.sym_by_name("counter").unwrap();
    trace.add_watchpoint(counter, 8, WatchKind::Write).unwrap();
    let event = trace.run().unwrap();
    match event.kind {
        EventKind::Watchpoint { addr, old, new, .. } => {
            assert_eq!(addr, counter);
            assert_eq!((old, new), (Some(0), Some(4)), "d(4) adds 4");
        }
        other => panic!("expected the watchpoint, got {other:?}"),
    }
    let pc = trace.pc().unwrap();
    let name = trace.sym_by_addr(pc, false).unwrap().expect("a symbol at pc");
    assert!(name.starts_with("calls-O0.d+") || name.starts_with("d+"), "stopped in {name}");
    // A register write reaches the stub and comes back.
    trace.set_register("r12", 0x1234_5678_u64).unwrap();
    trace.stepi().unwrap();
    assert_eq!(trace.register_u64("r12").unwrap(), 0x1234_5678);
    trace.kill().unwrap();

    let spin = fixture("spin", Opt::O0);
    let Some(server) = Gdbserver::start(&spin, &["30"]) else { return };
    let mut trace = server.connect();
    let interrupter = trace.interrupter();
    trace.start().unwrap();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        interrupter.interrupt().unwrap();
    });
    let event = trace.wait().unwrap();
    assert_eq!(event.kind, EventKind::Interrupted);
    assert!(trace.pc().is_ok());
    trace.kill().unwrap();
}

/// `tests/fixtures/NAME.c` built static (qemu-user's stub runs it without a dynamic linker).
fn static_fixture(name: &str) -> std::path::PathBuf {
    let out_dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("fixtures");
    let args = ["-g", "-O0", "-fno-omit-frame-pointer", "-pthread", "-static"];
    test_fixtures::compile(
        &out_dir,
        &format!("{name}.c"),
        &format!("{name}-static"),
        &test_fixtures::c_compiler(),
        &args,
        &[],
    )
}

/// A qemu-x86_64 stub holding `program`, and a trace connected to it.
fn qemu_user(program: &std::path::Path, args: &[&str]) -> Option<(Child, Trace)> {
    if Command::new("qemu-x86_64").arg("--version").output().is_err() {
        eprintln!("qemu-x86_64 is not installed: qemu-user test skipped");
        return None;
    }
    // A free port (qemu takes a number, not 0).
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let qemu = Command::new("qemu-x86_64")
        .args(["-g", &port.to_string()])
        .arg(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let address = format!("127.0.0.1:{port}");
    let trace = (0..100)
        .find_map(|_| {
            std::thread::sleep(Duration::from_millis(20));
            Trace::connect_with_program(&address, program.to_str().unwrap()).ok()
        })
        .expect("connect to qemu's stub");
    Some((qemu, trace))
}

#[test]
fn qemu_user_stub_with_the_local_program() {
    let program = static_fixture("calls");
    let mut native = Trace::spawn({
        let mut c = Command::new(&program);
        c.stdout(Stdio::null());
        c
    })
    .unwrap();
    let expected = scenario(&mut native);
    drop(native);

    let Some((mut qemu, mut trace)) = qemu_user(&program, &[]) else { return };
    // qemu writes no code: the breakpoint goes in with Z0, and the scenario is the same.
    let seen = scenario(&mut trace);
    assert_eq!(seen, expected);
    trace.kill().unwrap();
    let _ = qemu.kill();
    let _ = qemu.wait();
}

/// Runs `trace` to its end with thread creation stopping it; returns the
/// threads reported created. Every breakpoint hit must be in a thread already
/// reported (or the main one).
fn created_threads(trace: &mut Trace) -> BTreeSet<Tid> {
    trace.disable_auto_continue(EventType::ThreadCreated);
    let main = trace.pid();
    let mut created = BTreeSet::new();
    loop {
        let event = trace.run().unwrap();
        match event.kind {
            EventKind::ThreadCreated { new_tid } => {
                assert!(trace.threads().contains(&new_tid), "{new_tid} not in {:?}", trace.threads());
                assert!(created.insert(new_tid), "{new_tid} created twice");
            }
            EventKind::Breakpoint { .. } => {
                assert!(event.tid == main || created.contains(&event.tid), "a hit in unannounced thread {}", event.tid)
            }
            EventKind::Exited(status) => {
                assert_eq!(status, ExitStatus::Code(0));
                return created;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}

/// The protocol has no thread events without `QThreadEvents`: threads are
/// reported created when first seen at a stop, before the stop itself.
#[test]
fn gdbserver_threads_are_reported_created_when_first_seen() {
    let program = fixture("threads", Opt::O0);
    let Some(server) = Gdbserver::start(&program, &["4", "3"]) else { return };
    let mut trace = server.connect();
    let work = trace.sym_by_name("work").unwrap();
    trace.add_break_by_addr(work).unwrap();
    let created = created_threads(&mut trace);
    assert_eq!(created.len(), 4, "{created:?}");
}

/// Writes through the trace with breakpoints held by the stub (`Z0`): a data
/// byte that happens to be the break instruction is data, and code written
/// over a breakpoint is what memory holds once the breakpoint is gone.
#[test]
fn gdbserver_writes_around_stub_breakpoints_keep_memory_right() {
    let program = fixture("calls", Opt::O0);
    let Some(server) = Gdbserver::start(&program, &[]) else { return };
    let mut trace = server.connect();
    let counter = trace.sym_by_name("counter").unwrap();
    trace.write_memory(counter, &[0xcc]).unwrap();
    assert_eq!(trace.read_memory(counter, 1).unwrap(), [0xcc]);
    trace.write_memory(counter, &[0x41]).unwrap();
    assert_eq!(trace.read_memory(counter, 1).unwrap(), [0x41]);
    trace.write_memory(counter, &[0]).unwrap();

    let d = trace.sym_by_name("d").unwrap();
    let original = trace.read_memory(d, 4).unwrap();
    let id = trace.add_break_by_addr(d).unwrap();
    // The same bytes written over the breakpoint: still hidden while it is in...
    trace.write_memory(d, &original).unwrap();
    assert_eq!(trace.read_memory(d, 4).unwrap(), original);
    // ...and in memory once it is out, with no stray break instruction.
    trace.remove_breakpoint(id).unwrap();
    assert_eq!(trace.read_memory(d, 4).unwrap(), original);
    let end = trace.run().unwrap();
    assert_eq!(end.kind, EventKind::Exited(ExitStatus::Code(0)), "{end:?}");
}
