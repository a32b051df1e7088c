//! The basic blocks of a function, from decoding it whole: where coverage
//! puts its breakpoints.

use iced_x86::{Decoder, DecoderOptions, FlowControl};

use crate::error::{Error, Result};
use crate::trace::Trace;

/// The start of every basic block of the function `[start, start + code.len())`:
/// its entry, every direct branch target inside it, and every instruction
/// after a branch or a return. Sorted.
pub(super) fn leaders(start: u64, code: &[u8]) -> Vec<u64> {
    let end = start + code.len() as u64;
    let mut leaders = vec![start];
    let mut decoder = Decoder::with_ip(64, code, start, DecoderOptions::NONE);
    while decoder.can_decode() {
        let insn = decoder.decode();
        if insn.is_invalid() {
            break;
        }
        match insn.flow_control() {
            FlowControl::ConditionalBranch | FlowControl::UnconditionalBranch => {
                let target = insn.near_branch_target();
                if target >= start && target < end {
                    leaders.push(target);
                }
                leaders.push(insn.next_ip());
            }
            FlowControl::IndirectBranch | FlowControl::Return => leaders.push(insn.next_ip()),
            _ => {}
        }
    }
    leaders.retain(|&a| a < end);
    leaders.sort_unstable();
    leaders.dedup();
    leaders
}

impl Trace {
    /// The starts of the basic blocks of the function holding `addr`
    /// (x86_64; the function's extent comes from its symbol), for coverage.
    /// Padding after the last return counts as a block (it never runs).
    pub fn basic_blocks(&mut self, addr: u64) -> Result<Vec<u64>> {
        let function = self.decoded_function(addr).map_err(Error::InvalidArgument)?;
        Ok(leaders(function.start, &function.code))
    }
}

#[cfg(test)]
mod tests {
    use super::leaders;

    #[test]
    fn blocks_start_at_the_entry_at_targets_and_after_branches() {
        // 0: xor eax,eax; 2: add eax,edi; 4: dec edi; 6: jg 2; 8: ret; 9: nop
        let code = [0x31, 0xc0, 0x01, 0xf8, 0xff, 0xcf, 0x7f, 0xfa, 0xc3, 0x90];
        assert_eq!(leaders(0x100, &code), [0x100, 0x102, 0x108, 0x109]);
    }
}
