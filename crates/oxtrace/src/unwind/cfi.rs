//! Unwinding by DWARF call frame information (`.eh_frame`, `.debug_frame`).
//!
//! The tables say, for every instruction of a function, how to find the
//! frame's CFA (the caller's stack pointer before the call) and where each
//! register of the caller was saved. gimli parses them and runs the row
//! program; this file keeps the sections of one file and turns a row into the
//! caller's registers, evaluating DWARF expressions (PLT stubs and signal
//! trampolines use them) against the frame's registers and memory.

use gimli::{
    BaseAddresses, CfaRule, DebugFrame, EhFrame, EhFrameHdr, EhFrameOffset, EndianSlice, Evaluation, EvaluationResult,
    Expression, FrameDescriptionEntry, LittleEndian, Location, Register, RegisterRule, UnwindContext, UnwindSection,
    UnwindTableRow, Value,
};
use object::{Object, ObjectSection};

use super::regs::UnwindRegs;

type Slice<'a> = EndianSlice<'a, LittleEndian>;

/// A section's bytes and its address in the file's address space.
#[derive(Debug, Clone)]
struct Section {
    data: Vec<u8>,
    addr: u64,
}

impl Section {
    fn from_object(file: &object::File, name: &str) -> Option<Section> {
        let section = file.section_by_name(name)?;
        let data = section.uncompressed_data().ok()?.into_owned();
        (!data.is_empty()).then_some(Section { data, addr: section.address() })
    }
}

/// The caller of a frame, as the frame's CFI row gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CfiStep {
    /// The caller's registers.
    pub caller: UnwindRegs,
    /// The frame's CFA.
    pub cfa: u64,
    /// The frame is a signal trampoline: the caller's pc is where a signal
    /// interrupted it, not a return address.
    pub signal_trampoline: bool,
    /// Where the frame saved the caller's registers: an address per register
    /// the row reads from memory (gdb's "Saved registers").
    pub saved_at: UnwindRegs,
}

/// The call frame information of one ELF file.
#[derive(Debug, Clone, Default)]
pub struct CfiTables {
    eh_frame: Option<Section>,
    eh_frame_hdr: Option<Section>,
    debug_frame: Option<Section>,
    text: u64,
}

impl CfiTables {
    /// Takes the CFI sections of a parsed file (none is an empty table, not an error).
    pub fn from_object(file: &object::File) -> CfiTables {
        CfiTables {
            eh_frame: Section::from_object(file, ".eh_frame"),
            eh_frame_hdr: Section::from_object(file, ".eh_frame_hdr"),
            debug_frame: Section::from_object(file, ".debug_frame"),
            text: file.section_by_name(".text").map_or(0, |s| s.address()),
        }
    }

    /// Adds `.debug_frame` from a separate debug file when the file itself has none.
    pub fn add_debug_frame(&mut self, file: &object::File) {
        if self.debug_frame.is_none() {
            self.debug_frame = Section::from_object(file, ".debug_frame");
        }
    }

    /// Whether the file has any call frame information.
    pub fn is_empty(&self) -> bool {
        self.eh_frame.is_none() && self.debug_frame.is_none()
    }

    /// Unwinds one frame. `lookup` is the runtime address whose row applies (the
    /// pc, or a return address minus one), `bias` the module's load bias,
    /// `regs` the frame's registers. `None` when no row covers the address or
    /// a rule cannot be evaluated.
    pub fn step(
        &self,
        lookup: u64,
        bias: u64,
        regs: &UnwindRegs,
        read: &mut dyn FnMut(u64, &mut [u8]) -> bool,
    ) -> Option<CfiStep> {
        let file_addr = lookup.wrapping_sub(bias);
        self.step_eh_frame(file_addr, regs, read).or_else(|| self.step_debug_frame(file_addr, regs, read))
    }

    fn bases(&self) -> BaseAddresses {
        let mut bases = BaseAddresses::default().set_text(self.text);
        if let Some(eh) = &self.eh_frame {
            bases = bases.set_eh_frame(eh.addr);
        }
        if let Some(hdr) = &self.eh_frame_hdr {
            bases = bases.set_eh_frame_hdr(hdr.addr);
        }
        bases
    }

