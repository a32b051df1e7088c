//! Integration tests of the Windows backend, run under wine (see scripts/test-windows).
#![cfg(windows)]
