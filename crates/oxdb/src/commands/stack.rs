//! Call stacks: `bt` (one thread or all), and selecting frames.
//!
//! All backtrace data comes from one function, [`frames`], so that the
//! unwinder behind it can change without touching the commands.

use std::fmt;
use std::io::Write;

use oxtrace::unwind::UnwindRegs;
use oxtrace::{Tid, Trace};

use super::{count_arg, Args};
use crate::session::{CmdError, CmdResult, Session};

/// How many frames of a `bt` show their arguments.
const MAX_FRAMES_WITH_ARGS: usize = 64;

/// One frame of a call stack, as shown by `bt`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameLine {
    /// 0 for the innermost frame.
    pub index: usize,
    /// The frame's program counter (a return address for callers).
    pub pc: u64,
    /// The frame's stack pointer.
    pub sp: u64,
    /// The frame's frame pointer, if the unwinder knows it.
    pub fp: Option<u64>,
    /// The function's symbol, if known.
    pub symbol: Option<String>,
    /// How far `pc` is into the symbol.
    pub offset: u64,
    /// The module holding `pc`.
    pub module: Option<String>,
    /// The source file, if known.
    pub file: Option<String>,
    /// The source line, if known.
    pub line: Option<u32>,
    /// The registers the unwinder knows in this frame.
    pub regs: UnwindRegs,
    /// The function's arguments as `name=value, ...`, when DWARF describes them.
    pub args: Option<String>,
}

impl fmt::Display for FrameLine {
    /// `#N 0xADDRESS in SYMBOL+0xOFF (ARGS) (FILE:LINE) from MODULE`, with the parts that are known.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{} 0x{:016x} in ", self.index, self.pc)?;
        match &self.symbol {
            Some(name) if self.offset != 0 => write!(f, "{name}+{:#x}", self.offset)?,
            Some(name) => write!(f, "{name}")?,
            None => write!(f, "??")?,
        }
        if let Some(args) = &self.args {
            write!(f, " ({args})")?;
        }
        if let Some(file) = &self.file {
            match self.line {
                Some(line) => write!(f, " ({file}:{line})")?,
                None => write!(f, " ({file})")?,
            }
        }
        if let Some(module) = &self.module {
            write!(f, " from {module}")?;
        }
        Ok(())
    }
}

/// The call stack of thread `tid`, innermost frame first, with functions
/// inlined into a frame as frames of their own (as gdb shows them).
pub fn frames(trace: &mut Trace, tid: Tid) -> Result<Vec<FrameLine>, CmdError> {
    Ok(trace
        .backtrace(tid)?
        .into_iter()
        .map(|frame| {
            // A function is shown by its DWARF name, as gdb's `bt` shows it
            // (`__GI_raise`, not the symbol alias `gsignal`; the symbol
            // without debug information), the offset still from its symbol.
            // An inlined function has no symbol of its own: no offset.
            let (symbol, offset) = if frame.inlined {
                (frame.function.clone(), 0)
            } else {
                (frame.function.clone().or_else(|| frame.symbol.clone()), frame.offset)
            };
            FrameLine {
                index: frame.level,
                pc: frame.pc,
                sp: frame.regs.sp().unwrap_or(0),
                fp: frame.regs.fp(),
                symbol,
                offset,
                module: frame.module,
                file: frame.file.map(|f| f.rsplit('/').next().unwrap_or(&f).to_owned()),
                line: frame.line,
                regs: frame.regs,
                args: None,
            }
        })
        .collect())
}

/// `bt [all]`.
pub fn backtrace(session: &mut Session, args: Args<'_>, out: &mut dyn Write) -> CmdResult {
    let all = match args.rest.trim() {
        "" => false,
        "all" | "-a" | "full" => true,
        other => return Err(CmdError(format!("bt takes \"all\" or nothing, not {other:?}"))),
    };
    let trace = session.trace()?;
    if !all {
        let tid = trace.current_thread();
        for mut frame in frames(trace, tid)? {
            // Arguments for the frames a reader looks at; each costs an unwind.
            if frame.index < MAX_FRAMES_WITH_ARGS {
                frame.args = super::values::frame_arguments(trace, frame.index);
            }
            writeln!(out, "{frame}")?;
        }
        return Ok(());
    }
    for tid in trace.threads() {
        writeln!(out, "thread {tid}:")?;
        for frame in frames(trace, tid)? {
            writeln!(out, "{frame}")?;
        }
    }
    Ok(())
}

/// Selects frame `n` and shows it with its pc, sp and fp.
fn select(session: &mut Session, n: usize, out: &mut dyn Write) -> CmdResult {
    let trace = session.trace()?;
    let tid = trace.current_thread();
    let stack = frames(trace, tid)?;
    let frame = stack.get(n).ok_or_else(|| {
        CmdError(format!("no frame {n}: thread {tid} has {} frame(s) (0 to {})", stack.len(), stack.len().max(1) - 1))
    })?;
    writeln!(out, "{frame}")?;
    let fp = frame.fp.map_or_else(|| "unknown".to_string(), |fp| format!("0x{fp:016x}"));
    writeln!(out, "  pc 0x{:016x}  sp 0x{:016x}  fp {fp}", frame.pc, frame.sp)?;
    session.selected_frame = n;
    Ok(())
}

/// `frame [N]`.
pub fn frame(session: &mut Session, args: Args<'_>, out: &mut dyn Write) -> CmdResult {
    let n = match args.rest.trim() {
        "" => session.selected_frame,
        text => text.parse().map_err(|_| CmdError(format!("bad frame number {text:?}")))?,
    };
    select(session, n, out)
}

/// `up [N]`.
pub fn up(session: &mut Session, args: Args<'_>, out: &mut dyn Write) -> CmdResult {
    let n = count_arg(args.rest)? as usize;
    let target = session.selected_frame.saturating_add(n);
    select(session, target, out)
}

/// `down [N]`.
pub fn down(session: &mut Session, args: Args<'_>, out: &mut dyn Write) -> CmdResult {
    let n = count_arg(args.rest)? as usize;
    let target =
        session.selected_frame.checked_sub(n).ok_or_else(|| CmdError("already at the innermost frame".into()))?;
    select(session, target, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_lines_show_only_what_is_known() {
        let mut frame = FrameLine {
            index: 1,
            pc: 0x55d0c3a0116d,
            sp: 0,
            fp: None,
            symbol: Some("c".into()),
            offset: 0x12,
            module: Some("calls".into()),
            file: Some("calls.c".into()),
            line: Some(14),
            regs: UnwindRegs::new(&oxtrace::arch::x86_64::X86_64.unwind),
            args: None,
        };
        assert_eq!(frame.to_string(), "#1 0x000055d0c3a0116d in c+0x12 (calls.c:14) from calls");
        frame.offset = 0;
        frame.file = None;
        frame.module = None;
        assert_eq!(frame.to_string(), "#1 0x000055d0c3a0116d in c");
        frame.symbol = None;
        assert_eq!(frame.to_string(), "#1 0x000055d0c3a0116d in ??");
    }
}
