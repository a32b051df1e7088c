//! Architectures as data.
//!
//! An [`Arch`] describes a processor to the rest of oxtrace: its register file
//! (names, sub-registers, where each lives in the raw register blocks a backend
//! reads), its breakpoint instruction and whether the program counter stops after
//! it, and its pointer size. Every architecture is compiled on every host, so a
//! core file or a remote stub of another architecture can be read anywhere.
//!
//! Registers live in a few *groups*, one raw byte block each, in the layout the
//! operating system hands out (for x86_64 Linux: `user_regs_struct`, the XSAVE
//! area, the debug registers). A [`RegisterDef`] says which bytes of which group
//! make up one register, so `eax` is the low four bytes of `rax`'s slot, `ah` the
//! second byte, and `ymm0` the `xmm0` slot followed by its upper half elsewhere.

use std::sync::OnceLock;

pub mod aarch64;
pub mod calling_convention;
pub mod emulate;
pub mod i386;
pub mod i386_syscalls;
pub mod syscall_abi;
pub mod x86_64;
pub mod x86_64_syscalls;

pub use calling_convention::{ArgValue, CallLayout, CallingConvention};
pub use x86_64_syscalls::{syscall_name, syscall_number};

/// One raw register block, read and written as a whole by a backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RegisterGroup {
    /// General-purpose registers, program counter, flags, segments.
    General,
    /// Floating-point and vector registers (x87, SSE, AVX on x86).
    Vector,
    /// Debug registers (hardware breakpoints and watchpoints).
    Debug,
}

impl RegisterGroup {
    /// Every group, in the order backends write them back.
    pub const ALL: [RegisterGroup; 3] = [Self::General, Self::Vector, Self::Debug];
}

/// Where some bytes of a register live: `len` bytes at `offset` in a group's block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Piece {
    /// Byte offset in the group's block.
    pub offset: u16,
    /// Number of bytes.
    pub len: u16,
}

/// How a register's value is best shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegisterKind {
    /// An integer (general registers, flags, segments, control words).
    Integer,
    /// An x87 80-bit extended-precision float.
    X87Float,
    /// A vector register (xmm, ymm).
    Vector,
}

/// One named register: where its bytes are, and how it is used.
#[derive(Debug, Clone, Copy)]
pub struct RegisterDef {
    /// Lower-case name, as users type it (`rax`, `eax`, `xmm0`, `dr7`).
    pub name: &'static str,
    /// The block the register lives in.
    pub group: RegisterGroup,
    /// Its bytes, least significant first: usually one piece; two for `ymm` (low and high halves).
    pub pieces: &'static [Piece],
    /// How to show it.
    pub kind: RegisterKind,
    /// A display class for grouped listings: `general`, `segment`, `x87`, `sse`, `avx`, `debug`.
    pub class: &'static str,
    /// The name of the full register this one is part of (`rax` for `eax`), if it is a sub-register.
    pub parent: Option<&'static str>,
    /// The DWARF register number, if DWARF defines one.
    pub dwarf: Option<u16>,
}

impl RegisterDef {
    /// Width in bytes.
    pub fn size(&self) -> usize {
        self.pieces.iter().map(|p| p.len as usize).sum()
    }
}

