//! Registers as attributes and items: `trace.regs.rax`, `trace.regs["xmm0"] = 1`.

use pyo3::exceptions::{PyAttributeError, PyKeyError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::errors::IntoPy;
use crate::trace::PyTrace;
use crate::values::{reg_from_py, reg_to_py};

/// The registers of one thread (the trace's current thread when made by
/// `trace.regs`, a given one by `trace.thread_regs(tid)`). Read and set them as
/// attributes or items; values are ints of the register's width (bytes are
/// accepted when setting). Changes are written back before the thread runs.
#[pyclass(module = "oxtrace", name = "Registers", unsendable)]
pub struct Registers {
    trace: Py<PyTrace>,
    tid: Option<i32>,
}

impl Registers {
    /// The registers of `tid` (or of the current thread) of `trace`.
    pub fn new(trace: Py<PyTrace>, tid: Option<i32>) -> Self {
        Registers { trace, tid }
    }

    fn get<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
        let mut this = self.trace.bind(py).borrow_mut();
        let trace = this.trace()?;
        let tid = self.tid.unwrap_or_else(|| trace.current_thread());
        let value = trace.thread_register(tid, name).py()?;
        reg_to_py(py, &value)
    }

    fn set(&self, py: Python<'_>, name: &str, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let mut this = self.trace.bind(py).borrow_mut();
        let trace = this.trace()?;
        let def = trace.arch().register(name).ok_or_else(|| {
            crate::errors::RegisterError::new_err(format!("unknown register {name:?} on {}", trace.arch().name))
        })?;
        let value = reg_from_py(value, def.size(), def.name)?;
        let tid = self.tid.unwrap_or_else(|| trace.current_thread());
        trace.set_thread_register(tid, name, value).py()
    }
}

#[pymethods]
impl Registers {
    fn __getattr__<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
        self.get(py, name).map_err(|e| {
            if e.is_instance_of::<crate::errors::RegisterError>(py) {
                PyAttributeError::new_err(e.value(py).to_string())
            } else {
                e
            }
        })
    }

    fn __setattr__(&self, py: Python<'_>, name: &str, value: &Bound<'_, PyAny>) -> PyResult<()> {
        self.set(py, name, value)
    }

    fn __getitem__<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
        self.get(py, name).map_err(|e| {
            if e.is_instance_of::<crate::errors::RegisterError>(py) {
                PyKeyError::new_err(e.value(py).to_string())
            } else {
                e
            }
        })
    }

    fn __setitem__(&self, py: Python<'_>, name: &str, value: &Bound<'_, PyAny>) -> PyResult<()> {
        self.set(py, name, value)
    }

    fn __contains__(&self, py: Python<'_>, name: &str) -> PyResult<bool> {
        let mut this = self.trace.bind(py).borrow_mut();
        Ok(this.trace()?.arch().register(name).is_some())
    }

    /// The thread these registers belong to.
    #[getter]
    fn tid(&self, py: Python<'_>) -> PyResult<i32> {
        match self.tid {
            Some(tid) => Ok(tid),
            None => Ok(self.trace.bind(py).borrow_mut().trace()?.current_thread()),
        }
    }

    /// Every register name of the architecture (full registers first, then sub-registers).
    fn names(&self, py: Python<'_>) -> PyResult<Vec<&'static str>> {
        let mut this = self.trace.bind(py).borrow_mut();
        Ok(this.trace()?.arch().registers.iter().map(|r| r.name).collect())
    }

    /// The full general registers (no sub-registers) as a dict name → int.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let dict = PyDict::new(py);
        let names: Vec<&'static str> = {
            let mut this = self.trace.bind(py).borrow_mut();
            let arch = this.trace()?.arch();
            arch.registers.iter().filter(|r| r.parent.is_none() && r.class == "general").map(|r| r.name).collect()
        };
        for name in names {
            dict.set_item(name, self.get(py, name)?)?;
        }
        Ok(dict)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!("<Registers of thread {}>", self.tid(py)?))
    }
}
