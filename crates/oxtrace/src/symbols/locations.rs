//! Evaluating DWARF locations of variables: gimli runs the expression and
//! asks for registers, memory, the frame base, the CFA, thread-local storage
//! and entry values; the answers come from a [`LocationContext`] that knows
//! one frame of one thread. Pieces are put together into the variable's bytes.

use super::variables::VarLocation;

/// The most operations one expression may run.
const MAX_STEPS: u32 = 10_000;

/// What evaluating a location needs to know about a frame.
pub trait LocationContext {
    /// The bytes of DWARF register `number` in this frame, `None` when it is not saved.
    fn register(&mut self, number: u16) -> Option<Vec<u8>>;
    /// Fills `buf` from memory at `addr`; whether it could.
    fn memory(&mut self, addr: u64, buf: &mut [u8]) -> bool;
    /// The frame's canonical frame address.
    fn cfa(&mut self) -> Option<u64>;
    /// The load bias of the module the expression comes from.
    fn bias(&self) -> u64;
    /// The address of the thread-local block offset `offset` of that module.
    fn tls(&mut self, offset: u64) -> Result<u64, String>;
    /// The value the DWARF location `expr` had at the function's entry, when it can be recovered.
    fn entry_value(&mut self, expr: &VarLocation) -> Option<u64>;
}

/// Where a variable's bytes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// In memory at this address.
    Memory(u64),
    /// In this DWARF register of the frame.
    Register(u16),
    /// A bit field of the object at this address: the first bit and the width.
    Bits(u64, u64, u64),
    /// A register the frame's callee did not save (gdb's `<not saved>`).
    NotSaved,
    /// Computed (several pieces, a constant, a value on the DWARF stack): not assignable.
    Computed,
    /// Optimized out: no value.
    OptimizedOut,
}

/// A located variable: its bytes and where they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// The bytes of the value (empty when optimized out).
    pub bytes: Vec<u8>,
    /// Where they are.
    pub place: Place,
}

impl Located {
    fn optimized_out() -> Located {
        Located { bytes: Vec::new(), place: Place::OptimizedOut }
    }
}

/// Evaluates `location` for a value of `size` bytes; `frame_base` is the
/// function's `DW_AT_frame_base`. An error names what could not be done.
pub fn locate(
    location: &VarLocation,
    frame_base: Option<&VarLocation>,
    size: u64,
    ctx: &mut dyn LocationContext,
) -> Result<Located, String> {
    let size = size.min(1 << 20) as usize;
    let (expr, encoding) = match location {
        VarLocation::OptimizedOut => return Ok(Located::optimized_out()),
        VarLocation::Const(bytes) => {
            let mut bytes = bytes.clone();
            bytes.resize(size, 0);
            return Ok(Located { bytes, place: Place::Computed });
        }
        VarLocation::Expr(expr, encoding) => (expr, *encoding),
    };
    let Some(pieces) = run(expr.clone(), encoding, frame_base, ctx)? else { return Ok(Located::optimized_out()) };
    if let [piece] = pieces.as_slice() {
        if piece.size_in_bits.is_none() {
            return match piece.location {
                gimli::Location::Address { address } => {
                    let mut bytes = vec![0; size];
                    if !ctx.memory(address, &mut bytes) {
                        return Err(format!("Cannot access memory at address {address:#x}"));
                    }
                    Ok(Located { bytes, place: Place::Memory(address) })
                }
                gimli::Location::Register { register } => match ctx.register(register.0) {
                    Some(mut bytes) => {
                        bytes.resize(size, 0);
                        Ok(Located { bytes, place: Place::Register(register.0) })
                    }
                    None => Ok(Located::optimized_out()),
                },
                _ => piece_bytes(piece, size, ctx).map(|b| match b {
                    Some(bytes) => Located { bytes, place: Place::Computed },
                    None => Located::optimized_out(),
                }),
            };
        }
    }
    let mut bytes = Vec::with_capacity(size);
    for piece in &pieces {
        let len = piece.size_in_bits.map_or(size, |bits| bits.div_ceil(8) as usize);
        match piece_bytes(piece, len, ctx)? {
            Some(b) => bytes.extend_from_slice(&b),
            None => return Ok(Located::optimized_out()),
        }
    }
    bytes.resize(size, 0);
    Ok(Located { bytes, place: Place::Computed })
}

