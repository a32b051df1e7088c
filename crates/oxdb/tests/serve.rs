//! `oxdb serve`: gdb and lldb debugging through the server give the answers gdb gives
//! natively; a raw client's truncated, oversized and garbage packets leave the
//! server answering and the debuggee intact; Ctrl-C, attach and detach.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::{fixture, gdb, gdb_args};

/// A running `oxdb serve` and what it printed.
pub(crate) struct Server {
    child: Child,
    /// What follows `listening on `: `HOST:PORT` or `unix:PATH`.
    listening: String,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
}

impl Server {
    /// Starts `oxdb serve ARGS` and reads the `listening on` line.
    pub(crate) fn start(args: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_oxdb"))
            .arg("serve")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run oxdb serve");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        stdout.read_line(&mut first).unwrap();
        let listening = first
            .trim_end()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("no listening line: {first:?}"))
            .to_owned();
        let collected = Arc::new(Mutex::new(first));
        let sink = collected.clone();
        std::thread::spawn(move || {
            let mut rest = String::new();
            let _ = stdout.read_to_string(&mut rest);
            sink.lock().unwrap().push_str(&rest);
        });
        let errors = Arc::new(Mutex::new(String::new()));
        let sink = errors.clone();
        let mut stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            sink.lock().unwrap().push_str(&text);
        });
        Server { child, listening, stdout: collected, stderr: errors }
    }

    /// The server's process id.
    pub(crate) fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// The address a client connects to: the one listened on, or for all
    /// interfaces (`0.0.0.0`, `[::]`), the loopback address of the same family.
    pub(crate) fn address(&self) -> String {
        match self.listening.rsplit_once(':') {
            Some(("0.0.0.0", port)) => format!("127.0.0.1:{port}"),
            Some(("[::]", port)) => format!("[::1]:{port}"),
            _ => self.listening.clone(),
        }
    }

    /// What the server printed on stderr so far.
    pub(crate) fn stderr_so_far(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits (at most 20 s) for the server to end; returns its exit code, stdout and stderr.
    pub(crate) fn finish(mut self) -> (Option<i32>, String, String) {
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                break self.child.wait().unwrap();
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        // Let the reader threads take the last output.
        std::thread::sleep(Duration::from_millis(100));
        let stdout = self.stdout.lock().unwrap().clone();
        let stderr = self.stderr.lock().unwrap().clone();
        (status.code(), stdout, stderr)
    }
}

/// The function names of a `bt`, innermost first.
pub(crate) fn backtrace_functions(output: &str) -> Vec<String> {
    output
        .lines()
        .filter(|l| l.starts_with('#'))
        .filter_map(|line| {
            let rest = line.split_once(char::is_whitespace)?.1.trim_start();
            let rest = match rest.split_once(" in ") {
                Some((addr, after)) if addr.starts_with("0x") => after,
                _ => rest,
            };
            Some(rest.split([' ', '(']).next()?.to_owned())
        })
        .collect()
}

/// `<d+8>` from `info registers rip`.
fn rip_symbol(output: &str) -> String {
    let line = output.lines().find(|l| l.starts_with("rip ")).unwrap_or_else(|| panic!("no rip line:\n{output}"));
    line.split_whitespace().last().unwrap().to_owned()
}

