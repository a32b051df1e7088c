//! The memory maps of a process, as the kernel lists them in `/proc/PID/maps`.
//!
//! Each line of that file describes one mapping:
//!
//! ```text
//! 7f948fbac000-7f948fd02000 r-xp 00026000 fe:00 326279      /usr/lib/x86_64-linux-gnu/libc.so.6
//! ```
//!
//! that is the address range, the permissions, the offset into the file, the
//! device (major:minor), the inode and, optionally, a path or a pseudo name
//! such as `[heap]`.

use std::fmt;

use crate::error::{Error, Result};

/// The access permissions of a mapping, as the four characters `rwxp` / `rwxs`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Perms {
    /// The mapping can be read.
    pub read: bool,
    /// The mapping can be written.
    pub write: bool,
    /// The mapping can be executed.
    pub exec: bool,
    /// The mapping is shared (`s`) rather than private copy-on-write (`p`).
    pub shared: bool,
}

impl Perms {
    /// Parses the four-character form of `/proc/PID/maps`, such as `"r-xp"` or `"rw-s"`.
    ///
    /// Returns `None` for anything else.
    pub fn parse(text: &str) -> Option<Perms> {
        let &[r, w, x, s] = text.as_bytes() else {
            return None;
        };
        let flag = |byte: u8, set: u8| match byte {
            b'-' => Some(false),
            b if b == set => Some(true),
            _ => None,
        };
        let shared = match s {
            b's' => true,
            b'p' => false,
            _ => return None,
        };
        Some(Perms { read: flag(r, b'r')?, write: flag(w, b'w')?, exec: flag(x, b'x')?, shared })
    }
}

impl fmt::Display for Perms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pick = |on: bool, c: char| if on { c } else { '-' };
        write!(
            f,
            "{}{}{}{}",
            pick(self.read, 'r'),
            pick(self.write, 'w'),
            pick(self.exec, 'x'),
            if self.shared { 's' } else { 'p' }
        )
    }
}

/// One mapping of a process's address space: one line of `/proc/PID/maps`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MemoryMap {
    /// The first address of the mapping.
    pub start: u64,
    /// The address just past the mapping.
    pub end: u64,
    /// The access permissions.
    pub perms: Perms,
    /// The offset into the mapped file (0 for anonymous mappings).
    pub offset: u64,
    /// The device of the mapped file, as (major, minor).
    pub device: (u32, u32),
    /// The inode of the mapped file (0 for anonymous mappings).
    pub inode: u64,
    /// The path of the mapped file, or a pseudo name such as `[heap]`, exactly
    /// as the kernel gives it (so a deleted file ends with `" (deleted)"`).
    /// `None` for an anonymous mapping.
    pub path: Option<String>,
}

impl MemoryMap {
    /// The size of the mapping in bytes.
    pub fn len(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }

    /// Whether the mapping covers no bytes at all (the kernel never lists such a mapping).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether `addr` lies in `[start, end)`.
    pub fn contains(&self, addr: u64) -> bool {
        self.start <= addr && addr < self.end
    }

    /// Whether the mapping has a path that is not a pseudo name like `[heap]`
    /// or `[anon:name]`.
    pub fn is_file_backed(&self) -> bool {
        self.path.as_deref().is_some_and(|p| !is_pseudo(p))
    }

    /// A short name: the basename of the path (`libc.so.6`), the pseudo name
    /// itself (`[heap]`, `[anon:name]`), or `""` for an anonymous mapping.
    pub fn name(&self) -> &str {
        match self.path.as_deref() {
            None => "",
            Some(p) if is_pseudo(p) => p,
            Some(p) => p.rsplit('/').next().unwrap_or(p),
        }
    }
}

impl fmt::Display for MemoryMap {
    /// One line in the style of `/proc/PID/maps`: `start-end perms offset path`,
    /// with the addresses zero-padded to 16 hex digits.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}-{:016x} {} {:08x}", self.start, self.end, self.perms, self.offset)?;
        if let Some(path) = &self.path {
            write!(f, " {path}")?;
        }
        Ok(())
    }
}

