//! The terminal's settings, saved before the line editor makes it raw and put
//! back when oxdb leaves in the middle of a line (through termios).

use nix::sys::termios::{tcgetattr, tcsetattr, SetArg, Termios};

/// The terminal's settings at one moment.
pub struct Saved(Termios);

/// The settings of the terminal on stdin, if stdin is one.
pub fn save() -> Option<Saved> {
    tcgetattr(std::io::stdin()).ok().map(Saved)
}

/// Puts the terminal on stdin back to `saved`.
pub fn restore(saved: &Saved) {
    let _ = tcsetattr(std::io::stdin(), SetArg::TCSANOW, &saved.0);
}
