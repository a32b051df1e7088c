//! Snapshots of 32-bit (i386) processes: ELF32 core files in the kernel's
//! 32-bit layouts, which gdb opens with the same threads, registers and
//! backtrace; and 32-bit cores (ours, gdb's `gcore`) opened as traces.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use oxtrace::{BacktraceFrame, EventKind, Trace};

use crate::support::{fixture_i386, gdb_batch, gdb_on_the_same_stop, parse_gdb_backtrace, GdbFrame, Opt};

fn temp_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("i386-snapshots-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The 32-bit `snapshot` fixture stopped in `leaf` (main → outer → middle → leaf, three threads waiting).
fn stopped_in_leaf(opt: Opt) -> (Trace, i32) {
    let mut command = Command::new(fixture_i386("snapshot", opt));
    command.stdout(Stdio::null()).stderr(Stdio::null());
    let mut trace = Trace::spawn(command).unwrap();
    trace.add_break_by_expr("leaf").unwrap();
    loop {
        let event = trace.run().unwrap();
        match event.kind {
            EventKind::Breakpoint { .. } => return (trace, event.tid),
            EventKind::Exited(status) => panic!("exited ({status}) before leaf"),
            _ => continue,
        }
    }
}

/// gdb on a 32-bit core: its thread rows, eip and esp, and its backtrace.
fn gdb_on_core(program: &Path, core: &Path) -> (usize, u64, u64, Vec<GdbFrame>, String) {
    let (program, core) = (program.to_str().unwrap(), core.to_str().unwrap());
    let commands = ["info threads", "info registers eip esp", "echo ==bt==\\n", "bt"];
    let mut args = vec![program, core];
    for c in &commands {
        args.extend(["-ex", c]);
    }
    let text = gdb_batch(&args);
    let threads = text
        .lines()
        .filter(|l| {
            let row = l.trim_start_matches('*').trim_start();
            row.split_whitespace().next().is_some_and(|n| n.parse::<u32>().is_ok()) && row.contains("LWP ")
        })
        .count();
    let register = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name).filter(|rest| rest.starts_with(' ')))
            .and_then(|rest| u64::from_str_radix(rest.split_whitespace().next()?.trim_start_matches("0x"), 16).ok())
            .unwrap_or_else(|| panic!("no {name} in gdb's output:\n{text}"))
    };
    let (eip, esp) = (register("eip"), register("esp"));
    let frames = parse_gdb_backtrace(text.split_once("==bt==").map_or("", |(_, bt)| bt));
    (threads, eip, esp, frames, text)
}

fn assert_same_frames(ours: &[BacktraceFrame], gdb: &[GdbFrame], context: &str) {
    let shown: Vec<String> = ours.iter().map(ToString::to_string).collect();
    let context = format!("{context}\nours:\n{}", shown.join("\n"));
    assert!(gdb.len() >= 2, "gdb gave no backtrace: {context}");
    assert!(ours.len() >= gdb.len(), "fewer frames than gdb: {context}");
    for (i, (mine, theirs)) in ours.iter().zip(gdb).enumerate() {
        if let Some(pc) = theirs.pc {
            assert_eq!(mine.pc, pc, "frame {i} pc: {context}");
        }
        if theirs.name != "??" {
            let names = [mine.function.as_deref(), mine.symbol.as_deref()];
            assert!(names.contains(&Some(theirs.name.as_str())), "frame {i}: gdb says {}: {context}", theirs.name);
        }
    }
}

