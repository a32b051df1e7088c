//! Changing a 32-bit (i386) debuggee: functions called by cdecl, system calls
//! injected through `int 0x80`, memory allocated and protected, a library
//! injected; and its system calls traced under their i386 numbers.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use oxtrace::{CallArg, EventKind, ExitStatus, Mode, Perms, SyscallStop, Trace};

use crate::support::{fixture_i386, fixture_library_i386, Opt};
use crate::{read_all, run_to_exit};

/// A 32-bit fixture stopped at the entry of `function`, with its stdout captured.
fn stopped_at(name: &str, function: &str, opt: Opt) -> (Trace, std::io::PipeReader) {
    let (reader, writer) = std::io::pipe().unwrap();
    let mut command = Command::new(fixture_i386(name, opt));
    command.stdout(writer).stderr(Stdio::null());
    let mut trace = Trace::spawn(command).unwrap();
    let at = trace.sym_by_name(function).unwrap();
    trace.run_until(at).unwrap();
    (trace, reader)
}

fn general_registers(trace: &mut Trace) -> Vec<u8> {
    let ctx = trace.registers().unwrap();
    ctx.block(oxtrace::arch::RegisterGroup::General).unwrap().to_vec()
}

#[test]
fn cdecl_calls_with_strings_and_wide_results_leave_the_thread_as_it_was() {
    for opt in [Opt::O0, Opt::O2] {
        let (mut trace, out) = stopped_at("i386", "check", opt);
        let before = general_registers(&mut trace);
        let add3 = trace.sym_by_name("add3").unwrap();
        let args = [CallArg::Int(1), CallArg::Int(2), CallArg::Int(3)];
        assert_eq!(trace.call(add3, &args).unwrap().value, 14);
        let strlen = trace.sym_by_name("libc.strlen").unwrap();
        assert_eq!(trace.call(strlen, &["thirty-two bits".into()]).unwrap().value, 15);
        // A negative int comes back in eax as its 32-bit pattern.
        let check = trace.sym_by_name("check").unwrap();
        assert_eq!(trace.call(check, &[CallArg::Int(u64::from(-5i32 as u32))]).unwrap().value as u32 as i32, -10);
        assert_eq!(general_registers(&mut trace), before, "{opt:?}: the thread is as it was");
        assert!(trace.call(add3, &[CallArg::Int(1)]).unwrap_err().to_string().contains("3 argument"));
        assert_eq!(run_to_exit(&mut trace), ExitStatus::Code(0));
        assert!(read_all(out).contains("check=42"));
    }
}

#[test]
fn a_call_from_inside_a_blocked_read_and_the_read_goes_on() {
    let (stdin_reader, mut stdin_writer) = std::io::pipe().unwrap();
    let (out_reader, out_writer) = std::io::pipe().unwrap();
    let mut command = Command::new(fixture_i386("callee", Opt::O0));
    command.arg("read").stdin(stdin_reader).stdout(out_writer).stderr(Stdio::null());
    let mut trace = Trace::spawn(command).unwrap();
    trace.start().unwrap();
    assert_eq!(trace.wait_timeout(Duration::from_millis(200)).unwrap(), None, "blocked in read()");
    trace.interrupter().interrupt().unwrap();
    let event = trace.wait_timeout(Duration::from_secs(10)).unwrap().expect("stopped");
    assert_eq!(event.kind, EventKind::Interrupted);
    let strlen = trace.sym_by_name("libc.strlen").unwrap();
    assert_eq!(trace.call(strlen, &["inside read".into()]).unwrap().value, 11);
    stdin_writer.write_all(b"abc").unwrap();
    drop(stdin_writer);
    assert_eq!(run_to_exit(&mut trace), ExitStatus::Code(0));
    assert!(read_all(out_reader).contains("read 3: abc"), "the read was restarted and got the data");
}

#[test]
fn memory_allocated_by_int_0x80_runs_code_written_there() {
    let (mut trace, _out) = stopped_at("i386", "check", Opt::O2);
    let rwx = Perms { read: true, write: true, exec: true, shared: false };
    let page = trace.allocate_memory(4096, rwx, None).unwrap();
    assert!(page < 1 << 32 && page % 4096 == 0, "{page:#x}");
    let map = trace.memory_map(page).unwrap().expect("the maps show the allocation");
    assert!(map.perms.read && map.perms.write && map.perms.exec, "{map:?}");
    // mov eax, [esp+4]; add eax, 42; ret
    trace.write_memory(page, &[0x8b, 0x44, 0x24, 0x04, 0x83, 0xc0, 0x2a, 0xc3]).unwrap();
    assert_eq!(trace.call(page, &[CallArg::Int(8)]).unwrap().value, 50);
    let read_only = Perms { read: true, write: false, exec: false, shared: false };
    trace.protect_memory(page, 4096, read_only).unwrap();
    assert!(!trace.memory_map(page).unwrap().unwrap().perms.write);
    trace.free_memory(page, 4096).unwrap();
    assert!(trace.memory_map(page).unwrap().is_none(), "freed");
    // An error comes back as the errno, sign-extended from eax.
    let err = trace.protect_memory(page + 1, 4096, read_only).unwrap_err().to_string();
    assert!(err.contains("mprotect") && err.contains("Invalid argument"), "{err}");
    let getpid = trace.arch().syscall_number("getpid").unwrap();
    assert_eq!(trace.inject_syscall("getpid", getpid, &[]).unwrap(), trace.pid() as u64);
    assert_eq!(run_to_exit(&mut trace), ExitStatus::Code(0));
}

