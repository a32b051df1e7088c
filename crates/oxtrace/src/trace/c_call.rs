//! Calling functions of the debuggee with C values, by the System V AMD64
//! rules: integers and pointers in `rdi`..`r9`, `float` and `double` in
//! `xmm0`..`xmm7`, structs of up to 16 bytes split into eightbytes classed
//! INTEGER or SSE, larger ones (and those that do not fit the registers
//! left) copied onto the stack, string literals copied into the program, and
//! the return value read by its type (a large struct through the hidden
//! pointer in `rdi`). The thread gets its registers back afterwards. The
//! Microsoft x64 rules are in `c_call_ms.rs`.

use super::Trace;
use crate::arch::CallingConvention;
use crate::cexpr::CValue;
use crate::error::{Error, Result};
use crate::event::EventKind;
use crate::registers::RegValue;
use crate::symbols::{CKind, CType, Place};

/// The System V AMD64 red zone.
const RED_ZONE: u64 = 128;
const INT_REGS: [&str; 6] = ["rdi", "rsi", "rdx", "rcx", "r8", "r9"];
const SSE_REGS: usize = 8;

/// The class of an eightbyte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Integer,
    Sse,
}

/// How a value is passed or returned.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Passing {
    /// In registers, one class per eightbyte.
    Registers(Vec<Class>),
    /// In memory.
    Memory,
}

impl Trace {
    /// Calls `function` of C type `ty` with `args` (already of the parameter
    /// types) in the current thread; the result is typed by the function's
    /// return type. The thread is left as it was.
    pub fn call_c(&mut self, function: u64, ty: &CType, args: &[CValue]) -> Result<CValue> {
        let convention = self.platform.calling_convention();
        self.call_c_as(convention, function, ty, args)
    }

    /// [`Trace::call_c`] by a given calling convention (System V or
    /// Microsoft x64): a function declared `__attribute__((ms_abi))` in a
    /// Linux program is called as [`CallingConvention::Microsoft64`].
    pub fn call_c_as(
        &mut self,
        convention: CallingConvention,
        function: u64,
        ty: &CType,
        args: &[CValue],
    ) -> Result<CValue> {
        self.require_stopped()?;
        if self.arch.name != "x86_64" {
            return Err(Error::Unsupported("calling functions in the debuggee on this architecture"));
        }
        if !matches!(convention, CallingConvention::SysV64 | CallingConvention::Microsoft64) {
            return Err(Error::InvalidArgument(format!(
                "the {convention:?} convention does not fit an x86_64 process"
            )));
        }
        if self.memory_map(function)?.is_none_or(|m| !m.perms.exec) {
            return Err(Error::InvalidArgument(format!("{function:#x} is not in executable memory")));
        }
        let tid = self.current_tid;
        let saved = self.save_registers()?;
        let pending = self.pending_signals.get(&tid).copied();
        let result = match self.is_indirect_function(function) {
            // An indirect function's symbol is its resolver: ask it for the implementation.
            true => self.call_once(function, &[]).and_then(|r| self.call_c_by(convention, r.value, ty, args)),
            false => self.call_c_by(convention, function, ty, args),
        };
        self.restore_after_call(tid, saved, pending)?;
        result
    }

    fn call_c_by(
        &mut self,
        convention: CallingConvention,
        function: u64,
        ty: &CType,
        args: &[CValue],
    ) -> Result<CValue> {
        match convention {
            CallingConvention::Microsoft64 => self.call_c_ms_saved(function, ty, args),
            _ => self.call_c_saved(function, ty, args),
        }
    }

    /// Whether `addr` is the start of a GNU indirect function (its symbol names the resolver).
    pub fn is_indirect_function(&mut self, addr: u64) -> bool {
        self.symbols().ok().and_then(|s| s.sym_by_addr(addr)).is_some_and(|hit| {
            hit.offset == 0
                && hit
                    .module
                    .table()
                    .symbols_at(hit.symbol.addr)
                    .any(|s| s.kind == crate::symbols::SymbolKind::IndirectFunction)
        })
    }

