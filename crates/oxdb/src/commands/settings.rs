//! `set NAME VALUE` for oxdb's settings (as opposed to registers and
//! variables): each setting's module parses its own.

use std::io::Write;

use crate::session::{CmdResult, Session};

/// Runs `set` for a setting; `None` if `text` names none (a register or a variable then).
pub fn try_set(session: &mut Session, text: &str, out: &mut dyn Write) -> Option<CmdResult> {
    super::inferiors::try_set(session, text, out)
        .or_else(|| super::locations::try_set(session, text, out))
        .or_else(|| super::restart::try_set(session, text, out))
}
