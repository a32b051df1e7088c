//! Breakpoint locations against gdb on the same programs, at -O0 and -O2:
//! every location form stops where gdb's does (the stop's address, with
//! address-space randomization off under both); a function's inlined copies and clones are
//! locations of one breakpoint; libraries' definitions win over the
//! dynamic linker's, default symbol versions over compat ones; a typo is an error.

use std::path::{Path, PathBuf};

use crate::support::{fixture, gdb, gdb_args, oxdb};

/// `tests/fixtures/NAME.c` at -O2 without frame pointers.
fn fixture_o2(name: &str) -> PathBuf {
    let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("oxdb-fixtures");
    test_fixtures::compile(
        &out_dir,
        &format!("{name}.c"),
        &format!("{name}-O2"),
        &test_fixtures::c_compiler(),
        &["-Wall", "-g", "-pthread", "-O2", "-fomit-frame-pointer"],
        &[],
    )
}

/// The address of the first stop at `location`, under oxdb (randomization off, as under gdb).
fn oxdb_stop(program: &Path, location: &str) -> String {
    let run = oxdb(&["--batch", "-ex", &format!("break {location}"), "-ex", "continue", program.to_str().unwrap()]);
    let line = run.lines_with("breakpoint 1 hit at ").first().map(|l| l.to_string()).unwrap_or_default();
    // `... hit at 0x00005555555551c3 in main+0xe3 from forks`
    match line.split(" hit at ").nth(1).and_then(|r| r.split_whitespace().next()) {
        Some(addr) => format!("{:#x}", u64::from_str_radix(addr.trim_start_matches("0x"), 16).unwrap_or(0)),
        None => format!("no stop: {run}"),
    }
}

/// The address of the first stop at `location`, under gdb.
fn gdb_stop(program: &Path, location: &str) -> String {
    let text =
        gdb(&[&gdb_args(&[&format!("break {location}"), "run", "p/x $pc"])[..], &[program.to_str().unwrap()]].concat());
    // `$1 = 0x5555555551c3`
    match text.lines().find_map(|l| l.strip_prefix("$1 = ")) {
        Some(addr) => addr.trim().to_owned(),
        None => format!("no stop: {text}"),
    }
}

fn compare(program: &Path, locations: &[&str]) {
    for location in locations {
        assert_eq!(oxdb_stop(program, location), gdb_stop(program, location), "break {location} in {program:?}");
    }
}

const FORMS: [&str; 12] = [
    "work",
    "main",
    "forks.c:20",
    "52",
    "forks.c:53",
    "58",
    "forks.c:59",
    "forks.c:status_of",
    "status_of",
    "say",
    "report",
    "*work",
];

#[test]
fn every_location_form_stops_where_gdb_does_at_o0() {
    compare(&fixture("forks"), &FORMS);
}

#[test]
fn every_location_form_stops_where_gdb_does_at_o2() {
    compare(&fixture_o2("forks"), &FORMS);
}

#[test]
fn inlined_copies_are_locations_of_one_breakpoint_and_all_hit() {
    let program = fixture_o2("forks");
    let run = oxdb(&[
        "--batch",
        "-ex",
        "break say",
        "-ex",
        "info breakpoints",
        "-ex",
        "continue",
        "-ex",
        "continue",
        "-ex",
        "continue",
        "-ex",
        "info breakpoints",
        program.to_str().unwrap(),
    ]);
    // gdb finds as many.
    let gdb_text = gdb(&[&gdb_args(&["break say", "info breakpoints"])[..], &[program.to_str().unwrap()]].concat());
    let gdb_count = gdb_text.lines().filter(|l| l.starts_with("1.")).count();
    assert!(gdb_count >= 2, "{gdb_text}");
    assert_eq!(run.lines_starting("1.").len() / 2, gdb_count, "{run}\n{gdb_text}");
    assert!(run.stdout.contains(&format!("<{gdb_count} locations>")), "{run}");
    // Three stops, each reported as breakpoint 1, at different copies.
    let hits: Vec<&str> = run.lines_with("breakpoint 1 hit at ");
    assert_eq!(hits.len(), 3, "{run}");
    let mut places: Vec<&str> = hits.iter().map(|l| l.split(" in ").nth(1).unwrap_or_default()).collect();
    places.dedup();
    assert!(places.len() >= 2, "{run}");
    assert!(run.lines_starting("1.").iter().filter(|l| !l.ends_with("hits 0")).count() >= 2, "{run}");
    assert!(run.lines_starting("1 ").iter().any(|l| l.ends_with("hits 3")), "{run}");
}

