//! The run loop above the library's: resume, wait with the GIL released (Ctrl-C
//! interrupts), run the Python callables for the event, and go on or stop.
//!
//! A Python exception from a callable ends the loop at once: the process stays
//! stopped at that event, consistent, and the exception (with its traceback)
//! comes out of `run()`.

use oxtrace::{BreakpointKind, EventKind, EventType};
use pyo3::exceptions::PyKeyboardInterrupt;
use pyo3::prelude::*;
use send_wrapper::SendWrapper;

use crate::errors::IntoPy;
use crate::event::Event;
use crate::handlers::HookCall;
use crate::interrupt::WaitGuard;
use crate::trace::PyTrace;

/// Resumes the process: fires Python's `continued` notifiers, then the library resumes.
pub fn resume(slf: &Bound<'_, PyTrace>) -> PyResult<()> {
    let py = slf.py();
    let continued = {
        let mut this = slf.borrow_mut();
        this.handlers.run_again = false;
        let trace = this.trace()?;
        crate::trace::require_stopped(trace)?;
        let pid = trace.pid();
        let tid = trace.current_thread();
        let notifiers = this.handlers.notifiers_for(py, EventType::Continued);
        (!notifiers.is_empty()).then_some((notifiers, oxtrace::Event { pid, tid, kind: EventKind::Continued }))
    };
    if let Some((notifiers, event)) = continued {
        let event = Py::new(py, Event { inner: event })?;
        for notifier in notifiers {
            notifier.call1(py, (slf, &event))?;
        }
    }
    slf.borrow_mut().trace()?.start().py()
}

/// Blocks until the library reports an event, with the GIL released; `timeout`
/// in seconds, `None` to wait for ever. Ctrl-C (on the main thread) interrupts
/// the process and raises `KeyboardInterrupt`, the trace stopped and usable.
pub fn wait(slf: &Bound<'_, PyTrace>, timeout: Option<f64>) -> PyResult<Option<oxtrace::Event>> {
    let py = slf.py();
    let mut this = slf.borrow_mut();
    let main_thread = this.main_thread;
    let trace = this.trace()?;
    let guard = main_thread.then(|| WaitGuard::new(trace.interrupter()));
    let lent = SendWrapper::new(trace);
    let result = py.detach(move || {
        let trace = lent.take();
        match timeout {
            None => trace.wait().map(Some),
            Some(secs) => trace.wait_timeout(std::time::Duration::from_secs_f64(secs.max(0.0))),
        }
    });
    let fired = guard.as_ref().is_some_and(WaitGuard::fired);
    drop(guard);
    drop(this);
    let event = result.py()?;
    if fired {
        py.check_signals()?;
        return Err(PyKeyboardInterrupt::new_err("interrupted: the traced process is stopped"));
    }
    Ok(event)
}

/// Runs until an event stops the trace, calling the Python callables on the way.
pub fn drive(slf: &Bound<'_, PyTrace>) -> PyResult<Py<Event>> {
    loop {
        resume(slf)?;
        let event = wait(slf, None)?.expect("a blocking wait returns an event");
        if let Some(stop) = handle(slf, event)? {
            return Ok(stop);
        }
    }
}

/// Runs the Python callables for `event`; returns the event if the trace stops here.
pub fn handle(slf: &Bound<'_, PyTrace>, event: oxtrace::Event) -> PyResult<Option<Py<Event>>> {
    let py = slf.py();
    let event_type = event.event_type();
    let events = slf.borrow().handlers.library_events.clone();
    let queued: Vec<oxtrace::Event> = events.queue.borrow_mut().drain(..).collect();
    for library_event in queued {
        let notifiers = slf.borrow().handlers.notifiers_for(py, library_event.event_type());
        let obj = Py::new(py, Event { inner: library_event })?;
        for notifier in notifiers {
            notifier.call1(py, (slf, &obj))?;
        }
    }
    if event.kind == EventKind::Interrupted && events.interrupting.replace(false) {
        // Our own interruption, to hand the library events over: go on as after them.
        let this = slf.borrow();
        let h = &this.handlers;
        if h.auto_continue.contains(&EventType::LibraryLoaded) || h.run_again || h.run_forever {
            return Ok(None);
        }
        drop(this);
        return Ok(Some(Py::new(py, Event { inner: event })?));
    }
    let mut forced = matches!(event.kind, EventKind::Exited(_) | EventKind::Interrupted);
    let mut object: Option<Py<Event>> = None;
    if let EventKind::Breakpoint { id, addr } = event.kind {
        let own_return = hook_return(slf, event.tid, addr)?;
        if slf.borrow().handlers.hooks.contains_key(&id) {
            hook_entry(slf, id, event.tid)?;
            return Ok(None);
        }
        if own_return {
            return Ok(None);
        }
        let handler = {
            let this = slf.borrow();
            this.handlers.breaks.get(&id).map(|h| {
                (h.callback.as_ref().map(|c| c.clone_ref(py)), h.condition.as_ref().map(|c| c.clone_ref(py)), h.kind)
            })
        };
        if let Some((callback, condition, kind)) = handler {
            if let Some(condition) = condition {
                if !condition.call1(py, (slf,))?.is_truthy(py)? {
                    if let Some(h) = slf.borrow_mut().handlers.breaks.get_mut(&id) {
                        h.false_hits += 1;
                    }
                    return Ok(None);
                }
            }
            if let Some(callback) = callback {
                let obj = Py::new(py, Event { inner: event.clone() })?;
                callback.call1(py, (slf, &obj))?;
                object = Some(obj);
            }
            if matches!(kind, BreakpointKind::OneTime | BreakpointKind::StopAndRemove) {
                let mut this = slf.borrow_mut();
                this.handlers.breaks.remove(&id);
                let trace = this.trace()?;
                if trace.breakpoint(id).is_some() {
                    trace.remove_breakpoint(id).py()?;
                }
            }
            match kind {
                BreakpointKind::Fast | BreakpointKind::Tracker => return Ok(None),
                BreakpointKind::StopRunForever | BreakpointKind::StopAndRemove => {
                    slf.borrow_mut().handlers.run_forever = false;
                    forced = true;
                }
                _ => {}
            }
        }
    }
    let notifiers = slf.borrow().handlers.notifiers_for(py, event_type);
    if !notifiers.is_empty() {
        let obj = match &object {
            Some(obj) => obj.clone_ref(py),
            None => Py::new(py, Event { inner: event.clone() })?,
        };
        for notifier in notifiers {
            notifier.call1(py, (slf, &obj))?;
        }
        object = Some(obj);
    }
    let this = slf.borrow();
    let attached = this.inner.as_ref().is_some_and(|t| t.is_attached());
    let h = &this.handlers;
    let go_on = !forced && attached && (h.auto_continue.contains(&event_type) || h.run_again || h.run_forever);
    drop(this);
    if go_on {
        return Ok(None);
    }
    match object {
        Some(obj) => Ok(Some(obj)),
        None => Ok(Some(Py::new(py, Event { inner: event })?)),
    }
}

