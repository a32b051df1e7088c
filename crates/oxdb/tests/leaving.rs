//! Leaving an attached program: with 100 breakpoints set and hit, oxdb is
//! left by `detach`, by SIGTERM, by SIGHUP, and by SIGKILL while the program
//! is stopped at the prompt on a `push rbp` breakpoint. Each time the program
//! runs on to the same output as an untraced run, its code is the file's (no
//! break byte), and its maps are as before the attach (no scratch page).
//! SIGINT sent to oxdb alone stops the running program, as Ctrl-C does.
//! `oxdb serve --pid` ends on SIGTERM or SIGHUP the same way, the program
//! stopped at a breakpoint or running.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::serve::{RawClient, Server};
use crate::support::fixture;

/// How long any one wait may take.
const PATIENCE: Duration = Duration::from_secs(60);

/// The `leave` fixture, its input and output in the test's hands.
struct Program {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    output: Vec<String>,
}

impl Program {
    /// Starts it and waits for "ready".
    fn start() -> Program {
        let mut child = Command::new(fixture("leave"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the leave fixture");
        let stdin = child.stdin.take();
        let lines = read_lines(child.stdout.take().expect("piped"));
        let mut program = Program { child, stdin, lines, output: Vec::new() };
        program.wait_line("ready");
        program
    }

    fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Lets it run one round.
    fn round(&mut self) {
        writeln!(self.stdin.as_mut().expect("input open"), "go").expect("write to the program");
    }

    /// Waits for an output line starting with `prefix`.
    fn wait_line(&mut self, prefix: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self
                .lines
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("the program printed no {prefix:?} line; its output: {:?}", self.output));
            self.output.push(line.clone());
            if line.starts_with(prefix) {
                return line;
            }
        }
    }

    /// Whether it printed a line starting with `prefix` so far.
    fn printed(&mut self, prefix: &str) -> bool {
        while let Ok(line) = self.lines.try_recv() {
            self.output.push(line);
        }
        self.output.iter().any(|l| l.starts_with(prefix))
    }

    /// Ends its input, waits for its end; returns its whole output but the pid line.
    fn finish(mut self) -> Vec<String> {
        drop(self.stdin.take());
        self.wait_line("done ");
        let status = self.child.wait().expect("wait for the program");
        assert_eq!(status.code(), Some(0), "the program ended badly: {status}; output {:?}", self.output);
        self.output.into_iter().filter(|l| !l.starts_with("pid ")).collect()
    }
}

/// Lines of `from`, as they come, on a channel.
fn read_lines(from: impl Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(from).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

/// The output of an untraced run of `rounds` rounds.
fn untraced_output(rounds: usize) -> Vec<String> {
    let mut program = Program::start();
    for _ in 0..rounds {
        program.round();
    }
    program.finish()
}

/// oxdb attached to a process, fed commands on its stdin.
struct Oxdb {
    child: Child,
    stdin: ChildStdin,
    out: Arc<Mutex<String>>,
}

impl Oxdb {
    fn attach(pid: i32) -> Oxdb {
        let mut child = Command::new(env!("CARGO_BIN_EXE_oxdb"))
            .args(["-p", &pid.to_string()])
            .env("OXDB_HISTORY", "/dev/null")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start oxdb");
        let stdin = child.stdin.take().expect("piped");
        let out = Arc::new(Mutex::new(String::new()));
        for stream in [
            Box::new(child.stdout.take().expect("piped")) as Box<dyn Read + Send>,
            Box::new(child.stderr.take().expect("piped")),
        ] {
            let out = Arc::clone(&out);
            let lines = read_lines(stream);
            std::thread::spawn(move || {
                for line in lines {
                    let mut text = out.lock().unwrap();
                    text.push_str(&line);
                    text.push('\n');
                }
            });
        }
        Oxdb { child, stdin, out }
    }

    fn pid(&self) -> Pid {
        Pid::from_raw(self.child.id() as i32)
    }

    fn send(&mut self, line: &str) {
        writeln!(self.stdin, "{line}").expect("write to oxdb");
    }

    /// Waits until oxdb has printed `text` `times` times.
    fn wait_for(&self, text: &str, times: usize) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let seen = self.out.lock().unwrap().matches(text).count();
            if seen >= times {
                return;
            }
            assert!(Instant::now() < deadline, "oxdb printed {text:?} {seen} times, not {times}:\n{}", self.text());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Runs a command that prints a known line, and waits for it: oxdb is then at its prompt.
    fn sync(&mut self, mark: u32) {
        self.send(&format!("print {mark}"));
        self.wait_for(&format!("= {mark}\n"), 1);
    }

    fn text(&self) -> String {
        self.out.lock().unwrap().clone()
    }

    /// Waits for oxdb to end; returns its exit code (None if a signal killed it).
    fn wait(mut self) -> (Option<i32>, String) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for oxdb") {
                std::thread::sleep(Duration::from_millis(100));
                return (status.code(), self.text());
            }
            assert!(Instant::now() < deadline, "oxdb did not end:\n{}", self.text());
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// `/proc/PID/maps`, one map a line.
fn maps(pid: i32) -> Vec<String> {
    std::fs::read_to_string(format!("/proc/{pid}/maps")).expect("read maps").lines().map(str::to_owned).collect()
}

/// A field of `/proc/PID/status`.
fn status_field(pid: i32, name: &str) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read status");
    status.lines().find_map(|l| l.strip_prefix(name)).map(|v| v.trim().to_owned()).unwrap_or_default()
}

