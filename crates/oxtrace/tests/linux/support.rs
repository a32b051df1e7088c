//! Test support: fixtures compiled at test time, and small /proc readers.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Optimisation level of a fixture build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Opt {
    /// `-O0 -fno-omit-frame-pointer`
    O0,
    /// `-O2 -fomit-frame-pointer`
    O2,
}

impl Opt {
    fn flags(self) -> &'static [&'static str] {
        match self {
            Opt::O0 => &["-O0", "-fno-omit-frame-pointer"],
            Opt::O2 => &["-O2", "-fomit-frame-pointer"],
        }
    }

    fn suffix(self) -> &'static str {
        match self {
            Opt::O0 => "O0",
            Opt::O2 => "O2",
        }
    }
}

/// The path of `tests/fixtures/NAME.c` compiled at `opt`, compiling it if needed.
pub fn fixture(name: &str, opt: Opt) -> PathBuf {
    build_fixture(name, opt, &[], "")
}

/// `tests/fixtures/NAME.c` built as the shared library `libNAME.so` at `opt`.
pub fn fixture_library(name: &str, opt: Opt) -> PathBuf {
    build_fixture(name, opt, &["-shared", "-fPIC"], "lib")
}

fn build_fixture(name: &str, opt: Opt, extra: &[&str], prefix: &str) -> PathBuf {
    let out_name = match prefix {
        "" => format!("{name}-{}", opt.suffix()),
        _ => format!("{}/{prefix}{name}.so", opt.suffix()),
    };
    let compiler = test_fixtures::c_compiler();
    let mut args = vec!["-Wall", "-g", "-pthread"];
    args.extend(opt.flags());
    args.extend(extra);
    compile(&format!("{name}.c"), &out_name, &compiler, &args, &["-ldl"])
}

/// `tests/fixtures/NAME.c` built as a 32-bit (i386) program at `opt`
/// (`gcc -m32`, with Debian's `libc6-dev-i386` and `lib32gcc-12-dev`).
pub fn fixture_i386(name: &str, opt: Opt) -> PathBuf {
    let mut args = vec!["-Wall", "-g", "-pthread"];
    args.extend(opt.flags());
    let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fixtures");
    test_fixtures::compile_m32(
        &out_dir,
        &format!("{name}.c"),
        &format!("{name}-i386-{}", opt.suffix()),
        &args,
        &["-ldl"],
    )
}

/// [`fixture_i386`] linked static (no dynamic linker; the C library's code and symbols in the program).
pub fn fixture_i386_static(name: &str, opt: Opt) -> PathBuf {
    let mut args = vec!["-Wall", "-g", "-pthread", "-static"];
    args.extend(opt.flags());
    let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fixtures");
    let out_name = format!("{name}-i386-static-{}", opt.suffix());
    test_fixtures::compile_m32(&out_dir, &format!("{name}.c"), &out_name, &args, &[])
}

/// `tests/fixtures/NAME.c` built as the 32-bit shared library `libNAME.so` at `opt`.
pub fn fixture_library_i386(name: &str, opt: Opt) -> PathBuf {
    let mut args = vec!["-Wall", "-g", "-shared", "-fPIC"];
    args.extend(opt.flags());
    let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fixtures");
    let out_name = format!("i386-{}/lib{name}.so", opt.suffix());
    test_fixtures::compile_m32(&out_dir, &format!("{name}.c"), &out_name, &args, &[])
}

/// The cross compiler for the aarch64 fixtures (Debian's gcc-aarch64-linux-gnu).
pub const AARCH64_CC: &str = "aarch64-linux-gnu-gcc";

/// `tests/fixtures/NAME.c` built static for aarch64 at `opt` (qemu-aarch64
/// runs it without a dynamic linker or libraries of that architecture).
pub fn fixture_aarch64(name: &str, opt: Opt) -> PathBuf {
    let mut args = vec!["-Wall", "-g", "-static"];
    args.extend(opt.flags());
    compile(&format!("{name}.c"), &format!("{name}-aarch64-{}", opt.suffix()), AARCH64_CC, &args, &[])
}

/// [`fixture_aarch64`] at `-O2` with return addresses signed by pointer
/// authentication (`-mbranch-protection=standard`, as newer distributions build).
pub fn fixture_aarch64_signed(name: &str) -> PathBuf {
    let args = ["-Wall", "-g", "-static", "-O2", "-mbranch-protection=standard"];
    compile(&format!("{name}.c"), &format!("{name}-aarch64-pac"), AARCH64_CC, &args, &[])
}

