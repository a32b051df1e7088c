//! Names for PLT stubs (`puts@plt`), which no symbol table lists.
//!
//! Each stub jumps through a GOT slot that a `JUMP_SLOT` (or `GLOB_DAT`, for
//! `.plt.got`) relocation fills with the imported function: decoding the
//! stubs' indirect jumps and matching their slots to the relocations names
//! them, whatever the PLT layout (lazy `.plt`, IBT's `.plt.sec`, `.plt.got`).
//! On i386 the stubs of position-independent code jump through `disp(%ebx)`,
//! `ebx` holding the address of `.got.plt`; those of other code through an
//! absolute address.

use std::collections::HashMap;

use iced_x86::{Decoder, DecoderOptions, FlowControl, Instruction, Register};
use object::{Object, ObjectSection, ObjectSymbol, ObjectSymbolTable, RelocationTarget};

use super::{Symbol, SymbolKind};

/// The PLT stubs of a file as `name@plt` function symbols (file addresses).
pub fn plt_symbols(file: &object::File) -> Vec<Symbol> {
    // The stubs are decoded as x86 code.
    let bitness = match file.architecture() {
        object::Architecture::X86_64 => 64,
        object::Architecture::I386 => 32,
        _ => return Vec::new(),
    };
    let got_plt = file.section_by_name(".got.plt").map(|s| s.address());
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
        let mut decoder = Decoder::with_ip(bitness, code, section.address(), DecoderOptions::NONE);
        for insn in decoder.iter() {
            if insn.flow_control() != FlowControl::IndirectBranch {
                continue;
            }
            if let Some(name) = jump_slot(&insn, got_plt).and_then(|slot| by_slot.get(&slot)) {
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

/// The GOT slot an indirect jump of a stub goes through: `rip`-relative on
/// x86_64; `disp(%ebx)` from `.got.plt` or an absolute address on i386.
fn jump_slot(insn: &Instruction, got_plt: Option<u64>) -> Option<u64> {
    if insn.is_ip_rel_memory_operand() {
        return Some(insn.ip_rel_memory_address());
    }
    if insn.memory_index() != Register::None {
        return None;
    }
    let displacement = u64::from(insn.memory_displacement32());
    match insn.memory_base() {
        Register::EBX => Some(got_plt?.wrapping_add(displacement) & 0xffff_ffff),
        Register::None if insn.op0_kind() == iced_x86::OpKind::Memory => Some(displacement),
        _ => None,
    }
}
