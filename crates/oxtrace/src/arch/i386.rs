//! i386 (32-bit x86): the register file of a 32-bit process as a 64-bit
//! tracer sees it on x86_64 Linux.
//!
//! A 64-bit tracer gets the same blocks from a 32-bit tracee as from a 64-bit
//! one: the kernel widens the 32-bit registers into the 64-bit
//! `user_regs_struct`, hands out the same XSAVE area and the same debug
//! registers. So the i386 table maps its registers onto those slots, and the
//! Linux backend, core files and the remote backend move the same bytes:
//!
//! * General (216 bytes): `user_regs_struct` of x86_64; `eax` is the low four
//!   bytes of the `rax` slot, `eip` of `rip`, `orig_eax` of `orig_rax`. The
//!   upper halves stay zero in a 32-bit process.
//! * Vector (832 bytes): the start of the XSAVE area; only `xmm0`-`xmm7` and
//!   `ymm0`-`ymm7` exist in 32-bit mode.
//! * Debug (64 bytes): DR0-DR7, one 8-byte slot each, of which the low four
//!   bytes are the 32-bit register.
//!
//! The break instruction is `int3` and the pc stops after it; a call pushes a
//! four-byte return address, and the C calling convention (cdecl) passes
//! every argument on the stack, the first at `esp + 4` on entry, and returns
//! in `eax`.

use std::sync::OnceLock;

use super::{join_tables, Arch, Piece, RegisterDef, RegisterGroup, RegisterKind, UnwindLayout};

/// Order of the 8-byte words in x86_64's `user_regs_struct`, by their i386 names.
const GENERAL: [&str; 27] = [
    "r15", "r14", "r13", "r12", "ebp", "ebx", "r11", "r10", "r9", "r8", "eax", "ecx", "edx", "esi", "edi", "orig_eax",
    "eip", "cs", "eflags", "esp", "ss", "fs_base", "gs_base", "ds", "es", "fs", "gs",
];

/// Byte offset of a general register's slot.
const fn slot(name: &str) -> u16 {
    let mut i = 0;
    while i < GENERAL.len() {
        if const_eq(GENERAL[i], name) {
            return (i * 8) as u16;
        }
        i += 1;
    }
    panic!("not a general register");
}

const fn const_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// One register: `len` bytes at `offset` of `group`.
macro_rules! reg {
    ($name:literal, $group:ident, $offset:expr, $len:expr, $kind:ident, $class:literal, $parent:expr, $dwarf:expr) => {
        RegisterDef {
            name: $name,
            group: RegisterGroup::$group,
            pieces: &[Piece { offset: $offset, len: $len }],
            kind: RegisterKind::$kind,
            class: $class,
            parent: $parent,
            dwarf: $dwarf,
        }
    };
}

/// A 32-bit general register: the low half of its slot.
macro_rules! gpr {
    ($name:literal, $class:literal, $dwarf:expr) => {
        reg!($name, General, slot($name), 4, Integer, $class, None, $dwarf)
    };
}

/// A part of a 32-bit general register: `len` bytes at `byte` within `parent`.
macro_rules! sub {
    ($name:literal, $parent:literal, $byte:expr, $len:expr) => {
        reg!($name, General, slot($parent) + $byte, $len, Integer, "general", Some($parent), None)
    };
}

const GENERAL_REGS: [RegisterDef; 17] = [
    // DWARF numbers of the System V i386 psABI.
    gpr!("eax", "general", Some(0)),
    gpr!("ecx", "general", Some(1)),
    gpr!("edx", "general", Some(2)),
    gpr!("ebx", "general", Some(3)),
    gpr!("esp", "general", Some(4)),
    gpr!("ebp", "general", Some(5)),
    gpr!("esi", "general", Some(6)),
    gpr!("edi", "general", Some(7)),
    gpr!("eip", "general", Some(8)),
    gpr!("eflags", "general", Some(9)),
    gpr!("cs", "segment", Some(41)),
    gpr!("ss", "segment", Some(42)),
    gpr!("ds", "segment", Some(43)),
    gpr!("es", "segment", Some(40)),
    gpr!("fs", "segment", Some(44)),
    gpr!("gs", "segment", Some(45)),
    gpr!("orig_eax", "general", None),
];

/// The thread-area bases; in a 32-bit process `gs` selects the TLS segment.
const BASE_REGS: [RegisterDef; 2] = [gpr!("fs_base", "segment", None), gpr!("gs_base", "segment", None)];

const X87_REGS: [RegisterDef; 13] = [
    reg!("st0", Vector, 32, 10, X87Float, "x87", None, Some(11)),
    reg!("st1", Vector, 48, 10, X87Float, "x87", None, Some(12)),
    reg!("st2", Vector, 64, 10, X87Float, "x87", None, Some(13)),
    reg!("st3", Vector, 80, 10, X87Float, "x87", None, Some(14)),
    reg!("st4", Vector, 96, 10, X87Float, "x87", None, Some(15)),
    reg!("st5", Vector, 112, 10, X87Float, "x87", None, Some(16)),
    reg!("st6", Vector, 128, 10, X87Float, "x87", None, Some(17)),
    reg!("st7", Vector, 144, 10, X87Float, "x87", None, Some(18)),
    reg!("fctrl", Vector, 0, 2, Integer, "x87", None, Some(37)),
    reg!("fstat", Vector, 2, 2, Integer, "x87", None, Some(38)),
    reg!("ftag", Vector, 4, 2, Integer, "x87", None, None),
    reg!("fop", Vector, 6, 2, Integer, "x87", None, None),
    reg!("mxcsr", Vector, 24, 4, Integer, "sse", None, Some(39)),
];

