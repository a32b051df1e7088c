//! C expressions over typed values, as gdb's `print` evaluates them: the
//! language oxdb's `print`, `set var`, `call`, `x`, `display`, `watch` and
//! breakpoint conditions use. (vtrace's expression language, in
//! [`crate::expression`], stays for the vtrace-style API.)
//!
//! The evaluator works against a [`Target`]; [`crate::Trace::c_target`] gives
//! one over a frame of a stopped thread.

mod eval;
mod format;
mod lexer;
mod parser;
mod ptype;
mod value;

pub use eval::{evaluate, parse_type, type_of, Target, Values};
pub use format::{format_value, PRINT_ELEMENTS};
pub use lexer::{tokenize, Token};
pub use parser::{parse, BinOp, Expr, TypeName, UnOp};
pub use ptype::{ptype_text, whatis_text};
pub use value::CValue;

#[cfg(test)]
mod tests;