/// The bytes of the `x/Nxb SYMBOL` lines (what follows `<SYMBOL>:`).
fn memory_bytes(output: &str, symbol: &str) -> String {
    let tag = format!("<{symbol}>:");
    let line = output.lines().find(|l| l.contains(&tag)).unwrap_or_else(|| panic!("no {tag} line:\n{output}"));
    line.split_once(&tag).unwrap().1.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn gdb_through_oxdb_serve_answers_as_gdb_natively() {
    let program = fixture("calls");
    let program = program.to_str().unwrap();
    let common = ["break d", "bt", "info registers rip", "x/8xb marker", "x/4xb &counter"];
    let native_commands = [common[0], "run", common[1], common[2], common[3], common[4], "kill"];
    let mut args = gdb_args(&native_commands);
    args.push(program);
    let native = gdb(&args);

    let server = Server::start(&[program]);
    let target = format!("target extended-remote {}", server.address());
    let commands = [&target, common[0], "continue", common[1], common[2], common[3], common[4], "detach"];
    let mut args = gdb_args(&commands);
    args.push(program);
    let remote = gdb(&args);
    let (code, stdout, stderr) = server.finish();
    let both = format!("--- native\n{native}\n--- remote\n{remote}\n--- server stderr\n{stderr}");

    assert_eq!(backtrace_functions(&native), ["d", "c", "b", "a", "main"], "{both}");
    assert_eq!(backtrace_functions(&remote), backtrace_functions(&native), "{both}");
    assert!(rip_symbol(&native).starts_with("<d+"), "{both}");
    assert_eq!(rip_symbol(&remote), rip_symbol(&native), "{both}");
    assert_eq!(memory_bytes(&remote, "marker"), memory_bytes(&native, "marker"), "{both}");
    assert_eq!(memory_bytes(&remote, "counter"), memory_bytes(&native, "counter"), "{both}");
    assert!(remote.contains("detached"), "{both}");
    // Detached, the program ran to its end with the server waiting for it.
    assert_eq!(code, Some(0), "{both}");
    assert!(stdout.contains("result 15") && stdout.contains("marker=OXTRACE_MARKER_1234567"), "{stdout}\n{both}");
}

#[test]
fn hardware_breakpoints_watchpoints_and_steps_as_natively() {
    let program = fixture("calls");
    let program = program.to_str().unwrap();
    let steps = ["break d", "CONTINUE", "watch counter", "continue", "hbreak tick", "continue", "stepi", "stepi"];
    let interesting = |output: &str| -> Vec<String> {
        output
            .lines()
            .filter(|l| l.contains("value =") || l.starts_with("Breakpoint") || l.contains("tick (i=0)"))
            // Addresses differ between runs (ASLR); source lines do not.
            .map(|l| l.split(" at 0x").next().unwrap().to_owned())
            .collect()
    };
    let native_commands: Vec<&str> = steps.iter().map(|&c| if c == "CONTINUE" { "run" } else { c }).collect();
    let mut args = gdb_args(&native_commands);
    args.extend(["-ex", "info registers rip", "-ex", "kill", program]);
    let native = gdb(&args);

    let server = Server::start(&[program]);
    let target = format!("target extended-remote {}", server.address());
    let mut remote_commands = vec![target.as_str()];
    remote_commands.extend(steps.iter().map(|&c| if c == "CONTINUE" { "continue" } else { c }));
    remote_commands.extend(["info registers rip", "kill"]);
    let mut args = gdb_args(&remote_commands);
    args.push(program);
    let remote = gdb(&args);
    let (_, _, stderr) = server.finish();
    let both = format!("--- native\n{native}\n--- remote\n{remote}\n--- server stderr\n{stderr}");

    let expected = interesting(&native);
    assert!(expected.iter().any(|l| l.contains("New value = 4")), "{both}");
    assert_eq!(interesting(&remote), expected, "{both}");
    assert_eq!(rip_symbol(&remote), rip_symbol(&native), "{both}");
}

/// The raw client's connection: TCP or a Unix domain socket.
enum RawStream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl RawStream {
    fn set_read_timeout(&self, timeout: Duration) {
        match self {
            RawStream::Tcp(s) => s.set_read_timeout(Some(timeout)).unwrap(),
            RawStream::Unix(s) => s.set_read_timeout(Some(timeout)).unwrap(),
        }
    }

    fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match self {
            RawStream::Tcp(s) => s.write_all(bytes),
            RawStream::Unix(s) => s.write_all(bytes),
        }
    }

    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            RawStream::Tcp(s) => s.read(buf),
            RawStream::Unix(s) => s.read(buf),
        }
    }
}

/// A minimal protocol client for the raw tests.
pub(crate) struct RawClient {
    stream: RawStream,
    buffer: Vec<u8>,
}