#[test]
fn a_typo_is_an_error_once_the_libraries_are_loaded() {
    let program = fixture("forks");
    let run =
        oxdb(&["--batch", "-ex", "break main", "-ex", "continue", "-ex", "break mian", program.to_str().unwrap()]);
    assert_eq!(run.code, Some(2), "{run}");
    assert!(run.stderr.contains("\"mian\""), "{run}");
    // Asked for, it is pending, has an id, takes a condition and can be deleted.
    let run = oxdb(&[
        "--batch",
        "-ex",
        "break main",
        "-ex",
        "continue",
        "-ex",
        "set breakpoint pending on",
        "-ex",
        "break mian",
        "-ex",
        "condition 2 rdi == 1",
        "-ex",
        "disable 2",
        "-ex",
        "info breakpoints",
        "-ex",
        "delete 2",
        program.to_str().unwrap(),
    ]);
    assert_eq!(run.code, Some(0), "{run}");
    assert!(run.stdout.contains("breakpoint 2 pending on \"mian\""), "{run}");
    assert!(run.stdout.lines().any(|l| l.starts_with("2 ") && l.contains(" n pending on \"mian\"")), "{run}");
    assert!(run.stdout.contains("deleted 2"), "{run}");
    // A line with no code anywhere after it is an error too.
    let run = oxdb(&["--batch", "-ex", "break forks.c:9999", program.to_str().unwrap()]);
    assert_eq!(run.code, Some(2), "{run}");
    assert!(run.stderr.contains("forks.c:9999"), "{run}");
}

#[test]
fn a_breakpoint_set_before_libc_loads_is_hit_in_libc() {
    let run = oxdb(&["--batch", "-ex", "break opendir", "-ex", "continue", "-ex", "bt", "/bin/ls", "/"]);
    assert!(
        run.lines_with("breakpoint 1 hit at ").iter().any(|l| l.contains(" in opendir") && l.ends_with(" from libc")),
        "{run}"
    );
    // Pending until then, with an id that takes commands.
    let run =
        oxdb(&["--batch", "-ex", "break opendir", "-ex", "commands 1 continue", "-ex", "continue", "/bin/ls", "/"]);
    assert_eq!(run.code, Some(0), "{run}");
    assert!(run.stdout.contains("breakpoint 1 pending on \"opendir\""), "{run}");
    assert!(!run.lines_with("breakpoint 1 hit at ").is_empty(), "{run}");
}

#[test]
fn the_default_version_of_a_versioned_function_is_hit() {
    let program = fixture("condvar");
    let run = oxdb(&[
        "--batch",
        "-ex",
        "break main",
        "-ex",
        "continue",
        "-ex",
        "break pthread_cond_signal",
        "-ex",
        "continue",
        "-ex",
        "continue",
        program.to_str().unwrap(),
    ]);
    assert_eq!(run.code, Some(0), "{run}");
    assert!(run.lines_with("breakpoint 2 hit at ").iter().any(|l| l.contains("pthread_cond_signal")), "{run}");
    assert!(run.stdout.lines().any(|l| l == "woken"), "{run}");
}

