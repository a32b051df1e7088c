//! Symbols: the system's libc (with its separate debug file where installed),
//! PLT stubs, DWARF lines, regex search, and demangled C++ and Rust names;
//! addresses and names compared with gdb's `info symbol` and `info line` on the same stop.

use std::process::{Command, Stdio};

use oxtrace::{EventKind, Trace};

use crate::spawn_quiet;
use crate::support::{fixture_cpp, fixture_rust, gdb_available, gdb_on_the_same_stop, Opt};

fn spawn(path: std::path::PathBuf) -> Trace {
    let mut command = Command::new(path);
    command.stdout(Stdio::null()).stderr(Stdio::null());
    Trace::spawn(command).expect("spawn fixture")
}

/// Runs to `main` so that libc is loaded.
fn run_to_main(trace: &mut Trace) {
    let main = trace.sym_by_name("main").unwrap();
    let event = trace.run_until(main).unwrap();
    assert!(matches!(event.kind, EventKind::Breakpoint { .. } | EventKind::Step), "{event:?}");
}

#[test]
fn libc_symbols_both_ways_and_by_regex() {
    let mut trace = spawn_quiet("stacks", Opt::O2, &["leaf"]);
    run_to_main(&mut trace);
    let malloc = trace.sym_by_name("libc.malloc").unwrap();
    assert_eq!(trace.sym_by_name("malloc").unwrap(), malloc, "a bare name finds libc's");
    assert_eq!(trace.sym_by_addr(malloc, true).unwrap().as_deref(), Some("malloc"));
    assert_eq!(trace.sym_by_addr(malloc + 4, false).unwrap().as_deref(), Some("malloc+0x4"));
    assert_eq!(trace.sym_by_addr(malloc + 4, true).unwrap(), None);
    let found = trace.search_symbols("^str(len|cmp)$", Some("libc")).unwrap();
    let names: Vec<&str> = found.iter().map(|(_, name, _)| name.as_str()).collect();
    assert!(names.contains(&"strlen") && names.contains(&"strcmp"), "{names:?}");
    assert!(found.iter().all(|(module, _, _)| module == "libc"));
    assert!(trace.search_symbols("(", None).unwrap_err().to_string().contains("bad regex"));
    assert!(trace.search_symbols("x", Some("nosuchlib")).unwrap_err().to_string().contains("nosuchlib"));
    // Every image has an __entry symbol.
    let entry = trace.sym_by_name("stacks.__entry").unwrap();
    assert_eq!(trace.sym_by_addr(entry, true).unwrap().as_deref(), Some("_start"));
    // With libc's debug file installed, its local functions have names too.
    let symbols = trace.symbols().unwrap();
    let libc = symbols.module_by_name("libc").unwrap();
    if libc.image.debug_file().is_some() {
        assert!(symbols.sym_by_name("libc.msort_with_tmp.part.0").is_some());
        assert!(symbols.line_for_addr(malloc).is_some(), "libc's DWARF gives malloc a line");
    }
    // The vdso is a module with symbols read from memory.
    assert!(trace.sym_by_name("vdso.__vdso_clock_gettime").is_ok());
}

#[test]
fn symbols_plt_stubs_and_lines_match_gdb() {
    if !gdb_available() {
        eprintln!("gdb is not installed: skipped (.ci/run installs it)");
        return;
    }
    let mut trace = spawn_quiet("stacks", Opt::O0, &["leaf"]);
    run_to_main(&mut trace);
    let addrs = [
        trace.sym_by_name("libc.malloc").unwrap() + 3,
        trace.sym_by_name("stacks.printf@plt").unwrap(),
        trace.sym_by_name("inner").unwrap() + 5,
        trace.sym_by_name("libc.write").unwrap(),
    ];
    let ours: Vec<String> = addrs.iter().map(|&a| trace.sym_by_addr(a, false).unwrap().unwrap()).collect();
    assert_eq!(ours[1], "printf@plt");
    let line_addrs = trace.addrs_for_line("stacks.c", 25).unwrap();
    let (file, line) = trace.line_for_addr(line_addrs[0]).unwrap().unwrap();
    assert!(file.ends_with("stacks.c") && line == 25, "{file}:{line}");
    assert!(trace.addrs_for_line("stacks.c", 100_000).is_err());

    let mut commands: Vec<String> = addrs.iter().map(|a| format!("info symbol {a:#x}")).collect();
    commands.push("info line stacks.c:25".into());
    let out = gdb_on_the_same_stop(&mut trace, &commands);
    for (addr, ours) in addrs.iter().zip(&ours) {
        // gdb: "malloc + 3 in section .text of /lib/.../libc.so.6"; ours: "malloc+0x3".
        let (name, offset) = ours
            .split_once('+')
            .map_or((ours.as_str(), 0), |(n, o)| (n, u64::from_str_radix(o.trim_start_matches("0x"), 16).unwrap()));
        let expected = if offset == 0 { format!("{name} in section") } else { format!("{name} + {offset} in section") };
        let aliases_ok = out.lines().any(|l| l.starts_with(&expected))
            || (name == "__write" || name == "write") && out.contains(" in section .text of");
        assert!(aliases_ok, "{addr:#x}: ours {ours}, gdb:\n{out}");
    }
    assert!(
        out.contains(&format!("starts at address {:#x}", line_addrs[0])),
        "line 25 at {:#x}:\n{out}",
        line_addrs[0]
    );
}

#[test]
fn cpp_names_are_demangled() {
    let mut trace = spawn(fixture_cpp("cplusplus"));
    run_to_main(&mut trace);
    let by_signature = trace.sym_by_name("shapes::scale(int)").unwrap();
    assert_eq!(trace.sym_by_name("_ZN6shapes5scaleEi").unwrap(), by_signature, "the raw name finds it too");
    assert_ne!(trace.sym_by_name("shapes::scale(double)").unwrap(), by_signature);
    let area = trace.sym_by_name("shapes::Circle::area").unwrap();
    let name = trace.sym_by_addr(area, true).unwrap().unwrap();
    assert!(name.starts_with("shapes::Circle::area() const"), "{name}");
    let twice = trace.search_symbols(r"shapes::twice<int>", None).unwrap();
    assert_eq!(twice.len(), 1, "{twice:?}");
    // A backtrace names the method as DWARF does.
    trace.add_break_by_addr(area).unwrap();
    let event = trace.run().unwrap();
    let bt = trace.backtrace(event.tid).unwrap();
    assert!(bt[0].function.as_deref().unwrap().contains("area"), "{bt:?}");
    assert_eq!(bt[1].function.as_deref(), Some("main"));
}

#[test]
fn rust_names_are_demangled() {
    let mut trace = spawn(fixture_rust("rusty"));
    run_to_main(&mut trace);
    let perimeter = trace.sym_by_name("rusty::geometry::perimeter").unwrap();
    assert_eq!(trace.sym_by_addr(perimeter, true).unwrap().as_deref(), Some("rusty::geometry::perimeter"));
    let found = trace.search_symbols(r"^rusty::geometry::Square::area$", Some("rusty")).unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    trace.add_break_by_addr(perimeter).unwrap();
    let event = trace.run().unwrap();
    let bt = trace.backtrace(event.tid).unwrap();
    assert_eq!(bt[0].function.as_deref(), Some("rusty::geometry::perimeter"), "{bt:?}");
    assert!(bt.iter().any(|f| f.function.as_deref() == Some("rusty::main")), "{bt:?}");
}
