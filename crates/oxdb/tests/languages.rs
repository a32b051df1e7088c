//! C++ and Rust values: `print`, `whatis`, `ptype`, `info args` and
//! `info locals` compared with gdb at the same stop (gdb writes Rust values
//! with Rust's syntax, C++ names with their namespaces).

use crate::support::{fixture_cpp, fixture_rust};
use crate::values::{both_raw, value_lines};

/// A class through a reference, a `const int &`, a namespace's global and
/// type, an `enum class`, in a function of the namespace and in `main`.
#[test]
fn cplusplus_values_equal_gdb() {
    let commands = [
        "break cpp_values.cpp:26",
        "continue",
        "p r",
        "p by",
        "p r.corner",
        "p r.unit",
        "p geo::made",
        "p geo::Unit::Metre",
        "p r.width * r.height",
        "whatis r",
        "whatis r.corner",
        "ptype geo::Point",
        "info args",
        "up",
        "p rect",
        "p step",
        "p &rect",
        "p rect.corner.y + step",
    ];
    let (ours, theirs) = both_raw(&fixture_cpp("cpp_values"), &commands);
    let all = format!("--- oxdb\n{ours}\n--- gdb\n{theirs}");
    let lines = value_lines(&ours);
    assert_eq!(lines, value_lines(&theirs), "{all}");
    assert!(lines.iter().any(|l| l.contains("unit = geo::Unit::Foot}")), "{all}");
    assert!(lines.len() >= 15, "{all}");
}

/// A struct through a reference, a C-like enum, a `&str`, as gdb's Rust printer shows them.
#[test]
fn rust_values_equal_gdb() {
    let commands = [
        "break rust_values.rs:20",
        "continue",
        "p point",
        "p *point",
        "p point.y",
        "p colour",
        "p name",
        "p total",
        "whatis point",
        "whatis name",
        "info args",
        "info locals",
    ];
    let (ours, theirs) = both_raw(&fixture_rust("rust_values"), &commands);
    let all = format!("--- oxdb\n{ours}\n--- gdb\n{theirs}");
    let lines = value_lines(&ours);
    assert_eq!(lines, value_lines(&theirs), "{all}");
    assert!(lines.iter().any(|l| l == "$2 = rust_values::Point {x: 3, y: -40}"), "{all}");
    assert!(lines.iter().any(|l| l == "$5 = \"rusty values\""), "{all}");
}
