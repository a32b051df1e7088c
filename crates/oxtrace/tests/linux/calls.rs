//! Changing the debuggee: calling its functions (System V arguments, strings,
//! more than six arguments, from inside a blocked system call), allocating
//! and protecting memory by injected system calls, loading a library into it;
//! and the state is restored whatever happens.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use oxtrace::{CallArg, EventKind, EventType, ExitStatus, Perms, Trace};

use crate::support::{fixture, fixture_library, Opt};
use crate::{read_all, run_to_exit, spawn_with_output};

/// The `callee` fixture stopped in `ready()`, and its output.
fn stopped_in_ready(opt: Opt) -> (Trace, std::io::PipeReader) {
    let (mut trace, output) = spawn_with_output("callee", opt, &[]);
    let ready = trace.sym_by_name("ready").unwrap();
    trace.run_until(ready).unwrap();
    (trace, output)
}

fn general_registers(trace: &mut Trace) -> Vec<(String, u64)> {
    let names = ["rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r12", "r15", "rip", "eflags"];
    names.iter().map(|n| (n.to_string(), trace.register_u64(n).unwrap())).collect()
}

#[test]
fn calls_with_strings_and_eight_arguments_leave_the_thread_as_it_was() {
    for opt in [Opt::O0, Opt::O2] {
        let (mut trace, output) = stopped_in_ready(opt);
        let before = general_registers(&mut trace);
        let xmm0 = trace.register("xmm0").unwrap();
        let strlen = trace.sym_by_name("libc.strlen").unwrap();
        assert_eq!(trace.call(strlen, &[CallArg::from("hello")]).unwrap().value, 5);
        let args: Vec<CallArg> = (1..=8).map(CallArg::Int).collect();
        let sum8 = trace.sym_by_name("sum8").unwrap();
        let result = trace.call(sum8, &args).unwrap();
        assert_eq!(result.value, (1..=8).map(|i| i * i).sum::<u64>(), "8 arguments, 2 on the stack");
        assert_eq!(result.registers.get_u64("rax").unwrap(), result.value);
        let scaled = trace.call_expr("scaled_length", &["twelve chars".into(), CallArg::Int(3)]).unwrap();
        assert_eq!(scaled.value, 36);
        assert_eq!(general_registers(&mut trace), before, "registers restored");
        assert_eq!(trace.register("xmm0").unwrap(), xmm0);
        // The program goes on as if nothing happened.
        assert_eq!(run_to_exit(&mut trace), ExitStatus::Code(0));
        assert!(read_all(output).contains("checksum 40"));
    }
}

