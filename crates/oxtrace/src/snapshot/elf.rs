//! The few ELF core-file structures oxtrace reads and writes, as constants
//! and careful little-endian encoders and decoders.
//!
//! They are written by hand rather than with the `object` crate's writer,
//! which builds relocatable objects and executables from sections and has no
//! support for a core file's layout (program headers only, notes with the
//! kernel's structures, `PT_LOAD` contents streamed after the headers). The
//! reader side never trusts a length: every offset is checked, and a bad one
//! is an error naming where it was, never a panic.

/// Size of the ELF64 file header.
pub const EHDR_SIZE: usize = 64;
/// Size of one ELF64 program header.
pub const PHDR_SIZE: usize = 56;
/// `e_type` of a core file.
pub const ET_CORE: u16 = 4;
/// `e_machine` of x86_64.
pub const EM_X86_64: u16 = 62;
/// `e_machine` of i386.
pub const EM_386: u16 = 3;
/// Size of the ELF32 file header.
pub const EHDR32_SIZE: usize = 52;
/// Size of one ELF32 program header.
pub const PHDR32_SIZE: usize = 32;
/// `e_phnum` saying that the real count is in section header 0's `sh_info`.
pub const PN_XNUM: u16 = 0xffff;
/// A loadable segment: one memory map.
pub const PT_LOAD: u32 = 1;
/// The notes segment.
pub const PT_NOTE: u32 = 4;
/// Segment flag: executable.
pub const PF_X: u32 = 1;
/// Segment flag: writable.
pub const PF_W: u32 = 2;
/// Segment flag: readable.
pub const PF_R: u32 = 4;

/// A thread's `struct elf_prstatus` (signal, ids, general registers).
pub const NT_PRSTATUS: u32 = 1;
/// A thread's FXSAVE area.
pub const NT_FPREGSET: u32 = 2;
/// The process's `struct elf_prpsinfo`.
pub const NT_PRPSINFO: u32 = 3;
/// The auxiliary vector.
pub const NT_AUXV: u32 = 6;
/// The file-backed maps and their files.
pub const NT_FILE: u32 = 0x4649_4c45;
/// The `siginfo_t` of the signal that stopped the process.
pub const NT_SIGINFO: u32 = 0x5349_4749;
/// A thread's whole XSAVE area (name `LINUX`).
pub const NT_X86_XSTATE: u32 = 0x202;
/// An i386 thread's FXSAVE area (name `LINUX`; `NT_FPREGSET` is the older FSAVE layout there).
pub const NT_PRXFPREG: u32 = 0x46e6_2b7f;
/// oxtrace's own note (name `OXTRACE`): see [`super::info`].
pub const NT_OXTRACE_INFO: u32 = 1;

/// Size of x86_64 `struct elf_prstatus`.
pub const PRSTATUS_SIZE: usize = 336;
/// Offset of `pr_cursig` in `elf_prstatus`.
pub const PRSTATUS_CURSIG: usize = 12;
/// Offset of `pr_pid` in `elf_prstatus`.
pub const PRSTATUS_PID: usize = 32;
/// Offset of `pr_reg` (a `user_regs_struct`) in `elf_prstatus`.
pub const PRSTATUS_REG: usize = 112;
/// Size of `user_regs_struct` (27 words).
pub const USER_REGS_SIZE: usize = 216;
/// Offset of `pr_fpvalid` in `elf_prstatus`.
pub const PRSTATUS_FPVALID: usize = 328;
/// Size of x86_64 `struct elf_prpsinfo`.
pub const PRPSINFO_SIZE: usize = 136;
/// Offset of `pr_pid` in `elf_prpsinfo`.
pub const PRPSINFO_PID: usize = 24;
/// Size of the FXSAVE area (`NT_FPREGSET`).
pub const FXSAVE_SIZE: usize = 512;
/// Offset in the XSAVE area where Linux stores XCR0 (in the FXSAVE software-reserved bytes).
pub const XSAVE_XCR0: usize = 464;

/// Auxiliary vector key: the address of the program headers of the program.
pub const AT_PHDR: u64 = 3;
/// Auxiliary vector key: the program's entry point.
pub const AT_ENTRY: u64 = 9;
/// Auxiliary vector key: the address of the vdso's ELF header.
pub const AT_SYSINFO_EHDR: u64 = 33;

/// The page size of x86_64 Linux, used for `PT_LOAD` alignment and `NT_FILE` offsets.
pub const PAGE_SIZE: u64 = 4096;

