//! Variables of a frame and C expressions evaluated in it: the frame's
//! registers are the ones the unwinder recovered (callee-clobbered ones are
//! "not saved" in callers, as in gdb), locations come from DWARF
//! (`symbols/variables.rs`, `symbols/locations.rs`), and [`CTarget`] gives
//! the C evaluator (`crate::cexpr`) memory, registers, names, types and calls.

use super::Trace;
use crate::arch::RegisterGroup;
use crate::cexpr::{CValue, Target};
use crate::error::{Error, Result, Tid};
use crate::registers::RegValue;
use crate::symbols::{
    entry_value_register, evaluate_value, locate, CKind, CType, FunctionScope, LocationContext, Place, TypeRef,
    VarLocation, VariableDesc,
};
use crate::unwind::{Frame, UnwindRegs};

/// How deep entry values are followed into callers.
const MAX_ENTRY_DEPTH: usize = 4;

/// A variable of a frame with its value (or "optimized out").
#[derive(Debug, Clone)]
pub struct FrameVariable {
    /// Its name.
    pub name: String,
    /// Whether it is an argument of the function.
    pub argument: bool,
    /// Its value and type; an error text when it could not be read (unreadable memory).
    pub value: std::result::Result<CValue, String>,
}

/// One frame of a thread, as the evaluator sees it.
#[derive(Debug, Clone)]
pub struct FrameContext {
    /// The thread.
    pub tid: Tid,
    /// The physical frame number (0 innermost).
    pub physical: usize,
    /// The pc used for lookups (a return address minus one in callers).
    pub lookup_pc: u64,
    /// The registers known in the frame.
    pub regs: UnwindRegs,
    /// The frame's CFA.
    pub cfa: Option<u64>,
    /// The path of the module holding the pc.
    pub module: Option<String>,
    /// That module's load bias.
    pub bias: u64,
    /// The function (or inlined function) the frame shows, from DWARF.
    pub scope: Option<FunctionScope>,
}

impl Trace {
    /// The physical frames and the backtrace level → (physical frame, inline depth) map of a thread.
    fn frame_context(&mut self, tid: Tid, level: usize) -> Result<(FrameContext, Vec<Frame>)> {
        let frames = self.stack_trace(tid)?;
        let lines = self.backtrace(tid)?;
        let line = lines.get(level).ok_or_else(|| {
            Error::InvalidArgument(format!("thread {tid} has no frame {level} (it has {})", lines.len()))
        })?;
        let physical = line.physical;
        let inline_depth = lines[..level].iter().filter(|l| l.physical == physical && !l.tail_call).count();
        let ctx = self.physical_context(tid, &frames, physical, inline_depth, line.tail_call)?;
        Ok((ctx, frames))
    }

    fn physical_context(
        &mut self,
        tid: Tid,
        frames: &[Frame],
        physical: usize,
        inline_depth: usize,
        tail_call: bool,
    ) -> Result<FrameContext> {
        let frame = frames
            .get(physical)
            .ok_or_else(|| Error::InvalidArgument(format!("thread {tid} has no physical frame {physical}")))?;
        let lookup_pc = frame.lookup_pc();
        let symbols = self.symbols()?;
        let module = symbols.module_by_addr(lookup_pc);
        let (path, bias) = module.map_or((None, 0), |m| (Some(m.path.clone()), m.bias));
        let scope = module.and_then(|m| {
            let lines = m.image.lines()?;
            let scopes = lines.scopes_at(&m.path, lookup_pc.wrapping_sub(m.bias));
            scopes.len().checked_sub(1 + inline_depth).map(|i| scopes[i].clone())
        });
        let scope = if tail_call { None } else { scope };
        Ok(FrameContext { tid, physical, lookup_pc, regs: frame.regs, cfa: frame.cfa, module: path, bias, scope })
    }

