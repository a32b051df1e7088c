//! The C programs a benchmark run needs, compiled into a work directory.

use std::path::{Path, PathBuf};
use std::process::Command;

use oxtrace::symbols::SymbolTable;

const BENCH_TARGET: &str = include_str!("bench_target.c");
const RAW_PTRACE: &str = include_str!("raw_ptrace.c");
const BENCH_STACK: &str = include_str!("bench_stack.c");
const BENCH_SNAPSHOT: &str = include_str!("bench_snapshot.c");
const LIBDEBUG: &str = include_str!("libdebug_bench.py");
const PYTHON_PTRACE: &str = include_str!("python_ptrace_bench.py");
const OXTRACE_PY: &str = include_str!("oxtrace_py_bench.py");
const VTRACE: &str = include_str!("vtrace_bench.py");

/// Compiled programs and what the tools need to know about them.
#[derive(Debug, Clone)]
pub struct Programs {
    /// The debuggee: calls `target()` N times.
    pub target: PathBuf,
    /// The address of `target()` (the debuggee is not position-independent).
    pub target_addr: u64,
    /// The address of an instruction inside `target()` that oxtrace cannot
    /// emulate (a store to the stack): its breakpoint is left out of line.
    pub inner_addr: u64,
    /// The minimal C tracer.
    pub raw_ptrace: PathBuf,
    /// The debuggee of the backtrace row (-O2 -fomit-frame-pointer).
    pub stack: PathBuf,
    /// The debuggee of the snapshot rows: a touched heap, then SIGSTOP.
    pub snapshot: PathBuf,
    /// The system's C library.
    pub libc: PathBuf,
    /// The same debuggee built for i386 (`gcc -m32`), and the address of its
    /// `target()`; `None` where no 32-bit C library is installed.
    pub target_i386: Option<(PathBuf, u64)>,
}

/// Where Debian, Fedora and others install the C library.
const LIBC_PATHS: [&str; 4] = [
    "/lib/x86_64-linux-gnu/libc.so.6",
    "/usr/lib/x86_64-linux-gnu/libc.so.6",
    "/lib64/libc.so.6",
    "/usr/lib64/libc.so.6",
];

fn compile(dir: &Path, name: &str, source: &str, flags: &[&str]) -> Result<PathBuf, String> {
    let src = dir.join(format!("{name}.c"));
    let out = dir.join(name);
    std::fs::write(&src, source).map_err(|e| format!("{}: {e}", src.display()))?;
    let compiler = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let output = Command::new(&compiler)
        .args(flags)
        .arg("-o")
        .arg(&out)
        .arg(&src)
        .output()
        .map_err(|e| format!("cannot run {compiler}: {e}"))?;
    if !output.status.success() {
        return Err(format!("compiling {name}: {}", String::from_utf8_lossy(&output.stderr)));
    }
    Ok(out)
}

/// The first instruction of the function at `addr` that writes memory other
/// than by a push (at -O0, storing the argument to the stack).
fn inner_instruction(program: &Path, addr: u64) -> Result<u64, String> {
    use object::{Object, ObjectSection};
    let data = std::fs::read(program).map_err(|e| format!("{}: {e}", program.display()))?;
    let file = object::File::parse(&*data).map_err(|e| e.to_string())?;
    let text = file.section_by_name(".text").ok_or("bench_target has no .text")?;
    let code = text.data().map_err(|e| e.to_string())?;
    let start = usize::try_from(addr - text.address()).map_err(|e| e.to_string())?;
    let window = code.get(start..start + 32).ok_or("target() is outside .text")?;
    let mut decoder = iced_x86::Decoder::with_ip(64, window, addr, iced_x86::DecoderOptions::NONE);
    decoder
        .iter()
        .take(6)
        .find(|i| i.op0_kind() == iced_x86::OpKind::Memory && i.mnemonic() == iced_x86::Mnemonic::Mov)
        .map(|i| i.ip())
        .ok_or_else(|| "no store in the first instructions of target()".into())
}

