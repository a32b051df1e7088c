//! Corrupt ELF and DWARF files give errors or nothing, never a panic.
//!
//! A fixture built with debug information is mutated (bit flips, overwritten
//! runs, truncation) with a seeded generator, and every loader and lookup is
//! run on each mutant: symbols, PLT names, call frame information, lines,
//! inlined functions and call sites. `OXTRACE_FUZZ_ITERATIONS` runs it longer
//! (the default keeps CI quick); a failure prints the seed that reproduces it.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use oxtrace::arch::{aarch64::AARCH64, x86_64::X86_64};
use oxtrace::symbols::ElfImage;
use oxtrace::unwind::{CfiTables, UnwindRegs};

use crate::support::{fixture, Opt, Rng};

fn mutate(original: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut data = original.to_vec();
    for _ in 0..1 + rng.below(8) {
        match rng.below(4) {
            0 => {
                let at = rng.below(data.len());
                data[at] ^= 1 << rng.below(8);
            }
            1 => {
                let at = rng.below(data.len());
                let len = rng.below(64).min(data.len() - at);
                let byte = [0u8, 0xff, rng.next() as u8][rng.below(3)];
                data[at..at + len].fill(byte);
            }
            2 => {
                // The ELF and section headers are where parsers trust sizes and offsets.
                let at = rng.below(64.min(data.len()));
                data[at] = rng.next() as u8;
            }
            _ => data.truncate(rng.below(data.len())),
        }
        if data.is_empty() {
            break;
        }
    }
    data
}

/// Every query the debugger makes of an image.
fn exercise(image: &ElfImage) {
    let symbols = image.symbols();
    for probe in [0u64, 0x1000, 0x1139, 0x11a9, 0x2000, u64::MAX] {
        let _ = symbols.by_addr(probe);
    }
    let _ = symbols.by_name("main");
    let _ = symbols.by_name("printf@plt");
    let cfi: &CfiTables = image.cfi();
    let mut read = |_addr: u64, buf: &mut [u8]| {
        buf.fill(0x41);
        true
    };
    // The tables run against both architectures' registers (a mutated file may claim either).
    for layout in [&X86_64.unwind, &AARCH64.unwind] {
        let mut regs = UnwindRegs::new(layout);
        for number in 0..layout.names.len() as u16 {
            regs.set(number, Some(0x7000 + u64::from(number) * 8));
        }
        regs.set_sp(Some(0x7000));
        for s in symbols.symbols().iter().take(64) {
            let _ = cfi.step(s.addr.wrapping_add(1), 0, &regs, &mut read);
        }
    }
    if let Some(lines) = image.lines() {
        for s in symbols.symbols().iter().take(64) {
            let _ = lines.frames(s.addr.wrapping_add(4));
            let _ = lines.location(s.addr.wrapping_add(4));
            let _ = lines.call_site_target(s.addr.wrapping_add(9));
            let _ = lines.tail_calls_in(s.addr);
        }
        let _ = lines.addresses_of_line("stacks.c", 23);
    }
}

#[test]
fn corrupt_elf_and_dwarf_never_panic() {
    let original = std::fs::read(fixture("stacks", Opt::O2)).unwrap();
    let iterations: u64 = std::env::var("OXTRACE_FUZZ_ITERATIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(300);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fuzz-elf");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("mutant");
    let mut errors = 0;
    for seed in 1..=iterations {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let data = mutate(&original, &mut rng);
        std::fs::write(&path, &data).unwrap();
        let outcome = catch_unwind(AssertUnwindSafe(|| match ElfImage::load(&path) {
            Ok(image) => exercise(&image),
            Err(e) => {
                assert!(e.to_string().contains("mutant"), "the error names the file: {e}");
                errors += 1;
            }
        }));
        assert!(outcome.is_ok(), "seed {seed} panicked (OXTRACE_FUZZ_ITERATIONS={seed} reproduces it)");
    }
    assert!(errors > 0, "some mutants must be rejected");
}