/// The two kinds of core file oxtrace reads and writes: x86_64 Linux, and
/// i386 Linux (a 32-bit process: ELF32, the kernel's 32-bit note layouts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CoreClass {
    /// ELF64, `EM_X86_64`.
    X86_64,
    /// ELF32, `EM_386`.
    I386,
}

impl CoreClass {
    /// The class of a process of this architecture (x86_64 for any but i386).
    pub fn of(arch: &crate::arch::Arch) -> CoreClass {
        match arch.name {
            "i386" => CoreClass::I386,
            _ => CoreClass::X86_64,
        }
    }

    /// The architecture of a process saved in this class.
    pub fn arch(self) -> &'static crate::arch::Arch {
        match self {
            CoreClass::X86_64 => &crate::arch::x86_64::X86_64,
            CoreClass::I386 => &crate::arch::i386::I386,
        }
    }

    /// The size of an address and of a `long` in its notes, in bytes.
    pub fn word(self) -> usize {
        match self {
            CoreClass::X86_64 => 8,
            CoreClass::I386 => 4,
        }
    }

    /// The size of the file header.
    pub fn ehdr_size(self) -> usize {
        match self {
            CoreClass::X86_64 => EHDR_SIZE,
            CoreClass::I386 => EHDR32_SIZE,
        }
    }

    /// The size of one program header.
    pub fn phdr_size(self) -> usize {
        match self {
            CoreClass::X86_64 => PHDR_SIZE,
            CoreClass::I386 => PHDR32_SIZE,
        }
    }

    /// The size of one section header.
    pub fn shdr_size(self) -> usize {
        match self {
            CoreClass::X86_64 => 64,
            CoreClass::I386 => 40,
        }
    }
}

/// Rounds `value` up to a multiple of `align` (a power of two).
pub fn align_up(value: u64, align: u64) -> u64 {
    (value + align - 1) & !(align - 1)
}

/// One ELF64 program header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ProgramHeader {
    /// `p_type`.
    pub kind: u32,
    /// `p_flags` (`PF_R | PF_W | PF_X`).
    pub flags: u32,
    /// Where the segment's bytes are in the file.
    pub offset: u64,
    /// Its first address.
    pub vaddr: u64,
    /// How many bytes the file holds.
    pub filesz: u64,
    /// Its size in memory.
    pub memsz: u64,
    /// Its alignment.
    pub align: u64,
}

impl ProgramHeader {
    /// Appends the little-endian encoding of `class` to `out` (56 bytes, or 32 for ELF32).
    pub fn encode_for(&self, class: CoreClass, out: &mut Vec<u8>) {
        match class {
            CoreClass::X86_64 => self.encode(out),
            CoreClass::I386 => {
                put_u32(out, self.kind);
                put_u32(out, self.offset as u32);
                put_u32(out, self.vaddr as u32);
                put_u32(out, 0); // p_paddr
                put_u32(out, self.filesz as u32);
                put_u32(out, self.memsz as u32);
                put_u32(out, self.flags);
                put_u32(out, self.align as u32);
            }
        }
    }

    /// Decodes one header of `class` from exactly [`CoreClass::phdr_size`] bytes.
    pub fn decode_for(class: CoreClass, bytes: &[u8]) -> Option<ProgramHeader> {
        match class {
            CoreClass::X86_64 => Self::decode(bytes),
            CoreClass::I386 => {
                let mut r = LeReader::new(bytes);
                let kind = r.u32()?;
                let offset = u64::from(r.u32()?);
                let vaddr = u64::from(r.u32()?);
                let _paddr = r.u32()?;
                let (filesz, memsz) = (u64::from(r.u32()?), u64::from(r.u32()?));
                let flags = r.u32()?;
                Some(ProgramHeader { kind, flags, offset, vaddr, filesz, memsz, align: u64::from(r.u32()?) })
            }
        }
    }

    /// Appends the 56-byte little-endian encoding to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        put_u32(out, self.kind);
        put_u32(out, self.flags);
        put_u64(out, self.offset);
        put_u64(out, self.vaddr);
        put_u64(out, 0); // p_paddr
        put_u64(out, self.filesz);
        put_u64(out, self.memsz);
        put_u64(out, self.align);
    }

    /// Decodes one header from exactly [`PHDR_SIZE`] bytes.
    pub fn decode(bytes: &[u8]) -> Option<ProgramHeader> {
        let mut r = LeReader::new(bytes);
        let kind = r.u32()?;
        let flags = r.u32()?;
        let offset = r.u64()?;
        let vaddr = r.u64()?;
        let _paddr = r.u64()?;
        Some(ProgramHeader { kind, flags, offset, vaddr, filesz: r.u64()?, memsz: r.u64()?, align: r.u64()? })
    }
}

