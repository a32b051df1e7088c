//! The interactive prompt, driven through a real terminal by tmux: Tab
//! completes a command and a symbol, an empty line repeats stepi, and
//! history survives to the next run.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::fixture;

/// A tmux server of the test's own, killed on drop.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn run(&self, args: &[&str]) -> String {
        let output = Command::new("tmux").arg("-L").arg(&self.socket).args(args).output().expect("run tmux");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    fn start(&self, session: &str, command: &str) {
        self.run(&["new-session", "-d", "-s", session, "-x", "160", "-y", "50", command]);
    }

    fn keys(&self, session: &str, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", session];
        args.extend_from_slice(keys);
        self.run(&args);
    }

    fn screen(&self, session: &str) -> String {
        self.run(&["capture-pane", "-p", "-t", session, "-S", "-200"])
    }

    /// Waits until the screen shows `text` `times` times; returns the screen.
    fn wait_for(&self, session: &str, text: &str, times: usize) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let screen = self.screen(session);
            if screen.matches(text).count() >= times {
                return screen;
            }
            assert!(Instant::now() < deadline, "waited for {text:?} x{times}; the screen:\n{screen}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux").arg("-L").arg(&self.socket).arg("kill-server").output();
    }
}

fn tmux_available() -> bool {
    Command::new("tmux").arg("-V").output().is_ok_and(|o| o.status.success())
}

