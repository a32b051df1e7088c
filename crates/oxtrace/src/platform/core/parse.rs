//! Reading the headers and notes of an ELF core file, checking every offset.
//!
//! The headers are parsed here by hand rather than with the `object` crate:
//! `object` parses from a byte slice of the whole file (or a `ReadCache` that
//! keeps every range read in memory), while a core file may be many GiB and
//! its `PT_LOAD` contents are served later with positioned reads. Only the
//! program headers and the notes are read into memory here.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use crate::error::{Error, Result};
use crate::snapshot::elf::{
    decode_notes, CoreClass, LeReader, Note, ProgramHeader, EHDR_SIZE, EM_386, EM_X86_64, ET_CORE, PN_XNUM, PT_LOAD,
    PT_NOTE,
};

/// The most bytes of notes read from one core file.
const MAX_NOTES: u64 = 256 << 20;
/// The most program headers accepted (the kernel's own limit is far lower).
const MAX_PHDRS: u64 = 1 << 22;

/// What the headers of a core file say.
#[derive(Debug, Clone)]
pub struct CoreLayout {
    /// x86_64 or i386.
    pub class: CoreClass,
    /// The `PT_LOAD` segments, sorted by address.
    pub loads: Vec<ProgramHeader>,
    /// Every note of every `PT_NOTE` segment, in file order.
    pub notes: Vec<Note>,
}

/// Reads and checks the ELF header, program headers and notes of the core file `path`.
pub fn read_layout(path: &Path, file: &mut File) -> Result<CoreLayout> {
    let fail = |reason: String| Error::File { path: path.display().to_string(), reason };
    let file_len = file.metadata().map_err(|e| fail(e.to_string()))?.len();
    let mut ehdr = [0u8; EHDR_SIZE];
    read_at(file, 0, &mut ehdr).map_err(|_| fail(format!("not an ELF file: only {file_len} bytes")))?;
    if ehdr[..4] != [0x7f, b'E', b'L', b'F'] {
        return Err(fail("not an ELF file (bad magic)".into()));
    }
    if !matches!(ehdr[4], 1 | 2) || ehdr[5] != 1 {
        return Err(fail(format!(
            "not a little-endian ELF file of 32 or 64 bits (class {}, data {})",
            ehdr[4], ehdr[5]
        )));
    }
    let mut r = LeReader::new(&ehdr[16..]);
    let (e_type, e_machine) = (r.u16().unwrap_or(0), r.u16().unwrap_or(0));
    if e_type != ET_CORE {
        return Err(fail(format!("not a core file (e_type {e_type}, a core file has {ET_CORE})")));
    }
    let class = match (ehdr[4], e_machine) {
        (2, EM_X86_64) => CoreClass::X86_64,
        (1, EM_386) => CoreClass::I386,
        (2, _) => {
            return Err(fail(format!("a core file of machine {e_machine}, not x86_64 ({EM_X86_64}): not supported")))
        }
        _ => {
            return Err(fail(format!("a 32-bit core file of machine {e_machine}, not i386 ({EM_386}): not supported")))
        }
    };
    let word = |at: usize| u64::from_le_bytes(ehdr[at..at + 8].try_into().expect("8 bytes"));
    let word32 = |at: usize| u64::from(u32::from_le_bytes(ehdr[at..at + 4].try_into().expect("4 bytes")));
    let half = |at: usize| u16::from_le_bytes(ehdr[at..at + 2].try_into().expect("2 bytes"));
    // (e_phoff, e_shoff, e_phentsize, e_phnum, and where sh_info is in a section header)
    let (phoff, shoff, phentsize, phnum, sh_info_at) = match class {
        CoreClass::X86_64 => (word(32), word(40), half(54), half(56), 44),
        CoreClass::I386 => (word32(28), word32(32), half(42), half(44), 28),
    };
    let (phentsize, mut phnum) = (phentsize as u64, phnum as u64);
    let phdr_size = class.phdr_size();
    if phentsize != phdr_size as u64 {
        return Err(fail(format!("program header size {phentsize}, expected {phdr_size}")));
    }
    if phnum == PN_XNUM as u64 {
        // The real count is in section header 0's sh_info.
        let mut sh_info = [0u8; 4];
        read_at(file, shoff.saturating_add(sh_info_at), &mut sh_info)
            .map_err(|_| fail(format!("truncated: section header 0 at offset {shoff:#x} is missing")))?;
        phnum = u32::from_le_bytes(sh_info) as u64;
    }
    if phnum > MAX_PHDRS {
        return Err(fail(format!("{phnum} program headers is too many")));
    }
    if phoff.checked_add(phnum * phdr_size as u64).is_none_or(|end| end > file_len) {
        return Err(fail(format!(
            "truncated: {phnum} program headers at offset {phoff:#x} run past the end ({file_len} bytes)"
        )));
    }
    let mut phdrs = vec![0u8; (phnum * phdr_size as u64) as usize];
    read_at(file, phoff, &mut phdrs).map_err(|_| {
        fail(format!("truncated: {phnum} program headers at offset {phoff:#x} run past the end ({file_len} bytes)"))
    })?;
    let mut loads = Vec::new();
    let mut notes = Vec::new();
    let mut note_bytes = 0u64;
    for (i, raw) in phdrs.chunks_exact(phdr_size).enumerate() {
        let ph = ProgramHeader::decode_for(class, raw).expect("a whole program header");
        if ph.offset.checked_add(ph.filesz).is_none_or(|end| end > file_len) {
            return Err(fail(format!(
                "truncated: segment {i} (at {:#x}) needs file bytes {:#x}..{:#x} but the file has {file_len:#x}",
                ph.vaddr,
                ph.offset,
                ph.offset.saturating_add(ph.filesz)
            )));
        }
        match ph.kind {
            PT_LOAD => {
                if ph.filesz > ph.memsz || ph.vaddr.checked_add(ph.memsz).is_none() {
                    return Err(fail(format!("segment {i} at {:#x} has a bad size", ph.vaddr)));
                }
                loads.push(ph);
            }
            PT_NOTE => {
                note_bytes += ph.filesz;
                if note_bytes > MAX_NOTES {
                    return Err(fail(format!("more than {MAX_NOTES} bytes of notes")));
                }
                let mut bytes = vec![0u8; ph.filesz as usize];
                read_at(file, ph.offset, &mut bytes).map_err(|e| fail(format!("notes at {:#x}: {e}", ph.offset)))?;
                let parsed =
                    decode_notes(&bytes).map_err(|e| fail(format!("notes at offset {:#x}: {e}", ph.offset)))?;
                notes.extend(parsed);
            }
            _ => {}
        }
    }
    loads.sort_by_key(|ph| ph.vaddr);
    Ok(CoreLayout { class, loads, notes })
}

