//! Vetting the byte stream from the client before gdbstub sees it.
//!
//! gdbstub ends a session on a packet it cannot take: one larger than its
//! buffer, a bad checksum, a `-` (retransmit request). A [`Framer`] sits in front
//! of it and lets through only what it can take: `+`, the interrupt byte `0x03`,
//! and whole packets `$body#cc` whose checksum is right and whose size fits.
//! Packets with a wrong checksum and oversized ones are dropped and answered
//! with `-`; stray bytes and `-` are dropped. The framer is pure (bytes in,
//! bytes out), so it is tested with random input.

use std::collections::VecDeque;

use oxtrace::platform::remote::packet::hex_value;
/// Checksums and framing are the client's (oxtrace's remote backend): one implementation for both ends.
pub use oxtrace::platform::remote::packet::{checksum, frame};

/// The interrupt byte gdb sends while the target runs.
pub const INTERRUPT: u8 = 0x03;

/// Where the framer is in a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between packets.
    Idle,
    /// In a packet's body (after `$`).
    Body,
    /// After `#`, expecting the first checksum digit.
    Check1,
    /// Expecting the second checksum digit.
    Check2(u8),
    /// In a packet that grew past the limit: skipping to its end.
    Skipping,
    /// Skipping the checksum digits of an oversized packet (how many are left).
    SkippingCheck(u8),
}

/// Reassembles and vets packets; see the module docs.
#[derive(Debug)]
pub struct Framer {
    state: State,
    body: Vec<u8>,
    limit: usize,
    out: VecDeque<u8>,
    /// Bytes to send back to the client (`-` for a dropped packet).
    replies: Vec<u8>,
    /// How many packets were dropped.
    pub dropped: u64,
    /// Whether the client asked for no-ack mode (`QStartNoAckMode`): replies then go without `+`.
    no_ack: bool,
}

impl Framer {
    /// A framer letting through packets of at most `limit` bytes, `$`, `#` and checksum included.
    pub fn new(limit: usize) -> Framer {
        Framer {
            state: State::Idle,
            body: Vec::new(),
            limit: limit.max(8),
            out: VecDeque::new(),
            replies: Vec::new(),
            dropped: 0,
            no_ack: false,
        }
    }

    /// Feeds bytes received from the client.
    pub fn push(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.push_byte(byte);
        }
    }

    fn push_byte(&mut self, byte: u8) {
        self.state = match self.state {
            State::Idle => match byte {
                b'$' => {
                    self.body.clear();
                    State::Body
                }
                b'+' | INTERRUPT => {
                    self.out.push_back(byte);
                    State::Idle
                }
                // `-` (gdbstub cannot retransmit) and noise.
                _ => State::Idle,
            },
            State::Body => match byte {
                b'#' => State::Check1,
                // A `$` inside a body starts a new packet: the old one was cut short.
                b'$' => {
                    self.dropped += 1;
                    self.body.clear();
                    State::Body
                }
                _ if self.body.len() + 4 >= self.limit => {
                    self.body.clear();
                    State::Skipping
                }
                _ => {
                    self.body.push(byte);
                    State::Body
                }
            },
            State::Check1 => match hex_value(byte) {
                Some(high) => State::Check2(high),
                None => self.reject(),
            },
            State::Check2(high) => match hex_value(byte) {
                Some(low) if checksum(&self.body) == (high << 4 | low) => {
                    // gdbstub accepts it (the server advertises `QStartNoAckMode+`).
                    if self.body == b"QStartNoAckMode" {
                        self.no_ack = true;
                    }
                    self.out.push_back(b'$');
                    self.out.extend(self.body.iter().copied());
                    self.out.push_back(b'#');
                    self.out.extend(hex_pair(high << 4 | low));
                    self.body.clear();
                    State::Idle
                }
                _ => self.reject(),
            },
            State::Skipping => match byte {
                b'#' => State::SkippingCheck(2),
                _ => State::Skipping,
            },
            State::SkippingCheck(left) => {
                if left > 1 {
                    State::SkippingCheck(left - 1)
                } else {
                    self.reject()
                }
            }
        };
    }

    /// Drops the packet being read and asks for it again (`-`).
    fn reject(&mut self) -> State {
        self.dropped += 1;
        self.body.clear();
        self.replies.push(b'-');
        State::Idle
    }

    /// The next vetted byte, if any.
    pub fn next_byte(&mut self) -> Option<u8> {
        self.out.pop_front()
    }

    /// The next vetted byte without taking it.
    pub fn peek_byte(&self) -> Option<u8> {
        self.out.front().copied()
    }

    /// Takes the next vetted packet's body if the vetted bytes start with a
    /// whole packet and `wanted` accepts its body; otherwise leaves everything.
    pub fn take_packet_if(&mut self, wanted: impl FnOnce(&[u8]) -> bool) -> Option<Vec<u8>> {
        if self.out.front() != Some(&b'$') {
            return None;
        }
        // Vetted bodies hold no `$` or `#`: the first `#` ends the body, two checksum digits follow.
        let end = self.out.iter().position(|&b| b == b'#')?;
        if self.out.len() < end + 3 {
            return None;
        }
        let body: Vec<u8> = self.out.iter().skip(1).take(end - 1).copied().collect();
        if !wanted(&body) {
            return None;
        }
        self.out.drain(..end + 3);
        Some(body)
    }

    /// Whether the client turned acknowledgements off (`QStartNoAckMode`).
    pub fn no_ack(&self) -> bool {
        self.no_ack
    }

    /// Takes the bytes to send back to the client.
    pub fn take_replies(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.replies)
    }
}