/// `tests/fixtures/NAME.cpp` with g++, or `NAME.rs` with rustc, at -O0 (`opt` false) or -O2.
fn fixture_lang(file: &str, compiler: &str, opt: bool) -> PathBuf {
    let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("oxdb-fixtures");
    let level = if opt { "2" } else { "0" };
    let flags: Vec<String> = match compiler {
        "rustc" => vec!["-g".into(), format!("-Copt-level={level}"), "--edition=2021".into()],
        _ => vec!["-g".into(), format!("-O{level}")],
    };
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let out = format!("{}-{compiler}-O{level}", file.replace('.', "-"));
    test_fixtures::compile(&out_dir, file, &out, compiler, &flags, &[])
}

#[test]
fn cpp_qualified_names_with_parameters_templates_and_quotes_stop_where_gdb_does() {
    for opt in [false, true] {
        let program = fixture_lang("cplusplus.cpp", "c++", opt);
        compare(
            &program,
            &[
                "shapes::Circle::area",
                "'shapes::scale(double)'",
                "shapes::scale(int)",
                "shapes::twice<int>",
                "cplusplus.cpp:shapes::twice<int>",
                "shapes::Box<int>::twice",
                "Box<int>::twice",
                "'shapes::Box<int>::twice() const'",
            ],
        );
        let run =
            oxdb(&["--batch", "-ex", "break shapes::scale", "-ex", "info breakpoints", program.to_str().unwrap()]);
        assert!(run.stdout.contains("<2 locations>"), "both overloads:\n{run}");
    }
}

/// The name gdb gives a Rust trait impl's method `method`: the DWARF namespace
/// of its impl block (`rusty::geometry::{impl#1}::sides`), from `info functions`.
fn gdb_impl_name(program: &Path, method: &str) -> String {
    let text = gdb(&[&gdb_args(&[&format!("info functions ::{method}$")])[..], &[program.to_str().unwrap()]].concat());
    // `20:\tstatic fn rusty::geometry::{impl#1}::sides(*mut rusty::geometry::Square) -> u64;`
    let name = text.lines().find_map(|l| l.split(" fn ").nth(1)).and_then(|rest| rest.split('(').next());
    name.unwrap_or_else(|| panic!("no {method} in gdb's functions:\n{text}")).to_owned()
}

#[test]
fn rust_paths_and_trait_impls_stop_where_gdb_does() {
    for opt in [false, true] {
        let program = fixture_lang("rusty.rs", "rustc", opt);
        compare(&program, &["rusty::geometry::perimeter", "rusty::geometry::Square::area"]);
        // gdb knows a trait impl's method only by its impl block's DWARF
        // name, and an inherent method only by its full path: the same stops
        // by the names a Rust programmer writes.
        let sides = gdb_stop(&program, &gdb_impl_name(&program, "sides"));
        assert!(sides.starts_with("0x"), "{sides}");
        for ours in [
            "Square::sides",
            "geometry::Square::sides",
            "rusty::geometry::Square::sides",
            "<rusty::geometry::Square as rusty::geometry::Shape>::sides",
            "'<Square as Shape>::sides'",
        ] {
            assert_eq!(oxdb_stop(&program, ours), sides, "break {ours} in {program:?}");
        }
        let area = gdb_stop(&program, "rusty::geometry::Square::area");
        for ours in ["Square::area", "geometry::Square::area"] {
            assert_eq!(oxdb_stop(&program, ours), area, "break {ours} in {program:?}");
        }
        // Once the libraries are loaded, a trait the type does not implement, or another type, is an error.
        for wrong in ["<Square as Clone>::sides", "Circle::area"] {
            let run = oxdb(&[
                "--batch",
                "-ex",
                "break main",
                "-ex",
                "continue",
                "-ex",
                &format!("break {wrong}"),
                program.to_str().unwrap(),
            ]);
            assert!(run.code == Some(2) && run.stderr.contains(wrong), "{run}");
        }
    }
}