impl RawClient {
    /// Connects to `HOST:PORT`, or to the socket of `unix:PATH`.
    pub(crate) fn connect(address: &str) -> RawClient {
        let stream = match address.strip_prefix("unix:") {
            Some(path) => RawStream::Unix(UnixStream::connect(path).expect("connect to oxdb serve's socket")),
            None => RawStream::Tcp(TcpStream::connect(address).expect("connect to oxdb serve")),
        };
        stream.set_read_timeout(Duration::from_secs(10));
        RawClient { stream, buffer: Vec::new() }
    }

    pub(crate) fn packet(body: &[u8]) -> Vec<u8> {
        let sum = body.iter().fold(0u8, |s, &b| s.wrapping_add(b));
        let mut packet = vec![b'$'];
        packet.extend_from_slice(body);
        packet.extend(format!("#{sum:02x}").bytes());
        packet
    }

    pub(crate) fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    /// The body of the next packet from the server, run-length encoding expanded.
    pub(crate) fn receive(&mut self) -> String {
        let body = self.receive_encoded();
        let mut out = String::new();
        let mut chars = body.chars();
        while let Some(c) = chars.next() {
            if c == '*' {
                let count = chars.next().map_or(0, |n| n as usize - 29);
                let last = out.chars().last().unwrap_or('0');
                out.extend(std::iter::repeat_n(last, count));
            } else {
                out.push(c);
            }
        }
        out
    }

    fn receive_encoded(&mut self) -> String {
        loop {
            if let Some(start) = self.buffer.iter().position(|&b| b == b'$') {
                if let Some(end) = self.buffer[start..].iter().position(|&b| b == b'#') {
                    let end = start + end;
                    if self.buffer.len() >= end + 3 {
                        let body = String::from_utf8_lossy(&self.buffer[start + 1..end]).into_owned();
                        self.buffer.drain(..end + 3);
                        return body;
                    }
                }
            }
            let mut chunk = [0u8; 65536];
            let n = self.stream.read(&mut chunk).expect("a reply from oxdb serve");
            assert!(n > 0, "oxdb serve closed the connection");
            self.buffer.extend_from_slice(&chunk[..n]);
        }
    }

    pub(crate) fn ask(&mut self, body: &str) -> String {
        self.send_raw(&Self::packet(body.as_bytes()));
        self.receive()
    }

    /// Reads whatever arrives within `wait`, and forgets it.
    fn drain(&mut self, wait: Duration) {
        self.stream.set_read_timeout(wait);
        let mut chunk = [0u8; 65536];
        while matches!(self.stream.read(&mut chunk), Ok(n) if n > 0) {}
        self.stream.set_read_timeout(Duration::from_secs(10));
        self.buffer.clear();
    }

    /// Whether the server closed the connection within `wait` (anything it sends first is dropped).
    pub(crate) fn closed_within(&mut self, wait: Duration) -> bool {
        let deadline = Instant::now() + wait;
        let mut chunk = [0u8; 4096];
        self.stream.set_read_timeout(Duration::from_millis(200));
        while Instant::now() < deadline {
            match self.stream.read(&mut chunk) {
                Ok(0) => return true,
                Ok(_) => {}
                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
                Err(_) => return true,
            }
        }
        false
    }
}

