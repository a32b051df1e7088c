//! The ring buffer a pad appends records to, in the program's memory, and
//! the tracer's reader of it.
//!
//! Layout: a 64-byte header whose first word is `head`, the number of
//! records ever reserved; then `capacity` slots (a power of two) of
//! `8 * (2 + values)` bytes: a sequence word, the time stamp counter, then
//! the values. A writer reserves index `i` with `lock xadd` on `head`, writes
//! 0 in the sequence word of slot `i % capacity`, the time and values, and
//! last `i + 1` in the sequence word. x86 keeps stores in order, so a
//! sequence word equal to `i + 1` means the slot holds record `i` whole.
//!
//! **Overflow: the newest records win.** Writers never wait for the reader;
//! record `i` overwrites record `i - capacity`. The reader keeps its own
//! cursor (the next index it wants). When it reads, it takes `head`, copies
//! the slots, then reads `head` again: a record older than `head_after -
//! capacity` may have been overwritten during the copy and counts as lost,
//! as does every record the writers lapped before the read. A record
//! reserved but not stamped yet (its writer is between `xadd` and the stamp)
//! ends the read: it is read next time.

use iced_x86::code_asm::{eax, qword_ptr, rax, rbx, rcx, rdx, rsi, CodeAssembler};
use iced_x86::IcedError;

use super::frame::{slot, AREA, FLAGS_SLOT, RED_ZONE};

/// Bytes of the header.
pub(super) const HEADER: u64 = 64;

/// A ring's place and shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::trace) struct RingLayout {
    /// Where the mapping starts (the header).
    pub base: u64,
    /// How many records it holds (a power of two).
    pub capacity: u64,
    /// How many values each record has.
    pub values: u64,
}

impl RingLayout {
    /// Bytes of one record.
    pub fn record_size(&self) -> u64 {
        8 * (2 + self.values)
    }

    /// Bytes of the whole mapping, rounded up to pages.
    pub fn mapping_size(&self) -> u64 {
        (HEADER + self.capacity * self.record_size()).div_ceil(4096) * 4096
    }

    /// Emits the append of one record whose values are the saved registers
    /// `registers` (64-bit names of the save area), with `rbx` at the save
    /// area (and `rsp`, `rip` (the site), `rflags`). Uses `rax`, `rcx`, `rdx` and `rsi`.
    pub fn append(&self, a: &mut CodeAssembler, registers: &[&str], site: u64) -> Result<(), IcedError> {
        a.mov(rdx, self.base)?;
        a.mov(eax, 1)?;
        a.lock().xadd(qword_ptr(rdx), rax)?;
        a.mov(rsi, rax)?;
        a.and(rax, (self.capacity - 1) as i32)?;
        a.imul_3(rax, rax, self.record_size() as i32)?;
        a.lea(rcx, qword_ptr(rdx + rax + HEADER as i32))?;
        a.mov(qword_ptr(rcx), 0)?;
        a.rdtsc()?;
        a.shl(rdx, 32)?;
        a.or(rax, rdx)?;
        a.mov(qword_ptr(rcx + 8), rax)?;
        for (n, name) in registers.iter().enumerate() {
            match *name {
                "rsp" => a.lea(rax, qword_ptr(rbx + AREA + RED_ZONE))?,
                "rip" => a.mov(rax, site)?,
                "rflags" => a.mov(rax, qword_ptr(rbx + FLAGS_SLOT))?,
                _ => a.mov(rax, qword_ptr(rbx + slot(name).expect("a saved register")))?,
            }
            a.mov(qword_ptr(rcx + (16 + 8 * n as i32)), rax)?;
        }
        a.lea(rax, qword_ptr(rsi + 1))?;
        a.mov(qword_ptr(rcx), rax)?;
        Ok(())
    }
}

/// One record a pad appended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InProcessRecord {
    /// Its index among the breakpoint's records (0 for the first).
    pub index: u64,
    /// The time stamp counter (`rdtsc`) when it was written (0 for records of a breakpoint fallen back to int3).
    pub tsc: u64,
    /// The collected registers, then the arguments, as asked.
    pub values: Vec<u64>,
}

