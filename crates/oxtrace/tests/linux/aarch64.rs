//! The second architecture: static aarch64 fixtures under qemu-aarch64's stub,
//! driven through the remote backend, at -O0 and at -O2 -fomit-frame-pointer.
//! A break in a nested function, the registers, the backtrace (CFI, with a leaf
//! that keeps its return address in the link register), memory, a step and a
//! step out, each compared with gdb-multiarch on the same program and stop.
//!
//! Then the same program with no operating system under qemu-system-aarch64's
//! stub (`-s`): breakpoints through `Z0`, registers, backtrace, memory, steps.
//!
//! Needs Debian's gcc-aarch64-linux-gnu, qemu-user, qemu-system-arm and
//! gdb-multiarch (`.ci/run` installs them); a missing one fails the test, naming it.

use std::collections::HashMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use oxtrace::{EventKind, ExitStatus, Trace};

use crate::support::{
    fixture_aarch64, fixture_aarch64_baremetal, fixture_aarch64_signed, parse_gdb_backtrace, Opt, AARCH64_CC,
};

/// A qemu with its gdb stub listening, killed when dropped.
struct Qemu {
    child: Child,
    address: String,
}

impl Qemu {
    /// `qemu-aarch64 -g PORT PROGRAM`.
    fn start(program: &Path) -> Qemu {
        let port = free_port();
        let mut command = Command::new("qemu-aarch64");
        command.args(["-g", &port.to_string()]).arg(program);
        Qemu::spawn(command, port, "qemu-aarch64 (Debian's qemu-user)")
    }

    /// `qemu-system-aarch64 -M virt -kernel PROGRAM`, stopped before its first instruction.
    fn start_system(program: &Path) -> Qemu {
        let port = free_port();
        let mut command = Command::new("qemu-system-aarch64");
        command
            .args(["-M", "virt", "-cpu", "cortex-a57", "-m", "128", "-nodefaults", "-display", "none"])
            .args(["-serial", "null", "-monitor", "none", "-S", "-gdb", &format!("tcp:127.0.0.1:{port}")])
            .arg("-kernel")
            .arg(program);
        Qemu::spawn(command, port, "qemu-system-aarch64 (Debian's qemu-system-arm)")
    }

    fn spawn(mut command: Command, port: u16, what: &str) -> Qemu {
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{what} is needed for the aarch64 tests: {e}"));
        Qemu { child, address: format!("127.0.0.1:{port}") }
    }

    /// Connects oxtrace, waiting for qemu to listen.
    fn connect(&self, program: &Path) -> Trace {
        (0..200)
            .find_map(|_| {
                std::thread::sleep(Duration::from_millis(20));
                Trace::connect_with_program(&self.address, program.to_str().unwrap()).ok()
            })
            .expect("connect to qemu-aarch64's stub")
    }
}

impl Drop for Qemu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free port (qemu takes a number, not 0).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn require_tools() {
    for (tool, package) in
        [(AARCH64_CC, "gcc-aarch64-linux-gnu"), ("qemu-aarch64", "qemu-user"), ("gdb-multiarch", "gdb-multiarch")]
    {
        let found = Command::new(tool).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status();
        assert!(found.is_ok(), "{tool} is needed for the aarch64 tests: install Debian's {package}");
    }
}

/// What gdb-multiarch said at the same stops: the backtrace at `inner`, some
/// registers there, the pc after one `stepi`, and pc and x0 after `finish`.
struct GdbView {
    backtrace: Vec<crate::support::GdbFrame>,
    at_inner: HashMap<String, u64>,
    after_stepi: u64,
    after_finish: HashMap<String, u64>,
}

/// The `info registers` lines of one section of gdb's output, by name.
fn registers(section: &str) -> HashMap<String, u64> {
    section
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let name = words.next()?;
            let value = u64::from_str_radix(words.next()?.strip_prefix("0x")?, 16).ok()?;
            Some((name.to_owned(), value))
        })
        .collect()
}

