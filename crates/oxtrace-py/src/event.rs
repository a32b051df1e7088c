//! Events as Python objects: `kind`, `pid`, `tid` and the kind's own fields as attributes.

use oxtrace::{EventKind, EventType, ExitStatus, SyscallStop};
use pyo3::exceptions::{PyAttributeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// Every event type, with its name in Python.
pub const TYPES: [(EventType, &str); 16] = [
    (EventType::Attached, "attached"),
    (EventType::Detached, "detached"),
    (EventType::Continued, "continued"),
    (EventType::Breakpoint, "breakpoint"),
    (EventType::Watchpoint, "watchpoint"),
    (EventType::Signal, "signal"),
    (EventType::Step, "step"),
    (EventType::Syscall, "syscall"),
    (EventType::Interrupted, "interrupted"),
    (EventType::Exited, "exited"),
    (EventType::ThreadCreated, "thread_created"),
    (EventType::ThreadExited, "thread_exited"),
    (EventType::LibraryLoaded, "library_loaded"),
    (EventType::LibraryUnloaded, "library_unloaded"),
    (EventType::Exec, "exec"),
    (EventType::PageWatch, "page_watch"),
];

/// The Python name of an event type.
pub fn type_name(t: EventType) -> &'static str {
    TYPES.iter().find(|(ty, _)| *ty == t).map_or("unknown", |(_, name)| name)
}

/// The event type a Python name stands for; `None` for `"all"`.
pub fn parse_type(name: &str) -> PyResult<Option<EventType>> {
    if name == "all" {
        return Ok(None);
    }
    TYPES.iter().find(|(_, n)| *n == name).map(|(t, _)| Some(*t)).ok_or_else(|| {
        let known: Vec<&str> = TYPES.iter().map(|(_, n)| *n).collect();
        PyValueError::new_err(format!("unknown event kind {name:?} (known: all, {})", known.join(", ")))
    })
}

/// Something that happened to the traced process.
///
/// `kind` is one of "attached", "detached", "continued", "breakpoint", "watchpoint",
/// "signal", "step", "syscall", "interrupted", "exited", "thread_created",
/// "thread_exited", "library_loaded", "library_unloaded", "exec", "page_watch".
/// The kind's fields are attributes too (see `fields()`): `id` and `addr` of a
/// breakpoint; `signo`, `code`, `fault_addr`, `sender_pid` of a signal; `number`, `name`,
/// `args` (entry) or `ret` (exit) and `entry` of a system call; `exit_code` or
/// `signal` of an exit; `new_tid`; `name`, `path`, `base` of a library; `id`,
/// `addr`, `pc`, `access_pc`, `old`, `new` of a watchpoint; `id`, `pc`, `addr`,
/// `access` of a page watchpoint.
#[pyclass(module = "oxtrace", name = "Event", frozen)]
pub struct Event {
    /// The library's event.
    pub inner: oxtrace::Event,
}

