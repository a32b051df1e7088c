//! The save area a pad builds on the program's stack: where each register of
//! the program is while the pad works, and the code that saves and restores it.
//!
//! The pad first moves `rsp` 128 bytes down (the System V red zone, which a
//! leaf function may use below `rsp` without moving it: `lea`, which changes
//! no flag), pushes the flags, then the fifteen other general registers.
//! `rbx` then points at the area, so that the pad's own pushes do not move
//! the registers' slots.

use iced_x86::code_asm::{ptr, IcedError};
use iced_x86::code_asm::{
    r10, r11, r12, r13, r14, r15, r8, r9, rax, rbp, rbx, rcx, rdi, rdx, rsi, rsp, AsmRegister64, CodeAssembler,
    CodeLabel,
};

/// The red zone skipped before anything is pushed.
pub(super) const RED_ZONE: i32 = 128;

/// The registers pushed after the flags, in order.
const PUSHED: [(&str, AsmRegister64); 15] = [
    ("rax", rax),
    ("rcx", rcx),
    ("rdx", rdx),
    ("rbx", rbx),
    ("rbp", rbp),
    ("rsi", rsi),
    ("rdi", rdi),
    ("r8", r8),
    ("r9", r9),
    ("r10", r10),
    ("r11", r11),
    ("r12", r12),
    ("r13", r13),
    ("r14", r14),
    ("r15", r15),
];

/// Bytes of the area: the flags and the fifteen registers.
pub(super) const AREA: i32 = 16 * 8;

/// Where the flags are, from `rbx`.
pub(super) const FLAGS_SLOT: i32 = 15 * 8;

/// Where a 64-bit general register (`rax`...`r15`, not `rsp`) is, from `rbx`.
pub(super) fn slot(name: &str) -> Option<i32> {
    let n = PUSHED.iter().position(|(r, _)| *r == name)?;
    Some(8 * (14 - n as i32))
}

/// Saves the flags and, with `all`, every general register, and points `rbx`
/// at the area. `pushf` labels the `pushfq`: a thread stopped on it has only
/// moved `rsp` (see [`super::patch`]).
pub(super) fn save(a: &mut CodeAssembler, all: bool, pushf: &mut CodeLabel) -> Result<(), IcedError> {
    a.lea(rsp, ptr(rsp - RED_ZONE))?;
    a.set_label(pushf)?;
    a.pushfq()?;
    if all {
        for (_, reg) in PUSHED {
            a.push(reg)?;
        }
        a.mov(rbx, rsp)?;
    }
    Ok(())
}

/// Restores what [`save`] saved (with `all`, from `rbx`, whatever the pad pushed since).
pub(super) fn restore(a: &mut CodeAssembler, all: bool) -> Result<(), IcedError> {
    if all {
        a.mov(rsp, rbx)?;
        for (_, reg) in PUSHED.iter().rev() {
            a.pop(*reg)?;
        }
    }
    a.popfq()?;
    a.lea(rsp, ptr(rsp + RED_ZONE))?;
    Ok(())
}
