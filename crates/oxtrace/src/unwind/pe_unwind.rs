//! Unwinding x64 Windows code by its `.pdata`/`.xdata` tables, as Windows'
//! own unwinder does.
//!
//! The function holding the pc is found in `.pdata` (sorted, searched by
//! halves). A pc inside an epilogue runs the rest of the epilogue (see
//! `pe_epilogue.rs`); otherwise the unwind codes are undone in their order,
//! those of a prologue instruction not yet run (its offset past the pc's) left
//! out, then those of chained entries, and the return address is popped
//! (unless a machine frame gave the interrupted pc and stack). A function
//! without an entry is a leaf: it has not touched the stack, and its return
//! address is at `[rsp]`.

use object::{Object, ObjectSection, SectionKind};

use super::pe_epilogue::{epilogue_at, EpilogueStep, MAX_EPILOGUE};
use super::pe_unwind_info::{dwarf_number, RuntimeFunction, UnwindOp, X64UnwindInfo};
use super::regs::UnwindRegs;

/// The DWARF numbers of the registers a Windows x64 callee preserves (and
/// thus an unwinder carries to the caller): rbx, rsi, rdi, rbp, r12-r15.
const NONVOLATILE: [u16; 8] = [3, 4, 5, 6, 12, 13, 14, 15];

/// The most chained entries followed (Windows allows a few; a loop is corrupt data).
const MAX_CHAIN: usize = 32;

/// The caller of a frame, by the unwind tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeStep {
    /// The caller's registers: its pc, its stack pointer, and the non-volatile registers.
    pub caller: UnwindRegs,
    /// The frame's CFA: the caller's stack pointer.
    pub cfa: u64,
    /// Where the frame saved the caller's general registers (by DWARF number).
    pub saved_at: UnwindRegs,
    /// Where it saved the caller's `xmm0`..`xmm15` (only `xmm6`-`xmm15` are ever saved).
    pub xmm_saved_at: [Option<u64>; 16],
    /// A machine frame (an interrupt or exception) gave the caller: its pc
    /// is where it was interrupted, not a return address.
    pub machine_frame: bool,
    /// How the frame was unwound.
    pub how: PeStepKind,
}

/// Which rule unwound a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeStepKind {
    /// The unwind codes (all, or the prologue's executed part).
    Codes,
    /// The pc was in an epilogue, whose rest was run.
    Epilogue,
    /// No `.pdata` entry: a leaf function.
    Leaf,
}

/// The x64 unwind tables of one PE image: its `.pdata` entries, and the
/// bytes of its sections (for `.xdata` and for the code at a pc).
#[derive(Debug, Clone, Default)]
pub struct PeUnwindTables {
    image_base: u64,
    functions: Vec<RuntimeFunction>,
    /// (RVA, bytes) of each section with file data.
    sections: Vec<(u32, Vec<u8>)>,
}

impl PeUnwindTables {
    /// Reads the exception directory of an x64 PE file (empty for anything else).
    pub fn from_object(file: &object::File) -> PeUnwindTables {
        let object::File::Pe64(pe) = file else { return PeUnwindTables::default() };
        let image_base = file.relative_address_base();
        // Code, and the data where linkers put UNWIND_INFO (`.xdata`, or `.rdata` with lld); not DWARF.
        let wanted = |kind| !matches!(kind, SectionKind::Debug | SectionKind::DebugString | SectionKind::Other);
        let sections: Vec<(u32, Vec<u8>)> = file
            .sections()
            .filter(|s| wanted(s.kind()))
            .filter_map(|s| {
                let rva = u32::try_from(s.address().checked_sub(image_base)?).ok()?;
                let data = s.data().ok()?;
                (!data.is_empty()).then(|| (rva, data.to_vec()))
            })
            .collect();
        let mut tables = PeUnwindTables { image_base, functions: Vec::new(), sections };
        let directory = pe.data_directory(object::pe::IMAGE_DIRECTORY_ENTRY_EXCEPTION);
        if let Some((rva, size)) = directory.map(|d| d.address_range()) {
            if let Some(bytes) = tables.bytes_at(rva, size as usize) {
                let mut functions: Vec<RuntimeFunction> =
                    bytes.chunks_exact(12).filter_map(RuntimeFunction::parse).filter(|f| f.begin < f.end).collect();
                functions.sort_by_key(|f| f.begin);
                tables.functions = functions;
            }
        }
        tables
    }

    /// Whether the image has no `.pdata` entries.
    pub fn is_empty(&self) -> bool {
        self.functions.is_empty()
    }

