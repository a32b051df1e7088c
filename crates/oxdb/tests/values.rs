//! C values compared with gdb at the same stop: `print`, `info locals`,
//! `info args`, `ptype`, `whatis`, `set var`, calls with C values, `finish`
//! values and registers after `up`, on a fixture built at -O0 and -O2.

use std::path::Path;

use crate::support::{fixture, fixture_o2, gdb, gdb_args, oxdb};

/// The lines of gdb's and oxdb's output that carry values (`$N = `, `NAME = `, `type = ` blocks,
/// `Value returned`), hex addresses replaced (gdb turns ASLR off, oxdb does not).
pub fn value_lines(text: &str) -> Vec<String> {
    let hex = regex::Regex::new(r"0x[0-9a-f]+").expect("a regex");
    let mut lines = Vec::new();
    let mut in_type = false;
    for line in text.lines() {
        // A source line (`114\t    int local = 1;`) is not a value.
        let source = line.split_once('\t').is_some_and(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        let keep = !source
            && (line.starts_with('$')
                || line.starts_with("type = ")
                || line.starts_with("Value returned")
                || in_type
                || (line.contains(" = ")
                    && !line.starts_with('#')
                    && !line.starts_with('[')
                    && !line.contains("Breakpoint")));
        in_type =
            (line.starts_with("type = ") || in_type) && line.ends_with('{') || (in_type && !line.starts_with('}'));
        if keep {
            lines.push(hex.replace_all(line, "0xADDR").into_owned());
        }
    }
    lines
}

/// Runs the same commands in oxdb and gdb after stopping at `main`: their whole outputs.
pub fn both_raw(program: &Path, commands: &[&str]) -> (String, String) {
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
    (format!("{}{}", ours.stdout, ours.stderr), theirs)
}

/// Runs the same commands in oxdb and gdb after stopping at `main`: the lines that carry values.
fn both(program: &Path, commands: &[&str]) -> (Vec<String>, Vec<String>, String) {
    let (ours, theirs) = both_raw(program, commands);
    (value_lines(&ours), value_lines(&theirs), format!("--- oxdb\n{ours}\n--- gdb\n{theirs}"))
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
        "p favourite == BLUE",
        "p GREEN + 1",
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
        ("break depth_sum if *(int *)8 == 1", "Cannot access memory at address 0x8"),
        ("watch counter if *(int *)8 == 1", "Cannot access memory at address 0x8"),
        ("watch 5", "Cannot watch constant value `5'"),
        ("watch nosuch", "No symbol \"nosuch\""),
        ("watch counter if nosuch > 1", "No symbol \"nosuch\""),
        ("watch first", "its 16 bytes"),
        ("rwatch numbers", "its 20 bytes"),
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

/// At -O2, `n` and `square` live in callee-saved registers across the call
/// to `sink`, `unused` is recovered from the caller's entry value, and `cube`
/// has no location yet: after `up`, oxdb prints what gdb prints, at -O0 too.
#[test]
fn variables_in_registers_and_optimized_out_after_up_equal_gdb() {
    let at_o2 = [
        "break sink",
        "continue",
        "up",
        "info args",
        "info locals",
        "p n",
        "p square",
        "p unused",
        "p cube",
        "p square * n",
        "p $pc",
        "p $sp",
        "output n",
        "down",
        "p v",
    ];
    let (ours, theirs, all) = both(&fixture_o2("values"), &at_o2);
    assert_eq!(ours, theirs, "{all}");
    assert!(ours.iter().any(|l| l == "cube = <optimized out>"), "{all}");
    assert!(ours.iter().any(|l| l == "$4 = <optimized out>"), "{all}");
    // Frame lines show an argument's value at entry where the caller's call site gives it (`n=n@entry=7`).
    let (ours, theirs) = both_raw(&fixture_o2("values"), &["break sink", "continue", "bt"]);
    let arguments = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| l.starts_with('#') && (l.contains(" sink") || l.contains(" in_registers")))
            .filter_map(|l| Some(l.split_once(" (")?.1.split_once(')')?.0.to_owned()))
            .collect()
    };
    assert_eq!(arguments(&ours), ["v=v@entry=49", "n=n@entry=7, unused=unused@entry=3"], "{ours}\n{theirs}");
    assert_eq!(arguments(&ours), arguments(&theirs), "{ours}\n{theirs}");
    let at_o0 = ["break sink", "continue", "up", "info args", "p n", "p square", "p unused", "p $pc", "p $sp"];
    let (ours, theirs, all) = both(&fixture("values"), &at_o0);
    assert_eq!(ours, theirs, "{all}");
    assert!(ours.len() >= 6, "{all}");
}

/// `info registers` in frame 0 and, after `up`, in frame 1: per register,
/// `(name, value)` from gdb's or oxdb's lines (`rbx  0x157  343`).
fn register_blocks(text: &str) -> Vec<Vec<(String, u64)>> {
    text.split("=== registers\n")
        .skip(1)
        .map(|block| {
            block
                .lines()
                .take_while(|l| !l.starts_with("==="))
                .filter_map(|l| {
                    let mut words = l.split_whitespace();
                    let name = words.next()?;
                    let value = u64::from_str_radix(words.next()?.strip_prefix("0x")?, 16).ok()?;
                    Some((name.to_owned(), value))
                })
                .collect()
        })
        .collect()
}