    /// The arguments and the locals in scope at frame `level` of thread `tid`
    /// (a backtrace level: inlined functions count), each with its type and
    /// value: arguments first in order, then locals innermost block first.
    pub fn frame_variables(&mut self, tid: Tid, level: usize) -> Result<Vec<FrameVariable>> {
        let (ctx, frames) = self.frame_context(tid, level)?;
        let Some(scope) = ctx.scope.clone() else { return Ok(Vec::new()) };
        let mut found = Vec::new();
        for desc in scope.arguments.iter().chain(&scope.locals) {
            let value = FrameEval { trace: self, ctx: &ctx, frames: &frames, depth: 0 }.value_of(desc);
            found.push(FrameVariable { name: desc.name.clone(), argument: desc.argument, value });
        }
        Ok(found)
    }

    /// The values the arguments of frame `level` had when the function was
    /// entered, where they can be known: an argument that arrived in a
    /// register whose value the caller's call site records (gdb's
    /// `NAME@entry`). One entry per argument, in order.
    pub fn frame_entry_values(&mut self, tid: Tid, level: usize) -> Result<Vec<Option<CValue>>> {
        let (ctx, frames) = self.frame_context(tid, level)?;
        let Some(scope) = ctx.scope.clone() else { return Ok(Vec::new()) };
        let mut found = vec![None; scope.arguments.len()];
        let (Some(entry), Some(path), false) = (scope.entry, ctx.module.clone(), scope.inlined) else {
            return Ok(found);
        };
        // Where each argument was at the function's first instruction.
        let at_entry = {
            let symbols = self.symbols()?;
            let Some(module) = symbols.module_by_addr(entry.wrapping_add(ctx.bias)) else { return Ok(found) };
            let Some(lines) = module.image.lines() else { return Ok(found) };
            lines.scopes_at(&path, entry).pop().map(|s| s.arguments).unwrap_or_default()
        };
        for (slot, desc) in found.iter_mut().zip(&scope.arguments) {
            let Some(first) = at_entry.iter().find(|d| d.name == desc.name) else { continue };
            if entry_value_register(&first.location).is_none() {
                continue;
            }
            let mut eval = FrameEval { trace: self, ctx: &ctx, frames: &frames, depth: 0 };
            if let Some(value) = eval.entry_value(&first.location) {
                *slot = Some(CValue::from_int(desc.ty.clone(), i128::from(value)));
            }
        }
        Ok(found)
    }

    /// The function (or inlined function) shown at frame `level`, with its
    /// return type, from DWARF; `None` without debug information.
    pub fn frame_function(&mut self, tid: Tid, level: usize) -> Result<Option<FunctionScope>> {
        Ok(self.frame_context(tid, level)?.0.scope)
    }

    /// The registers of backtrace frame `level` (those the unwinder recovered in callers).
    pub fn level_registers(&mut self, tid: Tid, level: usize) -> Result<UnwindRegs> {
        Ok(self.frame_context(tid, level)?.0.regs)
    }

    /// The names of the arguments and locals DWARF puts in scope at code address `addr`.
    pub fn names_in_scope(&mut self, addr: u64) -> Result<Vec<String>> {
        let symbols = self.symbols()?;
        let Some(module) = symbols.module_by_addr(addr) else { return Ok(Vec::new()) };
        let Some(lines) = module.image.lines() else { return Ok(Vec::new()) };
        let scopes = lines.scopes_at(&module.path, addr.wrapping_sub(module.bias));
        Ok(scopes.iter().flat_map(|s| s.arguments.iter().chain(&s.locals)).map(|v| v.name.clone()).collect())
    }

    /// A type of the debuggee by name, from the first module that defines it (the program first).
    pub fn c_type(&mut self, name: &str) -> Result<Option<CType>> {
        self.in_debug_info(|lines, path, _| lines.ctype_named(path, name))
    }

    /// The full type behind a [`TypeRef`] (a struct reached through a pointer).
    pub fn resolve_type(&mut self, ty: &TypeRef) -> Result<CType> {
        let symbols = self.symbols()?;
        symbols
            .modules()
            .iter()
            .find(|m| m.path == ty.module)
            .and_then(|m| m.image.lines()?.ctype_at(&m.path, ty.offset))
            .ok_or_else(|| Error::InvalidArgument(format!("no type at {:#x} in {}", ty.offset, ty.module)))
    }