fn gdb_view(program: &Path) -> GdbView {
    let qemu = Qemu::start(program);
    std::thread::sleep(Duration::from_millis(200));
    let file = format!("file {}", program.display());
    let target = format!("target remote {}", qemu.address);
    let commands = [
        file.as_str(),
        target.as_str(),
        "break *inner",
        "continue",
        "echo @@bt\\n",
        "bt",
        "echo @@regs\\n",
        "info registers pc sp x0 x29 x30",
        "echo @@stepi\\n",
        "stepi",
        "info registers pc",
        "echo @@finish\\n",
        "finish",
        "echo @@after\\n",
        "info registers pc x0",
        "kill",
    ];
    let mut gdb = Command::new("gdb-multiarch");
    gdb.args(["-nx", "-q", "--batch"]);
    for command in commands {
        gdb.args(["-ex", command]);
    }
    let output = gdb.output().expect("run gdb-multiarch");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let section = |name: &str| -> String {
        let start = text.find(&format!("@@{name}\n")).unwrap_or_else(|| panic!("gdb printed no {name}:\n{text}"));
        let rest = &text[start + name.len() + 3..];
        rest[..rest.find("@@").unwrap_or(rest.len())].to_owned()
    };
    GdbView {
        backtrace: parse_gdb_backtrace(&section("bt")),
        at_inner: registers(&section("regs")),
        after_stepi: registers(&section("stepi"))["pc"],
        after_finish: registers(&section("after")),
    }
}

/// The scenario at one optimisation level.
fn break_in_a_nested_function(opt: Opt) {
    require_tools();
    let program = fixture_aarch64("nested", opt);
    let gdb = gdb_view(&program);

    let qemu = Qemu::start(&program);
    let mut trace = qemu.connect(&program);
    assert_eq!(trace.arch().name, "aarch64");
    let inner = trace.sym_by_name("inner").unwrap();
    trace.add_break_by_addr(inner).unwrap();
    let event = trace.run().unwrap();
    assert!(matches!(event.kind, EventKind::Breakpoint { .. }), "{event:?}");

    // Registers: the argument by calling convention, and gdb's values.
    assert_eq!(trace.pc().unwrap(), inner);
    assert_eq!(trace.register_u64("x0").unwrap(), 41, "inner(41): the first argument is in x0");
    assert_eq!(trace.register_u64("w0").unwrap(), 41);
    for name in ["pc", "sp", "x0", "x29", "x30"] {
        assert_eq!(trace.register_u64(name).unwrap(), gdb.at_inner[name], "{name} at inner ({opt:?})");
    }
    assert_eq!(trace.register_u64("lr").unwrap(), gdb.at_inner["x30"]);

    // The backtrace: gdb's frames (it stops at main), then the C library's start.
    let frames = trace.backtrace(event.tid).unwrap();
    let names: Vec<String> = frames.iter().map(|f| f.function.clone().unwrap_or_default()).collect();
    assert!(names.len() >= 4 && names[..4] == ["inner", "middle", "outer", "main"], "{frames:#?}");
    assert_eq!(gdb.backtrace.len(), 4, "{:?}", gdb.backtrace);
    for (ours, theirs) in frames.iter().zip(&gdb.backtrace) {
        assert_eq!(ours.function.as_deref(), Some(theirs.name.as_str()));
        if let Some(pc) = theirs.pc {
            assert_eq!(ours.pc, pc, "frame {} ({opt:?})", theirs.name);
        }
    }
    assert!(names.iter().any(|n| n.contains("libc_start")), "the walk goes on past main: {names:?}");
    assert_eq!(frames[0].file.as_deref().map(|f| f.ends_with("nested_calls.h")), Some(true));

    // Memory: a global string and a counter.
    let message = trace.sym_by_name("message").unwrap();
    assert_eq!(trace.read_c_string(message, 64).unwrap(), b"hello from aarch64");
    let counter = trace.sym_by_name("counter").unwrap();
    assert_eq!(trace.read_u64(counter).unwrap(), 7);

    // One instruction, then out to middle with inner's return value.
    assert_eq!(trace.stepi().unwrap().kind, EventKind::Step);
    assert_eq!(trace.pc().unwrap(), gdb.after_stepi);
    assert_eq!(trace.pc().unwrap(), inner + 4);
    assert_eq!(trace.step_out().unwrap().kind, EventKind::Step);
    assert_eq!(trace.pc().unwrap(), gdb.after_finish["pc"]);
    assert_eq!(trace.pc().unwrap(), frames[1].pc);
    assert_eq!(trace.register_u64("x0").unwrap(), 100);
    assert_eq!(trace.register_u64("x0").unwrap(), gdb.after_finish["x0"]);
    assert_eq!(trace.read_u64(counter).unwrap(), 7 + 43);

    // The breakpoint stays: the rest runs to a clean exit.
    let end = trace.run().unwrap();
    assert_eq!(end.kind, EventKind::Exited(ExitStatus::Code(0)), "{end:?}");
}

#[test]
fn aarch64_under_qemu_at_o0() {
    break_in_a_nested_function(Opt::O0);
}

