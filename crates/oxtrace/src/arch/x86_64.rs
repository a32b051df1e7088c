//! x86_64: the register file, laid out as Linux hands it out.
//!
//! * General (216 bytes): `struct user_regs_struct`, 27 words.
//! * Vector (832 bytes): the start of the standard-format XSAVE area: the
//!   512-byte FXSAVE region (x87, MXCSR, XMM), the 64-byte XSAVE header, and
//!   the upper 128 bits of YMM0-15.
//! * Debug (64 bytes): DR0-DR7.

use std::sync::OnceLock;

use super::{join_tables, Arch, Piece, RegisterDef, RegisterGroup, RegisterKind, UnwindLayout};

/// Order of the words in `user_regs_struct`.
const GENERAL: [&str; 27] = [
    "r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8", "rax", "rcx", "rdx", "rsi", "rdi", "orig_rax",
    "rip", "cs", "eflags", "rsp", "ss", "fs_base", "gs_base", "ds", "es", "fs", "gs",
];

/// Byte offset of a general register's word.
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

const fn def(
    name: &'static str,
    group: RegisterGroup,
    pieces: &'static [Piece],
    kind: RegisterKind,
    class: &'static str,
    parent: Option<&'static str>,
    dwarf: Option<u16>,
) -> RegisterDef {
    RegisterDef { name, group, pieces, kind, class, parent, dwarf }
}

/// A general register: its whole word.
macro_rules! gpr {
    ($name:literal, $class:literal, $dwarf:expr) => {
        def(
            $name,
            RegisterGroup::General,
            &[Piece { offset: slot($name), len: 8 }],
            RegisterKind::Integer,
            $class,
            None,
            $dwarf,
        )
    };
}

/// A part of a general register: `len` bytes at `byte` within `parent`'s word.
macro_rules! sub {
    ($name:literal, $parent:literal, $byte:expr, $len:expr) => {
        def(
            $name,
            RegisterGroup::General,
            &[Piece { offset: slot($parent) + $byte, len: $len }],
            RegisterKind::Integer,
            "general",
            Some($parent),
            None,
        )
    };
}

/// A register of the Vector block.
macro_rules! vector {
    ($name:literal, $offset:expr, $len:expr, $kind:ident, $class:literal, $dwarf:expr) => {
        def(
            $name,
            RegisterGroup::Vector,
            &[Piece { offset: $offset, len: $len }],
            RegisterKind::$kind,
            $class,
            None,
            $dwarf,
        )
    };
}

/// xmmN (bytes 160 + 16 N) and ymmN (xmmN plus bytes 576 + 16 N).
macro_rules! simd {
    ($($n:literal: $xmm:literal, $ymm:literal;)*) => {
        [
            $(vector!($xmm, 160 + 16 * $n, 16, Vector, "sse", Some(17 + $n)),)*
            $(def($ymm, RegisterGroup::Vector,
                &[Piece { offset: 160 + 16 * $n, len: 16 }, Piece { offset: 576 + 16 * $n, len: 16 }],
                RegisterKind::Vector, "avx", None, None),)*
        ]
    };
}

const GENERAL_REGS: [RegisterDef; 27] = [
    gpr!("rax", "general", Some(0)),
    gpr!("rbx", "general", Some(3)),
    gpr!("rcx", "general", Some(2)),
    gpr!("rdx", "general", Some(1)),
    gpr!("rsi", "general", Some(4)),
    gpr!("rdi", "general", Some(5)),
    gpr!("rbp", "general", Some(6)),
    gpr!("rsp", "general", Some(7)),
    gpr!("r8", "general", Some(8)),
    gpr!("r9", "general", Some(9)),
    gpr!("r10", "general", Some(10)),
    gpr!("r11", "general", Some(11)),
    gpr!("r12", "general", Some(12)),
    gpr!("r13", "general", Some(13)),
    gpr!("r14", "general", Some(14)),
    gpr!("r15", "general", Some(15)),
    gpr!("rip", "general", Some(16)),
    gpr!("eflags", "general", Some(49)),
    gpr!("orig_rax", "general", None),
    gpr!("cs", "segment", Some(51)),
    gpr!("ss", "segment", Some(52)),
    gpr!("ds", "segment", Some(53)),
    gpr!("es", "segment", Some(50)),
    gpr!("fs", "segment", Some(54)),
    gpr!("gs", "segment", Some(55)),
    gpr!("fs_base", "segment", Some(58)),
    gpr!("gs_base", "segment", Some(59)),
];