/// After `up`, `info registers` shows the caller's registers as the
/// unwinder recovered them: rip, rsp and the callee-saved ones, each equal
/// to gdb's (stack and code addresses compared by their distance to frame
/// 0's, as gdb turns ASLR off and oxdb does not), at -O0 and -O2.
#[test]
fn registers_after_up_equal_gdb_value_by_value() {
    let commands = |stop| {
        [
            stop,
            "continue",
            "echo === registers\\n",
            "info registers",
            "up",
            "echo === registers\\n",
            "info registers",
            "echo ===\\n",
            "p $rip",
            "x/i $pc",
        ]
    };
    // The same stop as gdb's: after sink's prologue at -O0 (gdb's `break sink`), its only instruction at -O2.
    for (program, stop) in [(fixture("values"), "break values.c:129"), (fixture_o2("values"), "break sink")] {
        let (ours, theirs) = both_raw(&program, &commands(stop));
        let all = format!("--- oxdb\n{ours}\n--- gdb\n{theirs}");
        let (ours_blocks, theirs_blocks) = (register_blocks(&ours), register_blocks(&theirs));
        assert_eq!((ours_blocks.len(), theirs_blocks.len()), (2, 2), "{all}");
        let find = |block: &[(String, u64)], name: &str| block.iter().find(|(n, _)| n == name).map(|(_, v)| *v);
        let shown: Vec<&str> = ours_blocks[1].iter().map(|(n, _)| n.as_str()).collect();
        for name in ["rip", "rsp", "rbx", "rbp", "r12", "r13", "r14", "r15"] {
            assert!(shown.contains(&name), "{name} in frame 1:\n{all}");
        }
        for (name, value) in &ours_blocks[1] {
            let theirs_value = find(&theirs_blocks[1], name).unwrap_or_else(|| panic!("gdb has no {name}:\n{all}"));
            let (ours_inner, theirs_inner) = (find(&ours_blocks[0], name), find(&theirs_blocks[0], name));
            let (Some(ours_inner), Some(theirs_inner)) = (ours_inner, theirs_inner) else {
                panic!("{name} in frame 0:\n{all}")
            };
            if theirs_value < 0x1_0000 {
                assert_eq!(*value, theirs_value, "{name} in frame 1:\n{all}");
            } else {
                // An address: the same distance from frame 0's value of the same register.
                assert_eq!(
                    value.wrapping_sub(ours_inner),
                    theirs_value.wrapping_sub(theirs_inner),
                    "{name} in frame 1 against frame 0:\n{all}"
                );
            }
        }
        // `p $rip` and `x/i $pc` show frame 1's pc.
        let rip = find(&ours_blocks[1], "rip").unwrap();
        let printed = ours.lines().find(|l| l.starts_with("$1 = ")).unwrap_or_default();
        assert!(printed.contains(&format!("{rip:#x} <in_registers+")), "{all}");
        assert!(theirs.lines().any(|l| l.starts_with("$1 = ") && l.contains(" <in_registers+")), "{all}");
        assert!(ours.lines().any(|l| l.contains(&format!("{rip:#x}")) && l.contains("in_registers+")), "{all}");
    }
}

/// `display` shows its expressions at once and after every stop until
/// `undisplay`; `printf` and `echo` format C values: the same lines as gdb's.
#[test]
fn display_printf_and_echo_equal_gdb() {
    let commands = [
        "display counter",
        "display/x numbers[1] + 16",
        "display origin",
        "echo === stops\\n",
        "break static_count",
        "continue",
        "undisplay 2",
        "break watched",
        "continue",
        "undisplay",
        "printf \"counter = %d, greeting = %s, ratio = %5.2f, hex = %#x, char = %c\\n\", counter, greeting, ratio, 255, 65",
        "printf \"text = [%-6s] [%6s] = %05d %%\\n\", buffer, \"ab\", 42",
        "echo one = 1\\n",
    ];
    let (ours, theirs) = both_raw(&fixture("values"), &commands);
    let all = format!("--- oxdb\n{ours}\n--- gdb\n{theirs}");
    // oxdb shows a new display at once, as gdb does at its prompt (gdb's batch mode does not).
    let created = ["1: counter = 7", "2: /x numbers[1] + 16 = 0x12", "3: origin = {x = 3, y = -4}"];
    assert_eq!(ours.lines().take_while(|l| !l.starts_with("=== stops")).filter(|l| created.contains(l)).count(), 3);
    let after = |text: &str| value_lines(text.split_once("=== stops\n").map_or("", |(_, rest)| rest));
    let (ours, theirs) = (after(&ours), after(&theirs));
    assert_eq!(ours, theirs, "{all}");
    assert_eq!(ours.iter().filter(|l| l.starts_with("1: counter = ")).count(), 2, "{all}");
    assert_eq!(ours.iter().filter(|l| l.starts_with("2: /x numbers[1] + 16 = ")).count(), 1, "{all}");
    assert!(
        ours.iter().any(|l| l == "counter = 7, greeting = hello, world, ratio =  2.50, hex = 0xADDR, char = A"),
        "{all}"
    );
    assert!(ours.iter().any(|l| l == "one = 1"), "{all}");
}