type Reader = gimli::EndianArcSlice<gimli::LittleEndian>;

/// The bytes of one piece (`None`: optimized out).
fn piece_bytes(
    piece: &gimli::Piece<Reader>,
    len: usize,
    ctx: &mut dyn LocationContext,
) -> Result<Option<Vec<u8>>, String> {
    let skip = piece.bit_offset.unwrap_or(0) as usize / 8;
    let mut bytes = match &piece.location {
        gimli::Location::Empty => return Ok(None),
        gimli::Location::Register { register } => match ctx.register(register.0) {
            Some(b) => b.get(skip..).unwrap_or_default().to_vec(),
            None => return Ok(None),
        },
        gimli::Location::Address { address } => {
            let mut b = vec![0; len];
            let at = address.wrapping_add(skip as u64);
            if !ctx.memory(at, &mut b) {
                return Err(format!("Cannot access memory at address {at:#x}"));
            }
            b
        }
        gimli::Location::Value { value } => {
            let raw = match *value {
                gimli::Value::F32(f) => u64::from(f.to_bits()),
                gimli::Value::F64(f) => f.to_bits(),
                other => other.to_u64(u64::MAX).map_err(|e| format!("bad DWARF value: {e}"))?,
            };
            raw.to_le_bytes().get(skip..).unwrap_or_default().to_vec()
        }
        gimli::Location::Bytes { value } => {
            gimli::Reader::to_slice(value).map(|s| s.get(skip..).unwrap_or_default().to_vec()).unwrap_or_default()
        }
        gimli::Location::ImplicitPointer { .. } => {
            return Err("a DWARF implicit pointer (DW_OP_implicit_pointer) is not supported".into())
        }
    };
    bytes.resize(len, 0);
    Ok(Some(bytes))
}

/// Runs a DWARF expression to its pieces; `None` when a needed value is not available.
fn run(
    expr: gimli::Expression<Reader>,
    encoding: gimli::Encoding,
    frame_base: Option<&VarLocation>,
    ctx: &mut dyn LocationContext,
) -> Result<Option<Vec<gimli::Piece<Reader>>>, String> {
    let bad = |e: gimli::Error| format!("bad DWARF location: {e}");
    let mut eval = expr.evaluation(encoding);
    eval.set_max_iterations(MAX_STEPS);
    let mut state = eval.evaluate().map_err(bad)?;
    loop {
        state = match state {
            gimli::EvaluationResult::Complete => return Ok(Some(eval.result())),
            gimli::EvaluationResult::RequiresRegister { register, .. } => {
                let Some(bytes) = ctx.register(register.0) else { return Ok(None) };
                let mut raw = [0u8; 8];
                let n = bytes.len().min(8);
                raw[..n].copy_from_slice(&bytes[..n]);
                eval.resume_with_register(gimli::Value::Generic(u64::from_le_bytes(raw))).map_err(bad)?
            }
            gimli::EvaluationResult::RequiresMemory { address, size, .. } => {
                let mut raw = [0u8; 8];
                let n = usize::from(size).min(8);
                if !ctx.memory(address, &mut raw[..n]) {
                    return Err(format!("Cannot access memory at address {address:#x}"));
                }
                eval.resume_with_memory(gimli::Value::Generic(u64::from_le_bytes(raw))).map_err(bad)?
            }
            gimli::EvaluationResult::RequiresFrameBase => {
                let Some(base) = frame_base else { return Err("the function has no frame base".into()) };
                let Some(value) = frame_base_value(base, ctx)? else { return Ok(None) };
                eval.resume_with_frame_base(value).map_err(bad)?
            }
            gimli::EvaluationResult::RequiresCallFrameCfa => {
                let Some(cfa) = ctx.cfa() else { return Ok(None) };
                eval.resume_with_call_frame_cfa(cfa).map_err(bad)?
            }
            gimli::EvaluationResult::RequiresTls(offset) => {
                let addr = ctx.tls(offset)?;
                eval.resume_with_tls(addr).map_err(bad)?
            }
            gimli::EvaluationResult::RequiresRelocatedAddress(addr) => {
                eval.resume_with_relocated_address(addr.wrapping_add(ctx.bias())).map_err(bad)?
            }
            gimli::EvaluationResult::RequiresEntryValue(inner) => {
                let Some(value) = ctx.entry_value(&VarLocation::Expr(inner, encoding)) else { return Ok(None) };
                eval.resume_with_entry_value(gimli::Value::Generic(value)).map_err(bad)?
            }
            gimli::EvaluationResult::RequiresBaseType(_) => {
                return Err("DWARF typed stack operations (DW_OP_convert) are not supported".into())
            }
            gimli::EvaluationResult::RequiresIndexedAddress { .. } => {
                return Err("DWARF 5 indexed addresses (DW_OP_addrx) are not supported".into())
            }
            gimli::EvaluationResult::RequiresAtLocation(_) => {
                return Err("DWARF calls (DW_OP_call2/4) are not supported".into())
            }
            gimli::EvaluationResult::RequiresParameterRef(_) => {
                return Err("DW_OP_GNU_parameter_ref is not supported".into())
            }
            _ => return Err("a WebAssembly DWARF operation is not supported".into()),
        };
    }
}