#[test]
fn hostile_packets_leave_the_server_answering_and_the_debuggee_intact() {
    let program = fixture("calls");
    let server = Server::start(&[program.to_str().unwrap()]);
    let mut client = RawClient::connect(&server.address());
    assert!(client.ask("?").starts_with("T05thread:"));
    let registers_before = client.ask("g");
    assert!(registers_before.len() > 200 && registers_before.bytes().all(|b| b.is_ascii_hexdigit()));

    let mut hostile: Vec<Vec<u8>> = vec![
        b"$m12".to_vec(),                        // truncated: no end
        b"$g#00".to_vec(),                       // wrong checksum
        b"$$$###--+".to_vec(),                   // framing noise
        (0..=255u8).collect(),                   // every byte
        RawClient::packet(&vec![b'M'; 1 << 20]), // 1 MiB
    ];
    for body in [
        "m zz,zz",
        "m ffffffffffffffff,ffff",
        "m0,0",
        "M1,4:zz",
        "X0,1:",
        "g:foo",
        "G00",
        "p9999",
        "pffffffffffffffffffff",
        "P9999=00",
        "Hgffffffffffffffffff",
        "Hg-5",
        "Z0,zz,1",
        "Z0,ffffffffffffffff,1",
        "Z2,1,3",
        "z0,1234,1",
        "vCont;s",
        "vCont;x",
        "vRun;zz",
        "qXfer:libraries-svr4:read::ffffffffffffffff,ffff",
        "qXfer:auxv:read::zz",
        "qXfer:features:read:nope.xml:0,100",
        "T-1",
        "qSupported:;;;",
        "vAttach;0",
    ] {
        hostile.push(RawClient::packet(body.as_bytes()));
    }
    for bytes in &hostile {
        client.send_raw(bytes);
    }
    client.drain(Duration::from_millis(500));

    // Still answering, the same registers, the program's data untouched.
    assert!(client.ask("?").starts_with("T05thread:"), "no stop reply after the hostile packets");
    assert_eq!(client.ask("g"), registers_before);
    let marker = b"OXTRACE_MARKER_1234567";
    let reply = client.ask("qXfer:exec-file:read::0,1000");
    let path = reply.strip_prefix(['l', 'm']).unwrap_or_else(|| panic!("exec-file reply {reply:?}"));
    assert_eq!(std::fs::canonicalize(path).unwrap(), std::fs::canonicalize(&program).unwrap());
    // Run to the end: the program prints what it always prints and exits 0.
    let stop = client.ask("vCont;c");
    assert_eq!(stop, "W00", "exit reply");
    client.send_raw(&RawClient::packet(b"k"));
    drop(client);
    let (_, stdout, stderr) = server.finish();
    assert!(stdout.contains("result 15"), "{stdout}\n{stderr}");
    assert!(stdout.contains(&format!("marker={}", String::from_utf8_lossy(marker))), "{stdout}\n{stderr}");
}

#[test]
fn memory_reads_partly_unmapped_give_what_is_there() {
    let program = fixture("calls");
    let server = Server::start(&[program.to_str().unwrap()]);
    let mut client = RawClient::connect(&server.address());
    client.ask("?");
    assert!(client.ask("m0,10").starts_with('E'), "address 0 is unmapped");
    // The last bytes of the stack's top page, then unmapped memory: the readable part comes back.
    let sp_reply = client.ask("p7");
    let sp = u64::from_str_radix(
        &sp_reply.as_bytes().chunks(2).rev().map(|c| std::str::from_utf8(c).unwrap()).collect::<String>(),
        16,
    )
    .unwrap();
    let maps = std::fs::read_to_string(format!("/proc/{}/maps", server_pid(&mut client))).unwrap();
    let stack_end = maps
        .lines()
        .find(|l| l.ends_with("[stack]"))
        .and_then(|l| l.split(['-', ' ']).nth(1))
        .map(|end| u64::from_str_radix(end, 16).unwrap())
        .unwrap();
    assert!(sp < stack_end);
    let reply = client.ask(&format!("m{:x},20", stack_end - 8));
    assert_eq!(reply.len(), 16, "8 readable bytes before the end of the stack: {reply}");
    client.send_raw(&RawClient::packet(b"k"));
    drop(client);
    server.finish();
}

/// The served process's pid, from `qC` (`QCp<pid>.<tid>` with multiprocess, `QC<tid>` without).
pub(crate) fn server_pid(client: &mut RawClient) -> u32 {
    let reply = client.ask("qC");
    let id = reply.trim_start_matches("QC").trim_start_matches('p');
    u32::from_str_radix(id.split('.').next().unwrap(), 16).unwrap()
}

#[test]
fn ctrl_c_stops_a_running_program_and_reports_sigint() {
    let program = fixture("spin");
    let server = Server::start(&[program.to_str().unwrap(), "30"]);
    let mut client = RawClient::connect(&server.address());
    client.ask("?");
    client.send_raw(&RawClient::packet(b"vCont;c"));
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    client.send_raw(&[0x03]);
    let stop = client.receive();
    assert!(stop.starts_with("T02thread:"), "{stop}");
    assert!(started.elapsed() < Duration::from_secs(2));
    // Stopped where it spins: the registers are there, memory reads work.
    assert!(client.ask("g").len() > 200);
    client.send_raw(&RawClient::packet(b"k"));
    drop(client);
    server.finish();
}

