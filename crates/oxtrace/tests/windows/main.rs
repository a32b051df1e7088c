//! Integration tests of the Windows backend: real mingw-built fixtures
//! (tests/fixtures/windows, compiled by the windows-fixtures crate at -O0 and -O2), driven by
//! the real Win32 debug API. Run under wine by scripts/test-windows.
#![cfg(windows)]

mod support;

mod breakpoints;
mod events;
mod lifecycle;
mod memory;
mod registers;
mod stacks;
mod stackwalk;
