//! The `.pdata`/`.xdata` tables of mingw images, decoded by oxtrace and by
//! `objdump -x`, entry by entry and code by code.

use oxtrace::symbols::ElfImage;
use oxtrace::unwind::{UnwindOp, X64UnwindInfo, X64_UNWIND_REGISTERS};

use super::{binutil, pe_fixture, LEVELS};

/// One entry as objdump prints it: `(begin, end)` and its lines
/// (header fields and codes) in a normal form.
type Dumped = ((u64, u64), Vec<String>);

/// objdump's "Dump of .xdata" section, per function.
fn objdump_xdata(exe: &str) -> Vec<Dumped> {
    let text = binutil("objdump", &["-x", exe]);
    let dump = text.split("Dump of .xdata").nth(1).expect("objdump prints .xdata");
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
            UnwindOp::SaveXmm128 { register, offset, .. } => format!("save xmm{register} at rsp + {offset:#x}"),
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
    for level in LEVELS {
        let exe = pe_fixture("pe_unwind", level);
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