#[test]
fn an_indirect_function_breaks_in_the_implementation_the_resolver_chose() {
    let program = fixture("forks");
    let run = oxdb(&[
        "--batch",
        "-ex",
        "break main",
        "-ex",
        "run",
        "-ex",
        "break strlen",
        "-ex",
        "continue",
        "-ex",
        "bt",
        program.to_str().unwrap(),
    ]);
    assert_eq!(run.code, Some(0), "{run}");
    // say() calls strlen through the PLT: the stop is in glibc's strlen for this CPU (__strlen_avx2, _evex, _sse2...).
    let hit = run.lines_with("breakpoint 2 hit at ");
    assert!(hit.first().is_some_and(|l| l.contains(" in __strlen_") && l.ends_with(" from libc")), "{run}");
    assert!(run.lines_starting("#1 ").iter().any(|l| l.contains(" in say+0x")), "{run}");
}

/// The function of each `bt` line down to `main` (gdb's `#2  0x... in NAME (...)`
/// or `#0  NAME (...)`; oxdb's `#2 0x... in NAME+0xOFF (...)`).
fn bt_names(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    for line in text.lines().filter(|l| l.starts_with('#')) {
        let rest = line.split_once(" in ").map_or_else(|| line.split_whitespace().nth(1).unwrap_or(""), |(_, r)| r);
        let name = rest.split([' ', '+']).next().unwrap_or("").to_owned();
        let at_main = name == "main";
        names.push(name);
        if at_main {
            break;
        }
    }
    names
}

#[test]
fn bt_shows_the_dwarf_name_and_info_symbol_the_symbol_as_gdb() {
    for program in [fixture("traps"), fixture_o2("traps")] {
        let path = program.to_str().unwrap();
        // Stopped by raise(SIGTRAP), inside libc (whose DWARF gdb and oxdb read alike).
        let gdb_text = gdb(&[&gdb_args(&["run", "continue", "bt", "info symbol raise"])[..], &[path]].concat());
        let run =
            oxdb(&["--batch", "-ex", "continue", "-ex", "continue", "-ex", "bt", "-ex", "info symbol raise", path]);
        let ours = bt_names(&run.stdout);
        assert_eq!(ours, bt_names(&gdb_text), "{run}\n--- gdb\n{gdb_text}");
        assert!(ours.len() >= 2 && ours.last().map(String::as_str) == Some("main"), "{run}");
        // `raise` and `gsignal` are one address: `info symbol` names the symbol, as gdb does.
        let gdb_symbol = gdb_text.lines().find_map(|l| l.split_once(" in section ")).map(|(name, _)| name.to_owned());
        assert_eq!(gdb_symbol.as_deref(), Some("raise"), "{gdb_text}");
        assert!(run.stdout.lines().any(|l| l.ends_with(" in raise from libc [r-xp libc.so.6]")), "{run}");
    }
}

/// `dlopen.c` at -O0 and `pendlib.c` as the shared library it loads, at -O0 (`opt` false) or -O2.
fn dlopen_with_pendlib(opt: bool) -> (PathBuf, PathBuf) {
    let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("oxdb-fixtures");
    let cc = test_fixtures::c_compiler();
    let level = if opt { "-O2" } else { "-O0" };
    let flags = ["-shared", "-fPIC", "-g", level, "-fno-omit-frame-pointer"];
    let library = test_fixtures::compile(&out_dir, "pendlib.c", &format!("libpendlib{level}.so"), &cc, &flags, &[]);
    (fixture("dlopen"), library)
}

/// The value of each `p $pc` (`$N = (void (*)()) 0x7ffff7fbc101 <dl_marker+8>` or gdb's `$N = 0x7ffff7fbc101`).
fn printed_pcs(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.starts_with('$'))
        .filter_map(|l| l.split_whitespace().find(|w| w.starts_with("0x")))
        .map(|w| format!("{:#x}", u64::from_str_radix(w.trim_start_matches("0x"), 16).unwrap_or(0)))
        .collect()
}

