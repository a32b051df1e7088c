//! `oxdb demo`: the README's first command.
//!
//! Writes the demo program's C source to a temporary directory, compiles it
//! with the system C compiler (`cc`; MinGW-w64's `gcc` on Windows), runs it under
//! oxtrace to a breakpoint in `d`, prints the registers and the call stack,
//! and lets the program finish.

use std::error::Error;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use oxtrace::{EventKind, Trace};

const DEMO_SOURCE: &str = include_str!("demo.c");

/// The general registers shown, in the order gdb and the issue list them.
const SHOWN_REGISTERS: [&str; 18] = [
    "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
    "rip", "eflags",
];

/// A temporary directory removed on drop.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Compiles the demo program into `dir`; returns the executable's path.
fn build_demo(dir: &Path) -> Result<PathBuf, Box<dyn Error>> {
    let source = dir.join("demo.c");
    let program = dir.join(format!("demo{}", std::env::consts::EXE_SUFFIX));
    std::fs::write(&source, DEMO_SOURCE)?;
    let (default_compiler, flags) = crate::host::DEMO_COMPILER;
    let compiler = std::env::var("CC").unwrap_or_else(|_| default_compiler.into());
    let output =
        Command::new(&compiler).args(flags).arg("-o").arg(&program).arg(&source).output().map_err(|e| {
            format!("cannot run the C compiler {compiler:?}: {e} ({})", crate::host::DEMO_COMPILER_HINT)
        })?;
    if !output.status.success() {
        return Err(format!("{compiler} failed: {}", String::from_utf8_lossy(&output.stderr)).into());
    }
    Ok(program)
}

/// Runs the demo, writing what it shows to `out`.
pub fn run(out: &mut dyn Write) -> Result<(), Box<dyn Error>> {
    let dir = TempDir(std::env::temp_dir().join(format!("oxdb-demo-{}", std::process::id())));
    std::fs::create_dir_all(&dir.0)?;
    let program = build_demo(&dir.0)?;

    let mut trace = Trace::spawn(Command::new(&program))?;
    writeln!(out, "spawned {} as pid {}, stopped at {:#x}", program.display(), trace.pid(), trace.pc()?)?;
    let d = trace.sym_by_name("demo.d")?;
    let id = trace.add_break_by_addr(d)?;
    writeln!(out, "breakpoint {id} at d ({d:#x})")?;

    let event = trace.run()?;
    let EventKind::Breakpoint { addr, .. } = event.kind else {
        return Err(format!("expected the breakpoint in d, got {event:?}").into());
    };
    writeln!(out, "\nthread {} stopped at {addr:#x} in d\n", event.tid)?;
    for name in SHOWN_REGISTERS {
        let value = trace.register_u64(name)?;
        // gdb and the x86_64 manuals call the 64-bit flags register RFLAGS.
        let label = if name == "eflags" { "RFLAGS".to_string() } else { name.to_uppercase() };
        writeln!(out, "{label:<8}{value:#018x}  {}", value as i64)?;
    }

    writeln!(out, "\ncall stack:")?;
    // One line a frame, in `bt`'s format; the chain ends at main, as gdb's does.
    let mut chain: Vec<String> = Vec::new();
    for frame in trace.backtrace(event.tid)? {
        writeln!(out, "{frame}")?;
        let function = frame.function.clone().unwrap_or_else(|| "??".into());
        if !chain.contains(&"main".to_string()) {
            chain.push(function);
        }
    }
    writeln!(out, "\n{}", chain.join(" \u{2190} "))?;

    trace.remove_breakpoint(id)?;
    let end = trace.run()?;
    match end.kind {
        EventKind::Exited(status) => writeln!(out, "\nthe program ran on to its end: {status}")?,
        other => writeln!(out, "\nthe program stopped again: {other:?}")?,
    }
    Ok(())
}
