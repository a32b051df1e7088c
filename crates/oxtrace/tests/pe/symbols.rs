//! Symbols and lines of mingw PE images against mingw's `nm` and `addr2line`.

use std::collections::HashMap;
use std::path::Path;
use std::rc::Rc;

use oxtrace::memory::{MemoryMap, Perms};
use oxtrace::symbols::{ElfImage, Module, SymbolKind, SymbolResolver};

use super::{binutil, nm_address, nm_functions, pe_fixture, LEVELS};

/// The fixture's own functions.
const FUNCTIONS: [&str; 7] = ["leaf_add", "xmm_saver", "big_frame", "with_alloca", "fp_func", "run_chain", "main"];

#[test]
fn coff_symbols_match_nm() {
    for level in LEVELS {
        let exe = pe_fixture("pe_unwind", level);
        let image = ElfImage::load(&exe).unwrap();
        let layout = image.pe().expect("a PE image").layout;
        assert_eq!(layout.image_base, 0x1_4000_0000);
        let table = image.symbols();
        // COFF labels (storage class 6: the fixture's `chained_part_end`) name no function.
        let symbols = binutil("objdump", &["-t", exe.to_str().unwrap()]);
        let labels: Vec<&str> =
            symbols.lines().filter(|l| l.contains("(scl   6)")).filter_map(|l| l.split_whitespace().last()).collect();
        let nm: Vec<(String, u64)> =
            nm_functions(&exe).into_iter().filter(|(n, _)| !labels.contains(&n.as_str())).collect();
        assert!(nm.len() > 50, "{level}: nm lists {} functions", nm.len());
        // Section-relative labels (`.ctors.65535`) are no functions.
        for (name, addr) in nm.iter().filter(|(name, _)| !name.starts_with('.')) {
            assert!(
                table.all_by_name(name).any(|s| s.addr == *addr),
                "{level}: {name} at {addr:#x} not found by name (got {:?})",
                table.all_by_name(name).map(|s| s.addr).collect::<Vec<_>>()
            );
            let (found, offset) = table.by_addr(addr + 1).unwrap_or_else(|| panic!("{level}: nothing at {name}+1"));
            assert_eq!((found.addr, offset), (*addr, 1), "{level}: {name}+1 is in {}", found.name);
        }
        for name in FUNCTIONS {
            let symbol = table.by_name(name).unwrap();
            assert_eq!(symbol.kind, SymbolKind::Function, "{level}: {name}");
        }
    }
}

#[test]
fn exports_name_functions_of_a_stripped_image() {
    let exe = pe_fixture("pe_unwind", "-O2");
    let stripped = exe.with_file_name("pe_unwind-stripped.exe");
    binutil("strip", &["-o", stripped.to_str().unwrap(), exe.to_str().unwrap()]);
    let image = ElfImage::load(&stripped).unwrap();
    let leaf = image.symbols().by_name("leaf_add").expect("the export");
    assert_eq!((leaf.addr, leaf.kind, leaf.global), (nm_address(&exe, "leaf_add"), SymbolKind::Function, true));
    assert!(image.symbols().by_name("with_alloca").is_none(), "a static function survived strip");
    assert!(image.lines().is_none(), "strip left DWARF behind");
}

/// `addr2line -f -i` for some addresses: per address, the frames as (function, file name, line).
fn addr2line(exe: &Path, addrs: &[u64]) -> Vec<Vec<(String, String, u32)>> {
    let mut args = vec!["-f".to_owned(), "-i".into(), "-a".into(), "-e".into(), exe.display().to_string()];
    args.extend(addrs.iter().map(|a| format!("{a:#x}")));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = binutil("addr2line", &args);
    let mut result: Vec<Vec<(String, String, u32)>> = Vec::new();
    let mut lines = out.lines().peekable();
    while let Some(line) = lines.next() {
        if line.starts_with("0x") {
            result.push(Vec::new());
            continue;
        }
        let function = line.to_owned();
        let place = lines.next().expect("a place after a function");
        let place = place.split(" (discriminator").next().unwrap();
        let (file, number) = place.rsplit_once(':').unwrap();
        let file = file.rsplit('/').next().unwrap().to_owned();
        result.last_mut().unwrap().push((function, file, number.parse().unwrap_or(0)));
    }
    result
}