#[test]
fn a_call_from_inside_a_blocked_read_and_the_read_goes_on() {
    let (stdin_reader, mut stdin_writer) = std::io::pipe().unwrap();
    let (out_reader, out_writer) = std::io::pipe().unwrap();
    let mut command = Command::new(fixture("callee", Opt::O0));
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
fn allocated_memory_runs_code_written_there() {
    let (mut trace, _output) = stopped_in_ready(Opt::O2);
    let rwx = Perms { read: true, write: true, exec: true, shared: false };
    let page = trace.allocate_memory(4096, rwx, None).unwrap();
    let map = trace.memory_map(page).unwrap().expect("the maps show the allocation");
    assert!(map.perms.read && map.perms.write && map.perms.exec, "{map:?}");
    // mov eax, 42; add eax, edi; ret
    trace.write_memory(page, &[0xb8, 0x2a, 0, 0, 0, 0x01, 0xf8, 0xc3]).unwrap();
    assert_eq!(trace.call(page, &[CallArg::Int(8)]).unwrap().value, 50);
    let read_only = Perms { read: true, write: false, exec: false, shared: false };
    trace.protect_memory(page, 4096, read_only).unwrap();
    assert!(!trace.memory_map(page).unwrap().unwrap().perms.write);
    trace.free_memory(page, 4096).unwrap();
    assert!(trace.memory_map(page).unwrap().is_none(), "freed");
    assert_eq!(run_to_exit(&mut trace), ExitStatus::Code(0));
}

#[test]
fn an_injected_library_loads_and_its_functions_can_be_called() {
    let (mut trace, _output) = stopped_in_ready(Opt::O0);
    let loaded = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let seen = loaded.clone();
    trace.register_notifier(EventType::LibraryLoaded, move |_, e| seen.borrow_mut().push(e.kind.clone()));
    let library = fixture_library("injected", Opt::O0);
    let handle = trace.inject_so(&library).unwrap();
    assert_ne!(handle, 0);
    assert!(
        loaded.borrow().iter().any(|k| matches!(k, EventKind::LibraryLoaded { name, .. } if name == "libinjected")),
        "{:?}",
        loaded.borrow()
    );
    let answer = trace.sym_by_name("libinjected.injected_answer").unwrap();
    assert_eq!(trace.call(answer, &[CallArg::Int(1)]).unwrap().value, 42, "its constructor ran once");
    assert_eq!(run_to_exit(&mut trace), ExitStatus::Code(0));
}

#[test]
fn bad_calls_are_errors_and_leave_the_debuggee_as_it_was() {
    let (mut trace, output) = stopped_in_ready(Opt::O0);
    let before = general_registers(&mut trace);
    let err = trace.call(0x10, &[]).unwrap_err().to_string();
    assert!(err.contains("0x10") && err.contains("not in executable memory"), "{err}");
    let err = trace.inject_so(std::path::Path::new("/no/such/libnothing.so")).unwrap_err().to_string();
    assert!(err.contains("/no/such/libnothing.so"), "{err}");
    let not_elf = fixture("callee", Opt::O0).with_extension("txt");
    std::fs::write(&not_elf, "not a library").unwrap();
    let err = trace.inject_so(&not_elf).unwrap_err().to_string();
    assert!(err.contains("callee") && err.contains(".txt"), "{err}");
    let sum8 = trace.sym_by_name("sum8").unwrap();
    let err = trace.call(sum8, &[CallArg::Int(1), CallArg::Int(2)]).unwrap_err().to_string();
    assert!(err.contains("sum8 takes 8 argument(s), not 2"), "{err}");
    // A crash inside the called function is reported, and the thread restored.
    let strlen = trace.sym_by_name("libc.strlen").unwrap();
    let err = trace.call(strlen, &[CallArg::Int(0)]).unwrap_err().to_string();
    assert!(err.contains("did not return") && err.contains("signal 11"), "{err}");
    assert_eq!(general_registers(&mut trace), before);
    let err = trace.allocate_memory(0, Perms::default(), None).unwrap_err().to_string();
    assert!(err.contains("0 bytes"), "{err}");
    let err = trace.protect_memory(0x1001, 4096, Perms::default()).unwrap_err().to_string();
    assert!(err.contains("mprotect") && err.contains(&trace.pid().to_string()), "{err}");
    // The crash's signal is not delivered afterwards: the program ends normally.
    assert_eq!(run_to_exit(&mut trace), ExitStatus::Code(0));
    assert!(read_all(output).contains("checksum 40"));
}

#[test]
fn structs_by_type_name_match_gdbs_print() {
    let (mut trace, _output) = stopped_in_ready(Opt::O0);
    let shape = trace.sym_by_name("the_shape").unwrap();
    let value = trace.read_typed("struct shape", shape).unwrap();
    let corner = value.field("corners").and_then(|c| c.index(1)).and_then(|p| p.field("y"));
    assert_eq!(corner, Some(&oxtrace::symbols::Value::Int(4)));
    let layout = trace.type_layout("struct shape").unwrap();
    assert_eq!(layout.size, 48);
    let ours = trace.format_typed("struct shape", shape).unwrap();
    assert!(trace.read_typed("struct nosuch", shape).unwrap_err().to_string().contains("nosuch"));
    // The C library's own types, from its debug file where installed.
    if trace.symbols().unwrap().module_by_name("libc").unwrap().image.debug_file().is_some() {
        let started = std::time::Instant::now();
        assert_eq!(trace.type_layout("struct stat").unwrap().size, 144);
        eprintln!("struct stat found in libc's DWARF in {:?}", started.elapsed());
    }
    let gdb = crate::support::gdb_on_the_same_stop(&mut trace, &["print the_shape".into()]);
    let line = gdb.lines().find_map(|l| l.strip_prefix("$1 = ")).unwrap_or_else(|| panic!("no print in:\n{gdb}"));
    assert_eq!(ours, line, "gdb:\n{gdb}");
}

#[test]
fn a_call_from_a_breakpoint_stop_does_not_hit_that_breakpoint_again() {
    let (mut trace, _output) = spawn_with_output("callee", Opt::O2, &[]);
    let ready = trace.sym_by_name("ready").unwrap();
    trace.add_break_by_addr(ready).unwrap();
    assert!(matches!(trace.run().unwrap().kind, EventKind::Breakpoint { .. }));
    let sum8 = trace.sym_by_name("sum8").unwrap();
    let args: Vec<CallArg> = (1..=8).map(CallArg::Int).collect();
    trace.call(sum8, &args).unwrap();
    let page =
        trace.allocate_memory(4096, Perms { read: true, write: true, exec: false, shared: false }, None).unwrap();
    trace.free_memory(page, 4096).unwrap();
    assert_eq!(run_to_exit(&mut trace), ExitStatus::Code(0), "ready is not hit a second time");
}
