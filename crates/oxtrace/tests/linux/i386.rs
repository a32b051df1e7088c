//! 32-bit (i386) programs on x86_64 Linux, debugged through the same `Trace`:
//! fixtures built with `gcc -m32` at test time, registers under their i386
//! names, cdecl arguments on the stack.

use std::process::{Command, Stdio};

use oxtrace::{EventKind, ExitStatus, RegValue, Trace, WatchKind};

use crate::read_all;
use crate::support::{fixture_i386, Opt};

/// Spawns a 32-bit fixture with its stdout captured.
fn spawn_i386(name: &str, opt: Opt, args: &[&str]) -> (Trace, std::io::PipeReader) {
    let (reader, writer) = std::io::pipe().expect("pipe");
    let mut command = Command::new(fixture_i386(name, opt));
    command.args(args).stdout(writer).stderr(Stdio::null());
    (Trace::spawn(command).expect("spawn 32-bit fixture"), reader)
}

/// Runs to the process's exit.
fn run_to_exit(trace: &mut Trace) -> ExitStatus {
    crate::run_to_exit(trace)
}

/// The `n`th cdecl argument (from 0) of the function the current thread just entered.
fn stack_argument(trace: &mut Trace, n: u64) -> u32 {
    let esp = trace.register_u64("esp").unwrap();
    trace.read_u32(esp + 4 + 4 * n).unwrap()
}

#[test]
fn a_32_bit_program_is_traced_as_i386_to_its_exit() {
    for opt in [Opt::O0, Opt::O2] {
        let (mut trace, out) = spawn_i386("i386", opt, &[]);
        assert_eq!(trace.arch().name, "i386");
        assert_eq!(trace.arch().pointer_size, 4);
        let pc = trace.pc().unwrap();
        assert!(pc < 1 << 32, "{pc:#x}");
        assert_eq!(trace.register_u64("eip").unwrap(), pc);
        assert_eq!(trace.register_u64("cs").unwrap(), 0x23, "the 32-bit code segment");
        assert!(trace.register("rax").is_err(), "no 64-bit names");
        assert_eq!(run_to_exit(&mut trace), ExitStatus::Code(0));
        assert!(read_all(out).contains("check=42"));
    }
}

#[test]
fn breakpoints_read_and_change_cdecl_arguments() {
    for opt in [Opt::O0, Opt::O2] {
        let (mut trace, out) = spawn_i386("i386", opt, &[]);
        let check = trace.sym_by_name("check").unwrap();
        assert!(check < 1 << 32);
        trace.run_until(check).unwrap();
        assert_eq!(trace.pc().unwrap(), check);
        assert_eq!(stack_argument(&mut trace, 0), 21);
        let esp = trace.register_u64("esp").unwrap();
        trace.write_u32(esp + 4, 100).unwrap();
        // A conditional breakpoint: add3 stops only when its second argument is 2.
        let add3 = trace.sym_by_name("add3").unwrap();
        trace.add_break_if(add3, |t| stack_argument(t, 1) == 2).unwrap();
        let event = trace.run().unwrap();
        assert!(matches!(event.kind, EventKind::Breakpoint { addr, .. } if addr == add3), "{event:?}");
        assert_eq!((stack_argument(&mut trace, 0), stack_argument(&mut trace, 2)), (1, 3));
        // The return address is a 4-byte word on the stack.
        let esp = trace.register_u64("esp").unwrap();
        let ret = trace.read_ptr(esp).unwrap();
        assert_eq!(trace.sym_by_addr(ret, false).unwrap().unwrap().split('+').next(), Some("main"));
        assert_eq!(run_to_exit(&mut trace), ExitStatus::Code(0));
        let out = read_all(out);
        assert!(out.contains("check=200") && out.contains("add3=14"), "{opt:?}: {out}");
    }
}

