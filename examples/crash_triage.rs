//! `crash_triage`: runs a program until a fatal signal (or opens a core
//! file) and tells what happened: the signal and fault address, the
//! registers, the faulting instruction, and the symbolized call stack; a live
//! crash is saved as a snapshot (an ELF core file gdb opens too).
//!
//! `cargo run --example crash_triage -- PROGRAM [ARGS...]`
//! `cargo run --example crash_triage -- --core CORE [PROGRAM]`

use std::path::Path;

use oxtrace::{EventKind, SignalInfo, Trace};

/// Signals that end a program unless it handles them.
const FATAL: [i32; 6] = [4, 6, 7, 8, 11, 31]; // SIGILL SIGABRT SIGBUS SIGFPE SIGSEGV SIGSYS

fn main() -> oxtrace::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().is_some_and(|a| a == "--core") && args.len() >= 2 {
        let mut trace = Trace::open_core(&args[1], args.get(2).map(Path::new))?;
        let tid = trace.current_thread();
        return report(&mut trace, tid, None);
    }
    let command = oxtrace_examples::program_from_args(&args, "crash_triage PROGRAM [ARGS...] | --core CORE [PROGRAM]");
    let mut trace = Trace::spawn(command)?;
    let (event, info) = loop {
        let event = trace.run()?;
        match &event.kind {
            EventKind::Signal(info) if FATAL.contains(&info.signo) => break (event.clone(), *info),
            EventKind::Exited(status) => {
                println!("no crash: the program {status}");
                return Ok(());
            }
            _ => {}
        }
    };
    report(&mut trace, event.tid, Some(info))?;
    let snapshot = format!("crash-{}.core", trace.pid());
    trace.save_snapshot(&snapshot)?;
    println!("snapshot saved to {snapshot}");
    trace.kill()?;
    Ok(())
}

/// Prints the signal, the registers, the faulting instruction and the call stack of thread `tid`.
fn report(trace: &mut Trace, tid: i32, info: Option<SignalInfo>) -> oxtrace::Result<()> {
    if let Some(info) = info {
        let fault = info.fault_addr.map_or_else(String::new, |a| format!(" at address {a:#x}"));
        println!("thread {tid} got signal {} (code {}){fault}", info.signo, info.code);
    }
    // The general registers of the process's architecture (eax... in a 32-bit one).
    let arch = trace.arch();
    let digits = 2 + 2 * arch.pointer_size;
    for def in arch.full_registers().filter(|r| r.class == "general") {
        println!("  {:<8} {:#0digits$x}", def.name, trace.register_u64(def.name)?);
    }
    let pc = trace.pc()?;
    for insn in trace.disassemble(pc, 1)? {
        println!("faulting instruction: {:#x}: {}", insn.addr, insn.text);
    }
    println!("call stack:");
    for frame in trace.backtrace(tid)? {
        println!("  {frame}");
    }
    Ok(())
}
