//! The library's errors as Python exceptions: one hierarchy under `oxtrace.Error`.

use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;

create_exception!(
    oxtrace,
    Error,
    PyException,
    "Every error of oxtrace: its message names the pid, address, register, symbol or file concerned."
);
create_exception!(oxtrace, SpawnError, Error, "The program could not be started.");
create_exception!(
    oxtrace,
    ProcessError,
    Error,
    "No such process, or it cannot be traced, or it is gone (exited or detached)."
);
create_exception!(
    oxtrace,
    ProcessExitedError,
    ProcessError,
    "The process has exited; nothing more can be done with it."
);
create_exception!(oxtrace, StateError, Error, "The request needs a stopped (or a running) process, and it is not.");
create_exception!(
    oxtrace,
    MemoryAccessError,
    Error,
    "A read or write of the debuggee's memory failed (unmapped, protected)."
);
create_exception!(
    oxtrace,
    RegisterError,
    Error,
    "A register this architecture does not have, or a value that does not fit it."
);
create_exception!(
    oxtrace,
    BreakpointError,
    Error,
    "No breakpoint with this id, or one is already set at this address."
);
create_exception!(oxtrace, SymbolError, Error, "A symbol, module or type that could not be found.");
create_exception!(
    oxtrace,
    ExpressionError,
    Error,
    "An expression that does not parse or evaluate; the message says where."
);
create_exception!(
    oxtrace,
    CallError,
    Error,
    "A function called in the debuggee did not return (its registers are restored)."
);
create_exception!(
    oxtrace,
    OsError,
    Error,
    "An operating system call (ptrace, waitpid, an injected system call) failed."
);
create_exception!(oxtrace, FileError, Error, "A file (program, library, core file) could not be read or parsed.");
create_exception!(oxtrace, RemoteError, Error, "A GDB remote protocol stub could not be reached or answered wrongly.");
create_exception!(oxtrace, UnsupportedError, Error, "The backend does not offer this capability.");
create_exception!(oxtrace, ArgumentError, Error, "A value that does not fit where it was to go.");

/// The Python exception for a library error, with the library's message.
pub fn to_py(err: oxtrace::Error) -> PyErr {
    use oxtrace::Error as E;
    let msg = err.to_string();
    match err {
        E::Spawn { .. } => SpawnError::new_err(msg),
        E::ProcessExited { .. } => ProcessExitedError::new_err(msg),
        E::NoSuchProcess { .. } | E::NotTraceable { .. } | E::Detached { .. } | E::NoSuchThread { .. } => {
            ProcessError::new_err(msg)
        }
        E::Running { .. } | E::NotRunning { .. } => StateError::new_err(msg),
        E::Memory { .. } => MemoryAccessError::new_err(msg),
        E::UnknownRegister { .. } => RegisterError::new_err(msg),
        E::NoSuchBreakpoint(_) | E::DuplicateBreakpoint { .. } => BreakpointError::new_err(msg),
        E::NoSuchSymbol(_) => SymbolError::new_err(msg),
        E::Expression(_) => ExpressionError::new_err(msg),
        E::CallInterrupted { .. } => CallError::new_err(msg),
        E::Os { .. } | E::Syscall { .. } => OsError::new_err(msg),
        E::File { .. } => FileError::new_err(msg),
        E::Remote { .. } => RemoteError::new_err(msg),
        E::Unsupported(_) => UnsupportedError::new_err(msg),
        _ => ArgumentError::new_err(msg),
    }
}

/// Adds the exception classes to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("Error", py.get_type::<Error>())?;
    m.add("SpawnError", py.get_type::<SpawnError>())?;
    m.add("ProcessError", py.get_type::<ProcessError>())?;
    m.add("ProcessExitedError", py.get_type::<ProcessExitedError>())?;
    m.add("StateError", py.get_type::<StateError>())?;
    m.add("MemoryAccessError", py.get_type::<MemoryAccessError>())?;
    m.add("RegisterError", py.get_type::<RegisterError>())?;
    m.add("BreakpointError", py.get_type::<BreakpointError>())?;
    m.add("SymbolError", py.get_type::<SymbolError>())?;
    m.add("ExpressionError", py.get_type::<ExpressionError>())?;
    m.add("CallError", py.get_type::<CallError>())?;
    m.add("OsError", py.get_type::<OsError>())?;
    m.add("FileError", py.get_type::<FileError>())?;
    m.add("RemoteError", py.get_type::<RemoteError>())?;
    m.add("UnsupportedError", py.get_type::<UnsupportedError>())?;
    m.add("ArgumentError", py.get_type::<ArgumentError>())?;
    Ok(())
}

/// Converts a library result.
pub trait IntoPy<T> {
    /// The value, or the Python exception.
    fn py(self) -> PyResult<T>;
}

impl<T> IntoPy<T> for oxtrace::Result<T> {
    fn py(self) -> PyResult<T> {
        self.map_err(to_py)
    }
}