/// `tests/fixtures/NAME.c` built for aarch64 with no operating system:
/// freestanding, linked at 0x40080000 (RAM on qemu-system-aarch64's `virt`
/// machine), starting at `_start`.
pub fn fixture_aarch64_baremetal(name: &str) -> PathBuf {
    let args = [
        "-Wall",
        "-g",
        "-O2",
        "-ffreestanding",
        "-nostdlib",
        "-static",
        "-no-pie",
        "-mgeneral-regs-only",
        "-Wl,-Ttext=0x40080000",
        "-Wl,-e,_start",
    ];
    compile(&format!("{name}.c"), &format!("{name}-aarch64-baremetal"), AARCH64_CC, &args, &[])
}

/// `tests/fixtures/NAME.cpp` built with the C++ compiler at -O2 with debug information.
pub fn fixture_cpp(name: &str) -> PathBuf {
    compile(&format!("{name}.cpp"), &format!("{name}-cpp"), "c++", &["-g", "-O2"], &[])
}

/// `tests/fixtures/NAME.rs` built with rustc (the toolchain running the tests).
pub fn fixture_rust(name: &str) -> PathBuf {
    compile(&format!("{name}.rs"), &format!("{name}-rs"), "rustc", &["-g", "-Copt-level=1", "--edition=2021"], &[])
}

/// Compiles `tests/fixtures/SOURCE` into this crate's fixture directory as `OUT_NAME`.
fn compile(source: &str, out_name: &str, compiler: &str, args: &[&str], libs: &[&str]) -> PathBuf {
    let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fixtures");
    test_fixtures::compile(&out_dir, source, out_name, compiler, args, libs)
}

/// Whether gdb is installed.
pub fn gdb_available() -> bool {
    Command::new("gdb").arg("--version").output().is_ok_and(|o| o.status.success())
}

/// Runs `gdb -nx -q --batch ARGS` and returns its stdout and stderr.
pub fn gdb_batch(args: &[&str]) -> String {
    let output = Command::new("gdb").args(["-nx", "-q", "--batch"]).args(args).output().expect("run gdb");
    String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr)
}

/// Reads lines until one starts with `prefix`; returns it (without the newline).
pub fn wait_for_line(reader: &mut impl BufRead, prefix: &str) -> String {
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        let n = reader.read_line(&mut line).expect("read output");
        assert!(n > 0, "end of output before a line starting with {prefix:?}; read:\n{seen}");
        if line.starts_with(prefix) {
            return line.trim_end().to_owned();
        }
        seen.push_str(&line);
    }
}

/// The state letter of a process or thread from /proc (`R`, `S`, `t`, `Z`...), or None if it is gone.
pub fn process_state(pid: i32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces: the state follows the last ')'.
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

/// The pid tracing `pid` (0 when none), from /proc/PID/status.
pub fn tracer_pid(pid: i32) -> Option<i32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| l.strip_prefix("TracerPid:")).and_then(|v| v.trim().parse().ok())
}

/// Leaves the traced process stopped exactly where it is (detached with a
/// SIGSTOP), attaches gdb to it, runs `commands` and kills it; returns gdb's output.
pub fn gdb_on_the_same_stop(trace: &mut oxtrace::Trace, commands: &[String]) -> String {
    let pid = trace.pid();
    trace.set_pending_signal(Some(libc::SIGSTOP)).unwrap();
    trace.detach().unwrap();
    for _ in 0..100 {
        if process_state(pid) == Some('T') {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let mut args = vec!["-p".to_string(), pid.to_string()];
    for command in commands {
        args.push("-ex".into());
        args.push(command.clone());
    }
    args.extend(["-ex".into(), "kill".into()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    gdb_batch(&args)
}

/// One frame of gdb's `bt`: its pc when gdb prints one (not for frame 0 at a
/// line's start, nor inlined frames), and its function name (`??`, or
/// `<signal handler called>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GdbFrame {
    /// The pc gdb printed.
    pub pc: Option<u64>,
    /// The function name.
    pub name: String,
}

/// The frames of gdb's `bt` output.
pub fn parse_gdb_backtrace(out: &str) -> Vec<GdbFrame> {
    out.lines()
        .filter(|l| l.starts_with('#'))
        .filter_map(|l| {
            let rest = l.split_once(char::is_whitespace)?.1.trim_start();
            if rest.starts_with("<signal handler called>") {
                return Some(GdbFrame { pc: None, name: "<signal handler called>".into() });
            }
            let (pc, rest) = match rest.strip_prefix("0x") {
                Some(hex) => {
                    let (digits, after) = hex.split_once(" in ")?;
                    (Some(u64::from_str_radix(digits, 16).ok()?), after)
                }
                None => (None, rest),
            };
            let name = rest.split([' ', '(']).next()?.to_owned();
            Some(GdbFrame { pc, name })
        })
        .collect()
}

/// xorshift64*: small, seeded, good enough to pick mutations for the fuzz tests.
pub struct Rng(pub u64);

impl Rng {
    /// The next number.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}
