//! `oxtrace.Trace`: one traced process and everything done to it.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use oxtrace::{BreakpointKind, CallArg, EventType, Mode, Needle, TraceState, WatchKind};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyInt, PyString};

use crate::dispatch;
use crate::errors::{IntoPy, ProcessError, StateError};
use crate::event::{parse_type, type_name, Event};
use crate::handlers::{BreakHandler, Handlers, Hook};
use crate::info;
use crate::registers::Registers;
use crate::values;

/// Fails unless the trace is stopped and alive.
pub fn require_stopped(trace: &oxtrace::Trace) -> PyResult<()> {
    match trace.state() {
        TraceState::Stopped => Ok(()),
        TraceState::Running => Err(StateError::new_err(format!("process {} is running; stop it first", trace.pid()))),
        TraceState::Exited(_) => {
            Err(crate::errors::ProcessExitedError::new_err(format!("process {} has exited", trace.pid())))
        }
        TraceState::Detached => Err(ProcessError::new_err(format!("process {} is detached", trace.pid()))),
    }
}

/// A traced process: run control, breakpoints, callbacks, memory, registers,
/// threads, signals, symbols and stacks.
///
/// Make one with `Trace.spawn([...])`, `Trace.attach(pid)`,
/// `Trace.open_core(path)` or `Trace.connect("host:port")`.
///
/// A trace belongs to the Python thread that made it (ptrace's rule): use it
/// only from that thread (another thread gets an error); two traces in two
/// threads run side by side, since the GIL is released while a process runs.
/// `trace.interrupter()` gives a handle any thread may use to stop it.
/// Ctrl-C during `run()` or `wait()` on the main thread stops the process and
/// raises `KeyboardInterrupt`, the trace stopped and usable.
#[pyclass(module = "oxtrace", name = "Trace", unsendable)]
pub struct PyTrace {
    /// The library's trace; `None` once released.
    pub inner: Option<oxtrace::Trace>,
    /// The Python callables and run decisions.
    pub handlers: Handlers,
    /// Made on the main thread (where Ctrl-C is delivered to Python).
    pub main_thread: bool,
}

impl PyTrace {
    /// The library's trace, or an error once released.
    pub fn trace(&mut self) -> PyResult<&mut oxtrace::Trace> {
        self.inner.as_mut().ok_or_else(|| ProcessError::new_err("the trace was released"))
    }

    fn wrap(py: Python<'_>, trace: oxtrace::Trace) -> PyResult<Py<PyTrace>> {
        let threading = py.import("threading")?;
        let main = threading.call_method0("main_thread")?;
        let current = threading.call_method0("current_thread")?;
        let main_thread = main.is(&current);
        let handlers = Handlers::default();
        let mut trace = trace;
        handlers.sync_auto_continue(&mut trace);
        Py::new(py, PyTrace { inner: Some(trace), handlers, main_thread })
    }

    /// An address from an int, or from an expression ("libc.malloc", "main+4", "rsp+8").
    fn address(&mut self, target: &Bound<'_, PyAny>) -> PyResult<u64> {
        if let Ok(addr) = target.extract::<u64>() {
            return Ok(addr);
        }
        if let Ok(text) = target.extract::<String>() {
            return self.trace()?.parse_expression(&text).py();
        }
        Err(PyTypeError::new_err(format!(
            "an address is an int or an expression string, not {}",
            target.get_type().name()?
        )))
    }
}

/// One symbol as `symbol_table` lists it: (module, name, address, size, kind).
type SymbolRow = (String, String, u64, u64, &'static str);

fn breakpoint_kind(name: &str) -> PyResult<BreakpointKind> {
    info::KINDS.iter().find(|(_, n)| *n == name).map(|(k, _)| *k).ok_or_else(|| {
        let known: Vec<&str> = info::KINDS.iter().map(|(_, n)| *n).collect();
        PyValueError::new_err(format!("unknown breakpoint kind {name:?} (known: {})", known.join(", ")))
    })
}

fn kind_name(kind: BreakpointKind) -> &'static str {
    info::KINDS.iter().find(|(k, _)| *k == kind).map_or("normal", |(_, n)| n)
}

fn watch_kind(name: &str) -> PyResult<WatchKind> {
    match name {
        "x" | "exec" | "execute" => Ok(WatchKind::Execute),
        "w" | "write" => Ok(WatchKind::Write),
        "rw" | "readwrite" | "read_write" => Ok(WatchKind::ReadWrite),
        _ => Err(PyValueError::new_err(format!("unknown watch kind {name:?} (use \"x\", \"w\" or \"rw\")"))),
    }
}

fn mode(name: &str) -> PyResult<Option<Mode>> {
    match name {
        "RunForever" | "run_forever" => Ok(None),
        "FastStep" | "fast_step" => Ok(Some(Mode::FastStep)),
        "SingleStep" | "single_step" => Ok(Some(Mode::SingleStep)),
        "Syscall" | "syscall" => Ok(Some(Mode::Syscall)),
        _ => Err(PyValueError::new_err(format!(
            "unknown mode {name:?} (known: RunForever, FastStep, SingleStep, Syscall)"
        ))),
    }
}

fn stdio(spec: Option<&Bound<'_, PyAny>>, what: &str) -> PyResult<Stdio> {
    let Some(spec) = spec else { return Ok(Stdio::inherit()) };
    if let Ok(name) = spec.extract::<String>() {
        match name.as_str() {
            "inherit" => return Ok(Stdio::inherit()),
            "null" => return Ok(Stdio::null()),
            _ => {}
        }
    }
    let path: PathBuf = spec.extract().map_err(|_| {
        PyTypeError::new_err(format!("{what} is None, \"inherit\", \"null\" or a file path (os.PathLike)"))
    })?;
    let file = if what == "stdin" { std::fs::File::open(&path) } else { std::fs::File::create(&path) };
    let file = file.map_err(|e| crate::errors::FileError::new_err(format!("{}: {e}", path.display())))?;
    Ok(Stdio::from(file))
}