impl Event {
    /// The kind's fields, as (name, value) pairs.
    fn field_list<'py>(&self, py: Python<'py>) -> PyResult<Vec<(&'static str, Bound<'py, PyAny>)>> {
        use pyo3::IntoPyObjectExt;
        let mut out: Vec<(&'static str, Bound<'py, PyAny>)> = Vec::new();
        let mut put = |name: &'static str, v: Bound<'py, PyAny>| out.push((name, v));
        match &self.inner.kind {
            EventKind::Breakpoint { id, addr } => {
                put("id", id.into_bound_py_any(py)?);
                put("addr", addr.into_bound_py_any(py)?);
            }
            EventKind::Watchpoint { id, addr, pc, access_pc, old, new } => {
                put("id", id.into_bound_py_any(py)?);
                put("addr", addr.into_bound_py_any(py)?);
                put("pc", pc.into_bound_py_any(py)?);
                put("access_pc", access_pc.into_bound_py_any(py)?);
                put("old", old.into_bound_py_any(py)?);
                put("new", new.into_bound_py_any(py)?);
            }
            EventKind::Signal(info) => {
                put("signo", info.signo.into_bound_py_any(py)?);
                put("code", info.code.into_bound_py_any(py)?);
                put("errno", info.errno.into_bound_py_any(py)?);
                put("fault_addr", info.fault_addr.into_bound_py_any(py)?);
                put("sender_pid", info.sender_pid.into_bound_py_any(py)?);
            }
            EventKind::Syscall(SyscallStop::Entry { number, args }) => {
                put("entry", true.into_bound_py_any(py)?);
                put("number", number.into_bound_py_any(py)?);
                put("name", oxtrace::arch::syscall_name(*number).into_bound_py_any(py)?);
                put("args", args.to_vec().into_bound_py_any(py)?);
            }
            EventKind::Syscall(SyscallStop::Exit { number, ret }) => {
                put("entry", false.into_bound_py_any(py)?);
                put("number", number.into_bound_py_any(py)?);
                put("name", oxtrace::arch::syscall_name(*number).into_bound_py_any(py)?);
                put("ret", ret.into_bound_py_any(py)?);
            }
            EventKind::Exited(status) | EventKind::ThreadExited(status) => {
                let (code, signal) = match *status {
                    ExitStatus::Code(c) => (Some(c), None),
                    ExitStatus::Signaled { signal, .. } => (None, Some(signal)),
                };
                put("exit_code", code.into_bound_py_any(py)?);
                put("signal", signal.into_bound_py_any(py)?);
            }
            EventKind::ThreadCreated { new_tid } => put("new_tid", new_tid.into_bound_py_any(py)?),
            EventKind::LibraryLoaded { name, path, base } | EventKind::LibraryUnloaded { name, path, base } => {
                put("name", name.into_bound_py_any(py)?);
                put("path", path.into_bound_py_any(py)?);
                put("base", base.into_bound_py_any(py)?);
            }
            EventKind::Exec { path } => put("path", path.into_bound_py_any(py)?),
            EventKind::PageWatch { id, pc, addr, access } => {
                put("id", id.into_bound_py_any(py)?);
                put("pc", pc.into_bound_py_any(py)?);
                put("addr", addr.into_bound_py_any(py)?);
                let access = match access {
                    oxtrace::PageAccess::Read => "read",
                    oxtrace::PageAccess::Write => "write",
                    oxtrace::PageAccess::Execute => "execute",
                };
                put("access", access.into_bound_py_any(py)?);
            }
            _ => {}
        }
        Ok(out)
    }
}

#[pymethods]
impl Event {
    /// The event's kind, as a string ("breakpoint", "signal", "exited"...).
    #[getter]
    fn kind(&self) -> &'static str {
        type_name(self.inner.kind.event_type())
    }

    /// The process.
    #[getter]
    fn pid(&self) -> i32 {
        self.inner.pid
    }

    /// The thread it happened in (the pid for process-wide events).
    #[getter]
    fn tid(&self) -> i32 {
        self.inner.tid
    }

    /// The kind's fields as a dict.
    fn fields<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let dict = PyDict::new(py);
        for (k, v) in self.field_list(py)? {
            dict.set_item(k, v)?;
        }
        Ok(dict)
    }

    fn __getattr__<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
        self.field_list(py)?
            .into_iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v)
            .ok_or_else(|| PyAttributeError::new_err(format!("a {} event has no field {name:?}", self.kind())))
    }

    fn __str__(&self) -> String {
        self.inner.to_string()
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let mut parts = vec![
            format!("kind='{}'", self.kind()),
            format!("pid={}", self.inner.pid),
            format!("tid={}", self.inner.tid),
        ];
        for (k, v) in self.field_list(py)? {
            parts.push(format!("{k}={}", v.repr()?));
        }
        Ok(format!("Event({})", parts.join(", ")))
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other.cast::<Event>().is_ok_and(|o| o.get().inner == self.inner)
    }
}