    /// The preferred image base the tables' addresses are relative to.
    pub fn image_base(&self) -> u64 {
        self.image_base
    }

    /// Every `.pdata` entry, by address.
    pub fn functions(&self) -> &[RuntimeFunction] {
        &self.functions
    }

    /// The entry covering an image-relative address.
    pub fn function_at(&self, rva: u32) -> Option<RuntimeFunction> {
        let i = self.functions.partition_point(|f| f.begin <= rva).checked_sub(1)?;
        Some(self.functions[i]).filter(|f| rva < f.end)
    }

    /// The decoded `UNWIND_INFO` of an entry.
    pub fn unwind_info(&self, function: &RuntimeFunction) -> Option<X64UnwindInfo> {
        // The longest record: a 4-byte header, 255 slots, padding, a trailer.
        let available = self.bytes_from(function.unwind_info)?;
        X64UnwindInfo::parse(&available[..available.len().min(4 + 2 * 256 + 12)])
    }

    /// `len` bytes of the image at an RVA, if one section holds them all.
    pub fn bytes_at(&self, rva: u32, len: usize) -> Option<&[u8]> {
        self.bytes_from(rva)?.get(..len)
    }

    /// The bytes from an RVA to the end of its section.
    fn bytes_from(&self, rva: u32) -> Option<&[u8]> {
        self.sections.iter().find_map(|(start, data)| {
            let off = usize::try_from(rva.checked_sub(*start)?).ok()?;
            data.get(off..).filter(|rest| !rest.is_empty())
        })
    }

    /// Unwinds one frame. `pc` is the frame's pc, `lookup` the address whose
    /// function applies (the pc, or a return address minus one), `bias` the
    /// module's load address minus its image base. `None` when a needed word
    /// of the stack cannot be read or the tables are corrupt.
    pub fn step(
        &self,
        pc: u64,
        lookup: u64,
        bias: u64,
        regs: &UnwindRegs,
        read: &mut dyn FnMut(u64, &mut [u8]) -> bool,
    ) -> Option<PeStep> {
        let base = self.image_base.wrapping_add(bias);
        let rva = |addr: u64| u32::try_from(addr.wrapping_sub(base)).ok();
        let mut ctx = *regs;
        let mut saved_at = regs.empty_like();
        let mut xmm_saved_at = [None; 16];
        let layout = regs.layout();
        let Some(entry) = rva(lookup).and_then(|r| self.function_at(r)) else {
            return self.finish(regs, ctx, saved_at, xmm_saved_at, PeStepKind::Leaf, read);
        };
        let info = self.unwind_info(&entry)?;
        let pc_rva = rva(pc)?;
        let in_function = (entry.begin..entry.end).contains(&pc_rva);
        let in_prologue = pc_rva.wrapping_sub(entry.begin) < u32::from(info.prologue_size);
        if in_function && !in_prologue {
            let frame_register = (info.frame_register != 0).then(|| dwarf_number(info.frame_register));
            let code = self.code_at(pc, pc_rva, read);
            let primary = self.primary(entry);
            let inside =
                |addr: u64| rva(addr).and_then(|r| self.function_at(r)).map(|f| self.primary(f)) == Some(primary);
            if let Some(steps) = epilogue_at(&code, pc, frame_register, &inside) {
                for step in steps {
                    let sp = ctx.sp()?;
                    match step {
                        EpilogueStep::AddRsp(n) => ctx.set_sp(Some(sp.wrapping_add(n))),
                        EpilogueStep::LeaRsp { base, displacement } => {
                            ctx.set_sp(Some(ctx.get(base)?.wrapping_add_signed(displacement)))
                        }
                        EpilogueStep::Pop(register) => {
                            ctx.set(register, Some(layout.read_word(read, sp)?));
                            saved_at.set(register, Some(sp));
                            ctx.set_sp(Some(sp.wrapping_add(8)));
                        }
                        EpilogueStep::Return => {}
                    }
                }
                return self.finish(regs, ctx, saved_at, xmm_saved_at, PeStepKind::Epilogue, read);
            }
        }
        let mut machine_frame = false;
        let (mut entry, mut info) = (entry, info);
        for _ in 0..MAX_CHAIN {
            // Codes of prologue instructions past the pc have not run yet.
            let offset = pc_rva.wrapping_sub(entry.begin);
            let limit = if offset < u32::from(info.prologue_size) { offset } else { u32::MAX };
            let applies = |at: u8| u32::from(at) <= limit;
            let frame_set = info.codes.iter().any(|c| c.op == UnwindOp::SetFpreg && applies(c.offset));
            // Saved registers are addressed from the frame base: the frame
            // register less its offset once set, else the stack pointer.
            let frame = match frame_set {
                true => ctx.get(dwarf_number(info.frame_register))?.wrapping_sub(u64::from(info.frame_offset)),
                false => ctx.sp()?,
            };
            for code in info.codes.iter().filter(|c| applies(c.offset)) {
                let sp = ctx.sp()?;
                match code.op {
                    UnwindOp::PushNonvol(register) => {
                        let register = dwarf_number(register);
                        ctx.set(register, Some(layout.read_word(read, sp)?));
                        saved_at.set(register, Some(sp));
                        ctx.set_sp(Some(sp.wrapping_add(8)));
                    }
                    UnwindOp::AllocLarge(n) | UnwindOp::AllocSmall(n) => {
                        ctx.set_sp(Some(sp.wrapping_add(u64::from(n))))
                    }
                    UnwindOp::SetFpreg => ctx.set_sp(Some(frame)),
                    UnwindOp::SaveNonvol { register, offset, .. } => {
                        let (register, at) = (dwarf_number(register), frame.wrapping_add(u64::from(offset)));
                        ctx.set(register, Some(layout.read_word(read, at)?));
                        saved_at.set(register, Some(at));
                    }
                    UnwindOp::SaveXmm128 { register, offset, .. } => {
                        xmm_saved_at[usize::from(register & 15)] = Some(frame.wrapping_add(u64::from(offset)));
                    }
                    UnwindOp::PushMachframe { error_code } => {
                        let at = if error_code { sp.wrapping_add(8) } else { sp };
                        ctx.set_pc(Some(layout.read_word(read, at)?));
                        ctx.set_sp(Some(layout.read_word(read, at.wrapping_add(24))?));
                        machine_frame = true;
                    }
                    UnwindOp::Epilog => {}
                }
            }
            let Some(parent) = info.chained else { break };
            info = self.unwind_info(&parent)?;
            entry = parent;
        }
        let kind = PeStepKind::Codes;
        match machine_frame {
            true => Some(Self::caller_of(regs, ctx, saved_at, xmm_saved_at, kind, true)),
            false => self.finish(regs, ctx, saved_at, xmm_saved_at, kind, read),
        }
    }