/// A hooked function was entered: read its arguments, call `pre`, and arm the return.
fn hook_entry(slf: &Bound<'_, PyTrace>, id: u32, tid: oxtrace::Tid) -> PyResult<()> {
    let py = slf.py();
    let (call, pre, post) = {
        let mut this = slf.borrow_mut();
        let Some(hook) = this.handlers.hooks.get(&id) else { return Ok(()) };
        let (argc, pre, post) =
            (hook.argc, hook.pre.as_ref().map(|p| p.clone_ref(py)), hook.post.as_ref().map(|p| p.clone_ref(py)));
        let trace = this.trace()?;
        let arch = trace.arch();
        let sp = trace.sp().py()?;
        let return_addr = if arch.return_address_on_stack {
            trace.read_ptr(sp).py()?
        } else {
            trace.register_u64(arch.unwind.names[usize::from(arch.unwind.return_address)]).py()?
        };
        let func = trace.pc().py()?;
        let mut args = Vec::with_capacity(argc);
        for i in 0..argc {
            args.push(match arch.call_args.get(i) {
                Some(reg) => trace.register_u64(reg).py()?,
                None => {
                    let slot = (i - arch.call_args.len()) as u64 * arch.pointer_size as u64;
                    trace.read_ptr(sp + arch.stack_args_offset + slot).py()?
                }
            });
        }
        (HookCall { tid, func, args, return_addr, sp }, pre, post)
    };
    let (return_addr, sp) = (call.return_addr, call.sp);
    let call = Py::new(py, call)?;
    if let Some(pre) = pre {
        pre.call1(py, (slf, &call))?;
    }
    if post.is_none() {
        return Ok(());
    }
    let mut this = slf.borrow_mut();
    // After `ret` the caller's stack pointer is one slot above the entry's on x86.
    let arch = this.trace()?.arch();
    let popped = if arch.return_address_on_stack { arch.pointer_size as u64 } else { 0 };
    this.handlers.pending_returns.insert((tid, sp + popped), (id, call));
    if !this.handlers.return_bps.contains_key(&return_addr) {
        // Where the user has a breakpoint already, that one serves (see `hook_return`).
        if let Ok(bp) = this.trace()?.add_breakpoint(return_addr, BreakpointKind::Normal, None) {
            this.handlers.return_bps.insert(return_addr, bp);
        }
    }
    Ok(())
}

/// A breakpoint at `addr` was hit: if a hooked call returns there, call its
/// `post`. Returns whether the breakpoint is a hook's own return breakpoint.
fn hook_return(slf: &Bound<'_, PyTrace>, tid: oxtrace::Tid, addr: u64) -> PyResult<bool> {
    let py = slf.py();
    let found = {
        let mut this = slf.borrow_mut();
        let own = this.handlers.return_bps.get(&addr).copied();
        if this.handlers.pending_returns.is_empty() {
            return Ok(own.is_some());
        }
        let trace = this.trace()?;
        let sp = trace.sp().py()?;
        let key = (tid, sp);
        let matches = this.handlers.pending_returns.get(&key).is_some_and(|(_, c)| c.get().return_addr == addr);
        let found = if matches {
            let ret_reg = this.trace()?.arch().return_value;
            let ret = this.trace()?.register_u64(ret_reg).py()?;
            let (hook, call) = this.handlers.pending_returns.remove(&key).expect("checked");
            let post = this.handlers.hooks.get(&hook).and_then(|h| h.post.as_ref().map(|p| p.clone_ref(py)));
            post.map(|p| (p, call, ret))
        } else {
            None
        };
        if let Some(bp) = own {
            let waiting = this.handlers.pending_returns.values().any(|(_, c)| c.get().return_addr == addr);
            if !waiting {
                this.handlers.return_bps.remove(&addr);
                this.trace()?.remove_breakpoint(bp).py()?;
            }
        }
        (found, own.is_some())
    };
    if let (Some((post, call, ret)), _) = &found {
        post.call1(py, (slf, call, *ret))?;
    }
    Ok(found.1)
}