/// xmmN (bytes 160 + 16 N) and ymmN (xmmN plus bytes 576 + 16 N), N < 8.
macro_rules! simd {
    ($($n:literal: $xmm:literal, $ymm:literal;)*) => {
        [
            $(reg!($xmm, Vector, 160 + 16 * $n, 16, Vector, "sse", None, Some(21 + $n)),)*
            $(RegisterDef {
                name: $ymm,
                group: RegisterGroup::Vector,
                pieces: &[Piece { offset: 160 + 16 * $n, len: 16 }, Piece { offset: 576 + 16 * $n, len: 16 }],
                kind: RegisterKind::Vector,
                class: "avx",
                parent: None,
                dwarf: None,
            },)*
        ]
    };
}

const SIMD_REGS: [RegisterDef; 16] = simd! {
    0: "xmm0", "ymm0"; 1: "xmm1", "ymm1"; 2: "xmm2", "ymm2"; 3: "xmm3", "ymm3";
    4: "xmm4", "ymm4"; 5: "xmm5", "ymm5"; 6: "xmm6", "ymm6"; 7: "xmm7", "ymm7";
};

/// A debug register: the low half of its 8-byte slot.
macro_rules! dr {
    ($name:literal, $n:literal) => {
        reg!($name, Debug, 8 * $n, 4, Integer, "debug", None, None)
    };
}

const DEBUG_REGS: [RegisterDef; 8] = [
    dr!("dr0", 0),
    dr!("dr1", 1),
    dr!("dr2", 2),
    dr!("dr3", 3),
    dr!("dr4", 4),
    dr!("dr5", 5),
    dr!("dr6", 6),
    dr!("dr7", 7),
];

/// The 16- and 8-bit parts.
const SUB_REGS: [RegisterDef; 22] = [
    sub!("ax", "eax", 0, 2),
    sub!("al", "eax", 0, 1),
    sub!("ah", "eax", 1, 1),
    sub!("bx", "ebx", 0, 2),
    sub!("bl", "ebx", 0, 1),
    sub!("bh", "ebx", 1, 1),
    sub!("cx", "ecx", 0, 2),
    sub!("cl", "ecx", 0, 1),
    sub!("ch", "ecx", 1, 1),
    sub!("dx", "edx", 0, 2),
    sub!("dl", "edx", 0, 1),
    sub!("dh", "edx", 1, 1),
    sub!("si", "esi", 0, 2),
    sub!("di", "edi", 0, 2),
    sub!("bp", "ebp", 0, 2),
    sub!("sp", "esp", 0, 2),
    sub!("ip", "eip", 0, 2),
    sub!("flags", "eflags", 0, 2),
    reg!("xmm0l", Vector, 160, 8, Integer, "sse", Some("xmm0"), None),
    reg!("xmm0h", Vector, 168, 8, Integer, "sse", Some("xmm0"), None),
    sub!("fsbase", "fs_base", 0, 4),
    sub!("gsbase", "gs_base", 0, 4),
];

const COUNT: usize =
    GENERAL_REGS.len() + BASE_REGS.len() + X87_REGS.len() + SIMD_REGS.len() + DEBUG_REGS.len() + SUB_REGS.len();

/// Every i386 register: full registers first (general, segment, x87, SSE, AVX, debug), then sub-registers.
static REGISTERS: [RegisterDef; COUNT] =
    join_tables(&[&GENERAL_REGS, &BASE_REGS, &X87_REGS, &SIMD_REGS, &DEBUG_REGS, &SUB_REGS]);

/// The i386 architecture (a 32-bit process on x86_64 Linux).
pub static I386: Arch = Arch {
    name: "i386",
    pointer_size: 4,
    break_instruction: &[0xcc],
    pc_after_break: true,
    registers: &REGISTERS,
    group_sizes: [216, 832, 64],
    pc: "eip",
    sp: "esp",
    fp: "ebp",
    flags: "eflags",
    // cdecl: every argument on the stack.
    call_args: &[],
    stack_args_offset: 4,
    return_value: "eax",
    return_address_on_stack: true,
    unwind: UnwindLayout {
        // The eight general registers and the return address column (`eip`), by DWARF number.
        names: &["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi", "eip"],
        pc: 8,
        sp: 4,
        fp: 5,
        return_address: 8,
        link_register: false,
        // ebx, ebp, esi, edi.
        callee_saved: &[3, 5, 6, 7],
        pointer_auth: false,
        address_size: 4,
    },
    by_name: OnceLock::new(),
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_the_kernel() {
        assert_eq!(I386.register("eax").unwrap().pieces, &[Piece { offset: 80, len: 4 }]);
        assert_eq!(I386.register("ah").unwrap().pieces, &[Piece { offset: 81, len: 1 }]);
        assert_eq!(I386.register("eip").unwrap().pieces, &[Piece { offset: 128, len: 4 }]);
        assert_eq!(I386.register("orig_eax").unwrap().pieces, &[Piece { offset: 120, len: 4 }]);
        assert_eq!(I386.register("dr7").unwrap().pieces, &[Piece { offset: 56, len: 4 }]);
        assert_eq!(
            I386.register("ymm3").unwrap().pieces,
            &[Piece { offset: 208, len: 16 }, Piece { offset: 624, len: 16 }]
        );
        assert!(I386.register("rax").is_none() && I386.register("xmm8").is_none());
        assert_eq!(I386.full_registers().count(), 17 + 2 + 13 + 16 + 8);
    }
}
