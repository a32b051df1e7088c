//! Searching a debuggee's memory for bytes or a regular expression.
//!
//! The memory is read through a caller-given function, chunk by chunk, so the
//! search works the same for a live process, a core file or a test buffer.

use std::collections::BTreeSet;

use memchr::memmem;
use regex::bytes::{Regex, RegexBuilder};

use crate::error::{Error, Result};

/// The largest read that the search makes at once.
const CHUNK: usize = 1 << 20;

/// How far consecutive chunks overlap when searching for a regex.
const REGEX_OVERLAP: usize = 4 << 10;

/// Bytes of look-behind context (for `\b`, `^`) kept before where a regex
/// search resumes in the next chunk; the length of the longest UTF-8 character.
const REGEX_LOOKBEHIND: usize = 4;

/// What to search for.
#[derive(Clone, Debug)]
pub enum Needle {
    /// An exact byte string; every occurrence is reported, overlapping ones too.
    Bytes(Vec<u8>),
    /// A regular expression over bytes; its non-overlapping, non-empty matches
    /// are reported.
    Regex(Regex),
}

impl Needle {
    /// A needle that matches exactly these bytes.
    pub fn bytes(bytes: impl Into<Vec<u8>>) -> Needle {
        Needle::Bytes(bytes.into())
    }

    /// A needle that matches a regular expression (the syntax of the `regex` crate).
    ///
    /// The pattern works on raw bytes: Unicode mode is off unless the pattern
    /// turns it on with `(?u)`, so `.` matches any one byte but `\n`, `\xff`
    /// matches the byte 0xff, and `(?i)` folds ASCII case only. A literal
    /// non-ASCII character still matches its UTF-8 encoding.
    ///
    /// A pattern that does not compile, or that matches the empty string,
    /// gives [`Error::InvalidArgument`].
    pub fn regex(pattern: &str) -> Result<Needle> {
        let regex = RegexBuilder::new(pattern)
            .unicode(false)
            .build()
            .map_err(|e| Error::InvalidArgument(format!("bad regex {pattern:?}: {e}")))?;
        if regex.is_match(b"") {
            return Err(Error::InvalidArgument(format!("regex {pattern:?} matches the empty string")));
        }
        Ok(Needle::Regex(regex))
    }
}

/// Searches the address ranges `[start, end)` for `needle` and returns the
/// start address of every match, sorted and without duplicates.
///
/// `read(addr, buf)` must fill `buf` with the memory at `addr`, or fail. Each
/// range is read in chunks of at most 1 MiB; consecutive chunks overlap so
/// that matches crossing a chunk border are found, and found once:
///
/// - for [`Needle::Bytes`] the overlap is the needle's length minus one, and
///   every occurrence is found, overlapping ones included (`"aaa"` occurs
///   three times in `"aaaaa"`). A needle longer than half a megabyte makes the
///   chunks grow to twice its length.
/// - for [`Needle::Regex`] the overlap is 4 KiB, and the matches are those
///   that [`Regex::find_iter`] gives over the whole range, without the empty
///   ones. A match longer than about 4 KiB that crosses a chunk border can be
///   missed or split in two.
///
/// Matches never span two ranges. The search stops once `limit` matches are
/// found (the lowest addresses when the ranges do not overlap).
///
/// A chunk whose read fails is skipped, since unreadable pages (such as
/// `[vvar]`) are normal when searching all the maps of a process. But if
/// every read failed, the first read error is returned. An empty needle gives
/// [`Error::InvalidArgument`].
pub fn search_memory(
    ranges: &[(u64, u64)],
    needle: &Needle,
    read: &mut dyn FnMut(u64, &mut [u8]) -> Result<()>,
    limit: Option<usize>,
) -> Result<Vec<u64>> {
    search_chunked(ranges, needle, read, limit, CHUNK, REGEX_OVERLAP)
}