#[test]
fn aarch64_under_qemu_at_o2_without_frame_pointers() {
    break_in_a_nested_function(Opt::O2);
}

#[test]
fn aarch64_without_an_operating_system_under_qemu_system() {
    require_tools();
    let program = fixture_aarch64_baremetal("baremetal");
    let qemu = Qemu::start_system(&program);
    let mut trace = qemu.connect(&program);
    assert_eq!(trace.arch().name, "aarch64");
    // Stopped at reset, on the program's first instruction.
    let start = trace.sym_by_name("_start").unwrap();
    assert_eq!(trace.pc().unwrap(), start);
    assert_eq!(trace.backtrace(trace.current_thread()).unwrap()[0].symbol.as_deref(), Some("_start"));

    // A breakpoint (through `Z0`: a `brk` in memory would be the guest's own exception).
    let inner = trace.sym_by_name("inner").unwrap();
    let breakpoint = trace.add_break_by_addr(inner).unwrap();
    let event = trace.run().unwrap();
    assert!(matches!(event.kind, EventKind::Breakpoint { .. }), "{event:?}");
    assert_eq!(trace.pc().unwrap(), inner);
    assert_eq!(trace.register_u64("x0").unwrap(), 41);
    let stack = trace.sym_by_name("stack").unwrap();
    let sp = trace.register_u64("sp").unwrap();
    assert!(sp > stack && sp <= stack + 16384, "sp {sp:#x} in the program's stack at {stack:#x}");

    // The backtrace down to the start code, by CFI.
    let frames = trace.backtrace(event.tid).unwrap();
    let names: Vec<&str> = frames.iter().map(|f| f.function.as_deref().unwrap_or("??")).collect();
    assert_eq!(names, ["inner", "middle", "outer", "entry", "_start"], "{frames:#?}");
    assert_eq!(frames[1].pc, trace.register_u64("lr").unwrap());

    // Memory, a step, and out to middle with the return value.
    let message = trace.sym_by_name("message").unwrap();
    assert_eq!(trace.read_c_string(message, 64).unwrap(), b"hello from bare metal");
    assert_eq!(trace.stepi().unwrap().kind, EventKind::Step);
    assert_eq!(trace.pc().unwrap(), inner + 4);
    assert_eq!(trace.step_out().unwrap().kind, EventKind::Step);
    assert_eq!(trace.pc().unwrap(), frames[1].pc);
    assert_eq!(trace.register_u64("x0").unwrap(), 100);
    let counter = trace.sym_by_name("counter").unwrap();
    assert_eq!(trace.read_u64(counter).unwrap(), 7 + 43);

    // The breakpoint is gone from the stub once removed: the program runs on
    // to its wait loop, where an interrupt stops it.
    trace.remove_breakpoint(breakpoint).unwrap();
    let interrupter = trace.interrupter();
    let stopper = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        interrupter.interrupt().unwrap();
    });
    let stopped = trace.run().unwrap();
    stopper.join().unwrap();
    assert_eq!(stopped.kind, EventKind::Interrupted, "{stopped:?}");
    assert_eq!(trace.read_u64(counter).unwrap(), 100 + 2 + 1);
    trace.kill().unwrap();
}

/// Return addresses signed by pointer authentication (`paciasp` before they
/// are saved): the CFI's `DW_CFA_AARCH64_negate_ra_state` is understood and
/// the code is stripped, so the walk goes on through every signed frame.
#[test]
fn aarch64_return_addresses_signed_by_pointer_authentication() {
    require_tools();
    let program = fixture_aarch64_signed("nested");
    let qemu = Qemu::start(&program);
    let mut trace = qemu.connect(&program);
    let inner = trace.sym_by_name("inner").unwrap();
    trace.add_break_by_addr(inner).unwrap();
    let event = trace.run().unwrap();
    assert!(matches!(event.kind, EventKind::Breakpoint { .. }), "{event:?}");
    let frames = trace.backtrace(event.tid).unwrap();
    let names: Vec<&str> = frames.iter().map(|f| f.function.as_deref().unwrap_or("??")).collect();
    assert!(names.len() >= 4 && names[..4] == ["inner", "middle", "outer", "main"], "{frames:#?}");
    assert!(names.iter().any(|n| n.contains("libc_start")), "the walk goes on past main: {names:?}");
    assert_eq!(trace.step_out().unwrap().kind, EventKind::Step);
    assert_eq!(trace.pc().unwrap(), frames[1].pc);
}