/// The lines that tell what a watchpoint did, without gdb's `Thread 1 "values" hit ` prefix.
pub fn watch_lines(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.split_once("hit Hardware").map_or(l.to_owned(), |(_, rest)| format!("Hardware{rest}")))
        .filter(|l| {
            ["Hardware", "Old value = ", "New value = ", "Value = ", "Watchpoint ", "which its"]
                .iter()
                .any(|p| l.starts_with(p))
        })
        .collect()
}

/// `watch` of a local with a condition: the hits where it holds, old and
/// new values as gdb shows them, and the watchpoint deleted when `watched`
/// returns; the program stops there, in main.
#[test]
fn watch_on_a_local_with_a_condition_ends_with_its_frame_as_gdb() {
    let commands =
        ["break watched", "continue", "watch local if local > 1", "continue", "continue", "continue", "continue", "bt"];
    let (ours, theirs) = both_raw(&fixture("values"), &commands);
    let all = format!("--- oxdb\n{ours}\n--- gdb\n{theirs}");
    assert_eq!(watch_lines(&ours), watch_lines(&theirs), "{all}");
    assert!(watch_lines(&ours).contains(&"New value = 12".to_owned()), "{all}");
    assert!(ours.contains("Watchpoint 3 deleted because the program has left the block in\nwhich"), "{all}");
    // The stop is in main, past the call.
    assert!(ours.lines().any(|l| l.starts_with("#0 ") && l.contains(" in main+")), "{all}");
}

/// `rwatch` reports reads with the value, `awatch` reads and writes: as gdb does.
#[test]
fn rwatch_and_awatch_report_reads_and_writes_as_gdb() {
    for watch in ["rwatch counter", "awatch counter", "watch counter"] {
        let commands = ["break watched", "continue", watch, "continue", "continue"];
        let (ours, theirs) = both_raw(&fixture("values"), &commands);
        let all = format!("--- oxdb\n{ours}\n--- gdb\n{theirs}");
        let lines = watch_lines(&ours);
        assert_eq!(lines, watch_lines(&theirs), "{all}");
        assert!(lines.len() >= 3, "{all}");
    }
}

/// The `info frame` blocks of an output, each line with its stack addresses
/// written relative to the frame's address (`CFA-0x10`) and code addresses
/// as `0xADDR`: gdb turns ASLR off and oxdb does not.
fn frame_blocks(text: &str) -> Vec<Vec<String>> {
    let hex = regex::Regex::new(r"0x[0-9a-f]+").expect("a regex");
    let mut blocks: Vec<Vec<String>> = Vec::new();
    let mut cfa = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("Stack level ") {
            cfa = rest.split("frame at 0x").nth(1).and_then(|h| u64::from_str_radix(h.trim_end_matches(':'), 16).ok());
            blocks.push(Vec::new());
        } else if !line.starts_with(' ') {
            cfa = None;
            continue;
        }
        let (Some(base), Some(block)) = (cfa, blocks.last_mut()) else { continue };
        let relative = hex.replace_all(line, |c: &regex::Captures| {
            let value = u64::from_str_radix(&c[0][2..], 16).unwrap_or(0);
            let delta = value.wrapping_sub(base) as i64;
            if delta.unsigned_abs() < 0x10000 {
                format!("CFA{delta:+#x}")
            } else {
                "0xADDR".to_owned()
            }
        });
        block.push(relative.into_owned());
    }
    blocks
}

/// `info frame` in three frames at -O0 equals gdb's; at -O2 (no frame
/// pointer) the saved registers, the arguments (with their entry values) and their address too.
#[test]
fn info_frame_equals_gdb() {
    let commands = ["break values.c:129", "continue", "info frame", "up", "info frame", "up", "info frame"];
    let (ours, theirs) = both_raw(&fixture("values"), &commands);
    let all = format!("--- oxdb\n{ours}\n--- gdb\n{theirs}");
    let blocks = frame_blocks(&ours);
    assert_eq!(blocks.len(), 3, "{all}");
    assert_eq!(blocks, frame_blocks(&theirs), "{all}");
    let commands = ["break sink", "continue", "info frame", "up", "info frame"];
    let (ours, theirs) = both_raw(&fixture_o2("values"), &commands);
    let all = format!("--- oxdb\n{ours}\n--- gdb\n{theirs}");
    let layout = |text: &str| -> Vec<Vec<String>> {
        frame_blocks(text)
            .into_iter()
            .map(|b| {
                b.into_iter()
                    .filter(|l| {
                        l.starts_with(" Stack")
                            || l.starts_with("  ")
                            || l.starts_with(" Arglist")
                            || l.contains(" called by")
                    })
                    .collect()
            })
            .collect()
    };
    assert_eq!(layout(&ours).len(), 2, "{all}");
    assert_eq!(layout(&ours), layout(&theirs), "{all}");
    assert!(ours.contains("  rbx at 0x"), "{all}");
}