#[test]
fn registers_have_i386_names_and_writes_reach_the_program() {
    let (mut trace, out) = spawn_i386("i386", Opt::O0, &[]);
    let probe = trace.sym_by_name("vec_probe").unwrap();
    trace.run_until(probe).unwrap();
    for def in trace.arch().registers {
        let value = trace.register(def.name).unwrap_or_else(|e| panic!("{}: {e}", def.name));
        assert_eq!(value.len(), def.size(), "{}", def.name);
    }
    trace.set_register("eax", 0x1122_3344u64).unwrap();
    assert_eq!(trace.register_u64("ax").unwrap(), 0x3344);
    assert_eq!(trace.register_u64("ah").unwrap(), 0x33);
    trace.set_register("bl", 0x42u64).unwrap();
    assert_eq!(trace.register_u64("ebx").unwrap() & 0xff, 0x42);
    assert_ne!(trace.register_u64("gs").unwrap(), 0, "TLS through gs");
    assert_ne!(trace.register_u64("mxcsr").unwrap(), 0);
    let xmm0 = trace.register("xmm0").unwrap();
    assert_eq!(xmm0.to_u128(), Some(0x01ff_eedd_ccbb_aa99_8877_6655_4433_2211));
    assert_eq!(&trace.register("ymm0").unwrap().as_bytes()[..16], xmm0.as_bytes());
    let pattern: u128 = 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210;
    trace.set_register("xmm0", RegValue::from_u128(pattern)).unwrap();
    let names: Vec<&str> = trace.registers().unwrap().full_registers_loaded().iter().map(|(d, _)| d.name).collect();
    for name in ["eax", "edi", "eip", "eflags", "gs", "st0", "xmm7", "ymm7", "dr7"] {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
    assert_eq!(run_to_exit(&mut trace), ExitStatus::Code(0));
    let out = read_all(out);
    assert!(out.contains(&format!("xmm0={pattern:032x}")), "{out}");
}

#[test]
fn single_steps_walk_32_bit_code() {
    let (mut trace, _out) = spawn_i386("i386", Opt::O0, &[]);
    let check = trace.sym_by_name("check").unwrap();
    trace.run_until(check).unwrap();
    let esp = trace.register_u64("esp").unwrap();
    // push %ebp; mov %esp,%ebp at -O0: the first step pushes four bytes.
    let event = trace.stepi().unwrap();
    assert!(matches!(event.kind, EventKind::Step), "{event:?}");
    assert_eq!(trace.register_u64("esp").unwrap(), esp - 4);
    assert_eq!(trace.pc().unwrap(), check + 1);
    // Stepping over the call to check from main returns right after it.
    let ret = trace.read_ptr(esp).unwrap();
    trace.step_out().unwrap();
    assert_eq!(trace.pc().unwrap(), ret);
    assert_eq!(trace.register_u64("eax").unwrap(), 42);
    assert_eq!(run_to_exit(&mut trace), ExitStatus::Code(0));
}

#[test]
fn a_segfault_in_a_32_bit_program_reports_the_fault_address() {
    for opt in [Opt::O0, Opt::O2] {
        let (mut trace, _out) = spawn_i386("segfault", opt, &[]);
        let event = trace.run().unwrap();
        let EventKind::Signal(info) = event.kind else { panic!("{event:?}") };
        assert_eq!((info.signo, info.fault_addr, info.code), (libc::SIGSEGV, Some(0x10), 1));
        let pc = trace.pc().unwrap();
        assert_eq!(trace.sym_by_addr(pc, false).unwrap().unwrap().split('+').next(), Some("crash"));
        let status = run_to_exit(&mut trace);
        assert!(matches!(status, ExitStatus::Signaled { signal: libc::SIGSEGV, .. }), "{status:?}");
    }
}

#[test]
fn signal_handlers_run_in_a_32_bit_program() {
    let (mut trace, out) = spawn_i386("signals", Opt::O0, &[]);
    let mut seen = 0;
    let status = loop {
        match trace.run().unwrap().kind {
            EventKind::Signal(info) => {
                assert_eq!(info.signo, libc::SIGUSR1);
                seen += 1;
            }
            EventKind::Exited(status) => break status,
            _ => {}
        }
    };
    assert_eq!((seen, status), (2, ExitStatus::Code(2)));
    assert!(read_all(out).contains("handled 2"));
}

#[test]
fn breakpoints_in_threads_of_a_32_bit_program() {
    let (mut trace, _out) = spawn_i386("threads", Opt::O2, &["4", "50"]);
    let work = trace.sym_by_name("work").unwrap();
    trace.add_break_by_addr(work).unwrap();
    let mut hits = 0;
    let mut threads = std::collections::BTreeSet::new();
    let status = loop {
        let event = trace.run().unwrap();
        match event.kind {
            EventKind::Breakpoint { addr, .. } => {
                assert_eq!(addr, work);
                assert!(stack_argument(&mut trace, 0) < 4);
                threads.insert(event.tid);
                hits += 1;
            }
            EventKind::Exited(status) => break status,
            _ => {}
        }
    };
    assert_eq!((hits, threads.len(), status), (200, 4, ExitStatus::Code(0)));
}

#[test]
fn hardware_watchpoints_in_a_32_bit_program() {
    let (mut trace, out) = spawn_i386("watch", Opt::O0, &[]);
    let ready = trace.sym_by_name("ready").unwrap();
    trace.run_until(ready).unwrap();
    let shared = trace.sym_by_name("shared").unwrap();
    let id = trace.add_watchpoint(shared, 4, WatchKind::Write).unwrap();
    assert_eq!(trace.register_u64("dr0").unwrap(), shared);
    let mut seen = Vec::new();
    let status = loop {
        let event = trace.run().unwrap();
        match event.kind {
            EventKind::Watchpoint { id: hit, addr, old, new, access_pc, .. } => {
                assert_eq!((hit, addr), (id, shared));
                assert!(access_pc.is_some(), "the writing instruction is found in 32-bit code");
                assert_eq!(old, Some(seen.last().copied().unwrap_or(0)));
                seen.push(new.unwrap());
            }
            EventKind::Exited(status) => break status,
            other => panic!("unexpected {other:?}"),
        }
    };
    assert_eq!(status, ExitStatus::Code(0));
    assert_eq!(seen, [10, 11, 12, 20, 21, 22, 30, 31, 32, 40, 41, 42]);
    assert!(read_all(out).contains("shared=42"));
}

#[test]
fn a_64_bit_shell_execing_a_32_bit_program_switches_to_i386() {
    let program = fixture_i386("i386", Opt::O0);
    let (reader, writer) = std::io::pipe().unwrap();
    let mut command = Command::new("/bin/sh");
    command.arg("-c").arg(format!("exec {}", program.display())).stdout(writer).stderr(Stdio::null());
    let mut trace = Trace::spawn(command).unwrap();
    assert_eq!(trace.arch().name, "x86_64");
    let event = trace.run().unwrap();
    assert!(matches!(event.kind, EventKind::Exec { .. }), "{event:?}");
    assert_eq!(trace.arch().name, "i386");
    assert_eq!(trace.meta("Architecture").and_then(|v| v.as_str()), Some("i386"));
    let check = trace.sym_by_name("check").unwrap();
    trace.run_until(check).unwrap();
    assert_eq!(stack_argument(&mut trace, 0), 21);
    assert_eq!(run_to_exit(&mut trace), ExitStatus::Code(0));
    assert!(read_all(reader).contains("check=42"));
}

#[test]
fn attaching_to_a_running_32_bit_program() {
    let mut child = Command::new(fixture_i386("sleeper", Opt::O0))
        .args(["1000"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    crate::support::wait_for_line(&mut out, "ready");
    let mut trace = Trace::attach(child.id() as i32).unwrap();
    assert_eq!(trace.arch().name, "i386");
    let tick = trace.sym_by_name("tick").unwrap();
    trace.run_until(tick).unwrap();
    assert_eq!(trace.pc().unwrap(), tick);
    let frames = trace.backtrace(trace.current_thread()).unwrap();
    assert!(frames.iter().any(|f| f.function.as_deref() == Some("main")), "{frames:?}");
    trace.detach().unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn breakpoints_in_32_bit_code_are_left_out_of_line_and_every_hit_counts() {
    use std::cell::Cell;
    use std::rc::Rc;
    let (mut trace, out) = spawn_i386("threads", Opt::O2, &["4", "500"]);
    let work = trace.sym_by_name("work").unwrap();
    let code = trace.read_memory(work, 32).unwrap();
    let mut decoder = iced_x86::Decoder::with_ip(32, &code, work, iced_x86::DecoderOptions::NONE);
    let hits = Rc::new(Cell::new(0u64));
    for _ in 0..3 {
        let seen = hits.clone();
        let addr = decoder.decode().ip();
        trace
            .add_break_with(addr, move |t, _| {
                seen.set(seen.get() + 1);
                t.run_again();
            })
            .unwrap();
    }
    trace.set_mode(oxtrace::Mode::RunForever, true);
    let end = trace.run().unwrap();
    assert_eq!(end.kind, EventKind::Exited(ExitStatus::Code(0)));
    assert_eq!(hits.get(), 3 * 4 * 500, "every hit of the three breakpoints counted once");
    assert!(read_all(out).contains("total 2000"));
}

#[test]
fn a_fault_in_an_out_of_line_copy_is_shown_at_the_original_instruction() {
    let (mut trace, _out) = spawn_i386("segfault", Opt::O2, &[]);
    let crash = trace.sym_by_name("crash").unwrap();
    // `crash` at -O2 is `mov eax, [esp+4]; mov dword [eax], 42; ret`: break on the store.
    let code = trace.read_memory(crash, 16).unwrap();
    let mut decoder = iced_x86::Decoder::with_ip(32, &code, crash, iced_x86::DecoderOptions::NONE);
    let store = decoder.decode().next_ip();
    trace.add_break_by_addr(store).unwrap();
    let maps_before = trace.memory_maps().unwrap();
    let hit = trace.run().unwrap();
    assert!(matches!(hit.kind, EventKind::Breakpoint { addr, .. } if addr == store), "{hit:?}");
    let fault = trace.run().unwrap();
    let EventKind::Signal(info) = &fault.kind else { panic!("expected the fault, got {fault:?}") };
    assert_eq!((info.signo, info.fault_addr), (libc::SIGSEGV, Some(0x10)));
    assert_eq!(trace.pc().unwrap(), store, "the fault is shown at the original instruction");
    let scratch: Vec<_> = trace
        .memory_maps()
        .unwrap()
        .into_iter()
        .filter(|m| m.perms.exec && m.path.is_none() && !maps_before.contains(m))
        .collect();
    assert_eq!(scratch.len(), 1, "the store ran from a scratch page: {scratch:?}");
}

#[test]
fn source_lines_are_stepped_in_32_bit_code() {
    let source =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/stacks.c")).unwrap();
    let line_of =
        |text: &str| source.lines().position(|l| l.trim() == text).unwrap_or_else(|| panic!("{text:?}")) as u32 + 1;
    let line = |trace: &mut Trace| {
        let pc = trace.pc().unwrap();
        trace.line_for_addr(pc).unwrap().expect("a line").1
    };
    let (mut trace, _out) = spawn_i386("stacks", Opt::O0, &["leaf"]);
    let middle = trace.sym_by_name("middle").unwrap();
    trace.run_until(middle).unwrap();
    trace.next_line().unwrap();
    assert_eq!(line(&mut trace), line_of("int r = inner(x + 1);"));
    trace.next_line().unwrap();
    assert_eq!(line(&mut trace), line_of("return r * 2 + sink;"), "inner() ran over");
    let (mut trace, _out) = spawn_i386("stacks", Opt::O0, &["leaf"]);
    let middle = trace.sym_by_name("middle").unwrap();
    trace.run_until(middle).unwrap();
    trace.next_line().unwrap();
    trace.step_line().unwrap();
    let pc = trace.pc().unwrap();
    assert_eq!(trace.sym_by_addr(pc, false).unwrap().unwrap().split('+').next(), Some("inner"));
}
