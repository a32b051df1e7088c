//! The `.pdata`/`.xdata` tables of mingw images, decoded by oxtrace and by
//! `objdump -x`, entry by entry and code by code.

use oxtrace::symbols::ElfImage;
use oxtrace::unwind::{UnwindOp, X64UnwindInfo, X64_UNWIND_REGISTERS};

use super::{binutil, pe_fixture, LEVELS};

/// One entry as objdump prints it: `(begin, end)` and its lines
/// (header fields and codes) in a normal form.
type Dumped = ((u64, u64), Vec<String>);

/// objdump's dump of the unwind data, per function.
fn objdump_xdata(exe: &str) -> Vec<Dumped> {
    let text = binutil("objdump", &["-x", exe]);
    // After the function table, objdump dumps the section holding the
    // UNWIND_INFOs: `.xdata` from ld, `.rdata` from lld (which merges them).
    let table = text.split("The Function Table").nth(1).expect("objdump prints .pdata");
    let dump = table.split("Dump of .").nth(1).expect("objdump prints the unwind data");
    let mut entries: Vec<Dumped> = Vec::new();
    for line in dump.lines().skip(1) {
        let line = line.trim();
        if line.is_empty() || line.starts_with("Sections:") {
            break;
        }
        if let Some((_, range)) = line.split_once("): ") {
            let (begin, end) = range.split_once(" - ").unwrap();
            let parse = |s: &str| u64::from_str_radix(s.trim(), 16).unwrap();
            entries.push(((parse(begin), parse(end)), Vec::new()));
        } else if let Some(code) = line.strip_prefix("pc+") {
            // `FPReg: rbp = rsp + 0x20 (info = 0x0)`: the info is always 0.
            let code = code.split(" (info").next().unwrap();
            entries.last_mut().unwrap().1.push(code.to_owned());
        } else if line.starts_with("Version:") || line.starts_with("Nbr codes:") || line.starts_with("Chain:") {
            entries.last_mut().unwrap().1.push(line.to_owned());
        } else if line.starts_with("unwind data:") {
            entries.last_mut().unwrap().1.push(line.trim_end_matches('.').to_owned());
        }
    }
    // objdump repeats an entry whose UNWIND_INFO another entry shares.
    entries.dedup();
    entries
}

/// oxtrace's decoding of one entry, in objdump's words.
fn describe(info: &X64UnwindInfo) -> Vec<String> {
    let reg = |r: u8| X64_UNWIND_REGISTERS[usize::from(r)];
    let mut flags = Vec::new();
    for (bit, name) in [(1, "UNW_FLAG_EHANDLER"), (2, "UNW_FLAG_UHANDLER"), (4, "UNW_FLAG_CHAININFO")] {
        if info.flags & bit != 0 {
            flags.push(name);
        }
    }
    let flags = if flags.is_empty() { "none".to_owned() } else { flags.join(" ") };
    let slots: u32 = info.codes.iter().map(|c| u32::from(c.op.slots())).sum();
    let frame = if info.frame_register == 0 { "none" } else { reg(info.frame_register) };
    let mut out = vec![
        format!("Version: {}, Flags: {flags}", info.version),
        format!(
            "Nbr codes: {slots}, Prologue size: {:#04x}, Frame offset: {:#x}, Frame reg: {frame}",
            info.prologue_size,
            info.frame_offset / 16
        ),
    ];
    for code in &info.codes {
        let what = match code.op {
            UnwindOp::PushNonvol(r) => format!("push {}", reg(r)),
            UnwindOp::AllocSmall(n) => format!("alloc small area: rsp = rsp - {n:#x}"),
            UnwindOp::AllocLarge(n) => format!("alloc large area: rsp = rsp - {n:#x}"),
            UnwindOp::SetFpreg => format!("FPReg: {} = rsp + {:#x}", reg(info.frame_register), info.frame_offset),
            UnwindOp::SaveNonvol { register, offset, .. } => format!("save {} at rsp + {offset:#x}", reg(register)),
            UnwindOp::SaveXmm128 { register, offset, far: false } => format!("save xmm{register} at rsp + {offset:#x}"),
            // binutils 2.40 scales the far offset by 16 like the near one's; it is
            // unscaled (llvm-readobj and the fixture's own `movaps` agree, see below).
            UnwindOp::SaveXmm128 { register, offset, far: true } => {
                format!("save xmm{register} at rsp + {:#x}", offset * 16)
            }
            UnwindOp::PushMachframe { error_code: false } => "interrupt entry (SS, old RSP, EFLAGS, CS, RIP)".into(),
            UnwindOp::PushMachframe { error_code: true } => {
                "interrupt entry (SS, old RSP, EFLAGS, CS, RIP, ErrorCode)".into()
            }
            UnwindOp::Epilog => "epilog".into(),
        };
        out.push(format!("{:#04x}: {what}", code.offset));
    }
    if let Some(parent) = info.chained {
        out.push(format!("Chain: start: {:016x}, end: {:016x}", parent.begin, parent.end));
        out.push(format!("unwind data: {:016x}", parent.unwind_info));
    }
    out
}

