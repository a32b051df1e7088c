//! The same stop seen by oxtrace and by gdb: registers and the call stack.
//!
//! oxtrace stops the program in `d`, reads what it reads, then detaches with a
//! SIGSTOP so the process stays exactly there; gdb attaches to it and answers
//! the same questions.

use oxtrace::EventKind;

use crate::spawn_quiet;
use crate::support::{gdb_available, gdb_on_the_same_stop, Opt};

#[test]
fn registers_and_backtrace_match_gdb_on_the_same_stop() {
    if !gdb_available() {
        eprintln!("gdb is not installed: skipped (.ci/run installs it)");
        return;
    }
    let mut trace = spawn_quiet("calls", Opt::O0, &[]);
    let pid = trace.pid();
    let d = trace.sym_by_name("d").unwrap();
    let event = trace.run_until(d).unwrap();
    assert!(matches!(event.kind, EventKind::Breakpoint { .. }));
    let names = ["rip", "rsp", "rbp", "rdi", "rax", "rbx", "r12", "eflags", "fs_base"];
    let ours: Vec<u64> = names.iter().map(|n| trace.register_u64(n).unwrap()).collect();
    let frames = trace.stack_trace(pid).unwrap();
    let mut our_names = Vec::new();
    for (i, frame) in frames.iter().enumerate() {
        let lookup = if i == 0 { frame.pc } else { frame.pc - 1 };
        match trace.symbols().unwrap().sym_by_addr(lookup) {
            Some(hit) if hit.module.name == "calls" => our_names.push(hit.symbol.name.clone()),
            _ => break,
        }
    }
    assert_eq!(our_names, ["d", "c", "b", "a", "main"]);

    // gdb attaches to the process left stopped right here.
    let mut commands: Vec<String> = names.iter().map(|name| format!("printf \"{name}=%lx\\n\", ${name}")).collect();
    commands.push("bt".into());
    let out = gdb_on_the_same_stop(&mut trace, &commands);
    for (name, ours) in names.iter().zip(&ours) {
        let line = out
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("no {name} in gdb output:\n{out}"));
        assert_eq!(u64::from_str_radix(line.trim(), 16).unwrap(), *ours, "{name}: gdb says {line}\n{out}");
    }
    let gdb_frames: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with('#'))
        .filter_map(|l| {
            let after = l
                .split_once(" in ")
                .map_or_else(|| l.split_whitespace().nth(1), |(_, rest)| rest.split_whitespace().next())?;
            Some(after)
        })
        .collect();
    assert_eq!(&gdb_frames[..5], our_names.iter().map(String::as_str).collect::<Vec<_>>().as_slice(), "{out}");
    // gdb's frame pcs equal ours.
    for (i, frame) in frames.iter().take(5).enumerate().skip(1) {
        assert!(out.contains(&format!("{:#018x}", frame.pc)), "frame {i} pc {:#x} not in gdb's bt:\n{out}", frame.pc);
    }
}
