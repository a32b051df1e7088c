//! C values compared with gdb at the same stop: `print`, `info locals`,
//! `info args`, `ptype`, `whatis`, `set var`, calls with C values, `finish`
//! values and registers after `up`, on a fixture built at -O0 and -O2.

use std::path::Path;

use crate::support::{fixture, fixture_o2, gdb, gdb_args, oxdb};

/// The lines of gdb's and oxdb's output that carry values (`$N = `, `NAME = `, `type = ` blocks,
/// `Value returned`), hex addresses replaced (gdb turns ASLR off, oxdb does not).
fn value_lines(text: &str) -> Vec<String> {
    let hex = regex::Regex::new(r"0x[0-9a-f]+").expect("a regex");
    let mut lines = Vec::new();
    let mut in_type = false;
    for line in text.lines() {
        let keep = line.starts_with('$')
            || line.starts_with("type = ")
            || line.starts_with("Value returned")
            || in_type
            || (line.contains(" = ")
                && !line.starts_with('#')
                && !line.starts_with('[')
                && !line.contains("Breakpoint"));
        in_type =
            (line.starts_with("type = ") || in_type) && line.ends_with('{') || (in_type && !line.starts_with('}'));
        if keep {
            lines.push(hex.replace_all(line, "0xADDR").into_owned());
        }
    }
    lines
}

/// Runs the same commands in oxdb and gdb after stopping at `main`.
fn both(program: &Path, commands: &[&str]) -> (Vec<String>, Vec<String>, String) {
    let path = program.display().to_string();
    let mut args: Vec<String> =
        vec!["--batch".into(), "-ex".into(), "break main".into(), "-ex".into(), "continue".into()];
    for c in commands {
        args.push("-ex".into());
        args.push((*c).into());
    }
    args.push(path.clone());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let ours = oxdb(&args);
    let mut gdb_commands = vec!["break main", "run"];
    gdb_commands.extend_from_slice(commands);
    let mut gdb_argv = gdb_args(&gdb_commands);
    gdb_argv.push(&path);
    let theirs = gdb(&gdb_argv);
    (value_lines(&ours.stdout), value_lines(&theirs), format!("--- oxdb\n{ours}\n--- gdb\n{theirs}"))
}

const AT_RECURSION: &[&str] = &["break values.c:61 if depth == 1", "continue"];

#[test]
fn print_equals_gdb_at_o0() {
    let mut commands = AT_RECURSION.to_vec();
    commands.extend_from_slice(&[
        "info locals",
        "info args",
        "up",
        "info args",
        "p $pc",
        "p depth + 1",
        "down",
        "p first",
        "p *first.next",
        "p first.next->next->value",
        "p num",
        "p flags",
        "p greeting",
        "p buffer",
        "p/x numbers",
        "p numbers[1] * 3",
        "p favourite",
        "p point_ptr",
        "p *point_ptr",
        "p per_thread",
        "p ratio * 2",
        "p counter / 2",
        "p 'a'",
        "p sizeof(struct flags)",
        "p/x -1",
        "p/c 65",
        "p 10 / 3.0",
        "p (char)66",
        "p static_count::calls",
        "whatis point_ptr",
        "ptype struct flags",
        "ptype numbers",
        "ptype first",
        "p &origin",
        "p $",
        "p $$2",
        "set var counter = 99",
        "p counter",
        "set var here = 5",
        "p here",
        "p scale(1.5, 2.0, 3)",
        "p make_point(1, 2)",
        "p make_pair(0.5, 7)",
        "p make_big(3)",
        "p mix(0.5, origin, greeting)",
        "p mix(0.5, origin, \"abcd\")",
        "p sum_point(make_pair(1.5, 2))",
        "p next_of(&first)",
        "finish",
    ]);
    let (ours, theirs, all) = both(&fixture("values"), &commands);
    assert_eq!(ours, theirs, "{all}");
    assert!(ours.len() > 50, "{all}");
}

#[test]
fn print_equals_gdb_at_o2() {
    let commands = ["p first", "p *first.next", "p greeting", "p counter", "p flags", "p numbers", "p num"];
    let (ours, theirs, all) = both(&fixture_o2("values"), &commands);
    assert_eq!(ours, theirs, "{all}");
}

#[test]
fn finish_shows_typed_return_values() {
    for (function, _) in [("scale", "double"), ("make_point", "struct"), ("next_of", "pointer")] {
        let (ours, theirs, all) = both(&fixture("values"), &[&format!("break {function}"), "continue", "finish"]);
        let returned = |lines: &[String]| -> Vec<String> {
            lines.iter().filter(|l| l.starts_with("Value returned")).cloned().collect()
        };
        assert_eq!(returned(&ours).len(), 1, "{all}");
        assert_eq!(returned(&ours), returned(&theirs), "{all}");
    }
}

#[test]
fn bad_expressions_name_the_thing() {
    let program = fixture("values");
    let path = program.display().to_string();
    let cases = [
        ("p nosuch + 1", "No symbol \"nosuch\""),
        ("p counter.x", "not a structure"),
        ("p *counter", "non-pointer"),
        ("p counter(1)", "\"counter\" is not a function"),
        ("p scale(1.0)", "Too few arguments"),
        ("p first.nosuch", "no member named nosuch"),
        ("break depth_sum if nosuch == 1", "No symbol \"nosuch\""),
    ];
    for (command, wanted) in cases {
        let run = oxdb(&["--batch", "-ex", "break main", "-ex", "continue", "-ex", command, &path]);
        let error =
            run.stderr.lines().chain(run.stdout.lines()).find(|l| l.contains("error")).unwrap_or_default().to_owned();
        assert!(error.contains(wanted), "{command}: {error:?} lacks {wanted:?}\n{run}");
    }
}

#[test]
fn a_condition_that_fails_at_a_hit_stops_with_the_error() {
    let program = fixture("values");
    let path = program.display().to_string();
    let run = oxdb(&[
        "--batch",
        "-ex",
        "break main",
        "-ex",
        "continue",
        "-ex",
        "break next_of if n->next->next->next->value",
        "-ex",
        "continue",
        "-ex",
        "bt",
        &path,
    ]);
    assert!(
        run.stdout.contains("Error in testing condition for breakpoint 2: Cannot access memory at address"),
        "{run}"
    );
    assert!(run.stdout.contains("in next_of"), "{run}");
}