/// The flags that build a 32-bit program without gcc-multilib: `-m32` and an
/// include directory under `dir` whose `asm` links to the x86 asm headers,
/// which serve both widths (Debian installs them in the 64-bit directory only).
fn m32_flags(dir: &Path) -> Result<Vec<String>, String> {
    let include = dir.join("i386-include");
    let link = include.join("asm");
    if std::fs::symlink_metadata(&link).is_err() {
        std::fs::create_dir_all(&include).map_err(|e| format!("{}: {e}", include.display()))?;
        std::os::unix::fs::symlink("/usr/include/x86_64-linux-gnu/asm", &link)
            .map_err(|e| format!("{}: {e}", link.display()))?;
    }
    Ok(vec!["-m32".into(), "-I".into(), include.display().to_string()])
}

impl Programs {
    /// Where the breakpoint of a workload goes.
    pub fn break_addr(&self, workload: crate::Workload) -> u64 {
        match workload {
            crate::Workload::Displaced => self.inner_addr,
            crate::Workload::I386 => self.target_i386.as_ref().map_or(0, |(_, addr)| *addr),
            _ => self.target_addr,
        }
    }

    /// The debuggee of a workload (the 32-bit build for the i386 row).
    pub fn program(&self, workload: crate::Workload) -> Result<&Path, String> {
        match workload {
            crate::Workload::I386 => self
                .target_i386
                .as_ref()
                .map(|(path, _)| path.as_path())
                .ok_or_else(|| "no 32-bit build (libc6-dev-i386 and lib32gcc-12-dev are needed)".into()),
            _ => Ok(&self.target),
        }
    }

    /// Compiles everything into `dir`.
    pub fn build(dir: &Path) -> Result<Programs, String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        // -O0 keeps the loop and the call; -no-pie gives target() a fixed address for the raw tracer.
        let target = compile(dir, "bench_target", BENCH_TARGET, &["-O0", "-g", "-no-pie", "-fno-pie"])?;
        let raw_ptrace = compile(dir, "raw_ptrace", RAW_PTRACE, &["-O2"])?;
        compile(dir, "bench_stack", BENCH_STACK, &["-O2", "-g", "-fomit-frame-pointer"])?;
        compile(dir, "bench_snapshot", BENCH_SNAPSHOT, &["-O2", "-g"])?;
        // The 32-bit row only: a machine without the 32-bit C library measures the rest.
        let mut i386 = m32_flags(dir)?;
        i386.extend(["-O0", "-g", "-no-pie", "-fno-pie"].map(String::from));
        let i386: Vec<&str> = i386.iter().map(String::as_str).collect();
        if let Err(e) = compile(dir, "bench_target_i386", BENCH_TARGET, &i386) {
            eprintln!("oxbench: no 32-bit row: {e}");
        }
        let scripts = [
            ("libdebug_bench.py", LIBDEBUG),
            ("python_ptrace_bench.py", PYTHON_PTRACE),
            ("oxtrace_py_bench.py", OXTRACE_PY),
            ("vtrace_bench.py", VTRACE),
        ];
        for (name, text) in scripts {
            std::fs::write(dir.join(name), text).map_err(|e| format!("{name}: {e}"))?;
        }
        Self::open(dir).map(|p| Programs { target, raw_ptrace, ..p })
    }

    /// The programs of a directory [`Programs::build`] filled.
    pub fn open(dir: &Path) -> Result<Programs, String> {
        let target = dir.join("bench_target");
        let table = SymbolTable::load(&target).map_err(|e| e.to_string())?;
        let target_addr = table.by_name("target").ok_or("bench_target has no symbol target")?.addr;
        let inner_addr = inner_instruction(&target, target_addr)?;
        let libc = LIBC_PATHS.iter().map(PathBuf::from).find(|p| p.exists()).ok_or("no libc.so.6 found")?;
        let i386 = dir.join("bench_target_i386");
        let target_i386 = SymbolTable::load(&i386).ok().and_then(|t| Some((i386, t.by_name("target")?.addr)));
        Ok(Programs {
            target,
            target_addr,
            inner_addr,
            raw_ptrace: dir.join("raw_ptrace"),
            stack: dir.join("bench_stack"),
            snapshot: dir.join("bench_snapshot"),
            libc,
            target_i386,
        })
    }
}
