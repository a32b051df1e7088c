//! `coverage`: which functions (or basic blocks) of a program ran, and how
//! many times.
//!
//! * By default every function of the program gets a tracker breakpoint,
//!   which counts its hits without stopping anything (one ptrace stop per hit).
//! * `--blocks`: every basic block of every function (found by decoding the
//!   functions) gets an in-process breakpoint: a jump pad that counts inside
//!   the program, with no stop at all. A block too short for the 5-byte jump
//!   (or next to a branch target) falls back to an `int3` that removes itself
//!   at its first hit: it shows that the block ran, not how often.
//! * `--blocks-int3`: the same blocks with tracker breakpoints, to compare.
//!
//! The counters live in the program, so they are read when it calls `_exit`
//! (the end of every normal exit). The time the program took goes to stderr.
//!
//! `cargo run --release --example coverage -- [--blocks|--blocks-int3] PROGRAM [ARGS...]`

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Instant;

use oxtrace::symbols::SymbolKind;
use oxtrace::{BreakpointKind, EventKind, InProcessOptions, Trace};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Functions,
    Blocks,
    BlocksInt3,
}

/// How a site counts.
enum Site {
    /// A breakpoint whose hits the trace counts (trackers, fallen-back pads).
    Tracked(u32),
    /// An in-process breakpoint with its counter in the program.
    InProcess(u32),
    /// A self-removing breakpoint: whether it was hit.
    Once(Rc<RefCell<bool>>),
}

fn main() -> oxtrace::Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mode = match args.first().map(String::as_str) {
        Some("--blocks") => Mode::Blocks,
        Some("--blocks-int3") => Mode::BlocksInt3,
        _ => Mode::Functions,
    };
    if mode != Mode::Functions {
        args.remove(0);
    }
    let command = oxtrace_examples::program_from_args(&args, "coverage [--blocks|--blocks-int3] PROGRAM [ARGS...]");
    let mut trace = Trace::spawn(command)?;
    let program = trace.program_module()?;
    let functions: Vec<(String, u64)> = program
        .table()
        .symbols()
        .iter()
        .filter(|s| s.kind == SymbolKind::Function && s.size > 0)
        .map(|s| (s.name.clone(), s.addr + program.bias))
        .collect();
    let mut sites = Vec::new();
    for (name, addr) in functions {
        let starts = match mode {
            Mode::Functions => vec![addr],
            _ => trace.basic_blocks(addr).unwrap_or_else(|_| vec![addr]),
        };
        // Last block first: a jump at a block must not cover the start of the
        // next one (reached by falling through), so that one is placed first
        // and the jump refused where it would cover it.
        for start in starts.into_iter().rev() {
            if trace.breakpoint_at(start).is_some() {
                continue; // an alias of a function already covered
            }
            let site = match mode {
                Mode::Blocks => in_process_site(&mut trace, start)?,
                _ => Site::Tracked(trace.add_breakpoint(start, BreakpointKind::Tracker, None)?),
            };
            let label = if start == addr { name.clone() } else { format!("{name}+{:#x}", start - addr) };
            sites.push((label, site));
        }
    }
    // Read the counters when the program ends (they go with its memory).
    let exit = trace.add_break_by_expr("libc._exit")?;
    let started = Instant::now();
    let mut counts = None;
    let end = loop {
        let event = trace.run()?;
        match event.kind {
            EventKind::Breakpoint { id, .. } if id == exit => counts = Some(read_counts(&mut trace, &sites)?),
            EventKind::Exited(_) => break event,
            _ => {}
        }
    };
    let elapsed = started.elapsed();
    let counts = match counts {
        Some(counts) => counts,
        None => read_counts(&mut trace, &sites).unwrap_or_default(),
    };
    let mut ran = 0;
    for ((name, _), hits) in sites.iter().zip(&counts) {
        ran += usize::from(*hits > 0);
        if mode == Mode::Functions {
            println!("{hits:>10}  {name}");
        }
    }
    let jumps = sites.iter().filter(|(_, s)| matches!(s, Site::InProcess(_))).count();
    match mode {
        Mode::Functions => println!("{ran} of {} functions ran; the program {end}", sites.len()),
        _ => println!("{ran} of {} basic blocks ran ({jumps} through jump pads); the program {end}", sites.len()),
    }
    eprintln!("traced run: {:.3} s", elapsed.as_secs_f64());
    Ok(())
}

/// An in-process counting breakpoint at `addr`, or a self-removing one where no jump fits.
fn in_process_site(trace: &mut Trace, addr: u64) -> oxtrace::Result<Site> {
    let id = trace.add_in_process_breakpoint(addr, InProcessOptions::default())?;
    if trace.in_process_fallback(id).is_none() {
        return Ok(Site::InProcess(id));
    }
    trace.remove_breakpoint(id)?;
    let hit = Rc::new(RefCell::new(false));
    let seen = hit.clone();
    let once: oxtrace::BreakCallback = Box::new(move |trace: &mut Trace, event| {
        *seen.borrow_mut() = true;
        if let EventKind::Breakpoint { id, .. } = event.kind {
            let _ = trace.remove_breakpoint(id);
        }
    });
    trace.add_breakpoint(addr, BreakpointKind::Fast, Some(once))?;
    Ok(Site::Once(hit))
}

/// Each site's count.
fn read_counts(trace: &mut Trace, sites: &[(String, Site)]) -> oxtrace::Result<Vec<u64>> {
    sites
        .iter()
        .map(|(_, site)| match site {
            Site::Tracked(id) => Ok(trace.breakpoint(*id).map_or(0, |b| b.hits)),
            Site::InProcess(id) => trace.in_process_hits(*id),
            Site::Once(hit) => Ok(u64::from(*hit.borrow())),
        })
        .collect()
}
