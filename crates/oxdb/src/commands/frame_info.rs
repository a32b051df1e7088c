//! `info frame` as gdb shows it: the selected frame's address (its CFA),
//! pc and saved pc, the frames it calls and is called by, the address of
//! its arguments and locals, and where it saved its caller's registers.

use std::io::Write;

use oxtrace::Trace;

use super::Args;
use crate::session::{CmdError, CmdResult, Session};

/// gdb's x86-64 register order, which its "Saved registers" list follows.
const GDB_ORDER: &[&str] = &[
    "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "rip",
];

/// `info frame`.
pub fn info_frame(session: &mut Session, _args: Args<'_>, out: &mut dyn Write) -> CmdResult {
    let level = session.selected_frame;
    let trace = session.trace()?;
    let tid = trace.current_thread();
    let frames = trace.backtrace(tid)?;
    let frame = frames.get(level).ok_or_else(|| CmdError(format!("no frame {level}")))?;
    let physical = trace.stack_trace(tid)?;
    let this = physical.get(frame.physical).ok_or_else(|| CmdError(format!("no frame {level}")))?;
    let hex = |v: Option<u64>| v.map_or_else(|| "?".to_owned(), |v| format!("{v:#x}"));
    writeln!(out, "Stack level {level}, frame at {}:", hex(frame.cfa))?;
    let name = frame.function.clone().or_else(|| frame.symbol.clone()).unwrap_or_else(|| "??".into());
    let mut line = format!(" {} = {:#x} in {name}", trace.arch().pc, frame.pc);
    if let (Some(file), Some(n)) = (&frame.file, frame.line) {
        line.push_str(&format!(" ({file}:{n})"));
    }
    let caller = frames.get(level + 1);
    line.push_str(&format!("; saved {} = {}", trace.arch().pc, hex(caller.map(|c| c.pc))));
    writeln!(out, "{line}")?;
    // gdb does not go past main: main is called by no frame.
    let called_by = caller.filter(|_| name != "main").map(|c| format!("called by frame at {}", hex(c.cfa)));
    let caller_of =
        level.checked_sub(1).and_then(|l| frames.get(l)).map(|c| format!("caller of frame at {}", hex(c.cfa)));
    let relations: Vec<String> = called_by.into_iter().chain(caller_of).collect();
    if !relations.is_empty() {
        writeln!(out, " {}", relations.join(", "))?;
    }
    if let Some(language) = frame.file.as_deref().and_then(language_of) {
        writeln!(out, " source language {language}.")?;
    }
    let base = arguments_base(trace, frame.pc, level == 0, &this.regs, frame.symbol.as_deref());
    let args = super::values::frame_arguments(trace, level).unwrap_or_default();
    writeln!(out, " Arglist at {}, args: {args}", hex(base))?;
    writeln!(out, " Locals at {}, Previous frame's sp is {}", hex(base), hex(frame.cfa))?;
    let saved = this.saved_at;
    let mut known: Vec<(&str, u64)> = saved.known().collect();
    known.sort_by_key(|(name, _)| GDB_ORDER.iter().position(|n| n == name).unwrap_or(usize::MAX));
    if !known.is_empty() {
        writeln!(out, " Saved registers:")?;
        let list: Vec<String> = known.iter().map(|(name, at)| format!("{name} at {at:#x}")).collect();
        writeln!(out, "  {}", list.join(", "))?;
    }
    Ok(())
}

/// The source language gdb names for a file.
fn language_of(file: &str) -> Option<&'static str> {
    let ext = file.rsplit_once('.')?.1;
    Some(match ext {
        "c" | "h" => "c",
        "cc" | "cpp" | "cxx" | "C" | "hpp" | "hh" => "c++",
        "rs" => "rust",
        "s" | "S" => "asm",
        _ => return None,
    })
}

/// Where gdb says a frame's arguments and locals are on x86-64: the frame
/// pointer once the function's `push %rbp; mov %rsp,%rbp` has run, else the
/// stack pointer corrected for what the start of the prologue pushed. (This
/// is gdb's prologue reading, reproduced so that the numbers agree; the
/// variables themselves are found through DWARF.)
fn arguments_base(
    trace: &mut Trace,
    pc: u64,
    innermost: bool,
    regs: &oxtrace::unwind::UnwindRegs,
    symbol: Option<&str>,
) -> Option<u64> {
    if trace.arch().name != "x86_64" {
        return regs.fp();
    }
    let start = symbol.and_then(|_| {
        let lookup = if innermost { pc } else { pc.wrapping_sub(1) };
        let symbols = trace.symbols().ok()?;
        let hit = symbols.sym_by_addr(lookup)?;
        Some(lookup - hit.offset)
    })?;
    let code = trace.read_memory(start, 8).ok()?;
    let mut at = 0;
    if code.starts_with(&[0xf3, 0x0f, 0x1e, 0xfa]) {
        // endbr64
        at = 4;
    }
    let mut sp_offset: i64 = -8;
    let mut frameless = true;
    if code.get(at) == Some(&0x55) {
        // push %rbp: counted as run unless pc is still on it.
        sp_offset += 8;
        let mov = code.get(at + 1..at + 4);
        let sets_fp = matches!(mov, Some([0x48, 0x89, 0xe5]) | Some([0x48, 0x8b, 0xec]));
        if pc > start + at as u64 + 1 && sets_fp {
            frameless = false;
        }
    }
    if frameless {
        regs.sp().map(|sp| sp.wrapping_add_signed(sp_offset))
    } else {
        regs.fp()
    }
}
