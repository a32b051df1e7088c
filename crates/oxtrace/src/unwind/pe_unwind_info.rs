//! The x64 `UNWIND_INFO` records of `.xdata`, decoded.
//!
//! Each function with a `RUNTIME_FUNCTION` entry in `.pdata` points at one:
//! the prologue's size, the frame register if the function sets one, and the
//! unwind codes, one per prologue instruction that changed the stack, in the
//! reverse order of the prologue (the last instruction first). A chained
//! record ends with the `RUNTIME_FUNCTION` of the function part it continues.
//!
//! Written here rather than taken from a crate. `pe-unwind-info` (Mozilla's,
//! 0.6) decodes and applies these tables, but its epilogue test takes any
//! direct `jmp` at the pc for the end of an epilogue: a stop on a jump
//! inside the function (a loop's, or one into a chained part of it) unwinds
//! to garbage (the fixture of `tests/pe/traced.rs` steps over both). It also uses one
//! address for the lookup and the prologue offset (a return address just past
//! a `noreturn` call finds the next function), reads saves through the frame
//! register before the prologue has set it, and keeps no record of where
//! registers were saved, which oxtrace's frames report. `object` reads the
//! PE headers; this file reads the bytes `.pdata` points at.

/// `UNW_FLAG_EHANDLER`: an exception handler follows the codes.
pub const UNW_FLAG_EHANDLER: u8 = 1;
/// `UNW_FLAG_UHANDLER`: a termination handler follows the codes.
pub const UNW_FLAG_UHANDLER: u8 = 2;
/// `UNW_FLAG_CHAININFO`: a chained `RUNTIME_FUNCTION` follows the codes.
pub const UNW_FLAG_CHAININFO: u8 = 4;

/// x64 register names by their number in unwind codes.
pub const REGISTER_NAMES: [&str; 16] =
    ["rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"];

/// The DWARF number of an unwind code's register number (the unwinder's registers are numbered by DWARF).
pub fn dwarf_number(register: u8) -> u16 {
    const DWARF: [u16; 16] = [0, 2, 1, 3, 7, 6, 4, 5, 8, 9, 10, 11, 12, 13, 14, 15];
    DWARF[usize::from(register & 15)]
}

/// One `.pdata` entry: a function (or a part of one), as image-relative addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuntimeFunction {
    /// The first byte of the code.
    pub begin: u32,
    /// Just past the last byte.
    pub end: u32,
    /// Where its `UNWIND_INFO` is.
    pub unwind_info: u32,
}

impl RuntimeFunction {
    /// Reads one 12-byte entry.
    pub fn parse(bytes: &[u8]) -> Option<RuntimeFunction> {
        let word = |i: usize| Some(u32::from_le_bytes(bytes.get(i..i + 4)?.try_into().ok()?));
        Some(RuntimeFunction { begin: word(0)?, end: word(4)?, unwind_info: word(8)? })
    }
}

/// What one unwind code says the prologue did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnwindOp {
    /// `UWOP_PUSH_NONVOL`: pushed this register (unwind code number).
    PushNonvol(u8),
    /// `UWOP_ALLOC_LARGE`: subtracted this many bytes from `rsp` (136 to 4 GiB).
    AllocLarge(u32),
    /// `UWOP_ALLOC_SMALL`: subtracted this many bytes from `rsp` (8 to 128).
    AllocSmall(u32),
    /// `UWOP_SET_FPREG`: set the frame register to `rsp` plus the frame offset.
    SetFpreg,
    /// `UWOP_SAVE_NONVOL` (or `_FAR`, when `far`): stored the register at this offset of the frame base.
    SaveNonvol {
        /// The register's unwind number.
        register: u8,
        /// The offset from the frame base.
        offset: u32,
        /// Encoded as `UWOP_SAVE_NONVOL_FAR` (32-bit offset).
        far: bool,
    },
    /// `UWOP_SAVE_XMM128` (or `_FAR`): stored `xmmN` at this offset of the frame base.
    SaveXmm128 {
        /// The xmm register's number.
        register: u8,
        /// The offset from the frame base.
        offset: u32,
        /// Encoded as `UWOP_SAVE_XMM128_FAR`.
        far: bool,
    },
    /// `UWOP_PUSH_MACHFRAME`: the processor pushed a machine frame (an
    /// interrupt or exception), with an error code first when the flag is set.
    PushMachframe {
        /// An error code sits below the frame.
        error_code: bool,
    },
    /// `UWOP_EPILOG` (version 2): describes an epilogue, not the prologue;
    /// the unwinder finds epilogues by their code and passes over these.
    Epilog,
}

