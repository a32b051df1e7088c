//! `oxtrace` for Python: the library's `Trace`, events, registers, memory,
//! breakpoints with Python callbacks, notifiers and hooks, and its errors as
//! exceptions. The pure-Python part of the package (`python/oxtrace`) re-exports
//! it with type stubs.
#![deny(unsafe_code)]

mod dispatch;
mod errors;
mod event;
mod handlers;
mod info;
mod interrupt;
mod registers;
mod trace;
mod values;

use pyo3::prelude::*;

/// The name of an x86_64 Linux system call ("read" for 0), or None.
#[pyfunction]
fn syscall_name(number: u64) -> Option<&'static str> {
    oxtrace::arch::syscall_name(number)
}

/// The native part of the `oxtrace` package.
#[pymodule(gil_used = true)]
fn _oxtrace(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<trace::PyTrace>()?;
    m.add_class::<event::Event>()?;
    m.add_class::<registers::Registers>()?;
    m.add_class::<handlers::HookCall>()?;
    m.add_class::<info::MemoryMap>()?;
    m.add_class::<info::Frame>()?;
    m.add_class::<info::Library>()?;
    m.add_class::<info::Breakpoint>()?;
    m.add_class::<info::Watchpoint>()?;
    m.add_class::<info::Instruction>()?;
    m.add_class::<info::Interrupter>()?;
    errors::register(m)?;
    m.add_function(wrap_pyfunction!(syscall_name, m)?)?;
    m.add("EVENT_KINDS", event::TYPES.iter().map(|(_, n)| *n).collect::<Vec<_>>())?;
    Ok(())
}
