//! `coverage`: which functions of a program ran, and how many times. Every
//! function of the program gets a tracker breakpoint, which counts its hits
//! without stopping anything (and leaves by emulation or out of line: one
//! stop per hit).
//!
//! `cargo run --example coverage -- PROGRAM [ARGS...]`

use oxtrace::symbols::SymbolKind;
use oxtrace::{BreakpointKind, Mode, Trace};

fn main() -> oxtrace::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = oxtrace_examples::program_from_args(&args, "coverage PROGRAM [ARGS...]");
    let mut trace = Trace::spawn(command)?;
    let program = trace.program_module()?;
    let mut tracked = Vec::new();
    for symbol in program.table().symbols().iter().filter(|s| s.kind == SymbolKind::Function && s.size > 0) {
        let id = trace.add_breakpoint(symbol.addr + program.bias, BreakpointKind::Tracker, None)?;
        tracked.push((symbol.name.clone(), id));
    }
    trace.set_mode(Mode::RunForever, true);
    let end = trace.run()?;
    let mut hit = 0;
    for (name, id) in &tracked {
        let hits = trace.breakpoint(*id).map_or(0, |b| b.hits);
        hit += usize::from(hits > 0);
        println!("{hits:>10}  {name}");
    }
    println!("{hit} of {} functions ran; the program {end}", tracked.len());
    Ok(())
}
