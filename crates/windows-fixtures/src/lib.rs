//! The C fixtures of oxtrace's Windows tests, compiled by this crate's build
//! script with mingw on the build host when the target is Windows (the tests
//! themselves run under wine, where the compiler cannot be called).

/// The directory of the compiled fixtures: `O0/` and `O2/`, each with
/// `wthreads.exe` (and its `wthreads.syms`), `wdll.dll`, `wthrow.exe` and
/// `pe_unwind.exe` (from `tests/fixtures/pe_unwind.c`).
/// Empty when the target is not Windows.
pub const DIR: &str = env!("OXTRACE_WINDOWS_FIXTURES");
