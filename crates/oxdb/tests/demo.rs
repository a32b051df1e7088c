//! `oxdb demo`, run as a user runs it.

use std::process::Command;

#[test]
fn demo_shows_registers_and_the_call_stack() {
    let output = Command::new(env!("CARGO_BIN_EXE_oxdb")).arg("demo").output().unwrap();
    let out = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{out}\n{}", String::from_utf8_lossy(&output.stderr));
    for reg in [
        "RAX", "RBX", "RCX", "RDX", "RSI", "RDI", "RBP", "RSP", "R8", "R9", "R10", "R11", "R12", "R13", "R14", "R15",
        "RIP", "RFLAGS",
    ] {
        assert!(out.lines().any(|l| l.starts_with(&format!("{reg} "))), "{reg} missing:\n{out}");
    }
    // The stop is in d, and RIP is d's address.
    let rip = out.lines().find_map(|l| l.strip_prefix("RIP")).unwrap().split_whitespace().next().unwrap().to_string();
    let frame0 = out.lines().find(|l| l.starts_with("#0 ")).unwrap();
    // `bt`'s format: no offset at a symbol's start, then file:line and the module.
    assert!(frame0.starts_with(&format!("#0 {rip} in d (demo.c:")) && frame0.ends_with(" from demo"), "{frame0}");
    for (n, name) in ["d", "c", "b", "a", "main"].iter().enumerate() {
        let line =
            out.lines().find(|l| l.starts_with(&format!("#{n} "))).unwrap_or_else(|| panic!("no frame {n}:\n{out}"));
        let named = line.contains(&format!(" in {name}+0x")) || line.contains(&format!(" in {name} ("));
        assert!(named && line.contains("(demo.c:"), "{line}");
    }
    assert!(out.contains("d \u{2190} c \u{2190} b \u{2190} a \u{2190} main"), "{out}");
    assert!(out.contains("demo: a(1) = 12"), "the program ran on to its end:\n{out}");
    assert!(out.contains("ran on to its end: exit code 0"), "{out}");
}
