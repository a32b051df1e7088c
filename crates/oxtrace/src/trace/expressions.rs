//! Expressions evaluated against the trace: registers of the current thread,
//! variables, symbols, memory, maps, frames and breakpoints.

use super::Trace;
use crate::error::Result;
use crate::event::Event;
use crate::expression::{parse, ExprContext};

/// The trace as an expression context.
struct TraceContext<'a>(&'a mut Trace);

impl ExprContext for TraceContext<'_> {
    fn name(&mut self, name: &str) -> Option<u64> {
        let trace = &mut *self.0;
        // `$rax`, as in gdb, or plain `rax`.
        let register = name.strip_prefix('$').unwrap_or(name);
        if let Some(value) = trace.arch.register(register).and_then(|_| trace.register_u64(register).ok()) {
            return Some(value);
        }
        trace.variable(name).or_else(|| trace.sym_by_name(name).ok())
    }

    fn read_pointer(&mut self, addr: u64) -> Option<u64> {
        self.0.read_ptr(addr).ok()
    }

    fn map_of(&mut self, addr: u64) -> Option<(u64, u64)> {
        self.0.memory_map(addr).ok().flatten().map(|m| (m.start, m.len()))
    }

    fn frame(&mut self, n: u64) -> Option<u64> {
        let tid = self.0.current_thread();
        self.0.stack_trace(tid).ok()?.get(usize::try_from(n).ok()?).map(|f| f.cfa.unwrap_or(f.sp))
    }

    fn breakpoint_addr(&mut self, id: u64) -> Option<u64> {
        self.0.breakpoint(u32::try_from(id).ok()?).filter(|b| b.resolved).map(|b| b.addr)
    }
}

impl Trace {
    /// Evaluates an expression (see [`crate::expression`]) in the current thread.
    pub fn parse_expression(&mut self, text: &str) -> Result<u64> {
        let expr = parse(text)?;
        Ok(expr.eval(&mut TraceContext(self))?)
    }

    /// The address an expression gives a breakpoint, or `None` when it names
    /// something not loaded yet (the breakpoint is then deferred).
    pub(super) fn resolve_breakpoint_expr(&mut self, text: &str) -> Result<Option<u64>> {
        let expr = parse(text)?;
        match expr.eval(&mut TraceContext(self)) {
            Ok(addr) => Ok(Some(addr)),
            Err(e) if e.message.starts_with("unknown name") => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Sets a breakpoint condition as an expression (`rdi == 3 && poi(rsp) != 0`):
    /// the hit counts when it is non-zero. An expression that fails to evaluate
    /// at a hit counts as true, so the trace stops rather than silently going on.
    pub fn set_breakpoint_condition_expr(&mut self, id: u32, condition: &str) -> Result<()> {
        let expr = parse(condition)?;
        let holds = move |trace: &mut Trace| !matches!(expr.eval(&mut TraceContext(trace)), Ok(0));
        self.set_breakpoint_condition(id, Some(Box::new(holds)))
    }

    /// Runs until any thread reaches the address an expression gives (see [`Trace::run_until`]).
    pub fn run_until_expr(&mut self, text: &str) -> Result<Event> {
        let addr = self.parse_expression(text)?;
        self.run_until(addr)
    }
}
