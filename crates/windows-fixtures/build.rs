//! For the Windows target only: compiles the C fixtures of the Windows tests
//! (`tests/fixtures/windows`) with mingw on the build host, at -O0 and -O2,
//! with DWARF 4 (the version wine's tools read), and lists each program's
//! symbols with mingw's `nm`. The tests (run under wine) find them in
//! [`DIR`](crate::DIR). Other targets: nothing to do.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("windows") {
        println!("cargo:rustc-env=OXTRACE_WINDOWS_FIXTURES=");
        return;
    }
    let source =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo")).join("../../tests/fixtures/windows");
    println!("cargo:rerun-if-changed={}", source.display());
    // The .pdata unwinder's fixture, shared with the platform-independent PE tests.
    let pe_unwind = source.join("../pe_unwind.c");
    println!("cargo:rerun-if-changed={}", pe_unwind.display());
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo")).join("windows-fixtures");
    std::fs::create_dir_all(&out).expect("create the fixtures directory");
    for opt in ["O0", "O2"] {
        let dir = out.join(opt);
        std::fs::create_dir_all(&dir).expect("create the fixtures directory");
        let flags = ["-g", "-gdwarf-4", &format!("-{opt}")];
        compile("x86_64-w64-mingw32-gcc", &source.join("wdll.c"), &dir.join("wdll.dll"), &flags, &["-shared"]);
        let exe = dir.join("wthreads.exe");
        compile("x86_64-w64-mingw32-gcc", &source.join("wthreads.c"), &exe, &flags, &[]);
        symbols(&exe);
        let flags_pe: Vec<&str> =
            flags.iter().copied().chain((opt == "O2").then_some("-fomit-frame-pointer")).collect();
        compile("x86_64-w64-mingw32-gcc", &pe_unwind, &dir.join("pe_unwind.exe"), &flags_pe, &[]);
        if Command::new("x86_64-w64-mingw32-g++").arg("--version").output().is_ok_and(|o| o.status.success()) {
            let cpp = dir.join("wthrow.exe");
            let link = ["-static-libgcc", "-static-libstdc++"];
            compile("x86_64-w64-mingw32-g++", &source.join("wthrow.cpp"), &cpp, &flags, &link);
        }
    }
    println!("cargo:rustc-env=OXTRACE_WINDOWS_FIXTURES={}", out.display());
}

fn compile(compiler: &str, source: &Path, output: &Path, flags: &[&str], extra: &[&str]) {
    let status = Command::new(compiler)
        .args(flags)
        .args(extra)
        .arg("-o")
        .arg(output)
        .arg(source)
        .status()
        .unwrap_or_else(|e| panic!("{compiler}: {e} (install gcc-mingw-w64-x86-64: see scripts/test-windows)"));
    assert!(status.success(), "{compiler} failed on {}", source.display());
}

/// `NAME.syms` next to the program: `ADDRESS NAME` lines of its COFF symbols,
/// and its preferred load address as `__image_base__`.
fn symbols(exe: &Path) {
    let headers =
        Command::new("x86_64-w64-mingw32-objdump").arg("-p").arg(exe).output().expect("x86_64-w64-mingw32-objdump");
    let headers = String::from_utf8_lossy(&headers.stdout);
    let base = headers
        .lines()
        .find_map(|l| l.strip_prefix("ImageBase"))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no ImageBase in the headers of {}", exe.display()));
    let listing = Command::new("x86_64-w64-mingw32-nm").arg(exe).output().expect("x86_64-w64-mingw32-nm");
    assert!(listing.status.success(), "nm failed on {}", exe.display());
    let text: String = String::from_utf8_lossy(&listing.stdout)
        .lines()
        .filter_map(|line| {
            let mut parts = line.split_whitespace();
            let (addr, _kind, name) = (parts.next()?, parts.next()?, parts.next()?);
            Some(format!("{addr} {name}\n"))
        })
        .chain([format!("{base} __image_base__\n")])
        .collect();
    std::fs::write(exe.with_extension("syms"), text).expect("write the symbol list");
}
