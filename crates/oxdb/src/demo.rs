//! `oxdb demo`: the README's first command.
//!
//! Writes the demo program's C source to a temporary directory, compiles it
//! with the system C compiler (the one Rust itself links with), runs it under
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
    "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r10", "r11", "r12", "r13",
    "r14", "r15", "rip", "eflags",
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
    let program = dir.join("demo");
    std::fs::write(&source, DEMO_SOURCE)?;
    let compiler = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let output = Command::new(&compiler)
        .args(["-O0", "-g", "-fno-omit-frame-pointer", "-o"])
        .arg(&program)
        .arg(&source)
        .output()
        .map_err(|e| format!("cannot run the C compiler {compiler:?}: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "{compiler} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    }
    Ok(program)
}

/// Runs the demo, writing what it shows to `out`.
pub fn run(out: &mut dyn Write) -> Result<(), Box<dyn Error>> {
    let dir = TempDir(std::env::temp_dir().join(format!("oxdb-demo-{}", std::process::id())));
    std::fs::create_dir_all(&dir.0)?;
    let program = build_demo(&dir.0)?;

    let mut trace = Trace::spawn(Command::new(&program))?;
    writeln!(
        out,
        "spawned {} as pid {}, stopped at {:#x}",
        program.display(),
        trace.pid(),
        trace.pc()?
    )?;
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
        writeln!(
            out,
            "{:<8}{:#018x}  {}",
            name.to_uppercase(),
            value,
            value as i64
        )?;
    }

    writeln!(out, "\ncall stack:")?;
    let frames = trace.stack_trace(event.tid)?;
    for (n, frame) in frames.iter().enumerate() {
        // Return addresses point after the call: look up the call itself.
        let lookup = if n == 0 { frame.pc } else { frame.pc - 1 };
        let symbol = trace.symbols()?.sym_by_addr(lookup).map(|hit| {
            let offset = frame.pc - hit.addr;
            (
                format!("{}+{offset:#x}", hit.symbol.name),
                hit.module.name.clone(),
            )
        });
        match symbol {
            Some((name, module)) => {
                writeln!(out, "#{n} {:#018x} in {name} from {module}", frame.pc)?
            }
            None => writeln!(out, "#{n} {:#018x} in ??", frame.pc)?,
        }
    }

    trace.remove_breakpoint(id)?;
    let end = trace.run()?;
    writeln!(out, "\nthe program went on and ended: {:?}", end.kind)?;
    Ok(())
}