    /// The value a function of return type `ty` just returned in the current
    /// thread (right after its `ret`), read from `rax`/`rdx`/`xmm0`/`xmm1` by
    /// the System V rules, or through `rax` for a struct returned in memory.
    pub fn return_value(&mut self, ty: &CType) -> Result<CValue> {
        if self.arch.name != "x86_64" {
            return Err(Error::Unsupported("return values on this architecture"));
        }
        if self.platform.calling_convention() == CallingConvention::Microsoft64 {
            return self.ms_return_value(ty);
        }
        let full = self.complete_type(ty)?;
        let bytes = match classify(self, &full)? {
            Passing::Memory => {
                let addr = self.register_u64("rax")?;
                self.read_memory(addr, full.size as usize)?
            }
            Passing::Registers(classes) => self.registers_of(&classes, full.size)?,
        };
        Ok(CValue::computed(CType { name: ty.name.clone(), ..full }, bytes))
    }

    /// The bytes of a value returned in registers of these classes.
    fn registers_of(&mut self, classes: &[Class], size: u64) -> Result<Vec<u8>> {
        let mut bytes = Vec::new();
        let (mut int_i, mut sse_i) = (0, 0);
        for class in classes {
            let reg = match class {
                Class::Integer => {
                    int_i += 1;
                    if int_i == 1 { "rax" } else { "rdx" }.to_owned()
                }
                Class::Sse => {
                    sse_i += 1;
                    format!("xmm{}", sse_i - 1)
                }
            };
            let value = self.register(&reg)?;
            bytes.extend_from_slice(&value.as_bytes()[..8]);
        }
        bytes.truncate(size as usize);
        Ok(bytes)
    }

    /// A type with a struct reached through a pointer read in full.
    pub(super) fn complete_type(&mut self, ty: &CType) -> Result<CType> {
        match &ty.strip().kind {
            CKind::Incomplete(r) => self.resolve_type(r),
            _ => Ok(ty.strip().clone()),
        }
    }

    fn call_c_saved(&mut self, function: u64, ty: &CType, args: &[CValue]) -> Result<CValue> {
        let CKind::Function { ret, .. } = &ty.strip().kind else {
            return Err(Error::InvalidArgument(format!("`{}' is not a function type", ty.name)));
        };
        let ret_full = self.complete_type(ret)?;
        let ret_passing = match &ret_full.kind {
            CKind::Void => Passing::Registers(Vec::new()),
            _ => classify(self, &ret_full)?,
        };
        let return_address = self.call_return_address()?;
        let mut sp = self.sp()?.wrapping_sub(RED_ZONE);
        // Space for a returned struct, and copies of string literals.
        let mut hidden = None;
        if ret_passing == Passing::Memory {
            sp = sp.wrapping_sub(ret_full.size) & !15;
            hidden = Some(sp);
        }
        let mut ints: Vec<u64> = hidden.into_iter().collect();
        let mut sses: Vec<[u8; 16]> = Vec::new();
        let mut stack: Vec<u8> = Vec::new();
        for arg in args {
            let arg_ty = self.complete_type(&arg.ty)?;
            if arg.place == Place::Computed && matches!(arg_ty.kind, CKind::Array { .. }) {
                sp = sp.wrapping_sub(arg.bytes.len() as u64) & !15;
                self.write_memory(sp, &arg.bytes)?;
                ints.push(sp);
                continue;
            }
            if arg.is_optimized_out() {
                return Err(Error::InvalidArgument("an argument's value has been optimized out".into()));
            }
            match classify(self, &arg_ty)? {
                Passing::Registers(classes) => {
                    let need_int = classes.iter().filter(|c| **c == Class::Integer).count();
                    let need_sse = classes.len() - need_int;
                    let fits = ints.len() + need_int <= INT_REGS.len() && sses.len() + need_sse <= SSE_REGS;
                    let mut bytes = arg.bytes.clone();
                    bytes.resize(8 * classes.len().max(1), 0);
                    if !fits {
                        stack.extend_from_slice(&bytes);
                        continue;
                    }
                    // An integer smaller than 8 bytes is widened by its signedness.
                    if classes.len() == 1 && arg_ty.size < 8 && arg_ty.is_integer() {
                        let value = arg.as_int().unwrap_or(0) as u64;
                        bytes = value.to_le_bytes().to_vec();
                    }
                    for (i, class) in classes.iter().enumerate() {
                        let chunk: [u8; 8] = bytes[8 * i..8 * i + 8].try_into().expect("8 bytes");
                        match class {
                            Class::Integer => ints.push(u64::from_le_bytes(chunk)),
                            Class::Sse => {
                                let mut reg = [0u8; 16];
                                reg[..8].copy_from_slice(&chunk);
                                sses.push(reg);
                            }
                        }
                    }
                }
                Passing::Memory => {
                    let mut bytes = arg.bytes.clone();
                    bytes.resize(arg.bytes.len().div_ceil(8) * 8, 0);
                    stack.extend_from_slice(&bytes);
                }
            }
        }
        let (int_regs, int_stack) = ints.split_at(ints.len().min(INT_REGS.len()));
        for value in int_stack {
            stack.extend_from_slice(&value.to_le_bytes());
        }
        sp = sp.wrapping_sub(stack.len() as u64) & !15;
        self.write_memory(sp, &stack)?;
        sp -= 8;
        self.write_u64(sp, return_address)?;
        let ctx = self.registers()?;
        for (name, value) in INT_REGS.iter().zip(int_regs) {
            ctx.set_u64(name, *value)?;
        }
        for (i, bytes) in sses.iter().enumerate() {
            ctx.set(&format!("xmm{i}"), RegValue::from_bytes(bytes)?)?;
        }
        ctx.set_u64("rax", sses.len() as u64)?;
        ctx.set_u64("orig_rax", u64::MAX)?;
        ctx.set_sp(sp)?;
        ctx.set_pc(function)?;
        let tid = self.current_tid;
        let event = self.run_to_frame(return_address, sp + 8)?;
        let returned = event.tid == tid && event.kind == EventKind::Step && self.pc().ok() == Some(return_address);
        if !returned {
            return Err(Error::CallInterrupted { function, tid, event: event.to_string() });
        }
        let ret_ty = CType { name: ret.name.clone(), ..ret_full.clone() };
        let bytes = match ret_passing {
            Passing::Memory => {
                let addr = hidden.expect("a hidden pointer for a struct in memory");
                self.read_memory(addr, ret_full.size as usize)?
            }
            Passing::Registers(classes) => self.registers_of(&classes, ret_full.size)?,
        };
        Ok(CValue::computed(ret_ty, bytes))
    }
}

