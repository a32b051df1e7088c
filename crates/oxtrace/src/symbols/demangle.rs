//! Demangling of Rust and C++ symbol names.

/// The readable form of a mangled Rust (legacy or v0) or C++ (Itanium) name,
/// or `None` when `raw` is not mangled or does not parse. Rust names lose
/// their hash (`core::fmt::write`), C++ names keep their parameters.
pub fn demangle(raw: &str) -> Option<String> {
    if is_rust(raw) {
        return rustc_demangle::try_demangle(raw).ok().map(|d| format!("{d:#}"));
    }
    if raw.starts_with("_Z") {
        let symbol = cpp_demangle::Symbol::new(raw).ok()?;
        return symbol.demangle().ok();
    }
    None
}

/// The C++ name without its parameter list (`ns::f(int)` → `ns::f`), so
/// that users can look functions up by qualified name.
pub fn without_parameters(demangled: &str) -> Option<&str> {
    // Compiler clones end in `[clone .isra.0]`; methods in qualifiers after their parameters (`() const`).
    let mut demangled = demangled;
    while let Some(start) = demangled.rfind(" [clone ").filter(|_| demangled.ends_with(']')) {
        demangled = &demangled[..start];
    }
    while let Some(rest) = [" const", " volatile", " &&", " &"].iter().find_map(|q| demangled.strip_suffix(q)) {
        demangled = rest;
    }
    if !demangled.ends_with(')') {
        return None;
    }
    // The parameter list is the last top-level parenthesised group.
    let mut depth = 0usize;
    for (i, c) in demangled.char_indices().rev() {
        match c {
            ')' => depth += 1,
            '(' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(&demangled[..i]).filter(|s| !s.is_empty());
                }
            }
            _ => {}
        }
    }
    None
}

/// Rust v0 names start with `_R`; legacy ones are `_ZN...17h<16 hex digits>E`.
fn is_rust(raw: &str) -> bool {
    if raw.starts_with("_R") {
        return true;
    }
    let Some(body) = raw.strip_prefix("_ZN").and_then(|b| b.strip_suffix('E')) else {
        return false;
    };
    body.len() > 19 && body[body.len() - 19..].starts_with("17h") && {
        let hash = &body[body.len() - 16..];
        hash.bytes().all(|b| b.is_ascii_hexdigit())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_and_cpp_names() {
        assert_eq!(demangle("_ZN4core3fmt5write17h0123456789abcdefE").as_deref(), Some("core::fmt::write"));
        assert_eq!(demangle("_ZN2ns3addEii").as_deref(), Some("ns::add(int, int)"));
        assert_eq!(demangle("main"), None);
        assert_eq!(demangle("_Zgarbage"), None);
        assert_eq!(without_parameters("ns::add(int, int)"), Some("ns::add"));
        assert_eq!(without_parameters("f(void (*)(int))"), Some("f"));
        assert_eq!(without_parameters("plain"), None);
        assert_eq!(without_parameters("shapes::Circle::area() const"), Some("shapes::Circle::area"));
        assert_eq!(without_parameters("ns::f(int) const [clone .isra.0]"), Some("ns::f"));
        assert_eq!(without_parameters(")("), None);
    }
}
