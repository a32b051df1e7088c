//! Changing the debuggee from oxdb: call, alloc, protect, free, page watch,
//! struct and ptype, fds and ps.

use crate::support::batch;

#[test]
fn calls_memory_page_watches_and_structs() {
    let run = batch(
        "callee",
        &[
            "break ready",
            "continue",
            r#"call (unsigned long) strlen("hello")"#,
            "call sum8(1, 2, 3, 4, 5, 6, 7, 8)",
            r#"call scaled_length("ab\tc", 2)"#,
            "alloc 4096 rw-",
            "struct shape the_shape",
            "layout struct shape",
            "ptype struct shape",
            "fds",
            "pagewatch poi(heap_buffer)+64 8",
            "continue",
            "delete",
            "continue",
        ],
        &[],
    );
    assert_eq!(run.code, Some(0), "{run}");
    assert!(run.stdout.lines().any(|l| l == "$1 = 5"), "strlen(\"hello\") is 5:\n{run}");
    assert!(run.stdout.lines().any(|l| l == "$2 = 204"), "sum8:\n{run}");
    assert!(run.stdout.lines().any(|l| l == "$3 = 8"), "escapes in strings:\n{run}");
    assert!(run.stdout.lines().any(|l| l.starts_with("allocated 0x1000 bytes rw-p at 0x")), "{run}");
    assert!(
        run.stdout.contains("{name = \"square\\000\", corners = {{x = 1, y = 2}, {x = 3, y = 4}}, area = {i = 12,"),
        "{run}"
    );
    assert!(run.stdout.contains("struct shape (size 48)") && run.stdout.contains("+0x0008 corners"), "{run}");
    assert!(run.stdout.contains("type = struct shape {\n    char name[8];\n    struct point corners[2];\n"), "{run}");
    assert!(run.stdout.lines().any(|l| l.trim_start().starts_with("0 ")), "fd 0 listed:\n{run}");
    let hit = run.lines_with("page watchpoint");
    assert!(hit.iter().any(|l| l.contains(": write of 0x") && l.contains("touch_heap")), "{run}");
    assert!(run.stdout.contains("exited with code 0"), "{run}");
}

#[test]
fn bad_changes_are_one_line_errors() {
    let run = batch(
        "callee",
        &[
            "break ready",
            "continue",
            "call 0x10()",
            "call strlen(\"open",
            "call strlen(\"x\")",
            "call nosuchfunction(1)",
            "alloc 16 rwz",
            "inject /no/such/lib.so",
            "struct nosuchtype the_shape",
            "pagewatch 0x1000 8",
            "p 7",
        ],
        &[],
    );
    assert_eq!(run.code, Some(2), "{run}");
    for expected in [
        "0x10",
        "\"open",
        "'strlen' has unknown return type",
        "nosuchfunction",
        "rwz",
        "/no/such/lib.so",
        "nosuchtype",
        "0x1000",
    ] {
        assert!(
            run.stderr.lines().any(|l| l.starts_with("error: ") && l.contains(expected)),
            "no one-line error naming {expected}:\n{run}"
        );
    }
    assert!(run.stdout.lines().any(|l| l == "$1 = 7"), "the session went on:\n{run}");
}
