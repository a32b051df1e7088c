//! Memory: reads, writes (code pages too), maps, search, typed helpers.

use oxtrace::{EventKind, ExitStatus, Needle};

use crate::support::Opt;
use crate::{read_all, run_to_exit, spawn_quiet, spawn_with_output};

#[test]
fn read_and_write_a_global_the_program_then_prints() {
    let (mut trace, reader) = spawn_with_output("calls", Opt::O0, &[]);
    let main = trace.sym_by_name("main").unwrap();
    trace.run_until(main).unwrap();
    let marker = trace.sym_by_name("marker").unwrap();
    assert_eq!(trace.read_memory(marker, 22).unwrap(), b"OXTRACE_MARKER_1234567");
    assert_eq!(trace.read_c_string(marker, 100).unwrap(), b"OXTRACE_MARKER_1234567");
    assert_eq!(trace.read_c_string(marker, 7).unwrap(), b"OXTRACE");
    trace.write_memory(marker, b"PATCHED_BY_OXTRACE\0").unwrap();
    assert_eq!(run_to_exit(&mut trace), ExitStatus::Code(0));
    let out = read_all(reader);
    assert!(out.contains("marker=PATCHED_BY_OXTRACE\n"), "{out}");
}

#[test]
fn code_on_a_read_only_page_can_be_rewritten() {
    let (mut trace, reader) = spawn_with_output("calls", Opt::O0, &[]);
    let main = trace.sym_by_name("main").unwrap();
    trace.run_until(main).unwrap();
    let codefn = trace.sym_by_name("codefn").unwrap();
    let map = trace.memory_map(codefn).unwrap().unwrap();
    assert!(map.perms.exec && !map.perms.write, "{map}");
    // mov $99, %eax; ret
    trace.write_memory(codefn, &[0xb8, 99, 0, 0, 0, 0xc3]).unwrap();
    assert_eq!(run_to_exit(&mut trace), ExitStatus::Code(0));
    assert!(read_all(reader).contains("codefn(2)=99"));
}

#[test]
fn breakpoint_bytes_are_invisible_to_reads_and_survive_writes() {
    let mut trace = spawn_quiet("calls", Opt::O0, &[]);
    let codefn = trace.sym_by_name("codefn").unwrap();
    let original = trace.read_memory(codefn, 8).unwrap();
    trace.add_break_by_addr(codefn).unwrap();
    assert_eq!(trace.read_memory(codefn, 8).unwrap(), original);
    assert_eq!(trace.read_memory(codefn - 3, 4).unwrap()[3], original[0]);
    // Writing over the breakpoint keeps it armed; the new byte is what it restores.
    let mut changed = original.clone();
    changed[0] = if original[0] == 0x90 { 0xcc } else { 0x90 };
    trace.write_memory(codefn, &changed).unwrap();
    let event = trace.run().unwrap();
    assert!(matches!(event.kind, EventKind::Breakpoint { addr, .. } if addr == codefn), "{event:?}");
    assert_eq!(trace.read_memory(codefn, 8).unwrap(), changed);
}

#[test]
fn maps_have_permissions_offsets_and_files() {
    let mut trace = spawn_quiet("calls", Opt::O0, &[]);
    let main = trace.sym_by_name("main").unwrap();
    trace.run_until(main).unwrap();
    let maps = trace.memory_maps().unwrap();
    assert!(maps.windows(2).all(|w| w[0].end <= w[1].start), "sorted, disjoint");
    let exe = trace.exe_path().unwrap();
    let text = maps.iter().find(|m| m.contains(main)).unwrap();
    assert_eq!(text.path.as_deref(), Some(exe.as_str()));
    assert!(text.perms.read && text.perms.exec && !text.perms.write);
    assert!(text.offset > 0, "text is not the first page of the file: {text}");
    assert!(maps.iter().any(|m| m.name() == "[stack]" && m.perms.write));
    assert!(maps.iter().any(|m| m.path.as_deref().is_some_and(|p| p.contains("libc.so"))));
}

#[test]
fn search_finds_bytes_and_regexes_in_a_range_or_everywhere() {
    let mut trace = spawn_quiet("calls", Opt::O0, &[]);
    let main = trace.sym_by_name("main").unwrap();
    trace.run_until(main).unwrap();
    let marker = trace.sym_by_name("marker").unwrap();
    let found = trace.search_memory(&Needle::bytes(&b"OXTRACE_MARKER_1234567"[..])).unwrap();
    assert!(found.contains(&marker), "{found:x?} lacks {marker:#x}");
    assert_eq!(trace.variable("search"), found.first().copied());
    let map = trace.memory_map(marker).unwrap().unwrap();
    let in_map =
        trace.search_memory_range(&Needle::regex("OXTRACE_MARKER_[0-9]+").unwrap(), map.start, map.end).unwrap();
    assert_eq!(in_map, [marker]);
    let none = trace.search_memory_range(&Needle::bytes(&b"not there at all"[..]), map.start, map.end).unwrap();
    assert!(none.is_empty());
}

#[test]
fn typed_reads_and_writes() {
    let mut trace = spawn_quiet("calls", Opt::O0, &[]);
    let main = trace.sym_by_name("main").unwrap();
    trace.run_until(main).unwrap();
    let marker = trace.sym_by_name("marker").unwrap();
    assert_eq!(trace.read_u8(marker).unwrap(), b'O');
    assert_eq!(trace.read_u16(marker).unwrap(), u16::from_le_bytes(*b"OX"));
    assert_eq!(trace.read_u32(marker).unwrap(), u32::from_le_bytes(*b"OXTR"));
    assert_eq!(trace.read_u64(marker).unwrap(), u64::from_le_bytes(*b"OXTRACE_"));
    trace.write_u64(marker, 0x1122_3344_5566_7788).unwrap();
    assert_eq!(trace.read_u64(marker).unwrap(), 0x1122_3344_5566_7788);
    assert_eq!(trace.read_i32(marker).unwrap(), 0x5566_7788);
    trace.write_i64(marker, -2).unwrap();
    assert_eq!(trace.read_i64(marker).unwrap(), -2);
    trace.write_ptr(marker, marker).unwrap();
    assert_eq!(trace.read_ptr(marker).unwrap(), marker);
    let rsp = trace.sp().unwrap();
    let ret = trace.read_ptr(rsp).unwrap();
    assert!(trace.memory_map(ret).unwrap().is_some_and(|m| m.perms.exec), "return address {ret:#x} points to code");
}
