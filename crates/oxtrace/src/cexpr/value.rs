//! Typed values: a C type, its bytes, and where they came from (so that an
//! assignment can write them back).

use crate::symbols::{CKind, CType, Place};

/// A typed value.
#[derive(Debug, Clone, PartialEq)]
pub struct CValue {
    /// Its type.
    pub ty: CType,
    /// Its bytes (little-endian), `ty.size` of them; empty when optimized out.
    pub bytes: Vec<u8>,
    /// Where it lives.
    pub place: Place,
}

impl CValue {
    /// A value that lives nowhere (the result of an operation).
    pub fn computed(ty: CType, bytes: Vec<u8>) -> CValue {
        CValue { ty, bytes, place: Place::Computed }
    }

    /// A value of an integer, pointer or enum type from a number (truncated to the type's size).
    pub fn from_int(ty: CType, value: i128) -> CValue {
        let size = (ty.size as usize).min(16);
        let bytes = value.to_le_bytes()[..size].to_vec();
        CValue::computed(ty, bytes)
    }

    /// A value of a floating-point type.
    pub fn from_float(ty: CType, value: f64) -> CValue {
        let bytes = match ty.size {
            4 => (value as f32).to_le_bytes().to_vec(),
            _ => value.to_le_bytes().to_vec(),
        };
        CValue::computed(ty, bytes)
    }

    /// A value of `ty` with no value at all.
    pub fn optimized_out(ty: CType) -> CValue {
        CValue { ty, bytes: Vec::new(), place: Place::OptimizedOut }
    }

    /// Whether it was optimized out.
    pub fn is_optimized_out(&self) -> bool {
        matches!(self.place, Place::OptimizedOut | Place::NotSaved)
    }

    /// Its address, when it lives in memory.
    pub fn address(&self) -> Option<u64> {
        match self.place {
            Place::Memory(addr) => Some(addr),
            _ => None,
        }
    }

    /// The value as an integer (sign-extended for signed types), for
    /// integers, characters, booleans, enums and pointers.
    pub fn as_int(&self) -> Option<i128> {
        let stripped = self.ty.strip();
        let integral = stripped.is_integer() || matches!(stripped.kind, CKind::Pointer(_) | CKind::Reference(_));
        if !integral || self.bytes.is_empty() {
            return None;
        }
        let n = self.bytes.len().min(16);
        let mut raw = [0u8; 16];
        raw[..n].copy_from_slice(&self.bytes[..n]);
        let value = u128::from_le_bytes(raw);
        let shift = 128 - 8 * n as u32;
        Some(if stripped.is_signed() { ((value << shift) as i128) >> shift } else { value as i128 })
    }

    /// The value as a floating-point number (integers converted).
    pub fn as_float(&self) -> Option<f64> {
        if self.ty.is_float() {
            return match self.bytes.len() {
                4 => Some(f64::from(f32::from_le_bytes(self.bytes[..4].try_into().ok()?))),
                8 => Some(f64::from_le_bytes(self.bytes[..8].try_into().ok()?)),
                16 | 10 | 12 => {
                    let raw: [u8; 10] = self.bytes[..10].try_into().ok()?;
                    Some(crate::registers::x87_to_f64(&raw))
                }
                _ => None,
            };
        }
        self.as_int().map(|v| v as f64)
    }

    /// Whether the value is non-zero (C truth).
    pub fn truth(&self) -> Option<bool> {
        if self.ty.is_float() {
            return self.as_float().map(|f| f != 0.0);
        }
        self.as_int().map(|v| v != 0)
    }
}