/// Whether a maps path is a kernel pseudo name such as `[heap]` rather than a file.
fn is_pseudo(path: &str) -> bool {
    path.starts_with('[')
}

/// Parses the text of `/proc/PID/maps` into one [`MemoryMap`] per line, in
/// the order given (the kernel lists them sorted by address).
///
/// Blank lines are skipped. Any other line that is not in the kernel's format
/// gives an [`Error::File`] whose path is `"maps"` (the caller knows the real
/// file) and whose reason names the line number and what is wrong. This never
/// panics, whatever the input.
pub fn parse_proc_maps(text: &str) -> Result<Vec<MemoryMap>> {
    let mut maps = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let map = parse_line(line)
            .map_err(|what| Error::File { path: "maps".into(), reason: format!("line {}: {what}", index + 1) })?;
        maps.push(map);
    }
    Ok(maps)
}

/// The map that contains `addr`, found by binary search.
///
/// `maps` must be sorted by address and not overlap, as [`parse_proc_maps`]
/// returns them for the kernel's text.
pub fn map_containing(maps: &[MemoryMap], addr: u64) -> Option<&MemoryMap> {
    let after = maps.partition_point(|m| m.start <= addr);
    let candidate = maps.get(after.checked_sub(1)?)?;
    candidate.contains(addr).then_some(candidate)
}

/// Parses one non-blank line; the error is a description of what is wrong.
fn parse_line(line: &str) -> std::result::Result<MemoryMap, String> {
    let mut rest = line;

    let range = next_field(&mut rest).ok_or("missing address range")?;
    let (start, end) = range
        .split_once('-')
        .and_then(|(s, e)| Some((parse_hex(s)?, parse_hex(e)?)))
        .ok_or_else(|| format!("bad address range {range:?}, expected START-END in hex"))?;
    if end < start {
        return Err(format!("address range {range:?} ends before it starts"));
    }

    let perms_text = next_field(&mut rest).ok_or("missing permissions")?;
    let perms = Perms::parse(perms_text)
        .ok_or_else(|| format!("bad permissions {perms_text:?}, expected four characters like \"r-xp\""))?;

    let offset_text = next_field(&mut rest).ok_or("missing offset")?;
    let offset = parse_hex(offset_text).ok_or_else(|| format!("bad offset {offset_text:?}, expected hex"))?;

    let device_text = next_field(&mut rest).ok_or("missing device")?;
    let device = device_text
        .split_once(':')
        .and_then(|(major, minor)| Some((parse_hex_u32(major)?, parse_hex_u32(minor)?)))
        .ok_or_else(|| format!("bad device {device_text:?}, expected MAJOR:MINOR in hex"))?;

    let inode_text = next_field(&mut rest).ok_or("missing inode")?;
    let inode =
        parse_decimal(inode_text).ok_or_else(|| format!("bad inode {inode_text:?}, expected a decimal number"))?;

    // The kernel pads with spaces up to the path column; the path itself may
    // contain spaces, so the rest of the line is taken as it is.
    let path = rest.trim_start_matches([' ', '\t']);
    let path = (!path.is_empty()).then(|| path.to_string());

    Ok(MemoryMap { start, end, perms, offset, device, inode, path })
}

/// Takes the next space-separated field off the front of `rest`.
fn next_field<'a>(rest: &mut &'a str) -> Option<&'a str> {
    let text = rest.trim_start_matches([' ', '\t']);
    if text.is_empty() {
        return None;
    }
    let end = text.find([' ', '\t']).unwrap_or(text.len());
    let (field, tail) = text.split_at(end);
    *rest = tail;
    Some(field)
}

/// Parses plain hex digits (no sign, no `0x`).
fn parse_hex(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(text, 16).ok()
}

/// Parses plain hex digits into a `u32`.
fn parse_hex_u32(text: &str) -> Option<u32> {
    u32::try_from(parse_hex(text)?).ok()
}