/// The ELF32 header of an i386 core file, as [`encode_file_header`] for x86_64.
fn encode_file_header32(phnum: usize, shoff: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(EHDR32_SIZE);
    out.extend_from_slice(&[0x7f, b'E', b'L', b'F', 1, 1, 1, 0]); // 32-bit, little-endian, version 1, System V
    out.extend_from_slice(&[0; 8]);
    put_u16(&mut out, ET_CORE);
    put_u16(&mut out, EM_386);
    put_u32(&mut out, 1); // e_version
    put_u32(&mut out, 0); // e_entry
    put_u32(&mut out, EHDR32_SIZE as u32); // e_phoff
    put_u32(&mut out, shoff as u32); // e_shoff
    put_u32(&mut out, 0); // e_flags
    put_u16(&mut out, EHDR32_SIZE as u16);
    put_u16(&mut out, PHDR32_SIZE as u16);
    put_u16(&mut out, if phnum >= PN_XNUM as usize { PN_XNUM } else { phnum as u16 });
    put_u16(&mut out, if shoff != 0 { 40 } else { 0 }); // e_shentsize
    put_u16(&mut out, if shoff != 0 { 1 } else { 0 }); // e_shnum
    put_u16(&mut out, 0); // e_shstrndx
    out
}

/// The file header of a core file of `class` with `phnum` program headers
/// starting right after it (with `PN_XNUM` and a section header 0 when there
/// are 65,535 or more: `shoff` then points to it).
pub fn encode_file_header_for(class: CoreClass, phnum: usize, shoff: u64) -> Vec<u8> {
    match class {
        CoreClass::X86_64 => encode_file_header(phnum, shoff),
        CoreClass::I386 => encode_file_header32(phnum, shoff),
    }
}

/// The ELF64 header of an x86_64 core file with `phnum` program headers
/// starting right after it (with `PN_XNUM` and a section header 0 when there
/// are 65,535 or more: `shoff` then points to it).
pub fn encode_file_header(phnum: usize, shoff: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(EHDR_SIZE);
    out.extend_from_slice(&[0x7f, b'E', b'L', b'F', 2, 1, 1, 0]); // 64-bit, little-endian, version 1, System V
    out.extend_from_slice(&[0; 8]);
    put_u16(&mut out, ET_CORE);
    put_u16(&mut out, EM_X86_64);
    put_u32(&mut out, 1); // e_version
    put_u64(&mut out, 0); // e_entry
    put_u64(&mut out, EHDR_SIZE as u64); // e_phoff
    put_u64(&mut out, shoff); // e_shoff
    put_u32(&mut out, 0); // e_flags
    put_u16(&mut out, EHDR_SIZE as u16);
    put_u16(&mut out, PHDR_SIZE as u16);
    put_u16(&mut out, if phnum >= PN_XNUM as usize { PN_XNUM } else { phnum as u16 });
    put_u16(&mut out, if shoff != 0 { 64 } else { 0 }); // e_shentsize
    put_u16(&mut out, if shoff != 0 { 1 } else { 0 }); // e_shnum
    put_u16(&mut out, 0); // e_shstrndx
    out
}

/// Section header 0 carrying the real program header count (`sh_info`), for `PN_XNUM`.
pub fn encode_xnum_section(phnum: usize) -> Vec<u8> {
    encode_xnum_section_for(CoreClass::X86_64, phnum)
}

/// [`encode_xnum_section`] for a core file of `class` (`sh_info` is at byte 28 of an ELF32 section header).
pub fn encode_xnum_section_for(class: CoreClass, phnum: usize) -> Vec<u8> {
    let mut out = vec![0; class.shdr_size()];
    let at = match class {
        CoreClass::X86_64 => 44,
        CoreClass::I386 => 28,
    };
    out[at..at + 4].copy_from_slice(&(phnum as u32).to_le_bytes());
    out
}

/// Appends one note (`namesz`, `descsz`, `type`, name, descriptor, each padded to 4 bytes).
pub fn encode_note(out: &mut Vec<u8>, name: &str, kind: u32, desc: &[u8]) {
    put_u32(out, name.len() as u32 + 1);
    put_u32(out, desc.len() as u32);
    put_u32(out, kind);
    out.extend_from_slice(name.as_bytes());
    out.push(0);
    pad4(out);
    out.extend_from_slice(desc);
    pad4(out);
}