impl UnwindOp {
    /// How many 16-bit slots of the record the code takes (`CountOfCodes` counts slots).
    pub fn slots(&self) -> u8 {
        match self {
            UnwindOp::AllocLarge(n) if *n > 0x7fff8 => 3,
            UnwindOp::SaveNonvol { far: true, .. } | UnwindOp::SaveXmm128 { far: true, .. } => 3,
            UnwindOp::AllocLarge(_) | UnwindOp::SaveNonvol { .. } | UnwindOp::SaveXmm128 { .. } | UnwindOp::Epilog => 2,
            UnwindOp::PushNonvol(_) | UnwindOp::AllocSmall(_) | UnwindOp::SetFpreg | UnwindOp::PushMachframe { .. } => {
                1
            }
        }
    }
}

/// One unwind code with the prologue offset just past its instruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnwindCode {
    /// The offset from the function's start of the end of the instruction.
    pub offset: u8,
    /// What the instruction did.
    pub op: UnwindOp,
}

/// One decoded `UNWIND_INFO`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct X64UnwindInfo {
    /// The format version (1, or 2 with epilogue codes).
    pub version: u8,
    /// `UNW_FLAG_*` bits.
    pub flags: u8,
    /// The prologue's length in bytes.
    pub prologue_size: u8,
    /// The frame register's unwind number, 0 when the function sets none.
    pub frame_register: u8,
    /// The frame register's offset from `rsp` when it was set, in bytes (a multiple of 16).
    pub frame_offset: u32,
    /// The unwind codes, in their order (the prologue's last instruction first).
    pub codes: Vec<UnwindCode>,
    /// The chained entry this one continues (`UNW_FLAG_CHAININFO`).
    pub chained: Option<RuntimeFunction>,
    /// The exception or termination handler's address (image-relative), if any.
    pub handler: Option<u32>,
}

