//! Matching a qualified function name as a user writes it against a
//! demangled one, the way a debugger's linespec does: by trailing path
//! components (`Square::area` names `rusty::geometry::Square::area`, not
//! `rusty::BigSquare::area`), and for Rust trait impls either through the
//! impl's own form (`<rusty::geometry::Square as rusty::Shape>::sides`,
//! each side matched by its trailing components: `<Square as Shape>::sides`)
//! or through the self type (`Square::sides`, `geometry::Square::sides`).
//!
//! Written here because demanglers give a flat string and no crate splits
//! Rust or C++ paths with their generic arguments and `<T as Trait>` parts.

/// The components of a path split at its top-level `::` (not inside `<>`,
/// `()` or `[]`; the `>` of a Rust `->` does not close anything).
fn components(path: &str) -> Vec<&str> {
    let bytes = path.as_bytes();
    let mut parts = Vec::new();
    let (mut depth, mut start, mut i) = (0i32, 0usize, 0usize);
    while i < bytes.len() {
        match bytes[i] {
            b'<' | b'(' | b'[' => depth += 1,
            b'>' if i > 0 && bytes[i - 1] == b'-' => {}
            b'>' | b')' | b']' => depth -= 1,
            b':' if depth == 0 && bytes.get(i + 1) == Some(&b':') => {
                parts.push(path[start..i].trim());
                i += 2;
                start = i;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    parts.push(path[start..].trim());
    parts
}

/// `<SELF as TRAIT>` split into its two paths; `<SELF>` gives no trait.
fn impl_parts(component: &str) -> Option<(&str, Option<&str>)> {
    let inner = component.strip_prefix('<')?.strip_suffix('>')?;
    let bytes = inner.as_bytes();
    let mut depth = 0i32;
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'<' | b'(' | b'[' => depth += 1,
            b'>' if i > 0 && bytes[i - 1] == b'-' => {}
            b'>' | b')' | b']' => depth -= 1,
            b' ' if depth == 0 && inner[i..].starts_with(" as ") => {
                return Some((inner[..i].trim(), Some(inner[i + 4..].trim())));
            }
            _ => {}
        }
    }
    Some((inner.trim(), None))
}

/// Whether the path `wanted` is a trailing part of the path `full`, component by component.
fn trailing_match(full: &[&str], wanted: &[&str]) -> bool {
    wanted.len() <= full.len()
        && !wanted.is_empty()
        && full.iter().rev().zip(wanted.iter().rev()).all(|(f, w)| component_matches(f, w))
}

/// One component: equal, or both `<SELF as TRAIT>` with each side matching by trailing components.
fn component_matches(full: &str, wanted: &str) -> bool {
    if full == wanted {
        return true;
    }
    match (impl_parts(full), impl_parts(wanted)) {
        (Some((full_self, full_trait)), Some((want_self, want_trait))) => {
            trailing_match(&components(full_self), &components(want_self))
                && match (full_trait, want_trait) {
                    (_, None) => true,
                    (Some(f), Some(w)) => trailing_match(&components(f), &components(w)),
                    (None, Some(_)) => false,
                }
        }
        _ => false,
    }
}

/// The last component of a path without its parameters (`sides` of
/// `<S as T>::sides`, `scale` of `ns::scale(int)`): text every name it matches contains.
pub fn last_component(path: &str) -> &str {
    let last = components(path).pop().unwrap_or(path);
    last.split('(').next().unwrap_or(last).trim()
}

/// Whether `symbol` (a demangled name without parameters) is named by
/// `wanted` (a qualified name as typed, without parameters): see the module
/// documentation.
pub fn qualified_name_matches(symbol: &str, wanted: &str) -> bool {
    let full = components(symbol);
    let want = components(wanted);
    if trailing_match(&full, &want) {
        return true;
    }
    // A trait impl's method also goes by its self type's path: `<a::S as a::T>::m` is `a::S::m`.
    let Some((self_type, _)) = full.first().and_then(|first| impl_parts(first)) else { return false };
    let mut through_self = components(self_type);
    through_self.extend_from_slice(&full[1..]);
    trailing_match(&through_self, &want)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIDES: &str = "<rusty::geometry::Square as rusty::geometry::Shape>::sides";

    #[test]
    fn paths_match_by_trailing_components() {
        assert!(qualified_name_matches("rusty::geometry::Square::area", "rusty::geometry::Square::area"));
        assert!(qualified_name_matches("rusty::geometry::Square::area", "geometry::Square::area"));
        assert!(qualified_name_matches("rusty::geometry::Square::area", "Square::area"));
        assert!(!qualified_name_matches("rusty::geometry::BigSquare::area", "Square::area"));
        assert!(!qualified_name_matches("rusty::geometry::Square::area", "other::Square::area"));
        assert!(qualified_name_matches("ns::Box<int>::twice", "Box<int>::twice"));
        assert!(!qualified_name_matches("ns::Box<int>::twice", "Box<long>::twice"));
    }

    #[test]
    fn trait_impls_match_by_their_form_or_their_self_type() {
        assert!(qualified_name_matches(SIDES, SIDES));
        assert!(qualified_name_matches(SIDES, "<Square as Shape>::sides"));
        assert!(qualified_name_matches(SIDES, "<geometry::Square as geometry::Shape>::sides"));
        assert!(qualified_name_matches(SIDES, "<rusty::geometry::Square>::sides"));
        assert!(qualified_name_matches(SIDES, "Square::sides"));
        assert!(qualified_name_matches(SIDES, "rusty::geometry::Square::sides"));
        assert!(!qualified_name_matches(SIDES, "<Square as Other>::sides"));
        assert!(!qualified_name_matches(SIDES, "Circle::sides"));
        assert!(!qualified_name_matches(SIDES, "Square::area"));
        let generic = "<alloc::vec::Vec<T,A> as core::ops::drop::Drop>::drop";
        assert!(qualified_name_matches(generic, "<Vec<T,A> as Drop>::drop"));
        assert!(qualified_name_matches("<fn() -> u8 as a::Call>::call", "<fn() -> u8 as Call>::call"));
    }

    #[test]
    fn odd_input_does_not_panic() {
        for text in ["", "::", "<", ">", "< as >", "a::::b", "<<>>::x", "->", "<a as>::b"] {
            let _ = qualified_name_matches(text, text);
            let _ = qualified_name_matches("a::b", text);
            let _ = qualified_name_matches(text, "a::b");
        }
    }
}