/// [`search_memory`] with the chunk size and the regex overlap as parameters,
/// so that tests can cross chunk borders with little data.
fn search_chunked(
    ranges: &[(u64, u64)],
    needle: &Needle,
    read: &mut dyn FnMut(u64, &mut [u8]) -> Result<()>,
    limit: Option<usize>,
    chunk: usize,
    regex_overlap: usize,
) -> Result<Vec<u64>> {
    let (overlap, matcher) = match needle {
        Needle::Bytes(bytes) if bytes.is_empty() => {
            return Err(Error::InvalidArgument("cannot search for an empty byte string".into()));
        }
        Needle::Bytes(bytes) => (bytes.len() - 1, Matcher::Bytes(Box::new(memmem::Finder::new(bytes)))),
        Needle::Regex(regex) if regex.is_match(b"") => {
            return Err(Error::InvalidArgument(format!(
                "cannot search for regex {:?}: it matches the empty string",
                regex.as_str()
            )));
        }
        Needle::Regex(regex) => (regex_overlap, Matcher::Regex(regex)),
    };
    let limit = limit.unwrap_or(usize::MAX);
    // Each chunk must reach past the overlap, or the search would not advance.
    let window = chunk.max(overlap.saturating_mul(2)).max(1);
    let step = (window - overlap) as u64;

    let mut sorted = ranges.to_vec();
    sorted.sort_unstable();

    let mut found = BTreeSet::new();
    let mut buf = Vec::new();
    let mut first_error = None;
    let mut any_read = false;

    'ranges: for &(start, end) in &sorted {
        // Where the search continues: addresses below it are done.
        let mut resume = start;
        let mut pos = start;
        while pos < end && found.len() < limit {
            let remaining = end - pos;
            let len = usize::try_from(remaining).map_or(window, |r| r.min(window));
            let last = len as u64 == remaining;
            buf.resize(len, 0);
            if let Err(err) = read(pos, &mut buf) {
                first_error.get_or_insert(err);
            } else {
                any_read = true;
                let next = if last { end } else { pos + step };
                let mut report = |addr: u64| {
                    found.insert(addr);
                    found.len() < limit
                };
                let go_on = match &matcher {
                    Matcher::Bytes(finder) => search_bytes(finder, &buf, pos, &mut resume, &mut report),
                    Matcher::Regex(regex) => {
                        // Matches starting at `border` or later are left to the
                        // next chunk, which sees more of what follows them.
                        let border = if last { end } else { next + REGEX_LOOKBEHIND.min(overlap / 2) as u64 };
                        search_regex(regex, &buf, pos, border, &mut resume, &mut report)
                    }
                };
                if !go_on {
                    break 'ranges;
                }
            }
            if last {
                break;
            }
            pos += step;
        }
    }

    if !any_read {
        if let Some(err) = first_error {
            return Err(err);
        }
    }
    Ok(found.into_iter().collect())
}

