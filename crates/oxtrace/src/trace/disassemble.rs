//! Disassembly of the debuggee's code (Intel syntax, by iced-x86), with
//! branch targets and RIP-relative operands named by their symbols.

use iced_x86::{Decoder, DecoderOptions, Formatter, FormatterOutput, FormatterTextKind, IntelFormatter};

use super::Trace;
use crate::error::{Error, Result};

/// One decoded instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    /// Its address.
    pub addr: u64,
    /// Its bytes.
    pub bytes: Vec<u8>,
    /// Its text (`call 0x401136 <target>`).
    pub text: String,
}

/// Collects the formatter's pieces into a string.
struct Text(String);

impl FormatterOutput for Text {
    fn write(&mut self, text: &str, _kind: FormatterTextKind) {
        self.0.push_str(text);
    }
}

impl Trace {
    /// Decodes `count` instructions from `addr` (fewer where memory ends or
    /// the bytes stop decoding). Breakpoint bytes are not seen.
    pub fn disassemble(&mut self, addr: u64, count: usize) -> Result<Vec<Instruction>> {
        let Some(bitness) = self.arch.x86_bitness() else {
            return Err(Error::Unsupported("disassembly on this architecture"));
        };
        let want = count.saturating_mul(15).min(1 << 16);
        // Near the end of a map fewer bytes are readable.
        let mut len = want;
        let code = loop {
            match self.read_memory(addr, len) {
                Ok(code) => break code,
                Err(e) if len <= 1 => return Err(e),
                Err(_) => len /= 2,
            }
        };
        let mut decoder = Decoder::with_ip(bitness, &code, addr, DecoderOptions::NONE);
        let mut formatter = IntelFormatter::new();
        let options = formatter.options_mut();
        options.set_hex_prefix("0x");
        options.set_hex_suffix("");
        options.set_uppercase_hex(false);
        let mut found = Vec::new();
        while found.len() < count && decoder.can_decode() {
            let insn = decoder.decode();
            if insn.is_invalid() {
                break;
            }
            let mut text = Text(String::new());
            formatter.format(&insn, &mut text);
            let target = if insn.is_ip_rel_memory_operand() {
                Some(insn.ip_rel_memory_address())
            } else if insn.near_branch_target() != 0 {
                Some(insn.near_branch_target())
            } else {
                None
            };
            if let Some(name) = target.and_then(|t| self.sym_by_addr(t, false).ok().flatten()) {
                text.0.push_str(&format!(" <{name}>"));
            }
            let start = (insn.ip() - addr) as usize;
            found.push(Instruction { addr: insn.ip(), bytes: code[start..start + insn.len()].to_vec(), text: text.0 });
        }
        Ok(found)
    }
}
