//! The x86_64 register file as gdb numbers it, mapped onto oxtrace's registers.
//!
//! gdb's `amd64-linux` layout: the 16 general registers, `rip`, `eflags`, six
//! segment selectors, the x87 stack and control registers, `xmm0`-`xmm15` and
//! `mxcsr` (features `org.gnu.gdb.i386.core` and `.sse`), then `orig_rax`
//! (`.linux`) and `fs_base`/`gs_base` (`.segments`). [`TARGET_XML`] describes
//! exactly this layout, so the `g` packet, `p`/`P` numbers and the XML agree by
//! construction. Each register is read from the oxtrace register of the same
//! name (zero-extended or truncated to gdb's width); the four x87 pointer
//! registers oxtrace does not name come from the FXSAVE image.

use std::num::NonZeroUsize;

use gdbstub::arch::{RegId, Registers};

/// Where a gdb register's value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The oxtrace register of the same name.
    Named,
    /// `len` bytes at `offset` of the FXSAVE image (oxtrace's vector group).
    Fxsave {
        /// Byte offset in the FXSAVE area.
        offset: usize,
        /// Number of bytes.
        len: usize,
    },
}

/// One register as gdb sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GdbRegister {
    /// gdb's (and oxtrace's) name.
    pub name: &'static str,
    /// Width in bytes in the `g` packet.
    pub size: usize,
    /// Where the value comes from.
    pub source: Source,
}

const fn named(name: &'static str, size: usize) -> GdbRegister {
    GdbRegister { name, size, source: Source::Named }
}

const fn fxsave(name: &'static str, offset: usize, len: usize) -> GdbRegister {
    GdbRegister { name, size: 4, source: Source::Fxsave { offset, len } }
}

/// The registers in gdb's order (their index is gdb's register number).
pub const X86_64_REGISTERS: &[GdbRegister] = &[
    named("rax", 8),
    named("rbx", 8),
    named("rcx", 8),
    named("rdx", 8),
    named("rsi", 8),
    named("rdi", 8),
    named("rbp", 8),
    named("rsp", 8),
    named("r8", 8),
    named("r9", 8),
    named("r10", 8),
    named("r11", 8),
    named("r12", 8),
    named("r13", 8),
    named("r14", 8),
    named("r15", 8),
    named("rip", 8),
    named("eflags", 4),
    named("cs", 4),
    named("ss", 4),
    named("ds", 4),
    named("es", 4),
    named("fs", 4),
    named("gs", 4),
    named("st0", 10),
    named("st1", 10),
    named("st2", 10),
    named("st3", 10),
    named("st4", 10),
    named("st5", 10),
    named("st6", 10),
    named("st7", 10),
    named("fctrl", 4),
    named("fstat", 4),
    named("ftag", 4),
    // In the 64-bit FXSAVE format the instruction and operand pointers are
    // 64-bit words at 8 and 16; gdb shows their low halves and the next 16 bits.
    fxsave("fiseg", 12, 2),
    fxsave("fioff", 8, 4),
    fxsave("foseg", 20, 2),
    fxsave("fooff", 16, 4),
    named("fop", 4),
    named("xmm0", 16),
    named("xmm1", 16),
    named("xmm2", 16),
    named("xmm3", 16),
    named("xmm4", 16),
    named("xmm5", 16),
    named("xmm6", 16),
    named("xmm7", 16),
    named("xmm8", 16),
    named("xmm9", 16),
    named("xmm10", 16),
    named("xmm11", 16),
    named("xmm12", 16),
    named("xmm13", 16),
    named("xmm14", 16),
    named("xmm15", 16),
    named("mxcsr", 4),
    named("orig_rax", 8),
    named("fs_base", 8),
    named("gs_base", 8),
];

/// gdb's number of `rip`.
const PC_INDEX: usize = 16;

/// The byte offset of register `index` in the `g` packet.
pub fn offset_of(index: usize) -> usize {
    X86_64_REGISTERS.iter().take(index).map(|r| r.size).sum()
}

/// Total size of the `g` packet's payload.
pub fn file_size() -> usize {
    offset_of(X86_64_REGISTERS.len())
}

/// The target description: the same registers, in the same order, as [`X86_64_REGISTERS`].
pub const TARGET_XML: &str = include_str!("x86_64-linux.xml");

/// gdbstub's architecture for an x86_64 Linux process traced by oxtrace.
#[derive(Debug)]
pub enum X86_64Linux {}

