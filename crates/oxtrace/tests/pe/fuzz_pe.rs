//! Corrupt PE images, unwind tables and PDB files give errors or nothing,
//! never a panic.
//!
//! The mingw fixture is mutated (bit flips, overwritten runs, truncation,
//! with a bias towards the headers, `.pdata` and `.xdata`) with a seeded
//! generator, and every loader and lookup runs on each mutant: symbols,
//! exports, lines, `UNWIND_INFO` decoding and unwinding steps at every
//! function. The clang build's PDB is mutated the same way.
//! `OXTRACE_FUZZ_ITERATIONS` runs it longer; a failure prints the seed.

use std::ops::Range;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use object::{Object, ObjectSection};
use oxtrace::arch::x86_64::X86_64;
use oxtrace::symbols::{ElfImage, PdbDebugInfo};
use oxtrace::unwind::UnwindRegs;

use super::{pdb::clang_fixture, pe_fixture};

/// A xorshift generator: the same mutants on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(original: &[u8], hot: &[Range<usize>], rng: &mut Rng) -> Vec<u8> {
    let mut data = original.to_vec();
    for _ in 0..1 + rng.below(8) {
        let at = match rng.below(3) {
            0 if !hot.is_empty() => {
                let range = &hot[rng.below(hot.len())];
                range.start + rng.below(range.len())
            }
            _ => rng.below(data.len()),
        }
        .min(data.len() - 1);
        match rng.below(4) {
            0 => data[at] ^= 1 << rng.below(8),
            1 => {
                let len = rng.below(32).min(data.len() - at);
                let byte = [0u8, 0xff, rng.next() as u8][rng.below(3)];
                data[at..at + len].fill(byte);
            }
            2 => data[at] = rng.next() as u8,
            _ => data.truncate(rng.below(data.len()).max(1)),
        }
    }
    data
}

/// Every query the debugger makes of a PE image.
fn exercise(image: &ElfImage) {
    let symbols = image.symbols();
    for probe in [0u64, 0x1_4000_1000, 0x1_4000_1500, u64::MAX] {
        let _ = symbols.by_addr(probe);
    }
    let _ = symbols.by_name("leaf_add");
    if let Some(lines) = image.lines() {
        for s in symbols.symbols().iter().take(32) {
            let _ = lines.frames(s.addr.wrapping_add(4));
            let _ = lines.location(s.addr.wrapping_add(4));
        }
    }
    let Some(pe) = image.pe() else { return };
    let tables = &pe.unwind;
    let mut regs = UnwindRegs::new(&X86_64.unwind);
    for number in 0..17 {
        regs.set(number, Some(0x7000 + u64::from(number) * 8));
    }
    let mut read = |_addr: u64, buf: &mut [u8]| {
        buf.fill(0x41);
        true
    };
    let base = tables.image_base();
    for function in tables.functions().iter().take(64) {
        let _ = tables.unwind_info(function);
        for offset in [0u64, 1, 4, 9, 0x20] {
            let pc = base.wrapping_add(u64::from(function.begin)).wrapping_add(offset);
            regs.set_pc(Some(pc));
            let _ = tables.step(pc, pc, 0, &regs, &mut read);
            let _ = tables.step(pc, pc.wrapping_sub(1), 0x1000, &regs, &mut read);
        }
    }
}

fn iterations() -> u64 {
    std::env::var("OXTRACE_FUZZ_ITERATIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(300)
}

#[test]
fn corrupt_pe_images_never_panic() {
    let original = std::fs::read(pe_fixture("pe_unwind", "-O2")).unwrap();
    let file = object::File::parse(&*original).unwrap();
    // The headers, and the sections the unwinder trusts.
    let mut hot: Vec<Range<usize>> = Vec::new();
    hot.push(0..0x400);
    for section in file.sections() {
        if matches!(section.name(), Ok(".pdata" | ".xdata" | ".edata")) {
            let (start, len) = section.file_range().unwrap();
            hot.push(start as usize..(start + len) as usize);
        }
    }
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fuzz-pe");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("mutant.exe");
    let mut errors = 0;
    for seed in 1..=iterations() {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let data = mutate(&original, &hot, &mut rng);
        std::fs::write(&path, &data).unwrap();
        let outcome = catch_unwind(AssertUnwindSafe(|| match ElfImage::load(&path) {
            Ok(image) => exercise(&image),
            Err(e) => {
                assert!(e.to_string().contains("mutant.exe"), "the error names the file: {e}");
                errors += 1;
            }
        }));
        assert!(outcome.is_ok(), "seed {seed} panicked (OXTRACE_FUZZ_ITERATIONS={seed} reproduces it)");
    }
    assert!(errors > 0, "some mutants must be rejected");
}

#[test]
fn corrupt_pdb_files_never_panic() {
    let exe = clang_fixture("-O0");
    let original = std::fs::read(exe.with_extension("pdb")).unwrap();
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fuzz-pdb");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("mutant.pdb");
    let mut errors = 0;
    // The MSF superblock and the stream directory come first.
    let hot: Vec<Range<usize>> = std::iter::once(0..0x2000).collect();
    for seed in 1..=iterations() {
        let mut rng = Rng(seed.wrapping_mul(0x2545_f491_4f6c_dd1d) | 1);
        let data = mutate(&original, &hot, &mut rng);
        std::fs::write(&path, &data).unwrap();
        let outcome = catch_unwind(AssertUnwindSafe(|| match PdbDebugInfo::load(&path, 0x1_4000_0000, None) {
            Ok(pdb) => {
                for s in pdb.symbols().iter().take(64) {
                    let _ = pdb.location(s.addr);
                }
            }
            Err(e) => {
                assert!(e.to_string().contains("mutant.pdb"), "the error names the file: {e}");
                errors += 1;
            }
        }));
        assert!(outcome.is_ok(), "seed {seed} panicked (OXTRACE_FUZZ_ITERATIONS={seed} reproduces it)");
    }
    assert!(errors > 0, "some mutants must be rejected");
}