    /// An evaluation target over frame `level` of thread `tid`, for [`crate::cexpr::evaluate`].
    pub fn c_target(&mut self, tid: Tid, level: usize) -> Result<CTarget<'_>> {
        let (ctx, frames) = match self.frame_context(tid, level) {
            Ok(found) => found,
            // A thread without a stack (a core without registers) still has globals.
            Err(_) if level == 0 => (
                FrameContext {
                    tid,
                    physical: 0,
                    lookup_pc: 0,
                    regs: UnwindRegs::new(&self.arch.unwind),
                    cfa: None,
                    module: None,
                    bias: 0,
                    scope: None,
                },
                Vec::new(),
            ),
            Err(e) => return Err(e),
        };
        Ok(CTarget { trace: self, ctx, frames, level })
    }

    /// The first answer over each module's DWARF, the program first: `found(lines, path, bias)`.
    fn in_debug_info<T>(
        &mut self,
        mut found: impl FnMut(&crate::symbols::LineInfo, &str, u64) -> Option<T>,
    ) -> Result<Option<T>> {
        let exe = self.platform.exe_path();
        let symbols = self.symbols()?;
        let mut modules: Vec<_> = symbols.modules().iter().collect();
        modules.sort_by_key(|m| exe.as_deref() != Some(m.path.as_str()));
        Ok(modules.iter().find_map(|m| found(m.image.lines()?, &m.path, m.bias)))
    }

    /// The bytes of DWARF register `number` in the current registers of `tid`.
    fn dwarf_register(&mut self, tid: Tid, number: u16) -> Option<Vec<u8>> {
        if self.arch.name != "x86_64" {
            let name = self.arch.unwind.names.get(usize::from(number))?;
            return self.thread_register(tid, name).ok().map(|v| v.as_bytes().to_vec());
        }
        let def = crate::arch::x86_64::register_by_dwarf(number)?;
        self.thread_register(tid, def.name).ok().map(|v| v.as_bytes().to_vec())
    }
}

/// Evaluates locations in one frame.
struct FrameEval<'a> {
    trace: &'a mut Trace,
    ctx: &'a FrameContext,
    frames: &'a [Frame],
    depth: usize,
}

impl FrameEval<'_> {
    fn value_of(&mut self, desc: &VariableDesc) -> std::result::Result<CValue, String> {
        let frame_base = self.ctx.scope.as_ref().and_then(|s| s.frame_base.clone());
        let size = desc.ty.strip().size;
        let located = locate(&desc.location, frame_base.as_ref(), size, self)?;
        Ok(CValue { ty: desc.ty.clone(), bytes: located.bytes, place: located.place })
    }
}

impl LocationContext for FrameEval<'_> {
    fn register(&mut self, number: u16) -> Option<Vec<u8>> {
        if self.ctx.physical == 0 {
            return self.trace.dwarf_register(self.ctx.tid, number);
        }
        self.ctx.regs.get(number).map(|v| v.to_le_bytes().to_vec())
    }

    fn memory(&mut self, addr: u64, buf: &mut [u8]) -> bool {
        self.trace.read_into(addr, buf).is_ok()
    }

    fn cfa(&mut self) -> Option<u64> {
        self.ctx.cfa
    }

    fn bias(&self) -> u64 {
        self.ctx.bias
    }

    fn tls(&mut self, offset: u64) -> std::result::Result<u64, String> {
        tls_address(self.trace, self.ctx.tid, self.ctx.module.as_deref(), offset)
    }

    fn entry_value(&mut self, expr: &VarLocation) -> Option<u64> {
        let register = entry_value_register(expr)?;
        let scope = self.ctx.scope.as_ref()?;
        // At the function's first instruction the registers still hold their entry values.
        if self.ctx.physical == 0 && scope.entry.map(|e| e.wrapping_add(self.ctx.bias)) == Some(self.ctx.lookup_pc) {
            let bytes = self.register(register)?;
            let mut raw = [0u8; 8];
            raw[..bytes.len().min(8)].copy_from_slice(&bytes[..bytes.len().min(8)]);
            return Some(u64::from_le_bytes(raw));
        }
        if self.depth >= MAX_ENTRY_DEPTH {
            return None;
        }
        // Otherwise the caller's call site may say what it passed.
        let caller = self.frames.get(self.ctx.physical + 1)?;
        let return_pc = caller.pc;
        let value = {
            let symbols = self.trace.symbols().ok()?;
            let module = symbols.module_by_addr(return_pc.wrapping_sub(1))?;
            module.image.lines()?.call_site_value(return_pc.wrapping_sub(module.bias), register)?
        };
        let caller_ctx =
            self.trace.physical_context(self.ctx.tid, self.frames, self.ctx.physical + 1, 0, false).ok()?;
        let frame_base = caller_ctx.scope.as_ref().and_then(|s| s.frame_base.clone());
        let mut eval = FrameEval { trace: self.trace, ctx: &caller_ctx, frames: self.frames, depth: self.depth + 1 };
        evaluate_value(&value, frame_base.as_ref(), &mut eval).ok().flatten()
    }
}

