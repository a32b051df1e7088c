//! aarch64 (ARMv8-A, 64-bit): the register file, laid out as Linux hands it out.
//!
//! * General (272 bytes): `struct user_pt_regs`: `x0`-`x30`, `sp`, `pc`,
//!   `pstate` (shown as `cpsr`, gdb's name), one word each.
//! * Vector (528 bytes): `struct user_fpsimd_state`: `v0`-`v31` (16 bytes
//!   each), then `fpsr` and `fpcr` (4 bytes each) and 8 reserved bytes.
//! * Debug: none (hardware breakpoints and watchpoints are not driven on aarch64).
//!
//! The break instruction is `brk #0`; the pc stays on it when it traps. A call
//! (`bl`, `blr`) leaves the return address in the link register `x30`, not
//! on the stack, and the C calling convention (AAPCS64) passes the first eight
//! integer arguments in `x0`-`x7` and returns in `x0`.

use std::sync::OnceLock;

use super::{join_tables, Arch, Piece, RegisterDef, RegisterGroup, RegisterKind, UnwindLayout};

/// A register of `len` bytes at `offset` in `group`'s block: shown as a
/// vector when 16 bytes wide, as an integer otherwise, in the class of its group.
const fn def(
    name: &'static str,
    group: RegisterGroup,
    offset: u16,
    len: u16,
    parent: Option<&'static str>,
    dwarf: Option<u16>,
) -> RegisterDef {
    let kind = if len == 16 { RegisterKind::Vector } else { RegisterKind::Integer };
    let class = match group {
        RegisterGroup::Vector => "fpsimd",
        _ => "general",
    };
    RegisterDef { name, group, pieces: piece_table(offset, len), kind, class, parent, dwarf }
}

/// The one-piece slice `[Piece { offset, len }]` for every offset in use,
/// built at compile time (a `const fn` cannot promote a runtime value to a `&'static`).
const fn piece_table(offset: u16, len: u16) -> &'static [Piece] {
    let index = (offset / 4) as usize;
    match len {
        4 => std::slice::from_ref(&PIECES_4[index]),
        8 => std::slice::from_ref(&PIECES_8[index]),
        16 => std::slice::from_ref(&PIECES_16[index]),
        _ => panic!("no piece table for this length"),
    }
}

/// Pieces of `len` bytes at every multiple of 4 up to the largest block.
const fn pieces<const LEN: u16>() -> [Piece; 136] {
    let mut out = [Piece { offset: 0, len: LEN }; 136];
    let mut i = 0;
    while i < out.len() {
        out[i].offset = (i * 4) as u16;
        i += 1;
    }
    out
}

static PIECES_4: [Piece; 136] = pieces::<4>();
static PIECES_8: [Piece; 136] = pieces::<8>();
static PIECES_16: [Piece; 136] = pieces::<16>();

/// General registers `x0`-`x30`, with their 32-bit halves `w0`-`w30` as sub-registers.
macro_rules! general {
    ($($n:literal)*) => {
        (
            [$(def(concat!("x", $n), RegisterGroup::General, 8 * $n, 8, None, Some($n)),)*],
            [$(def(concat!("w", $n), RegisterGroup::General, 8 * $n, 4, Some(concat!("x", $n)), None),)*],
        )
    };
}

/// Vector registers `v0`-`v31`, with their 64- and 32-bit views `dN`, `sN` as sub-registers.
macro_rules! vectors {
    ($($n:literal)*) => {
        (
            [$(def(concat!("v", $n), RegisterGroup::Vector, 16 * $n, 16, None,
                Some(64 + $n)),)*],
            [$(def(concat!("d", $n), RegisterGroup::Vector, 16 * $n, 8, Some(concat!("v", $n)), None),)*],
            [$(def(concat!("s", $n), RegisterGroup::Vector, 16 * $n, 4, Some(concat!("v", $n)), None),)*],
        )
    };
}

