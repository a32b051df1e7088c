//! Hardware watchpoints: writes by several threads (created after the watch
//! was set), a stack variable in a recursive function, execute watches, and
//! the limits of the four debug registers.

use oxtrace::{Error, EventKind, ExitStatus, WatchKind};

use crate::support::{tracer_pid, Opt};
use crate::{read_all, run_to_exit, spawn_quiet, spawn_with_output};

#[test]
fn writes_from_threads_created_later_are_all_seen_with_old_and_new_values() {
    for opt in [Opt::O0, Opt::O2] {
        let (mut trace, out) = spawn_with_output("watch", opt, &[]);
        let ready = trace.sym_by_name("ready").unwrap();
        trace.run_until(ready).unwrap();
        let shared = trace.sym_by_name("shared").unwrap();
        let writer = trace.sym_by_name("writer").unwrap();
        let id = trace.add_watchpoint(shared, 8, WatchKind::Write).unwrap();
        let mut seen = Vec::new();
        loop {
            let event = trace.run().unwrap();
            match event.kind {
                EventKind::Watchpoint { id: hit, addr, pc, access_pc, old, new } => {
                    assert_eq!((hit, addr), (id, shared));
                    assert_ne!(event.tid, trace.pid(), "written by a worker thread");
                    let access = access_pc.expect("the accessing instruction is found");
                    assert!(access >= writer && access < pc, "{access:#x} in writer, before {pc:#x}");
                    assert_eq!(old, Some(seen.last().copied().unwrap_or(0)));
                    seen.push(new.unwrap());
                }
                EventKind::Exited(status) => {
                    assert_eq!(status, ExitStatus::Code(0));
                    break;
                }
                other => panic!("{opt:?}: unexpected {other:?}"),
            }
        }
        assert_eq!(seen, [10, 11, 12, 20, 21, 22, 30, 31, 32, 40, 41, 42], "{opt:?}");
        assert_eq!(trace.watchpoints()[0].hits, 12);
        assert!(read_all(out).contains("shared=42"));
    }
}

#[test]
fn a_stack_variable_in_a_recursive_call_is_watched_in_that_frame_only() {
    let mut trace = spawn_quiet("watch", Opt::O0, &[]);
    let mark = trace.sym_by_name("mark").unwrap();
    trace.add_break_if(mark, |trace| trace.register_u64("rsi").unwrap() == 3).unwrap();
    trace.run().unwrap();
    let local = trace.register_u64("rdi").unwrap();
    trace.remove_breakpoint(0).unwrap();
    let id = trace.add_watchpoint(local, 8, WatchKind::Write).unwrap();
    // Depth 3 adds twice what depth 2 returned: recurse(2) = 2 + 2*(1 + 2*0) = 4, so 3 + 8 = 11.
    let event = trace.run().unwrap();
    let EventKind::Watchpoint { id: hit, old, new, .. } = event.kind else { panic!("{event:?}") };
    assert_eq!((hit, old, new), (id, Some(3), Some(11)));
    trace.remove_watchpoint(id).unwrap();
    assert_eq!(run_to_exit(&mut trace), ExitStatus::Code(0));
}

#[test]
fn execute_watchpoints_fire_before_the_instruction_and_let_it_run() {
    let mut trace = spawn_quiet("calls", Opt::O2, &[]);
    let tick = trace.sym_by_name("tick").unwrap();
    let id = trace.add_watchpoint(tick, 1, WatchKind::Execute).unwrap();
    for _ in 0..5 {
        let event = trace.run().unwrap();
        assert!(
            matches!(event.kind, EventKind::Watchpoint { id: hit, pc, .. } if hit == id && pc == tick),
            "{event:?}"
        );
        assert_eq!(trace.pc().unwrap(), tick);
    }
    assert_eq!(run_to_exit(&mut trace), ExitStatus::Code(0));
}

#[test]
fn bad_watchpoints_are_clear_errors_and_a_fifth_does_not_fit() {
    let mut trace = spawn_quiet("watch", Opt::O0, &[]);
    let ready = trace.sym_by_name("ready").unwrap();
    trace.run_until(ready).unwrap();
    let shared = trace.sym_by_name("shared").unwrap();
    let err = trace.add_watchpoint(shared, 3, WatchKind::Write).unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)) && err.to_string().contains('3'), "{err}");
    let err = trace.add_watchpoint(shared + 1, 4, WatchKind::Write).unwrap_err();
    assert!(err.to_string().contains(&format!("{:#x}", shared + 1)), "{err}");
    let err = trace.add_watchpoint(0x10, 8, WatchKind::Write).unwrap_err();
    assert!(err.to_string().contains("0x10"), "{err}");
    for (i, size) in [1, 2, 4, 8].into_iter().enumerate() {
        let id = trace.add_watchpoint(shared, size, WatchKind::ReadWrite).unwrap();
        assert_eq!(trace.watchpoints()[i].id, id);
    }
    let err = trace.add_watchpoint(shared, 8, WatchKind::Write).unwrap_err();
    assert!(err.to_string().contains("all 4 debug registers are in use"), "{err}");
    assert_eq!(trace.register_u64("dr0").unwrap(), shared);
    assert_ne!(trace.register_u64("dr7").unwrap(), 0);
}

#[test]
fn detach_disarms_the_debug_registers() {
    let (mut trace, out) = spawn_with_output("watch", Opt::O0, &[]);
    let ready = trace.sym_by_name("ready").unwrap();
    trace.run_until(ready).unwrap();
    let shared = trace.sym_by_name("shared").unwrap();
    trace.add_watchpoint(shared, 8, WatchKind::Write).unwrap();
    let pid = trace.pid();
    trace.detach().unwrap();
    assert_eq!(tracer_pid(pid), Some(0));
    drop(trace);
    let text = read_all(out);
    assert!(text.contains("shared=42") && text.contains("recurse=57"), "ran to its end untouched: {text}");
}
