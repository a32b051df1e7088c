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

fn find(results: &[Figure], placement: Placement, workload: Workload, tool: Tool) -> Option<&Figure> {
    results.iter().find(|f| f.placement == placement && f.workload == workload && f.tool == tool)
}

/// `workload/placement<TAB>tool<TAB>value<TAB>unit`, then each tool's ratio to the raw loop.
pub fn print_tsv(results: &[Figure]) {
    for f in results {
        if let Ok(v) = f.value {
            println!(
                "{}/{}\t{}\t{v:.0}\t{}",
                f.workload.key(),
                placement_key(f.placement),
                f.tool.key(),
                f.workload.unit()
            );
        }
    }
    for f in results.iter().filter(|f| f.tool != Tool::RawPtrace) {
        let raw = find(results, f.placement, f.workload, Tool::RawPtrace).and_then(|r| r.value.as_ref().ok());
        if let (Ok(v), Some(raw)) = (&f.value, raw) {
            println!(
                "{}/{}\t{}/raw-ptrace\t{:.2}\tratio",
                f.workload.key(),
                placement_key(f.placement),
                f.tool.key(),
                v / raw
            );
        }
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

/// A table per placement: figures, then ratios to the raw loop.
pub fn print_table(results: &[Figure], cli: &Cli) {
    println!("oxbench: {} hits per breakpoint figure, {} single steps, median of {}", cli.hits, cli.steps, cli.reps);
    for placement in [Placement::Unpinned, Placement::Pinned] {
        if !results.iter().any(|f| f.placement == placement) {
            continue;
        }
        let what = match placement {
            Placement::Pinned => "pinned: tracer and debuggee on CPU 0 (taskset -c 0)",
            _ => "unpinned: tracer and debuggee wherever the scheduler puts them",
        };
        println!("\n{what}");
        println!(
            "{:<30}{:>12}{:>12}{:>12}{:>12}{:>14}{:>10}{:>10}",
            "workload", "raw ptrace", "oxtrace", "gdb", "lldb", "oxtrace/raw", "gdb/raw", "lldb/raw"
        );
        for workload in Workload::ALL {
            let cell = |tool| match find(results, placement, workload, tool).map(|f| &f.value) {
                Some(Ok(v)) => thousands(*v),
                Some(Err(e)) if e == "not installed" => "-".into(),
                _ => "error".into(),
            };
            let raw = find(results, placement, workload, Tool::RawPtrace).and_then(|f| f.value.as_ref().ok()).copied();
            let ratio = |tool| match (find(results, placement, workload, tool).map(|f| &f.value), raw) {
                (Some(Ok(v)), Some(raw)) => format!("{:.2}x", v / raw),
                _ => "-".into(),
            };
            println!(
                "{:<30}{:>12}{:>12}{:>12}{:>12}{:>14}{:>10}{:>10}",
                workload.title(),
                cell(Tool::RawPtrace),
                cell(Tool::Oxtrace),
                cell(Tool::Gdb),
                cell(Tool::Lldb),
                ratio(Tool::Oxtrace),
                ratio(Tool::Gdb),
                ratio(Tool::Lldb)
            );
        }
    }
    let errors: Vec<_> = results
        .iter()
        .filter_map(|f| f.value.as_ref().err().filter(|e| *e != "not installed").map(|e| (f, e)))
        .collect();
    for (f, e) in errors {
        println!("error: {} {} ({}): {e}", f.tool.key(), f.workload.key(), placement_key(f.placement));
    }
    if results.iter().any(|f| f.tool == Tool::Lldb && f.value.as_ref().is_err_and(|e| e == "not installed")) {
        println!("lldb: not installed (apt-get install lldb to add its column)");
    }
}