fn call_arg(arg: &Bound<'_, PyAny>) -> PyResult<CallArg> {
    if arg.is_instance_of::<PyInt>() {
        // Negative ints are passed in two's complement.
        return match arg.extract::<u64>() {
            Ok(v) => Ok(CallArg::Int(v)),
            Err(_) => Ok(CallArg::Int(arg.extract::<i64>()? as u64)),
        };
    }
    if let Ok(s) = arg.cast::<PyString>() {
        return Ok(CallArg::from(s.extract::<String>()?.as_str()));
    }
    if let Ok(b) = arg.cast::<PyBytes>() {
        return Ok(CallArg::Bytes(b.as_bytes().to_vec()));
    }
    Err(PyTypeError::new_err(format!("a call argument is an int, str or bytes, not {}", arg.get_type().name()?)))
}

#[pymethods]
impl PyTrace {
    // ----- making a trace -----

    /// Starts `argv` (program and arguments, no shell) under trace, stopped
    /// before its first instruction. `env` (a dict) replaces the environment,
    /// `cwd` is the working directory, `stdin`/`stdout`/`stderr` are None
    /// (inherited), "null", or a path (os.PathLike) to read or write; `disable_aslr` turns address randomization off.
    #[staticmethod]
    #[pyo3(signature = (argv, env=None, cwd=None, stdin=None, stdout=None, stderr=None, disable_aslr=false))]
    #[allow(clippy::too_many_arguments)]
    fn spawn(
        py: Python<'_>,
        argv: Vec<PathBuf>,
        env: Option<&Bound<'_, PyDict>>,
        cwd: Option<PathBuf>,
        stdin: Option<&Bound<'_, PyAny>>,
        stdout: Option<&Bound<'_, PyAny>>,
        stderr: Option<&Bound<'_, PyAny>>,
        disable_aslr: bool,
    ) -> PyResult<Py<PyTrace>> {
        let Some((program, args)) = argv.split_first() else {
            return Err(PyValueError::new_err("argv is empty: name the program to start"));
        };
        let mut command = Command::new(program);
        command.args(args);
        if let Some(env) = env {
            command.env_clear();
            for (k, v) in env.iter() {
                command.env(k.extract::<String>()?, v.extract::<String>()?);
            }
        }
        if let Some(cwd) = cwd {
            command.current_dir(cwd);
        }
        command.stdin(stdio(stdin, "stdin")?).stdout(stdio(stdout, "stdout")?).stderr(stdio(stderr, "stderr")?);
        let options = oxtrace::SpawnOptions { disable_aslr };
        let trace = oxtrace::Trace::spawn_with(command, options).py()?;
        PyTrace::wrap(py, trace)
    }

    /// Attaches to the running process `pid` (every thread) and stops it.
    #[staticmethod]
    fn attach(py: Python<'_>, pid: i32) -> PyResult<Py<PyTrace>> {
        let trace = oxtrace::Trace::attach(pid).py()?;
        PyTrace::wrap(py, trace)
    }

    /// Opens a core file (the kernel's, gdb's gcore, or an oxtrace snapshot) as
    /// a stopped trace; `program` names the program it came from.
    #[staticmethod]
    #[pyo3(signature = (path, program=None))]
    fn open_core(py: Python<'_>, path: PathBuf, program: Option<PathBuf>) -> PyResult<Py<PyTrace>> {
        let trace = oxtrace::Trace::open_core(&path, program.as_deref()).py()?;
        PyTrace::wrap(py, trace)
    }

    /// Traces the process a GDB remote stub holds at `addr` ("host:port");
    /// `program` names its program when the stub cannot list the maps.
    #[staticmethod]
    #[pyo3(signature = (addr, program=None))]
    fn connect(py: Python<'_>, addr: &str, program: Option<&str>) -> PyResult<Py<PyTrace>> {
        let trace = match program {
            Some(program) => oxtrace::Trace::connect_with_program(addr, program),
            None => oxtrace::Trace::connect(addr),
        }
        .py()?;
        PyTrace::wrap(py, trace)
    }

    // ----- state -----

    /// The process id.
    #[getter]
    fn pid(&mut self) -> PyResult<i32> {
        Ok(self.trace()?.pid())
    }

