//! `crash_triage`: runs a program until a fatal signal and tells what
//! happened: the signal and fault address, the registers, the faulting
//! instruction, and the symbolized call stack.
//!
//! `cargo run --example crash_triage -- PROGRAM [ARGS...]`

use oxtrace::{EventKind, Trace};

/// Signals that end a program unless it handles them.
const FATAL: [i32; 6] = [4, 6, 7, 8, 11, 31]; // SIGILL SIGABRT SIGBUS SIGFPE SIGSEGV SIGSYS

fn main() -> oxtrace::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = oxtrace_examples::program_from_args(&args, "crash_triage PROGRAM [ARGS...]");
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
    let fault = info.fault_addr.map_or_else(String::new, |a| format!(" at address {a:#x}"));
    println!("thread {} got signal {} (code {}){fault}", event.tid, info.signo, info.code);
    let registers = ["rip", "rsp", "rbp", "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "eflags"];
    for name in registers {
        println!("  {name:<6} {:#018x}", trace.register_u64(name)?);
    }
    let pc = trace.pc()?;
    for insn in trace.disassemble(pc, 1)? {
        println!("faulting instruction: {:#x}: {}", insn.addr, insn.text);
    }
    println!("call stack:");
    for frame in trace.backtrace(event.tid)? {
        println!("  {frame}");
    }
    trace.kill()?;
    Ok(())
}
