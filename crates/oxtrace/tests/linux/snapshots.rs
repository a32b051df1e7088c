//! Snapshots as ELF core files, and core files as traces.
//!
//! A multi-threaded fixture stopped in a nested call is saved with
//! `save_snapshot`; gdb opens the file in batch mode and must agree with
//! oxtrace on threads, registers and the backtrace, and `Trace::open_core`
//! must give back the live registers, memory and backtrace. Cores that oxtrace
//! did not write — the kernel's, of a crashed fixture, and gdb's `gcore` — open
//! too, with the backtrace gdb shows for them. Snapshot breakpoints, memory
//! diffs, and bad core files (truncated, corrupted, foreign) are covered last.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::Command;

use oxtrace::{BacktraceFrame, Error, EventKind, Trace};

use crate::spawn_quiet;
use crate::support::{
    fixture, gdb_available, gdb_batch, gdb_on_the_same_stop, parse_gdb_backtrace, GdbFrame, Opt, Rng,
};

/// A fresh directory for one test's files.
fn temp_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("snapshots-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The `snapshot` fixture stopped at the start of `leaf` (main → outer → middle → leaf, three threads waiting).
fn stopped_in_leaf(opt: Opt) -> (Trace, i32) {
    let mut trace = spawn_quiet("snapshot", opt, &[]);
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

/// gdb's answers on a core file: the number of threads, rip and rsp of the current thread, its backtrace.
struct GdbView {
    threads: usize,
    rip: u64,
    rsp: u64,
    frames: Vec<GdbFrame>,
    text: String,
}

fn gdb_on_core(program: &Path, core: &Path) -> GdbView {
    let (program, core) = (program.to_str().unwrap(), core.to_str().unwrap());
    let text = gdb_batch(&[
        program,
        core,
        "-ex",
        "info threads",
        "-ex",
        "info registers rip rsp",
        "-ex",
        "echo ==bt==\\n",
        "-ex",
        "bt",
    ]);
    // The rows of `info threads`: `* 1    Thread 0x... (LWP 123) ...` or `  2    LWP 124 ...`.
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
    let (rip, rsp) = (register("rip"), register("rsp"));
    let frames = parse_gdb_backtrace(text.split_once("==bt==").map_or("", |(_, bt)| bt));
    GdbView { threads, rip, rsp, frames, text }
}

/// Our frames agree with gdb's: the same pc where gdb prints one and the same function name.
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

fn frame_summary(frames: &[BacktraceFrame]) -> Vec<(u64, Option<String>)> {
    frames.iter().map(|f| (f.pc, f.function.clone())).collect()
}

#[test]
fn snapshot_opens_in_gdb_and_as_a_trace() {
    let dir = temp_dir("roundtrip");
    let core = dir.join("leaf.core");
    let program = fixture("snapshot", Opt::O0);
    let (mut trace, tid) = stopped_in_leaf(Opt::O0);
    trace.set_variable("answer", 42);
    trace.set_meta("Note", "taken in leaf");
    let threads = trace.threads();
    assert_eq!(threads.len(), 4, "main and three waiters");
    let mut live_regs = Vec::new();
    for &t in &threads {
        let ctx = trace.register_context(t).unwrap();
        live_regs.push((
            t,
            ctx.get_u64("rip").unwrap(),
            ctx.get_u64("rsp").unwrap(),
            ctx.get("xmm1").unwrap(),
            ctx.get_u64("fs_base").unwrap(),
        ));
    }
    let live_bt = frame_summary(&trace.backtrace(tid).unwrap());
    assert!(live_bt.iter().any(|(_, f)| f.as_deref() == Some("outer")), "{live_bt:?}");
    let marker = trace.sym_by_name("marker").unwrap();
    let live_marker = trace.read_memory(marker, 24).unwrap();
    let stats = trace.save_snapshot(&core).unwrap();
    assert!(stats.bytes_written > 0 && stats.file_size >= stats.bytes_written, "{stats:?}");
    trace.kill().unwrap();

    if gdb_available() {
        let gdb = gdb_on_core(&program, &core);
        assert_eq!(gdb.threads, 4, "gdb's threads:\n{}", gdb.text);
        let (_, rip, rsp, _, _) = live_regs.iter().find(|r| r.0 == tid).unwrap();
        assert_eq!((gdb.rip, gdb.rsp), (*rip, *rsp), "gdb's registers:\n{}", gdb.text);
        let mut reopened = Trace::open_core(&core, Some(&program)).unwrap();
        let ours = reopened.backtrace(tid).unwrap();
        assert_same_frames(&ours, &gdb.frames, &gdb.text);
    } else {
        eprintln!("gdb is not installed: the gdb half is skipped (.ci/run installs it)");
    }

    let mut opened = Trace::open_core(&core, None).unwrap();
    assert_eq!(opened.current_thread(), tid, "the stopped thread comes first");
    let mut opened_threads = opened.threads();
    opened_threads.sort_unstable();
    let mut sorted = threads.clone();
    sorted.sort_unstable();
    assert_eq!(opened_threads, sorted);
    for (t, rip, rsp, xmm1, fs_base) in &live_regs {
        let ctx = opened.register_context(*t).unwrap();
        assert_eq!(ctx.get_u64("rip").unwrap(), *rip, "thread {t}");
        assert_eq!(ctx.get_u64("rsp").unwrap(), *rsp, "thread {t}");
        assert_eq!(&ctx.get("xmm1").unwrap(), xmm1, "thread {t}");
        assert_eq!(ctx.get_u64("fs_base").unwrap(), *fs_base, "thread {t}");
    }
    assert_eq!(frame_summary(&opened.backtrace(tid).unwrap()), live_bt);
    assert_eq!(opened.read_memory(marker, 24).unwrap(), live_marker);
    assert_eq!(opened.sym_by_name("marker").unwrap(), marker);
    assert_eq!(opened.parse_expression("answer + 1").unwrap(), 43);
    assert_eq!(opened.meta("Note").and_then(|v| v.as_str()), Some("taken in leaf"));
    assert!(opened.memory_maps().unwrap().iter().any(|m| m.name() == "[heap]" || m.name() == "[stack]"));

    // Writes go to the overlay: seen by reads, never by the file.
    opened.write_memory(marker, b"CHANGED").unwrap();
    assert_eq!(&opened.read_memory(marker, 7).unwrap(), b"CHANGED");
    opened.set_register("rax", 0x1234u64).unwrap();
    assert_eq!(opened.register_u64("rax").unwrap(), 0x1234);
    let mut again = Trace::open_core(&core, None).unwrap();
    assert_eq!(again.read_memory(marker, 24).unwrap(), live_marker);
    // A core trace saves as a snapshot too: it differs from the first in the written page only.
    let resaved = dir.join("resaved.core");
    opened.save_snapshot(&resaved).unwrap();
    let page = marker & !4095;
    assert_eq!(oxtrace::snapshot::diff(&core, &resaved).unwrap(), vec![page..page + 4096]);
    let mut third = Trace::open_core(&resaved, None).unwrap();
    assert_eq!(third.register_u64("rax").unwrap(), 0x1234);
    assert_eq!(
        third.register_context(tid).unwrap().get("xmm1").unwrap(),
        live_regs.iter().find(|r| r.0 == tid).unwrap().3
    );

    // Running is a clear error that names the core file.
    let err = opened.run().unwrap_err();
    assert!(err.to_string().contains(core.to_str().unwrap()), "{err}");
    assert!(err.to_string().contains("core file"), "{err}");
    let err = opened.stepi().unwrap_err();
    assert!(err.to_string().contains(core.to_str().unwrap()), "{err}");

    let info = oxtrace::snapshot::read_info(&core).unwrap().expect("our note");
    assert!(info.breakpoints.iter().any(|b| b.expr.as_deref() == Some("leaf") && b.enabled), "{:?}", info.breakpoints);
    assert!(info.modules.iter().any(|m| m.name == "libc"), "{:?}", info.modules);
    assert!(info.fds.iter().any(|(fd, _)| *fd == 0), "{:?}", info.fds);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn gcore_of_a_stopped_fixture_opens_with_gdbs_backtrace() {
    if !gdb_available() {
        eprintln!("gdb is not installed: skipped (.ci/run installs it)");
        return;
    }
    let dir = temp_dir("gcore");
    let core = dir.join("gcore.core");
    let program = fixture("snapshot", Opt::O2);
    let (mut trace, tid) = stopped_in_leaf(Opt::O2);
    let live_bt = frame_summary(&trace.backtrace(tid).unwrap());
    let out = gdb_on_the_same_stop(&mut trace, &[format!("gcore {}", core.display())]);
    assert!(core.exists(), "gcore wrote nothing:\n{out}");
    let gdb = gdb_on_core(&program, &core);
    let mut opened = Trace::open_core(&core, Some(&program)).unwrap();
    let first = opened.current_thread();
    let ours = opened.backtrace(first).unwrap();
    assert_same_frames(&ours, &gdb.frames, &gdb.text);
    assert_eq!(opened.threads().len(), gdb.threads);
    assert_eq!(opened.register_u64("rip").unwrap(), gdb.rip);
    if first == tid {
        assert_eq!(frame_summary(&ours), live_bt);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A kernel core dump of the `segfault` fixture, written by the kernel to its
/// working directory (the default `core_pattern` is a relative name); where the
/// pattern sends cores elsewhere, gdb's `run` + `gcore` on the crash stands in.
pub(crate) fn crash_core(dir: &Path, program: &Path) -> (PathBuf, &'static str) {
    let pattern = std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap_or_default();
    let pattern = pattern.trim();
    if !pattern.is_empty() && !pattern.starts_with('|') && !pattern.contains('/') {
        let status = Command::new("sh")
            .arg("-c")
            .arg(format!("ulimit -c unlimited && exec {}", program.display()))
            .current_dir(dir)
            .status()
            .unwrap();
        assert!(!status.success());
        let found = std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .find(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("core")));
        if let Some(core) = found {
            return (core, "kernel");
        }
    }
    eprintln!("core_pattern {pattern:?} does not put cores in the working directory: using gdb's run + gcore");
    let core = dir.join("crash.core");
    gdb_batch(&[program.to_str().unwrap(), "-ex", "run", "-ex", &format!("gcore {}", core.display()), "-ex", "kill"]);
    (core, "gdb")
}

#[test]
fn kernel_core_of_a_crash_opens_with_gdbs_backtrace() {
    if !gdb_available() {
        eprintln!("gdb is not installed: skipped (.ci/run installs it)");
        return;
    }
    let dir = temp_dir("crash");
    let program = fixture("segfault", Opt::O0);
    let (core, source) = crash_core(&dir, &program);
    assert!(core.exists(), "no core file from the {source}");
    let gdb = gdb_on_core(&program, &core);
    let mut opened = Trace::open_core(&core, Some(&program)).unwrap();
    let tid = opened.current_thread();
    let ours = opened.backtrace(tid).unwrap();
    assert_same_frames(&ours, &gdb.frames, &format!("{source} core\n{}", gdb.text));
    assert_eq!(ours[0].function.as_deref(), Some("crash"));
    assert_eq!(opened.register_u64("rip").unwrap(), gdb.rip);
    assert_eq!(opened.register_u64("rdi").unwrap(), 0x10, "crash() got the bad pointer");
    assert_eq!(opened.pending_signal(), Some(libc::SIGSEGV), "the core records the signal");
    let rsp = opened.register_u64("rsp").unwrap();
    let maps = opened.memory_maps().unwrap();
    assert!(maps.iter().any(|m| m.name() == "[stack]" && m.contains(rsp)), "{maps:#?}");
    assert!(maps.iter().any(|m| m.name() == "[vdso]"), "{maps:#?}");
    // The program's code is read from the file where the core leaves it out.
    let crash = opened.sym_by_name("crash").unwrap();
    let code = opened.read_memory(crash, 4).unwrap();
    assert_ne!(code, [0, 0, 0, 0]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn snapshot_breakpoints_save_every_hit_and_diff_finds_the_changes() {
    let dir = temp_dir("breaks");
    let mut trace = spawn_quiet("threads", Opt::O0, &["2", "2"]);
    let work = trace.sym_by_name("work").unwrap();
    let pattern = format!("{}/snap-{{n}}-{{tid}}.core", dir.display());
    trace.add_snapshot_break(work, &pattern).unwrap();
    let event = trace.run().unwrap();
    assert!(matches!(event.kind, EventKind::Exited(_)), "{event:?}");
    assert!(trace.meta("SnapshotError").is_none(), "{:?}", trace.meta("SnapshotError"));
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir).unwrap().flatten().map(|e| e.path()).collect();
    files.sort();
    assert_eq!(files.len(), 4, "{files:?}");
    let first = files.iter().find(|p| p.to_str().unwrap().contains("snap-1-")).unwrap();
    // By the fourth hit three calls of work() have returned, whichever threads ran them.
    let second = files.iter().find(|p| p.to_str().unwrap().contains("snap-4-")).unwrap();
    assert!(oxtrace::snapshot::diff(first, first).unwrap().is_empty());
    let changed = oxtrace::snapshot::diff(first, second).unwrap();
    assert!(!changed.is_empty());
    // The counters (slots[]) changed, in the program's data.
    let mut opened = Trace::open_core(first, None).unwrap();
    let slots = opened.sym_by_name("slots").unwrap();
    assert!(changed.iter().any(|r| r.contains(&slots)), "{changed:x?} should hold {slots:#x}");
    for range in &changed {
        assert_eq!(range.start % 4096, 0);
        assert_eq!(range.end % 4096, 0);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Opens a core and uses it (symbols and stacks too when `deep`); a failure must be an error, never a panic.
pub(crate) fn exercise(path: &Path, deep: bool) -> Result<(), Error> {
    let mut trace = Trace::open_core(path, None)?;
    let maps = trace.memory_maps()?;
    for map in maps.iter().take(64) {
        let _ = trace.read_memory(map.start, 64);
    }
    for tid in trace.threads() {
        let _ = trace.register_context(tid).map(|c| c.get_u64("rip"));
        if deep {
            let _ = trace.backtrace(tid);
        }
    }
    let _ = trace.write_memory(maps.first().map_or(0, |m| m.start), b"x");
    let _ = trace.run();
    let _ = oxtrace::snapshot::read_info(path);
    Ok(())
}

#[test]
fn bad_core_files_are_errors_that_name_the_file() {
    let dir = temp_dir("bad");
    let good = dir.join("good.core");
    let (mut trace, _) = stopped_in_leaf(Opt::O0);
    trace.save_snapshot(&good).unwrap();
    trace.kill().unwrap();
    let original = std::fs::read(&good).unwrap();
    let named = |err: Error, path: &Path| {
        assert!(err.to_string().contains(path.to_str().unwrap()), "{err}");
    };

    // Foreign architecture: aarch64's e_machine.
    let foreign = dir.join("foreign.core");
    let mut bytes = original[..4096].to_vec();
    bytes[18..20].copy_from_slice(&183u16.to_le_bytes());
    std::fs::write(&foreign, &bytes).unwrap();
    let err = Trace::open_core(&foreign, None).unwrap_err();
    assert!(err.to_string().contains("x86_64"), "{err}");
    named(err, &foreign);
    // Not a core file: the program itself.
    let program = fixture("snapshot", Opt::O0);
    let err = Trace::open_core(&program, None).unwrap_err();
    assert!(err.to_string().contains("not a core file"), "{err}");
    named(err, &program);
    // Missing.
    named(Trace::open_core(dir.join("missing.core"), None).unwrap_err(), &dir.join("missing.core"));

    // Truncated anywhere: headers, notes, memory.
    let cut = dir.join("cut.core");
    for len in [0, 10, 63, 64, 100, 500, 2000, 20_000, original.len() / 2, original.len() - 1] {
        std::fs::write(&cut, &original[..len]).unwrap();
        let err = Trace::open_core(&cut, None).expect_err("a truncated core must not open");
        named(err, &cut);
    }

    // Seeded mutations of the headers and notes (where sizes and offsets are trusted).
    let head = original.len().min(64 * 1024);
    let mutant = dir.join("mutant.core");
    std::fs::write(&mutant, &original).unwrap();
    let iterations: u64 = std::env::var("OXTRACE_FUZZ_ITERATIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(300);
    for seed in 1..=iterations {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let mut data = original[..head].to_vec();
        for _ in 0..1 + rng.below(8) {
            let at = if rng.below(2) == 0 { rng.below(64 + 56 * 16) } else { rng.below(head) };
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
        let result = catch_unwind(AssertUnwindSafe(|| exercise(&mutant, seed % 25 == 0)));
        match result {
            Ok(Ok(())) => {}
            Ok(Err(err)) => {
                let text = err.to_string();
                assert!(!text.is_empty(), "seed {seed}");
            }
            Err(_) => panic!("core file mutant with seed {seed} panicked"),
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