#[test]
fn an_injected_32_bit_library_loads_and_its_functions_can_be_called() {
    let (mut trace, _out) = stopped_at("i386", "check", Opt::O0);
    let library = fixture_library_i386("injected", Opt::O0);
    let handle = trace.inject_so(&library).unwrap();
    assert!(handle != 0 && handle < 1 << 32);
    let names: Vec<String> = trace.libraries().unwrap().into_iter().map(|l| l.name).collect();
    assert!(names.iter().any(|n| n == "libinjected") && names.iter().any(|n| n == "libc"), "{names:?}");
    let link_map = trace.link_map().unwrap();
    assert!(link_map.iter().any(|e| e.name.ends_with("libinjected.so")), "{link_map:?}");
    let answer = trace.sym_by_name("libinjected.injected_answer").unwrap();
    assert_eq!(trace.call(answer, &[CallArg::Int(1)]).unwrap().value, 42, "its constructor ran once");
    assert_eq!(run_to_exit(&mut trace), ExitStatus::Code(0));
}

#[test]
fn system_calls_are_traced_under_their_i386_numbers() {
    let mut command = Command::new(fixture_i386("syscalls", Opt::O0));
    command.stdout(Stdio::null()).stderr(Stdio::null());
    let mut trace = Trace::spawn(command).unwrap();
    trace.set_mode(Mode::Syscall, true);
    let mut calls = Vec::new();
    let status = loop {
        let event = trace.run().unwrap();
        match event.kind {
            EventKind::Syscall(SyscallStop::Exit { number, ret }) => {
                let name = trace.arch().syscall_name(number).unwrap_or("?");
                calls.push((name.to_owned(), ret));
            }
            EventKind::Exited(status) => break status,
            _ => {}
        }
    };
    assert_eq!(status, ExitStatus::Code(0));
    let find = |name: &str| calls.iter().rev().find(|(n, _)| n == name).map(|(_, ret)| *ret);
    assert_eq!(find("write"), Some(6), "{calls:?}");
    assert_eq!(find("getpid"), Some(i64::from(trace.pid())));
    assert_eq!(find("close"), Some(-i64::from(libc::EBADF)));
    assert!(find("mmap2").is_some() && find("set_thread_area").is_some(), "i386-only calls: {calls:?}");
}

#[test]
fn hooks_see_cdecl_arguments_and_return_values_through_recursion() {
    use std::cell::RefCell;
    use std::rc::Rc;
    for opt in [Opt::O0, Opt::O2] {
        let mut command = Command::new(fixture_i386("watch", opt));
        command.stdout(Stdio::null()).stderr(Stdio::null());
        let mut trace = Trace::spawn(command).unwrap();
        let recurse = trace.sym_by_name("recurse").unwrap();
        let entries = Rc::new(RefCell::new(Vec::new()));
        let returns = Rc::new(RefCell::new(Vec::new()));
        let (e, r) = (entries.clone(), returns.clone());
        let pre = Box::new(move |_: &mut Trace, call: &oxtrace::HookCall| e.borrow_mut().push(call.args[0]));
        let post =
            Box::new(move |_: &mut Trace, call: &oxtrace::HookCall, ret: u64| r.borrow_mut().push((call.args[0], ret)));
        trace.add_hook(recurse, 1, Some(pre), Some(post)).unwrap();
        assert_eq!(run_to_exit(&mut trace), ExitStatus::Code(0));
        assert_eq!(*entries.borrow(), [5, 4, 3, 2, 1, 0], "{opt:?}");
        // recurse(d) = d + 2 * recurse(d - 1): innermost first.
        assert_eq!(*returns.borrow(), [(0, 0), (1, 1), (2, 4), (3, 11), (4, 26), (5, 57)], "{opt:?}");
    }
}

#[test]
fn page_watches_on_a_32_bit_heap_report_each_write() {
    for opt in [Opt::O0, Opt::O2] {
        let (mut trace, out) = stopped_at("callee", "ready", opt);
        let pointer = trace.sym_by_name("heap_buffer").unwrap();
        let heap = trace.read_ptr(pointer).unwrap();
        assert!(heap != 0 && heap < 1 << 32);
        trace.add_page_watch(heap + 64, 4, oxtrace::WatchKind::Write).unwrap();
        assert!(
            !trace.memory_map(heap).unwrap().unwrap().perms.write,
            "read-only while watched (mprotect by int 0x80)"
        );
        let mut hits = Vec::new();
        let status = loop {
            let event = trace.run().unwrap();
            match event.kind {
                EventKind::PageWatch { addr, access, pc, .. } => {
                    let function = trace.sym_by_addr(pc, false).unwrap().unwrap_or_default();
                    hits.push((addr, access, function));
                }
                EventKind::Exited(status) => break status,
                other => panic!("unexpected {other:?}"),
            }
        };
        assert_eq!(status, ExitStatus::Code(0));
        assert_eq!(hits.len(), 1, "{opt:?}: {hits:?}");
        assert_eq!((hits[0].0, hits[0].1), (heap + 64, oxtrace::PageAccess::Write));
        assert!(hits[0].2.starts_with("touch_heap"), "{hits:?}");
        assert!(read_all(out).contains("first byte 1"));
    }
}
