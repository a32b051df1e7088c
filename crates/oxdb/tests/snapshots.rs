//! `snapshot FILE` in a batch session, and `oxdb --core FILE PROGRAM` on it:
//! the same backtrace and registers, and a clear error for running a core.

use std::path::Path;

use crate::support::{batch, fixture, oxdb};

#[test]
fn snapshot_then_open_the_core() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("oxdb-snapshots-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let core = dir.join("calls.core");
    let core_text = core.display().to_string();
    let live = batch("calls", &["break d", "continue", "bt", "regs rip", &format!("snapshot {core_text}")], &[]);
    assert_eq!(live.code, Some(0), "{live}");
    let saved = live.lines_with("snapshot saved to ");
    assert_eq!(saved.len(), 1, "{live}");
    assert!(saved[0].contains("1 thread,"), "{live}");

    let program = fixture("calls").display().to_string();
    let opened = oxdb(&["--batch", "--core", &core_text, &program, "-ex", "bt", "-ex", "regs rip", "-ex", "p $rdi"]);
    assert!(opened.stdout.contains("stopped at "), "{opened}");
    assert_eq!(opened.code, Some(0), "{opened}");
    assert!(opened.stdout.starts_with(&format!("[core {core_text}] process ")), "{opened}");
    // The same frames and the same rip as the live session.
    let frames =
        |text: &str| -> Vec<String> { text.lines().filter(|l| l.starts_with('#')).map(str::to_owned).collect() };
    assert!(frames(&opened.stdout).len() >= 5, "{opened}");
    assert_eq!(frames(&opened.stdout), frames(&live.stdout), "live:\n{live}\ncore:\n{opened}");
    let rip = |text: &str| text.lines().find(|l| l.starts_with("rip ")).map(str::to_owned);
    assert_eq!(rip(&opened.stdout), rip(&live.stdout));
    assert!(opened.stdout.lines().any(|l| l == "$1 = 4"), "d(4): {opened}");

    // Running a core is a one-line error naming it, and the batch run fails.
    let run = oxdb(&["--batch", "--core", &core_text, &program, "-ex", "continue"]);
    assert_eq!(run.code, Some(2), "{run}");
    let errors: Vec<&str> = run.stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{run}");
    assert!(errors[0].contains(&core_text) && errors[0].contains("core file"), "{run}");

    // A missing core file is an error naming it.
    let missing = oxdb(&["--batch", "--core", "/nonexistent/x.core"]);
    assert_eq!(missing.code, Some(2), "{missing}");
    assert!(missing.stderr.contains("/nonexistent/x.core"), "{missing}");
    let _ = std::fs::remove_dir_all(&dir);
}
