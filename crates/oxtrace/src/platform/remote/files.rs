//! Reading a file on the stub's machine (`vFile:open`, `pread`, `close`).

use super::connection::Connection;
use super::packet::{parse_hex_u64, to_hex};
use crate::error::Result;

/// The most bytes read from one file.
const MAX_FILE: usize = 16 << 20;

/// The value of an `F` reply (`F<hex>[,errno][;data]`), and its data; negative values are errors.
fn f_reply(reply: &[u8]) -> Option<(i64, &[u8])> {
    let rest = reply.strip_prefix(b"F")?;
    let (head, data) = match rest.iter().position(|&b| b == b';') {
        Some(at) => (&rest[..at], &rest[at + 1..]),
        None => (rest, &b""[..]),
    };
    let number = head.split(|&b| b == b',').next()?;
    let value = match number.strip_prefix(b"-") {
        Some(digits) => -i64::try_from(parse_hex_u64(digits)?).ok()?,
        None => i64::try_from(parse_hex_u64(number)?).ok()?,
    };
    Some((value, data))
}

/// The whole of file `path` on the stub's machine.
pub fn read_file(conn: &mut Connection, path: &str) -> Result<Vec<u8>> {
    // Files as the stub's process sees them (its mount namespace), where the stub can.
    let _ = conn.request("vFile:setfs:0");
    let reply = conn.request(&format!("vFile:open:{},0,0", to_hex(path.as_bytes())))?;
    let fd = match f_reply(&reply) {
        Some((fd, _)) if fd >= 0 => fd,
        _ => return Err(conn.error(format!("cannot open {path}: {}", String::from_utf8_lossy(&reply)))),
    };
    let mut data = Vec::new();
    let result = loop {
        let reply = conn.request(&format!("vFile:pread:{fd:x},{:x},{:x}", 0x800, data.len()))?;
        match f_reply(&reply) {
            Some((0, _)) => break Ok(()),
            Some((n, bytes)) if n > 0 => data.extend_from_slice(bytes),
            _ => break Err(conn.error(format!("reading {path}: {}", String::from_utf8_lossy(&reply)))),
        }
        if data.len() > MAX_FILE {
            break Err(conn.error(format!("{path} is larger than {MAX_FILE} bytes")));
        }
    };
    let _ = conn.request(&format!("vFile:close:{fd:x}"));
    result.map(|()| data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f_replies() {
        assert_eq!(f_reply(b"F3"), Some((3, &b""[..])));
        assert_eq!(f_reply(b"F-1,2"), Some((-1, &b""[..])));
        assert_eq!(f_reply(b"F4;ab;d"), Some((4, &b"ab;d"[..])));
        assert_eq!(f_reply(b"E01"), None);
        assert_eq!(f_reply(b"F-"), None);
    }
}