/// The address of offset `offset` in the thread-local block of `module` (the program only).
fn tls_address(trace: &mut Trace, tid: Tid, module: Option<&str>, offset: u64) -> std::result::Result<u64, String> {
    let exe = trace.platform.exe_path();
    if module.is_none() || module != exe.as_deref() {
        return Err("thread-local storage of a shared library is not supported".into());
    }
    if trace.arch.name != "x86_64" {
        return Err(format!("thread-local storage on {} is not supported", trace.arch.name));
    }
    // x86_64 glibc: fs points at the thread control block, whose second word is the
    // DTV; the program is module 1, and DTV entries are (pointer, to-free) pairs.
    let fs_base = trace.thread_register(tid, "fs_base").ok().and_then(|v| v.to_u64()).ok_or("no fs_base register")?;
    let dtv = trace.read_ptr(fs_base.wrapping_add(8)).map_err(|e| e.to_string())?;
    let block = trace.read_ptr(dtv.wrapping_add(16)).map_err(|e| e.to_string())?;
    if block == 0 || block == u64::MAX {
        return Err("the thread's thread-local storage is not allocated yet".into());
    }
    Ok(block.wrapping_add(offset))
}

/// The global context for a variable outside any frame (globals, statics, thread-locals).
struct GlobalEval<'a> {
    trace: &'a mut Trace,
    tid: Tid,
    module: String,
    bias: u64,
}

impl LocationContext for GlobalEval<'_> {
    fn register(&mut self, _number: u16) -> Option<Vec<u8>> {
        None
    }

    fn memory(&mut self, addr: u64, buf: &mut [u8]) -> bool {
        self.trace.read_into(addr, buf).is_ok()
    }

    fn cfa(&mut self) -> Option<u64> {
        None
    }

    fn bias(&self) -> u64 {
        self.bias
    }

    fn tls(&mut self, offset: u64) -> std::result::Result<u64, String> {
        tls_address(self.trace, self.tid, Some(&self.module), offset)
    }

    fn entry_value(&mut self, _expr: &VarLocation) -> Option<u64> {
        None
    }
}

/// The C evaluator's view of one frame of a stopped thread.
pub struct CTarget<'a> {
    trace: &'a mut Trace,
    ctx: FrameContext,
    frames: Vec<Frame>,
    level: usize,
}