impl gdbstub::arch::Arch for X86_64Linux {
    type Usize = u64;
    type Registers = RegisterFile;
    type RegId = RegisterNumber;
    type BreakpointKind = usize;

    fn target_description_xml() -> Option<&'static str> {
        Some(TARGET_XML)
    }
}

/// Every register of one thread, as the `g` packet carries them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterFile {
    /// The registers' bytes, little-endian, in gdb's order.
    pub bytes: Vec<u8>,
}

impl Default for RegisterFile {
    fn default() -> Self {
        RegisterFile { bytes: vec![0; file_size()] }
    }
}

impl RegisterFile {
    /// The bytes of register `index` (empty past the end).
    pub fn register(&self, index: usize) -> &[u8] {
        let Some(reg) = X86_64_REGISTERS.get(index) else { return &[] };
        let start = offset_of(index);
        self.bytes.get(start..start + reg.size).unwrap_or(&[])
    }

    /// The bytes of register `index`, to change (empty past the end).
    pub fn register_mut(&mut self, index: usize) -> &mut [u8] {
        let Some(reg) = X86_64_REGISTERS.get(index) else { return &mut [] };
        let start = offset_of(index);
        self.bytes.get_mut(start..start + reg.size).unwrap_or(&mut [])
    }
}

impl Registers for RegisterFile {
    type ProgramCounter = u64;

    fn pc(&self) -> u64 {
        let mut word = [0u8; 8];
        let bytes = self.register(PC_INDEX);
        word[..bytes.len()].copy_from_slice(bytes);
        u64::from_le_bytes(word)
    }

    fn gdb_serialize(&self, mut write_byte: impl FnMut(Option<u8>)) {
        for &byte in &self.bytes {
            write_byte(Some(byte));
        }
    }

    fn gdb_deserialize(&mut self, bytes: &[u8]) -> Result<(), ()> {
        // gdbstub starts a `G` from zeroed registers: a short one would zero the
        // registers it leaves out. Only a whole register file is taken.
        if bytes.len() != self.bytes.len() {
            return Err(());
        }
        self.bytes[..bytes.len()].copy_from_slice(bytes);
        Ok(())
    }
}

/// A register number from a `p`/`P` packet: an index into [`X86_64_REGISTERS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegisterNumber(pub usize);

impl RegId for RegisterNumber {
    fn from_raw_id(id: usize) -> Option<(Self, Option<NonZeroUsize>)> {
        let reg = X86_64_REGISTERS.get(id)?;
        Some((RegisterNumber(id), NonZeroUsize::new(reg.size)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_gdb_amd64_linux() {
        assert_eq!(offset_of(16), 0x80, "rip after 16 words");
        assert_eq!(offset_of(24), 0xa4, "st0 after eflags and 6 selectors");
        assert_eq!(offset_of(40), 0x114, "xmm0 after the x87 registers");
        assert_eq!(offset_of(56), 0x214, "mxcsr after 16 xmm");
        assert_eq!(file_size(), 0x218 + 8 + 16);
    }

    #[test]
    fn xml_lists_every_register_in_order() {
        let names: Vec<&str> = TARGET_XML
            .split("<reg name=\"")
            .skip(1)
            .map(|rest| &rest[..rest.find('"').expect("closing quote")])
            .collect();
        let expected: Vec<&str> = X86_64_REGISTERS.iter().map(|r| r.name).collect();
        assert_eq!(names, expected);
        for (i, reg) in X86_64_REGISTERS.iter().enumerate() {
            let needle = format!("<reg name=\"{}\" bitsize=\"{}\" regnum=\"{i}\"", reg.name, reg.size * 8);
            assert!(TARGET_XML.contains(&needle), "{needle}");
        }
    }

    #[test]
    fn register_numbers_past_the_end_are_refused() {
        assert!(RegisterNumber::from_raw_id(X86_64_REGISTERS.len()).is_none());
        assert!(RegisterNumber::from_raw_id(usize::MAX).is_none());
        let mut file = RegisterFile::default();
        assert!(file.register(usize::MAX).is_empty());
        assert!(file.register_mut(1000).is_empty());
        assert!(file.gdb_deserialize(&vec![0; file_size() + 1]).is_err());
        assert!(file.gdb_deserialize(&[0]).is_err());
        assert!(file.gdb_deserialize(&vec![1; file_size()]).is_ok());
    }
}
