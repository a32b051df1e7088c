//! Plain read-only objects for what the trace lists: maps, frames, libraries,
//! breakpoints, watchpoints, instructions.

use pyo3::prelude::*;

/// One mapping of the address space (a line of /proc/PID/maps).
#[pyclass(module = "oxtrace", name = "MemoryMap", frozen, get_all)]
pub struct MemoryMap {
    /// First address.
    pub start: u64,
    /// Address just past the end.
    pub end: u64,
    /// Permissions as "rwxp" / "r-xs".
    pub perms: String,
    /// Offset in the mapped file.
    pub offset: u64,
    /// The file or pseudo name ("[heap]"), None when anonymous.
    pub path: Option<String>,
    /// Short name: the file's basename, the pseudo name, or "".
    pub name: String,
}

impl From<&oxtrace::MemoryMap> for MemoryMap {
    fn from(m: &oxtrace::MemoryMap) -> Self {
        MemoryMap {
            start: m.start,
            end: m.end,
            perms: m.perms.to_string(),
            offset: m.offset,
            path: m.path.clone(),
            name: m.name().to_string(),
        }
    }
}

#[pymethods]
impl MemoryMap {
    /// Size in bytes.
    #[getter]
    fn size(&self) -> u64 {
        self.end - self.start
    }

    fn __contains__(&self, addr: u64) -> bool {
        self.start <= addr && addr < self.end
    }

    fn __repr__(&self) -> String {
        format!("MemoryMap({:#x}-{:#x} {} {})", self.start, self.end, self.perms, self.path.as_deref().unwrap_or(""))
    }
}

/// One frame of a backtrace (inlined functions are frames of their own).
#[pyclass(module = "oxtrace", name = "Frame", frozen, get_all)]
pub struct Frame {
    /// Its number, innermost 0.
    pub level: usize,
    /// Its pc (a return address for callers).
    pub pc: u64,
    /// The canonical frame address, when known.
    pub cfa: Option<u64>,
    /// The module's normalized name ("libc").
    pub module: Option<String>,
    /// The nearest ELF symbol.
    pub symbol: Option<String>,
    /// How far pc is past the symbol.
    pub offset: u64,
    /// The function as DWARF names it.
    pub function: Option<String>,
    /// The source file.
    pub file: Option<String>,
    /// The source line.
    pub line: Option<u32>,
    /// Inlined into the next frame's function.
    pub inlined: bool,
    /// A signal trampoline.
    pub signal_trampoline: bool,
    /// Rebuilt from a tail call.
    pub tail_call: bool,
    text: String,
}

impl From<&oxtrace::BacktraceFrame> for Frame {
    fn from(f: &oxtrace::BacktraceFrame) -> Self {
        Frame {
            level: f.level,
            pc: f.pc,
            cfa: f.cfa,
            module: f.module.clone(),
            symbol: f.symbol.clone(),
            offset: f.offset,
            function: f.function.clone(),
            file: f.file.clone(),
            line: f.line,
            inlined: f.inlined,
            signal_trampoline: f.signal_trampoline,
            tail_call: f.tail_call,
            text: f.to_string(),
        }
    }
}

#[pymethods]
impl Frame {
    fn __str__(&self) -> &str {
        &self.text
    }

    fn __repr__(&self) -> String {
        format!("Frame({:?})", self.text)
    }
}

/// A loaded library (or the program itself).
#[pyclass(module = "oxtrace", name = "Library", frozen, get_all)]
pub struct Library {
    /// Normalized name ("libc"), the one symbols are qualified with.
    pub name: String,
    /// Its path.
    pub path: String,
    /// Lowest mapped address.
    pub base: u64,
    /// End of its highest map.
    pub end: u64,
}

#[pymethods]
impl Library {
    fn __repr__(&self) -> String {
        format!("Library({:?}, {:?}, base={:#x})", self.name, self.path, self.base)
    }
}

/// A breakpoint as the trace sees it.
#[pyclass(module = "oxtrace", name = "Breakpoint", frozen, get_all)]
pub struct Breakpoint {
    /// Its id.
    pub id: u32,
    /// Its address (0 while unresolved).
    pub addr: u64,
    /// "normal", "one_time", "stop_and_remove", "stop_run_forever", "tracker", "fast" or "silent".
    pub kind: &'static str,
    /// Whether it is armed.
    pub enabled: bool,
    /// How many times it was hit (with its condition true).
    pub hits: u64,
    /// The expression it was set by.
    pub expr: Option<String>,
    /// False while its expression does not resolve (library not loaded yet).
    pub resolved: bool,
}

#[pymethods]
impl Breakpoint {
    fn __repr__(&self) -> String {
        format!("Breakpoint(id={}, addr={:#x}, kind='{}', hits={})", self.id, self.addr, self.kind, self.hits)
    }
}

/// The Python names of breakpoint kinds.
pub const KINDS: [(oxtrace::BreakpointKind, &str); 7] = [
    (oxtrace::BreakpointKind::Normal, "normal"),
    (oxtrace::BreakpointKind::OneTime, "one_time"),
    (oxtrace::BreakpointKind::StopAndRemove, "stop_and_remove"),
    (oxtrace::BreakpointKind::StopRunForever, "stop_run_forever"),
    (oxtrace::BreakpointKind::Tracker, "tracker"),
    (oxtrace::BreakpointKind::Fast, "fast"),
    (oxtrace::BreakpointKind::Silent, "silent"),
];

/// A hardware watchpoint.
#[pyclass(module = "oxtrace", name = "Watchpoint", frozen, get_all)]
pub struct Watchpoint {
    /// Its id.
    pub id: u32,
    /// The first watched address.
    pub addr: u64,
    /// Bytes watched: 1, 2, 4 or 8.
    pub size: usize,
    /// "x", "w" or "rw".
    pub kind: &'static str,
    /// How many times it fired.
    pub hits: u64,
}

/// One decoded instruction.
#[pyclass(module = "oxtrace", name = "Instruction", frozen)]
pub struct Instruction {
    /// Its address.
    #[pyo3(get)]
    pub addr: u64,
    /// Its bytes.
    pub bytes: Vec<u8>,
    /// Its text, Intel syntax.
    #[pyo3(get)]
    pub text: String,
}

#[pymethods]
impl Instruction {
    /// Its bytes.
    #[getter]
    fn bytes<'py>(&self, py: Python<'py>) -> Bound<'py, pyo3::types::PyBytes> {
        pyo3::types::PyBytes::new(py, &self.bytes)
    }

    fn __str__(&self) -> String {
        format!("{:#x}: {}", self.addr, self.text)
    }
}

/// Stops a running trace from any Python thread (`trace.interrupter()`).
#[pyclass(module = "oxtrace", name = "Interrupter", frozen)]
pub struct Interrupter {
    /// The library's handle.
    pub inner: oxtrace::Interrupter,
}

#[pymethods]
impl Interrupter {
    /// Asks the traced process to stop: the trace's run or wait returns an "interrupted" event.
    fn interrupt(&self) -> PyResult<()> {
        self.inner.interrupt().map_err(crate::errors::to_py)
    }
}
