//! Fixtures and their symbols.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;

use oxtrace::Trace;

/// Both builds of every fixture.
pub const OPTS: [&str; 2] = ["O0", "O2"];

/// A fixture program of one build (`O0` or `O2`).
pub fn fixture(opt: &str, name: &str) -> PathBuf {
    PathBuf::from(windows_fixtures::DIR).join(opt).join(name)
}

/// A fresh path for a fixture's output file.
pub fn out_file(tag: &str) -> PathBuf {
    let dir = PathBuf::from(windows_fixtures::DIR).join("out files"); // a space, to quote
    std::fs::create_dir_all(&dir).expect("output directory");
    let path = dir.join(format!("{tag}-{}.txt", std::process::id()));
    let _ = std::fs::remove_file(&path);
    path
}

/// `wthreads.exe MODE [OUT]` of one build, under trace.
pub fn spawn(opt: &str, args: &[&str]) -> Trace {
    let mut command = Command::new(fixture(opt, "wthreads.exe"));
    command.args(args);
    Trace::spawn(command).expect("spawn wthreads.exe")
}

/// The fixture's symbols: the trace's own (its PE symbols), checked against
/// the link-time addresses mingw's nm gives (listed by the windows-fixtures crate).
pub struct Symbols {
    by_name: HashMap<String, u64>,
}

impl Symbols {
    pub fn of(opt: &str) -> Symbols {
        let text = std::fs::read_to_string(fixture(opt, "wthreads.syms")).expect("symbol list");
        let by_name = text
            .lines()
            .filter_map(|l| {
                let (addr, name) = l.split_once(' ')?;
                Some((name.to_owned(), u64::from_str_radix(addr, 16).ok()?))
            })
            .collect();
        Symbols { by_name }
    }

    /// Where `name` is in the running process, by the trace's symbols; nm's
    /// address, moved to where the image is loaded, must agree.
    pub fn addr(&self, trace: &mut Trace, name: &str) -> u64 {
        let ours = trace.sym_by_name(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        let linked = self.by_name[name];
        let preferred = self.by_name["__image_base__"];
        assert_eq!(ours, linked - preferred + image_base(trace), "{name}: the trace's symbol against nm's");
        ours
    }
}

/// The load address of the program's image.
pub fn image_base(trace: &mut Trace) -> u64 {
    let exe = trace.exe_path().expect("the program's path");
    let maps = trace.memory_maps().expect("maps");
    maps.iter().find(|m| m.path.as_deref() == Some(exe.as_str()) && m.offset == 0).expect("the image's first map").start
}

/// The fixture's output file, once it ended.
pub fn output(path: &std::path::Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}