/// What one read of a ring gives.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InProcessRecords {
    /// The records not read before, oldest first.
    pub records: Vec<InProcessRecord>,
    /// Records overwritten before they could be read (the buffer overflowed).
    pub lost: u64,
}

/// Reads the records from index `cursor` on, given a reader of the
/// program's memory; returns them and the new cursor.
pub(super) fn read(
    layout: &RingLayout,
    cursor: u64,
    mut read: impl FnMut(u64, &mut [u8]) -> crate::Result<()>,
) -> crate::Result<(InProcessRecords, u64)> {
    let head_at = |read: &mut dyn FnMut(u64, &mut [u8]) -> crate::Result<()>| -> crate::Result<u64> {
        let mut word = [0u8; 8];
        read(layout.base, &mut word)?;
        Ok(u64::from_le_bytes(word))
    };
    let head = head_at(&mut read)?;
    let mut slots = vec![0u8; (layout.capacity * layout.record_size()) as usize];
    read(layout.base + HEADER, &mut slots)?;
    let head_after = head_at(&mut read)?;
    let oldest_safe = head_after.saturating_sub(layout.capacity);
    let mut out = InProcessRecords::default();
    let mut next = cursor;
    if next < oldest_safe {
        out.lost = oldest_safe - next;
        next = oldest_safe;
    }
    let words = |bytes: &[u8]| -> Vec<u64> {
        bytes.chunks_exact(8).map(|w| u64::from_le_bytes(w.try_into().expect("8 bytes"))).collect()
    };
    while next < head {
        let at = ((next % layout.capacity) * layout.record_size()) as usize;
        let record = words(&slots[at..at + layout.record_size() as usize]);
        if record[0] != next + 1 {
            break;
        }
        out.records.push(InProcessRecord { index: next, tsc: record[1], values: record[2..].to_vec() });
        next += 1;
    }
    Ok((out, next))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring_with(head: u64, stamped: &[(u64, u64)]) -> (RingLayout, Vec<u8>) {
        let layout = RingLayout { base: 0x1000, capacity: 4, values: 1 };
        let mut memory = vec![0u8; (HEADER + 4 * layout.record_size()) as usize];
        memory[..8].copy_from_slice(&head.to_le_bytes());
        for &(index, value) in stamped {
            let at = (HEADER + (index % 4) * layout.record_size()) as usize;
            memory[at..at + 8].copy_from_slice(&(index + 1).to_le_bytes());
            memory[at + 16..at + 24].copy_from_slice(&value.to_le_bytes());
        }
        (layout, memory)
    }

    fn read_from(layout: &RingLayout, memory: &[u8], cursor: u64) -> (InProcessRecords, u64) {
        read(layout, cursor, |addr, buf| {
            let at = (addr - layout.base) as usize;
            buf.copy_from_slice(&memory[at..at + buf.len()]);
            Ok(())
        })
        .unwrap()
    }

    #[test]
    fn records_are_read_in_order_up_to_the_first_unstamped_one() {
        let (layout, memory) = ring_with(3, &[(0, 10), (1, 11)]);
        let (got, cursor) = read_from(&layout, &memory, 0);
        assert_eq!(got.records.iter().map(|r| r.values[0]).collect::<Vec<_>>(), [10, 11]);
        assert_eq!((got.lost, cursor), (0, 2));
    }

    #[test]
    fn records_lapped_by_the_writers_count_as_lost() {
        let (layout, memory) = ring_with(6, &[(2, 12), (3, 13), (4, 14), (5, 15)]);
        let (got, cursor) = read_from(&layout, &memory, 0);
        assert_eq!(got.lost, 2);
        assert_eq!(got.records.iter().map(|r| r.index).collect::<Vec<_>>(), [2, 3, 4, 5]);
        assert_eq!(cursor, 6);
    }
}