#[test]
fn attach_serve_detach_leaves_the_process_running_untraced() {
    let program = fixture("spin");
    let mut spinner = Command::new(&program).arg("30").spawn().unwrap();
    let pid = spinner.id().to_string();
    // Attach once the dynamic linker has loaded libc (before that, its list is empty).
    let deadline = Instant::now() + Duration::from_secs(5);
    while !std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap_or_default().contains("libc.so") {
        assert!(Instant::now() < deadline, "libc never loaded");
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(50));
    let server = Server::start(&["--pid", &pid]);
    let mut client = RawClient::connect(&server.address());
    assert!(client.ask("?").starts_with("T05thread:"));
    assert_eq!(client.ask(&format!("qAttached:{:x}", spinner.id())), "1");
    let reply = client.ask("qXfer:libraries-svr4:read::0,8000");
    assert!(reply.contains("libc.so.6") && reply.contains("main-lm=\"0x"), "{reply}");
    assert_eq!(client.ask("D"), "OK");
    drop(client);
    let (code, _, stderr) = server.finish();
    assert_eq!(code, Some(0), "{stderr}");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let tracer = status.lines().find_map(|l| l.strip_prefix("TracerPid:")).unwrap().trim();
    assert_eq!(tracer, "0", "still traced");
    assert!(spinner.try_wait().unwrap().is_none(), "the detached process died");
    spinner.kill().unwrap();
    spinner.wait().unwrap();
}

#[test]
fn a_wider_listen_address_gets_a_warning() {
    let program = fixture("calls");
    let server = Server::start(&["--listen", "0.0.0.0:0", program.to_str().unwrap()]);
    let mut client = RawClient::connect(&server.address());
    assert!(client.ask("?").starts_with("T05"));
    client.send_raw(&RawClient::packet(b"k"));
    drop(client);
    let (_, stdout, stderr) = server.finish();
    assert!(stdout.starts_with("listening on 0.0.0.0:"), "{stdout}");
    assert!(stderr.lines().any(|l| l.starts_with("warning: listening on 0.0.0.0:")), "{stderr}");
}

#[test]
fn oxdb_remote_debugs_through_oxdb_serve() {
    let program = fixture("calls");
    let server = Server::start(&[program.to_str().unwrap()]);
    let address = server.address();
    let run = crate::support::oxdb(&[
        "--remote",
        &address,
        "--batch",
        "-ex",
        "break *d",
        "-ex",
        "continue",
        "-ex",
        "bt",
        "-ex",
        "regs rdi",
        "-ex",
        "x/s marker",
        "-ex",
        "stepi",
        "-ex",
        "kill",
    ]);
    let (_, _, stderr) = server.finish();
    assert!(run.stdout.contains(&format!("connected to {address}")), "{run}\n{stderr}");
    for (n, name) in ["d", "c", "b", "a", "main"].iter().enumerate() {
        let line =
            run.lines_starting(&format!("#{n} ")).first().copied().unwrap_or_else(|| panic!("no frame {n}:\n{run}"));
        assert!(line.contains(&format!(" in {name}")), "{line}\n{run}");
    }
    assert!(run.stdout.lines().any(|l| l == "rdi       0x0000000000000004  4"), "{run}");
    assert!(run.stdout.contains("\"OXTRACE_MARKER_1234567\""), "{run}");
    assert!(run.stdout.contains(" in d+0x1 from calls"), "{run}");
}

/// Runs lldb in batch mode on `program` with `commands` (`-o` each); stdout and stderr.
/// Fails with a clear message when lldb is not installed.
pub(crate) fn lldb(program: &str, commands: &[&str]) -> String {
    match Command::new("lldb").arg("--version").output() {
        Ok(output) if output.status.success() => {}
        Ok(output) => panic!("lldb --version failed: {}", String::from_utf8_lossy(&output.stderr)),
        Err(e) => panic!("lldb is needed for this test and cannot be run ({e}): install it (.ci/run does)"),
    }
    // lldb in batch mode gives up neither on a server that never answers nor on a
    // process that never stops: `timeout` ends it.
    let mut command = Command::new("timeout");
    command.args(["120", "lldb", "--no-lldbinit", "--batch"]);
    for c in commands {
        command.args(["-o", c]);
    }
    let output = command.arg(program).output().expect("run lldb");
    String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr)
}

