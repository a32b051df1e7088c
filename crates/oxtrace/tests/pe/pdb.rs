//! PDB files (clang + lld, `-gcodeview`): names and lines against LLVM's
//! own PDB readers (`llvm-pdbutil`, `llvm-symbolizer`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::rc::Rc;

use oxtrace::symbols::{ElfImage, Module, SymbolKind, SymbolResolver};

/// The fixture's own functions.
const FUNCTIONS: [&str; 6] = ["leaf_add", "xmm_saver", "big_frame", "with_alloca", "fp_func", "run_chain"];

/// `tests/fixtures/pe_unwind.c` built by clang and lld with a PDB.
pub fn clang_fixture(level: &str) -> PathBuf {
    let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("pe-fixtures");
    let name = format!("pe_unwind-clang{level}");
    test_fixtures::compile_clang_pdb(&out_dir, "pe_unwind.c", &name, &[level, "-Wno-ignored-attributes"])
}

fn run(program: &str, args: &[&str]) -> String {
    let output = Command::new(program).args(args).output().unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(output.status.success(), "{program} {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

/// `llvm-pdbutil dump --publics`: name → (section number, offset).
fn publics(pdb: &Path) -> HashMap<String, (usize, u64)> {
    let out = run("llvm-pdbutil", &["dump", "--publics", pdb.to_str().unwrap()]);
    let mut found = HashMap::new();
    let mut name = None;
    for line in out.lines() {
        if let Some((_, rest)) = line.split_once("S_PUB32") {
            name = rest.split('`').nth(1).map(str::to_owned);
        } else if let (Some(n), Some((_, addr))) = (&name, line.split_once("addr = ")) {
            let (section, offset) = addr.trim().split_once(':').unwrap();
            found.insert(n.clone(), (section.parse().unwrap(), offset.parse().unwrap()));
            name = None;
        }
    }
    found
}

#[test]
fn names_and_lines_come_from_the_pdb_as_llvm_reads_them() {
    for level in ["-O0", "-O2"] {
        let exe = clang_fixture(level);
        let pdb_path = exe.with_extension("pdb");
        let image = Rc::new(ElfImage::load(&exe).unwrap());
        let pe = image.pe().unwrap();
        assert_eq!(pe.pdb_error, None);
        assert_eq!(pe.pdb_file.as_deref(), Some(pdb_path.as_path()));
        // Section VAs by number (1-based, as the PDB counts them).
        let data = std::fs::read(&exe).unwrap();
        let file = object::File::parse(&*data).unwrap();
        let sections: Vec<u64> = object::Object::sections(&file).map(|s| object::ObjectSection::address(&s)).collect();
        let publics = publics(&pdb_path);
        let table = image.symbols();
        // (mingw's runtime objects bring DWARF of their own, but none for the fixture's code.)
        let leaf = table.by_name("leaf_add").unwrap().addr;
        assert!(image.lines().is_none_or(|l| l.location(leaf).is_none()), "{level}: DWARF in a -gcodeview build");
        for name in FUNCTIONS {
            let (section, offset) = publics[name];
            let addr = sections[section - 1] + offset;
            let symbol = table.by_name(name).unwrap_or_else(|| panic!("{level}: {name}"));
            assert_eq!((symbol.addr, symbol.kind), (addr, SymbolKind::Function), "{level}: {name}");
        }
        // Lines at a bias, through the resolver, against llvm-symbolizer.
        let load = 0x2_0000_0000u64;
        let base = pe.layout.image_base;
        let module = Module::at_load_address(exe.to_str().unwrap(), "pdbfix".into(), image.clone(), load);
        let perms = oxtrace::Perms { read: true, write: false, exec: true, shared: false };
        let map = oxtrace::MemoryMap {
            start: load,
            end: module.end,
            perms,
            offset: 0,
            device: (0, 0),
            inode: 0,
            path: Some(exe.to_str().unwrap().into()),
        };
        let resolver = SymbolResolver::from_maps(&[map]);
        let mut addrs = Vec::new();
        for name in FUNCTIONS {
            let start = table.by_name(name).unwrap().addr;
            addrs.extend((start..start + 0x30).step_by(5));
        }
        let mut args = vec!["--no-inlines".to_owned(), format!("--obj={}", exe.display())];
        args.extend(addrs.iter().map(|a| format!("{a:#x}")));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = run("llvm-symbolizer", &args);
        let answers: Vec<&str> = out.split("\n\n").filter(|s| !s.trim().is_empty()).collect();
        assert_eq!(answers.len(), addrs.len());
        let mut compared = 0;
        for (addr, answer) in addrs.iter().zip(answers) {
            let mut lines = answer.lines();
            let (function, place) = (lines.next().unwrap(), lines.next().unwrap());
            let mut parts = place.rsplitn(3, ':');
            let (_column, line, file) = (parts.next(), parts.next().unwrap(), parts.next().unwrap());
            let runtime = addr - base + load;
            assert_eq!(resolver.sym_by_addr(runtime).unwrap().symbol.name, function, "{level}: {addr:#x}");
            if line == "0" {
                continue; // compiler-generated code without a line
            }
            let (got_file, got_line) = resolver.line_for_addr(runtime).unwrap_or_else(|| panic!("{level}: {addr:#x}"));
            let base_name = |p: &str| p.rsplit(['/', '\\']).next().unwrap().to_owned();
            assert_eq!((base_name(&got_file), got_line.to_string()), (base_name(file), line.to_owned()), "{addr:#x}");
            let described = resolver.describe(runtime);
            assert_eq!(described.source[0].line, Some(got_line));
            compared += 1;
        }
        assert!(compared > 30, "{level}: {compared} lines compared");
    }
}

#[test]
fn a_pdb_of_another_build_is_refused_by_its_guid() {
    let exe = clang_fixture("-O0");
    let other = clang_fixture("-O2");
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("pdb-mismatch");
    std::fs::create_dir_all(&dir).unwrap();
    let copy = dir.join(exe.file_name().unwrap());
    std::fs::copy(&exe, &copy).unwrap();
    std::fs::copy(other.with_extension("pdb"), copy.with_extension("pdb")).unwrap();
    let image = ElfImage::load(&copy).unwrap();
    let pe = image.pe().unwrap();
    assert!(pe.pdb.is_none());
    let error = pe.pdb_error.as_deref().unwrap();
    assert!(error.contains("does not match the image's"), "{error}");
    // The COFF-less image still names its exports.
    assert!(image.symbols().by_name("leaf_add").is_some());
}
