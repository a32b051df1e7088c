//! Pad memory: chunks mapped in the program within a `jmp rel32` of the
//! sites they serve, shared by many pads.
//!
//! A chunk is one anonymous mapping: its first [`CODE`] bytes hold pads
//! (read and execute), the rest is data (read and write): the process's pid
//! (for the conditions' safe reads), then the counters, 8 bytes each. Space
//! in a chunk is taken in order and not reused; a chunk is unmapped when its
//! last pad goes.
//!
//! A chunk is placed in a free gap of the address space next to the site,
//! below it if possible (above a program lies its heap, which `brk` grows),
//! with `MAP_FIXED_NOREPLACE`, so the kernel never moves it out of reach nor
//! over anything.

use crate::memory::MemoryMap;

/// Bytes of a chunk.
pub(super) const CHUNK: u64 = 256 << 10;
/// Bytes of pad code at its start.
pub(super) const CODE: u64 = 192 << 10;
/// Room left between a chunk and the maps it is placed next to.
const GUARD: u64 = 1 << 20;
/// How far a `rel32` reaches, with a margin for the pad's own size.
const REACH: u64 = (1 << 31) - (1 << 20);
/// The lowest address a chunk may take (above `vm.mmap_min_addr`).
const LOWEST: u64 = 1 << 20;
/// The end of the user address space of x86_64 (47 bits).
const HIGHEST: u64 = 0x7fff_ffff_f000;

/// One chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Chunk {
    /// Where it is mapped.
    pub base: u64,
    code_used: u64,
    data_used: u64,
    /// How many pads use it.
    pub users: usize,
}

impl Chunk {
    /// A chunk just mapped at `base`.
    pub fn new(base: u64) -> Chunk {
        // The first data word is the pid.
        Chunk { base, code_used: 0, data_used: 8, users: 0 }
    }

    /// The slot holding the process's pid.
    pub fn pid_slot(&self) -> u64 {
        self.base + CODE
    }

    /// Whether every byte of the chunk is within a `rel32` of `site`.
    pub fn reaches(&self, site: u64) -> bool {
        within_reach(self.base, site)
    }

    /// Where the next pad goes, if `size` bytes (a bound) are left.
    pub fn code_room(&self, size: u64) -> Option<u64> {
        (self.code_used + size <= CODE).then_some(self.base + self.code_used)
    }

    /// Takes `size` bytes of code (rounded up to 16).
    pub fn take_code(&mut self, size: u64) {
        self.code_used += size.div_ceil(16) * 16;
    }

    /// A new counter, if room is left.
    pub fn take_counter(&mut self) -> Option<u64> {
        let at = self.data_used;
        (at + 8 <= CHUNK - CODE).then(|| {
            self.data_used += 8;
            self.base + CODE + at
        })
    }
}

/// Whether `[base, base + CHUNK)` lies within a `rel32` of `site` both ways.
fn within_reach(base: u64, site: u64) -> bool {
    let far = if base > site { base + CHUNK - site } else { site - base };
    far < REACH
}

/// Where a new chunk can go for `site`, given the process's maps (sorted):
/// the free address nearest the site, below it first.
pub(super) fn place(maps: &[MemoryMap], site: u64) -> Option<u64> {
    let mut gaps = Vec::new();
    let mut last_end = LOWEST;
    for map in maps.iter().filter(|m| m.start < HIGHEST) {
        if map.start > last_end {
            gaps.push((last_end, map.start));
        }
        last_end = last_end.max(map.end);
    }
    if last_end < HIGHEST {
        gaps.push((last_end, HIGHEST));
    }
    let below = gaps.iter().rev().filter(|(_, end)| *end <= site).find_map(|&(start, end)| {
        let base = end.checked_sub(CHUNK + GUARD)? & !0xfff;
        (base >= start && within_reach(base, site)).then_some(base)
    });
    below.or_else(|| {
        gaps.iter().filter(|(start, _)| *start >= site).find_map(|&(start, end)| {
            // Well above: the gap right after a program is where its heap grows.
            let base = (start + (64 << 20)).min(end.saturating_sub(CHUNK + GUARD)) & !0xfff;
            (base >= start + GUARD && base + CHUNK <= end && within_reach(base, site)).then_some(base)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::Perms;

    fn map(start: u64, end: u64) -> MemoryMap {
        MemoryMap { start, end, perms: Perms::default(), offset: 0, device: (0, 0), inode: 0, path: None }
    }

    #[test]
    fn a_chunk_goes_below_the_site_and_within_reach() {
        let maps = [map(0x5555_0000_0000, 0x5555_0001_0000), map(0x7fff_0000_0000, 0x7fff_0001_0000)];
        let base = place(&maps, 0x5555_0000_1000).unwrap();
        assert!(base + CHUNK + GUARD <= 0x5555_0000_0000);
        assert!(within_reach(base, 0x5555_0000_1000));
    }

    #[test]
    fn no_chunk_when_everything_near_is_taken() {
        let maps = [map(LOWEST, HIGHEST)];
        assert_eq!(place(&maps, 0x5555_0000_1000), None);
    }
}
