//! Disassembly (Intel syntax, iced-x86) around pc, of a function, or at any
//! address, with branch targets and RIP-relative operands symbolized.

use std::io::Write;

use iced_x86::{Decoder, DecoderOptions, FlowControl, Formatter, Instruction, IntelFormatter, OpKind};
use oxtrace::Trace;

use super::memory::split_expr_count;
use super::symbols::{describe_addr, symbolize};
use super::{eval, Args};
use crate::session::{CmdError, CmdResult, Session};

/// The longest x86 instruction.
const MAX_INSN: usize = 15;
/// Instructions shown by default.
const DEFAULT_COUNT: usize = 10;
/// Instructions shown before pc when disassembling around it.
const BEFORE_PC: usize = 3;
/// The most instructions shown at once.
const MAX_COUNT: usize = 2000;

/// Reads up to `len` bytes at `addr`, fewer where memory ends; an error if none can be read.
fn read_code(trace: &mut Trace, addr: u64, len: usize) -> Result<Vec<u8>, CmdError> {
    if let Ok(bytes) = trace.read_memory(addr, len) {
        return Ok(bytes);
    }
    let to_page_end = (4096 - (addr % 4096)) as usize;
    Ok(trace.read_memory(addr, len.min(to_page_end))?)
}

/// The width x86 code of the trace decodes at (64, or 32 for an i386 process);
/// refuses code that is not x86 (iced decodes only x86).
fn require_x86(trace: &Trace) -> Result<u32, CmdError> {
    trace
        .arch()
        .x86_bitness()
        .ok_or_else(|| CmdError(format!("disassembly of {} code is not supported", trace.arch().name)))
}

/// Decodes up to `count` instructions at `addr`.
fn decode(trace: &mut Trace, addr: u64, count: usize) -> Result<Vec<Instruction>, CmdError> {
    let bitness = require_x86(trace)?;
    let bytes = read_code(trace, addr, count.saturating_mul(MAX_INSN))?;
    let mut decoder = Decoder::with_ip(bitness, &bytes, addr, DecoderOptions::NONE);
    let mut list = Vec::new();
    while decoder.can_decode() && list.len() < count {
        list.push(decoder.decode());
    }
    Ok(list)
}

/// An instruction as text, with ` <symbol>` after a branch target or a RIP-relative address that has one.
fn instruction_text(trace: &mut Trace, insn: &Instruction) -> String {
    let mut text = String::new();
    let mut formatter = IntelFormatter::new();
    let options = formatter.options_mut();
    options.set_hex_prefix("0x");
    options.set_hex_suffix("");
    options.set_uppercase_hex(false);
    options.set_space_after_operand_separator(true);
    formatter.format(insn, &mut text);
    let target = if matches!(insn.op0_kind(), OpKind::NearBranch64 | OpKind::NearBranch32 | OpKind::NearBranch16)
        && !matches!(insn.flow_control(), FlowControl::Next)
    {
        Some(insn.near_branch_target())
    } else if insn.is_ip_rel_memory_operand() {
        Some(insn.ip_rel_memory_address())
    } else {
        None
    };
    if let Some(name) = target.and_then(|t| symbolize(trace, t).name()) {
        text.push_str(&format!(" <{name}>"));
    }
    if insn.is_invalid() {
        text = "(bad)".into();
    }
    text
}

/// `0xADDRESS in SYMBOL+0xOFF from MODULE: INSTRUCTION`: where a step stopped.
pub fn location_with_instruction(trace: &mut Trace, pc: u64) -> String {
    let place = describe_addr(trace, pc);
    match decode(trace, pc, 1) {
        Ok(list) if !list.is_empty() => format!("{place}: {}", instruction_text(trace, &list[0])),
        _ => place,
    }
}

/// Prints `count` instructions from `addr`, marking `mark` with `=>`.
pub fn print_instructions(
    trace: &mut Trace,
    addr: u64,
    count: usize,
    mark: Option<u64>,
    out: &mut dyn Write,
) -> CmdResult {
    for insn in decode(trace, addr, count.min(MAX_COUNT))? {
        print_one(trace, &insn, mark, out)?;
    }
    Ok(())
}

fn print_one(trace: &mut Trace, insn: &Instruction, mark: Option<u64>, out: &mut dyn Write) -> CmdResult {
    let marker = if mark == Some(insn.ip()) { "=>" } else { "  " };
    let name = symbolize(trace, insn.ip()).name().map(|n| format!(" <{n}>")).unwrap_or_default();
    let text = instruction_text(trace, insn);
    writeln!(out, "{marker} 0x{:016x}{name}: {text}", insn.ip())?;
    Ok(())
}

/// Where to start so that a few instructions before `pc` show: decoded from its function's start.
fn start_before(trace: &mut Trace, pc: u64) -> u64 {
    let Some((_, offset)) = symbolize(trace, pc).symbol else { return pc };
    if offset == 0 || offset > 4096 {
        return pc;
    }
    let start = pc - offset;
    let Ok(list) = decode(trace, start, offset as usize) else { return pc };
    let before: Vec<u64> = list.iter().map(|i| i.ip()).take_while(|&ip| ip < pc).collect();
    // Only when decoding from the start lands exactly on pc.
    if list.iter().any(|i| i.ip() == pc) {
        before.iter().rev().nth(BEFORE_PC - 1).or(before.first()).copied().unwrap_or(pc)
    } else {
        pc
    }
}

/// `disassemble [EXPR [COUNT]]`.
pub fn disassemble(session: &mut Session, args: Args<'_>, out: &mut dyn Write) -> CmdResult {
    let frame = session.selected_frame;
    let trace = session.trace()?;
    require_x86(trace)?;
    let pc = trace.pc()?;
    if args.rest.trim().is_empty() {
        // Around pc (or the selected frame's pc).
        let at = if frame > 0 {
            let tid = trace.current_thread();
            super::stack::frames(trace, tid)?.get(frame).map_or(pc, |f| f.pc)
        } else {
            pc
        };
        let start = start_before(trace, at);
        let before = decode(trace, start, BEFORE_PC + 1)?.iter().take_while(|i| i.ip() < at).count();
        return print_instructions(trace, start, DEFAULT_COUNT + before, Some(at), out);
    }
    let (expr, count) = split_expr_count(args.rest);
    let addr = eval(trace, expr)?;
    if count.is_none() {
        // A whole function when the address is a symbol's start with a size.
        let size = trace.symbols()?.sym_by_addr(addr).filter(|h| h.offset == 0).map(|h| h.symbol.size);
        if let Some(size @ 1..) = size {
            let bitness = require_x86(trace)?;
            let bytes = read_code(trace, addr, size as usize)?;
            let mut decoder = Decoder::with_ip(bitness, &bytes, addr, DecoderOptions::NONE);
            let mut list = Vec::new();
            while decoder.can_decode() && list.len() < MAX_COUNT {
                list.push(decoder.decode());
            }
            for insn in list {
                print_one(trace, &insn, Some(pc), out)?;
            }
            return Ok(());
        }
    }
    let count = count.map_or(DEFAULT_COUNT, |n| n as usize);
    print_instructions(trace, addr, count, Some(pc), out)
}
