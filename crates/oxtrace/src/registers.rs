//! Register values and per-thread register contexts.
//!
//! A [`RegisterContext`] holds a thread's raw register blocks (one per
//! [`RegisterGroup`]) as the backend read them, and reads or writes named
//! registers in them through the architecture's table. The caller loads a
//! group before reading its registers ([`Trace`](crate::Trace) does this
//! lazily) and writes back the groups [`RegisterContext::dirty_groups`] lists.

use std::fmt;

use crate::arch::{Arch, RegisterDef, RegisterGroup};
use crate::error::{Error, Result};

/// The widest register value: 32 bytes (ymm).
const MAX_BYTES: usize = 32;

/// A register value of up to 256 bits, little-endian.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct RegValue {
    bytes: [u8; MAX_BYTES],
    len: u8,
}

impl RegValue {
    /// A 64-bit value.
    pub fn from_u64(value: u64) -> Self {
        Self::from_le(&value.to_le_bytes())
    }

    /// A 128-bit value.
    pub fn from_u128(value: u128) -> Self {
        Self::from_le(&value.to_le_bytes())
    }

    /// A value from little-endian bytes (at most 32).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        if bytes.len() > MAX_BYTES {
            return Err(Error::InvalidArgument(format!(
                "a register value has at most {MAX_BYTES} bytes, not {}",
                bytes.len()
            )));
        }
        Ok(Self::from_le(bytes))
    }

    fn from_le(bytes: &[u8]) -> Self {
        let mut value = RegValue { bytes: [0; MAX_BYTES], len: bytes.len() as u8 };
        value.bytes[..bytes.len()].copy_from_slice(bytes);
        value
    }

    /// The little-endian bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }

    /// Width in bytes.
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// True for a zero-width value.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The value as an integer, if it is at most 8 bytes wide.
    pub fn to_u64(&self) -> Option<u64> {
        (self.len <= 8).then(|| u64::from_le_bytes(self.bytes[..8].try_into().expect("8 bytes")))
    }

    /// The value as an integer, if it is at most 16 bytes wide.
    pub fn to_u128(&self) -> Option<u128> {
        (self.len <= 16).then(|| u128::from_le_bytes(self.bytes[..16].try_into().expect("16 bytes")))
    }

    /// The significant bytes beyond `width` are all zero.
    fn fits(&self, width: usize) -> bool {
        self.bytes[width.min(MAX_BYTES)..].iter().all(|&b| b == 0)
    }
}

impl From<u64> for RegValue {
    fn from(value: u64) -> Self {
        Self::from_u64(value)
    }
}

impl From<u128> for RegValue {
    fn from(value: u128) -> Self {
        Self::from_u128(value)
    }
}

impl fmt::Display for RegValue {
    /// `0x` and hex digits; values up to 8 bytes without leading zeros, wider ones at full width.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to_u64() {
            Some(v) => write!(f, "{v:#x}"),
            None => {
                f.write_str("0x")?;
                self.as_bytes().iter().rev().try_for_each(|b| write!(f, "{b:02x}"))
            }
        }
    }
}

impl fmt::Debug for RegValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Converts an x87 80-bit extended-precision value to the nearest `f64`.
pub fn x87_to_f64(bytes: &[u8; 10]) -> f64 {
    let mantissa = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes"));
    let sign_exp = u16::from_le_bytes([bytes[8], bytes[9]]);
    let negative = sign_exp & 0x8000 != 0;
    let exponent = i32::from(sign_exp & 0x7fff);
    let magnitude = if exponent == 0x7fff {
        if mantissa << 1 == 0 {
            f64::INFINITY
        } else {
            f64::NAN
        }
    } else if mantissa == 0 {
        0.0
    } else {
        // value = mantissa * 2^(exponent - 16383 - 63); exponent 0 is denormal with bias 16382.
        let unbiased = if exponent == 0 { -16382 } else { exponent - 16383 };
        (mantissa as f64) * 2f64.powi(unbiased - 63)
    };
    if negative {
        -magnitude
    } else {
        magnitude
    }
}

/// One thread's registers: a raw block per group, loaded on demand. See the module docs.
#[derive(Debug, Clone)]
pub struct RegisterContext {
    arch: &'static Arch,
    blocks: [Option<Vec<u8>>; 3],
    dirty: [bool; 3],
}

impl RegisterContext {
    /// An empty context (no group loaded).
    pub fn new(arch: &'static Arch) -> Self {
        Self { arch, blocks: [None, None, None], dirty: [false; 3] }
    }

