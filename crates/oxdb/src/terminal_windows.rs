//! The terminal's settings on Windows: the console keeps its own mode, which
//! the line editor restores itself, so there is nothing to save here.

/// The console's settings (none are kept on Windows).
pub struct Saved;

/// Nothing to save on Windows.
pub fn save() -> Option<Saved> {
    None
}

/// Nothing to restore on Windows.
pub fn restore(_saved: &Saved) {}
