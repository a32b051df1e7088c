//! `sampler`: a poor man's profiler. Stops a program HZ times a second, counts
//! where each of its threads stands (by function), and prints the hottest.
//!
//! `cargo run --example sampler -- HZ PROGRAM [ARGS...]`

use std::collections::HashMap;
use std::time::Duration;

use oxtrace::{EventKind, Trace};

fn main() -> oxtrace::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let hz: u64 = args.first().and_then(|h| h.parse().ok()).filter(|&h| h > 0).unwrap_or_else(|| {
        eprintln!("usage: sampler HZ PROGRAM [ARGS...]");
        std::process::exit(2)
    });
    let command = oxtrace_examples::program_from_args(&args[1..], "sampler HZ PROGRAM [ARGS...]");
    let mut trace = Trace::spawn(command)?;
    let interrupter = trace.interrupter();
    let mut counts: HashMap<String, u64> = HashMap::new();
    trace.start()?;
    loop {
        let event = match trace.wait_timeout(Duration::from_micros(1_000_000 / hz))? {
            Some(event) => event,
            // Still running: time for a sample.
            None => {
                interrupter.interrupt()?;
                trace.wait()?
            }
        };
        match event.kind {
            EventKind::Exited(_) => break,
            EventKind::Interrupted => {
                for tid in trace.threads() {
                    let pc = trace.thread_pc(tid)?;
                    let name = trace.sym_by_addr(pc, false)?.unwrap_or_else(|| format!("{pc:#x}"));
                    *counts.entry(name.split('+').next().unwrap_or("?").to_owned()).or_default() += 1;
                }
            }
            _ => {}
        }
        trace.start()?;
    }
    let total: u64 = counts.values().sum();
    let mut hottest: Vec<(String, u64)> = counts.into_iter().collect();
    hottest.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    for (name, n) in hottest.iter().take(10) {
        println!("{:>6.1}%  {n:>6}  {name}", 100.0 * *n as f64 / total.max(1) as f64);
    }
    println!("{total} samples");
    Ok(())
}