#[test]
fn every_entry_decodes_as_objdump_prints_it() {
    let builds = LEVELS.iter().flat_map(|level| {
        [
            (format!("gcc {level}"), pe_fixture("pe_unwind", level)),
            (format!("clang {level}"), super::pdb::clang_fixture(level)),
        ]
    });
    for (level, exe) in builds {
        let image = ElfImage::load(&exe).unwrap();
        let tables = &image.pe().unwrap().unwind;
        let base = tables.image_base();
        let expected = objdump_xdata(exe.to_str().unwrap());
        assert_eq!(expected.len(), tables.functions().len(), "{level}: entries");
        let mut seen_ops = std::collections::HashSet::new();
        for (function, (range, want)) in tables.functions().iter().zip(&expected) {
            assert_eq!((base + u64::from(function.begin), base + u64::from(function.end)), *range, "{level}");
            let info = tables.unwind_info(function).unwrap_or_else(|| panic!("{level}: undecodable at {range:x?}"));
            assert_eq!(&describe(&info), want, "{level}: entry {range:x?}");
            for code in &info.codes {
                seen_ops.insert(std::mem::discriminant(&code.op));
                if let UnwindOp::SaveNonvol { far: true, .. } | UnwindOp::SaveXmm128 { far: true, .. } = code.op {
                    seen_ops.insert(std::mem::discriminant(&UnwindOp::Epilog)); // marks "a far save seen"
                }
            }
        }
        // The fixture uses every kind of code the x64 prologues have.
        assert_eq!(seen_ops.len(), 8, "{level}: kinds of codes seen");
        assert!(tables.function_at(0).is_none());
    }
}

/// `llvm-readobj --unwind`, per function: `(begin, end)` and its lines in a normal form.
fn llvm_readobj_unwind(exe: &str) -> Vec<Dumped> {
    let text = super::run_tool("llvm-readobj", &["--unwind", exe]);
    let hex_in_parens = |line: &str| {
        let inner = line.rsplit_once("(0x")?.1.trim_end_matches(')');
        u64::from_str_radix(inner, 16).ok()
    };
    let mut entries: Vec<Dumped> = Vec::new();
    let mut pending_start = None;
    let mut in_chain = false;
    for line in text.lines().map(str::trim) {
        if line == "Chained {" {
            in_chain = true;
        } else if let Some(rest) = line.strip_prefix("StartAddress:") {
            match in_chain {
                true => entries.last_mut().unwrap().1.push(format!("chained from {:#x}", hex_in_parens(rest).unwrap())),
                false => pending_start = hex_in_parens(rest),
            }
        } else if let Some(rest) = line.strip_prefix("EndAddress:") {
            match in_chain {
                true => entries.last_mut().unwrap().1.push(format!("chained to {:#x}", hex_in_parens(rest).unwrap())),
                false => entries.push(((pending_start.take().unwrap(), hex_in_parens(rest).unwrap()), Vec::new())),
            }
        } else if line.starts_with("UnwindInfoAddress") {
            in_chain = false;
        } else if let Some(last) = entries.last_mut() {
            let keep = ["Version:", "Flags [", "PrologSize:", "FrameRegister:", "FrameOffset:", "UnwindCodeCount:"];
            if keep.iter().any(|k| line.starts_with(k)) {
                last.1
                    .push(line.split(" (0x").next().unwrap().to_owned() + line.strip_prefix("Flags [ ").unwrap_or(""));
            } else if line.len() > 6 && line.starts_with("0x") && line.as_bytes()[4] == b':' {
                last.1.push(line.to_owned());
            }
        }
    }
    entries
}