/// Parses plain decimal digits (no sign).
fn parse_decimal(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines as `cat /proc/self/maps` prints them on x86-64 Linux.
    const SAMPLE: &str = "\
5648f1da3000-5648f1da5000 r--p 00000000 fe:00 247030                     /usr/bin/cat
5648f1da5000-5648f1daa000 r-xp 00002000 fe:00 247030                     /usr/bin/cat
5648f1dae000-5648f1daf000 rw-p 0000a000 fe:00 247030                     /usr/bin/cat
5648f4ee9000-5648f4f0a000 rw-p 00000000 00:00 0                          [heap]
7f948fb01000-7f948fb23000 rw-p 00000000 00:00 0 
7f948fbac000-7f948fd02000 r-xp 00026000 fe:00 326279                     /usr/lib/x86_64-linux-gnu/libc.so.6
7f948fd69000-7f948fd70000 r--s 00000000 fe:00 325745                     /usr/lib/x86_64-linux-gnu/gconv/gconv-modules.cache
7f948fd73000-7f948fd77000 r--p 00000000 00:00 0                          [vvar]
7f948fd79000-7f948fd7b000 r-xp 00000000 00:00 0                          [vdso]
7f948fd7c000-7f948fda2000 r-xp 00001000 fe:00 325843                     /usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2
7fff4c1ba000-7fff4c1db000 rw-p 00000000 00:00 0                          [stack]
ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]
";

    fn file_error_reason(err: Error) -> String {
        match err {
            Error::File { path, reason } => {
                assert_eq!(path, "maps");
                reason
            }
            other => panic!("expected Error::File, got {other:?}"),
        }
    }

    #[test]
    fn perms_parse_and_display() {
        for text in ["r-xp", "rw-s", "---p", "rwxs", "--xp", "r--s"] {
            let perms = Perms::parse(text).unwrap();
            assert_eq!(perms.to_string(), text);
        }
        assert_eq!(Perms::parse("r-xp"), Some(Perms { read: true, write: false, exec: true, shared: false }));
        assert_eq!(Perms::default().to_string(), "---p");
        for bad in ["", "r-x", "r-xpp", "x--p", "r-xq", "R-XP", "r-x\u{e9}", "rw-é"] {
            assert_eq!(Perms::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn parses_real_maps() {
        let maps = parse_proc_maps(SAMPLE).unwrap();
        assert_eq!(maps.len(), 12);

        let cat = &maps[0];
        assert_eq!(cat.start, 0x5648f1da3000);
        assert_eq!(cat.end, 0x5648f1da5000);
        assert_eq!(cat.len(), 0x2000);
        assert_eq!(cat.perms.to_string(), "r--p");
        assert_eq!(cat.offset, 0);
        assert_eq!(cat.device, (0xfe, 0));
        assert_eq!(cat.inode, 247030);
        assert_eq!(cat.path.as_deref(), Some("/usr/bin/cat"));
        assert!(cat.is_file_backed());
        assert_eq!(cat.name(), "cat");

        assert_eq!(maps[1].offset, 0x2000);
        assert!(maps[1].perms.exec);

        let heap = &maps[3];
        assert_eq!(heap.path.as_deref(), Some("[heap]"));
        assert!(!heap.is_file_backed());
        assert_eq!(heap.name(), "[heap]");

        let anon = &maps[4];
        assert_eq!(anon.path, None);
        assert!(!anon.is_file_backed());
        assert_eq!(anon.name(), "");
        assert_eq!(anon.inode, 0);

        assert_eq!(maps[5].name(), "libc.so.6");
        assert!(maps[6].perms.shared);
        assert_eq!(maps[6].name(), "gconv-modules.cache");
        assert_eq!(maps[7].name(), "[vvar]");
        assert_eq!(maps[8].name(), "[vdso]");
        assert_eq!(maps[10].name(), "[stack]");

        let vsyscall = &maps[11];
        assert_eq!(vsyscall.start, 0xffffffffff600000);
        assert_eq!(vsyscall.perms, Perms { exec: true, ..Perms::default() });
        assert_eq!(vsyscall.name(), "[vsyscall]");
    }

    #[test]
    fn tricky_paths() {
        let text = "\
7f0000000000-7f0000001000 r-xp 00000000 08:01 1234                       /opt/My Apps/lib two  spaces.so
7f0000001000-7f0000002000 r--p 00001000 08:01 1234                       /opt/hooks/libhook.so (deleted)
7f0000002000-7f0000003000 rw-s 00000000 00:01 77                         /memfd:jit code (deleted)
7f0000003000-7f0000004000 rw-p 00000000 00:00 0                          [anon:my region name]
7f0000004000-7f0000005000 rw-p 00000000 00:00 0                          [anon:a/b]
7f0000005000-7f0000006000 r--p 00000000 103:02 4096                      /dev/shm/x y
";
        let maps = parse_proc_maps(text).unwrap();
        assert_eq!(maps.len(), 6);
        assert_eq!(maps[0].path.as_deref(), Some("/opt/My Apps/lib two  spaces.so"));
        assert_eq!(maps[0].name(), "lib two  spaces.so");
        assert_eq!(maps[0].device, (8, 1));
        assert_eq!(maps[1].path.as_deref(), Some("/opt/hooks/libhook.so (deleted)"));
        assert_eq!(maps[1].name(), "libhook.so (deleted)");
        assert!(maps[1].is_file_backed());
        assert_eq!(maps[2].path.as_deref(), Some("/memfd:jit code (deleted)"));
        assert!(maps[2].perms.shared);
        assert_eq!(maps[3].path.as_deref(), Some("[anon:my region name]"));
        assert_eq!(maps[3].name(), "[anon:my region name]");
        assert!(!maps[3].is_file_backed());
        assert_eq!(maps[4].name(), "[anon:a/b]");
        assert_eq!(maps[5].device, (0x103, 2));
        assert_eq!(maps[5].name(), "x y");
    }

    #[test]
    fn blank_lines_and_crlf() {
        let text = "\n1000-2000 r--p 00000000 00:00 0\r\n\n   \n2000-3000 rw-p 00000000 00:00 0 [heap]\r\n";
        let maps = parse_proc_maps(text).unwrap();
        assert_eq!(maps.len(), 2);
        assert_eq!(maps[0].path, None);
        assert_eq!(maps[1].path.as_deref(), Some("[heap]"));
        assert!(parse_proc_maps("").unwrap().is_empty());
    }

    #[test]
    fn display_is_one_maps_line() {
        let maps = parse_proc_maps(SAMPLE).unwrap();
        assert_eq!(
            maps[5].to_string(),
            "00007f948fbac000-00007f948fd02000 r-xp 00026000 /usr/lib/x86_64-linux-gnu/libc.so.6"
        );
        assert_eq!(maps[4].to_string(), "00007f948fb01000-00007f948fb23000 rw-p 00000000");
        assert_eq!(maps[11].to_string(), "ffffffffff600000-ffffffffff601000 --xp 00000000 [vsyscall]");
    }

    #[test]
    fn malformed_lines_name_the_line() {
        let cases = [
            ("1000-2000 r--p 00000000 00:00 0\nnonsense\n", "line 2: bad address range"),
            ("1000 r--p 00000000 00:00 0", "line 1: bad address range"),
            ("1000-zz r--p 00000000 00:00 0", "line 1: bad address range"),
            ("+1000-2000 r--p 00000000 00:00 0", "line 1: bad address range"),
            ("2000-1000 r--p 00000000 00:00 0", "line 1: address range \"2000-1000\" ends before it starts"),
            ("1000-2000", "line 1: missing permissions"),
            ("1000-2000 r-- 00000000 00:00 0", "line 1: bad permissions"),
            ("1000-2000 r--p", "line 1: missing offset"),
            ("1000-2000 r--p 0x10 00:00 0", "line 1: bad offset"),
            ("1000-2000 r--p 00000000", "line 1: missing device"),
            ("1000-2000 r--p 00000000 0000 0", "line 1: bad device"),
            ("1000-2000 r--p 00000000 1ffffffff:00 0", "line 1: bad device"),
            ("1000-2000 r--p 00000000 00:00", "line 1: missing inode"),
            ("1000-2000 r--p 00000000 00:00 -1", "line 1: bad inode"),
            ("1000-2000 r--p 00000000 00:00 abc /x", "line 1: bad inode"),
            ("1-10000000000000000 r--p 00000000 00:00 0", "line 1: bad address range"),
        ];
        for (text, expected) in cases {
            let reason = file_error_reason(parse_proc_maps(text).unwrap_err());
            assert!(reason.starts_with(expected), "{text:?}: {reason}");
        }
    }

    #[test]
    fn finds_the_containing_map() {
        let maps = parse_proc_maps(SAMPLE).unwrap();
        let name_at = |addr| map_containing(&maps, addr).map(|m| m.name());
        assert_eq!(name_at(0), None);
        assert_eq!(name_at(0x5648f1da2fff), None);
        assert_eq!(name_at(0x5648f1da3000), Some("cat"));
        assert_eq!(name_at(0x5648f1da4fff), Some("cat"));
        assert_eq!(map_containing(&maps, 0x5648f1da5000).unwrap().perms.to_string(), "r-xp");
        // The gap between the text and the data of cat.
        assert_eq!(name_at(0x5648f1daa000), None);
        assert_eq!(name_at(0x5648f4ef0000), Some("[heap]"));
        assert_eq!(name_at(0x7f948fc00000), Some("libc.so.6"));
        assert_eq!(name_at(0xffffffffff600abc), Some("[vsyscall]"));
        assert_eq!(name_at(0xffffffffff601000), None);
        assert_eq!(name_at(u64::MAX), None);
        assert_eq!(map_containing(&[], 0x1000), None);
        for map in &maps {
            assert_eq!(map_containing(&maps, map.start), Some(map));
            assert_eq!(map_containing(&maps, map.end - 1), Some(map));
        }
    }

    /// A tiny xorshift generator, enough for reproducible noise.
    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0 = x;
            x
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    /// Parses `bytes` (made into text) and checks that whatever comes back is coherent.
    fn parse_noise(bytes: &[u8]) {
        let text = String::from_utf8_lossy(bytes);
        match parse_proc_maps(&text) {
            Ok(maps) => {
                for map in &maps {
                    assert!(map.start <= map.end);
                    let _ = (map.to_string(), map.name(), map.is_file_backed(), map.len());
                }
            }
            Err(err) => {
                assert!(file_error_reason(err).starts_with("line "));
            }
        }
    }

    #[test]
    fn never_panics_on_noise() {
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        // Bytes that the parser cares about, so that noise gets past the first fields.
        let alphabet = b"0123456789abcdefABCDEF-: \t\n\r[]rwxps/()deleted\xc3\xa9\xff";
        for _ in 0..4000 {
            let len = rng.below(120);
            let bytes: Vec<u8> = (0..len)
                .map(|_| if rng.below(4) == 0 { rng.next() as u8 } else { alphabet[rng.below(alphabet.len())] })
                .collect();
            parse_noise(&bytes);
        }
    }

    #[test]
    fn never_panics_on_mutated_lines() {
        let mut rng = XorShift(0x1234_5678_9abc_def1);
        let lines: Vec<&str> = SAMPLE.lines().collect();
        for _ in 0..4000 {
            let mut bytes = lines[rng.below(lines.len())].as_bytes().to_vec();
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(bytes.len() + 1);
                match rng.below(5) {
                    0 if at < bytes.len() => {
                        bytes.remove(at);
                    }
                    1 => bytes.insert(at, rng.next() as u8),
                    2 if at < bytes.len() => bytes[at] = b"0f-: \n[x"[rng.below(8)],
                    3 => bytes.truncate(at),
                    _ => {
                        let copy = bytes[at..].to_vec();
                        bytes.extend_from_slice(&copy);
                    }
                }
            }
            parse_noise(&bytes);
        }
    }
}
