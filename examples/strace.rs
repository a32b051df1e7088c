//! `strace`: every system call of a program and its threads, one line each,
//! `[tid] name(args) = result`, with the result as a number or `-errno`.
//!
//! `cargo run --example strace -- PROGRAM [ARGS...]`

use std::collections::HashMap;

use oxtrace::{EventKind, Mode, SyscallStop, Trace};

fn main() -> oxtrace::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = oxtrace_examples::program_from_args(&args, "strace PROGRAM [ARGS...]");
    let mut trace = Trace::spawn(command)?;
    trace.set_mode(Mode::Syscall, true);
    // A call is printed when it returns, with the arguments it entered with.
    let mut entered: HashMap<i32, String> = HashMap::new();
    loop {
        let event = trace.run()?;
        match event.kind {
            EventKind::Syscall(SyscallStop::Entry { number, args }) => {
                let name = trace.arch().syscall_name(number).map_or_else(|| format!("syscall_{number}"), str::to_owned);
                let args: Vec<String> = args.iter().map(|a| format!("{a:#x}")).collect();
                entered.insert(event.tid, format!("{name}({})", args.join(", ")));
            }
            EventKind::Syscall(SyscallStop::Exit { number, ret }) => {
                let call = entered.remove(&event.tid).unwrap_or_else(|| format!("syscall_{number}(?)"));
                println!("[{}] {call} = {ret}", event.tid);
            }
            EventKind::Exited(status) => {
                // Calls that never return (exit_group) are shown as such.
                for (tid, call) in entered {
                    println!("[{tid}] {call} = ?");
                }
                println!("+++ {status} +++");
                return Ok(());
            }
            _ => {}
        }
    }
}