/// A processor architecture described as data.
#[derive(Debug)]
pub struct Arch {
    /// Short name (`x86_64`).
    pub name: &'static str,
    /// Size of a pointer in bytes.
    pub pointer_size: usize,
    /// The software breakpoint instruction.
    pub break_instruction: &'static [u8],
    /// True when the program counter points after the break instruction once it traps (x86).
    pub pc_after_break: bool,
    /// Every register, full registers first, then sub-registers.
    pub registers: &'static [RegisterDef],
    /// Size in bytes of each group's block: `[General, Vector, Debug]`.
    pub group_sizes: [usize; 3],
    /// Name of the program counter register.
    pub pc: &'static str,
    /// Name of the stack pointer register.
    pub sp: &'static str,
    /// Name of the frame pointer register.
    pub fp: &'static str,
    /// Name of the flags / status register.
    pub flags: &'static str,
    /// The integer argument registers of the C calling convention, in order.
    pub call_args: &'static [&'static str],
    /// Where further arguments start, as an offset from the stack pointer at function entry.
    pub stack_args_offset: u64,
    /// The integer return value register.
    pub return_value: &'static str,
    /// Whether a call pushes the return address on the stack (x86) rather than
    /// putting it in a link register.
    pub return_address_on_stack: bool,
    /// The registers a stack unwinder tracks, by DWARF number.
    pub unwind: UnwindLayout,
    /// Register index by lower-case name, built on first use (lookups are on
    /// the hot path of every breakpoint hit: a scan of the table cost more than the hit).
    pub by_name: OnceLock<rustc_hash::FxHashMap<&'static str, usize>>,
}

/// What a stack unwinder needs of an architecture: the registers it tracks
/// (by DWARF number) and the roles some of them play.
#[derive(Debug, PartialEq, Eq)]
pub struct UnwindLayout {
    /// Register names by DWARF number, `0..names.len()` (at most
    /// [`UnwindLayout::MAX_REGISTERS`]); every name is one of the [`Arch`]'s registers.
    pub names: &'static [&'static str],
    /// The column of the program counter.
    pub pc: u16,
    /// The column of the stack pointer.
    pub sp: u16,
    /// The column of the frame pointer.
    pub fp: u16,
    /// The call frame information's return-address column: the program
    /// counter itself on x86_64 (16), the link register on aarch64 (30).
    pub return_address: u16,
    /// Whether calls leave the return address in a register (aarch64's `x30`):
    /// where the call frame information gives it no rule, it still holds the
    /// return address (a leaf function does not save it). Without a link
    /// register, no rule means the outermost frame.
    pub link_register: bool,
    /// Registers a callee must preserve: where the call frame information
    /// says nothing of them, the caller has the same value.
    pub callee_saved: &'static [u16],
    /// Return addresses saved on the stack may carry a pointer-authentication
    /// code in their top bits (aarch64's `-mbranch-protection`): the call
    /// frame information uses the AArch64 vendor operations, and recovered
    /// return addresses keep only their low [`UnwindLayout::ADDRESS_BITS`] bits.
    pub pointer_auth: bool,
    /// The size of an address and of a saved register slot in bytes (8, or 4 on i386).
    pub address_size: u8,
}

impl UnwindLayout {
    /// The most registers any architecture's unwinder tracks.
    pub const MAX_REGISTERS: usize = 33;

    /// The width of a user-space virtual address where pointer authentication
    /// applies (Linux on aarch64 gives processes 48-bit addresses unless they
    /// ask for more).
    pub const ADDRESS_BITS: u32 = 48;

    /// Reads one address-sized little-endian word (a saved register, a return address).
    pub fn read_word(&self, read: &mut dyn FnMut(u64, &mut [u8]) -> bool, addr: u64) -> Option<u64> {
        let mut buf = [0u8; 8];
        let size = usize::from(self.address_size).min(8);
        read(addr, &mut buf[..size]).then(|| u64::from_le_bytes(buf))
    }

    /// An address computed in 64 bits, cut to the architecture's width (a
    /// 32-bit CFA plus a negative offset wraps at 4 GiB).
    pub fn truncate(&self, address: u64) -> u64 {
        match self.address_size {
            4 => address & 0xffff_ffff,
            _ => address,
        }
    }

    /// A recovered return address without its pointer-authentication code.
    pub fn strip_code(&self, address: u64) -> u64 {
        if self.pointer_auth {
            address & ((1u64 << Self::ADDRESS_BITS) - 1)
        } else {
            address
        }
    }
}

