//! Printing results: a table for people, TSV for programs.

use crate::{Cli, Placement, Tool, Workload};

/// One measured figure.
#[derive(Debug)]
pub struct Figure {
    pub placement: Placement,
    pub workload: Workload,
    pub tool: Tool,
    pub value: Result<f64, String>,
}

fn placement_key(placement: Placement) -> &'static str {
    match placement {
        Placement::Pinned => "pinned",
        _ => "unpinned",
    }
}

/// What a row's ratios are to: the raw ptrace loop, or gdb for the symbol rows.
fn base(workload: Workload) -> Tool {
    if workload == Workload::PyCallback {
        Tool::Libdebug
    } else if workload == Workload::VtraceLayer {
        Tool::Vtrace
    } else if workload.is_against_gdb() {
        Tool::Gdb
    } else {
        Tool::RawPtrace
    }
}

fn find(results: &[Figure], placement: Placement, workload: Workload, tool: Tool) -> Option<&Figure> {
    results.iter().find(|f| f.placement == placement && f.workload == workload && f.tool == tool)
}

/// `workload/placement<TAB>tool<TAB>value<TAB>unit`, then each tool's ratio to the raw loop.
pub fn print_tsv(results: &[Figure]) {
    for f in results {
        if let Ok(v) = f.value {
            println!(
                "{}/{}\t{}\t{v:.2}\t{}",
                f.workload.key(),
                placement_key(f.placement),
                f.tool.key(),
                f.workload.unit()
            );
        }
    }
    for f in results.iter().filter(|f| f.tool != base(f.workload)) {
        let raw = find(results, f.placement, f.workload, base(f.workload)).and_then(|r| r.value.as_ref().ok());
        if let (Ok(v), Some(raw)) = (&f.value, raw) {
            println!(
                "{}/{}\t{}/{}\t{:.2}\tratio",
                f.workload.key(),
                placement_key(f.placement),
                f.tool.key(),
                base(f.workload).key(),
                v / raw
            );
        }
    }
}

/// A figure for the table: small ones (GiB/s) with two decimals, the rest with thousands separators.
fn shown(v: f64) -> String {
    if v < 100.0 {
        format!("{v:.2}")
    } else {
        thousands(v)
    }
}

fn thousands(v: f64) -> String {
    let digits = format!("{:.0}", v);
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Per placement: a table of rates, then one of ratios to the raw loop.
pub fn print_table(results: &[Figure], cli: &Cli) {
    println!("oxbench: {} hits per breakpoint figure, {} single steps, median of {}", cli.hits, cli.steps, cli.reps);
    let header = |first: &str| {
        let mut line = format!("{first:<30}");
        for tool in Tool::ALL {
            line.push_str(&format!("{:>15}", tool.key()));
        }
        line
    };
    for placement in [Placement::Unpinned, Placement::Pinned] {
        if !results.iter().any(|f| f.placement == placement) {
            continue;
        }
        let what = match placement {
            Placement::Pinned => "pinned: tracer and debuggee on CPU 0 (taskset -c 0)",
            _ => "unpinned: tracer and debuggee wherever the scheduler puts them",
        };
        println!("\n{what}");
        println!("{}", header("events per second"));
        for workload in Workload::ALL.into_iter().filter(|&w| results.iter().any(|f| f.workload == w)) {
            let mut line = format!("{:<30}", workload.title());
            for tool in Tool::ALL {
                let cell = match find(results, placement, workload, tool).map(|f| &f.value) {
                    Some(Ok(v)) => shown(*v),
                    Some(Err(e)) if e == "not installed" || e == "n/a" => "-".into(),
                    _ => "error".into(),
                };
                line.push_str(&format!("{cell:>15}"));
            }
            println!("{line}");
        }
        println!("{}", header("ratio to raw / gdb / py / vtrace"));
        for workload in Workload::ALL.into_iter().filter(|&w| results.iter().any(|f| f.workload == w)) {
            let raw = find(results, placement, workload, base(workload)).and_then(|f| f.value.as_ref().ok()).copied();
            let mut line = format!("{:<30}", workload.title());
            for tool in Tool::ALL {
                let cell = match (find(results, placement, workload, tool).map(|f| &f.value), raw) {
                    (Some(Ok(v)), Some(raw)) => format!("{:.2}x", v / raw),
                    _ => "-".into(),
                };
                line.push_str(&format!("{cell:>15}"));
            }
            println!("{line}");
        }
    }
    for (f, e) in results
        .iter()
        .filter_map(|f| f.value.as_ref().err().filter(|e| *e != "not installed" && *e != "n/a").map(|e| (f, e)))
    {
        println!("error: {} {} ({}): {e}", f.tool.key(), f.workload.key(), placement_key(f.placement));
    }
    let missing: Vec<&str> = Tool::ALL
        .into_iter()
        .filter(|&t| results.iter().any(|f| f.tool == t && f.value.as_ref().is_err_and(|e| e == "not installed")))
        .map(|t| t.key())
        .collect();
    if !missing.is_empty() {
        println!("not installed: {} (their columns show -)", missing.join(", "));
    }
    println!(
        "raw-polling is the raw loop polling waitpid for up to 200 us before it blocks, as oxtrace's waits do \
         (only where the tracer may use more than one CPU: oxtrace never polls pinned to one)."
    );
    println!("gdb, libdebug and python-ptrace have no fast breakpoints: their fast row repeats their plain loop.");
    println!("The symbol rows (symbol loads, backtraces, lookups) compare oxtrace with gdb: their ratios are to gdb.");
    println!("The snapshot rows compare save_snapshot with gdb's gcore on a 1 GiB heap (ratios to gdb; for peak RSS lower is better).");
    println!(
        "The Python rows: the Python callback row compares oxtrace's Python module with libdebug and python-ptrace \
         (ratios to libdebug); the vtrace row runs one vtrace script (a Breakpoint subclass's notify, RunForever) \
         on oxtrace's vtrace layer (oxtrace column) and on vivisect's own vtrace (at most {} hits; ratios to vtrace).",
        crate::tools::VTRACE_MAX_HITS
    );
    println!(
        "The thread-storm rows time oxdb (`break f`, `commands`: `silent`, `continue`) against gdb with the same script \
         over {} short threads, at most 1, 500 or 2,000 alive at once, every hit counted: seconds, lower is better, \
         ratio to gdb; unpinned, one run each.",
        crate::storm_tools::THREADS
    );
    println!(
        "The remote row is gdb driving a remote protocol server ({} hits): oxserve (`oxdb serve`) in the oxtrace column, \
         gdbserver in the gdb column; its ratio is to gdbserver.",
        crate::remote_tools::remote_hits(cli.hits)
    );
    println!(
        "The in-process rows count hits in a jump pad inside the program ({}x the hits of a breakpoint figure), \
         test a compiled condition that is false there, or one that is true at every hit (a stop each, to compare \
         with the notifier row); ratios to the raw loop on the same program.",
        crate::in_process_tools::CALLS_PER_HIT
    );
    println!(
        "The 32-bit row is the notifier row on the same debuggee built with gcc -m32 (an i386 process), \
         against the raw loop on that program."
    );
}