    /// "stopped", "running", "exited" or "detached" ("released" after release()).
    #[getter]
    fn state(&self) -> &'static str {
        match self.inner.as_ref().map(|t| t.state()) {
            None => "released",
            Some(TraceState::Stopped) => "stopped",
            Some(TraceState::Running) => "running",
            Some(TraceState::Exited(_)) => "exited",
            Some(TraceState::Detached) => "detached",
        }
    }

    /// True while attached (stopped or running).
    fn is_attached(&self) -> bool {
        self.inner.as_ref().is_some_and(|t| t.is_attached())
    }

    /// True while the process runs after start().
    fn is_running(&self) -> bool {
        self.inner.as_ref().is_some_and(|t| t.is_running())
    }

    /// True once the process has ended.
    fn has_exited(&self) -> bool {
        self.inner.as_ref().is_some_and(|t| t.has_exited())
    }

    /// The exit code once the process has exited normally, else None.
    #[getter]
    fn exit_code(&self) -> Option<i32> {
        match self.inner.as_ref()?.exit_status()? {
            oxtrace::ExitStatus::Code(code) => Some(code),
            _ => None,
        }
    }

    /// The signal that killed the process, else None.
    #[getter]
    fn exit_signal(&self) -> Option<i32> {
        match self.inner.as_ref()?.exit_status()? {
            oxtrace::ExitStatus::Signaled { signal, .. } => Some(signal),
            _ => None,
        }
    }

    /// The path of the program, if known.
    #[getter]
    fn exe(&mut self) -> PyResult<Option<String>> {
        Ok(self.trace()?.exe_path())
    }

    /// The architecture's name ("x86_64", "aarch64").
    #[getter]
    fn arch(&mut self) -> PyResult<&'static str> {
        Ok(self.trace()?.arch().name)
    }

    /// The last event the trace reported.
    fn last_event(&mut self, py: Python<'_>) -> PyResult<Option<Py<Event>>> {
        match self.trace()?.last_event().cloned() {
            Some(inner) => Ok(Some(Py::new(py, Event { inner })?)),
            None => Ok(None),
        }
    }

    // ----- run control -----

    /// Resumes the process and blocks (the GIL released) until an event stops
    /// the trace; returns that event. Callbacks and notifiers run on the way; an
    /// exception from one comes out of here, the process stopped at that event.
    fn run(slf: &Bound<'_, Self>) -> PyResult<Py<Event>> {
        dispatch::drive(slf)
    }

    /// Runs until a thread reaches `target` (an address or expression), or
    /// another event stops the trace first.
    fn run_until(slf: &Bound<'_, Self>, target: &Bound<'_, PyAny>) -> PyResult<Py<Event>> {
        let temporary = {
            let mut this = slf.borrow_mut();
            let addr = this.address(target)?;
            let trace = this.trace()?;
            match trace.breakpoint_at(addr) {
                Some(_) => None,
                None => {
                    let id = trace.add_breakpoint(addr, BreakpointKind::StopAndRemove, None).py()?;
                    let handler = BreakHandler {
                        callback: None,
                        condition: None,
                        kind: BreakpointKind::StopAndRemove,
                        false_hits: 0,
                    };
                    this.handlers.breaks.insert(id, handler);
                    Some(id)
                }
            }
        };
        let result = dispatch::drive(slf);
        if let Some(id) = temporary {
            let mut this = slf.borrow_mut();
            this.handlers.breaks.remove(&id);
            if let Some(trace) = this.inner.as_mut() {
                if trace.breakpoint(id).is_some() && trace.state() == TraceState::Stopped {
                    trace.remove_breakpoint(id).py()?;
                }
            }
        }
        result
    }

    /// Resumes the process without waiting; follow with wait().
    fn start(slf: &Bound<'_, Self>) -> PyResult<()> {
        dispatch::resume(slf)
    }

    /// Waits (the GIL released) for the next event that stops the trace, at
    /// most `timeout` seconds (None: for ever); None on timeout.
    #[pyo3(signature = (timeout=None))]
    fn wait(slf: &Bound<'_, Self>, timeout: Option<f64>) -> PyResult<Option<Py<Event>>> {
        let deadline = timeout.map(|t| std::time::Instant::now() + std::time::Duration::from_secs_f64(t.max(0.0)));
        loop {
            let left = deadline.map(|d| d.saturating_duration_since(std::time::Instant::now()).as_secs_f64());
            let Some(event) = dispatch::wait(slf, left)? else { return Ok(None) };
            if let Some(stop) = dispatch::handle(slf, event)? {
                return Ok(Some(stop));
            }
            dispatch::resume(slf)?;
        }
    }

    /// A handle that stops this trace from any thread.
    fn interrupter(&mut self) -> PyResult<info::Interrupter> {
        Ok(info::Interrupter { inner: self.trace()?.interrupter() })
    }

    /// Executes one instruction of the current thread; returns the event ("step" normally).
    fn stepi(slf: &Bound<'_, Self>) -> PyResult<Py<Event>> {
        let event = slf.borrow_mut().trace()?.stepi().py()?;
        step_result(slf, event)
    }

    /// Executes one instruction, running a call to its return (gdb's nexti).
    fn step_over(slf: &Bound<'_, Self>) -> PyResult<Py<Event>> {
        let event = slf.borrow_mut().trace()?.step_over().py()?;
        step_result(slf, event)
    }

    /// Runs to the return of the current function (gdb's finish).
    fn step_out(slf: &Bound<'_, Self>) -> PyResult<Py<Event>> {
        let event = slf.borrow_mut().trace()?.step_out().py()?;
        step_result(slf, event)
    }

    /// Steps to the next source line, into calls (gdb's step).
    fn step_line(slf: &Bound<'_, Self>) -> PyResult<Py<Event>> {
        let event = slf.borrow_mut().trace()?.step_line().py()?;
        step_result(slf, event)
    }

    /// Steps to the next source line, over calls (gdb's next).
    fn next_line(slf: &Bound<'_, Self>) -> PyResult<Py<Event>> {
        let event = slf.borrow_mut().trace()?.next_line().py()?;
        step_result(slf, event)
    }

    /// Runs until thread `tid` exits; returns the last event.
    fn join_thread(&mut self, py: Python<'_>, tid: i32) -> PyResult<Py<Event>> {
        let event = self.trace()?.join_thread(tid).py()?;
        Py::new(py, Event { inner: event })
    }

    /// From a callback or notifier: go on once the event is handled.
    fn run_again(&mut self) {
        self.handlers.run_again = true;
    }

    /// Turns a mode on or off: "RunForever" (go on after every event until
    /// the process exits or a stop breakpoint), "FastStep" (stepi fires no
    /// notifiers), "SingleStep" (run() steps), "Syscall" (stop at system calls).
    fn set_mode(&mut self, name: &str, on: bool) -> PyResult<()> {
        match mode(name)? {
            None => self.handlers.run_forever = on,
            Some(m) => self.trace()?.set_mode(m, on),
        }
        Ok(())
    }

    /// Whether a mode is on (see set_mode).
    fn mode(&mut self, name: &str) -> PyResult<bool> {
        Ok(match mode(name)? {
            None => self.handlers.run_forever,
            Some(m) => self.trace()?.mode(m),
        })
    }

    /// Detaches: breakpoints removed, registers written back; the process runs on.
    fn detach(&mut self) -> PyResult<()> {
        self.trace()?.detach().py()
    }

    /// Kills the process; returns its exit code (None if a signal ended it).
    fn kill(&mut self) -> PyResult<Option<i32>> {
        match self.trace()?.kill().py()? {
            oxtrace::ExitStatus::Code(code) => Ok(Some(code)),
            _ => Ok(None),
        }
    }

    /// Lets the process go (killed if spawned, detached if attached) and frees
    /// the trace; nothing more can be done with it. Safe to call twice.
    fn release(&mut self) -> PyResult<()> {
        self.handlers = Handlers::default();
        match self.inner.take() {
            Some(trace) => trace.release().py(),
            None => Ok(()),
        }
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&mut self, _args: &Bound<'_, pyo3::types::PyTuple>) -> PyResult<bool> {
        self.release()?;
        Ok(false)
    }

    // ----- notifiers, callbacks, breakpoints -----

    /// Calls `callback(trace, event)` at every event of `kind` ("all" for every
    /// event); returns an id for deregister_notifier. A notifier may call
    /// trace.run_again() to go on after the event.
    fn register_notifier(&mut self, kind: &str, callback: Py<PyAny>) -> PyResult<u64> {
        let event_type = parse_type(kind)?;
        let id = self.handlers.next_notifier;
        self.handlers.next_notifier += 1;
        self.handlers.notifiers.push((id, event_type, callback));
        if matches!(event_type, None | Some(EventType::LibraryLoaded | EventType::LibraryUnloaded)) {
            // Library events come once tracking is on (it needs a stopped process).
            if let Some(trace) = self.inner.as_mut().filter(|t| t.state() == TraceState::Stopped) {
                trace.track_libraries().py()?;
                self.handlers.library_events.register(trace);
            }
        }
        let handlers = std::mem::take(&mut self.handlers);
        let result = self.trace().map(|t| handlers.sync_auto_continue(t));
        self.handlers = handlers;
        result.map(|()| id)
    }

    /// Removes a notifier; returns whether it was registered.
    fn deregister_notifier(&mut self, id: u64) -> PyResult<bool> {
        let before = self.handlers.notifiers.len();
        self.handlers.notifiers.retain(|(i, _, _)| *i != id);
        let handlers = std::mem::take(&mut self.handlers);
        let result = self.trace().map(|t| handlers.sync_auto_continue(t));
        self.handlers = handlers;
        result.map(|()| self.handlers.notifiers.len() != before)
    }

    /// Events of `kind` go on by themselves (after their notifiers).
    fn enable_auto_continue(&mut self, kind: &str) -> PyResult<()> {
        if let Some(t) = parse_type(kind)? {
            self.handlers.auto_continue.insert(t);
        }
        let handlers = std::mem::take(&mut self.handlers);
        let result = self.trace().map(|t| handlers.sync_auto_continue(t));
        self.handlers = handlers;
        result
    }

    /// Events of `kind` stop the trace.
    fn disable_auto_continue(&mut self, kind: &str) -> PyResult<()> {
        if let Some(t) = parse_type(kind)? {
            self.handlers.auto_continue.remove(&t);
        }
        let handlers = std::mem::take(&mut self.handlers);
        let result = self.trace().map(|t| handlers.sync_auto_continue(t));
        self.handlers = handlers;
        result
    }

    /// The event kinds that go on by themselves.
    fn auto_continue_list(&self) -> Vec<&'static str> {
        self.handlers.auto_continue.iter().map(|t| type_name(*t)).collect()
    }

    /// Sets a breakpoint at `target` (an address, or an expression such as
    /// "libc.malloc", deferred until its library loads) and returns its id.
    /// `callback(trace, event)` runs at each hit; `condition` is a callable
    /// `condition(trace) -> bool` or an expression string ("rdi == 3"): a hit
    /// counts only when it holds. `kind`: "normal", "one_time",
    /// "stop_and_remove", "stop_run_forever", "tracker" (counts, never stops),
    /// "fast" (runs the callback, never stops) or "silent".
    #[pyo3(signature = (target, callback=None, condition=None, kind="normal"))]
    fn add_breakpoint(
        &mut self,
        target: &Bound<'_, PyAny>,
        callback: Option<Py<PyAny>>,
        condition: Option<&Bound<'_, PyAny>>,
        kind: &str,
    ) -> PyResult<u32> {
        let kind = breakpoint_kind(kind)?;
        let py_condition = match condition {
            Some(c) if c.is_callable() => Some(c.clone().unbind()),
            _ => None,
        };
        let needs_python = callback.is_some() || py_condition.is_some();
        // A Python callable needs a stop; the kind's own effect is applied above the library.
        let lib_kind = match kind {
            BreakpointKind::Fast | BreakpointKind::Tracker if needs_python => BreakpointKind::Normal,
            other => other,
        };
        let trace = self.trace()?;
        let (id, lib_kind) = if let Ok(text) = target.extract::<String>() {
            // Deferred until its library loads: a plain breakpoint, its kind applied above the library.
            (trace.add_break_by_expr(&text).py()?, BreakpointKind::Normal)
        } else {
            let addr: u64 = target
                .extract()
                .map_err(|_| PyTypeError::new_err("a breakpoint's target is an int address or an expression string"))?;
            (trace.add_breakpoint(addr, lib_kind, None).py()?, lib_kind)
        };
        if let Some(text) = condition.filter(|c| !c.is_callable()) {
            let text: String = text
                .extract()
                .map_err(|_| PyTypeError::new_err("a condition is a callable or an expression string"))?;
            if let Err(e) = trace.set_breakpoint_condition_expr(id, &text) {
                let _ = trace.remove_breakpoint(id);
                return Err(crate::errors::to_py(e));
            }
        }
        if needs_python || kind != lib_kind {
            self.handlers.breaks.insert(id, BreakHandler { callback, condition: py_condition, kind, false_hits: 0 });
        } else if matches!(kind, BreakpointKind::StopAndRemove | BreakpointKind::StopRunForever) {
            // The library turns its own RunForever off; the binding keeps that mode, so it must see these.
            self.handlers.breaks.insert(id, BreakHandler { callback: None, condition: None, kind, false_hits: 0 });
        }
        Ok(id)
    }

    /// Replaces a breakpoint's callback (None removes it).
    fn set_breakpoint_callback(&mut self, id: u32, callback: Option<Py<PyAny>>) -> PyResult<()> {
        let trace = self.trace()?;
        let info =
            trace.breakpoint(id).cloned().ok_or_else(|| crate::errors::to_py(oxtrace::Error::NoSuchBreakpoint(id)))?;
        if matches!(info.kind, BreakpointKind::Fast | BreakpointKind::Tracker) && callback.is_some() {
            // The library's quiet kinds never stop: make it a plain one, its kind kept above.
            trace.remove_breakpoint(id).py()?;
            let new = trace.add_breakpoint(info.addr, BreakpointKind::Normal, None).py()?;
            self.handlers.breaks.remove(&id);
            self.handlers
                .breaks
                .insert(new, BreakHandler { callback, condition: None, kind: info.kind, false_hits: 0 });
            return Err(PyValueError::new_err(format!(
                "breakpoint {id} was fast or tracker: it is now breakpoint {new}"
            )));
        }
        let entry = self.handlers.breaks.entry(id).or_insert(BreakHandler {
            callback: None,
            condition: None,
            kind: info.kind,
            false_hits: 0,
        });
        entry.callback = callback;
        Ok(())
    }

    /// Sets a breakpoint's condition: a callable, an expression string, or None.
    fn set_breakpoint_condition(&mut self, id: u32, condition: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        let trace = self.trace()?;
        let kind = trace
            .breakpoint(id)
            .map(|b| b.kind)
            .ok_or_else(|| crate::errors::to_py(oxtrace::Error::NoSuchBreakpoint(id)))?;
        trace.set_breakpoint_condition(id, None).py()?;
        let mut py_condition = None;
        match condition {
            None => {}
            Some(c) if c.is_callable() => py_condition = Some(c.clone().unbind()),
            Some(c) => trace.set_breakpoint_condition_expr(id, &c.extract::<String>()?).py()?,
        }
        let entry = self.handlers.breaks.entry(id).or_insert(BreakHandler {
            callback: None,
            condition: None,
            kind,
            false_hits: 0,
        });
        entry.condition = py_condition;
        Ok(())
    }

    /// Removes a breakpoint (or hook) by id.
    fn remove_breakpoint(&mut self, id: u32) -> PyResult<()> {
        self.handlers.breaks.remove(&id);
        self.handlers.hooks.remove(&id);
        self.handlers.pending_returns.retain(|_, (hook, _)| *hook != id);
        self.trace()?.remove_breakpoint(id).py()
    }

    /// Arms or disarms a breakpoint.
    fn set_breakpoint_enabled(&mut self, id: u32, enabled: bool) -> PyResult<()> {
        self.trace()?.set_breakpoint_enabled(id, enabled).py()
    }

    /// Every breakpoint the user set.
    fn breakpoints(&mut self) -> PyResult<Vec<info::Breakpoint>> {
        let list = self.trace()?.breakpoints();
        Ok(list.iter().map(|b| self.describe(b)).collect())
    }

    /// A breakpoint by id, or None.
    fn breakpoint(&mut self, id: u32) -> PyResult<Option<info::Breakpoint>> {
        let b = self.trace()?.breakpoint(id).cloned();
        Ok(b.map(|b| self.describe(&b)))
    }

    /// The breakpoint at an address, or None.
    fn breakpoint_at(&mut self, addr: u64) -> PyResult<Option<info::Breakpoint>> {
        let b = self.trace()?.breakpoint_at(addr).cloned();
        Ok(b.map(|b| self.describe(&b)))
    }

    /// Hooks a function (address or expression): `pre(trace, call)` at every
    /// call with its first `argc` integer arguments (`call.args`), `post(trace,
    /// call, retval)` at its return. Neither stops the trace. Returns the id of
    /// the entry breakpoint (remove_breakpoint unhooks).
    #[pyo3(signature = (target, pre=None, post=None, argc=6))]
    fn add_hook(
        &mut self,
        target: &Bound<'_, PyAny>,
        pre: Option<Py<PyAny>>,
        post: Option<Py<PyAny>>,
        argc: usize,
    ) -> PyResult<u32> {
        let trace = self.trace()?;
        let id = match target.extract::<String>() {
            // Deferred until its library loads.
            Ok(text) => trace.add_break_by_expr(&text).py()?,
            Err(_) => {
                let addr: u64 = target.extract()?;
                trace.add_breakpoint(addr, BreakpointKind::Normal, None).py()?
            }
        };
        self.handlers.hooks.insert(id, Hook { argc, pre, post });
        Ok(id)
    }

    /// A hardware watchpoint on `size` bytes (1, 2, 4, 8) at `addr`; `kind` is
    /// "w" (writes), "rw" (reads and writes) or "x" (execution). Returns its id.
    #[pyo3(signature = (addr, size=8, kind="w"))]
    fn add_watchpoint(&mut self, addr: &Bound<'_, PyAny>, size: usize, kind: &str) -> PyResult<u32> {
        let kind = watch_kind(kind)?;
        let addr = self.address(addr)?;
        self.trace()?.add_watchpoint(addr, size, kind).py()
    }

    /// Removes a watchpoint.
    fn remove_watchpoint(&mut self, id: u32) -> PyResult<()> {
        self.trace()?.remove_watchpoint(id).py()
    }

    /// The hardware watchpoints.
    fn watchpoints(&mut self) -> PyResult<Vec<info::Watchpoint>> {
        Ok(self
            .trace()?
            .watchpoints()
            .into_iter()
            .map(|w| info::Watchpoint {
                id: w.id,
                addr: w.addr,
                size: w.size,
                kind: match w.kind {
                    WatchKind::Execute => "x",
                    WatchKind::Write => "w",
                    WatchKind::ReadWrite => "rw",
                },
                hits: w.hits,
            })
            .collect())
    }

    /// A page watchpoint on any range, by page protection: "w" or "rw". Returns its id.
    #[pyo3(signature = (addr, length, kind="w"))]
    fn add_page_watch(&mut self, addr: &Bound<'_, PyAny>, length: u64, kind: &str) -> PyResult<u32> {
        let kind = watch_kind(kind)?;
        let addr = self.address(addr)?;
        self.trace()?.add_page_watch(addr, length, kind).py()
    }

    /// Removes a page watchpoint.
    fn remove_page_watch(&mut self, id: u32) -> PyResult<()> {
        self.trace()?.remove_page_watch(id).py()
    }

    // ----- memory -----

    /// Reads `size` bytes at `addr` (breakpoint bytes show as the original code).
    fn read_memory<'py>(&mut self, py: Python<'py>, addr: u64, size: usize) -> PyResult<Bound<'py, PyBytes>> {
        let data = self.trace()?.read_memory(addr, size).py()?;
        Ok(PyBytes::new(py, &data))
    }

    /// Writes bytes at `addr` (code pages too).
    fn write_memory(&mut self, addr: u64, data: &[u8]) -> PyResult<()> {
        self.trace()?.write_memory(addr, data).py()
    }

    /// Reads a NUL-terminated string at `addr` (at most `max_len` bytes), without the NUL.
    #[pyo3(signature = (addr, max_len=4096))]
    fn read_c_string<'py>(&mut self, py: Python<'py>, addr: u64, max_len: usize) -> PyResult<Bound<'py, PyBytes>> {
        let data = self.trace()?.read_c_string(addr, max_len).py()?;
        Ok(PyBytes::new(py, &data))
    }

    /// Reads a little-endian u8.
    fn read_u8(&mut self, addr: u64) -> PyResult<u8> {
        self.trace()?.read_u8(addr).py()
    }
    /// Reads a little-endian u16.
    fn read_u16(&mut self, addr: u64) -> PyResult<u16> {
        self.trace()?.read_u16(addr).py()
    }
    /// Reads a little-endian u32.
    fn read_u32(&mut self, addr: u64) -> PyResult<u32> {
        self.trace()?.read_u32(addr).py()
    }
    /// Reads a little-endian u64.
    fn read_u64(&mut self, addr: u64) -> PyResult<u64> {
        self.trace()?.read_u64(addr).py()
    }
    /// Reads a little-endian i32.
    fn read_i32(&mut self, addr: u64) -> PyResult<i32> {
        self.trace()?.read_i32(addr).py()
    }
    /// Reads a little-endian i64.
    fn read_i64(&mut self, addr: u64) -> PyResult<i64> {
        self.trace()?.read_i64(addr).py()
    }
    /// Reads a pointer.
    fn read_ptr(&mut self, addr: u64) -> PyResult<u64> {
        self.trace()?.read_ptr(addr).py()
    }
    /// Writes a u8.
    fn write_u8(&mut self, addr: u64, value: u8) -> PyResult<()> {
        self.trace()?.write_u8(addr, value).py()
    }
    /// Writes a u16.
    fn write_u16(&mut self, addr: u64, value: u16) -> PyResult<()> {
        self.trace()?.write_u16(addr, value).py()
    }
    /// Writes a u32.
    fn write_u32(&mut self, addr: u64, value: u32) -> PyResult<()> {
        self.trace()?.write_u32(addr, value).py()
    }
    /// Writes a u64.
    fn write_u64(&mut self, addr: u64, value: u64) -> PyResult<()> {
        self.trace()?.write_u64(addr, value).py()
    }
    /// Writes an i32.
    fn write_i32(&mut self, addr: u64, value: i32) -> PyResult<()> {
        self.trace()?.write_i32(addr, value).py()
    }
    /// Writes an i64.
    fn write_i64(&mut self, addr: u64, value: i64) -> PyResult<()> {
        self.trace()?.write_i64(addr, value).py()
    }
    /// Writes a pointer.
    fn write_ptr(&mut self, addr: u64, value: u64) -> PyResult<()> {
        self.trace()?.write_ptr(addr, value).py()
    }

    /// Addresses where `needle` occurs in readable memory: bytes, or with
    /// `regex=True` a regular expression (str or bytes); within [start, end) if given.
    #[pyo3(signature = (needle, regex=false, start=None, end=None))]
    fn search_memory(
        &mut self,
        needle: &Bound<'_, PyAny>,
        regex: bool,
        start: Option<u64>,
        end: Option<u64>,
    ) -> PyResult<Vec<u64>> {
        let needle = if regex {
            let pattern = match needle.cast::<PyBytes>() {
                Ok(b) => String::from_utf8_lossy(b.as_bytes()).into_owned(),
                Err(_) => needle.extract::<String>()?,
            };
            Needle::regex(&pattern).py()?
        } else if let Ok(b) = needle.cast::<PyBytes>() {
            Needle::bytes(b.as_bytes())
        } else if let Ok(s) = needle.extract::<String>() {
            Needle::bytes(s.into_bytes())
        } else {
            return Err(PyTypeError::new_err("a needle is bytes or str"));
        };
        let trace = self.trace()?;
        match (start, end) {
            (None, None) => trace.search_memory(&needle).py(),
            (s, e) => trace.search_memory_range(&needle, s.unwrap_or(0), e.unwrap_or(u64::MAX)).py(),
        }
    }

    /// The memory maps.
    fn memory_maps(&mut self) -> PyResult<Vec<info::MemoryMap>> {
        Ok(self.trace()?.memory_maps().py()?.iter().map(info::MemoryMap::from).collect())
    }

    /// The map holding `addr`, or None.
    fn memory_map(&mut self, addr: u64) -> PyResult<Option<info::MemoryMap>> {
        Ok(self.trace()?.memory_map(addr).py()?.as_ref().map(info::MemoryMap::from))
    }

    /// Maps `size` bytes in the debuggee (an injected mmap); `perms` like "rwx". Returns the address.
    #[pyo3(signature = (size, perms="rwx", hint=None))]
    fn allocate_memory(&mut self, size: u64, perms: &str, hint: Option<u64>) -> PyResult<u64> {
        let perms = values::perms_from_str(perms)?;
        self.trace()?.allocate_memory(size, perms, hint).py()
    }

    /// Changes the protection of a range (an injected mprotect).
    fn protect_memory(&mut self, addr: u64, size: u64, perms: &str) -> PyResult<()> {
        let perms = values::perms_from_str(perms)?;
        self.trace()?.protect_memory(addr, size, perms).py()
    }

    /// Unmaps a range (an injected munmap).
    fn free_memory(&mut self, addr: u64, size: u64) -> PyResult<()> {
        self.trace()?.free_memory(addr, size).py()
    }

    /// Reads a value of a C type ("struct shape", "int", "long[4]"...) at
    /// `addr` by the debuggee's DWARF: ints, floats, dicts for structs, lists for arrays.
    fn read_typed<'py>(&mut self, py: Python<'py>, type_name: &str, addr: u64) -> PyResult<Bound<'py, PyAny>> {
        let value = self.trace()?.read_typed(type_name, addr).py()?;
        values::value_to_py(py, &value)
    }

    /// A value of a C type at `addr`, formatted as gdb's print shows it.
    fn format_typed(&mut self, type_name: &str, addr: u64) -> PyResult<String> {
        self.trace()?.format_typed(type_name, addr).py()
    }

    /// A global or static variable by name: (address, value).
    fn read_global<'py>(&mut self, py: Python<'py>, name: &str) -> PyResult<(u64, Bound<'py, PyAny>)> {
        let (addr, _, value) = self.trace()?.read_global(name).py()?;
        Ok((addr, values::value_to_py(py, &value)?))
    }

    /// Decodes `count` instructions from `addr` (default: the pc).
    #[pyo3(signature = (addr=None, count=1))]
    fn disassemble(&mut self, addr: Option<u64>, count: usize) -> PyResult<Vec<info::Instruction>> {
        let trace = self.trace()?;
        let addr = match addr {
            Some(a) => a,
            None => trace.pc().py()?,
        };
        Ok(trace
            .disassemble(addr, count)
            .py()?
            .into_iter()
            .map(|i| info::Instruction { addr: i.addr, bytes: i.bytes, text: i.text })
            .collect())
    }

    /// Saves the stopped process as an ELF core file gdb opens.
    fn save_snapshot(&mut self, path: PathBuf) -> PyResult<u64> {
        Ok(self.trace()?.save_snapshot(path).py()?.file_size)
    }

    // ----- registers and threads -----

    /// The current thread's registers: `trace.regs.rax`, `trace.regs["xmm0"] = 5`.
    #[getter]
    fn regs(slf: &Bound<'_, Self>) -> PyResult<Registers> {
        slf.borrow_mut().trace()?;
        Ok(Registers::new(slf.clone().unbind(), None))
    }

    /// The registers of thread `tid`.
    fn thread_regs(slf: &Bound<'_, Self>, tid: i32) -> PyResult<Registers> {
        let threads = slf.borrow_mut().trace()?.threads();
        if !threads.contains(&tid) {
            let pid = slf.borrow_mut().trace()?.pid();
            return Err(ProcessError::new_err(format!("no thread {tid} in process {pid}")));
        }
        Ok(Registers::new(slf.clone().unbind(), Some(tid)))
    }

    /// The program counter of the current thread.
    #[getter]
    fn get_pc(&mut self) -> PyResult<u64> {
        self.trace()?.pc().py()
    }

    #[setter]
    fn set_pc(&mut self, pc: u64) -> PyResult<()> {
        self.trace()?.set_pc(pc).py()
    }

    /// The stack pointer of the current thread.
    #[getter]
    fn get_sp(&mut self) -> PyResult<u64> {
        self.trace()?.sp().py()
    }

    #[setter]
    fn set_sp(&mut self, sp: u64) -> PyResult<()> {
        self.trace()?.set_sp(sp).py()
    }

    /// The live threads' ids.
    fn threads(&mut self) -> PyResult<Vec<i32>> {
        Ok(self.trace()?.threads())
    }

    /// The thread that register and stack calls use.
    #[getter]
    fn current_thread(&mut self) -> PyResult<i32> {
        Ok(self.trace()?.current_thread())
    }

    /// Makes `tid` the current thread.
    fn select_thread(&mut self, tid: i32) -> PyResult<()> {
        self.trace()?.select_thread(tid).py()
    }

    // ----- signals -----

    /// The signal delivered to the current thread on the next resume (None: none).
    #[getter]
    fn get_pending_signal(&mut self) -> PyResult<Option<i32>> {
        Ok(self.trace()?.pending_signal())
    }

    #[setter]
    fn set_pending_signal(&mut self, signal: Option<i32>) -> PyResult<()> {
        self.trace()?.set_pending_signal(signal).py()
    }

    /// The signal goes to the program without stopping the trace.
    fn ignore_signal(&mut self, signal: i32) -> PyResult<()> {
        self.trace()?.ignore_signal(signal);
        Ok(())
    }

    /// The signal stops the trace again.
    fn unignore_signal(&mut self, signal: i32) -> PyResult<()> {
        self.trace()?.unignore_signal(signal);
        Ok(())
    }

    /// The ignored signals.
    fn ignored_signals(&mut self) -> PyResult<Vec<i32>> {
        Ok(self.trace()?.ignored_signals())
    }

    // ----- symbols and stacks -----

    /// The address of a symbol: "malloc", "libc.malloc", "puts@plt", "lib.__entry".
    fn sym_by_name(&mut self, name: &str) -> PyResult<u64> {
        self.trace()?.sym_by_name(name).py()
    }

    /// The symbol at `addr` ("libc.malloc"), or with exact=False the nearest
    /// one before it ("libc.malloc+0x10"); None when there is none.
    #[pyo3(signature = (addr, exact=true))]
    fn sym_by_addr(&mut self, addr: u64, exact: bool) -> PyResult<Option<String>> {
        self.trace()?.sym_by_addr(addr, exact).py()
    }

    /// Symbols whose name matches the regular expression (anywhere), in
    /// `module` if given: a list of (module, name, address).
    #[pyo3(signature = (pattern, module=None))]
    fn search_symbols(&mut self, pattern: &str, module: Option<&str>) -> PyResult<Vec<(String, String, u64)>> {
        self.trace()?.search_symbols(pattern, module).py()
    }

    /// Every symbol of every module (or of `module`), as a list of
    /// (module, name, address, size, kind); kind is "function", "object",
    /// "ifunc" or "other". Addresses are where the symbols are in the process.
    #[pyo3(signature = (module=None))]
    fn symbol_table(&mut self, module: Option<&str>) -> PyResult<Vec<SymbolRow>> {
        use oxtrace::symbols::SymbolKind;
        let symbols = self.trace()?.symbols().py()?;
        let mut out = Vec::new();
        for m in symbols.modules().iter().filter(|m| module.is_none_or(|name| m.name == name)) {
            for s in m.table().symbols() {
                let kind = match s.kind {
                    SymbolKind::Function => "function",
                    SymbolKind::Object => "object",
                    SymbolKind::IndirectFunction => "ifunc",
                    _ => "other",
                };
                out.push((m.name.clone(), s.name.clone(), s.addr.wrapping_add(m.bias), s.size, kind));
            }
        }
        Ok(out)
    }

    /// The loaded libraries (and the program).
    fn libraries(&mut self) -> PyResult<Vec<info::Library>> {
        Ok(self
            .trace()?
            .libraries()
            .py()?
            .into_iter()
            .map(|l| info::Library { name: l.name, path: l.path, base: l.base, end: l.end })
            .collect())
    }

    /// (file, line) of an address, from DWARF; None without line information.
    fn line_for_addr(&mut self, addr: u64) -> PyResult<Option<(String, u32)>> {
        self.trace()?.line_for_addr(addr).py()
    }

    /// The addresses of a source line.
    fn addrs_for_line(&mut self, file: &str, line: u32) -> PyResult<Vec<u64>> {
        self.trace()?.addrs_for_line(file, line).py()
    }

    /// Evaluates an expression: registers, symbols, variables, arithmetic,
    /// poi(addr), comparisons ("poi(rsp+8) & 0xff").
    fn parse_expression(&mut self, text: &str) -> PyResult<u64> {
        self.trace()?.parse_expression(text).py()
    }

    /// The call stack of thread `tid` (default: the current one), innermost first.
    #[pyo3(signature = (tid=None))]
    fn backtrace(&mut self, tid: Option<i32>) -> PyResult<Vec<info::Frame>> {
        let trace = self.trace()?;
        let tid = tid.unwrap_or_else(|| trace.current_thread());
        Ok(trace.backtrace(tid).py()?.iter().map(info::Frame::from).collect())
    }

    // ----- changing the debuggee -----

    /// Calls `function` (address or expression) in the current thread with
    /// `args` (ints; str and bytes are copied onto its stack and passed by
    /// address); returns the integer result. The thread is left as it was.
    #[pyo3(signature = (function, args=Vec::new()))]
    fn call(&mut self, function: &Bound<'_, PyAny>, args: Vec<Bound<'_, PyAny>>) -> PyResult<u64> {
        let addr = self.address(function)?;
        let args = args.iter().map(call_arg).collect::<PyResult<Vec<_>>>()?;
        Ok(self.trace()?.call(addr, &args).py()?.value)
    }

    /// Loads a shared object into the debuggee (through its dlopen); returns the handle.
    fn inject_so(&mut self, path: PathBuf) -> PyResult<u64> {
        self.trace()?.inject_so(&path).py()
    }

    /// The open file descriptors: a list of (fd, kind, name); kind is "file", "socket", "pipe" or "other".
    fn file_descriptors(&mut self) -> PyResult<Vec<(i32, &'static str, String)>> {
        Ok(self
            .trace()?
            .file_descriptors()
            .py()?
            .into_iter()
            .map(|f| {
                let kind = match f.kind {
                    oxtrace::FdKind::File => "file",
                    oxtrace::FdKind::Socket => "socket",
                    oxtrace::FdKind::Pipe => "pipe",
                    _ => "other",
                };
                (f.fd, kind, f.name)
            })
            .collect())
    }

    // ----- metadata and variables -----

    /// A metadata value, or `default`.
    #[pyo3(signature = (name, default=None))]
    fn get_meta<'py>(
        &mut self,
        py: Python<'py>,
        name: &str,
        default: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        match self.trace()?.meta(name) {
            Some(v) => values::meta_to_py(py, v),
            None => Ok(default.unwrap_or_else(|| py.None().into_bound(py))),
        }
    }

    /// Sets a metadata value (int, str, bool, bytes, or a list of them).
    fn set_meta(&mut self, name: &str, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let value = values::meta_from_py(value)?;
        self.trace()?.set_meta(name, value);
        Ok(())
    }

    /// Whether a metadata value is set.
    fn has_meta(&mut self, name: &str) -> PyResult<bool> {
        Ok(self.trace()?.has_meta(name))
    }

    /// Sets a variable for expressions.
    fn set_variable(&mut self, name: &str, value: u64) -> PyResult<()> {
        self.trace()?.set_variable(name, value);
        Ok(())
    }

    /// A variable's value, or None.
    fn variable(&mut self, name: &str) -> PyResult<Option<u64>> {
        Ok(self.trace()?.variable(name))
    }

    /// The garbage collector's view: the Python callables this trace holds (a
    /// callback that refers to its trace makes a cycle the collector must see).
    fn __traverse__(&self, visit: pyo3::gc::PyVisit<'_>) -> Result<(), pyo3::PyTraverseError> {
        self.handlers.traverse(&visit)
    }

    /// Breaks those cycles: drops every Python callable (the trace itself stays).
    fn __clear__(&mut self) {
        self.handlers.clear_callables();
    }

    fn __repr__(&self) -> String {
        match &self.inner {
            Some(trace) => format!("<oxtrace.Trace {trace}>"),
            None => "<oxtrace.Trace released>".to_string(),
        }
    }
}

impl PyTrace {
    fn describe(&self, b: &oxtrace::Breakpoint) -> info::Breakpoint {
        let handler = self.handlers.breaks.get(&b.id);
        info::Breakpoint {
            id: b.id,
            addr: b.addr,
            kind: kind_name(handler.map_or(b.kind, |h| h.kind)),
            enabled: b.enabled,
            hits: b.hits - handler.map_or(0, |h| h.false_hits),
            expr: b.expr.clone(),
            resolved: b.resolved,
        }
    }
}

/// After a step: the Python callables for its event, which is returned whatever they ask.
fn step_result(slf: &Bound<'_, PyTrace>, event: oxtrace::Event) -> PyResult<Py<Event>> {
    let py = slf.py();
    let fast_step = slf.borrow_mut().trace()?.mode(Mode::FastStep);
    if !(fast_step && event.event_type() == EventType::Step) {
        if let Some(stop) = dispatch::handle(slf, event.clone())? {
            return Ok(stop);
        }
    }
    Py::new(py, Event { inner: event })
}
