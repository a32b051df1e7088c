//! Tokens of the expression language.

use super::ExprError;

/// The longest expression accepted.
pub const MAX_LEN: usize = 64 * 1024;

/// One token and where it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    /// An integer literal.
    Int(u64),
    /// A name: register, variable, symbol (`libc.malloc`, `puts@plt`).
    Name(String),
    /// A string literal (for `sym("...")`).
    Str(String),
    /// An operator or punctuation: `+ - * / % & | ^ ~ ! << >> < <= > >= == != && || ( ) ,`.
    Op(&'static str),
}

const OPERATORS: [&str; 24] = [
    "<<", ">>", "<=", ">=", "==", "!=", "&&", "||", "+", "-", "*", "/", "%", "&", "|", "^", "~", "!", "<", ">", "(",
    ")", ",", "=",
];

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || matches!(c, '_' | '.' | '$' | '@' | '?')
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '$' | '@' | '?' | ':')
}

/// Splits `text` into tokens with their byte positions.
pub fn tokenize(text: &str) -> Result<Vec<(usize, Token)>, ExprError> {
    if text.len() > MAX_LEN {
        let start: String = text.chars().take(64).collect();
        return Err(ExprError::new(&start, 0, format!("expression longer than {MAX_LEN} bytes")));
    }
    let mut tokens = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c.is_ascii_digit() {
            let end =
                text[start..].find(|c: char| !c.is_ascii_alphanumeric() && c != '_').map_or(text.len(), |n| start + n);
            tokens.push((start, Token::Int(parse_int(text, start, &text[start..end])?)));
            while chars.peek().is_some_and(|&(i, _)| i < end) {
                chars.next();
            }
        } else if is_name_start(c) {
            let end = text[start..].find(|c: char| !is_name_char(c)).map_or(text.len(), |n| start + n);
            tokens.push((start, Token::Name(text[start..end].to_owned())));
            while chars.peek().is_some_and(|&(i, _)| i < end) {
                chars.next();
            }
        } else if c == '"' {
            chars.next();
            let mut value = String::new();
            loop {
                match chars.next() {
                    None => return Err(ExprError::new(text, start, "unterminated string")),
                    Some((_, '"')) => break,
                    Some((_, '\\')) => match chars.next() {
                        Some((_, e @ ('"' | '\\'))) => value.push(e),
                        Some((i, _)) => return Err(ExprError::new(text, i, "unknown escape in string")),
                        None => return Err(ExprError::new(text, start, "unterminated string")),
                    },
                    Some((_, ch)) => value.push(ch),
                }
            }
            tokens.push((start, Token::Str(value)));
        } else if let Some(op) = OPERATORS.iter().find(|op| text[start..].starts_with(**op)) {
            if *op == "=" {
                return Err(ExprError::new(text, start, "`=` is not an operator (use `==`)"));
            }
            tokens.push((start, Token::Op(op)));
            for _ in 0..op.len() {
                chars.next();
            }
        } else {
            return Err(ExprError::new(text, start, format!("unexpected character {c:?}")));
        }
    }
    Ok(tokens)
}

/// An integer literal: decimal, `0x`, `0o` or `0b`, with `_` separators.
fn parse_int(text: &str, position: usize, literal: &str) -> Result<u64, ExprError> {
    let digits: String = literal.chars().filter(|&c| c != '_').collect();
    let lower = digits.to_ascii_lowercase();
    let (radix, body) = match lower.get(..2) {
        Some("0x") => (16, &lower[2..]),
        Some("0o") => (8, &lower[2..]),
        Some("0b") => (2, &lower[2..]),
        _ => (10, lower.as_str()),
    };
    if body.is_empty() {
        return Err(ExprError::new(text, position, format!("number {literal:?} has no digits")));
    }
    u64::from_str_radix(body, radix).map_err(|e| ExprError::new(text, position, format!("bad number {literal:?}: {e}")))
}