fn hex_pair(value: u8) -> [u8; 2] {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    [DIGITS[usize::from(value >> 4)], DIGITS[usize::from(value & 15)]]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(framer: &mut Framer) -> Vec<u8> {
        std::iter::from_fn(|| framer.next_byte()).collect()
    }

    #[test]
    fn good_packets_pass_whole() {
        let mut framer = Framer::new(64);
        let mut input = b"+".to_vec();
        input.extend(frame(b"qSupported:multiprocess+"));
        input.push(INTERRUPT);
        framer.push(&input);
        assert_eq!(drain(&mut framer), input);
        assert!(framer.take_replies().is_empty());
    }

    #[test]
    fn bad_checksums_and_oversized_packets_are_dropped_and_nacked() {
        let mut framer = Framer::new(32);
        framer.push(b"$g#00");
        framer.push(&frame(&[b'm'; 100]));
        framer.push(b"-junk");
        framer.push(&frame(b"?"));
        assert_eq!(drain(&mut framer), frame(b"?"));
        assert_eq!(framer.take_replies(), b"--");
        assert_eq!(framer.dropped, 2);
    }

    #[test]
    fn packets_taken_whole_and_only_when_wanted() {
        let mut framer = Framer::new(64);
        framer.push(b"+");
        framer.push(&frame(b"qShlibInfoAddr"));
        assert_eq!(framer.take_packet_if(|_| true), None, "a `+` comes first");
        assert_eq!(framer.next_byte(), Some(b'+'));
        assert_eq!(framer.take_packet_if(|body| body == b"g"), None);
        assert_eq!(framer.take_packet_if(|body| body == b"qShlibInfoAddr").as_deref(), Some(&b"qShlibInfoAddr"[..]));
        assert_eq!(framer.next_byte(), None);
        assert!(!framer.no_ack());
        framer.push(&frame(b"QStartNoAckMode"));
        assert!(framer.no_ack());
        // Part of a packet already taken: no packet boundary at the front.
        assert_eq!(framer.next_byte(), Some(b'$'));
        assert_eq!(framer.take_packet_if(|_| true), None);
    }

    #[test]
    fn truncated_packet_then_a_new_one() {
        let mut framer = Framer::new(64);
        framer.push(b"$m4000,");
        framer.push(&frame(b"g"));
        assert_eq!(drain(&mut framer), frame(b"g"));
    }

    /// Seeded random bytes, alone and mixed with good packets: nothing panics,
    /// output is only whole checksummed packets, `+` and `0x03`, within the limit.
    #[test]
    fn fuzz_random_streams() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..2_000 {
            let limit = 8 + (next() % 200) as usize;
            let mut framer = Framer::new(limit);
            let mut input = Vec::new();
            for _ in 0..(next() % 20) {
                match next() % 4 {
                    0 => input.extend(frame(b"g")),
                    1 => input.extend((0..next() % 50).map(|_| next() as u8)),
                    2 => input.extend((0..next() % 50).map(|_| b"$#+-0a"[(next() % 6) as usize])),
                    _ => {
                        let body: Vec<u8> = (0..next() % 300).map(|_| b'a' + (next() % 26) as u8).collect();
                        input.extend(frame(&body));
                    }
                }
            }
            for chunk in input.chunks(1 + (next() % 7) as usize) {
                framer.push(chunk);
            }
            let out = drain(&mut framer);
            let mut rest = &out[..];
            while let Some((&first, tail)) = rest.split_first() {
                match first {
                    b'+' | INTERRUPT => rest = tail,
                    b'$' => {
                        let end = tail.iter().position(|&b| b == b'#').expect("a whole packet");
                        let (body, after) = tail.split_at(end);
                        assert!(body.len() + 4 <= limit, "packet over the limit");
                        assert_eq!(after[1..3], hex_pair(checksum(body)), "checksum");
                        rest = &after[3..];
                    }
                    other => panic!("byte {other:#x} let through"),
                }
            }
        }
    }
}