    /// The entry a chain of entries ends at: the function's primary part.
    fn primary(&self, mut entry: RuntimeFunction) -> RuntimeFunction {
        for _ in 0..MAX_CHAIN {
            match self.unwind_info(&entry).and_then(|info| info.chained) {
                Some(parent) => entry = parent,
                None => break,
            }
        }
        entry
    }

    /// The bytes at the pc, from the image (where breakpoints never show),
    /// else from memory.
    fn code_at(&self, pc: u64, pc_rva: u32, read: &mut dyn FnMut(u64, &mut [u8]) -> bool) -> Vec<u8> {
        if let Some(rest) = self.bytes_from(pc_rva) {
            return rest[..rest.len().min(MAX_EPILOGUE)].to_vec();
        }
        let mut code = vec![0u8; MAX_EPILOGUE];
        while !code.is_empty() && !read(pc, &mut code) {
            code.truncate(code.len() / 2);
        }
        code
    }

    /// Pops the return address from the unwound context.
    fn finish(
        &self,
        regs: &UnwindRegs,
        mut ctx: UnwindRegs,
        saved_at: UnwindRegs,
        xmm_saved_at: [Option<u64>; 16],
        how: PeStepKind,
        read: &mut dyn FnMut(u64, &mut [u8]) -> bool,
    ) -> Option<PeStep> {
        let sp = ctx.sp()?;
        ctx.set_pc(Some(regs.layout().read_word(read, sp)?));
        ctx.set_sp(Some(sp.wrapping_add(8)));
        Some(Self::caller_of(regs, ctx, saved_at, xmm_saved_at, how, false))
    }

    /// The caller's registers out of the unwound context: pc, stack pointer, non-volatile registers.
    fn caller_of(
        regs: &UnwindRegs,
        ctx: UnwindRegs,
        saved_at: UnwindRegs,
        xmm_saved_at: [Option<u64>; 16],
        how: PeStepKind,
        machine_frame: bool,
    ) -> PeStep {
        let mut caller = regs.empty_like();
        for number in NONVOLATILE {
            caller.set(number, ctx.get(number));
        }
        caller.set_pc(ctx.pc());
        caller.set_sp(ctx.sp());
        let cfa = ctx.sp().unwrap_or(0);
        PeStep { caller, cfa, saved_at, xmm_saved_at, machine_frame, how }
    }
}
