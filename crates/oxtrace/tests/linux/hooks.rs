//! Function hooks: arguments at entry, return values at return, recursion paired right.

use std::cell::RefCell;
use std::rc::Rc;

use oxtrace::{EventType, ExitStatus, HookCall, Trace};

use crate::support::Opt;
use crate::{run_to_exit, spawn_quiet};

#[test]
fn hooks_see_arguments_and_return_values_paired_through_recursion() {
    for opt in [Opt::O0, Opt::O2] {
        let mut trace = spawn_quiet("watch", opt, &[]);
        let recurse = trace.sym_by_name("recurse").unwrap();
        let entries = Rc::new(RefCell::new(Vec::new()));
        let returns = Rc::new(RefCell::new(Vec::new()));
        let (e, r) = (entries.clone(), returns.clone());
        let pre = Box::new(move |_: &mut Trace, call: &HookCall| e.borrow_mut().push(call.args[0]));
        let post = Box::new(move |_: &mut Trace, call: &HookCall, ret: u64| r.borrow_mut().push((call.args[0], ret)));
        trace.add_hook(recurse, 1, Some(pre), Some(post)).unwrap();
        let stops = Rc::new(RefCell::new(0));
        let s = stops.clone();
        trace.register_notifier(EventType::Breakpoint, move |_, _| *s.borrow_mut() += 1);
        assert_eq!(run_to_exit(&mut trace), ExitStatus::Code(0));
        assert_eq!(*entries.borrow(), [5, 4, 3, 2, 1, 0], "{opt:?}");
        // recurse(d) = d + 2 * recurse(d - 1): innermost first.
        assert_eq!(*returns.borrow(), [(0, 0), (1, 1), (2, 4), (3, 11), (4, 26), (5, 57)], "{opt:?}");
        assert_eq!(*stops.borrow(), 0, "hooks never stop the trace");
    }
}

#[test]
fn hooks_read_stack_arguments_beyond_the_registers() {
    let mut trace = spawn_quiet("calls", Opt::O0, &[]);
    let tick = trace.sym_by_name("tick").unwrap();
    let seen = Rc::new(RefCell::new(Vec::new()));
    let s = seen.clone();
    // tick has one argument; the 7th "argument" is the first stack slot above the return address.
    let pre = Box::new(move |trace: &mut Trace, call: &HookCall| {
        let slot = trace.read_u64(call.sp + 8).unwrap();
        s.borrow_mut().push((call.args[0], call.args[6] == slot, call.return_addr != 0));
    });
    trace.add_hook(tick, 7, Some(pre), None).unwrap();
    assert_eq!(run_to_exit(&mut trace), ExitStatus::Code(0));
    assert_eq!(*seen.borrow(), (0..5).map(|i| (i, true, true)).collect::<Vec<_>>());
}