/// The needle, made ready for searching.
enum Matcher<'a> {
    /// A byte string and its precomputed searcher.
    Bytes(Box<memmem::Finder<'a>>),
    /// A regex.
    Regex(&'a Regex),
}

/// Reports every occurrence in `buf` (read at `base`) that starts at `resume`
/// or later, and moves `resume` past the last one. Returns false once
/// `report` says to stop.
fn search_bytes(
    finder: &memmem::Finder<'_>,
    buf: &[u8],
    base: u64,
    resume: &mut u64,
    report: &mut dyn FnMut(u64) -> bool,
) -> bool {
    // Occurrences before `resume` were found in the previous chunk: with an
    // overlap of the needle's length minus one, every occurrence that starts in
    // that chunk fits in it, and none found here can start before them.
    let mut at = offset_in(buf, base, *resume);
    while let Some(found) = buf.get(at..).and_then(|rest| finder.find(rest)) {
        let addr = base + (at + found) as u64;
        *resume = addr + 1;
        if !report(addr) {
            return false;
        }
        at += found + 1;
    }
    true
}

/// Reports the non-empty regex matches in `buf` (read at `base`) that start in
/// `[resume, border)`, searching as `find_iter` would from `resume`, and moves
/// `resume` to where the next chunk must continue. Returns false once `report`
/// says to stop.
fn search_regex(
    regex: &Regex,
    buf: &[u8],
    base: u64,
    border: u64,
    resume: &mut u64,
    report: &mut dyn FnMut(u64) -> bool,
) -> bool {
    let mut at = offset_in(buf, base, *resume);
    while at <= buf.len() {
        let Some(m) = regex.find_at(buf, at) else {
            break;
        };
        let addr = base + m.start() as u64;
        if addr >= border {
            break;
        }
        if m.is_empty() {
            at = m.end() + 1;
            continue;
        }
        *resume = base + m.end() as u64;
        if !report(addr) {
            return false;
        }
        at = m.end();
    }
    *resume = (*resume).max(border);
    true
}

/// The offset in `buf` (read at `base`) of `addr`, clamped to the buffer.
fn offset_in(buf: &[u8], base: u64, addr: u64) -> usize {
    usize::try_from(addr.saturating_sub(base)).map_or(buf.len(), |off| off.min(buf.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Memory made of `data` at `base`, with reads in `holes` failing too.
    struct FakeMemory {
        base: u64,
        data: Vec<u8>,
        holes: Vec<(u64, u64)>,
        reads: usize,
    }

    impl FakeMemory {
        fn new(base: u64, data: impl Into<Vec<u8>>) -> FakeMemory {
            FakeMemory { base, data: data.into(), holes: Vec::new(), reads: 0 }
        }

        fn read(&mut self, addr: u64, buf: &mut [u8]) -> Result<()> {
            self.reads += 1;
            let end = addr + buf.len() as u64;
            let fail = || Error::Memory { pid: 1, access: "read", addr, len: buf.len(), reason: "unmapped".into() };
            if addr < self.base || end > self.base + self.data.len() as u64 {
                return Err(fail());
            }
            if self.holes.iter().any(|&(s, e)| addr < e && s < end) {
                return Err(fail());
            }
            let off = (addr - self.base) as usize;
            buf.copy_from_slice(&self.data[off..off + buf.len()]);
            Ok(())
        }

        fn whole(&self) -> (u64, u64) {
            (self.base, self.base + self.data.len() as u64)
        }

        fn search(
            &mut self,
            ranges: &[(u64, u64)],
            needle: &Needle,
            limit: Option<usize>,
            chunk: usize,
            regex_overlap: usize,
        ) -> Result<Vec<u64>> {
            search_chunked(ranges, needle, &mut |a, b| self.read(a, b), limit, chunk, regex_overlap)
        }
    }

    /// Every start of `needle` in `data`, overlapping ones included.
    fn naive(data: &[u8], needle: &[u8], base: u64) -> Vec<u64> {
        (0..data.len()).filter(|&i| data[i..].starts_with(needle)).map(|i| base + i as u64).collect()
    }

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

    const BASE: u64 = 0x7f00_0000_1000;

    #[test]
    fn finds_bytes_across_chunk_borders_once() {
        let needle = b"needle";
        for chunk in [1, 2, 7, 8, 11, 12, 13, 64] {
            for at in 0..40 {
                let mut data = vec![b'.'; 48];
                data[at..at + needle.len()].copy_from_slice(needle);
                let mut mem = FakeMemory::new(BASE, data);
                let found = mem.search(&[mem.whole()], &Needle::bytes(&needle[..]), None, chunk, 8).unwrap();
                assert_eq!(found, vec![BASE + at as u64], "chunk {chunk}, at {at}");
            }
        }
    }

    #[test]
    fn finds_overlapping_occurrences() {
        let mut mem = FakeMemory::new(BASE, b"aaaaa".to_vec());
        let found = mem.search_default(&Needle::bytes("aaa"));
        assert_eq!(found, vec![BASE, BASE + 1, BASE + 2]);
        for chunk in 1..8 {
            let found = mem.search(&[mem.whole()], &Needle::bytes("aaa"), None, chunk, 8).unwrap();
            assert_eq!(found, vec![BASE, BASE + 1, BASE + 2], "chunk {chunk}");
        }
    }

    #[test]
    fn bytes_agree_with_a_naive_search() {
        let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
        for _ in 0..500 {
            let data: Vec<u8> = (0..rng.below(200)).map(|_| b"ab"[rng.below(2)]).collect();
            let needle: Vec<u8> = (0..1 + rng.below(6)).map(|_| b"ab"[rng.below(2)]).collect();
            let chunk = 1 + rng.below(40);
            let mut mem = FakeMemory::new(BASE, data.clone());
            let found = mem.search(&[mem.whole()], &Needle::bytes(needle.clone()), None, chunk, 8).unwrap();
            assert_eq!(found, naive(&data, &needle, BASE), "{needle:?} in {data:?}, chunk {chunk}");
        }
    }

    #[test]
    fn finds_regex_matches() {
        let mut mem = FakeMemory::new(BASE, b"key=1 key=22 nokey= key=333".to_vec());
        let found = mem.search_default(&Needle::regex(r"key=[0-9]+").unwrap());
        assert_eq!(found, vec![BASE, BASE + 6, BASE + 20]);
        let found = mem.search_default(&Needle::regex(r"\bkey=").unwrap());
        assert_eq!(found, vec![BASE, BASE + 6, BASE + 20]);
        let found = mem.search_default(&Needle::regex(r"(?i)NOKEY").unwrap());
        assert_eq!(found, vec![BASE + 13]);
    }

    #[test]
    fn regex_works_on_raw_bytes() {
        let mut mem = FakeMemory::new(BASE, b"\x00\xff\xfe\x00ab\xc3\xa9".to_vec());
        assert_eq!(mem.search_default(&Needle::regex(r"\xff.\x00").unwrap()), vec![BASE + 1]);
        assert_eq!(mem.search_default(&Needle::regex("é").unwrap()), vec![BASE + 6]);
        assert_eq!(mem.search_default(&Needle::regex(r"\w+").unwrap()), vec![BASE + 4]);
    }

    #[test]
    fn finds_regex_across_chunk_borders_once() {
        for chunk in [4, 9, 16, 17, 33] {
            for at in 0..40 {
                let mut data = vec![b'.'; 48];
                data[at..at + 5].copy_from_slice(b"x=123");
                let mut mem = FakeMemory::new(BASE, data);
                let needle = Needle::regex(r"x=[0-9]+").unwrap();
                let found = mem.search(&[mem.whole()], &needle, None, chunk, 8).unwrap();
                assert_eq!(found, vec![BASE + at as u64], "chunk {chunk}, at {at}");
            }
        }
    }

    #[test]
    fn regex_agrees_with_find_iter() {
        // Matches of at most 4 bytes: the overlap of 8 keeps 4 bytes of look-behind.
        let patterns = [r"ab", r"a[ab]{0,2}b", r"\bab", r"b{1,3}a", r"(?m)^a", r"ab|ba|aab", r"a$", r"a\b"];
        let mut rng = XorShift(0x0123_4567_89ab_cdef);
        for _ in 0..1000 {
            let pattern = patterns[rng.below(patterns.len())];
            let data: Vec<u8> = (0..rng.below(150)).map(|_| b"ab \n"[rng.below(4)]).collect();
            let chunk = 1 + rng.below(40);
            let needle = Needle::regex(pattern).unwrap();
            let Needle::Regex(regex) = &needle else { unreachable!() };
            let expected: Vec<u64> = regex.find_iter(&data).map(|m| BASE + m.start() as u64).collect();
            let mut mem = FakeMemory::new(BASE, data.clone());
            let found = mem.search(&[mem.whole()], &needle, None, chunk, 8).unwrap();
            assert_eq!(found, expected, "{pattern:?} in {:?}, chunk {chunk}", String::from_utf8_lossy(&data));
        }
    }

    #[test]
    fn skips_unreadable_chunks() {
        let data = b"hit....hit....hit....hit".to_vec();
        let mut mem = FakeMemory::new(BASE, data);
        // The third "hit" lies in pages that cannot be read.
        mem.holes.push((BASE + 15, BASE + 16));
        let found = mem.search(&[mem.whole()], &Needle::bytes("hit"), None, 4, 8).unwrap();
        assert_eq!(found, vec![BASE, BASE + 7, BASE + 21]);

        // A whole range unreadable, before, between and after readable ones.
        let mut mem = FakeMemory::new(BASE, b"hit....hit".to_vec());
        let ranges =
            [(0, 0x1000), (BASE, BASE + 5), (BASE - 10, BASE), (BASE + 5, BASE + 10), (u64::MAX - 10, u64::MAX)];
        let found = mem.search(&ranges, &Needle::bytes("hit"), None, 1 << 20, 8).unwrap();
        assert_eq!(found, vec![BASE, BASE + 7]);
    }

    #[test]
    fn all_reads_failing_is_an_error() {
        let mut mem = FakeMemory::new(BASE, b"hit".to_vec());
        let err = mem.search(&[(0x1000, 0x1010), (0x2000, 0x2010)], &Needle::bytes("hit"), None, 4, 8).unwrap_err();
        assert!(matches!(err, Error::Memory { addr: 0x1000, .. }), "{err:?}");
        // No ranges (or only empty ones) is no error: nothing to read.
        assert_eq!(mem.search(&[], &Needle::bytes("hit"), None, 4, 8).unwrap(), vec![]);
        assert_eq!(mem.search(&[(5, 5)], &Needle::bytes("hit"), None, 4, 8).unwrap(), vec![]);
    }

    #[test]
    fn honours_the_limit() {
        let mut mem = FakeMemory::new(BASE, b"x.x.x.x.x.x.x.x.x.x.".to_vec());
        let found = mem.search(&[mem.whole()], &Needle::bytes("x"), Some(3), 4, 8).unwrap();
        assert_eq!(found, vec![BASE, BASE + 2, BASE + 4]);
        let reads = mem.reads;
        assert!(reads <= 2, "read {reads} chunks for 3 matches");
        let found = mem.search(&[mem.whole()], &Needle::regex("x").unwrap(), Some(4), 4, 2).unwrap();
        assert_eq!(found, vec![BASE, BASE + 2, BASE + 4, BASE + 6]);
        assert_eq!(mem.search(&[mem.whole()], &Needle::bytes("x"), Some(0), 4, 8).unwrap(), vec![]);
        assert_eq!(mem.search(&[mem.whole()], &Needle::bytes("x"), Some(100), 4, 8).unwrap().len(), 10);
    }

    #[test]
    fn results_are_sorted_and_unique() {
        let mut mem = FakeMemory::new(BASE, b"ab..ab..ab..ab".to_vec());
        let (start, end) = mem.whole();
        let ranges = [(start + 8, end), (start, start + 8), (start + 2, start + 10)];
        let found = mem.search(&ranges, &Needle::bytes("ab"), None, 4, 8).unwrap();
        assert_eq!(found, vec![BASE, BASE + 4, BASE + 8, BASE + 12]);
    }

    #[test]
    fn long_needles_grow_the_chunk() {
        let mut data = vec![0u8; 100];
        data[37..37 + 20].copy_from_slice(b"a rather long needle");
        let mut mem = FakeMemory::new(BASE, data);
        let found = mem.search(&[mem.whole()], &Needle::bytes("a rather long needle"), None, 4, 8).unwrap();
        assert_eq!(found, vec![BASE + 37]);
    }

    #[test]
    fn empty_needles_are_refused() {
        let mut mem = FakeMemory::new(BASE, b"abc".to_vec());
        let err = mem.search(&[mem.whole()], &Needle::bytes(""), None, 4, 8).unwrap_err();
        assert!(matches!(err, Error::InvalidArgument(_)), "{err:?}");
        assert_eq!(mem.reads, 0);
        for pattern in ["", "a*", "^", "(?:)"] {
            let err = Needle::regex(pattern).unwrap_err();
            assert!(matches!(&err, Error::InvalidArgument(m) if m.contains("empty")), "{err:?}");
        }
        let sneaky = Needle::Regex(Regex::new("x?").unwrap());
        let err = mem.search(&[mem.whole()], &sneaky, None, 4, 8).unwrap_err();
        assert!(matches!(err, Error::InvalidArgument(_)), "{err:?}");
    }

    #[test]
    fn bad_regexes_are_refused() {
        let err = Needle::regex("key=(").unwrap_err();
        let Error::InvalidArgument(message) = &err else { panic!("{err:?}") };
        assert!(message.contains("\"key=(\""), "{message}");
        assert!(message.contains("unclosed group"), "{message}");
    }

    impl FakeMemory {
        /// Searches all of the memory with the real chunk size.
        fn search_default(&mut self, needle: &Needle) -> Vec<u64> {
            let whole = self.whole();
            search_memory(&[whole], needle, &mut |a, b| self.read(a, b), None).unwrap()
        }
    }
}