const X87_REGS: [RegisterDef; 13] = [
    vector!("st0", 32, 10, X87Float, "x87", Some(33)),
    vector!("st1", 48, 10, X87Float, "x87", Some(34)),
    vector!("st2", 64, 10, X87Float, "x87", Some(35)),
    vector!("st3", 80, 10, X87Float, "x87", Some(36)),
    vector!("st4", 96, 10, X87Float, "x87", Some(37)),
    vector!("st5", 112, 10, X87Float, "x87", Some(38)),
    vector!("st6", 128, 10, X87Float, "x87", Some(39)),
    vector!("st7", 144, 10, X87Float, "x87", Some(40)),
    vector!("fctrl", 0, 2, Integer, "x87", Some(65)),
    vector!("fstat", 2, 2, Integer, "x87", Some(66)),
    vector!("ftag", 4, 2, Integer, "x87", None),
    vector!("fop", 6, 2, Integer, "x87", None),
    vector!("mxcsr", 24, 4, Integer, "sse", Some(64)),
];

const SIMD_REGS: [RegisterDef; 32] = simd! {
    0: "xmm0", "ymm0"; 1: "xmm1", "ymm1"; 2: "xmm2", "ymm2"; 3: "xmm3", "ymm3";
    4: "xmm4", "ymm4"; 5: "xmm5", "ymm5"; 6: "xmm6", "ymm6"; 7: "xmm7", "ymm7";
    8: "xmm8", "ymm8"; 9: "xmm9", "ymm9"; 10: "xmm10", "ymm10"; 11: "xmm11", "ymm11";
    12: "xmm12", "ymm12"; 13: "xmm13", "ymm13"; 14: "xmm14", "ymm14"; 15: "xmm15", "ymm15";
};