/// What lldb printed for `command`: the lines after its echo `(lldb) COMMAND`, up to the next command.
pub(crate) fn lldb_answer<'a>(output: &'a str, command: &str) -> Vec<&'a str> {
    let echo = format!("(lldb) {command}");
    output.lines().skip_while(|l| *l != echo).skip(1).take_while(|l| !l.starts_with("(lldb) ")).collect()
}

/// `(pc, module, function)` of each frame of lldb's `bt`
/// (`  * frame #0: 0x000055d0c2f6e149 calls`d(x=0) at calls.c:9:42`).
pub(crate) fn lldb_frames(answer: &[&str]) -> Vec<(u64, String, String)> {
    answer
        .iter()
        .filter_map(|line| {
            let rest = line.trim_start().trim_start_matches("* ").strip_prefix("frame #")?;
            let (pc, rest) = rest.split_once(": ")?.1.split_once(' ')?;
            let pc = u64::from_str_radix(pc.strip_prefix("0x")?, 16).ok()?;
            let (module, function) = rest.split_once('`')?;
            Some((pc, module.to_owned(), function.split(['(', ' ']).next()?.to_owned()))
        })
        .collect()
}

/// The pc of each frame of gdb's `bt` (`#1  0x0000555555555191 in c (x=3) at ...`); none for
/// a frame shown without one (frame 0 at the start of a line).
fn gdb_frame_pcs(output: &str) -> Vec<Option<u64>> {
    output
        .lines()
        .filter(|l| l.starts_with('#'))
        .map(|line| {
            let address = line.split_whitespace().nth(1)?.strip_prefix("0x")?;
            u64::from_str_radix(address, 16).ok()
        })
        .collect()
}

/// The values of gdb's `info registers rip` lines (`rip  0x555555555149  0x555555555149 <d>`).
fn gdb_rips(output: &str) -> Vec<u64> {
    output
        .lines()
        .filter(|l| l.starts_with("rip "))
        .filter_map(|l| u64::from_str_radix(l.split_whitespace().nth(1)?.strip_prefix("0x")?, 16).ok())
        .collect()
}

/// The value of lldb's `register read rip` (`     rip = 0x000055d0c2f6e149  calls`d at calls.c:9:42`).
fn lldb_rip(answer: &[&str]) -> u64 {
    answer
        .iter()
        .find_map(|l| l.trim_start().strip_prefix("rip = 0x"))
        .and_then(|rest| u64::from_str_radix(rest.split_whitespace().next()?, 16).ok())
        .unwrap_or_else(|| panic!("no rip in {answer:?}"))
}