#[test]
fn lines_and_inlined_frames_match_addr2line() {
    for level in LEVELS {
        let exe = pe_fixture("pe_unwind", level);
        let image = ElfImage::load(&exe).unwrap();
        let lines = image.lines().expect("DWARF in the PE");
        let nm: HashMap<String, u64> = nm_functions(&exe).into_iter().collect();
        let mut addrs = Vec::new();
        for name in FUNCTIONS {
            let start = nm[name];
            let size = image.symbols().by_name(name).map_or(0, |s| s.size).max(0x40);
            addrs.extend((start..start + size).step_by(3));
        }
        let expected = addr2line(&exe, &addrs);
        let mut compared = 0;
        for (addr, want) in addrs.iter().zip(expected) {
            if want.first().is_none_or(|(_, file, _)| file != "pe_unwind.c") {
                continue; // past the function's end, in code without lines
            }
            let frames = lines.frames(*addr);
            let got: Vec<(String, String, u32)> = frames
                .iter()
                .map(|f| {
                    let file = f.file.as_deref().unwrap_or("??").rsplit('/').next().unwrap().to_owned();
                    (f.function.clone().unwrap_or_else(|| "??".into()), file, f.line.unwrap_or(0))
                })
                .collect();
            assert_eq!(got, want, "{level}: frames at {addr:#x}");
            let (file, line) = lines.location(*addr).unwrap();
            assert_eq!((file.rsplit('/').next().unwrap(), line), (want[0].1.as_str(), want[0].2), "{level}: {addr:#x}");
            compared += 1;
        }
        assert!(compared > 100, "{level}: only {compared} addresses had lines");
        // twice() is inlined into big_frame: a frame of its own there.
        let start = nm["big_frame"];
        let inlined = (start..start + 0x80).any(|a| {
            let frames = lines.frames(a);
            frames.len() > 1 && frames[0].inlined && frames[0].function.as_deref() == Some("twice")
        });
        assert!(inlined, "{level}: no inlined twice() in big_frame");
    }
}

#[test]
fn a_module_loaded_away_from_its_image_base_is_placed_by_its_bias() {
    let exe = pe_fixture("pe_unwind", "-O0");
    let path = exe.to_str().unwrap();
    let load = 0x1_8000_0000u64;
    let image = Rc::new(ElfImage::load(&exe).unwrap());
    let size = image.pe().unwrap().layout.size_of_image;
    // The maps a Windows backend gives: the image's regions, offsets relative to its load address.
    let perms = Perms { read: true, write: false, exec: false, shared: false };
    let maps = vec![
        MemoryMap {
            start: load,
            end: load + 0x1000,
            perms,
            offset: 0,
            device: (0, 0),
            inode: 0,
            path: Some(path.into()),
        },
        MemoryMap {
            start: load + 0x1000,
            end: load + size,
            perms: Perms { exec: true, ..perms },
            offset: 0x1000,
            device: (0, 0),
            inode: 0,
            path: Some(path.into()),
        },
    ];
    let resolver = SymbolResolver::from_maps(&maps);
    let module = resolver.module_by_name("pe_unwind-O0").or_else(|| resolver.modules().first()).unwrap();
    assert_eq!((module.bias, module.start, module.end), (load - 0x1_4000_0000, load, load + size));
    let direct = Module::at_load_address(path, "direct".into(), image, load);
    assert_eq!((direct.bias, direct.end), (module.bias, module.end));
    let leaf = nm_address(&exe, "leaf_add") - 0x1_4000_0000 + load;
    assert_eq!(resolver.sym_by_name("leaf_add"), Some(leaf));
    let hit = resolver.sym_by_addr(leaf + 2).unwrap();
    assert_eq!((hit.symbol.name.as_str(), hit.offset), ("leaf_add", 2));
    let place = resolver.describe(leaf + 4);
    let frame = place.source.first().expect("DWARF at the load address");
    assert_eq!(frame.function.as_deref(), Some("leaf_add"));
    let (file, line) = resolver.line_for_addr(leaf + 4).unwrap();
    let want = &addr2line(&exe, &[nm_address(&exe, "leaf_add") + 4])[0][0];
    assert_eq!((file.rsplit('/').next().unwrap(), line), (want.1.as_str(), want.2));
}
