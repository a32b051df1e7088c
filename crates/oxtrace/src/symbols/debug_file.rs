//! Separate debug files: found by build-id, then by `.gnu_debuglink`, where
//! distributions install them (`/usr/lib/debug`).

use std::path::{Path, PathBuf};

/// The root under which debug files are installed.
const DEBUG_ROOT: &str = "/usr/lib/debug";

/// The separate debug file of `binary`, if one is installed: the first of
/// [`debug_file_candidates`] that is a file.
pub fn find_debug_file(binary: &Path, build_id: Option<&[u8]>, debuglink: Option<&[u8]>) -> Option<PathBuf> {
    debug_file_candidates(binary, build_id, debuglink).into_iter().find(|c| c != binary && c.is_file())
}

/// Where the separate debug file of `binary` may be, in the order looked at:
/// by build-id (`.build-id/ab/cdef….debug` under the debug root), then by
/// debug link beside the file, in its `.debug` directory, and under the debug root.
pub fn debug_file_candidates(binary: &Path, build_id: Option<&[u8]>, debuglink: Option<&[u8]>) -> Vec<PathBuf> {
    let mut candidates = Vec::new();
    if let Some(id) = build_id.filter(|id| id.len() >= 2) {
        let hex: String = id.iter().map(|b| format!("{b:02x}")).collect();
        candidates.push(Path::new(DEBUG_ROOT).join(".build-id").join(&hex[..2]).join(format!("{}.debug", &hex[2..])));
    }
    if let Some(link) = debuglink.and_then(|l| std::str::from_utf8(l).ok()).filter(|l| !l.contains('/')) {
        let dir = binary.parent().unwrap_or(Path::new("/"));
        candidates.push(dir.join(link));
        candidates.push(dir.join(".debug").join(link));
        let relative = dir.strip_prefix("/").unwrap_or(dir);
        candidates.push(Path::new(DEBUG_ROOT).join(relative).join(link));
    }
    candidates
}
