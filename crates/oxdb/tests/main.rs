//! oxdb end to end: the binary run in batch mode against C fixtures, the
//! `demo` subcommand, and the prompt driven through a terminal by tmux.

mod batch;
mod change;
mod demo;
mod errors;
mod repl;
mod snapshots;
mod support;
