//! A `Command` as `CreateProcessW` takes it: one command line quoted the way
//! the C runtime's `CommandLineToArgvW` splits it again, and an environment block.

use std::ffi::{OsStr, OsString};
use std::process::Command;

/// Appends `arg` to `line`, quoted where needed: inside quotes, backslashes
/// are literal except before a quote, where they are doubled, and the quote
/// itself is escaped.
pub(super) fn push_quoted(line: &mut String, arg: &str) {
    if !line.is_empty() {
        line.push(' ');
    }
    if !arg.is_empty() && !arg.contains([' ', '\t', '\n', '\u{b}', '"']) {
        line.push_str(arg);
        return;
    }
    line.push('"');
    let mut backslashes = 0;
    for c in arg.chars() {
        match c {
            '\\' => backslashes += 1,
            '"' => {
                line.extend(std::iter::repeat_n('\\', backslashes * 2 + 1));
                line.push('"');
                backslashes = 0;
            }
            _ => {
                line.extend(std::iter::repeat_n('\\', backslashes));
                line.push(c);
                backslashes = 0;
            }
        }
    }
    // Before the closing quote, backslashes are doubled.
    line.extend(std::iter::repeat_n('\\', backslashes * 2));
    line.push('"');
}

/// The command line of `command`: its program, then its arguments.
pub(super) fn command_line(command: &Command) -> String {
    let mut line = String::new();
    push_quoted(&mut line, &command.get_program().to_string_lossy());
    for arg in command.get_args() {
        push_quoted(&mut line, &arg.to_string_lossy());
    }
    line
}

/// The environment block of `command`: the tracer's environment with the
/// command's changes, sorted by name (case-insensitively, as Windows wants),
/// `NAME=value` NUL-terminated each, with a NUL after the last. `None` when
/// the command changes nothing (the child inherits the tracer's).
pub(super) fn environment_block(command: &Command) -> Option<Vec<u16>> {
    command.get_envs().next()?;
    let mut vars: Vec<(OsString, OsString)> = std::env::vars_os().collect();
    for (name, value) in command.get_envs() {
        let same = |n: &OsStr| n.to_string_lossy().eq_ignore_ascii_case(&name.to_string_lossy());
        vars.retain(|(n, _)| !same(n));
        if let Some(value) = value {
            vars.push((name.to_owned(), value.to_owned()));
        }
    }
    vars.sort_by_key(|(n, _)| n.to_string_lossy().to_uppercase());
    let mut block = Vec::new();
    for (name, value) in vars {
        block.extend(format!("{}={}", name.to_string_lossy(), value.to_string_lossy()).encode_utf16());
        block.push(0);
    }
    block.push(0);
    if block.len() == 1 {
        block.push(0);
    }
    Some(block)
}

/// A NUL-terminated UTF-16 string.
pub(super) fn wide(text: &OsStr) -> Vec<u16> {
    text.to_string_lossy().encode_utf16().chain([0]).collect()
}

#[cfg(test)]
mod tests {
    use super::push_quoted;

    fn quoted(args: &[&str]) -> String {
        let mut line = String::new();
        args.iter().for_each(|a| push_quoted(&mut line, a));
        line
    }

    #[test]
    fn arguments_are_quoted_as_the_c_runtime_splits_them() {
        assert_eq!(quoted(&["a.exe", "plain"]), "a.exe plain");
        assert_eq!(quoted(&["a b", ""]), r#""a b" """#);
        assert_eq!(quoted(&[r#"say "hi""#]), r#""say \"hi\"""#);
        assert_eq!(quoted(&[r"C:\dir with space\"]), r#""C:\dir with space\\""#);
        assert_eq!(quoted(&[r#"x\"y"#]), r#""x\\\"y""#);
        assert_eq!(quoted(&[r"C:\no\space"]), r"C:\no\space");
    }
}
