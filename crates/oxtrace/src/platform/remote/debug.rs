//! x86 debug registers kept by the client and carried out as `Z`/`z` requests.
//!
//! The trace sets watchpoints by writing DR0-DR3 and DR7 of every thread and
//! learns which fired from DR6. A stub has no debug registers to write, but
//! takes hardware breakpoints (`Z1`), write watchpoints (`Z2`) and access
//! watchpoints (`Z4`) for the whole process. So writes of the debug block are
//! compared with what is inserted and turned into the requests that make the
//! stub's set equal to it; a stop that names a watched address (`watch:`) or a
//! hardware breakpoint sets that slot's DR6 bit.

/// The debug registers as the trace last wrote them, and what the stub has inserted.
#[derive(Debug, Default)]
pub struct DebugRegisters {
    regs: [u64; 8],
    inserted: Vec<Point>,
}

/// One inserted hardware point: `Z` type, address and length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Point {
    kind: u8,
    addr: u64,
    len: u64,
}

impl DebugRegisters {
    /// The block (DR0-DR7, 8 bytes each) as the trace reads it.
    pub fn write_block(&self, buf: &mut [u8]) {
        for (i, value) in self.regs.iter().enumerate() {
            if let Some(slot) = buf.get_mut(i * 8..i * 8 + 8) {
                slot.copy_from_slice(&value.to_le_bytes());
            }
        }
    }

    /// The points DR0-DR3 and DR7 ask for.
    fn wanted(regs: &[u64; 8]) -> Vec<(usize, Point)> {
        let dr7 = regs[7];
        (0..4)
            .filter(|slot| dr7 & (1 << (2 * slot)) != 0)
            .filter_map(|slot| {
                let rw = (dr7 >> (16 + 4 * slot)) & 3;
                let len = match (dr7 >> (18 + 4 * slot)) & 3 {
                    0 => 1,
                    1 => 2,
                    2 => 8,
                    _ => 4,
                };
                let kind = match rw {
                    0 => 1,
                    1 => 2,
                    3 => 4,
                    // I/O breakpoints have no protocol request.
                    _ => return None,
                };
                let len = if kind == 1 { 1 } else { len };
                Some((slot, Point { kind, addr: regs[slot], len }))
            })
            .collect()
    }

    /// Takes a new debug block; returns the `z`/`Z` requests that bring the stub in line.
    pub fn update(&mut self, buf: &[u8]) -> Vec<String> {
        let mut regs = [0u64; 8];
        for (i, reg) in regs.iter_mut().enumerate() {
            if let Some(bytes) = buf.get(i * 8..i * 8 + 8) {
                *reg = u64::from_le_bytes(bytes.try_into().expect("8 bytes"));
            }
        }
        let wanted: Vec<Point> = Self::wanted(&regs).into_iter().map(|(_, p)| p).collect();
        let mut requests = Vec::new();
        for point in self.inserted.iter().filter(|p| !wanted.contains(p)) {
            requests.push(format!("z{},{:x},{:x}", point.kind, point.addr, point.len));
        }
        for point in wanted.iter().filter(|p| !self.inserted.contains(p)) {
            requests.push(format!("Z{},{:x},{:x}", point.kind, point.addr, point.len));
        }
        self.inserted = wanted;
        self.regs = regs;
        requests
    }

    /// A stop at (or touching) `addr`: sets DR6 for the slot that covers it.
    pub fn fired(&mut self, addr: u64) {
        for (slot, point) in Self::wanted(&self.regs) {
            if point.addr <= addr && addr < point.addr.saturating_add(point.len) {
                self.regs[6] |= 1 << slot;
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(regs: [u64; 8]) -> Vec<u8> {
        regs.iter().flat_map(|r| r.to_le_bytes()).collect()
    }

    #[test]
    fn writes_become_requests_once() {
        let mut debug = DebugRegisters::default();
        // Slot 0: write watch of 8 bytes; slot 1: execute.
        let dr7 = 1 | (0b01 << 16) | (0b10 << 18) | (1 << 2);
        let regs = [0x1000, 0x4000, 0, 0, 0, 0, 0, dr7];
        assert_eq!(debug.update(&block(regs)), ["Z2,1000,8", "Z1,4000,1"]);
        assert!(debug.update(&block(regs)).is_empty(), "a second thread's identical write");
        debug.fired(0x1004);
        let mut out = vec![0; 64];
        debug.write_block(&mut out);
        assert_eq!(out[48], 1, "DR6 bit 0");
        assert_eq!(debug.update(&block([0; 8])), ["z2,1000,8", "z1,4000,1"]);
    }
}
