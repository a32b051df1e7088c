//! Page watchpoints: writes or reads and writes of a heap buffer, reported
//! with pc, address and access; accesses next to the range go on silently;
//! the program runs on correctly and its pages get their permissions back.

use oxtrace::{EventKind, ExitStatus, PageAccess, Trace, WatchKind};

use crate::support::Opt;
use crate::{read_all, run_to_exit, spawn_with_output};

/// The `callee` fixture stopped in `ready()`, and the address of its heap buffer.
fn stopped_in_ready(opt: Opt) -> (Trace, std::io::PipeReader, u64) {
    let (mut trace, output) = spawn_with_output("callee", opt, &[]);
    let ready = trace.sym_by_name("ready").unwrap();
    trace.run_until(ready).unwrap();
    let pointer = trace.sym_by_name("heap_buffer").unwrap();
    let heap = trace.read_ptr(pointer).unwrap();
    (trace, output, heap)
}

/// Runs to the end; returns the page-watch hits as (addr, access, function of the pc).
fn hits_until_exit(trace: &mut Trace) -> Vec<(u64, PageAccess, String)> {
    let mut hits = Vec::new();
    loop {
        let event = trace.run().unwrap();
        match event.kind {
            EventKind::PageWatch { addr, access, pc, .. } => {
                let function = trace.sym_by_addr(pc, false).unwrap().unwrap_or_default();
                hits.push((addr, access, function));
            }
            EventKind::Exited(status) => {
                assert_eq!(status, ExitStatus::Code(0));
                return hits;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[test]
fn writes_to_a_heap_buffer_are_reported_once_each() {
    for opt in [Opt::O0, Opt::O2] {
        let (mut trace, output, heap) = stopped_in_ready(opt);
        trace.add_page_watch(heap + 64, 8, WatchKind::Write).unwrap();
        assert!(!trace.memory_map(heap).unwrap().unwrap().perms.write, "the page is read-only while watched");
        let hits = hits_until_exit(&mut trace);
        assert_eq!(hits.len(), 1, "{hits:?}");
        assert_eq!((hits[0].0, hits[0].1), (heap + 64, PageAccess::Write));
        assert!(hits[0].2.starts_with("touch_heap"), "{hits:?}");
        assert!(read_all(output).contains("first byte 1"), "the writes happened");
    }
}

#[test]
fn reads_and_writes_are_told_apart_and_removal_restores_the_pages() {
    let (mut trace, output, heap) = stopped_in_ready(Opt::O0);
    let perms = trace.memory_map(heap).unwrap().unwrap().perms;
    let id = trace.add_page_watch(heap, 8, WatchKind::ReadWrite).unwrap();
    let event = trace.run().unwrap();
    assert!(matches!(event.kind, EventKind::PageWatch { addr, access: PageAccess::Write, .. } if addr == heap));
    let event = trace.run().unwrap();
    assert!(
        matches!(event.kind, EventKind::PageWatch { addr, access: PageAccess::Read, .. } if addr == heap),
        "the read in main, after two writes next to the range went on silently: {event:?}"
    );
    trace.remove_page_watch(id).unwrap();
    assert_eq!(trace.memory_map(heap).unwrap().unwrap().perms, perms, "permissions restored");
    assert_eq!(run_to_exit(&mut trace), ExitStatus::Code(0));
    assert!(read_all(output).contains("first byte 1"));
}

#[test]
fn bad_page_watches_are_errors() {
    let (mut trace, output, heap) = stopped_in_ready(Opt::O0);
    let id = trace.add_page_watch(heap, 16, WatchKind::Write).unwrap();
    let err = trace.add_page_watch(heap + 8, 8, WatchKind::Write).unwrap_err().to_string();
    assert!(err.contains(&format!("watched by page watchpoint {id}")), "{err}");
    let err = trace.add_page_watch(0x1000, 8, WatchKind::Write).unwrap_err().to_string();
    assert!(err.contains("0x1000"), "{err}");
    let err = trace.add_page_watch(heap, 0, WatchKind::Write).unwrap_err().to_string();
    assert!(err.contains("0 bytes"), "{err}");
    assert!(trace.remove_page_watch(999).is_err());
    // Detaching gives the pages back: untraced, the program writes there without a crash.
    trace.detach().unwrap();
    assert!(read_all(output).contains("first byte 1"));
}