/// A debug register.
macro_rules! dr {
    ($name:literal, $n:literal) => {
        def(
            $name,
            RegisterGroup::Debug,
            &[Piece { offset: 8 * $n, len: 8 }],
            RegisterKind::Integer,
            "debug",
            None,
            None,
        )
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

/// Sub-registers: the legacy 32/16/8-bit names, and aliases.
const SUB_REGS: [RegisterDef; 69] = [
    sub!("eax", "rax", 0, 4),
    sub!("ax", "rax", 0, 2),
    sub!("al", "rax", 0, 1),
    sub!("ah", "rax", 1, 1),
    sub!("ebx", "rbx", 0, 4),
    sub!("bx", "rbx", 0, 2),
    sub!("bl", "rbx", 0, 1),
    sub!("bh", "rbx", 1, 1),
    sub!("ecx", "rcx", 0, 4),
    sub!("cx", "rcx", 0, 2),
    sub!("cl", "rcx", 0, 1),
    sub!("ch", "rcx", 1, 1),
    sub!("edx", "rdx", 0, 4),
    sub!("dx", "rdx", 0, 2),
    sub!("dl", "rdx", 0, 1),
    sub!("dh", "rdx", 1, 1),
    sub!("esi", "rsi", 0, 4),
    sub!("si", "rsi", 0, 2),
    sub!("sil", "rsi", 0, 1),
    sub!("edi", "rdi", 0, 4),
    sub!("di", "rdi", 0, 2),
    sub!("dil", "rdi", 0, 1),
    sub!("ebp", "rbp", 0, 4),
    sub!("bp", "rbp", 0, 2),
    sub!("bpl", "rbp", 0, 1),
    sub!("esp", "rsp", 0, 4),
    sub!("sp", "rsp", 0, 2),
    sub!("spl", "rsp", 0, 1),
    sub!("r8d", "r8", 0, 4),
    sub!("r8w", "r8", 0, 2),
    sub!("r8b", "r8", 0, 1),
    sub!("r9d", "r9", 0, 4),
    sub!("r9w", "r9", 0, 2),
    sub!("r9b", "r9", 0, 1),
    sub!("r10d", "r10", 0, 4),
    sub!("r10w", "r10", 0, 2),
    sub!("r10b", "r10", 0, 1),
    sub!("r11d", "r11", 0, 4),
    sub!("r11w", "r11", 0, 2),
    sub!("r11b", "r11", 0, 1),
    sub!("r12d", "r12", 0, 4),
    sub!("r12w", "r12", 0, 2),
    sub!("r12b", "r12", 0, 1),
    sub!("r13d", "r13", 0, 4),
    sub!("r13w", "r13", 0, 2),
    sub!("r13b", "r13", 0, 1),
    sub!("r14d", "r14", 0, 4),
    sub!("r14w", "r14", 0, 2),
    sub!("r14b", "r14", 0, 1),
    sub!("r15d", "r15", 0, 4),
    sub!("r15w", "r15", 0, 2),
    sub!("r15b", "r15", 0, 1),
    sub!("eip", "rip", 0, 4),
    sub!("ip", "rip", 0, 2),
    sub!("rflags", "eflags", 0, 8),
    sub!("flags", "eflags", 0, 2),
    sub!("r8l", "r8", 0, 1),
    sub!("r9l", "r9", 0, 1),
    sub!("r10l", "r10", 0, 1),
    sub!("r11l", "r11", 0, 1),
    sub!("r12l", "r12", 0, 1),
    sub!("r13l", "r13", 0, 1),
    sub!("r14l", "r14", 0, 1),
    sub!("r15l", "r15", 0, 1),
    sub!("fsbase", "fs_base", 0, 8),
    sub!("gsbase", "gs_base", 0, 8),
    sub!("orig_eax", "orig_rax", 0, 4),
    def(
        "xmm0l",
        RegisterGroup::Vector,
        &[Piece { offset: 160, len: 8 }],
        RegisterKind::Integer,
        "sse",
        Some("xmm0"),
        None,
    ),
    def(
        "xmm0h",
        RegisterGroup::Vector,
        &[Piece { offset: 168, len: 8 }],
        RegisterKind::Integer,
        "sse",
        Some("xmm0"),
        None,
    ),
];

const COUNT: usize = GENERAL_REGS.len() + X87_REGS.len() + SIMD_REGS.len() + DEBUG_REGS.len() + SUB_REGS.len();

/// Every x86_64 register: full registers first (general, segment, x87, SSE, AVX, debug), then sub-registers.
static REGISTERS: [RegisterDef; COUNT] = join_tables(&[&GENERAL_REGS, &X87_REGS, &SIMD_REGS, &DEBUG_REGS, &SUB_REGS]);

/// The x86_64 architecture.
pub static X86_64: Arch = Arch {
    name: "x86_64",
    pointer_size: 8,
    break_instruction: &[0xcc],
    pc_after_break: true,
    registers: &REGISTERS,
    group_sizes: [216, 832, 64],
    pc: "rip",
    sp: "rsp",
    fp: "rbp",
    flags: "eflags",
    // System V AMD64 ABI.
    call_args: &["rdi", "rsi", "rdx", "rcx", "r8", "r9"],
    stack_args_offset: 8,
    return_value: "rax",
    return_address_on_stack: true,
    unwind: UnwindLayout {
        // The 16 general registers and the return address column (`rip`).
        names: &[
            "rax", "rdx", "rcx", "rbx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r10", "r11", "r12", "r13", "r14",
            "r15", "rip",
        ],
        pc: 16,
        sp: 7,
        fp: 6,
        return_address: 16,
        link_register: false,
        // rbx, rbp, r12-r15.
        callee_saved: &[3, 6, 12, 13, 14, 15],
        address_size: 8,
        pointer_auth: false,
    },
    by_name: OnceLock::new(),
};

/// The register with this DWARF number (System V x86_64 psABI numbering).
pub fn register_by_dwarf(number: u16) -> Option<&'static RegisterDef> {
    REGISTERS.iter().find(|r| r.dwarf == Some(number) && r.parent.is_none())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_the_kernel() {
        assert_eq!(X86_64.register("eax").unwrap().pieces, &[Piece { offset: 80, len: 4 }]);
        assert_eq!(X86_64.register("ah").unwrap().pieces, &[Piece { offset: 81, len: 1 }]);
        assert_eq!(X86_64.register("rip").unwrap().pieces, &[Piece { offset: 128, len: 8 }]);
        assert_eq!(
            X86_64.register("ymm3").unwrap().pieces,
            &[Piece { offset: 208, len: 16 }, Piece { offset: 624, len: 16 }]
        );
        assert_eq!(register_by_dwarf(7).unwrap().name, "rsp");
        assert_eq!(register_by_dwarf(17).unwrap().name, "xmm0");
        assert_eq!(X86_64.full_registers().count(), 27 + 13 + 32 + 8);
    }
}
