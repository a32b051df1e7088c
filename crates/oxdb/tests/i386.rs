//! oxdb on a 32-bit (i386) program: the same commands, registers under their
//! i386 names, 32-bit disassembly, cdecl arguments on the stack.

use crate::support::{fixture_i386, oxdb};

fn batch_i386(name: &str, commands: &[&str]) -> crate::support::Run {
    let program = fixture_i386(name);
    let mut args: Vec<String> = vec!["--batch".into()];
    for command in commands {
        args.extend(["-ex".into(), (*command).into()]);
    }
    args.push(program.display().to_string());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    oxdb(&args)
}

#[test]
fn a_32_bit_program_under_the_usual_commands() {
    let run = batch_i386(
        "calls",
        &[
            "break d",
            "continue",
            "bt",
            "regs",
            "eval poi(esp + 4)",
            "dis",
            "vcall codefn(41)",
            "finish",
            "regs eax",
            "watch counter",
            "continue",
            "delete",
            "break tick if *(int *)($esp + 4) == 3",
            "continue",
            "eval poi(esp + 4)",
            "info sharedlibrary",
        ],
    );
    assert_eq!(run.code, Some(0), "{run}");
    assert!(run.lines_with("breakpoint 1 hit at ").first().is_some_and(|l| l.ends_with(" in d from calls")), "{run}");
    for (n, name) in ["d", "c", "b", "a", "main"].iter().enumerate() {
        let line =
            run.lines_starting(&format!("#{n} ")).first().copied().unwrap_or_else(|| panic!("frame {n}:\n{run}"));
        assert!(line.contains(&format!(" in {name}")), "{line}\n{run}");
    }
    // Registers under their i386 names, 32 bits wide; no 64-bit register.
    for reg in ["eax", "ebx", "ecx", "edx", "esi", "edi", "ebp", "esp", "eip", "eflags", "orig_eax"] {
        let line = run.lines_starting(&format!("{reg} ")).first().copied().unwrap_or_else(|| panic!("{reg}:\n{run}"));
        let hex = line.split_whitespace().nth(1).unwrap();
        assert_eq!(hex.len(), 10, "{line}");
    }
    assert!(run.lines_starting("rax ").is_empty() && run.lines_starting("r8 ").is_empty(), "{run}");
    // d(4): the argument is on the stack.
    assert!(run.stdout.lines().any(|l| l == "0x4 (4)"), "{run}");
    // 32-bit code: push ebp; mov ebp, esp.
    assert!(run.lines_starting("=> ").first().is_some_and(|l| l.contains(" <d>: push ebp")), "{run}");
    assert!(run.stdout.contains("mov ebp, esp"), "{run}");
    assert!(run.stdout.lines().any(|l| l == "0x2a (42)"), "codefn(41):\n{run}");
    // finish returns d's result (4 * 3) in eax.
    assert!(run.stdout.lines().any(|l| l.starts_with("eax       0x0000000c")), "{run}");
    // A word of the 32-bit program by default; tick(0) writes counter's value again.
    assert!(run.stdout.lines().any(|l| l == "Hardware watchpoint 2: counter"), "{run}");
    assert!(run.stdout.contains("Old value = 4\nNew value = 5"), "{run}");
    assert!(run.lines_with("hit at ").iter().any(|l| l.contains(" in tick ")), "{run}");
    assert!(run.stdout.lines().any(|l| l == "0x3 (3)"), "the condition held:\n{run}");
    assert!(run.stdout.contains("libc.so.6") && run.stdout.contains("ld-linux.so.2"), "{run}");
}

#[test]
fn a_32_bit_snapshot_opens_in_oxdb_with_the_same_stack_and_registers() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("oxdb-i386-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let core = dir.join("calls-i386.core").display().to_string();
    let live = batch_i386("calls", &["break d", "continue", "bt", "regs eip esp", &format!("snapshot {core}")]);
    assert_eq!(live.code, Some(0), "{live}");
    assert_eq!(live.lines_with("snapshot saved to ").len(), 1, "{live}");
    let program = fixture_i386("calls").display().to_string();
    let opened =
        oxdb(&["--batch", "--core", &core, &program, "-ex", "bt", "-ex", "regs eip esp", "-ex", "eval poi(esp + 4)"]);
    assert_eq!(opened.code, Some(0), "{opened}");
    let frames =
        |text: &str| -> Vec<String> { text.lines().filter(|l| l.starts_with('#')).map(str::to_owned).collect() };
    assert!(frames(&opened.stdout).len() >= 5, "{opened}");
    assert_eq!(frames(&opened.stdout), frames(&live.stdout), "live:\n{live}\ncore:\n{opened}");
    let regs = |text: &str| -> Vec<String> {
        text.lines().filter(|l| l.starts_with("eip ") || l.starts_with("esp ")).map(str::to_owned).collect()
    };
    assert_eq!(regs(&opened.stdout).len(), 2, "{opened}");
    assert_eq!(regs(&opened.stdout), regs(&live.stdout));
    assert!(opened.stdout.lines().any(|l| l == "0x4 (4)"), "d(4): {opened}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn serving_a_32_bit_program_is_refused_with_a_clear_error() {
    let program = fixture_i386("calls");
    let server = crate::serve::Server::start(&[program.to_str().unwrap()]);
    let client = std::net::TcpStream::connect(server.address()).unwrap();
    let (code, _, stderr) = server.finish();
    drop(client);
    assert_ne!(code, Some(0), "{stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.contains("error")).collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(errors[0].contains("x86_64 processes only") && errors[0].contains("i386"), "{stderr}");
}