impl X64UnwindInfo {
    /// Decodes the record at the start of `bytes`. `None` when it is cut short
    /// or malformed (an unknown version or code, a code running past the count).
    pub fn parse(bytes: &[u8]) -> Option<X64UnwindInfo> {
        let header = bytes.get(..4)?;
        let version = header[0] & 7;
        let flags = header[0] >> 3;
        if !(1..=2).contains(&version) {
            return None;
        }
        let count = usize::from(header[2]);
        let slots = bytes.get(4..4 + 2 * count)?;
        let slot = |i: usize| slots.get(2 * i..2 * i + 2).map(|s| u16::from_le_bytes([s[0], s[1]]));
        let mut codes = Vec::new();
        let mut i = 0;
        while i < count {
            let [offset, op_byte] = slot(i)?.to_le_bytes();
            let (op, info) = (op_byte & 15, op_byte >> 4);
            let next16 = |k: usize| slot(i + k).map(u32::from);
            let next32 = || Some(next16(1)? | next16(2)? << 16);
            let (op, used) = match op {
                0 => (UnwindOp::PushNonvol(info), 1),
                1 if info == 0 => (UnwindOp::AllocLarge(next16(1)? * 8), 2),
                1 if info == 1 => (UnwindOp::AllocLarge(next32()?), 3),
                2 => (UnwindOp::AllocSmall(u32::from(info) * 8 + 8), 1),
                3 => (UnwindOp::SetFpreg, 1),
                4 => (UnwindOp::SaveNonvol { register: info, offset: next16(1)? * 8, far: false }, 2),
                5 => (UnwindOp::SaveNonvol { register: info, offset: next32()?, far: true }, 3),
                6 if version == 2 => (UnwindOp::Epilog, 2),
                8 => (UnwindOp::SaveXmm128 { register: info, offset: next16(1)? * 16, far: false }, 2),
                9 => (UnwindOp::SaveXmm128 { register: info, offset: next32()?, far: true }, 3),
                10 if info <= 1 => (UnwindOp::PushMachframe { error_code: info == 1 }, 1),
                _ => return None,
            };
            codes.push(UnwindCode { offset, op });
            i += used;
        }
        // The trailer starts after the codes, padded to an even number of slots.
        let trailer = 4 + 2 * (count + (count & 1));
        let chained =
            if flags & UNW_FLAG_CHAININFO != 0 { Some(RuntimeFunction::parse(bytes.get(trailer..)?)?) } else { None };
        let handler = if chained.is_none() && flags & (UNW_FLAG_EHANDLER | UNW_FLAG_UHANDLER) != 0 {
            Some(u32::from_le_bytes(bytes.get(trailer..trailer + 4)?.try_into().ok()?))
        } else {
            None
        };
        Some(X64UnwindInfo {
            version,
            flags,
            prologue_size: header[1],
            frame_register: header[3] & 15,
            frame_offset: u32::from(header[3] >> 4) * 16,
            codes,
            chained,
            handler,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_every_kind_of_code() {
        // Version 1, prologue 0x20, frame rbp at +0x30, 12 slots.
        let mut bytes = vec![0x01, 0x20, 12, 0x35];
        let codes: [u16; 12] = [
            0x031f, // pc+0x1f SET_FPREG
            0x681a, 0x0002, // pc+0x1a SAVE_XMM128 xmm6 at 0x20
            0x1415, 0x0010, // pc+0x15 SAVE_NONVOL rcx(1) at 0x80
            0x0110, 0x0200, // pc+0x10 ALLOC_LARGE 0x1000
            0x110c, 0x0000, 0x0001, // pc+0x0c ALLOC_LARGE (32 bits) 0x10000
            0x3208, // pc+0x08 ALLOC_SMALL 0x20
            0x5004, // pc+0x04 PUSH_NONVOL rbp
        ];
        for c in codes {
            bytes.extend_from_slice(&c.to_le_bytes());
        }
        let info = X64UnwindInfo::parse(&bytes).unwrap();
        assert_eq!((info.version, info.prologue_size, info.frame_register, info.frame_offset), (1, 0x20, 5, 0x30));
        let ops: Vec<UnwindOp> = info.codes.iter().map(|c| c.op).collect();
        assert_eq!(
            ops,
            [
                UnwindOp::SetFpreg,
                UnwindOp::SaveXmm128 { register: 6, offset: 0x20, far: false },
                UnwindOp::SaveNonvol { register: 1, offset: 0x80, far: false },
                UnwindOp::AllocLarge(0x1000),
                UnwindOp::AllocLarge(0x10000),
                UnwindOp::AllocSmall(0x20),
                UnwindOp::PushNonvol(5),
            ]
        );
        assert_eq!(info.codes[5].offset, 0x08);
    }

    #[test]
    fn reads_the_chained_entry_and_refuses_garbage() {
        // Chained, one code (padded to two slots), then the parent's RUNTIME_FUNCTION.
        let bytes = [0x21, 0x04, 1, 0, 0x04, 0x32, 0, 0, 0x00, 0x10, 0, 0, 0x40, 0x10, 0, 0, 0x00, 0x20, 0, 0];
        let info = X64UnwindInfo::parse(&bytes).unwrap();
        assert_eq!(info.chained, Some(RuntimeFunction { begin: 0x1000, end: 0x1040, unwind_info: 0x2000 }));
        assert!(X64UnwindInfo::parse(&bytes[..12]).is_none(), "cut short");
        assert!(X64UnwindInfo::parse(&[0x07, 0, 0, 0]).is_none(), "version 7");
        assert!(X64UnwindInfo::parse(&[0x01, 0, 1, 0, 0x00, 0x0f]).is_none(), "code 15");
        assert!(X64UnwindInfo::parse(&[0x01, 0, 1, 0, 0x00, 0x01]).is_none(), "a large alloc without its size");
    }
}