/// Waits until no tracer holds `pid`.
fn wait_untraced(pid: i32) {
    let deadline = Instant::now() + PATIENCE;
    while status_field(pid, "TracerPid:") != "0" {
        assert!(Instant::now() < deadline, "process {pid} is still traced");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Checks that the program's executable code in memory is the file's, byte for byte.
fn assert_code_is_the_files(pid: i32) {
    use std::os::unix::fs::FileExt;
    let program = fixture("leave");
    let file = std::fs::read(&program).expect("read the program");
    let memory = std::fs::File::open(format!("/proc/{pid}/mem")).expect("open the program's memory");
    let mut checked = 0;
    for map in maps(pid) {
        let fields: Vec<&str> = map.split_whitespace().collect();
        if fields.len() < 6 || !fields[1].contains('x') || fields[5] != program.to_str().expect("utf-8 path") {
            continue;
        }
        let (start, end) = fields[0].split_once('-').expect("a range");
        let start = u64::from_str_radix(start, 16).expect("hex");
        let end = u64::from_str_radix(end, 16).expect("hex");
        let offset = usize::from_str_radix(fields[2], 16).expect("hex");
        let len = ((end - start) as usize).min(file.len() - offset);
        let mut bytes = vec![0; len];
        memory.read_exact_at(&mut bytes, start).expect("read the code");
        let differ = bytes.iter().zip(&file[offset..offset + len]).position(|(a, b)| a != b);
        assert_eq!(differ, None, "code differs from the file at {:#x}", start + differ.unwrap_or(0) as u64);
        checked += len;
    }
    assert!(checked > 0, "no code map of the program found");
}

/// How oxdb is left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Leave {
    Detach,
    Signal(Signal),
}

/// Rounds before the attach, while attached, and after leaving.
const ROUNDS: usize = 6;

fn leave_an_attached_program(how: Leave) {
    let expected = untraced_output(ROUNDS);
    let mut program = Program::start();
    program.round();
    program.wait_line("round 1 ");
    let pid = program.pid();
    let maps_before = maps(pid);
    let mut oxdb = Oxdb::attach(pid);
    oxdb.wait_for(&format!("[process {pid}] attached"), 1);
    // 90 breakpoints on the first instruction of f0..f89 (`push rbp`, at -O0),
    // 10 on the store after it in f90..f99 (run out of line, from a scratch page).
    for i in 0..100 {
        oxdb.send(&if i < 90 { format!("break *f{i}") } else { format!("break *f{i} + 4") });
    }
    oxdb.wait_for("breakpoint 100 at ", 1);
    // Round 2 hits all 100; round 3 stops at f36's `push rbp`.
    oxdb.send("continue 137");
    program.round();
    program.round();
    oxdb.wait_for(" hit at ", 137);
    oxdb.sync(32343);
    let text = oxdb.text();
    let last_hit = text.lines().rfind(|l| l.contains(" hit at ")).unwrap_or_default().to_owned();
    assert!(last_hit.contains("breakpoint 37 hit at ") && last_hit.contains(" in f36 "), "{text}");
    assert!(program.printed("round 2 ") && !program.printed("round 3 "), "{:?}", program.output);
    assert_eq!(&status_field(pid, "State:")[..1], "t", "the program is stopped at the prompt");
    // At the prompt, the program holds nothing of oxdb's.
    assert_code_is_the_files(pid);
    assert_eq!(maps(pid), maps_before, "no scratch page while the program waits at the prompt");
    let code = match how {
        Leave::Detach => {
            oxdb.send("detach");
            oxdb.wait_for(&format!("[process {pid}] detached"), 1);
            oxdb.send("quit");
            Some(0)
        }
        Leave::Signal(signal) => {
            kill(oxdb.pid(), signal).expect("signal oxdb");
            (signal != Signal::SIGKILL).then_some(128 + signal as i32)
        }
    };
    let (exit, text) = oxdb.wait();
    assert_eq!(exit, code, "oxdb's exit after {how:?}:\n{text}");
    if let Leave::Signal(signal) = how {
        if signal != Signal::SIGKILL {
            assert!(text.contains(&format!("oxdb: {signal}: detached from process {pid}")), "{text}");
        }
    }
    wait_untraced(pid);
    assert_code_is_the_files(pid);
    assert_eq!(maps(pid), maps_before, "nothing of oxdb's is left mapped");
    for _ in 3..ROUNDS {
        program.round();
    }
    assert_eq!(program.finish(), expected, "the program's output is an untraced run's");
}

#[test]
fn detach_leaves_an_attached_program_as_it_was() {
    leave_an_attached_program(Leave::Detach);
}

#[test]
fn sigterm_to_oxdb_detaches_cleanly() {
    leave_an_attached_program(Leave::Signal(Signal::SIGTERM));
}

#[test]
fn sighup_to_oxdb_detaches_cleanly() {
    leave_an_attached_program(Leave::Signal(Signal::SIGHUP));
}

#[test]
fn sigkill_to_oxdb_at_the_prompt_leaves_a_program_that_runs_on() {
    leave_an_attached_program(Leave::Signal(Signal::SIGKILL));
}

/// A started program is killed by SIGTERM or SIGQUIT as by `quit`, and oxdb
/// exits with 128 + the signal.
#[test]
fn sigquit_to_oxdb_kills_a_started_program() {
    let mut oxdb = Command::new(env!("CARGO_BIN_EXE_oxdb"));
    oxdb.arg(fixture("leave")).env("OXDB_HISTORY", "/dev/null");
    let mut child =
        oxdb.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("start oxdb");
    let mut out = BufReader::new(child.stdout.take().expect("piped"));
    let mut first = String::new();
    out.read_line(&mut first).expect("read oxdb");
    let pid: i32 = first
        .strip_prefix("[process ")
        .and_then(|rest| rest.split(']').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no pid in {first:?}"));
    // oxdb's input stays open until it has ended: `Child::wait` would close
    // it first, and an end of input seen before the signal ends oxdb as
    // `quit` does, with 0.
    let input = child.stdin.take();
    kill(Pid::from_raw(child.id() as i32), Signal::SIGQUIT).expect("signal oxdb");
    let status = child.wait().expect("wait for oxdb");
    drop(input);
    let mut err = String::new();
    child.stderr.take().expect("piped").read_to_string(&mut err).expect("read stderr");
    assert_eq!(status.code(), Some(128 + Signal::SIGQUIT as i32), "{err}");
    assert!(err.contains(&format!("oxdb: SIGQUIT: killed process {pid}")), "{err}");
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists(), "the started program is gone");
}

/// SIGINT sent to oxdb alone (the program in its process group does not get
/// it) stops the running program as Ctrl-C does; `continue` goes on after.
#[test]
fn sigint_sent_to_oxdb_alone_stops_the_running_program() {
    let mut command = Command::new(env!("CARGO_BIN_EXE_oxdb"));
    command.arg(fixture("leave")).env("OXDB_HISTORY", "/dev/null");
    let mut child =
        command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("start oxdb");
    let stdin = child.stdin.take().expect("piped");
    let out = Arc::new(Mutex::new(String::new()));
    let lines = read_lines(child.stdout.take().expect("piped"));
    let collected = Arc::clone(&out);
    std::thread::spawn(move || {
        for line in lines {
            let mut text = collected.lock().unwrap();
            text.push_str(&line);
            text.push('\n');
        }
    });
    let mut oxdb = Oxdb { child, stdin, out };
    // The program waits for input that never comes: it runs (blocked) until stopped.
    oxdb.send("continue");
    oxdb.wait_for("ready", 1);
    std::thread::sleep(Duration::from_millis(300));
    kill(oxdb.pid(), Signal::SIGINT).expect("signal oxdb");
    oxdb.wait_for("stopped by Ctrl-C", 1);
    oxdb.sync(4242);
    oxdb.send("quit");
    let (code, text) = oxdb.wait();
    assert_eq!(code, Some(0), "{text}");
}

/// Where function `name` of the `leave` fixture is in process `pid`.
fn function_addr(pid: i32, name: &str) -> u64 {
    let program = fixture("leave");
    let table = oxtrace::symbols::SymbolTable::load(&program).expect("the program's symbols");
    let offset = table.by_name(name).unwrap_or_else(|| panic!("no symbol {name}")).addr;
    let path = program.to_str().expect("utf-8 path");
    let base = maps(pid)
        .iter()
        .find(|m| m.ends_with(path))
        .and_then(|m| m.split('-').next().and_then(|start| u64::from_str_radix(start, 16).ok()))
        .expect("the program's first map");
    base + offset
}

/// `oxdb serve --pid` on the `leave` fixture, a breakpoint on f36's `push rbp`
/// hit twice, then `signal` to the server: stopped at the breakpoint, or
/// (`running`) continued and waiting for input.
fn signal_ends_serve(signal: Signal, running: bool) {
    let expected = untraced_output(ROUNDS);
    let mut program = Program::start();
    program.round();
    program.wait_line("round 1 ");
    let pid = program.pid();
    let maps_before = maps(pid);
    let server = Server::start(&["--pid", &pid.to_string()]);
    let mut client = RawClient::connect(&server.address());
    assert!(client.ask("?").starts_with("T05thread:"));
    let f36 = function_addr(pid, "f36");
    assert_eq!(client.ask(&format!("Z0,{f36:x},1")), "OK");
    for _ in 2..=3 {
        client.send_raw(&RawClient::packet(b"c"));
        program.round();
        let stop = client.receive();
        assert!(stop.starts_with("T05"), "{stop}");
    }
    if running {
        client.send_raw(&RawClient::packet(b"c"));
        // Round 3 finishes; the program waits for input, under the server.
        program.wait_line("round 3 ");
    }
    kill(Pid::from_raw(server.pid()), signal).expect("signal oxdb serve");
    let (code, _, stderr) = server.finish();
    assert_eq!(code, Some(128 + signal as i32), "server stderr: {stderr}");
    assert!(stderr.contains(&format!("oxdb serve: {signal}: detached from process {pid}")), "{stderr}");
    wait_untraced(pid);
    assert_code_is_the_files(pid);
    assert_eq!(maps(pid), maps_before, "nothing of oxdb's is left mapped");
    for _ in 3..ROUNDS {
        program.round();
    }
    assert_eq!(program.finish(), expected, "the program's output is an untraced run's");
}

#[test]
fn sigterm_to_oxdb_serve_detaches_a_program_stopped_at_a_breakpoint() {
    signal_ends_serve(Signal::SIGTERM, false);
}

#[test]
fn sighup_to_oxdb_serve_detaches_a_running_program() {
    signal_ends_serve(Signal::SIGHUP, true);
}