#[test]
fn a_pending_breakpoint_once_resolved_is_placed_as_an_ordinary_one() {
    for opt in [false, true] {
        let (program, library) = dlopen_with_pendlib(opt);
        let (program, library) = (program.to_str().unwrap(), library.to_str().unwrap());
        // dl_marker after its prologue, then scaled() at each of its two inlined copies.
        let steps = ["continue", "p $pc", "continue", "p $pc", "continue", "p $pc", "info breakpoints"];
        // The library's dl_marker is qualified with the library, not loaded yet (the program has a dl_marker too).
        let mut ours: Vec<&str> = vec!["break libpendlib.dl_marker", "break scaled", "info breakpoints"];
        ours.extend_from_slice(&steps);
        let run = oxdb(&[&["--batch"][..], &gdb_args(&ours), &[program, library]].concat());
        let mut theirs: Vec<&str> =
            vec!["set breakpoint pending on", "break pendlib.c:dl_marker", "break scaled", "run", "p/x $pc"];
        theirs.extend_from_slice(&steps[2..]);
        let gdb_text = gdb(&[&gdb_args(&theirs)[..], &["--args", program, library]].concat());
        let all = format!("{run}\n--- gdb\n{gdb_text}");
        assert_eq!(run.code, Some(0), "{all}");
        assert_eq!(run.lines_with(" pending on ").len(), 4, "pending at first, with numbers:\n{all}");
        let pcs = printed_pcs(&run.stdout);
        assert!(pcs.len() == 3 && pcs[1] != pcs[2], "{all}");
        assert_eq!(pcs, printed_pcs(&gdb_text), "{all}");
        assert_eq!(run.lines_with("breakpoint 1 hit at ").len(), 1, "{all}");
        assert_eq!(run.lines_with("breakpoint 2 hit at ").len(), 2, "{all}");
        // `info breakpoints` lists the locations as gdb does.
        let subs = |text: &str| text.lines().filter(|l| l.starts_with("2.")).count();
        assert_eq!(subs(&run.stdout), subs(&gdb_text), "{all}");
        assert!(run.stdout.lines().any(|l| l.starts_with("2 ") && l.contains("<2 locations>")), "{all}");
        assert!(run.stdout.lines().any(|l| l.starts_with("2.2") && l.ends_with("hits 1")), "{all}");

        // The library is unloaded and loaded again: the breakpoint waits and
        // is placed again, each time after the prologue, with its condition,
        // commands and ignore count. dl_marker runs for x = 1, 2, 3 in each
        // of two rounds, scaled() twice in each call.
        let mut commands: Vec<&str> =
            vec!["break libpendlib.dl_marker if x != 2", "break scaled", "ignore 2 7", "commands 1 p $pc"];
        commands.extend_from_slice(&["continue"; 10]);
        commands.push("info breakpoints");
        let run = oxdb(&[&["--batch"][..], &gdb_args(&commands), &[program, library]].concat());
        assert_eq!(run.code, Some(0), "{run}");
        assert!(run.stdout.contains("sum=108"), "{run}");
        assert_eq!(run.lines_with("breakpoint 1 hit at ").len(), 4, "{run}");
        assert_eq!(run.lines_with("breakpoint 2 hit at ").len(), 12 - 7, "{run}");
        let places: Vec<&str> = run
            .stdout
            .lines()
            .filter(|l| l.starts_with('$'))
            .filter_map(|l| l.split_once(" <"))
            .map(|(_, p)| p)
            .collect();
        assert!(places.len() == 4 && places.iter().all(|p| *p == places[0]), "{run}");
        // Every hit counted, ignored ones too, at both locations across both loads (as gdb counts them).
        assert!(run.stdout.lines().any(|l| l.starts_with("2 ") && l.contains("<2 locations>  hits 12")), "{run}");
        assert!(run.stdout.lines().filter(|l| l.starts_with("2.") && l.ends_with("hits 6")).count() == 2, "{run}");
    }
}