#[test]
fn lldb_through_oxdb_serve_answers_as_gdb_natively() {
    let program = fixture("calls");
    let program = program.to_str().unwrap();
    // lldb's `breakpoint set -n d` stops at d's first instruction here: gdb's `break *d`.
    let native = gdb(&[
        "-ex",
        "set backtrace past-main on",
        "-ex",
        "break *d",
        "-ex",
        "run",
        "-ex",
        "bt",
        "-ex",
        "info registers rip",
        "-ex",
        "x/8xb marker",
        "-ex",
        "stepi",
        "-ex",
        "info registers rip",
        "-ex",
        "kill",
        program,
    ]);

    let server = Server::start(&[program]);
    let connect = format!("gdb-remote {}", server.address());
    let memory = "memory read --size 1 --format x --count 8 &marker";
    let remote = lldb(
        program,
        &[
            &connect,
            "breakpoint set -n d",
            "continue",
            "bt",
            "register read rip",
            memory,
            "thread step-inst",
            "register read rip",
            "detach",
        ],
    );
    let (code, stdout, stderr) = server.finish();
    let both = format!("--- gdb natively\n{native}\n--- lldb remote\n{remote}\n--- server stderr\n{stderr}");

    // The same frames, by name, down to _start (the libraries are known to lldb).
    let names = backtrace_functions(&native);
    assert_eq!(
        names,
        ["d", "c", "b", "a", "main", "__libc_start_call_main", "__libc_start_main_impl", "_start"],
        "{both}"
    );
    let frames = lldb_frames(&lldb_answer(&remote, "bt"));
    assert_eq!(frames.iter().map(|(_, _, name)| name.as_str()).collect::<Vec<_>>(), names, "{both}");

    // The same pcs: ASLR may place each module elsewhere, so each module's
    // frames are shifted by one page-aligned distance.
    let native_rips = gdb_rips(&native);
    assert_eq!(native_rips.len(), 2, "{both}");
    let mut native_pcs = gdb_frame_pcs(&native);
    native_pcs[0] = native_pcs[0].or(Some(native_rips[0]));
    let mut shifts: std::collections::HashMap<&str, u64> = Default::default();
    for ((pc, module, name), native_pc) in frames.iter().zip(&native_pcs) {
        let native_pc = native_pc.unwrap_or_else(|| panic!("no pc for {name} natively\n{both}"));
        let shift = pc.wrapping_sub(native_pc);
        assert_eq!(shift % 0x1000, 0, "{name}: {pc:#x} vs {native_pc:#x}\n{both}");
        assert_eq!(*shifts.entry(module).or_insert(shift), shift, "{name} in {module}\n{both}");
    }
    let program_shift = shifts[frames[0].1.as_str()];

    // rip before and after one instruction step: gdb's values, shifted alike.
    let rip = lldb_rip(&lldb_answer(&remote, "register read rip"));
    assert_eq!(rip, frames[0].0, "{both}");
    assert_eq!(rip.wrapping_sub(native_rips[0]), program_shift, "{both}");
    let after_step = lldb_answer(&remote, "thread step-inst");
    assert!(after_step.iter().any(|l| l.contains("instruction step into")), "{both}");
    let stepped =
        remote.split("(lldb) thread step-inst").nth(1).map(|rest| lldb_rip(&lldb_answer(rest, "register read rip")));
    assert_eq!(stepped.map(|r| r.wrapping_sub(native_rips[1])), Some(program_shift), "{both}");
    assert_ne!(native_rips[1], native_rips[0], "{both}");

    // Memory: the bytes gdb reads.
    let bytes = lldb_answer(&remote, memory);
    let bytes = bytes.first().and_then(|l| l.split_once(": ")).map(|(_, b)| b.split_whitespace().collect::<Vec<_>>());
    assert_eq!(bytes.map(|b| b.join(" ")), Some(memory_bytes(&native, "marker")), "{both}");

    // Detached, the program ran to its end with the server waiting for it.
    assert!(lldb_answer(&remote, "detach").iter().any(|l| l.ends_with("detached")), "{both}");
    assert_eq!(code, Some(0), "{both}");
    assert!(stdout.contains("result 15") && stdout.contains("marker=OXTRACE_MARKER_1234567"), "{stdout}\n{both}");
}

#[test]
fn lldb_kills_through_oxdb_serve() {
    let program = fixture("calls");
    let program = program.to_str().unwrap();
    let server = Server::start(&[program]);
    let connect = format!("gdb-remote {}", server.address());
    let remote = lldb(program, &[&connect, "breakpoint set -n d", "continue", "kill"]);
    let (_, stdout, stderr) = server.finish();
    let both = format!("--- lldb\n{remote}\n--- server stdout\n{stdout}\n--- server stderr\n{stderr}");
    assert!(lldb_answer(&remote, "continue").iter().any(|l| l.contains("stop reason = breakpoint 1.1")), "{both}");
    // Killed by SIGKILL, as natively, and before it printed anything.
    let kill = lldb_answer(&remote, "kill");
    assert!(
        kill.iter().any(|l| l.ends_with("exited with status = 9 (0x00000009) ")
            || l.ends_with("exited with status = 9 (0x00000009)")),
        "{both}"
    );
    assert!(!kill.iter().any(|l| l.contains("unexpected")), "{both}");
    assert!(!stdout.contains("result"), "{both}");
}
