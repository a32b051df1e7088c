//! Test support for the oxtrace workspace: the C (and C++, Rust) fixtures of
//! `tests/fixtures/` compiled at test time, each once per build directory
//! even when tests run in parallel threads or processes.
//!
//! The caller names its own build directory (its `CARGO_TARGET_TMPDIR`, so
//! that each test crate keeps its binaries), the compiler and its flags. A
//! fixture is rebuilt when its source is newer than the binary (headers it
//! includes are not watched).
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};

/// `tests/fixtures/` of the workspace.
pub fn source_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

/// The C compiler: `$CC`, or `cc`.
pub fn c_compiler() -> String {
    std::env::var("CC").unwrap_or_else(|_| "cc".into())
}

/// A lock per output binary.
type BuildLocks = Mutex<HashMap<PathBuf, Arc<Mutex<()>>>>;

/// One lock per output binary, so parallel tests of one process compile each once.
fn build_lock(binary: &Path) -> Arc<Mutex<()>> {
    static LOCKS: OnceLock<BuildLocks> = OnceLock::new();
    LOCKS.get_or_init(Default::default).lock().unwrap().entry(binary.to_owned()).or_default().clone()
}

/// Compiles `tests/fixtures/SOURCE` to `OUT_DIR/OUT_NAME` as
/// `COMPILER ARGS -o OUT SOURCE LIBS`, unless the binary is newer than the
/// source; returns the binary's path. Panics, with the compiler's errors,
/// when it fails: a test cannot go on without its fixture.
pub fn compile(out_dir: &Path, source: &str, out_name: &str, compiler: &str, args: &[&str], libs: &[&str]) -> PathBuf {
    let source = source_dir().join(source);
    let binary = out_dir.join(out_name);
    let lock = build_lock(&binary);
    let _guard = lock.lock().unwrap_or_else(|e| e.into_inner());
    let fresh = match (std::fs::metadata(&source), std::fs::metadata(&binary)) {
        (Ok(src), Ok(bin)) => bin.modified().unwrap() >= src.modified().unwrap(),
        (Err(e), _) => panic!("fixture {}: {e}", source.display()),
        _ => false,
    };
    if fresh {
        return binary;
    }
    std::fs::create_dir_all(binary.parent().unwrap()).unwrap();
    // Compile to a private name, then rename: other test processes never see half a binary.
    let temporary = out_dir.join(format!(".{}.{}", out_name.replace('/', "-"), std::process::id()));
    let output = Command::new(compiler)
        .args(args)
        .arg("-o")
        .arg(&temporary)
        .arg(&source)
        .args(libs)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {compiler}: {e}"));
    assert!(output.status.success(), "compiling {}:\n{}", source.display(), String::from_utf8_lossy(&output.stderr));
    std::fs::rename(&temporary, &binary).unwrap();
    binary
}

/// Where the x86 `asm/` headers of the system live. They serve both widths
/// (they switch on `__i386__`), but Debian installs them only in the 64-bit
/// multiarch directory, which `gcc -m32` does not search.
const X86_ASM_HEADERS: &str = "/usr/include/x86_64-linux-gnu/asm";

/// The compiler flags that build a 32-bit (i386) program on x86_64 Linux
/// without `gcc-multilib` (which conflicts with the aarch64 cross compiler
/// on Debian): `-m32` and an include directory, made under `out_dir`,
/// holding one symlink `asm` to the system's x86 asm headers. Needs
/// Debian's `libc6-dev-i386` and `lib32gcc-12-dev`.
pub fn m32_flags(out_dir: &Path) -> Vec<String> {
    let include = out_dir.join("i386-include");
    let link = include.join("asm");
    if std::fs::symlink_metadata(&link).is_err() {
        std::fs::create_dir_all(&include).unwrap_or_else(|e| panic!("creating {}: {e}", include.display()));
        // Another test process may make the same link at the same time.
        if let Err(e) = std::os::unix::fs::symlink(X86_ASM_HEADERS, &link) {
            assert!(e.kind() == std::io::ErrorKind::AlreadyExists, "linking {}: {e}", link.display());
        }
    }
    vec!["-m32".into(), "-I".into(), include.to_string_lossy().into_owned()]
}

/// [`compile`] with the C compiler for i386 ([`m32_flags`] before `args`).
pub fn compile_m32(out_dir: &Path, source: &str, out_name: &str, args: &[&str], libs: &[&str]) -> PathBuf {
    let flags = m32_flags(out_dir);
    let mut all: Vec<&str> = flags.iter().map(String::as_str).collect();
    all.extend(args);
    compile(out_dir, source, out_name, &c_compiler(), &all, libs)
}

/// The mingw-w64 C compiler for x86_64 Windows (Debian's `gcc-mingw-w64-x86-64`).
pub const MINGW_CC: &str = "x86_64-w64-mingw32-gcc";

/// [`compile`] for Windows with mingw: `tests/fixtures/SOURCE` to the PE
/// image `OUT_DIR/OUT_NAME` (name it `.exe` or `.dll`), with DWARF 4
/// (`-g -gdwarf-4`: what wine's dbghelp and oxtrace both read) before `args`.
pub fn compile_mingw(out_dir: &Path, source: &str, out_name: &str, args: &[&str]) -> PathBuf {
    let mut all = vec!["-g", "-gdwarf-4"];
    all.extend(args);
    compile(out_dir, source, out_name, MINGW_CC, &all, &[])
}

/// `tests/fixtures/SOURCE` built for Windows by clang (`--target=x86_64-w64-mingw32`)
/// and lld, with CodeView debug information in a PDB file: returns the image
/// `OUT_DIR/OUT_NAME.exe`; the PDB is `OUT_NAME.pdb` beside it, and the image
/// names it by its file name alone (lld-link's `-pdbaltpath`). mingw's libgcc serves as
/// the runtime library. Needs Debian's `clang`, `lld` and `gcc-mingw-w64-x86-64`.
pub fn compile_clang_pdb(out_dir: &Path, source: &str, out_name: &str, args: &[&str]) -> PathBuf {
    let libgcc = Command::new(MINGW_CC).arg("-print-libgcc-file-name").output().expect("cannot run mingw's gcc");
    let libgcc = PathBuf::from(String::from_utf8_lossy(&libgcc.stdout).trim());
    let libdir = libgcc.parent().expect("libgcc's directory").to_owned();
    let pdb = out_dir.join(format!("{out_name}.pdb"));
    let mut all: Vec<String> =
        ["--target=x86_64-w64-mingw32", "-g", "-gcodeview", "-fuse-ld=lld"].iter().map(|s| s.to_string()).collect();
    all.push(format!("-L{}", libdir.display()));
    all.push(format!("-Wl,--pdb={}", pdb.display()));
    all.push(format!("-Wl,-Xlink=-pdbaltpath:{out_name}.pdb"));
    all.extend(args.iter().map(|s| s.to_string()));
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    std::fs::create_dir_all(out_dir).unwrap();
    compile(out_dir, source, &format!("{out_name}.exe"), "clang", &all, &[])
}
