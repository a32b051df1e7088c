//! Module names as users type them.

/// vtrace's rule: the file's base name, cut at the first `.`, then at the first
/// `-`, lower-cased: `/lib/x86_64-linux-gnu/libc.so.6` → `libc`,
/// `ld-linux-x86-64.so.2` → `ld`. Pseudo names keep their brackets (`[vdso]`).
/// Windows paths (`C:\\windows\\system32\\KERNEL32.dll` → `kernel32`) split at either slash.
pub fn normalize_module_name(path: &str) -> String {
    let base = path.rsplit(['/', '\\']).next().unwrap_or(path);
    if base.starts_with('[') {
        return base.to_owned();
    }
    let base = base.split('.').next().unwrap_or(base);
    let base = base.split('-').next().unwrap_or(base);
    if base.is_empty() {
        return path.rsplit(['/', '\\']).next().unwrap_or(path).to_lowercase();
    }
    base.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::normalize_module_name as norm;

    #[test]
    fn names_follow_vtrace() {
        assert_eq!(norm("/lib/x86_64-linux-gnu/libc.so.6"), "libc");
        assert_eq!(norm("/lib64/ld-linux-x86-64.so.2"), "ld");
        assert_eq!(norm("/tmp/Demo"), "demo");
        assert_eq!(norm("/usr/lib/libstdc++.so.6"), "libstdc++");
        assert_eq!(norm("[vdso]"), "[vdso]");
        assert_eq!(norm("/tmp/.hidden"), ".hidden");
        assert_eq!(norm("C:\\windows\\system32\\KERNEL32.dll"), "kernel32");
    }
}
