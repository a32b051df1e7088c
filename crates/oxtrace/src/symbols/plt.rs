//! Names for PLT stubs (`puts@plt`), which no symbol table lists.
//!
//! Each stub jumps through a GOT slot that a `JUMP_SLOT` (or `GLOB_DAT`, for
//! `.plt.got`) relocation fills with the imported function: decoding the
//! stubs' indirect jumps and matching their slots to the relocations names
//! them, whatever the PLT layout (lazy `.plt`, IBT's `.plt.sec`, `.plt.got`).

use std::collections::HashMap;

use iced_x86::{Decoder, DecoderOptions, FlowControl};
use object::{Object, ObjectSection, ObjectSymbol, ObjectSymbolTable, RelocationTarget};

use super::{Symbol, SymbolKind};

/// The PLT stubs of a file as `name@plt` function symbols (file addresses).
pub fn plt_symbols(file: &object::File) -> Vec<Symbol> {
    // The stubs are decoded as x86 code.
    if file.architecture() != object::Architecture::X86_64 {
        return Vec::new();
    }
    let (Some(relocations), Some(dynsym)) = (file.dynamic_relocations(), file.dynamic_symbol_table()) else {
        return Vec::new();
    };
    let by_slot: HashMap<u64, String> = relocations
        .filter_map(|(slot, relocation)| match relocation.target() {
            RelocationTarget::Symbol(index) => {
                let name = dynsym.symbol_by_index(index).ok()?.name().ok()?.to_owned();
                (!name.is_empty()).then_some((slot, name))
            }
            _ => None,
        })
        .collect();
    let mut stubs = Vec::new();
    for section_name in [".plt", ".plt.sec", ".plt.got"] {
        let Some(section) = file.section_by_name(section_name) else { continue };
        let Ok(code) = section.data() else { continue };
        let entry_size = match section_name {
            ".plt.got" if section.align() == 8 => 8,
            _ => 16,
        };
        let mut decoder = Decoder::with_ip(64, code, section.address(), DecoderOptions::NONE);
        for insn in decoder.iter() {
            if insn.flow_control() != FlowControl::IndirectBranch || !insn.is_ip_rel_memory_operand() {
                continue;
            }
            if let Some(name) = by_slot.get(&insn.ip_rel_memory_address()) {
                let addr = insn.ip() & !(entry_size - 1);
                stubs.push(Symbol {
                    name: format!("{name}@plt"),
                    raw_name: format!("{name}@plt"),
                    addr,
                    size: entry_size,
                    kind: SymbolKind::Function,
                    global: false,
                });
            }
        }
    }
    stubs
}
