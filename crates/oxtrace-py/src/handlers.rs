//! The Python side of a trace's callbacks: notifiers, breakpoint callbacks and
//! conditions, function hooks, and the modes that decide whether a run goes on.
//!
//! Python callables receive the trace itself, so they run while the library's
//! run loop is not inside the trace: every breakpoint with a Python callable,
//! and every event type with a Python notifier, stops the library's loop (it
//! sees them as plain stops), and [`crate::dispatch`] runs the callables and
//! decides, as the library would, whether to go on. Breakpoints and events
//! without Python callables stay entirely in the library's loop.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeSet, HashMap};
use std::rc::Rc;

use oxtrace::{BreakpointKind, EventType, Tid};
use pyo3::prelude::*;

/// What Python attached to one breakpoint.
pub struct BreakHandler {
    /// Called as `callback(trace, event)` at each hit whose condition holds.
    pub callback: Option<Py<PyAny>>,
    /// Called as `condition(trace)`; a false result makes the hit go on unseen.
    pub condition: Option<Py<PyAny>>,
    /// The kind the user asked for (the library's breakpoint is a plain one when a callable needs a stop).
    pub kind: BreakpointKind,
    /// Hits whose condition was false (the library counted them).
    pub false_hits: u64,
}

/// A function hook made by `Trace.add_hook`.
pub struct Hook {
    /// How many integer arguments to read.
    pub argc: usize,
    /// Called as `pre(trace, call)` at the function's entry.
    pub pre: Option<Py<PyAny>>,
    /// Called as `post(trace, call, retval)` when that call returns.
    pub post: Option<Py<PyAny>>,
}

/// One call of a hooked function, as seen at its entry.
#[pyclass(module = "oxtrace", name = "HookCall", frozen, get_all)]
pub struct HookCall {
    /// The calling thread.
    pub tid: Tid,
    /// The function's address.
    pub func: u64,
    /// The first `argc` integer arguments, by the C calling convention.
    pub args: Vec<u64>,
    /// Where the function returns to.
    pub return_addr: u64,
    /// The stack pointer at entry.
    pub sp: u64,
}

#[pymethods]
impl HookCall {
    fn __repr__(&self) -> String {
        let args: Vec<String> = self.args.iter().map(|a| format!("{a:#x}")).collect();
        format!(
            "HookCall(tid={}, func={:#x}, args=[{}], return_addr={:#x})",
            self.tid,
            self.func,
            args.join(", "),
            self.return_addr
        )
    }
}

/// Every Python callable of a trace, and the run decisions made above the library.
pub struct Handlers {
    /// (id, event type or None for all, callable).
    pub notifiers: Vec<(u64, Option<EventType>, Py<PyAny>)>,
    /// The next notifier id.
    pub next_notifier: u64,
    /// By breakpoint id.
    pub breaks: HashMap<u32, BreakHandler>,
    /// By the id of the hook's entry breakpoint.
    pub hooks: HashMap<u32, Hook>,
    /// Calls on their way back: (thread, stack pointer after the return) → (hook id, the call).
    pub pending_returns: HashMap<(Tid, u64), (u32, Py<HookCall>)>,
    /// Return-address breakpoints set for hooks: address → breakpoint id.
    pub return_bps: HashMap<u64, u32>,
    /// Mode RunForever (kept here: the library's loop must stop where Python runs).
    pub run_forever: bool,
    /// A callable asked to go on after this event.
    pub run_again: bool,
    /// Event types that go on by themselves (the user's list).
    pub auto_continue: BTreeSet<EventType>,
    /// Library events, which the library reports to notifiers without a stop:
    /// queued for Python by a library notifier, which also interrupts the
    /// process so that Python's notifiers run at the next stop.
    pub library_events: LibraryEvents,
}

/// The queue of library events for Python, and whether its interruption is under way.
#[derive(Default, Clone)]
pub struct LibraryEvents {
    /// Events not yet given to Python.
    pub queue: Rc<RefCell<Vec<oxtrace::Event>>>,
    /// The process was interrupted to hand them over.
    pub interrupting: Rc<Cell<bool>>,
    /// The library notifiers are registered.
    pub registered: bool,
}

impl LibraryEvents {
    /// Registers the library notifiers that fill the queue (once).
    pub fn register(&mut self, trace: &mut oxtrace::Trace) {
        if self.registered {
            return;
        }
        self.registered = true;
        for t in [EventType::LibraryLoaded, EventType::LibraryUnloaded] {
            let (queue, interrupting) = (self.queue.clone(), self.interrupting.clone());
            trace.register_notifier(t, move |trace: &mut oxtrace::Trace, event: &oxtrace::Event| {
                queue.borrow_mut().push(event.clone());
                if !interrupting.replace(true) && trace.interrupter().interrupt().is_err() {
                    interrupting.set(false);
                }
            });
        }
    }
}

impl Default for Handlers {
    fn default() -> Self {
        Handlers {
            notifiers: Vec::new(),
            next_notifier: 1,
            breaks: HashMap::new(),
            hooks: HashMap::new(),
            pending_returns: HashMap::new(),
            return_bps: HashMap::new(),
            run_forever: false,
            run_again: false,
            auto_continue: [
                EventType::ThreadCreated,
                EventType::ThreadExited,
                EventType::LibraryLoaded,
                EventType::LibraryUnloaded,
            ]
            .into_iter()
            .collect(),
            library_events: LibraryEvents::default(),
        }
    }
}

impl Handlers {
    /// Visits every Python object held (for the garbage collector).
    pub fn traverse(&self, visit: &pyo3::gc::PyVisit<'_>) -> Result<(), pyo3::PyTraverseError> {
        for (_, _, f) in &self.notifiers {
            visit.call(f)?;
        }
        for h in self.breaks.values() {
            visit.call(&h.callback)?;
            visit.call(&h.condition)?;
        }
        for h in self.hooks.values() {
            visit.call(&h.pre)?;
            visit.call(&h.post)?;
        }
        for (_, call) in self.pending_returns.values() {
            visit.call(call)?;
        }
        Ok(())
    }

    /// Drops every Python callable (breaks reference cycles through the trace).
    pub fn clear_callables(&mut self) {
        self.notifiers.clear();
        for h in self.breaks.values_mut() {
            h.callback = None;
            h.condition = None;
        }
        for h in self.hooks.values_mut() {
            h.pre = None;
            h.post = None;
        }
        self.pending_returns.clear();
    }

    /// Whether a Python notifier wants events of this type.
    pub fn has_notifier(&self, t: EventType) -> bool {
        self.notifiers.iter().any(|(_, ty, _)| ty.is_none_or(|ty| ty == t))
    }

    /// The notifiers for an event of type `t`, in registration order.
    pub fn notifiers_for(&self, py: Python<'_>, t: EventType) -> Vec<Py<PyAny>> {
        self.notifiers
            .iter()
            .filter(|(_, ty, _)| ty.is_none_or(|ty| ty == t))
            .map(|(_, _, f)| f.clone_ref(py))
            .collect()
    }

    /// The library's auto-continue list: the user's, less the types Python must see.
    pub fn sync_auto_continue(&self, trace: &mut oxtrace::Trace) {
        for (t, _) in crate::event::TYPES {
            if self.auto_continue.contains(&t) && !self.has_notifier(t) {
                trace.enable_auto_continue(t);
            } else {
                trace.disable_auto_continue(t);
            }
        }
    }
}
