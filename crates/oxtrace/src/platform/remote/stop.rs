//! Stop replies (`T`, `S`, `W`, `X`, `w`, `O`) as plain values.
//!
//! `parse` never panics: anything it cannot read is `None`, and the caller
//! reports the reply as a protocol error naming it.

use super::packet::{from_hex, parse_hex_u64};

/// A thread id as the protocol writes it: `p<pid>.<tid>` or `<tid>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThreadId {
    /// The process, when the stub names it (multiprocess).
    pub pid: Option<i64>,
    /// The thread (-1 means all, 0 any).
    pub tid: i64,
}

/// Parses a thread id (`p1f.2a`, `2a`, `-1`).
pub fn parse_thread_id(text: &[u8]) -> Option<ThreadId> {
    let id = |t: &[u8]| -> Option<i64> {
        if t == b"-1" {
            Some(-1)
        } else {
            i64::try_from(parse_hex_u64(t)?).ok()
        }
    };
    match text.strip_prefix(b"p") {
        Some(rest) => match rest.iter().position(|&b| b == b'.') {
            Some(dot) => Some(ThreadId { pid: Some(id(&rest[..dot])?), tid: id(&rest[dot + 1..])? }),
            None => {
                let pid = id(rest)?;
                Some(ThreadId { pid: Some(pid), tid: -1 })
            }
        },
        None => Some(ThreadId { pid: None, tid: id(text)? }),
    }
}

/// What a watchpoint stop says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// `swbreak`: a software breakpoint the stub knows.
    SoftwareBreak,
    /// `hwbreak`: a hardware breakpoint.
    HardwareBreak,
    /// `watch`, `rwatch`, `awatch` at this data address.
    Watch(u64),
}

/// One stop reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopReply {
    /// `T`/`S`: a thread stopped with a (gdb-numbered) signal.
    Stopped {
        /// gdb's signal number.
        signal: u8,
        /// The thread, if named.
        thread: Option<ThreadId>,
        /// Why, if the stub says.
        trigger: Option<Trigger>,
        /// `exec:` the new program's path.
        exec: Option<String>,
        /// `create`: the thread was just created (with `QThreadEvents`).
        created: bool,
    },
    /// `w`: one thread exited with this code (with `QThreadEvents`).
    ThreadExited {
        /// Its exit code.
        code: u8,
        /// The thread.
        thread: Option<ThreadId>,
    },
    /// `W`: the process exited with this code.
    Exited(u8),
    /// `X`: a signal (gdb-numbered) killed the process.
    Killed(u8),
    /// `O`: output of the program or the stub, to pass on; not a stop.
    Output(Vec<u8>),
}

/// Parses a decoded stop reply.
pub fn parse(body: &[u8]) -> Option<StopReply> {
    let (&kind, rest) = body.split_first()?;
    // One or two hex digits (gdbserver writes `W0`), up to a `;` or the end.
    let number = |digits: &[u8]| -> Option<u8> {
        let end = digits.iter().position(|&b| b == b';').unwrap_or(digits.len()).min(2);
        u8::try_from(parse_hex_u64(&digits[..end])?).ok()
    };
    match kind {
        b'S' => {
            Some(StopReply::Stopped { signal: number(rest)?, thread: None, trigger: None, exec: None, created: false })
        }
        b'w' => {
            let thread = rest.iter().position(|&b| b == b';').and_then(|at| parse_thread_id(&rest[at + 1..]));
            Some(StopReply::ThreadExited { code: number(rest)?, thread })
        }
        b'W' => Some(StopReply::Exited(number(rest)?)),
        b'X' => Some(StopReply::Killed(number(rest)?)),
        b'O' => Some(StopReply::Output(from_hex(rest)?)),
        b'T' => {
            let signal = u8::try_from(parse_hex_u64(rest.get(..2)?)?).ok()?;
            let (mut thread, mut trigger, mut exec, mut created) = (None, None, None, false);
            for pair in rest.get(2..)?.split(|&b| b == b';').filter(|p| !p.is_empty()) {
                let (name, value) = match pair.iter().position(|&b| b == b':') {
                    Some(colon) => (&pair[..colon], &pair[colon + 1..]),
                    None => (pair, &b""[..]),
                };
                match name {
                    b"thread" => thread = parse_thread_id(value),
                    b"swbreak" => trigger = Some(Trigger::SoftwareBreak),
                    b"hwbreak" => trigger = Some(Trigger::HardwareBreak),
                    b"watch" | b"rwatch" | b"awatch" => trigger = parse_hex_u64(value).map(Trigger::Watch),
                    b"exec" => exec = from_hex(value).map(|p| String::from_utf8_lossy(&p).into_owned()),
                    b"create" => created = true,
                    // Registers (`06:...`), `core`, `library`...: not needed here.
                    _ => {}
                }
            }
            Some(StopReply::Stopped { signal, thread, trigger, exec, created })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_replies() {
        assert_eq!(
            parse(b"T05thread:p1f.20;swbreak:;06:0000000000000000;"),
            Some(StopReply::Stopped {
                signal: 5,
                thread: Some(ThreadId { pid: Some(0x1f), tid: 0x20 }),
                trigger: Some(Trigger::SoftwareBreak),
                exec: None,
                created: false
            })
        );
        assert_eq!(
            parse(b"T05watch:7ffe10;thread:2a;"),
            Some(StopReply::Stopped {
                signal: 5,
                thread: Some(ThreadId { pid: None, tid: 0x2a }),
                trigger: Some(Trigger::Watch(0x7ffe10)),
                exec: None,
                created: false
            })
        );
        assert_eq!(parse(b"W00;process:1f"), Some(StopReply::Exited(0)));
        assert_eq!(parse(b"W0;process:1f"), Some(StopReply::Exited(0)));
        assert_eq!(parse(b"W"), None);
        assert_eq!(parse(b"X09"), Some(StopReply::Killed(9)));
        assert_eq!(
            parse(b"w00;p1f.21"),
            Some(StopReply::ThreadExited { code: 0, thread: Some(ThreadId { pid: Some(0x1f), tid: 0x21 }) })
        );
        assert_eq!(parse(b"w"), None);
        assert!(matches!(parse(b"T05create:;thread:p1f.22;"), Some(StopReply::Stopped { created: true, .. })));
        assert_eq!(parse(b"O6869"), Some(StopReply::Output(b"hi".to_vec())));
        assert_eq!(parse(b"T"), None);
        assert_eq!(parse(b""), None);
        assert_eq!(parse_thread_id(b"p-1.-1"), Some(ThreadId { pid: Some(-1), tid: -1 }));
    }
}
