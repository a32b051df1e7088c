//! `oxdb --remote` on the second architecture: a static aarch64 fixture under
//! qemu-aarch64's stub, in batch mode: a breakpoint by name, the backtrace,
//! registers by their aarch64 names, memory, finish with the return value, and
//! the run to the end. Needs gcc-aarch64-linux-gnu and qemu-user (`.ci/run`
//! installs them).

use std::process::{Command, Stdio};

use crate::support::{fixture_aarch64, oxdb};

#[test]
fn oxdb_remote_debugs_an_aarch64_program_under_qemu() {
    let program = fixture_aarch64("nested");
    // A free port (qemu takes a number, not 0).
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut qemu = Command::new("qemu-aarch64")
        .args(["-g", &port.to_string()])
        .arg(&program)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("qemu-aarch64 (Debian's qemu-user) is needed");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let address = format!("127.0.0.1:{port}");
    let program_path = program.display().to_string();
    let run = oxdb(&[
        "--remote",
        &address,
        "--batch",
        "-ex",
        "break inner",
        "-ex",
        "continue",
        "-ex",
        "bt",
        "-ex",
        "print $x0",
        "-ex",
        "info registers pc lr sp",
        "-ex",
        "x/s message",
        "-ex",
        "finish",
        "-ex",
        "print $x0",
        "-ex",
        "disassemble",
        "-ex",
        "continue",
        &program_path,
    ]);
    let _ = qemu.kill();
    let _ = qemu.wait();
    let all = format!("{}\n{}", run.stdout, run.stderr);
    let frames: Vec<&str> = run.lines_starting("#");
    let functions: Vec<&str> = frames.iter().filter_map(|l| l.split(" in ").nth(1)?.split([' ', '+']).next()).collect();
    assert_eq!(&functions[..4], ["inner", "middle", "outer", "main"], "{all}");
    assert!(frames[0].contains("(nested_calls.h:"), "{all}");
    assert!(run.stdout.lines().any(|l| l == "$1 = 41"), "the argument in x0: {all}");
    let register =
        |name: &str| run.lines_starting(name).first().map(|l| l.split_whitespace().nth(1).unwrap().to_owned());
    let pc = register("pc").expect("info registers pc");
    assert!(frames[0].contains(&pc), "{all}");
    assert!(frames[1].contains(&register("lr").expect("info registers lr")), "lr is middle's return address: {all}");
    assert!(run.stdout.contains("\"hello from aarch64\""), "{all}");
    assert!(run.stdout.lines().any(|l| l == "$2 = 100"), "inner's return value after finish: {all}");
    assert!(run.stderr.contains("disassembly of aarch64 code is not supported"), "{all}");
    assert!(run.stdout.contains("exited with code 0"), "{all}");
}
