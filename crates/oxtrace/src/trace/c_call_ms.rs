//! Calling functions of the debuggee with C values by the Microsoft x64
//! rules (Windows): every argument takes the slot of its position (`rcx`,
//! `rdx`, `r8`, `r9`, then the stack above 32 bytes of shadow space); a
//! `float` or `double` goes in the `xmm` register of its position (and in
//! the integer register too, as variadic callees read it); integers,
//! pointers and structs or unions of 1, 2, 4 or 8 bytes go by value; any
//! other aggregate is copied into the debuggee's stack and passed by its
//! address. A result of 1, 2, 4 or 8 bytes comes back in `rax` (`xmm0` for
//! floating point); a larger one in memory the caller provides, whose
//! address is a hidden first argument.

use super::Trace;
use crate::arch::{ArgValue, CallingConvention};
use crate::cexpr::CValue;
use crate::error::{Error, Result};
use crate::event::EventKind;
use crate::registers::RegValue;
use crate::symbols::{CKind, CType, Place};

/// How one value is passed or returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum MsPassing {
    /// In a general register or stack slot, by value.
    Int,
    /// In an `xmm` register or stack slot, by value.
    Float,
    /// Through a pointer to a copy (arguments) or to the caller's memory (results).
    Memory,
}

/// The Microsoft x64 class of a (complete) type.
pub(super) fn ms_passing(ty: &CType) -> Result<MsPassing> {
    match &ty.kind {
        CKind::Float if ty.size <= 8 => Ok(MsPassing::Float),
        // gcc's 80-bit long double: by reference.
        CKind::Float => Ok(MsPassing::Memory),
        CKind::Int { .. }
        | CKind::Char { .. }
        | CKind::Bool
        | CKind::Enum { .. }
        | CKind::Pointer(_)
        | CKind::Reference(_) => Ok(MsPassing::Int),
        CKind::Struct { .. } | CKind::Array { .. } => match ty.size {
            1 | 2 | 4 | 8 => Ok(MsPassing::Int),
            _ => Ok(MsPassing::Memory),
        },
        _ => Err(Error::InvalidArgument(format!("cannot pass or return a value of type `{}'", ty.name))),
    }
}

/// The first 8 bytes of a value, zero-padded.
fn word(bytes: &[u8]) -> u64 {
    let mut buf = [0u8; 8];
    let n = bytes.len().min(8);
    buf[..n].copy_from_slice(&bytes[..n]);
    u64::from_le_bytes(buf)
}