/// The frame base's value: the address its location gives, or the register it names.
fn frame_base_value(base: &VarLocation, ctx: &mut dyn LocationContext) -> Result<Option<u64>, String> {
    let VarLocation::Expr(expr, encoding) = base else { return Ok(None) };
    let Some(pieces) = run(expr.clone(), *encoding, None, ctx)? else { return Ok(None) };
    Ok(match pieces.first().map(|p| &p.location) {
        Some(gimli::Location::Address { address }) => Some(*address),
        Some(gimli::Location::Register { register }) => ctx.register(register.0).map(|b| {
            let mut raw = [0u8; 8];
            let n = b.len().min(8);
            raw[..n].copy_from_slice(&b[..n]);
            u64::from_le_bytes(raw)
        }),
        _ => None,
    })
}

/// The value of an entry-value expression that is a register (`DW_OP_regN`, `DW_OP_bregN 0`), as its number.
pub fn entry_value_register(expr: &VarLocation) -> Option<u16> {
    let VarLocation::Expr(expr, encoding) = expr else { return None };
    let mut ops = expr.clone().operations(*encoding);
    let first = ops.next().ok()??;
    if ops.next().ok()?.is_some() {
        return None;
    }
    match first {
        gimli::Operation::Register { register } => Some(register.0),
        _ => None,
    }
}

/// Evaluates a DWARF expression that computes a value (a call site's
/// `DW_AT_call_value`) rather than a location; `None` when it cannot be known.
pub fn evaluate_value(
    expr: &VarLocation,
    frame_base: Option<&VarLocation>,
    ctx: &mut dyn LocationContext,
) -> Result<Option<u64>, String> {
    let VarLocation::Expr(expr, encoding) = expr else { return Ok(None) };
    let Some(pieces) = run(expr.clone(), *encoding, frame_base, ctx)? else { return Ok(None) };
    let [piece] = pieces.as_slice() else { return Ok(None) };
    Ok(match &piece.location {
        gimli::Location::Address { address } => Some(*address),
        gimli::Location::Value { value } => value.to_u64(u64::MAX).ok(),
        gimli::Location::Register { register } => ctx.register(register.0).map(|b| {
            let mut raw = [0u8; 8];
            let n = b.len().min(8);
            raw[..n].copy_from_slice(&b[..n]);
            u64::from_le_bytes(raw)
        }),
        _ => None,
    })
}
