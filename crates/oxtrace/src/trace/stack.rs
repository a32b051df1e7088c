//! Symbols of the loaded modules and call stacks, through the trace.
//!
//! The symbol view is built from the memory maps on first use and refreshed
//! when an address or name is not found (a library may have been loaded since).

use super::Trace;
use crate::error::{Error, Result, Tid};
use crate::symbols::{SymbolHit, SymbolResolver};
use crate::unwind::{unwind_frame_pointers, Frame, FrameRegs};

/// The deepest stack [`Trace::stack_trace`] walks.
pub const MAX_FRAMES: usize = 4096;

impl Trace {
    /// The symbol view of the process, built from its maps on first use.
    pub fn symbols(&mut self) -> Result<&SymbolResolver> {
        if self.symbols.is_none() {
            let maps = self.memory_maps()?;
            self.symbols = Some(SymbolResolver::from_maps(&maps));
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
        Ok(())
    }

    /// The symbol at or before `addr`; with `exact`, only one that starts at `addr`.
    /// Rendered as `name+0xoff` by its `Display`.
    pub fn sym_by_addr(&mut self, addr: u64, exact: bool) -> Result<Option<String>> {
        let found = |s: &SymbolResolver| {
            s.sym_by_addr(addr)
                .filter(|h: &SymbolHit| !exact || h.offset == 0)
                .map(|h| h.to_string())
        };
        if let Some(name) = found(self.symbols()?) {
            return Ok(Some(name));
        }
        self.refresh_symbols()?;
        Ok(found(self.symbols()?))
    }

    /// The address of a symbol: `module.name` or a bare `name` (the program first).
    pub fn sym_by_name(&mut self, name: &str) -> Result<u64> {
        if let Some(addr) = self.symbols()?.sym_by_name(name) {
            return Ok(addr);
        }
        self.refresh_symbols()?;
        self.symbols()?
            .sym_by_name(name)
            .ok_or_else(|| Error::NoSuchSymbol(name.to_owned()))
    }

    /// The call stack of a thread, innermost frame first, by following frame
    /// pointers (correct for code built with them; the DWARF unwinder replaces this).
    pub fn stack_trace(&mut self, tid: Tid) -> Result<Vec<Frame>> {
        let ctx = self.register_context(tid)?;
        let regs = FrameRegs {
            pc: ctx.pc()?,
            sp: ctx.sp()?,
            fp: ctx.fp()?,
        };
        self.symbols()?;
        let resolver = self.symbols.take().expect("built above");
        let mut function_start = |pc: u64| resolver.sym_by_addr(pc).map(|hit| hit.addr);
        let mut read = |addr: u64, buf: &mut [u8]| self.read_into(addr, buf).is_ok();
        let frames = unwind_frame_pointers(regs, &mut function_start, &mut read, MAX_FRAMES);
        self.symbols = Some(resolver);
        Ok(frames)
    }
}