impl CTarget<'_> {
    /// The trace behind the target.
    pub fn trace(&mut self) -> &mut Trace {
        self.trace
    }

    /// The frame the target evaluates in.
    pub fn frame(&self) -> &FrameContext {
        &self.ctx
    }

    fn global(&mut self, name: &str, function: Option<&str>) -> std::result::Result<Option<CValue>, String> {
        let found = self
            .trace
            .in_debug_info(|lines, path, bias| {
                lines.global_named(path, name, function).map(|d| (d, path.to_owned(), bias))
            })
            .map_err(|e| e.to_string())?;
        if let Some((desc, module, bias)) = found {
            let tid = self.ctx.tid;
            let mut eval = GlobalEval { trace: self.trace, tid, module, bias };
            let located = locate(&desc.location, None, desc.ty.strip().size, &mut eval)?;
            return Ok(Some(CValue { ty: desc.ty, bytes: located.bytes, place: located.place }));
        }
        if function.is_some() {
            return Ok(None);
        }
        let function = self
            .trace
            .in_debug_info(|lines, path, bias| lines.function_named(path, name).map(|(a, t)| (a.wrapping_add(bias), t)))
            .map_err(|e| e.to_string())?;
        if let Some((addr, ty)) = function {
            // The debug information of an indirect function describes its resolver, not what it returns.
            let ty = match self.trace.is_indirect_function(addr) {
                true => CType::new("<text gnu-indirect-function variable, no debug info>", 0, ty.kind),
                false => ty,
            };
            return Ok(Some(CValue { ty, bytes: Vec::new(), place: Place::Memory(addr) }));
        }
        // An enumerator stands for its value, with its enumeration's type.
        let enumerator =
            self.trace.in_debug_info(|lines, path, _| lines.enumerator_named(path, name)).map_err(|e| e.to_string())?;
        if let Some((ty, value)) = enumerator {
            return Ok(Some(CValue::from_int(ty, i128::from(value))));
        }
        // An ELF symbol without debug information.
        if let Ok(addr) = self.trace.sym_by_name(name) {
            let is_code = self.trace.memory_map(addr).ok().flatten().is_some_and(|m| m.perms.exec);
            if is_code {
                let ty = CType::new(
                    "<text variable, no debug info>",
                    0,
                    CKind::Function { ret: Box::new(CType::int()), params: Vec::new(), variadic: true },
                );
                return Ok(Some(CValue { ty, bytes: Vec::new(), place: Place::Memory(addr) }));
            }
            return Err(format!("'{name}' has unknown type; cast it to its declared type"));
        }
        Ok(None)
    }
}

