//! `oxdb serve`'s least privilege: host files limited to what a debugger needs
//! (and gdb still gets its symbols), other processes only with `--multi`, the
//! Unix socket listener, the idle timeout, the non-loopback warning.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::serve::{backtrace_functions, lldb, lldb_answer, lldb_frames, server_pid, RawClient, Server};
use crate::support::{fixture, gdb, gdb_args};

/// Protocol hex of `text`.
fn hex(text: &str) -> String {
    text.bytes().map(|b| format!("{b:02x}")).collect()
}

/// The reply to `vFile:open` of `path` (read-only); the descriptor is closed again.
fn open_reply(client: &mut RawClient, path: &str) -> String {
    let reply = client.ask(&format!("vFile:open:{},0,0", hex(path)));
    if let Some(fd) = reply.strip_prefix('F').filter(|fd| !fd.starts_with('-')) {
        assert_eq!(client.ask(&format!("vFile:close:{fd}")), "F0");
    }
    reply
}

/// `vFile:open`'s refusal with `EACCES` (13), as the protocol writes it.
const REFUSED: &str = "F-1,0d";

/// A fresh directory under the system's temporary directory (short paths: Unix socket names are limited).
fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("oxdb-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn vfile_gives_the_programs_files_and_refuses_others() {
    let program = fixture("calls");
    let dir = scratch_dir("vfile");
    let allowed = dir.join("allowed");
    std::fs::create_dir(&allowed).unwrap();
    std::fs::write(allowed.join("notes.txt"), b"shared").unwrap();
    std::os::unix::fs::symlink("/etc/passwd", allowed.join("escape")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", dir.join("passwd-link")).unwrap();
    std::os::unix::fs::symlink(&program, dir.join("program-link")).unwrap();
    let notes = allowed.join("notes.txt").display().to_string();

    for widened in [false, true] {
        let mut args = vec![];
        let allowed_arg = allowed.display().to_string();
        if widened {
            args.extend(["--allow-files", allowed_arg.as_str()]);
        }
        args.push(program.to_str().unwrap());
        let server = Server::start(&args);
        let mut client = RawClient::connect(&server.address());
        assert!(client.ask("?").starts_with("T05"));
        let pid = server_pid(&mut client);
        // What a debugger needs: the program (by any name), the libraries, the process's maps.
        for path in [
            program.display().to_string(),
            dir.join("program-link").display().to_string(),
            "/lib64/ld-linux-x86-64.so.2".into(),
            format!("/proc/{pid}/maps"),
            format!("/proc/{pid}/exe"),
        ] {
            let reply = open_reply(&mut client, &path);
            assert!(reply.starts_with('F') && !reply.starts_with("F-"), "{path}: {reply}");
        }
        // Nothing else, whatever the name.
        for path in [
            "/etc/passwd".to_string(),
            dir.join("passwd-link").display().to_string(),
            format!("/proc/{pid}/root/etc/passwd"),
            format!("/proc/{pid}/cwd/../../../../../../../../etc/passwd"),
            format!("/proc/{pid}/environ"),
            allowed.join("escape").display().to_string(),
            "/etc".into(),
        ] {
            assert_eq!(open_reply(&mut client, &path), REFUSED, "{path}");
        }
        let reply = open_reply(&mut client, &notes);
        assert_eq!(reply.starts_with("F-"), !widened, "{notes} with --allow-files: {widened}: {reply}");
        // A missing file where files may be read is missing (ENOENT); elsewhere refused.
        let missing = allowed.join("missing").display().to_string();
        assert_eq!(open_reply(&mut client, &missing), if widened { "F-1,02" } else { REFUSED }, "{missing}");
        // Links are read only where files are.
        let link = client.ask(&format!("vFile:readlink:{}", hex(&format!("/proc/{pid}/exe"))));
        assert!(link.starts_with('F') && !link.starts_with("F-"), "{link}");
        let link = client.ask(&format!("vFile:readlink:{}", hex(&dir.join("passwd-link").display().to_string())));
        assert_eq!(link, REFUSED);
        // Writing is refused even where reading is allowed.
        assert_eq!(client.ask(&format!("vFile:open:{},1,1a4", hex(&program.display().to_string()))), REFUSED);
        client.send_raw(&RawClient::packet(b"k"));
        drop(client);
        let (_, _, stderr) = server.finish();
        assert!(
            stderr
                .lines()
                .any(|l| l == "oxserve: refused vFile:open of /etc/passwd (not a file of the served program)"),
            "{stderr}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn gdb_loads_symbols_through_the_limited_vfile_and_is_refused_the_rest() {
    let program = fixture("calls");
    let program = program.to_str().unwrap();
    let commands = ["set backtrace past-main on", "break d", "RUN", "bt"];
    let native_commands: Vec<&str> = commands.iter().map(|&c| if c == "RUN" { "run" } else { c }).collect();
    let mut args = gdb_args(&native_commands);
    args.extend(["-ex", "kill", program]);
    let native = gdb(&args);

    let server = Server::start(&[program]);
    let target = format!("target extended-remote {}", server.address());
    let mut remote_commands = vec!["set backtrace past-main on", target.as_str()];
    remote_commands.extend(commands[1..].iter().map(|&c| if c == "RUN" { "continue" } else { c }));
    remote_commands.extend(["remote get /etc/passwd /dev/null", "kill"]);
    let mut args = gdb_args(&remote_commands);
    args.push(program);
    let remote = gdb(&args);
    let (_, _, stderr) = server.finish();
    let both = format!("--- native\n{native}\n--- remote\n{remote}\n--- server stderr\n{stderr}");

    // Through libc, with its source lines from the separate debug file (libc6-dbg).
    let names = backtrace_functions(&native);
    assert_eq!(names[..6], ["d", "c", "b", "a", "main", "__libc_start_call_main"], "{both}");
    assert_eq!(backtrace_functions(&remote), names, "{both}");
    let libc_frame = |output: &str| output.lines().find(|l| l.contains("in __libc_start_call_main")).map(str::to_owned);
    let native_frame = libc_frame(&native).unwrap_or_else(|| panic!("{both}"));
    assert!(native_frame.contains("libc_start_call_main.h:"), "{both}");
    let line = |frame: &str| frame.rsplit_once(" at ").map(|(_, at)| at.to_owned());
    assert_eq!(libc_frame(&remote).as_deref().and_then(line), line(&native_frame), "{both}");
    // The file gdb asked for and may not have; nothing gdb needed was refused.
    assert!(remote.contains("Permission denied"), "{both}");
    let refusals: Vec<&str> = stderr.lines().filter(|l| l.contains("refused")).collect();
    assert_eq!(refusals, ["oxserve: refused vFile:open of /etc/passwd (not a file of the served program)"], "{both}");
}

/// A process to attach to: `spin 30`, once it has started.
fn spinner() -> std::process::Child {
    let child = Command::new(fixture("spin")).arg("30").spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !std::fs::read_to_string(format!("/proc/{}/maps", child.id())).unwrap_or_default().contains("libc.so") {
        assert!(Instant::now() < deadline, "spin never started");
        std::thread::sleep(Duration::from_millis(10));
    }
    child
}

#[test]
fn other_processes_only_with_multi() {
    let program = fixture("calls");
    let program = program.to_str().unwrap();
    let mut other = spinner();
    let other_pid = format!("{:x}", other.id());
    let shell = format!("vRun;{};{};{}", hex("/bin/sh"), hex("-c"), hex("echo owned"));

    let server = Server::start(&[program]);
    let mut client = RawClient::connect(&server.address());
    let served = server_pid(&mut client);
    assert_eq!(client.ask(&shell), "E01");
    assert_eq!(client.ask(&format!("vAttach;{other_pid}")), "E01");
    assert_eq!(client.ask(&format!("vKill;{other_pid}")), "E01");
    assert_eq!(server_pid(&mut client), served, "still serving the same process");
    // The served program may be started again, by any of its names.
    let dir = scratch_dir("multi");
    let alias = dir.join("alias");
    std::os::unix::fs::symlink(program, &alias).unwrap();
    let stop = client.ask(&format!("vRun;{}", hex(&alias.display().to_string())));
    assert!(stop.starts_with("T05"), "{stop}");
    let restarted = server_pid(&mut client);
    assert_ne!(restarted, served);
    let exe = std::fs::read_link(format!("/proc/{restarted}/exe")).unwrap();
    assert_eq!(exe, std::fs::canonicalize(program).unwrap());
    std::fs::remove_dir_all(&dir).unwrap();
    client.send_raw(&RawClient::packet(b"k"));
    drop(client);
    let (_, stdout, stderr) = server.finish();
    assert!(!stdout.contains("owned"), "{stdout}");
    for refused in ["refused vRun of /bin/sh", &format!("refused vAttach to process {}", other.id()), "refused vKill"] {
        assert!(stderr.lines().any(|l| l.starts_with("oxserve: ") && l.contains(refused)), "{refused}:\n{stderr}");
    }
    assert!(other.try_wait().unwrap().is_none(), "the other process was touched");

    let server = Server::start(&["--multi", program]);
    let mut client = RawClient::connect(&server.address());
    let stop = client.ask(&format!("vAttach;{other_pid}"));
    assert!(stop.starts_with('T'), "{stop}");
    assert_eq!(server_pid(&mut client), other.id());
    assert_eq!(client.ask(&format!("vKill;{other_pid}")), "OK");
    let stop = client.ask(&shell);
    assert!(stop.starts_with("T05"), "{stop}");
    assert_eq!(client.ask("vCont;c"), "W00");
    client.send_raw(&RawClient::packet(b"k"));
    drop(client);
    let (_, stdout, stderr) = server.finish();
    assert!(stdout.contains("owned"), "{stdout}\n{stderr}");
    assert!(!stderr.contains("refused"), "{stderr}");
    let status = other.wait().unwrap();
    assert!(!status.success(), "the attached process was killed: {status}");
}

#[test]
fn unix_socket_is_private_and_serves_gdb_and_lldb() {
    let program = fixture("calls");
    let program = program.to_str().unwrap();
    let dir = scratch_dir("unix");
    let socket = dir.join("serve.sock");
    let listen = format!("unix:{}", socket.display());

    let check_socket = |path: &Path| {
        let meta = std::fs::symlink_metadata(path).unwrap();
        assert!(meta.file_type().is_socket());
        assert_eq!(meta.mode() & 0o777, 0o600, "mode {:o}", meta.mode());
    };

    let server = Server::start(&["--listen", &listen, program]);
    assert_eq!(server.address(), listen);
    check_socket(&socket);
    let target = format!("target extended-remote {}", socket.display());
    let commands = [target.as_str(), "break d", "continue", "bt", "kill"];
    let mut args = gdb_args(&commands);
    args.push(program);
    let remote = gdb(&args);
    let (_, _, stderr) = server.finish();
    assert_eq!(backtrace_functions(&remote), ["d", "c", "b", "a", "main"], "{remote}\n{stderr}");
    assert!(!socket.exists(), "the socket file stays");

    let server = Server::start(&["--listen", &listen, program]);
    check_socket(&socket);
    let connect = format!("process connect --plugin gdb-remote unix-connect://{}", socket.display());
    let remote = lldb(program, &[&connect, "breakpoint set -n d", "continue", "bt", "kill"]);
    let (_, _, stderr) = server.finish();
    let frames = lldb_frames(&lldb_answer(&remote, "bt"));
    let names: Vec<&str> = frames.iter().map(|(_, _, name)| name.as_str()).collect();
    assert_eq!(names[..5], ["d", "c", "b", "a", "main"], "{remote}\n{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_idle_client_is_dropped_after_the_timeout() {
    let program = fixture("calls");
    let server = Server::start(&["--idle-timeout", "1", program.to_str().unwrap()]);
    let mut client = RawClient::connect(&server.address());
    assert!(client.ask("?").starts_with("T05"));
    assert!(client.closed_within(Duration::from_secs(15)), "{}", server.stderr_so_far());
    let (code, stdout, stderr) = server.finish();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("oxdb serve: dropped the client, idle for 1 s"), "{stderr}");
    assert!(!stdout.contains("result"), "the program ran on: {stdout}");
}

#[test]
fn the_warning_is_for_addresses_other_machines_reach() {
    let program = fixture("calls");
    for (listen, warned) in [
        ("127.0.0.2:0", false),
        ("[::1]:0", false),
        ("[::ffff:127.0.0.1]:0", false),
        ("0.0.0.0:0", true),
        ("[::]:0", true),
    ] {
        let server = Server::start(&["--listen", listen, program.to_str().unwrap()]);
        let mut client = RawClient::connect(&server.address());
        assert!(client.ask("?").starts_with("T05"), "{listen}");
        client.send_raw(&RawClient::packet(b"k"));
        drop(client);
        let (_, stdout, stderr) = server.finish();
        let host = listen.trim_end_matches(":0");
        assert!(stdout.starts_with(&format!("listening on {host}:")), "{listen}: {stdout}");
        let warning = stderr.lines().any(|l| l.starts_with(&format!("warning: listening on {host}:")));
        assert_eq!(warning, warned, "{listen}: {stderr}");
    }
}
