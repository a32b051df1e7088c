//! `malloc_trace`: every malloc, calloc, realloc and free of a program, with
//! arguments and results, and at its end the leaks: blocks allocated and never
//! freed, each with the call stack that allocated it.
//!
//! `cargo run --example malloc_trace -- PROGRAM [ARGS...]`

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use oxtrace::{HookCall, Trace};

/// Live blocks: address → (size, the stack that allocated it).
type Blocks = Rc<RefCell<BTreeMap<u64, (u64, Vec<String>)>>>;

fn main() -> oxtrace::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = oxtrace_examples::program_from_args(&args, "malloc_trace PROGRAM [ARGS...]");
    let mut trace = Trace::spawn(command)?;
    let main = trace.sym_by_name("main")?;
    trace.run_until(main)?; // libc is loaded now
    let live: Blocks = Rc::default();
    for (name, argc) in [("malloc", 1), ("calloc", 2), ("realloc", 2), ("free", 1)] {
        let blocks = live.clone();
        let post = move |trace: &mut Trace, call: &HookCall, ret: u64| {
            let a = &call.args;
            let shown: Vec<String> = a.iter().map(|v| format!("{v:#x}")).collect();
            match name {
                "free" => println!("free({})", shown.join(", ")),
                _ => println!("{name}({}) = {ret:#x}", shown.join(", ")),
            }
            let mut blocks = blocks.borrow_mut();
            if matches!(name, "realloc" | "free") {
                blocks.remove(&a[0]);
            }
            if name != "free" && ret != 0 {
                let size = if name == "calloc" { a[0] * a[1] } else { a[argc - 1] };
                let stack = trace.backtrace(call.tid).unwrap_or_default();
                blocks.insert(ret, (size, stack.iter().map(ToString::to_string).collect()));
            }
        };
        let addr = trace.sym_by_name(&format!("libc.{name}"))?;
        trace.add_hook(addr, argc, None, Some(Box::new(post)))?;
    }
    let end = loop {
        let event = trace.run()?;
        if matches!(event.kind, oxtrace::EventKind::Exited(_)) {
            break event;
        }
    };
    let leaks = live.borrow();
    for (addr, (size, stack)) in leaks.iter() {
        println!("leak: {size} bytes at {addr:#x}, allocated at\n    {}", stack.join("\n    "));
    }
    println!("{} leaks, {} bytes; the program {end}", leaks.len(), leaks.values().map(|(s, _)| s).sum::<u64>());
    Ok(())
}
