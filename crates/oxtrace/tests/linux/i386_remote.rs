//! The remote backend on a 32-bit program: gdbserver (and qemu-i386's stub)
//! describe an i386 target, whose registers land in the i386 table;
//! breakpoints, cdecl arguments, backtraces, steps and watchpoints give the
//! native backend's answers.

use std::process::{Command, Stdio};
use std::time::Duration;

use oxtrace::{EventKind, ExitStatus, Trace, WatchKind};

use crate::remote::Gdbserver;
use crate::support::{fixture_i386, Opt};

/// What one run saw, with addresses made relative.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    arch: &'static str,
    argument: u32,
    functions: Vec<String>,
    step_offset: u64,
    esp_moved: u64,
    watched: (Option<u64>, Option<u64>),
}

/// Breaks in `d`, reads its argument and stack, steps twice; then (with
/// `watch`) watches `counter` to its first write.
fn scenario(trace: &mut Trace) -> Seen {
    scenario_with(trace, true)
}

fn scenario_with(trace: &mut Trace, watch: bool) -> Seen {
    let d = trace.sym_by_name("d").unwrap();
    let id = trace.add_break_by_addr(d).unwrap();
    let event = loop {
        let event = trace.run().unwrap();
        match event.kind {
            EventKind::Breakpoint { .. } => break event,
            EventKind::Exited(status) => panic!("exited ({status}) before d"),
            _ => continue,
        }
    };
    assert_eq!(trace.register_u64("eip").unwrap(), d);
    let esp = trace.register_u64("esp").unwrap();
    let argument = trace.read_u32(esp + 4).unwrap();
    let frames = trace.backtrace(event.tid).unwrap();
    let functions = frames.iter().take(5).map(|f| f.function.clone().unwrap_or_default()).collect();
    trace.stepi().unwrap();
    trace.stepi().unwrap();
    let step_offset = trace.pc().unwrap() - d;
    let esp_moved = esp - trace.register_u64("esp").unwrap();
    trace.remove_breakpoint(id).unwrap();
    let mut watched = (None, None);
    if watch {
        let counter = trace.sym_by_name("counter").unwrap();
        trace.add_watchpoint(counter, 4, WatchKind::Write).unwrap();
        let event = trace.run().unwrap();
        let EventKind::Watchpoint { old, new, .. } = event.kind else { panic!("{event:?}") };
        watched = (old, new);
    }
    Seen { arch: trace.arch().name, argument, functions, step_offset, esp_moved, watched }
}

#[test]
fn gdbserver_on_a_32_bit_program_matches_the_native_backend() {
    let program = fixture_i386("calls", Opt::O0);
    let Some(server) = Gdbserver::start(&program, &[]) else { return };
    let mut command = Command::new(&program);
    command.stdout(Stdio::null());
    let mut native = Trace::spawn(command).unwrap();
    let expected = scenario(&mut native);
    assert_eq!(expected.functions, ["d", "c", "b", "a", "main"]);
    assert_eq!((expected.arch, expected.argument, expected.watched), ("i386", 4, (Some(0), Some(4))));

    let mut remote = server.connect();
    assert_eq!(remote.arch().name, "i386", "gdbserver's description names i386");
    assert_eq!(scenario(&mut remote), expected);
    // Registers written through the stub come back.
    remote.set_register("esi", 0x1234_5678_u64).unwrap();
    remote.stepi().unwrap();
    assert_eq!(remote.register_u64("esi").unwrap(), 0x1234_5678);
    assert_eq!(remote.register("xmm7").unwrap().len(), 16);
    remote.remove_watchpoint(remote.watchpoints()[0].id).unwrap();
    assert_eq!(remote.run().unwrap().kind, EventKind::Exited(ExitStatus::Code(0)));
}

#[test]
fn qemu_i386_stub_with_the_local_program() {
    let program = crate::support::fixture_i386_static("calls", Opt::O0);
    let mut command = Command::new(&program);
    command.stdout(Stdio::null());
    let mut native = Trace::spawn(command).unwrap();
    let expected = scenario_with(&mut native, false);
    drop(native);
    assert_eq!(expected.functions, ["d", "c", "b", "a", "main"]);

    // A free port (qemu takes a number, not 0).
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut qemu = Command::new("qemu-i386")
        .args(["-g", &port.to_string()])
        .arg(&program)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("qemu-i386 (Debian's qemu-user)");
    let address = format!("127.0.0.1:{port}");
    let mut trace = (0..100)
        .find_map(|_| {
            std::thread::sleep(Duration::from_millis(20));
            Trace::connect_with_program(&address, program.to_str().unwrap()).ok()
        })
        .expect("connect to qemu's stub");
    assert_eq!(trace.arch().name, "i386");
    assert_eq!(scenario_with(&mut trace, false), expected);
    trace.kill().unwrap();
    let _ = qemu.kill();
    let _ = qemu.wait();
}
