//! Symbols of the loaded modules and call stacks, through the trace.
//!
//! The symbol view is built from the memory maps on first use and brought up
//! to date when the process has run since (a library may have been loaded);
//! files already parsed are not parsed again.

use super::Trace;
use crate::error::{Error, Result, Tid};
use crate::symbols::{SymbolHit, SymbolResolver};
use crate::unwind::{unwind_frame_pointers, Frame, FrameRegs};

/// The deepest stack [`Trace::stack_trace`] walks.
pub const MAX_FRAMES: usize = 4096;

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
        match self.symbols.as_mut() {
            Some(resolver) => resolver.update(&maps),
            None => self.symbols = Some(SymbolResolver::from_maps(&maps)),
        }
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

    /// The call stack of a thread, innermost frame first, by following frame
    /// pointers (correct for code built with them; the DWARF unwinder replaces this).
    pub fn stack_trace(&mut self, tid: Tid) -> Result<Vec<Frame>> {
        let ctx = self.register_context(tid)?;
        let regs = FrameRegs { pc: ctx.pc()?, sp: ctx.sp()?, fp: ctx.fp()? };
        self.symbols()?;
        let resolver = self.symbols.take().expect("built above");
        let mut function_start = |pc: u64| resolver.sym_by_addr(pc).map(|hit| hit.addr);
        let mut read = |addr: u64, buf: &mut [u8]| self.read_into(addr, buf).is_ok();
        let frames = unwind_frame_pointers(regs, &mut function_start, &mut read, MAX_FRAMES);
        self.symbols = Some(resolver);
        Ok(frames)
    }
}
