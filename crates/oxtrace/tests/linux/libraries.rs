//! Library events and breakpoints deferred until their library loads.

use std::cell::RefCell;
use std::process::{Command, Stdio};
use std::rc::Rc;

use oxtrace::{EventKind, EventType, ExitStatus, Trace};

use crate::run_to_exit;
use crate::support::{fixture, fixture_library, Opt};

fn spawn_dlopen(opt: Opt) -> Trace {
    let library = fixture_library("dlfix", opt);
    let mut command = Command::new(fixture("dlopen", opt));
    command.arg(library).stdout(Stdio::null());
    Trace::spawn(command).unwrap()
}

#[test]
fn a_deferred_breakpoint_hits_in_each_load_of_its_library() {
    for opt in [Opt::O0, Opt::O2] {
        let mut trace = spawn_dlopen(opt);
        let id = trace.add_break_by_expr("libdlfix.dl_marker").unwrap();
        let listed = trace.breakpoints();
        assert_eq!(listed.len(), 1);
        assert!(!listed[0].resolved, "the library is not loaded yet");
        let mut args = Vec::new();
        let mut resolved_at = Vec::new();
        loop {
            let event = trace.run().unwrap();
            match event.kind {
                EventKind::Breakpoint { id: hit, addr } => {
                    assert_eq!(hit, id);
                    args.push(trace.register_u64("rdi").unwrap());
                    resolved_at.push(addr);
                    assert_eq!(trace.sym_by_addr(addr, true).unwrap().as_deref(), Some("dl_marker"));
                }
                EventKind::Exited(status) => {
                    assert_eq!(status, ExitStatus::Code(0));
                    break;
                }
                other => panic!("{opt:?}: unexpected {other:?}"),
            }
        }
        assert_eq!(args, [1, 2, 3, 1, 2, 3], "{opt:?}: three calls in each of the two loads");
        assert_eq!(trace.breakpoints()[0].hits, 6);
    }
}

