//! Tokens of C expressions as gdb's `print` reads them.

/// A token.
#[derive(Debug, Clone, PartialEq)]
pub enum Token {
    /// An integer literal: its value and suffix letters (`u`, `l`), and whether it was hex or octal.
    Int(u128, String, bool),
    /// A floating-point literal, and whether it had an `f` suffix.
    Float(f64, bool),
    /// A character literal.
    Char(u8),
    /// A string literal's bytes.
    Str(Vec<u8>),
    /// A name.
    Ident(String),
    /// `$`, `$$`, `$N`, `$$N`, `$name`: the text after the first `$`.
    Dollar(String),
    /// An operator or punctuation.
    Punct(&'static str),
}

const PUNCTS: &[&str] = &[
    "<<=", ">>=", "->", "++", "--", "<<", ">>", "<=", ">=", "==", "!=", "&&", "||", "+=", "-=", "*=", "/=", "%=", "&=",
    "|=", "^=", "::", "+", "-", "*", "/", "%", "<", ">", "=", "!", "~", "&", "|", "^", "?", ":", "(", ")", "[", "]",
    ".", ",", "{", "}", "@",
];

/// Splits `text` into tokens; an error names the first character that starts none.
pub fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if c.is_ascii_digit() || (c == b'.' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit)) {
            let (token, len) = number(&text[i..])?;
            tokens.push(token);
            i += len;
            continue;
        }
        if c.is_ascii_alphabetic() || c == b'_' {
            let len = text[i..].find(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_')).unwrap_or(text.len() - i);
            tokens.push(Token::Ident(text[i..i + len].to_owned()));
            i += len;
            continue;
        }
        if c == b'$' {
            let rest = &text[i + 1..];
            let mut len =
                rest.find(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_' || ch == '$')).unwrap_or(rest.len());
            // `$$` and `$$N` are history; `$a$b` is not a name.
            if let Some(pos) = rest[..len].rfind('$') {
                if !rest[..pos + 1].chars().all(|ch| ch == '$') {
                    len = pos;
                }
            }
            tokens.push(Token::Dollar(rest[..len].to_owned()));
            i += 1 + len;
            continue;
        }
        if c == b'\'' {
            let (value, len) = escaped(&bytes[i + 1..])?;
            if bytes.get(i + 1 + len) != Some(&b'\'') {
                return Err("Unmatched single quote.".into());
            }
            tokens.push(Token::Char(value));
            i += len + 2;
            continue;
        }
        if c == b'"' {
            let mut j = i + 1;
            let mut out = Vec::new();
            loop {
                match bytes.get(j) {
                    None => {
                        let start = String::from_utf8_lossy(&bytes[i..]);
                        return Err(format!("Unterminated string in expression: {start}"));
                    }
                    Some(b'"') => break,
                    Some(_) => {
                        let (value, len) = escaped(&bytes[j..])?;
                        out.push(value);
                        j += len;
                    }
                }
            }
            tokens.push(Token::Str(out));
            i = j + 1;
            continue;
        }
        match PUNCTS.iter().find(|p| text[i..].starts_with(**p)) {
            Some(p) => {
                tokens.push(Token::Punct(p));
                i += p.len();
            }
            None => {
                let ch = text[i..].chars().next().unwrap_or('?');
                return Err(format!("Invalid character '{ch}' in expression."));
            }
        }
    }
    Ok(tokens)
}

