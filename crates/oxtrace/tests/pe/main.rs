//! Tests of oxtrace's Windows knowledge that run on Linux: PE images built
//! by mingw at test time (symbols, DWARF lines, `.pdata` unwind tables,
//! compared with mingw's binutils), and the x64 unwinder run on real states
//! of a fixture single-stepped under wine.
#![cfg(target_os = "linux")]

mod fuzz_pe;
mod pdb;
mod symbols;
mod traced;
mod unwind_tables;

use std::path::{Path, PathBuf};
use std::process::Command;

/// Optimisation levels the fixtures are built at.
pub const LEVELS: [&str; 2] = ["-O0", "-O2"];

/// `tests/fixtures/NAME.c` built by mingw as `NAME-O0.exe` / `NAME-O2.exe`.
pub fn pe_fixture(name: &str, level: &str) -> PathBuf {
    let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("pe-fixtures");
    let out_name = format!("{name}{level}.exe");
    test_fixtures::compile_mingw(&out_dir, &format!("{name}.c"), &out_name, &[level, "-Wall", "-Wno-attributes"])
}

/// Runs one of mingw's binutils (`nm`, `objdump`, `addr2line`) and returns its output.
pub fn binutil(tool: &str, args: &[&str]) -> String {
    run_tool(&format!("x86_64-w64-mingw32-{tool}"), args)
}

/// Runs a tool (LLVM's, say) and returns its output.
pub fn run_tool(program: &str, args: &[&str]) -> String {
    let output = Command::new(program).args(args).output().unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(output.status.success(), "{program} {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).expect("utf-8")
}

/// `nm`'s defined code symbols of an image: (name, address).
pub fn nm_functions(image: &Path) -> Vec<(String, u64)> {
    binutil("nm", &[image.to_str().unwrap()])
        .lines()
        .filter_map(|line| {
            let mut parts = line.split_whitespace();
            let (addr, kind, name) = (parts.next()?, parts.next()?, parts.next()?);
            let addr = u64::from_str_radix(addr, 16).ok()?;
            matches!(kind, "T" | "t").then(|| (name.to_owned(), addr))
        })
        .collect()
}

/// The address of one symbol, by `nm`.
pub fn nm_address(image: &Path, name: &str) -> u64 {
    nm_functions(image).into_iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("nm: no {name}")).1
}