#[test]
fn prompt_completes_repeats_and_remembers() {
    if !tmux_available() {
        eprintln!("skipped: tmux is not installed");
        return;
    }
    let program = fixture("calls");
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("oxdb-repl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let history = dir.join("history");
    let _ = std::fs::remove_file(&history);
    let command = format!(
        "env TERM=xterm OXDB_HISTORY={} {} {}",
        history.display(),
        env!("CARGO_BIN_EXE_oxdb"),
        program.display()
    );
    let tmux = Tmux { socket: format!("oxdb-test-{}", std::process::id()) };

    // A session that stays, so the server does not exit (and race with the next start) when oxdb quits.
    tmux.start("hold", "sleep 600");
    tmux.start("one", &command);
    tmux.wait_for("one", "(oxdb)", 1);
    // Tab completes a command name...
    tmux.keys("one", &["tbre", "Tab"]);
    // (capture-pane drops trailing blanks; the space after the name shows once more is typed.)
    tmux.wait_for("one", "(oxdb) tbreak", 1);
    // ...and a symbol.
    tmux.keys("one", &["codef", "Tab"]);
    tmux.wait_for("one", "(oxdb) tbreak codefn", 1);
    tmux.keys("one", &["Enter"]);
    tmux.wait_for("one", "one-time breakpoint", 1);
    tmux.keys("one", &["continue", "Enter"]);
    tmux.wait_for("one", "hit at 0x", 1);
    tmux.keys("one", &["stepi", "Enter"]);
    // The one-time breakpoint stopped after the prologue, at the body's line-table row (codefn+0x7), as gdb.
    tmux.wait_for("one", " in codefn+0xa from calls", 1);
    // An empty line repeats stepi.
    tmux.keys("one", &["Enter"]);
    let screen = tmux.wait_for("one", " in codefn+0xd from calls", 1);
    assert!(!screen.contains("error"), "{screen}");
    tmux.keys("one", &["quit", "Enter"]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !std::fs::read_to_string(&history).unwrap_or_default().contains("quit") {
        assert!(Instant::now() < deadline, "no history written to {}", history.display());
        std::thread::sleep(Duration::from_millis(50));
    }

    // The next run remembers: Up twice brings back stepi.
    tmux.start("two", &command);
    tmux.wait_for("two", "(oxdb)", 1);
    tmux.keys("two", &["Up"]);
    tmux.wait_for("two", "(oxdb) quit", 1);
    tmux.keys("two", &["Up"]);
    tmux.wait_for("two", "(oxdb) stepi", 1);
    tmux.keys("two", &["C-u", "quit", "Enter"]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn ctrl_c_stops_the_running_program_and_the_prompt_comes_back() {
    if !tmux_available() {
        eprintln!("skipped: tmux is not installed");
        return;
    }
    let program = fixture("spin");
    let command =
        format!("env TERM=xterm OXDB_HISTORY=/dev/null {} {} 30", env!("CARGO_BIN_EXE_oxdb"), program.display());
    let tmux = Tmux { socket: format!("oxdb-ctrlc-{}", std::process::id()) };
    tmux.start("hold", "sleep 600");
    tmux.start("spin", &command);
    tmux.wait_for("spin", "(oxdb)", 1);
    tmux.keys("spin", &["continue", "Enter"]);
    std::thread::sleep(Duration::from_millis(500));
    tmux.keys("spin", &["C-c"]);
    tmux.wait_for("spin", "stopped by Ctrl-C", 1);
    // The program is stopped, not killed, and the SIGINT is not passed on: it runs on when continued.
    tmux.wait_for("spin", "(oxdb)", 2);
    tmux.keys("spin", &["continue", "Enter"]);
    std::thread::sleep(Duration::from_millis(300));
    tmux.keys("spin", &["C-c"]);
    let screen = tmux.wait_for("spin", "stopped by Ctrl-C", 2);
    assert!(!screen.contains("killed by signal"), "{screen}");
    tmux.keys("spin", &["bt", "Enter"]);
    let screen = tmux.wait_for("spin", "#0 0x", 1);
    assert!(screen.contains(" from spin") || screen.contains(" from libc"), "{screen}");
    tmux.keys("spin", &["kill", "Enter"]);
    tmux.wait_for("spin", "killed", 1);
    tmux.keys("spin", &["quit", "Enter"]);
}

/// The pid of the oxdb process whose command line ends with `last_arg`.
fn oxdb_pid_with_arg(last_arg: &str) -> Option<i32> {
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|entry| {
        let pid: i32 = entry.file_name().to_str()?.parse().ok()?;
        let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
        let args: Vec<&[u8]> = cmdline.split(|&b| b == 0).filter(|a| !a.is_empty()).collect();
        let oxdb = args.first()? == &env!("CARGO_BIN_EXE_oxdb").as_bytes();
        (oxdb && args.last()? == &last_arg.as_bytes()).then_some(pid)
    })
}

#[test]
fn sigterm_while_a_line_is_typed_ends_oxdb_and_gives_the_terminal_back() {
    if !tmux_available() {
        eprintln!("skipped: tmux is not installed");
        return;
    }
    let program = fixture("calls");
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("oxdb-sigterm-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let stty = dir.join("stty");
    let _ = std::fs::remove_file(&stty);
    let marker = format!("sigterm-test-{}", std::process::id());
    // After oxdb: its exit code, then the terminal's settings.
    let command = format!(
        "sh -c 'env TERM=xterm OXDB_HISTORY=/dev/null {} {} {marker}; echo exit=$? > {}; stty -a >> {}; sleep 600'",
        env!("CARGO_BIN_EXE_oxdb"),
        program.display(),
        stty.display(),
        stty.display()
    );
    let tmux = Tmux { socket: format!("oxdb-sigterm-{}", std::process::id()) };
    tmux.start("hold", "sleep 600");
    tmux.start("term", &command);
    tmux.wait_for("term", "(oxdb)", 1);
    // Half a line typed: the line editor has the terminal in raw mode.
    tmux.keys("term", &["brea"]);
    tmux.wait_for("term", "(oxdb) brea", 1);
    let oxdb = oxdb_pid_with_arg(&marker).expect("oxdb's pid");
    let started: Vec<i32> = std::fs::read_to_string(format!("/proc/{oxdb}/task/{oxdb}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect();
    assert_eq!(started.len(), 1, "oxdb started one program: {started:?}");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(oxdb), nix::sys::signal::Signal::SIGTERM).expect("signal oxdb");
    let deadline = Instant::now() + Duration::from_secs(20);
    let settings = loop {
        let text = std::fs::read_to_string(&stty).unwrap_or_default();
        if text.contains("icanon") {
            break text;
        }
        assert!(Instant::now() < deadline, "oxdb did not end; the screen:\n{}", tmux.screen("term"));
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(settings.starts_with("exit=143"), "128 + SIGTERM: {settings}");
    let words: Vec<&str> = settings.split_whitespace().collect();
    assert!(words.contains(&"icanon") && words.contains(&"echo"), "the terminal is cooked again: {settings}");
    assert!(tmux.screen("term").contains("oxdb: SIGTERM: killed process"), "{}", tmux.screen("term"));
    assert!(!Path::new(&format!("/proc/{}", started[0])).exists(), "the started program was killed");
    let _ = std::fs::remove_dir_all(&dir);
}
