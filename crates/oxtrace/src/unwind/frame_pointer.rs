//! Unwinding by frame pointers: the fallback for code without call frame information.
//!
//! Each frame's `rbp` points at the caller's saved `rbp`, with the return
//! address above it. That chain is only set up after a function's prologue
//! (`push %rbp; mov %rsp,%rbp`), so the innermost frame is handled by looking
//! at the prologue: stopped at a function's first instruction, the return
//! address is at `[rsp]` (vtrace reads `[rbp+8]` there and loses the caller).
//!
//! aarch64 keeps the same record (`x29` points at the caller's `x29`, the
//! return address above it); at a function's first instruction the return
//! address is still in the link register. But GCC puts the record at the
//! bottom of the frame (`stp x29, x30, [sp, #-N]!; mov x29, sp`), so there
//! the caller's stack pointer, taken as `x29 + 16`, is a lower bound, not the
//! exact value: this fallback serves only code without CFI.

use super::regs::UnwindRegs;

const ENDBR64: [u8; 4] = [0xf3, 0x0f, 0x1e, 0xfa];
const ENDBR32: [u8; 4] = [0xf3, 0x0f, 0x1e, 0xfb];
const PUSH_RBP: u8 = 0x55;
const MOV_RSP_RBP: [u8; 3] = [0x48, 0x89, 0xe5];
/// `mov %esp, %ebp` (i386: no REX prefix).
const MOV_ESP_EBP: [u8; 2] = [0x89, 0xe5];

/// Where the innermost frame stands in its function's prologue.
enum Prologue {
    /// Nothing pushed yet: the return address is at `[sp]`.
    BeforePush,
    /// At the first instruction of a function called through a link register.
    AtLinkEntry,
    /// `rbp` pushed, not yet moved: the return address is at `[sp + 8]`, the caller's `rbp` at `[sp]`.
    AfterPush,
    /// The function sets up no frame (a leaf in assembly, such as glibc's
    /// `clone3` after its CFI ends): the return address is at `[sp]`.
    NoFrame,
    /// The frame is set up.
    Done,
}

fn prologue_state(pc: u64, start: u64, word: u64, read: &mut dyn FnMut(u64, &mut [u8]) -> bool) -> Prologue {
    // At a function's first instruction the call has just pushed the return
    // address, whatever the prologue looks like (the 32-bit vdso's functions
    // have no CFI and no frame-pointer prologue).
    if pc == start {
        return Prologue::BeforePush;
    }
    let mut code = [0u8; 8];
    if pc < start || !read(start, &mut code) {
        return Prologue::Done;
    }
    let push_at = if code[..4] == ENDBR64 || code[..4] == ENDBR32 { 4 } else { 0 };
    let mov_frame = match word {
        4 => &code[push_at + 1..push_at + 3] == MOV_ESP_EBP.as_slice(),
        _ => code[push_at + 1..push_at + 4] == MOV_RSP_RBP,
    };
    if code[push_at] != PUSH_RBP || !mov_frame {
        return Prologue::NoFrame;
    }
    match pc - start {
        off if off <= push_at as u64 => Prologue::BeforePush,
        off if off == push_at as u64 + 1 => Prologue::AfterPush,
        _ => Prologue::Done,
    }
}

/// The caller of a frame by the frame-pointer chain, and the frame's CFA.
/// `innermost` frames are checked against their function's prologue
/// (`function_start` gives where it begins).
pub fn step_frame_pointer(
    regs: &UnwindRegs,
    innermost: bool,
    function_start: Option<u64>,
    read: &mut dyn FnMut(u64, &mut [u8]) -> bool,
) -> Option<(UnwindRegs, u64)> {
    let (pc, sp) = (regs.pc()?, regs.sp()?);
    let layout = regs.layout();
    let word = u64::from(layout.address_size);
    let prologue = match function_start {
        Some(start) if innermost && layout.link_register && pc == start => Prologue::AtLinkEntry,
        Some(start) if innermost && !layout.link_register => prologue_state(pc, start, word, read),
        _ => Prologue::Done,
    };
    // Without a frame, `[sp]` is the return address if a call precedes what it points at.
    let unframed_return = match prologue {
        Prologue::NoFrame => layout.read_word(read, sp).filter(|&ra| follows_a_call(ra, read)),
        _ => None,
    };
    let mut read_word = |addr: u64| layout.read_word(read, addr);
    // (the frame's CFA, the caller's frame pointer, the return address)
    let (cfa, caller_fp, return_to) = match prologue {
        Prologue::AtLinkEntry => (sp, regs.fp(), regs.get(layout.return_address)?),
        Prologue::BeforePush => (sp.checked_add(word)?, regs.fp(), read_word(sp)?),
        Prologue::AfterPush => (sp.checked_add(2 * word)?, Some(read_word(sp)?), read_word(sp + word)?),
        Prologue::NoFrame => match unframed_return {
            Some(return_to) => (sp.checked_add(word)?, regs.fp(), return_to),
            None => frame_pointer_record(regs, sp, &mut read_word)?,
        },
        Prologue::Done => frame_pointer_record(regs, sp, &mut read_word)?,
    };
    let mut caller = regs.callee_saved();
    caller.set(layout.fp, caller_fp);
    caller.set_sp(Some(cfa));
    if layout.link_register {
        caller.set(layout.return_address, Some(return_to));
    }
    caller.set_pc(Some(layout.strip_code(return_to)));
    Some((caller, cfa))
}

/// The frame record `fp` points at: (the frame's CFA, the caller's frame
/// pointer, the return address).
fn frame_pointer_record(
    regs: &UnwindRegs,
    sp: u64,
    read_word: &mut dyn FnMut(u64) -> Option<u64>,
) -> Option<(u64, Option<u64>, u64)> {
    let word = u64::from(regs.layout().address_size);
    let fp = regs.fp().filter(|&fp| fp != 0 && fp >= sp)?;
    Some((fp.checked_add(2 * word)?, Some(read_word(fp)?), read_word(fp + word)?))
}

/// Whether the instruction just before `addr` is a call (`call rel32`, or
/// `call` through a register or memory): `addr` can be a return address.
fn follows_a_call(addr: u64, read: &mut dyn FnMut(u64, &mut [u8]) -> bool) -> bool {
    let mut code = [0u8; 7];
    let Some(from) = addr.checked_sub(code.len() as u64) else { return false };
    if !read(from, &mut code) {
        return false;
    }
    let is_indirect_call = |at: usize| code[at] == 0xff && (code[at + 1] >> 3) & 7 == 2;
    code[2] == 0xe8 || is_indirect_call(5) || is_indirect_call(4) || is_indirect_call(1)
}