/// oxtrace's decoding of one entry, in llvm-readobj's words.
fn describe_llvm(info: &X64UnwindInfo, image_base: u64) -> Vec<String> {
    let reg = |r: u8| X64_UNWIND_REGISTERS[usize::from(r)].to_uppercase();
    let slots: u32 = info.codes.iter().map(|c| u32::from(c.op.slots())).sum();
    let mut out = vec![
        format!("Version: {}", info.version),
        format!("Flags [(0x{:x})", info.flags),
        format!("PrologSize: {}", info.prologue_size),
    ];
    match info.frame_register {
        0 => out.extend(["FrameRegister: -".to_owned(), "FrameOffset: -".to_owned()]),
        r => out.extend([format!("FrameRegister: {}", reg(r)), format!("FrameOffset: {:#x}", info.frame_offset / 16)]),
    }
    out.push(format!("UnwindCodeCount: {slots}"));
    for code in &info.codes {
        let what = match code.op {
            UnwindOp::PushNonvol(r) => format!("PUSH_NONVOL reg={}", reg(r)),
            UnwindOp::AllocSmall(n) => format!("ALLOC_SMALL size={n}"),
            UnwindOp::AllocLarge(n) => format!("ALLOC_LARGE size={n}"),
            UnwindOp::SetFpreg => {
                format!("SET_FPREG reg={}, offset=0x{:X}", reg(info.frame_register), info.frame_offset)
            }
            UnwindOp::SaveNonvol { register, offset, far } => {
                format!("SAVE_NONVOL{} reg={}, offset=0x{offset:X}", if far { "_FAR" } else { "" }, reg(register))
            }
            UnwindOp::SaveXmm128 { register, offset, far } => {
                format!("SAVE_XMM128{} reg=XMM{register}, offset=0x{offset:X}", if far { "_FAR" } else { "" })
            }
            UnwindOp::PushMachframe { error_code } => {
                format!("PUSH_MACHFRAME errcode={}", if error_code { "yes" } else { "no" })
            }
            UnwindOp::Epilog => "EPILOG".into(),
        };
        out.push(format!("0x{:02X}: {what}", code.offset));
    }
    if let Some(parent) = info.chained {
        out.push(format!("chained from {:#x}", image_base + u64::from(parent.begin)));
        out.push(format!("chained to {:#x}", image_base + u64::from(parent.end)));
    }
    out
}

#[test]
fn every_entry_decodes_as_llvm_readobj_prints_it() {
    let builds = LEVELS.iter().flat_map(|level| {
        [
            (format!("gcc {level}"), pe_fixture("pe_unwind", level)),
            (format!("clang {level}"), super::pdb::clang_fixture(level)),
        ]
    });
    for (level, exe) in builds {
        let image = ElfImage::load(&exe).unwrap();
        let tables = &image.pe().unwrap().unwind;
        let base = tables.image_base();
        let expected = llvm_readobj_unwind(exe.to_str().unwrap());
        assert_eq!(expected.len(), tables.functions().len(), "{level}: entries");
        let mut far_xmm = 0;
        for (function, (range, want)) in tables.functions().iter().zip(&expected) {
            assert_eq!((base + u64::from(function.begin), base + u64::from(function.end)), *range, "{level}");
            let info = tables.unwind_info(function).unwrap();
            assert_eq!(&describe_llvm(&info, base), want, "{level}: entry {range:x?}");
            far_xmm += info.codes.iter().filter(|c| matches!(c.op, UnwindOp::SaveXmm128 { far: true, .. })).count();
        }
        if level.starts_with("clang") {
            assert_eq!(far_xmm, 1, "{level}: clang encodes far_saves' xmm9 save as _FAR");
        }
    }
}
