//! Memory: reads, writes, searches, maps, allocation, and injection.

use oxtrace::{EventKind, ExitStatus, Mode, Needle, Perms};

use crate::support::{fixture, out_file, output, spawn, Symbols};

/// Runs the fixture to its first `tick`, where the CRT and the threads are up.
fn at_first_tick(opt: &str, out: &std::path::Path) -> (oxtrace::Trace, Symbols) {
    let mut trace = spawn(opt, &["run", out.to_str().unwrap()]);
    let symbols = Symbols::of(opt);
    let tick = symbols.addr(&mut trace, "tick");
    let id = trace.add_break_by_addr(tick).unwrap();
    let event = trace.run().unwrap();
    assert!(matches!(event.kind, EventKind::Breakpoint { .. }), "{event:?}");
    trace.remove_breakpoint(id).unwrap();
    (trace, symbols)
}

#[test]
fn memory_is_read_written_and_searched() {
    let out = out_file("memory");
    let (mut trace, symbols) = at_first_tick("O0", &out);
    let counter = symbols.addr(&mut trace, "counter");
    let before = u32::from_le_bytes(trace.read_memory(counter, 4).unwrap().try_into().unwrap());
    assert!(before < 100, "{before}");
    trace.write_memory(counter, &(before + 5000).to_le_bytes()).unwrap();
    assert_eq!(trace.read_memory(counter, 4).unwrap(), (before + 5000).to_le_bytes());
    let found = trace.search_memory(&Needle::Bytes(b"hello from wthreads".to_vec())).unwrap();
    assert!(!found.is_empty());
    for addr in &found {
        assert_eq!(trace.read_memory(*addr, 19).unwrap(), b"hello from wthreads");
    }
    // The maps name the program's image and the system DLLs.
    let maps = trace.memory_maps().unwrap();
    let named = |name: &str| maps.iter().any(|m| m.path.as_deref().is_some_and(|p| p.to_lowercase().ends_with(name)));
    assert!(named("wthreads.exe") && named("ntdll.dll") && named("kernel32.dll"), "{maps:#?}");
    trace.set_mode(Mode::RunForever, true);
    assert_eq!(trace.run().unwrap().kind, EventKind::Exited(ExitStatus::Code(0)));
    assert_eq!(output(&out), "done 6100\n", "the write took effect");
}

#[test]
fn memory_is_allocated_protected_and_freed_natively() {
    let mut trace = spawn("O0", &["run"]);
    let rw = Perms { read: true, write: true, exec: false, shared: false };
    let addr = trace.allocate_memory(8192, rw, None).unwrap();
    let map = trace.memory_map(addr).unwrap().expect("mapped");
    assert!(map.perms.read && map.perms.write && !map.perms.exec, "{map:?}");
    trace.write_memory(addr, b"scratch").unwrap();
    assert_eq!(trace.read_memory(addr, 7).unwrap(), b"scratch");
    trace.protect_memory(addr, 4096, Perms { read: true, write: false, exec: true, shared: false }).unwrap();
    let map = trace.memory_map(addr).unwrap().expect("mapped");
    assert!(map.perms.read && !map.perms.write && map.perms.exec, "{map:?}");
    trace.free_memory(addr, 8192).unwrap();
    assert!(trace.memory_map(addr).unwrap().is_none());
    trace.kill().unwrap();
}

#[test]
fn an_injected_dll_runs_its_dllmain() {
    let out = out_file("inject");
    let (mut trace, symbols) = at_first_tick("O2", &out);
    let marker = symbols.addr(&mut trace, "injected_marker");
    assert_eq!(trace.read_memory(marker, 4).unwrap(), [0; 4]);
    let base = trace.inject_so(&fixture("O2", "wdll.dll")).unwrap();
    assert_ne!(base, 0);
    assert_eq!(trace.read_memory(marker, 4).unwrap(), 0x1dec7edu32.to_le_bytes(), "DllMain wrote the marker");
    let map = trace.memory_map(base).unwrap().expect("the DLL is mapped");
    assert!(map.path.unwrap().to_lowercase().ends_with("wdll.dll"));
    trace.set_mode(Mode::RunForever, true);
    assert_eq!(trace.run().unwrap().kind, EventKind::Exited(ExitStatus::Code(0)));
    assert_eq!(output(&out), "done 1100\n");
}