    fn step_eh_frame(
        &self,
        addr: u64,
        regs: &UnwindRegs,
        read: &mut dyn FnMut(u64, &mut [u8]) -> bool,
    ) -> Option<CfiStep> {
        let eh = self.eh_frame.as_ref()?;
        let address_size = regs.layout().address_size;
        let mut section = EhFrame::new(&eh.data, LittleEndian);
        section.set_address_size(address_size);
        if regs.layout().pointer_auth {
            section.set_vendor(gimli::Vendor::AArch64);
        }
        let bases = self.bases();
        // The header's sorted table finds the FDE by binary search; without it, a scan.
        let indexed = self.eh_frame_hdr.as_ref().and_then(|hdr| {
            let parsed = EhFrameHdr::new(&hdr.data, LittleEndian).parse(&bases, address_size).ok()?;
            let pointer = parsed.table()?.lookup(addr, &bases).ok()?.direct().ok()?;
            // gimli's own offset arithmetic overflows on a corrupt table: check it here.
            let offset = pointer.checked_sub(parsed.eh_frame_ptr().direct().ok()?)?;
            let offset = EhFrameOffset(usize::try_from(offset).ok()?);
            let fde = section.fde_from_offset(&bases, offset, EhFrame::cie_from_offset).ok()?;
            fde.contains(addr).then_some(fde)
        });
        let fde = match indexed {
            Some(fde) => fde,
            None => section.fde_for_address(&bases, addr, EhFrame::cie_from_offset).ok()?,
        };
        step_by_fde(&fde, &section, &bases, addr, regs, read)
    }

    fn step_debug_frame(
        &self,
        addr: u64,
        regs: &UnwindRegs,
        read: &mut dyn FnMut(u64, &mut [u8]) -> bool,
    ) -> Option<CfiStep> {
        let debug = self.debug_frame.as_ref()?;
        let mut section = DebugFrame::new(&debug.data, LittleEndian);
        section.set_address_size(regs.layout().address_size);
        if regs.layout().pointer_auth {
            section.set_vendor(gimli::Vendor::AArch64);
        }
        let bases = self.bases();
        let fde = section.fde_for_address(&bases, addr, DebugFrame::cie_from_offset).ok()?;
        step_by_fde(&fde, &section, &bases, addr, regs, read)
    }
}

thread_local! {
    /// gimli's row-program state, one per thread and reused (it is a few
    /// KiB: a fresh one per frame was an allocation per frame of every walk).
    static CONTEXT: std::cell::RefCell<Box<UnwindContext<usize>>> = std::cell::RefCell::new(Box::new(UnwindContext::new()));
}

/// Runs an FDE's row program to `addr` and applies the row.
fn step_by_fde<'a, S: UnwindSection<Slice<'a>>>(
    fde: &FrameDescriptionEntry<Slice<'a>>,
    section: &S,
    bases: &BaseAddresses,
    addr: u64,
    regs: &UnwindRegs,
    read: &mut dyn FnMut(u64, &mut [u8]) -> bool,
) -> Option<CfiStep> {
    CONTEXT.with(|ctx| {
        let mut ctx = ctx.try_borrow_mut().ok()?;
        let row = fde.unwind_info_for_address(section, bases, &mut ctx, addr).ok()?;
        apply_row(row, section, regs, read, fde.cie().is_signal_trampoline())
    })
}