    /// The architecture.
    pub fn arch(&self) -> &'static Arch {
        self.arch
    }

    /// Whether a group's block is loaded.
    pub fn is_loaded(&self, group: RegisterGroup) -> bool {
        self.blocks[group as usize].is_some()
    }

    /// Loads a group's block as read from the thread (it starts clean).
    pub fn load(&mut self, group: RegisterGroup, block: Vec<u8>) -> Result<()> {
        let expected = self.arch.group_size(group);
        if block.len() != expected {
            return Err(Error::InvalidArgument(format!(
                "{group:?} registers of {} take {expected} bytes, not {}",
                self.arch.name,
                block.len()
            )));
        }
        self.blocks[group as usize] = Some(block);
        self.dirty[group as usize] = false;
        Ok(())
    }

    /// Replaces a group's block with saved contents, to be written back to the
    /// thread before it runs (as a change).
    pub fn restore(&mut self, group: RegisterGroup, block: Vec<u8>) -> Result<()> {
        self.load(group, block)?;
        self.dirty[group as usize] = true;
        Ok(())
    }

    /// A loaded group's raw block.
    pub fn block(&self, group: RegisterGroup) -> Option<&[u8]> {
        self.blocks[group as usize].as_deref()
    }

    /// The groups changed since they were loaded, in write-back order.
    pub fn dirty_groups(&self) -> Vec<RegisterGroup> {
        RegisterGroup::ALL.into_iter().filter(|&g| self.dirty[g as usize]).collect()
    }

    /// Marks a group as written back.
    pub fn mark_clean(&mut self, group: RegisterGroup) {
        self.dirty[group as usize] = false;
    }

    /// Forgets every block.
    pub fn invalidate(&mut self) {
        *self = Self::new(self.arch);
    }

    fn def(&self, name: &str) -> Result<&'static RegisterDef> {
        self.arch.register(name).ok_or_else(|| Error::UnknownRegister { name: name.to_owned(), arch: self.arch.name })
    }

    /// A register by name (case-insensitive).
    pub fn get(&self, name: &str) -> Result<RegValue> {
        self.get_def(self.def(name)?)
    }

    /// A register by its definition.
    pub fn get_def(&self, def: &RegisterDef) -> Result<RegValue> {
        let block = self
            .block(def.group)
            .ok_or_else(|| Error::InvalidArgument(format!("register {} is not loaded", def.name)))?;
        let mut value = RegValue { bytes: [0; MAX_BYTES], len: def.size() as u8 };
        let mut at = 0;
        for piece in def.pieces {
            let (start, len) = (piece.offset as usize, piece.len as usize);
            value.bytes[at..at + len].copy_from_slice(&block[start..start + len]);
            at += len;
        }
        Ok(value)
    }

    /// A register of at most 64 bits, as an integer.
    pub fn get_u64(&self, name: &str) -> Result<u64> {
        let def = self.def(name)?;
        // The common case, a whole 64-bit register: read it straight from the block.
        if let ([piece], Some(block)) = (def.pieces, self.block(def.group)) {
            if piece.len == 8 {
                if let Some(bytes) = block.get(piece.offset as usize..piece.offset as usize + 8) {
                    return Ok(u64::from_le_bytes(bytes.try_into().expect("8 bytes")));
                }
            }
        }
        let value = self.get_def(def)?;
        value.to_u64().ok_or_else(|| Error::InvalidArgument(format!("register {name} is wider than 64 bits")))
    }

    /// Sets a register by name. The value must fit its width; a sub-register changes only its own bytes.
    pub fn set(&mut self, name: &str, value: RegValue) -> Result<()> {
        let def = self.def(name)?;
        let size = def.size();
        if !value.fits(size) {
            return Err(Error::InvalidArgument(format!(
                "{value} does not fit in register {} ({} bits)",
                def.name,
                size * 8
            )));
        }
        let block = self.blocks[def.group as usize]
            .as_mut()
            .ok_or_else(|| Error::InvalidArgument(format!("register {} is not loaded", def.name)))?;
        let mut at = 0;
        for piece in def.pieces {
            let (start, len) = (piece.offset as usize, piece.len as usize);
            block[start..start + len].copy_from_slice(&value.bytes[at..at + len]);
            at += len;
        }
        self.dirty[def.group as usize] = true;
        Ok(())
    }

    /// Sets a register from an integer.
    pub fn set_u64(&mut self, name: &str, value: u64) -> Result<()> {
        let def = self.def(name)?;
        // The common case, a whole 64-bit register: write it straight into the block.
        if let ([piece], Some(block)) = (def.pieces, self.blocks[def.group as usize].as_mut()) {
            if piece.len == 8 {
                if let Some(bytes) = block.get_mut(piece.offset as usize..piece.offset as usize + 8) {
                    bytes.copy_from_slice(&value.to_le_bytes());
                    self.dirty[def.group as usize] = true;
                    return Ok(());
                }
            }
        }
        self.set(name, RegValue::from_u64(value))
    }

    /// The program counter.
    pub fn pc(&self) -> Result<u64> {
        self.get_u64(self.arch.pc)
    }

    /// Sets the program counter.
    pub fn set_pc(&mut self, pc: u64) -> Result<()> {
        self.set_u64(self.arch.pc, pc)
    }

    /// The stack pointer.
    pub fn sp(&self) -> Result<u64> {
        self.get_u64(self.arch.sp)
    }

    /// Sets the stack pointer.
    pub fn set_sp(&mut self, sp: u64) -> Result<()> {
        self.set_u64(self.arch.sp, sp)
    }

    /// The frame pointer.
    pub fn fp(&self) -> Result<u64> {
        self.get_u64(self.arch.fp)
    }

    /// The flags register.
    pub fn flags(&self) -> Result<u64> {
        self.get_u64(self.arch.flags)
    }

    /// Every full (not sub-) register whose group is loaded, in table order.
    pub fn full_registers_loaded(&self) -> Vec<(&'static RegisterDef, RegValue)> {
        self.arch.full_registers().filter_map(|def| Some((def, self.get_def(def).ok()?))).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::x86_64::X86_64;

    fn loaded() -> RegisterContext {
        let mut ctx = RegisterContext::new(&X86_64);
        let general: Vec<u8> = (0..216).map(|i| i as u8).collect();
        ctx.load(RegisterGroup::General, general).unwrap();
        ctx.load(RegisterGroup::Vector, (0..832).map(|i| (i % 251) as u8).collect()).unwrap();
        ctx
    }

    #[test]
    fn sub_registers_read_their_bytes() {
        let ctx = loaded();
        let rax = u64::from_le_bytes(std::array::from_fn(|i| 80 + i as u8));
        assert_eq!(ctx.get_u64("rax").unwrap(), rax);
        assert_eq!(ctx.get_u64("eax").unwrap(), rax & 0xffff_ffff);
        assert_eq!(ctx.get_u64("ax").unwrap(), rax & 0xffff);
        assert_eq!(ctx.get_u64("al").unwrap(), 80);
        assert_eq!(ctx.get_u64("ah").unwrap(), 81);
    }

    #[test]
    fn writing_a_sub_register_changes_only_its_bytes() {
        let mut ctx = loaded();
        let rbx = ctx.get_u64("rbx").unwrap();
        ctx.set_u64("bl", 0x42).unwrap();
        assert_eq!(ctx.get_u64("rbx").unwrap(), (rbx & !0xff) | 0x42);
        assert_eq!(ctx.dirty_groups(), [RegisterGroup::General]);
        ctx.mark_clean(RegisterGroup::General);
        assert!(ctx.dirty_groups().is_empty());
    }

    #[test]
    fn ymm_joins_two_pieces() {
        let mut ctx = loaded();
        let ymm = RegValue::from_bytes(&(0..32).collect::<Vec<u8>>()).unwrap();
        ctx.set("ymm2", ymm).unwrap();
        assert_eq!(ctx.get("ymm2").unwrap(), ymm);
        assert_eq!(ctx.get("xmm2").unwrap().as_bytes(), &ymm.as_bytes()[..16]);
        assert_eq!(&ctx.block(RegisterGroup::Vector).unwrap()[576 + 32..576 + 48], &ymm.as_bytes()[16..]);
    }

    #[test]
    fn errors_name_the_register() {
        let mut ctx = loaded();
        let err = ctx.set_u64("al", 0x100).unwrap_err().to_string();
        assert!(err.contains("al"), "{err}");
        let err = ctx.get("nope").unwrap_err().to_string();
        assert!(err.contains("nope"), "{err}");
        let err = ctx.get("dr7").unwrap_err().to_string();
        assert!(err.contains("dr7") && err.contains("not loaded"), "{err}");
        assert!(ctx.get_u64("xmm0").is_err());
    }

    #[test]
    fn x87_values_convert() {
        let one = [0, 0, 0, 0, 0, 0, 0, 0x80, 0xff, 0x3f];
        assert_eq!(x87_to_f64(&one), 1.0);
        // -2.5 = -1.25 * 2^1: mantissa 0xa000..., exponent 0x4000, sign set.
        let minus = [0, 0, 0, 0, 0, 0, 0, 0xa0, 0x00, 0xc0];
        assert_eq!(x87_to_f64(&minus), -2.5);
        assert_eq!(x87_to_f64(&[0; 10]), 0.0);
    }

    #[test]
    fn values_display_in_hex() {
        assert_eq!(RegValue::from_u64(0x1f).to_string(), "0x1f");
        assert_eq!(RegValue::from_u128(1).to_string(), format!("0x{:032x}", 1));
        let wide = RegValue::from_bytes(&[1; 32]).unwrap();
        assert_eq!(wide.to_string(), format!("0x{}", "01".repeat(32)));
    }
}
