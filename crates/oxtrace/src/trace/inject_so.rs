//! Loading a shared library into the running debuggee, through its own
//! dynamic linker: a call of `dlopen(path, RTLD_NOW)` in the current thread;
//! or by the system's means where the backend has one (on Windows, a thread
//! of the debuggee's own calling `LoadLibraryW`).

use std::path::Path;

use super::{CallArg, Trace};
use crate::error::{Error, Result};

/// `RTLD_NOW`: resolve every symbol at load.
const RTLD_NOW: u64 = 2;

impl Trace {
    /// Loads the shared library at `path` into the debuggee and returns its
    /// handle (on Windows, its base address: its `HMODULE`). Library tracking
    /// is turned on first, so its `LibraryLoaded` event fires and its symbols
    /// resolve afterwards. A file that does not
    /// exist, or that the linker refuses (its `dlerror()` is given), is an error.
    pub fn inject_so(&mut self, path: &Path) -> Result<u64> {
        let absolute = std::fs::canonicalize(path)
            .map_err(|e| Error::File { path: path.display().to_string(), reason: e.to_string() })?;
        let text = absolute
            .to_str()
            .ok_or_else(|| Error::InvalidArgument(format!("{} is not valid UTF-8", absolute.display())))?;
        self.require_stopped()?;
        if let Some(native) = self.platform.inject_library(text) {
            let base = native?;
            self.stops += 1; // new maps
            self.refresh_symbols()?;
            return Ok(base);
        }
        self.track_libraries()?;
        let dlopen = self.linker_function("dlopen")?;
        let handle = self.call(dlopen, &[CallArg::from(text), CallArg::Int(RTLD_NOW)])?.value;
        if handle == 0 {
            let reason = self.linker_error().unwrap_or_else(|| "dlopen returned NULL".into());
            return Err(Error::File { path: text.to_owned(), reason });
        }
        self.refresh_symbols()?;
        Ok(handle)
    }

    /// A function of the C library's dynamic-loading interface (in libc since
    /// glibc 2.34, in libdl before).
    fn linker_function(&mut self, name: &str) -> Result<u64> {
        ["libc", "libdl"]
            .iter()
            .find_map(|module| self.sym_by_name(&format!("{module}.{name}")).ok())
            .ok_or_else(|| Error::NoSuchSymbol(format!("{name} (neither libc nor libdl is loaded)")))
    }

    /// The debuggee's `dlerror()` text, if it has one.
    fn linker_error(&mut self) -> Option<String> {
        let dlerror = self.linker_function("dlerror").ok()?;
        let text = self.call(dlerror, &[]).ok()?.value;
        (text != 0).then(|| self.read_c_string(text, 4096).ok()).flatten().map(|b| String::from_utf8_lossy(&b).into())
    }
}