fn pad4(out: &mut Vec<u8>) {
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
}

/// One note as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// Its name without the terminating NUL (`CORE`, `LINUX`, `OXTRACE`).
    pub name: String,
    /// Its type.
    pub kind: u32,
    /// Its descriptor.
    pub desc: Vec<u8>,
}

/// Splits a notes segment into notes; the error says at which byte it went wrong.
pub fn decode_notes(bytes: &[u8]) -> Result<Vec<Note>, String> {
    let mut notes = Vec::new();
    let mut at = 0usize;
    while at + 12 <= bytes.len() {
        let word = |i: usize| u32::from_le_bytes(bytes[at + i..at + i + 4].try_into().expect("4 bytes")) as usize;
        let (namesz, descsz, kind) = (word(0), word(4), word(8) as u32);
        let name_at = at + 12;
        let desc_at = name_at.checked_add(namesz.checked_add(3).ok_or("note name size overflows")? & !3);
        let desc_at = desc_at
            .filter(|&d| d <= bytes.len())
            .ok_or_else(|| format!("note at byte {at}: name runs past the notes"))?;
        let end = desc_at.checked_add(descsz).filter(|&e| e <= bytes.len());
        let end = end.ok_or_else(|| format!("note at byte {at}: descriptor of {descsz} bytes runs past the notes"))?;
        let name = &bytes[name_at..name_at + namesz];
        let name = String::from_utf8_lossy(name.split(|&b| b == 0).next().unwrap_or_default()).into_owned();
        notes.push(Note { name, kind, desc: bytes[desc_at..end].to_vec() });
        at = end.checked_add(3).map(|e| e & !3).unwrap_or(usize::MAX);
    }
    Ok(notes)
}

/// Appends a little-endian `u16`.
pub fn put_u16(out: &mut Vec<u8>, value: u16) {
    out.extend_from_slice(&value.to_le_bytes());
}

/// Appends a little-endian `u32`.
pub fn put_u32(out: &mut Vec<u8>, value: u32) {
    out.extend_from_slice(&value.to_le_bytes());
}

/// Appends a little-endian `u64`.
pub fn put_u64(out: &mut Vec<u8>, value: u64) {
    out.extend_from_slice(&value.to_le_bytes());
}

/// Reads little-endian values from a byte slice; every read is checked and
/// returns `None` past the end.
#[derive(Debug, Clone)]
pub struct LeReader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> LeReader<'a> {
    /// A reader at the start of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, at: 0 }
    }

    /// The next `n` bytes.
    pub fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len())?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Some(slice)
    }

    /// The next byte.
    pub fn u8(&mut self) -> Option<u8> {
        Some(self.bytes(1)?[0])
    }

    /// The next `u16`.
    pub fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes(self.bytes(2)?.try_into().ok()?))
    }

    /// The next `u32`.
    pub fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.bytes(4)?.try_into().ok()?))
    }

    /// The next `u64`.
    pub fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.bytes(8)?.try_into().ok()?))
    }

    /// Bytes left.
    pub fn remaining(&self) -> usize {
        self.bytes.len() - self.at
    }
}

/// The little-endian `u64` at `offset` of `bytes`, if it is all there.
pub fn u64_at(bytes: &[u8], offset: usize) -> Option<u64> {
    LeReader::new(bytes.get(offset..)?).u64()
}

/// The little-endian `u32` at `offset` of `bytes`, if it is all there.
pub fn u32_at(bytes: &[u8], offset: usize) -> Option<u32> {
    LeReader::new(bytes.get(offset..)?).u32()
}

/// The value of `key` in an auxiliary vector (pairs of little-endian 8-byte words).
pub fn auxv_value(auxv: &[u8], key: u64) -> Option<u64> {
    auxv_value_sized(auxv, key, 8)
}

/// The value of `key` in an auxiliary vector of `word`-byte words (4 in a 32-bit process).
pub fn auxv_value_sized(auxv: &[u8], key: u64, word: usize) -> Option<u64> {
    let at = |pair: &[u8], offset: usize| match word {
        4 => u32_at(pair, offset).map(u64::from),
        _ => u64_at(pair, offset),
    };
    auxv.chunks_exact(2 * word).find(|pair| at(pair, 0) == Some(key)).and_then(|pair| at(pair, word))
}