impl Trace {
    /// [`Trace::call_c`] by the Microsoft x64 rules (the thread's registers are saved by the caller).
    pub(super) fn call_c_ms_saved(&mut self, function: u64, ty: &CType, args: &[CValue]) -> Result<CValue> {
        let CKind::Function { ret, .. } = &ty.strip().kind else {
            return Err(Error::InvalidArgument(format!("`{}' is not a function type", ty.name)));
        };
        let ms = CallingConvention::Microsoft64;
        let ret_full = self.complete_type(ret)?;
        let ret_passing = match &ret_full.kind {
            CKind::Void => MsPassing::Int,
            _ => ms_passing(&ret_full)?,
        };
        let return_address = self.call_return_address()?;
        let mut sp = self.sp()?.wrapping_sub(ms.red_zone());
        let mut values = Vec::with_capacity(args.len() + 1);
        let mut hidden = None;
        if ret_passing == MsPassing::Memory {
            sp = sp.wrapping_sub(ret_full.size) & !15;
            hidden = Some(sp);
            values.push(ArgValue::Int(sp));
        }
        for arg in args {
            let arg_ty = self.complete_type(&arg.ty)?;
            if arg.is_optimized_out() {
                return Err(Error::InvalidArgument("an argument's value has been optimized out".into()));
            }
            // A string literal (an array made by the expression): its address.
            let literal = arg.place == Place::Computed && matches!(arg_ty.kind, CKind::Array { .. });
            let passing = if literal { MsPassing::Memory } else { ms_passing(&arg_ty)? };
            values.push(match passing {
                MsPassing::Memory => {
                    sp = sp.wrapping_sub(arg.bytes.len() as u64) & !15;
                    self.write_memory(sp, &arg.bytes)?;
                    ArgValue::Int(sp)
                }
                MsPassing::Float => ArgValue::Double(word(&arg.bytes)),
                // An integer smaller than 8 bytes is widened by its signedness.
                MsPassing::Int if arg_ty.is_integer() => ArgValue::Int(arg.as_int().unwrap_or(0) as u64),
                MsPassing::Int => ArgValue::Int(word(&arg.bytes)),
            });
        }
        let layout = ms.layout(sp, &values, return_address);
        for (addr, value) in &layout.stack {
            self.write_u64(*addr, *value)?;
        }
        let has_orig_rax = self.arch.register("orig_rax").is_some();
        let ctx = self.registers()?;
        for (name, value) in &layout.registers {
            match name.strip_prefix("xmm") {
                Some(_) => {
                    let mut bytes = [0u8; 16];
                    bytes[..8].copy_from_slice(&value.to_le_bytes());
                    ctx.set(name, RegValue::from_bytes(&bytes)?)?;
                }
                None => ctx.set_u64(name, *value)?,
            }
        }
        if has_orig_rax {
            ctx.set_u64("orig_rax", u64::MAX)?;
        }
        ctx.set_sp(layout.sp)?;
        ctx.set_pc(function)?;
        let tid = self.current_tid;
        let event = self.run_to_frame(return_address, layout.sp + 8)?;
        let returned = event.tid == tid && event.kind == EventKind::Step && self.pc().ok() == Some(return_address);
        if !returned {
            return Err(Error::CallInterrupted { function, tid, event: event.to_string() });
        }
        let bytes = match (ret_passing, hidden) {
            (MsPassing::Memory, Some(addr)) => self.read_memory(addr, ret_full.size as usize)?,
            _ => self.ms_registers_of(ret_passing, ret_full.size)?,
        };
        Ok(CValue::computed(CType { name: ret.name.clone(), ..ret_full }, bytes))
    }

    /// The bytes of a value just returned in a register by the Microsoft x64 rules.
    pub(super) fn ms_registers_of(&mut self, passing: MsPassing, size: u64) -> Result<Vec<u8>> {
        let register = if passing == MsPassing::Float { "xmm0" } else { "rax" };
        let mut bytes = self.register(register)?.as_bytes()[..8].to_vec();
        bytes.truncate(size as usize);
        Ok(bytes)
    }

    /// [`Trace::return_value`] by the Microsoft x64 rules.
    pub(super) fn ms_return_value(&mut self, ty: &CType) -> Result<CValue> {
        let full = self.complete_type(ty)?;
        let bytes = match ms_passing(&full)? {
            MsPassing::Memory => {
                let addr = self.register_u64("rax")?;
                self.read_memory(addr, full.size as usize)?
            }
            passing => self.ms_registers_of(passing, full.size)?,
        };
        Ok(CValue::computed(CType { name: ty.name.clone(), ..full }, bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ty(kind: CKind, size: u64) -> CType {
        CType { name: "t".into(), size, kind, rust: false }
    }

    #[test]
    fn aggregates_of_one_two_four_or_eight_bytes_go_by_value() {
        let record = |size| ty(CKind::Struct { members: Vec::new(), union: false }, size);
        for (size, want) in [(1, MsPassing::Int), (2, MsPassing::Int), (3, MsPassing::Memory), (8, MsPassing::Int)] {
            assert_eq!(ms_passing(&record(size)).unwrap(), want, "{size} bytes");
        }
        assert_eq!(ms_passing(&record(16)).unwrap(), MsPassing::Memory);
        assert_eq!(ms_passing(&ty(CKind::Float, 8)).unwrap(), MsPassing::Float);
        assert_eq!(ms_passing(&ty(CKind::Float, 16)).unwrap(), MsPassing::Memory, "long double");
        assert!(ms_passing(&ty(CKind::Void, 0)).is_err());
    }
}