#[test]
fn library_events_report_loads_and_unloads() {
    let mut trace = spawn_dlopen(Opt::O0);
    let log = Rc::new(RefCell::new(Vec::new()));
    let (loads, unloads) = (log.clone(), log.clone());
    trace.register_notifier(EventType::LibraryLoaded, move |_, e| loads.borrow_mut().push(e.kind.clone()));
    trace.register_notifier(EventType::LibraryUnloaded, move |_, e| unloads.borrow_mut().push(e.kind.clone()));
    let initial = trace.libraries().unwrap();
    assert!(initial.iter().any(|l| l.name == "ld"));
    assert_eq!(run_to_exit(&mut trace), ExitStatus::Code(0));
    let ours: Vec<String> = log
        .borrow()
        .iter()
        .filter_map(|k| match k {
            EventKind::LibraryLoaded { name, .. } if name == "libdlfix" => Some("load".to_string()),
            EventKind::LibraryUnloaded { name, .. } if name == "libdlfix" => Some("unload".to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(ours, ["load", "unload", "load", "unload"]);
    assert!(log.borrow().iter().any(|k| matches!(k, EventKind::LibraryLoaded { name, .. } if name == "libc")));
}

#[test]
fn breakpoints_by_expression_resolve_now_when_they_can() {
    let mut trace = spawn_dlopen(Opt::O0);
    let main = trace.sym_by_name("main").unwrap();
    let id = trace.add_break_by_expr("dlopen.main + 4").unwrap();
    let bp = trace.breakpoint(id).unwrap().clone();
    assert!(bp.resolved);
    assert_eq!(bp.addr, main + 4);
    assert_eq!(bp.expr.as_deref(), Some("dlopen.main + 4"));
    let hex = trace.add_break_by_expr(&format!("{:#x}", main + 8)).unwrap();
    assert_eq!(trace.breakpoint(hex).unwrap().addr, main + 8);
    let err = trace.add_break_by_expr("main + )").unwrap_err();
    assert!(err.to_string().contains("position 7"), "{err}");
    assert!(trace.add_break_by_expr("").is_err());
    trace.remove_breakpoint(id).unwrap();
    trace.remove_breakpoint(hex).unwrap();
    assert!(trace.breakpoints().is_empty(), "the trace's own hook breakpoint is not listed");
}

#[test]
fn the_linkers_list_names_what_is_loaded() {
    let mut trace = spawn_dlopen(Opt::O2);
    assert!(trace.link_map().unwrap().is_empty(), "before the linker runs, its list is empty");
    let main = trace.sym_by_name("main").unwrap();
    trace.run_until(main).unwrap();
    let list = trace.link_map().unwrap();
    assert_eq!(list[0].name, "", "the program comes first: {list:?}");
    assert!(list.iter().any(|e| e.name.ends_with("/libc.so.6")), "{list:?}");
    // Every library the trace reports is one the linker loaded, at the same bias.
    let symbols = trace.symbols().unwrap();
    let libc = symbols.module_by_name("libc").unwrap();
    assert!(list.iter().any(|e| e.bias == libc.bias && e.dynamic > libc.start && e.dynamic < libc.end));
    let names: Vec<String> = trace.libraries().unwrap().into_iter().map(|l| l.name).collect();
    assert!(names.contains(&"libc".to_string()) && names.contains(&"ld".to_string()), "{names:?}");
}

/// A pending breakpoint a caller places itself: reachable by its id before
/// its library loads (condition, enabled state), moved where the caller's
/// rules resolve it (after the prologue), copied to another location that
/// shares its condition, both made to wait without writing when the library
/// goes, and placed again when it comes back.
#[test]
fn a_pending_breakpoint_is_placed_moved_copied_and_unplaced_by_its_caller() {
    let mut trace = spawn_dlopen(Opt::O0);
    let id = trace.add_pending_breakpoint("<the caller's own name>").unwrap();
    assert!(trace.breakpoint(id).is_some_and(|b| !b.resolved));
    trace.set_breakpoint_condition(id, Some(Box::new(|t: &mut Trace| t.register_u64("rdi").unwrap() != 2))).unwrap();
    trace.set_breakpoint_enabled(id, true).unwrap();
    let copies = Rc::new(RefCell::new(Vec::new()));
    let seen = copies.clone();
    // At each load, as a debugger would: the first at dl_marker after its prologue, a copy at its entry.
    trace.register_notifier(EventType::LibraryLoaded, move |trace, event| {
        let EventKind::LibraryLoaded { name, .. } = &event.kind else { return };
        if name != "libdlfix" {
            return;
        }
        let entry = trace.sym_by_name("libdlfix.dl_marker").unwrap();
        let body = trace.after_prologue(entry).unwrap();
        assert!(body > entry, "a frame-pointer prologue at -O0");
        trace.move_breakpoint(id, body).unwrap();
        let known = seen.borrow().first().copied();
        let copy = match known {
            Some(copy) => {
                trace.move_breakpoint(copy, entry).unwrap();
                copy
            }
            None => trace.add_breakpoint_like(id, entry).unwrap(),
        };
        seen.borrow_mut().push(copy);
    });
    trace.register_notifier(EventType::LibraryUnloaded, move |trace, _| {
        let copy = trace.breakpoints().into_iter().find(|b| b.id != id && b.resolved).map(|b| b.id);
        if let Some(copy) = copy {
            trace.unplace_breakpoint(copy).unwrap();
        }
    });
    let mut hits = Vec::new();
    loop {
        let event = trace.run().unwrap();
        match event.kind {
            EventKind::Breakpoint { id: hit, .. } => hits.push((hit, trace.register_u64("rdi").unwrap())),
            EventKind::Exited(status) => {
                assert_eq!(status, ExitStatus::Code(0));
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    let copies = copies.borrow();
    assert!(copies.len() == 2 && copies[0] == copies[1], "the copy is placed again, not made again: {copies:?}");
    let copy = copies[0];
    // Each call: the copy at the entry, then the breakpoint after the prologue; never for x == 2.
    let round = [(copy, 1), (id, 1), (copy, 3), (id, 3)];
    assert_eq!(hits, [round, round].concat());
    assert_eq!(trace.breakpoint(copy).unwrap().hits, 4);
}