/// The caller's registers from one row of the table.
fn apply_row<'a, S: UnwindSection<Slice<'a>>>(
    row: &UnwindTableRow<usize>,
    section: &S,
    regs: &UnwindRegs,
    read: &mut dyn FnMut(u64, &mut [u8]) -> bool,
    signal_trampoline: bool,
) -> Option<CfiStep> {
    let cfa = match row.cfa() {
        CfaRule::RegisterAndOffset { register, offset } => regs.get(register.0)?.wrapping_add_signed(*offset),
        CfaRule::Expression(expr) => evaluate(expr.get(section).ok()?, regs, read, None)?,
    };
    let mut saved_at = regs.empty_like();
    let layout = regs.layout();
    let cfa = layout.truncate(cfa);
    let mut caller = regs.callee_saved();
    caller.set_sp(Some(cfa));
    for (register, rule) in row.registers() {
        match rule {
            RegisterRule::Offset(offset) => saved_at.set(register.0, Some(cfa.wrapping_add_signed(*offset))),
            RegisterRule::Expression(expr) => {
                let at = expr.get(section).ok().and_then(|e| evaluate(e, regs, read, Some(cfa)));
                saved_at.set(register.0, at);
            }
            _ => {}
        }
        let value = match rule {
            RegisterRule::Undefined | RegisterRule::Architectural => None,
            RegisterRule::SameValue => regs.get(register.0),
            RegisterRule::Offset(offset) => layout.read_word(read, cfa.wrapping_add_signed(*offset)),
            RegisterRule::ValOffset(offset) => Some(layout.truncate(cfa.wrapping_add_signed(*offset))),
            RegisterRule::Register(other) => regs.get(other.0),
            RegisterRule::Expression(expr) => {
                evaluate(expr.get(section).ok()?, regs, read, Some(cfa)).and_then(|at| layout.read_word(read, at))
            }
            RegisterRule::ValExpression(expr) => evaluate(expr.get(section).ok()?, regs, read, Some(cfa)),
            RegisterRule::Constant(value) => Some(*value),
        };
        caller.set(register.0, value);
    }
    let return_address = Register(layout.return_address);
    let return_to = match row.register(return_address) {
        Some(_) => caller.get(return_address.0),
        // A link register without a rule still holds the return address (a leaf function).
        None if layout.link_register => {
            caller.set(return_address.0, regs.get(return_address.0));
            regs.get(return_address.0)
        }
        // No rule for the return address: the frame is the outermost.
        None => None,
    };
    caller.set_pc(return_to.map(|address| layout.strip_code(address)));
    Some(CfiStep { caller, cfa, signal_trampoline, saved_at })
}

/// Evaluates a DWARF expression against a frame's registers and memory; `initial`
/// is pushed first (the CFA, for register rules).
fn evaluate(
    expr: Expression<Slice<'_>>,
    regs: &UnwindRegs,
    read: &mut dyn FnMut(u64, &mut [u8]) -> bool,
    initial: Option<u64>,
) -> Option<u64> {
    let address_size = regs.layout().address_size;
    let encoding = gimli::Encoding { format: gimli::Format::Dwarf32, version: 4, address_size };
    let mut eval: Evaluation<Slice<'_>> = expr.evaluation(encoding);
    if let Some(value) = initial {
        eval.set_initial_value(value);
    }
    let mut state = eval.evaluate().ok()?;
    // A hostile expression could ask forever: bound the round trips.
    for _ in 0..64 {
        state = match state {
            EvaluationResult::Complete => {
                let piece = eval.result().into_iter().next()?;
                return match piece.location {
                    Location::Address { address } => Some(address),
                    Location::Value { value } => value_to_u64(value),
                    _ => None,
                };
            }
            EvaluationResult::RequiresMemory { address, size, .. } => {
                let mut buf = [0u8; 8];
                let size = usize::from(size).min(usize::from(address_size));
                if !read(address, &mut buf[..size]) {
                    return None;
                }
                eval.resume_with_memory(Value::Generic(u64::from_le_bytes(buf))).ok()?
            }
            EvaluationResult::RequiresRegister { register, .. } => {
                eval.resume_with_register(Value::Generic(regs.get(register.0)?)).ok()?
            }
            _ => return None,
        };
    }
    None
}

fn value_to_u64(value: Value) -> Option<u64> {
    match value {
        Value::Generic(v) | Value::U64(v) => Some(v),
        Value::I64(v) => Some(v as u64),
        other => other.to_u64(u64::MAX).ok(),
    }
}

/// Reads a little-endian word.
pub(super) fn read_u64(read: &mut dyn FnMut(u64, &mut [u8]) -> bool, addr: u64) -> Option<u64> {
    let mut buf = [0u8; 8];
    read(addr, &mut buf).then(|| u64::from_le_bytes(buf))
}