impl Target for CTarget<'_> {
    fn read(&mut self, addr: u64, len: usize) -> std::result::Result<Vec<u8>, String> {
        self.trace.read_memory(addr, len).map_err(|_| format!("Cannot access memory at address {addr:#x}"))
    }

    fn write(&mut self, addr: u64, bytes: &[u8]) -> std::result::Result<(), String> {
        self.trace.write_memory(addr, bytes).map_err(|_| format!("Cannot access memory at address {addr:#x}"))
    }

    fn register(&mut self, name: &str) -> std::result::Result<Option<CValue>, String> {
        let arch = self.trace.arch;
        let canonical = match name {
            "pc" => arch.pc,
            "sp" => arch.sp,
            "fp" => arch.fp,
            other => other,
        };
        let Some(def) = arch.register(canonical) else { return Ok(None) };
        if def.group != RegisterGroup::General {
            return Err(format!(
                "printing the {} register ${name} is not supported; use `info registers {name}`",
                def.class
            ));
        }
        let ty = if canonical == arch.pc {
            let function = CType::new(
                "void ()",
                0,
                CKind::Function { ret: Box::new(CType::void()), params: Vec::new(), variadic: false },
            );
            CType::pointer_to(function)
        } else if canonical == arch.sp || canonical == arch.fp {
            CType::pointer_to(CType::void())
        } else {
            match def.size() {
                1 => CType::new("int8_t", 1, CKind::Int { signed: true }),
                2 => CType::new("int16_t", 2, CKind::Int { signed: true }),
                4 => CType::int(),
                _ => CType::long(),
            }
        };
        // In callers, only the registers the unwinder recovered are known.
        if self.ctx.physical > 0 {
            let parent = def.parent.unwrap_or(def.name);
            let Some(number) = arch.unwind.names.iter().position(|n| *n == parent) else {
                return Ok(Some(CValue { ty, bytes: Vec::new(), place: Place::NotSaved }));
            };
            return Ok(Some(match self.ctx.regs.get(number as u16) {
                Some(value) => {
                    let offset = def.pieces.first().map_or(0, |p| p.offset) as usize;
                    let parent_offset =
                        arch.register(parent).and_then(|p| p.pieces.first()).map_or(0, |p| p.offset) as usize;
                    let shift = offset.saturating_sub(parent_offset);
                    let bytes = value.to_le_bytes()[shift..(shift + def.size()).min(8)].to_vec();
                    CValue { ty, bytes, place: Place::Register(number as u16) }
                }
                None => CValue { ty, bytes: Vec::new(), place: Place::NotSaved },
            }));
        }
        let value = self.trace.thread_register(self.ctx.tid, canonical).map_err(|e| e.to_string())?;
        let number = arch.unwind.names.iter().position(|n| *n == canonical).map(|n| n as u16);
        let place = match number {
            Some(n) if def.parent.is_none() => Place::Register(n),
            _ => Place::Computed,
        };
        Ok(Some(CValue { ty, bytes: value.as_bytes().to_vec(), place }))
    }

    fn write_register(&mut self, number: u16, bytes: &[u8]) -> std::result::Result<(), String> {
        if self.ctx.physical > 0 {
            return Err(format!("writing registers of frame {} (a caller) is not supported", self.level));
        }
        let name = self
            .trace
            .arch
            .unwind
            .names
            .get(usize::from(number))
            .copied()
            .or_else(|| crate::arch::x86_64::register_by_dwarf(number).map(|d| d.name))
            .ok_or_else(|| format!("no register with DWARF number {number}"))?;
        let width = self.trace.arch.register(name).map_or(8, |d| d.size());
        let mut raw = bytes.to_vec();
        raw.resize(width, 0);
        let value = RegValue::from_bytes(&raw).map_err(|e| e.to_string())?;
        let tid = self.ctx.tid;
        self.trace.set_thread_register(tid, name, value).map_err(|e| e.to_string())
    }

    fn variable(&mut self, name: &str, function: Option<&str>) -> std::result::Result<Option<CValue>, String> {
        if function.is_none() {
            if let Some(scope) = self.ctx.scope.clone() {
                let desc = scope.locals.iter().chain(&scope.arguments).find(|d| d.name == name).cloned();
                if let Some(desc) = desc {
                    let mut eval = FrameEval { trace: self.trace, ctx: &self.ctx, frames: &self.frames, depth: 0 };
                    return eval.value_of(&desc).map(Some);
                }
            }
        }
        self.global(name, function)
    }

    fn type_named(&mut self, name: &str) -> std::result::Result<Option<CType>, String> {
        self.trace.c_type(name).map_err(|e| e.to_string())
    }

    fn resolve(&mut self, ty: &TypeRef) -> std::result::Result<CType, String> {
        self.trace.resolve_type(ty).map_err(|e| e.to_string())
    }

    fn call(&mut self, function: u64, ty: &CType, args: &[CValue]) -> std::result::Result<CValue, String> {
        if self.ctx.tid != self.trace.current_thread() || self.level != 0 {
            return Err("calls are made in the current thread's innermost frame; select frame 0".into());
        }
        if ty.name.starts_with("<text ") {
            let name =
                self.trace.sym_by_addr(function, true).ok().flatten().unwrap_or_else(|| format!("{function:#x}"));
            return Err(format!("'{name}' has unknown return type; cast the call to its declared return type"));
        }
        self.trace.call_c(function, ty, args).map_err(|e| e.to_string())
    }

    fn symbol(&mut self, addr: u64) -> Option<String> {
        // gdb names only addresses inside the program's and libraries' images.
        let symbols = self.trace.symbols().ok()?;
        symbols.module_by_addr(addr)?;
        let hit = symbols.sym_by_addr(addr)?;
        let size = hit.symbol.size;
        if size != 0 && hit.offset >= size {
            return None;
        }
        // gdb writes the offset in decimal: `<main+4>`.
        Some(match hit.offset {
            0 => hit.symbol.name.clone(),
            off => format!("{}+{off}", hit.symbol.name),
        })
    }
}
