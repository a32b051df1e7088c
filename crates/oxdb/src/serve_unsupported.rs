//! `oxdb serve` where the `oxserve` crate is not built (Windows): the GDB
//! remote server uses Unix sockets, file modes and signals, so oxdb says
//! clearly that the command is missing there instead of failing later.

use crate::cli::ServeArgs;
use crate::script::ERROR_EXIT;

/// Reports that `oxdb serve` is Linux-only; returns the exit code.
pub fn main(_args: &ServeArgs) -> i32 {
    eprintln!("error: oxdb serve is not available on this system: the GDB remote server (oxserve) runs on Linux only");
    ERROR_EXIT
}
