//! GDB remote protocol framing: packets `$body#cc` with a two-digit checksum,
//! acknowledgements, binary escapes and run-length encoding.
//!
//! [`Framer`] pulls whole packets out of the byte stream a stub sends; it is
//! pure (bytes in, items out) and never panics on any input, which the fuzz
//! test checks with seeded random streams. [`decode`] undoes the escapes (`}`
//! and the byte xor 0x20) and the run-length encoding (`X*n`: `n - 29` more
//! copies of `X`) of a packet's body.

/// The sum of a body's bytes modulo 256.
pub fn checksum(body: &[u8]) -> u8 {
    body.iter().fold(0u8, |sum, &b| sum.wrapping_add(b))
}

/// `body` framed as a packet.
pub fn frame(body: &[u8]) -> Vec<u8> {
    let mut packet = Vec::with_capacity(body.len() + 4);
    packet.push(b'$');
    packet.extend_from_slice(body);
    packet.extend_from_slice(format!("#{:02x}", checksum(body)).as_bytes());
    packet
}

/// One thing read from the stub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// `+`: the last packet arrived.
    Ack,
    /// `-`: the last packet arrived damaged; send it again.
    Nack,
    /// A packet whose checksum was right (the body, still encoded).
    Packet(Vec<u8>),
    /// A packet whose checksum was wrong (to be answered with `-`).
    Damaged,
    /// An asynchronous notification (`%name:data#cc`), body still encoded.
    Notification(Vec<u8>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Idle,
    Body { notification: bool },
    Check1 { notification: bool },
    Check2 { notification: bool, high: u8 },
}

/// Reassembles packets from the stub's byte stream; see the module docs.
#[derive(Debug)]
pub struct Framer {
    state: State,
    body: Vec<u8>,
    limit: usize,
}

impl Framer {
    /// A framer refusing (as damaged) packets with bodies over `limit` bytes.
    pub fn new(limit: usize) -> Framer {
        Framer { state: State::Idle, body: Vec::new(), limit }
    }

    /// Feeds bytes; whole items are appended to `out`.
    pub fn push(&mut self, bytes: &[u8], out: &mut Vec<Item>) {
        for &byte in bytes {
            if let Some(item) = self.push_byte(byte) {
                out.push(item);
            }
        }
    }

    fn push_byte(&mut self, byte: u8) -> Option<Item> {
        match self.state {
            State::Idle => match byte {
                b'+' => return Some(Item::Ack),
                b'-' => return Some(Item::Nack),
                b'$' | b'%' => {
                    self.body.clear();
                    self.state = State::Body { notification: byte == b'%' };
                }
                _ => {}
            },
            State::Body { notification } => match byte {
                b'#' => self.state = State::Check1 { notification },
                _ if self.body.len() >= self.limit => {
                    self.state = State::Idle;
                    self.body.clear();
                    return Some(Item::Damaged);
                }
                _ => self.body.push(byte),
            },
            State::Check1 { notification } => match hex_value(byte) {
                Some(high) => self.state = State::Check2 { notification, high },
                None => {
                    self.state = State::Idle;
                    return Some(Item::Damaged);
                }
            },
            State::Check2 { notification, high } => {
                self.state = State::Idle;
                let body = std::mem::take(&mut self.body);
                return Some(match hex_value(byte) {
                    Some(low) if checksum(&body) == high << 4 | low => {
                        if notification {
                            Item::Notification(body)
                        } else {
                            Item::Packet(body)
                        }
                    }
                    _ => Item::Damaged,
                });
            }
        }
        None
    }
}

/// The value of one hex digit.
pub fn hex_value(byte: u8) -> Option<u8> {
    (byte as char).to_digit(16).map(|d| d as u8)
}

/// A body with escapes and run-length encoding undone.
pub fn decode(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        match body[i] {
            b'}' if i + 1 < body.len() => {
                out.push(body[i + 1] ^ 0x20);
                i += 2;
            }
            b'*' if i + 1 < body.len() && !out.is_empty() => {
                let repeat = usize::from(body[i + 1]).saturating_sub(29);
                let last = out[out.len() - 1];
                out.extend(std::iter::repeat_n(last, repeat));
                i += 2;
            }
            byte => {
                out.push(byte);
                i += 1;
            }
        }
    }
    out
}

/// Hex text as bytes (`None` if it is not an even number of hex digits).
pub fn from_hex(text: &[u8]) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    text.chunks(2).map(|pair| Some(hex_value(pair[0])? << 4 | hex_value(pair[1])?)).collect()
}

/// Bytes as lower-case hex text.
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A hex number (at most 16 digits).
pub fn parse_hex_u64(text: &[u8]) -> Option<u64> {
    if text.is_empty() || text.len() > 16 {
        return None;
    }
    text.iter().try_fold(0u64, |value, &digit| Some(value << 4 | u64::from(hex_value(digit)?)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(bytes: &[u8]) -> Vec<Item> {
        let mut out = Vec::new();
        Framer::new(64).push(bytes, &mut out);
        out
    }

    #[test]
    fn frames_acks_and_damage() {
        let mut stream = b"+".to_vec();
        stream.extend(frame(b"OK"));
        stream.extend(b"$OK#00-");
        stream.extend(b"%Stop:T05#");
        stream.extend(format!("{:02x}", checksum(b"Stop:T05")).bytes());
        assert_eq!(
            items(&stream),
            [
                Item::Ack,
                Item::Packet(b"OK".to_vec()),
                Item::Damaged,
                Item::Nack,
                Item::Notification(b"Stop:T05".to_vec())
            ]
        );
        assert_eq!(items(&frame(&[b'a'; 100])), [Item::Damaged]);
    }

    #[test]
    fn escapes_and_run_length() {
        assert_eq!(decode(b"0* "), b"0000");
        assert_eq!(decode(b"}]x"), b"}x");
        assert_eq!(decode(b"*!"), b"*!", "a run with nothing before it stays as it is");
        assert_eq!(decode(b"ab}"), b"ab}");
        assert_eq!(from_hex(b"0aff"), Some(vec![10, 255]));
        assert_eq!(from_hex(b"0"), None);
        assert_eq!(parse_hex_u64(b"7fffffffffffffff"), Some(i64::MAX as u64));
        assert_eq!(parse_hex_u64(b"10000000000000000"), None);
    }

    /// Seeded random streams: nothing panics; packets that come out have good checksums.
    #[test]
    fn fuzz_random_streams() {
        let mut seed = 0xdead_beef_cafe_f00du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..3_000 {
            let mut framer = Framer::new((next() % 300) as usize);
            let mut stream = Vec::new();
            for _ in 0..next() % 16 {
                match next() % 3 {
                    0 => stream.extend(frame(&(0..next() % 400).map(|_| next() as u8).collect::<Vec<_>>())),
                    1 => stream.extend((0..next() % 40).map(|_| b"$#%+-*}0a"[(next() % 9) as usize])),
                    _ => stream.extend((0..next() % 40).map(|_| next() as u8)),
                }
            }
            let mut out = Vec::new();
            for chunk in stream.chunks(1 + (next() % 9) as usize) {
                framer.push(chunk, &mut out);
            }
            for item in out {
                if let Item::Packet(body) | Item::Notification(body) = item {
                    let _ = decode(&body);
                    let _ = from_hex(&body);
                    let _ = parse_hex_u64(&body);
                    let _ = super::super::stop::parse(&body);
                }
            }
        }
    }
}
