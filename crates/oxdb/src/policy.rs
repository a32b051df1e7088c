//! What oxdb does at each event the trace reports, before the trace decides
//! whether to stop: the signal table (stop, print, pass), catchpoints (forks,
//! execs, system calls, signals), and the event's line.
//!
//! Every trace of the session (the program, and processes kept after forks)
//! gets this notifier. Forks and execs are taken off the library's
//! auto-continue list so that the notifier decides: they go on
//! ([`Trace::run_again`]) unless a catchpoint wants them.

use std::cell::RefCell;
use std::rc::Rc;

use oxtrace::{Event, EventKind, EventType, Mode, SyscallStop, Trace};

use crate::commands::catch::{signal_matches, syscall_matches, CatchKind};
use crate::events;
use crate::session::Shared;

/// Registers the notifier on `trace` and sets the auto-continue list it
/// needs; a new trace's breakpoint numbers start at 1.
pub fn install(trace: &mut Trace, shared: &Rc<RefCell<Shared>>) {
    // Breakpoints are numbered from 1, as gdb's.
    if trace.next_breakpoint_id() == 0 {
        trace.reserve_breakpoint_id();
    }
    let notified = Rc::clone(shared);
    trace.register_notifier_all(move |trace, event| on_event(trace, event, &notified));
    trace.disable_auto_continue(EventType::Forked);
    trace.disable_auto_continue(EventType::Exec);
    apply(trace, &shared.borrow());
}

/// Gives `trace` the signal table's ignore list and the system call stops catchpoints need.
pub fn apply(trace: &mut Trace, shared: &Shared) {
    let catches = &shared.catches;
    crate::commands::handle::apply_to_trace(trace, &shared.signals, &|signo| catches.catches_signal(signo));
    trace.set_mode(Mode::Syscall, catches.wants_syscalls());
}

fn on_event(trace: &mut Trace, event: &Event, shared: &Rc<RefCell<Shared>>) {
    match &event.kind {
        EventKind::LibraryLoaded { name, .. } => crate::commands::locations::resolve_waiting(trace, shared, name),
        EventKind::LibraryUnloaded { .. } => crate::commands::locations::wait_again(trace, shared),
        _ => {}
    }
    let mut state = shared.borrow_mut();
    let (show, go_on, catch) = match &event.kind {
        EventKind::Breakpoint { id, .. } => {
            let owner = crate::commands::locations::owner_of(&state.locations, *id);
            let user = state.user_ids.contains(id);
            // A breakpoint whose commands start with `silent` is not announced.
            let silent = state.silent.contains(&owner) || state.silent.contains(id);
            match state.ignore_counts.get_mut(&owner) {
                // A hit `ignore` lets go by: counted, not shown, not stopped at.
                Some(left) if user && *left > 0 => {
                    *left -= 1;
                    (false, true, None)
                }
                _ => (user && !silent, false, None),
            }
        }
        EventKind::Watchpoint { id, .. } => (state.user_ids.contains(id), false, None),
        EventKind::Signal(info) => {
            let handling = state.signals.get(info.signo);
            let catch = state.catches.hit(|k| signal_matches(k, info.signo));
            if !handling.pass {
                let _ = trace.set_pending_signal(None);
            }
            let stop = handling.stop || catch.is_some();
            (stop || handling.print, !stop, catch)
        }
        EventKind::Forked { vfork, .. } => {
            let want = if *vfork { CatchKind::Vfork } else { CatchKind::Fork };
            let catch = state.catches.hit(|k| *k == want);
            (true, catch.is_none(), catch)
        }
        EventKind::Exec { .. } => {
            let catch = state.catches.hit(|k| *k == CatchKind::Exec);
            (true, catch.is_none(), catch)
        }
        EventKind::Syscall(SyscallStop::Entry { number, .. } | SyscallStop::Exit { number, .. })
            if state.catches.wants_syscalls() =>
        {
            let catch = state.catches.hit(|k| syscall_matches(k, *number));
            (catch.is_some(), catch.is_none(), catch)
        }
        _ => (true, false, None),
    };
    if go_on {
        trace.run_again();
    }
    if !show {
        return;
    }
    // A location of a breakpoint of several is shown as the breakpoint.
    let mut shown = event.clone();
    if let EventKind::Breakpoint { id, .. } = &mut shown.kind {
        *id = crate::commands::locations::owner_of(&state.locations, *id);
    }
    drop(state);
    if let Some(mut line) = events::describe(trace, &shown) {
        if let Some(num) = catch {
            line.push_str(&format!(" (catchpoint {num})"));
        }
        shared.borrow_mut().lines.push(line);
    }
}