/// The System V class of a type.
fn classify(trace: &mut Trace, ty: &CType) -> Result<Passing> {
    let ty = trace.complete_type(ty)?;
    match &ty.kind {
        CKind::Float if ty.size > 8 => Ok(Passing::Memory),
        CKind::Float => Ok(Passing::Registers(vec![Class::Sse])),
        CKind::Int { .. }
        | CKind::Char { .. }
        | CKind::Bool
        | CKind::Enum { .. }
        | CKind::Pointer(_)
        | CKind::Reference(_) => Ok(Passing::Registers(vec![Class::Integer])),
        CKind::Struct { .. } | CKind::Array { .. } => {
            if ty.size > 16 || ty.size == 0 {
                return Ok(Passing::Memory);
            }
            let mut scalars = Vec::new();
            flatten(trace, &ty, 0, &mut scalars)?;
            let words = ty.size.div_ceil(8) as usize;
            let mut classes = vec![Class::Sse; words];
            for (offset, size, float) in scalars {
                if offset % size.max(1) != 0 {
                    return Ok(Passing::Memory); // unaligned member
                }
                if !float {
                    classes[(offset / 8) as usize] = Class::Integer;
                }
            }
            Ok(Passing::Registers(classes))
        }
        _ => Err(Error::InvalidArgument(format!("cannot pass or return a value of type `{}'", ty.name))),
    }
}

/// The scalar fields of a type: (offset, size, floating point).
fn flatten(trace: &mut Trace, ty: &CType, base: u64, out: &mut Vec<(u64, u64, bool)>) -> Result<()> {
    let ty = trace.complete_type(ty)?;
    match &ty.kind {
        CKind::Struct { members, .. } => {
            for member in members {
                flatten(trace, &member.ty, base + member.offset, out)?;
            }
        }
        CKind::Array { element, count } => {
            let size = element.strip().size;
            for i in 0..count.unwrap_or(0).min(16) {
                flatten(trace, element, base + i * size, out)?;
            }
        }
        CKind::Float => out.push((base, ty.size, true)),
        _ => out.push((base, ty.size.max(1), false)),
    }
    Ok(())
}
