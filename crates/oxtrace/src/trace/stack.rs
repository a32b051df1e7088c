//! Symbols of the loaded modules, source lines and call stacks, through the trace.
//!
//! The symbol view is built from the memory maps on first use and brought up
//! to date when the process has run since (a library may have been loaded);
//! files already parsed are not parsed again.

use std::fmt;

use regex::Regex;

use super::Trace;
use crate::error::{Error, Result, Tid};
use crate::symbols::{SymbolHit, SymbolResolver};
use crate::unwind::{unwind, Frame, UnwindRegs};

/// The deepest stack [`Trace::stack_trace`] walks.
pub const MAX_FRAMES: usize = 65536;

/// One line of a backtrace: a physical frame, or a function inlined into one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BacktraceFrame {
    /// Its number in the backtrace (inlined functions count), innermost 0.
    pub level: usize,
    /// The number of the physical frame it belongs to (see [`Trace::stack_trace`]).
    pub physical: usize,
    /// The frame's pc (a return address for callers).
    pub pc: u64,
    /// The physical frame's canonical frame address, when known.
    pub cfa: Option<u64>,
    /// The physical frame's registers (all in frame 0; the recovered ones in callers).
    pub regs: UnwindRegs,
    /// The module's normalized name.
    pub module: Option<String>,
    /// The nearest ELF symbol (demangled).
    pub symbol: Option<String>,
    /// How far `pc` is past the symbol.
    pub offset: u64,
    /// The function as DWARF names it (the inlined function for inlined
    /// frames), or the symbol without debug information.
    pub function: Option<String>,
    /// The source file (full path as DWARF gives it).
    pub file: Option<String>,
    /// The source line.
    pub line: Option<u32>,
    /// This function was inlined into the next line's function.
    pub inlined: bool,
    /// This frame is a signal trampoline: the next frame was interrupted by a signal.
    pub signal_trampoline: bool,
    /// This function left the stack by a tail call (a jump to the previous
    /// line's function); its frame is rebuilt from DWARF call sites, and `pc`
    /// is the address after that jump.
    pub tail_call: bool,
}

impl fmt::Display for BacktraceFrame {
    /// `#N 0xADDRESS in SYMBOL+0xOFF (FILE:LINE) from MODULE`, leaving out what is unknown;
    /// an inlined frame shows its function without an offset.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{} {:#018x} in ", self.level, self.pc)?;
        match (&self.symbol, &self.function) {
            (_, Some(function)) if self.inlined => write!(f, "{function}")?,
            (Some(symbol), _) if self.offset == 0 => write!(f, "{symbol}")?,
            (Some(symbol), _) => write!(f, "{symbol}+{:#x}", self.offset)?,
            (None, _) => write!(f, "??")?,
        }
        if let (Some(file), Some(line)) = (&self.file, self.line) {
            let name = file.rsplit('/').next().unwrap_or(file);
            write!(f, " ({name}:{line})")?;
        }
        if let Some(module) = &self.module {
            write!(f, " from {module}")?;
        }
        Ok(())
    }
}

impl Trace {
    /// The symbol view of the process, up to date with its maps.
    pub fn symbols(&mut self) -> Result<&SymbolResolver> {
        if self.symbols.is_none() || self.symbols_at_stop != self.stops {
            self.refresh_symbols()?;
        }
        Ok(self.symbols.as_ref().expect("built above"))
    }

    /// Rebuilds the symbol view from the current maps (new libraries are parsed; known ones are kept).
    pub fn refresh_symbols(&mut self) -> Result<()> {
        let maps = self.memory_maps()?;
        let mut resolver = self.symbols.take().unwrap_or_default();
        resolver.update(&maps, &mut |addr, buf| self.read_into(addr, buf).is_ok());
        self.symbols = Some(resolver);
        self.symbols_at_stop = self.stops;
        Ok(())
    }

    /// The symbol at or before `addr` as `name+0xoff`; with `exact`, only one that starts at `addr`.
    pub fn sym_by_addr(&mut self, addr: u64, exact: bool) -> Result<Option<String>> {
        let hit = self.symbols()?.sym_by_addr(addr);
        Ok(hit.filter(|h: &SymbolHit| !exact || h.offset == 0).map(|h| h.to_string()))
    }

    /// The address of a symbol: `module.name`, `module.__entry`, or a bare `name` (the program first).
    pub fn sym_by_name(&mut self, name: &str) -> Result<u64> {
        self.symbols()?.sym_by_name(name).ok_or_else(|| Error::NoSuchSymbol(name.to_owned()))
    }

    /// Symbols matching a regular expression, in one module (by normalized
    /// name) or all, as `(module, symbol, address)` sorted by address.
    pub fn search_symbols(&mut self, pattern: &str, module: Option<&str>) -> Result<Vec<(String, String, u64)>> {
        let regex = Regex::new(pattern).map_err(|e| Error::InvalidArgument(format!("bad regex {pattern:?}: {e}")))?;
        let symbols = self.symbols()?;
        if let Some(name) = module {
            symbols.module_by_name(name).ok_or_else(|| Error::InvalidArgument(format!("no module named {name:?}")))?;
        }
        let mut found: Vec<(String, String, u64)> =
            symbols.search(&regex, module).into_iter().map(|(m, s, a)| (m.name.clone(), s.name.clone(), a)).collect();
        found.sort_by_key(|(_, _, addr)| *addr);
        Ok(found)
    }