/// Reads exactly `buf.len()` bytes at `offset`.
pub fn read_at(file: &mut File, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
    file.seek(SeekFrom::Start(offset))?;
    file.read_exact(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::elf::{encode_note, CoreClass, PF_R, PF_W};
    use crate::snapshot::writer::{write_core, Segment};

    fn temp(name: &str) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("oxtrace-parse-{name}-{}", std::process::id()))
    }

    #[test]
    fn written_cores_read_back_even_with_more_than_65535_segments() {
        let path = temp("xnum");
        let mut notes = Vec::new();
        encode_note(&mut notes, "CORE", 6, &[1, 2, 3, 4, 5, 6, 7, 8]);
        // One dumped segment of two pages (the second all zeros: a hole), then 70,000 undumped ones.
        let mut segments = vec![Segment { start: 0x10000, end: 0x12000, flags: PF_R | PF_W, dumped: true }];
        segments.extend((0..70_000u64).map(|i| Segment {
            start: 0x100_0000 + i * 0x2000,
            end: 0x100_1000 + i * 0x2000,
            flags: 0,
            dumped: false,
        }));
        let mut read = |addr: u64, buf: &mut [u8]| {
            buf.fill(0);
            if addr == 0x10000 {
                buf[..4].copy_from_slice(b"head");
            }
            Ok(())
        };
        let stats = write_core(&path, CoreClass::X86_64, &notes, &segments, &mut read).unwrap();
        assert_eq!(stats.bytes_written, 4096, "the zero page is a hole");
        let mut file = File::open(&path).unwrap();
        let layout = read_layout(&path, &mut file).unwrap();
        assert_eq!(layout.loads.len(), 70_001);
        assert_eq!(layout.notes.len(), 1);
        assert_eq!(layout.notes[0].desc, [1, 2, 3, 4, 5, 6, 7, 8]);
        let first = layout.loads[0];
        assert_eq!((first.vaddr, first.filesz, first.memsz), (0x10000, 0x2000, 0x2000));
        let mut head = [0u8; 4];
        read_at(&mut file, first.offset, &mut head).unwrap();
        assert_eq!(&head, b"head");
        assert_eq!(file.metadata().unwrap().len(), first.offset + 0x2000);
        let _ = std::fs::remove_file(&path);
    }
}