/// One character of a literal, with C escapes; its value and length in the source.
fn escaped(bytes: &[u8]) -> Result<(u8, usize), String> {
    match bytes {
        [] => Err("Unterminated character or string literal.".into()),
        [b'\\', rest @ ..] => {
            let Some(&c) = rest.first() else { return Err("Unterminated escape in literal.".into()) };
            let simple = match c {
                b'n' => Some(b'\n'),
                b't' => Some(b'\t'),
                b'r' => Some(b'\r'),
                b'a' => Some(7),
                b'b' => Some(8),
                b'f' => Some(12),
                b'v' => Some(11),
                b'e' => Some(27),
                b'\\' | b'\'' | b'"' | b'?' => Some(c),
                _ => None,
            };
            if let Some(v) = simple {
                return Ok((v, 2));
            }
            if c == b'x' {
                let digits = rest[1..].iter().take_while(|d| d.is_ascii_hexdigit()).count();
                if digits == 0 {
                    return Err("\\x escape without hex digits.".into());
                }
                let text = std::str::from_utf8(&rest[1..1 + digits]).unwrap_or("0");
                return Ok((u64::from_str_radix(text, 16).unwrap_or(0) as u8, 2 + digits));
            }
            let digits = rest.iter().take(3).take_while(|d| (b'0'..=b'7').contains(d)).count();
            if digits > 0 {
                let text = std::str::from_utf8(&rest[..digits]).unwrap_or("0");
                return Ok((u32::from_str_radix(text, 8).unwrap_or(0) as u8, 1 + digits));
            }
            Err(format!("Unknown escape sequence \\{}.", c as char))
        }
        [c, ..] => Ok((*c, 1)),
    }
}

/// A number literal at the start of `text`, and its length.
fn number(text: &str) -> Result<(Token, usize), String> {
    let len = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '_'))
        .map(|end| {
            // An exponent's sign belongs to the number (`1e-5`).
            let head = &text[..end];
            if (head.ends_with('e') || head.ends_with('E'))
                && !head.starts_with("0x")
                && text[end..].starts_with(['+', '-'])
            {
                end + 1 + text[end + 1..].find(|c: char| !c.is_ascii_alphanumeric()).unwrap_or(text.len() - end - 1)
            } else {
                end
            }
        })
        .unwrap_or(text.len());
    let word = &text[..len];
    let bad = || format!("Invalid number \"{word}\".");
    let lower = word.to_ascii_lowercase();
    let is_hex = lower.starts_with("0x");
    if !is_hex && (lower.contains('.') || lower.contains('e')) {
        let (body, single) = match lower.strip_suffix('f') {
            Some(b) => (b, true),
            None => (lower.strip_suffix('l').unwrap_or(&lower), false),
        };
        let value: f64 = body.parse().map_err(|_| bad())?;
        return Ok((Token::Float(value, single), len));
    }
    let digits_end = lower.trim_end_matches(['u', 'l']).len();
    let (digits, suffix) = lower.split_at(digits_end);
    let (radix, body) = if let Some(h) = digits.strip_prefix("0x") {
        (16, h)
    } else if digits.len() > 1 && digits.starts_with('0') {
        (8, &digits[1..])
    } else {
        (10, digits)
    };
    let value = u128::from_str_radix(body, radix).map_err(|_| bad())?;
    if value > u128::from(u64::MAX) {
        return Err("Numeric constant too large.".into());
    }
    Ok((Token::Int(value, suffix.to_owned(), radix != 10), len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens() {
        let t = tokenize("a->b[3] + 0x10UL * 'c' - \"x\\n\" $ $$2 $rip 1.5e-3f").unwrap();
        assert_eq!(t[0], Token::Ident("a".into()));
        assert_eq!(t[1], Token::Punct("->"));
        assert_eq!(t[6], Token::Punct("+"));
        assert_eq!(t[7], Token::Int(16, "ul".into(), true));
        assert_eq!(t[9], Token::Char(b'c'));
        assert_eq!(t[11], Token::Str(b"x\n".to_vec()));
        assert_eq!(t[12], Token::Dollar(String::new()));
        assert_eq!(t[13], Token::Dollar("$2".into()));
        assert_eq!(t[14], Token::Dollar("rip".into()));
        assert_eq!(t[15], Token::Float(1.5e-3, true));
        assert!(tokenize("'a").is_err());
        assert!(tokenize("\"abc").is_err());
        assert!(tokenize("#").is_err());
    }
}