/// The addresses of breakpoint `num`'s locations in an `info breakpoints`
/// table (gdb's or oxdb's): the row `num` itself, or its rows `num.K`.
fn location_addresses(text: &str, num: u32) -> Vec<u64> {
    let mut found: Vec<u64> = text
        .lines()
        .filter(|l| {
            let first = l.split_whitespace().next().unwrap_or("");
            first == num.to_string() || first.starts_with(&format!("{num}."))
        })
        .filter_map(|l| l.split_whitespace().find_map(|w| w.strip_prefix("0x")))
        .filter_map(|a| u64::from_str_radix(a, 16).ok())
        .collect();
    found.sort_unstable();
    found
}

#[test]
fn every_clone_of_a_function_is_a_location_as_in_gdb() {
    let program = fixture_o2("clones");
    let path = program.to_str().unwrap();
    let set = ["break scale", "break check", "info breakpoints"];
    let gdb_text = gdb(&[&gdb_args(&[&["break main", "run"][..], &set].concat())[..], &[path]].concat());
    let mut commands = vec!["break main", "continue"];
    commands.extend_from_slice(&set);
    let table = oxdb(&[&["--batch"][..], &gdb_args(&commands), &[path]].concat());
    // scale.constprop.0 alone; check.part.0 and check's inlined copies.
    for num in [2, 3] {
        let theirs = location_addresses(&gdb_text, num);
        assert!(!theirs.is_empty(), "{gdb_text}");
        assert_eq!(location_addresses(&table.stdout, num), theirs, "{table}\n--- gdb\n{gdb_text}");
    }
    // Every one is hit: six stops, then the end.
    commands.extend(["continue"; 7]);
    let run = oxdb(&[&["--batch"][..], &gdb_args(&commands), &[path]].concat());
    let all = format!("{run}\n--- gdb\n{gdb_text}");
    assert_eq!(run.code, Some(0), "{all}");
    assert!(run.lines_with("breakpoint 2 hit at ").iter().all(|l| l.contains(" in scale.constprop.0")), "{all}");
    assert!(run.lines_with("breakpoint 3 hit at ").iter().any(|l| l.contains(" in check.part.0")), "{all}");
    assert!(run.stdout.lines().any(|l| l == "clones 33 -48"), "{all}");
}

#[test]
fn every_module_that_defines_a_name_is_a_location_as_in_gdb() {
    let (program, library) = dlopen_with_pendlib(false);
    let (program, library) = (program.to_str().unwrap(), library.to_str().unwrap());
    // The program's dl_marker first (one location), then the library's once it loads.
    let commands = ["break dl_marker", "continue", "continue", "info breakpoints"];
    let run = oxdb(&[&["--batch"][..], &gdb_args(&commands), &[program, library]].concat());
    let theirs = ["break dl_marker", "run", "continue", "info breakpoints"];
    let gdb_text = gdb(&[&gdb_args(&theirs)[..], &["--args", program, library]].concat());
    let all = format!("{run}\n--- gdb\n{gdb_text}");
    assert_eq!(run.code, Some(0), "{all}");
    let hits = run.lines_with("breakpoint 1 hit at ");
    assert!(hits.len() == 2 && hits[0].ends_with(" from dlopen") && hits[1].ends_with(" from libpendlib"), "{all}");
    let expected = location_addresses(&gdb_text, 1);
    assert_eq!(expected.len(), 2, "{gdb_text}");
    assert_eq!(location_addresses(&run.stdout, 1), expected, "{all}");
    // Unloaded and loaded again: the library's location goes and comes back; every call is a hit.
    let commands = ["break dl_marker", "commands 1 silent; continue", "continue", "info breakpoints"];
    let run = oxdb(&[&["--batch"][..], &gdb_args(&commands), &[program, library]].concat());
    assert_eq!(run.code, Some(0), "{run}");
    assert!(run.stdout.contains("sum=108"), "{run}");
    assert!(run.stdout.lines().any(|l| l.starts_with("1 ") && l.contains("hits 7")), "{run}");
}
