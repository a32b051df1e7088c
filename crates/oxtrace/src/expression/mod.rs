//! Debugger expressions, in the spirit of vtrace's: integers, registers,
//! variables and symbols (`libc.malloc`, `prog.f+4`, `puts@plt`), the C
//! operators, and helpers `poi(a)`, `ispoi(a)`, `mapbase(a)`, `maplen(a)`,
//! `frame(n)`, `bp(id)`, `sym("odd.name")`. Everything is a wrapping `u64`;
//! comparisons and logic give 0 or 1.
//!
//! Parsing needs nothing; evaluating asks an [`ExprContext`] for names, memory
//! and maps, so the same expression works on a live process, a core file or a
//! remote stub. Errors give the byte position in the text ([`ExprError::caret`]
//! draws it). The parser never panics and bounds nesting and length.

mod eval;
mod lexer;
mod parser;

pub use eval::ExprContext;
pub(crate) use parser::Node;
pub use parser::{parse, Expr};

/// A parse or evaluation error, with where in the text it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} at position {position} in {text:?}")]
pub struct ExprError {
    /// The expression.
    pub text: String,
    /// Byte offset of the problem (0-based).
    pub position: usize,
    /// What is wrong.
    pub message: String,
}

impl ExprError {
    pub(crate) fn new(text: &str, position: usize, message: impl Into<String>) -> Self {
        ExprError { text: text.to_owned(), position, message: message.into() }
    }

    /// The text and a `^` under the position, on two lines.
    pub fn caret(&self) -> String {
        let column = self.text[..self.position.min(self.text.len())].chars().count();
        format!("{}\n{}^", self.text, " ".repeat(column))
    }
}