    /// The source file and line of a code address, from DWARF.
    pub fn line_for_addr(&mut self, addr: u64) -> Result<Option<(String, u32)>> {
        Ok(self.symbols()?.line_for_addr(addr))
    }

    /// The addresses where code for `file:line` starts (`file` may be a
    /// trailing part of the path); an error when there are none.
    pub fn addrs_for_line(&mut self, file: &str, line: u32) -> Result<Vec<u64>> {
        let found = self.symbols()?.addrs_for_line(file, line);
        if found.is_empty() {
            return Err(Error::NoSuchSymbol(format!("{file}:{line}")));
        }
        Ok(found)
    }

    /// The physical call stack of a thread, innermost frame first: DWARF CFI,
    /// signal frames, then frame pointers where there is no CFI; each frame
    /// with its pc, sp, CFA and recovered registers.
    pub fn stack_trace(&mut self, tid: Tid) -> Result<Vec<Frame>> {
        let layout = &self.arch.unwind;
        let ctx = self.register_context(tid)?;
        let mut initial = UnwindRegs::new(layout);
        for (number, name) in layout.names.iter().enumerate() {
            initial.set(number as u16, Some(ctx.get_u64(name)?));
        }
        self.symbols()?;
        let resolver = self.symbols.take().expect("built above");
        let mut read = |addr: u64, buf: &mut [u8]| self.read_into(addr, buf).is_ok();
        let frames = unwind(initial, &resolver, &mut read, MAX_FRAMES);
        self.symbols = Some(resolver);
        Ok(frames)
    }

    /// The registers of physical frame `n` of a thread: all of them in frame
    /// 0, the recovered ones (callee-saved, sp, pc) in callers.
    pub fn frame_registers(&mut self, tid: Tid, n: usize) -> Result<UnwindRegs> {
        let frames = self.stack_trace(tid)?;
        let count = frames.len();
        frames
            .get(n)
            .map(|f| f.regs)
            .ok_or_else(|| Error::InvalidArgument(format!("thread {tid} has no frame {n} (it has {count})")))
    }

    /// The symbolized call stack of a thread, with functions inlined into a
    /// frame listed as frames of their own (as gdb does).
    pub fn backtrace(&mut self, tid: Tid) -> Result<Vec<BacktraceFrame>> {
        let frames = self.stack_trace(tid)?;
        let layout = &self.arch.unwind;
        let symbols = self.symbols()?;
        let mut lines = Vec::with_capacity(frames.len());
        for (physical, frame) in frames.iter().enumerate() {
            // Functions that tail-called into the previous frame's function.
            if let Some(callee) = physical.checked_sub(1).map(|i| &frames[i]).filter(|_| !frame.exact_pc) {
                if let Some(start) = symbols.sym_by_addr(callee.lookup_pc()).map(|hit| hit.addr) {
                    for pc in symbols.tail_call_chain(frame.pc, start) {
                        let regs = UnwindRegs::new(layout);
                        push_lines(&mut lines, symbols, physical, pc, pc.wrapping_sub(1), None, regs, false, true);
                    }
                }
            }
            let (pc, lookup) = (frame.pc, frame.lookup_pc());
            let (cfa, regs, signal) = (frame.cfa, frame.regs, frame.signal_trampoline);
            push_lines(&mut lines, symbols, physical, pc, lookup, cfa, regs, signal, false);
        }
        for (level, line) in lines.iter_mut().enumerate() {
            line.level = level;
        }
        Ok(lines)
    }
}

/// The backtrace lines of one frame: one per function inlined at `lookup`, then the frame's own.
#[allow(clippy::too_many_arguments)]
fn push_lines(
    lines: &mut Vec<BacktraceFrame>,
    symbols: &SymbolResolver,
    physical: usize,
    pc: u64,
    lookup: u64,
    cfa: Option<u64>,
    regs: UnwindRegs,
    signal_trampoline: bool,
    tail_call: bool,
) {
    let here = symbols.describe(lookup);
    let mut line = BacktraceFrame {
        level: 0,
        physical,
        pc,
        cfa,
        regs,
        module: here.module.clone(),
        symbol: here.symbol.clone(),
        offset: if here.symbol.is_some() { pc.wrapping_sub(here.symbol_addr) } else { 0 },
        function: here.symbol.clone(),
        file: None,
        line: None,
        inlined: false,
        signal_trampoline,
        tail_call,
    };
    if here.source.is_empty() {
        lines.push(line);
        return;
    }
    // gdb shows a tail-call frame as its innermost function only.
    let shown = if tail_call { 1 } else { here.source.len() };
    for source in here.source.into_iter().take(shown) {
        line.function = source.function.or_else(|| here.symbol.clone());
        line.file = source.file;
        line.line = source.line;
        line.inlined = source.inlined && !tail_call;
        lines.push(line.clone());
    }
}