#[test]
fn a_32_bit_snapshot_opens_in_gdb_and_as_a_trace() {
    for opt in [Opt::O0, Opt::O2] {
        let dir = temp_dir(&format!("{opt:?}"));
        let core = dir.join("leaf.core");
        let program = fixture_i386("snapshot", opt);
        let (mut trace, tid) = stopped_in_leaf(opt);
        assert_eq!(trace.threads().len(), 4, "main and three waiters");
        let (eip, esp) = (trace.register_u64("eip").unwrap(), trace.register_u64("esp").unwrap());
        let xmm1 = trace.register("xmm1").unwrap();
        let live: Vec<(u64, Option<String>)> =
            trace.backtrace(tid).unwrap().iter().map(|f| (f.pc, f.function.clone())).collect();
        let marker = trace.sym_by_name("marker").unwrap();
        let live_marker = trace.read_memory(marker, 24).unwrap();
        trace.save_snapshot(&core).unwrap();
        trace.kill().unwrap();
        let header = std::fs::read(&core).unwrap();
        assert_eq!((header[4], u16::from_le_bytes([header[18], header[19]])), (1, 3), "ELF32, EM_386");

        let (threads, gdb_eip, gdb_esp, frames, text) = gdb_on_core(&program, &core);
        assert!(!text.contains("warning:"), "gdb reads the core without warnings:\n{text}");
        assert_eq!(threads, 4, "gdb's threads:\n{text}");
        assert_eq!((gdb_eip, gdb_esp), (eip, esp), "gdb's registers:\n{text}");
        let mut opened = Trace::open_core(&core, Some(&program)).unwrap();
        assert_eq!(opened.arch().name, "i386");
        assert_eq!(opened.current_thread(), tid);
        assert_eq!((opened.register_u64("eip").unwrap(), opened.register_u64("esp").unwrap()), (eip, esp));
        assert_eq!(opened.register("xmm1").unwrap(), xmm1);
        assert_eq!(opened.read_memory(marker, 24).unwrap(), live_marker);
        let ours = opened.backtrace(tid).unwrap();
        assert_same_frames(&ours, &frames, &text);
        let reopened: Vec<(u64, Option<String>)> = ours.iter().map(|f| (f.pc, f.function.clone())).collect();
        assert_eq!(reopened, live, "{opt:?}: the same stack as the live process");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn a_gcore_of_a_32_bit_process_opens_as_a_trace() {
    let dir = temp_dir("gcore");
    let core = dir.join("gcore.core");
    let program = fixture_i386("snapshot", Opt::O2);
    let (mut trace, _) = stopped_in_leaf(Opt::O2);
    let out = gdb_on_the_same_stop(&mut trace, &[format!("gcore {}", core.display())]);
    assert!(core.exists(), "gcore wrote nothing:\n{out}");
    let (threads, eip, esp, frames, text) = gdb_on_core(&program, &core);
    let mut opened = Trace::open_core(&core, Some(&program)).unwrap();
    assert_eq!(opened.arch().name, "i386");
    assert_eq!(opened.threads().len(), threads);
    assert_eq!((opened.register_u64("eip").unwrap(), opened.register_u64("esp").unwrap()), (eip, esp));
    let first = opened.current_thread();
    let ours = opened.backtrace(first).unwrap();
    assert_same_frames(&ours, &frames, &text);
    let maps = opened.memory_maps().unwrap();
    assert!(maps.iter().any(|m| m.name() == "[stack]" && m.contains(esp)), "{maps:#?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_kernel_core_of_a_32_bit_crash_opens_with_gdbs_backtrace() {
    let dir = temp_dir("crash");
    let program = fixture_i386("segfault", Opt::O0);
    let (core, source) = crate::snapshots::crash_core(&dir, &program);
    assert!(core.exists(), "no core file from the {source}");
    let (threads, eip, esp, frames, text) = gdb_on_core(&program, &core);
    let mut opened = Trace::open_core(&core, Some(&program)).unwrap();
    assert_eq!(opened.arch().name, "i386");
    assert_eq!(opened.threads().len(), threads);
    let tid = opened.current_thread();
    let ours = opened.backtrace(tid).unwrap();
    assert_same_frames(&ours, &frames, &format!("{source} core\n{text}"));
    assert_eq!(ours[0].function.as_deref(), Some("crash"));
    assert_eq!((opened.register_u64("eip").unwrap(), opened.register_u64("esp").unwrap()), (eip, esp));
    // At -O0, past crash()'s prologue, its argument is at ebp + 8.
    let ebp = opened.register_u64("ebp").unwrap();
    assert_eq!(opened.read_u32(ebp + 8).unwrap(), 0x10, "crash() got the bad pointer");
    assert_eq!(opened.pending_signal(), Some(libc::SIGSEGV), "the core records the signal");
    let maps = opened.memory_maps().unwrap();
    assert!(maps.iter().any(|m| m.name() == "[stack]" && m.contains(esp)), "{maps:#?}");
    assert!(maps.iter().any(|m| m.name() == "[vdso]"), "{maps:#?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn mutated_32_bit_cores_are_errors_never_panics() {
    use std::panic::{catch_unwind, AssertUnwindSafe};
    let dir = temp_dir("mutants");
    let good = dir.join("good.core");
    let (mut trace, _) = stopped_in_leaf(Opt::O0);
    trace.save_snapshot(&good).unwrap();
    trace.kill().unwrap();
    let original = std::fs::read(&good).unwrap();
    // Truncated anywhere in the headers and notes.
    let cut = dir.join("cut.core");
    for len in [0, 10, 51, 52, 100, 500, 2000, 20_000, original.len() / 2] {
        std::fs::write(&cut, &original[..len]).unwrap();
        let err = Trace::open_core(&cut, None).expect_err("a truncated core must not open");
        assert!(err.to_string().contains(cut.to_str().unwrap()), "{err}");
    }
    // Seeded mutations of the ELF32 headers and the 32-bit notes.
    let head = original.len().min(64 * 1024);
    let mutant = dir.join("mutant.core");
    std::fs::write(&mutant, &original).unwrap();
    for seed in 1..=200u64 {
        let mut rng = crate::support::Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let mut data = original[..head].to_vec();
        for _ in 0..1 + rng.below(8) {
            let at = if rng.below(2) == 0 { rng.below(52 + 32 * 16) } else { rng.below(head) };
            let at = at.min(head - 1);
            match rng.below(3) {
                0 => data[at] ^= 1 << rng.below(8),
                1 => data[at] = rng.next() as u8,
                _ => {
                    let len = rng.below(16).min(head - at);
                    data[at..at + len].fill([0u8, 0xff][rng.below(2)]);
                }
            }
        }
        {
            use std::os::unix::fs::FileExt;
            let file = std::fs::OpenOptions::new().write(true).open(&mutant).unwrap();
            file.write_all_at(&data, 0).unwrap();
        }
        let result = catch_unwind(AssertUnwindSafe(|| crate::snapshots::exercise(&mutant, seed % 25 == 0)));
        assert!(result.is_ok(), "32-bit core mutant with seed {seed} panicked");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