/// Joins register tables into one, in order (a `const fn`, so that an
/// architecture's table can be a `static` built from its parts). `N` must be
/// the total length, and the first part must not be empty.
const fn join_tables<const N: usize>(parts: &[&[RegisterDef]]) -> [RegisterDef; N] {
    let mut out = [parts[0][0]; N];
    let mut n = 0;
    let mut p = 0;
    while p < parts.len() {
        let mut i = 0;
        while i < parts[p].len() {
            out[n] = parts[p][i];
            n += 1;
            i += 1;
        }
        p += 1;
    }
    assert!(n == N, "register count");
    out
}

/// The architecture a GDB target description names (`i386:x86-64`, `aarch64`), if oxtrace knows it.
pub fn by_gdb_name(name: &str) -> Option<&'static Arch> {
    match name.trim() {
        "i386:x86-64" | "x86-64" | "x86_64" => Some(&x86_64::X86_64),
        "aarch64" => Some(&aarch64::AARCH64),
        "i386" | "i386:intel" | "i686" => Some(&i386::I386),
        _ => None,
    }
}

impl Arch {
    /// The register with this name (case-insensitive), if any.
    pub fn register(&self, name: &str) -> Option<&'static RegisterDef> {
        let index = self.by_name.get_or_init(|| self.registers.iter().enumerate().map(|(i, r)| (r.name, i)).collect());
        let found = if name.bytes().any(|b| b.is_ascii_uppercase()) {
            index.get(name.to_ascii_lowercase().as_str())
        } else {
            index.get(name)
        };
        found.map(|&i| &self.registers[i])
    }

    /// The block size of one group.
    pub fn group_size(&self, group: RegisterGroup) -> usize {
        self.group_sizes[group as usize]
    }

    /// The width iced-x86 decodes this architecture's code at (64 or 32), or
    /// `None` when it is not x86.
    pub fn x86_bitness(&self) -> Option<u32> {
        match self.name {
            "x86_64" => Some(64),
            "i386" => Some(32),
            _ => None,
        }
    }

    /// The name of this architecture's Linux system call `number`, if there is one.
    pub fn syscall_name(&self, number: u64) -> Option<&'static str> {
        match self.name {
            "i386" => i386_syscalls::syscall_name(number),
            "x86_64" => x86_64_syscalls::syscall_name(number),
            _ => None,
        }
    }

    /// The number of this architecture's Linux system call `name`, if there is one.
    pub fn syscall_number(&self, name: &str) -> Option<u64> {
        match self.name {
            "i386" => i386_syscalls::syscall_number(name),
            "x86_64" => x86_64_syscalls::syscall_number(name),
            _ => None,
        }
    }

    /// The registers that are not sub-registers of another, in table order.
    pub fn full_registers(&self) -> impl Iterator<Item = &'static RegisterDef> {
        self.registers.iter().filter(|r| r.parent.is_none())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every architecture's table: unique names, pieces inside their block,
    /// sub-registers inside their parent, and the unwinder's names all known.
    #[test]
    fn register_tables_are_consistent() {
        for arch in [&x86_64::X86_64, &aarch64::AARCH64, &i386::I386] {
            for (i, r) in arch.registers.iter().enumerate() {
                assert!(arch.registers[..i].iter().all(|o| o.name != r.name), "{} twice", r.name);
                for p in r.pieces {
                    assert!((p.offset + p.len) as usize <= arch.group_size(r.group), "{}", r.name);
                }
                let Some(parent) = r.parent else { continue };
                let parent = arch.register(parent).unwrap();
                assert_eq!(parent.group, r.group);
                for p in r.pieces {
                    assert!(
                        parent.pieces.iter().any(|q| p.offset >= q.offset && p.offset + p.len <= q.offset + q.len),
                        "{} outside {}",
                        r.name,
                        parent.name
                    );
                }
            }
            assert!(arch.unwind.names.len() <= UnwindLayout::MAX_REGISTERS);
            for name in arch.unwind.names {
                assert!(arch.register(name).is_some(), "{}: unwinder register {name}", arch.name);
            }
        }
    }
}
