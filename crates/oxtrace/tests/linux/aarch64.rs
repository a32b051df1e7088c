//! The second architecture: static aarch64 fixtures under qemu-aarch64's stub,
//! driven through the remote backend, at -O0 and at -O2 -fomit-frame-pointer.
//! A break in a nested function, the registers, the backtrace (CFI, with a leaf
//! that keeps its return address in the link register), memory, a step and a
//! step out, each compared with gdb-multiarch on the same program and stop.
//!
//! Needs Debian's gcc-aarch64-linux-gnu, qemu-user and gdb-multiarch
//! (`.ci/run` installs them); a missing one fails the test, naming it.

use std::collections::HashMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use oxtrace::{EventKind, ExitStatus, Trace};

use crate::support::{fixture_aarch64, parse_gdb_backtrace, Opt, AARCH64_CC};

/// `qemu-aarch64 -g PORT PROGRAM`, killed when dropped.
struct Qemu {
    child: Child,
    address: String,
}

impl Qemu {
    fn start(program: &Path) -> Qemu {
        // A free port (qemu takes a number, not 0).
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new("qemu-aarch64")
            .args(["-g", &port.to_string()])
            .arg(program)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("qemu-aarch64 (Debian's qemu-user) is needed for the aarch64 tests");
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
    assert_eq!(frames[0].file.as_deref().map(|f| f.ends_with("nested.c")), Some(true));

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
