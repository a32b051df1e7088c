//! The Python environments of the Python rows and columns, made by the
//! benchmark itself under the workspace's `target/oxbench-python/`, each step
//! only when missing (later runs reuse them):
//!
//! * `main`: libdebug, python-ptrace, oxtrace's module (a release wheel built by
//!   maturin at every run) and oxtrace's vtrace layer, whose `import vtrace` is oxtrace's;
//! * `vivisect`: vivisect, whose `import vtrace` is vivisect's own, for the
//!   same vtrace script side by side.
//!
//! A step that fails (no network, no compiler) leaves its columns at "-".

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The environment variable naming the main environment's interpreter, for the measuring children.
pub const MAIN_PYTHON: &str = "OXBENCH_PYTHON";
/// The environment variable naming the vivisect environment's interpreter.
pub const VIVISECT_PYTHON: &str = "OXBENCH_VIVISECT_PYTHON";

/// The workspace root (this crate is `crates/oxbench`).
fn workspace() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

fn quiet(command: &mut Command) -> bool {
    command.stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
}

fn imports(python: &Path, module: &str) -> bool {
    quiet(Command::new(python).args(["-c", &format!("import {module}")]))
}

/// A venv at `dir` (made if missing): its interpreter, or `None`.
fn venv(dir: &Path) -> Option<PathBuf> {
    let python = dir.join("bin/python");
    if !python.exists() && !quiet(Command::new("python3").args(["-m", "venv"]).arg(dir)) {
        eprintln!("oxbench: cannot make a Python venv at {} (python3 -m venv)", dir.display());
        return None;
    }
    python.exists().then_some(python)
}

/// `pip install PACKAGE` unless `module` imports already; whether it imports afterwards.
fn pip(python: &Path, module: &str, package: &[&str]) -> bool {
    if imports(python, module) {
        return true;
    }
    eprintln!("oxbench: pip install {} (once, into {})", package.join(" "), python.display());
    quiet(Command::new(python).args(["-m", "pip", "install", "-q"]).args(package));
    imports(python, module)
}

/// Makes (or reuses) both environments and exports their interpreters to the measuring children.
pub fn prepare() {
    let root = workspace();
    let base = root.join("target/oxbench-python");
    if let Some(python) = venv(&base.join("main")) {
        pip(&python, "libdebug", &["libdebug"]);
        pip(&python, "ptrace", &["python-ptrace"]);
        // Built as a release wheel and installed by copy at every run (cargo rebuilds only
        // what changed): an editable install would share the in-tree module with the
        // test venv's debug build.
        eprintln!("oxbench: building oxtrace's Python module (release) into {}", python.display());
        let wheels = base.join("wheels");
        let _ = std::fs::remove_dir_all(&wheels);
        let module_ok = pip(&python, "maturin", &["maturin"])
            && quiet(
                Command::new(python.with_file_name("maturin"))
                    .args(["build", "--release", "-q", "-o"])
                    .arg(&wheels)
                    .arg("-m")
                    .arg(root.join("crates/oxtrace-py/Cargo.toml"))
                    .env("CARGO_TARGET_DIR", root.join("target")),
            )
            && std::fs::read_dir(&wheels).is_ok_and(|entries| {
                entries.flatten().any(|wheel| {
                    quiet(
                        Command::new(&python)
                            .args(["-m", "pip", "install", "-q", "--force-reinstall", "--no-deps"])
                            .arg(wheel.path()),
                    )
                })
            });
        if module_ok {
            let layer = root.join("crates/oxtrace-py/vtrace-layer");
            if !quiet(Command::new(&python).args(["-c", "import vtrace; vtrace.oxtrace"])) {
                quiet(Command::new(&python).args(["-m", "pip", "install", "-q", "-e"]).arg(layer));
            }
        }
        std::env::set_var(MAIN_PYTHON, &python);
    }
    if let Some(python) = venv(&base.join("vivisect")) {
        if pip(&python, "vtrace", &["vivisect"]) {
            std::env::set_var(VIVISECT_PYTHON, &python);
        }
    }
}

/// The interpreter named by `var`, or `python3` for the main one when the driver made none.
pub fn interpreter(var: &str) -> Option<PathBuf> {
    match std::env::var_os(var) {
        Some(path) => Some(PathBuf::from(path)),
        None if var == MAIN_PYTHON => Some(PathBuf::from("python3")),
        None => None,
    }
}