const GENERAL: ([RegisterDef; 31], [RegisterDef; 31]) =
    general!(0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30);
const VECTORS: ([RegisterDef; 32], [RegisterDef; 32], [RegisterDef; 32]) =
    vectors!(0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31);

const SPECIAL: [RegisterDef; 5] = [
    def("sp", RegisterGroup::General, 248, 8, None, Some(31)),
    def("pc", RegisterGroup::General, 256, 8, None, None),
    def("cpsr", RegisterGroup::General, 264, 8, None, None),
    def("fpsr", RegisterGroup::Vector, 512, 4, None, None),
    def("fpcr", RegisterGroup::Vector, 516, 4, None, None),
];

/// The usual aliases: `fp` is `x29`, `lr` is `x30`.
const ALIASES: [RegisterDef; 2] = [
    def("fp", RegisterGroup::General, 8 * 29, 8, Some("x29"), None),
    def("lr", RegisterGroup::General, 8 * 30, 8, Some("x30"), None),
];

const COUNT: usize = 31 + SPECIAL.len() + 32 + 31 + 32 + 32 + ALIASES.len();

/// Every aarch64 register: full registers first (general, special, vector), then sub-registers and aliases.
static REGISTERS: [RegisterDef; COUNT] =
    join_tables(&[&GENERAL.0, &SPECIAL, &VECTORS.0, &GENERAL.1, &VECTORS.1, &VECTORS.2, &ALIASES]);

/// DWARF numbers the unwinder tracks: `x0`-`x30`, `sp` (31), and `pc` (32).
const UNWIND_NAMES: [&str; 33] = [
    "x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11", "x12", "x13", "x14", "x15", "x16", "x17",
    "x18", "x19", "x20", "x21", "x22", "x23", "x24", "x25", "x26", "x27", "x28", "x29", "x30", "sp", "pc",
];

/// The aarch64 architecture (little-endian, Linux's register layout).
pub static AARCH64: Arch = Arch {
    name: "aarch64",
    pointer_size: 8,
    // brk #0
    break_instruction: &[0x00, 0x00, 0x20, 0xd4],
    pc_after_break: false,
    registers: &REGISTERS,
    group_sizes: [272, 528, 0],
    pc: "pc",
    sp: "sp",
    fp: "x29",
    flags: "cpsr",
    // AAPCS64.
    call_args: &["x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7"],
    stack_args_offset: 0,
    return_value: "x0",
    return_address_on_stack: false,
    unwind: UnwindLayout {
        names: &UNWIND_NAMES,
        pc: 32,
        sp: 31,
        fp: 29,
        return_address: 30,
        link_register: true,
        // x19-x28 and the frame pointer x29.
        callee_saved: &[19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29],
        address_size: 8,
        pointer_auth: true,
    },
    by_name: OnceLock::new(),
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_the_kernel() {
        assert_eq!(AARCH64.register("x0").unwrap().pieces, &[Piece { offset: 0, len: 8 }]);
        assert_eq!(AARCH64.register("w30").unwrap().pieces, &[Piece { offset: 240, len: 4 }]);
        assert_eq!(AARCH64.register("lr").unwrap().pieces, AARCH64.register("x30").unwrap().pieces);
        assert_eq!(AARCH64.register("pc").unwrap().pieces, &[Piece { offset: 256, len: 8 }]);
        assert_eq!(AARCH64.register("v31").unwrap().pieces, &[Piece { offset: 496, len: 16 }]);
        assert_eq!(AARCH64.register("d1").unwrap().pieces, &[Piece { offset: 16, len: 8 }]);
        assert_eq!(AARCH64.register("fpcr").unwrap().pieces, &[Piece { offset: 516, len: 4 }]);
        assert_eq!(AARCH64.full_registers().count(), 31 + 5 + 32);
        for (number, name) in AARCH64.unwind.names.iter().enumerate().take(32) {
            assert_eq!(AARCH64.register(name).unwrap().dwarf, Some(number as u16));
        }
    }
}
