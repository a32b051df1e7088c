//! DWARF call sites (`DW_TAG_call_site`, and GCC's older `DW_TAG_GNU_call_site`):
//! what a call at a return address calls, and the tail calls a function makes.
//!
//! A tail call (`jmp` to another function) leaves no frame on the stack, so
//! a physical unwind skips the function that made it. Compilers record such
//! calls in DWARF; with them a backtrace can show the missing frame, as gdb
//! does ("tail call frame").

use std::collections::HashMap;
use std::sync::Arc;

use gimli::{AttributeValue, DebuggingInformationEntry, Reader as _, UnitRef};

use super::lines::{LineInfo, Reader};

/// What a call site calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallTarget {
    /// A function at this file address.
    Address(u64),
    /// A function known only by name (a declaration): look it up in the symbols.
    Name(String),
}

impl LineInfo {
    /// The target of the call that returns to `return_pc` (a file address),
    /// when DWARF records one.
    pub fn call_site_target(&self, return_pc: u64) -> Option<CallTarget> {
        let unit = self.unit_at(return_pc.checked_sub(1)?)?;
        let key = unit.header.offset();
        // Indexed once per unit: a deep recursion asks the same unit once per frame.
        let known = self.call_sites.lock().unwrap_or_else(|e| e.into_inner()).get(&key).cloned();
        let index = known.unwrap_or_else(|| {
            let built = Arc::new(call_site_index(&unit));
            self.call_sites.lock().unwrap_or_else(|e| e.into_inner()).insert(key, built.clone());
            built
        });
        index.get(&return_pc).cloned()
    }

    /// The tail calls made by the function starting at `function_start` (a
    /// file address), as `(return pc after the jump, target)`.
    pub fn tail_calls_in(&self, function_start: u64) -> Vec<(u64, CallTarget)> {
        let Some(unit) = self.unit_at(function_start) else {
            return Vec::new();
        };
        let mut cursor = unit.entries();
        let mut function_depth = None;
        let mut found = Vec::new();
        while let Ok(Some(entry)) = cursor.next_dfs() {
            match function_depth {
                None => {
                    if entry.tag() == gimli::DW_TAG_subprogram
                        && entry.attr_value(gimli::DW_AT_low_pc).and_then(|v| unit.attr_address(v).ok().flatten())
                            == Some(function_start)
                    {
                        function_depth = Some(entry.depth());
                    }
                }
                Some(depth) if entry.depth() <= depth => break,
                Some(_) => {
                    if is_call_site(entry) && is_tail_call(entry) {
                        if let (Some(ret), Some(target)) = (call_return_pc(&unit, entry), call_target(&unit, entry)) {
                            found.push((ret, target));
                        }
                    }
                }
            }
        }
        found
    }
}

/// The targets of one unit's call sites, by return pc (the first site wins).
pub(super) type CallSiteIndex = HashMap<u64, CallTarget>;

fn call_site_index(unit: &UnitRef<Reader>) -> CallSiteIndex {
    let mut index = CallSiteIndex::new();
    let mut cursor = unit.entries();
    while let Ok(Some(entry)) = cursor.next_dfs() {
        if is_call_site(entry) {
            if let (Some(ret), Some(target)) = (call_return_pc(unit, entry), call_target(unit, entry)) {
                index.entry(ret).or_insert(target);
            }
        }
    }
    index
}

fn is_call_site(entry: &DebuggingInformationEntry<Reader>) -> bool {
    entry.tag() == gimli::DW_TAG_call_site || entry.tag() == gimli::DW_TAG_GNU_call_site
}

fn is_tail_call(entry: &DebuggingInformationEntry<Reader>) -> bool {
    [gimli::DW_AT_call_tail_call, gimli::DW_AT_GNU_tail_call]
        .iter()
        .any(|&at| matches!(entry.attr_value(at), Some(AttributeValue::Flag(true))))
}

/// The address the call returns to (after a tail call's jump: the next instruction).
fn call_return_pc(unit: &UnitRef<Reader>, entry: &DebuggingInformationEntry<Reader>) -> Option<u64> {
    let value = entry.attr_value(gimli::DW_AT_call_return_pc).or_else(|| entry.attr_value(gimli::DW_AT_low_pc))?;
    unit.attr_address(value).ok().flatten()
}

/// The called function: its address when the referenced DIE has one, else its name.
fn call_target(unit: &UnitRef<Reader>, entry: &DebuggingInformationEntry<Reader>) -> Option<CallTarget> {
    let origin = entry.attr_value(gimli::DW_AT_call_origin).or_else(|| entry.attr_value(gimli::DW_AT_abstract_origin));
    let Some(AttributeValue::UnitRef(offset)) = origin else {
        return None;
    };
    let mut die = unit.entry(offset).ok()?;
    // A declaration or abstract instance names the function; follow one link to the definition's name.
    for _ in 0..3 {
        if let Some(low_pc) = die.attr_value(gimli::DW_AT_low_pc).and_then(|v| unit.attr_address(v).ok().flatten()) {
            return Some(CallTarget::Address(low_pc));
        }
        for at in [gimli::DW_AT_linkage_name, gimli::DW_AT_name] {
            if let Some(value) = die.attr_value(at) {
                let name = unit.attr_string(value).ok()?;
                return Some(CallTarget::Name(name.to_string_lossy().ok()?.into_owned()));
            }
        }
        let link = die.attr_value(gimli::DW_AT_specification).or_else(|| die.attr_value(gimli::DW_AT_abstract_origin));
        let Some(AttributeValue::UnitRef(next)) = link else { return None };
        die = unit.entry(next).ok()?;
    }
    None
}
