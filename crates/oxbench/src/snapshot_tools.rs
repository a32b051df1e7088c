//! The snapshot rows: a process with a 1 GiB heap (touched, so every page is
//! real) saved as a core file, by oxtrace (attach, `save_snapshot`, detach) and
//! by gdb (`gcore`: attach, `gcore FILE`, detach), and the peak resident memory
//! of the tracer while doing it.
//!
//! Each measurement starts its own debuggee, which stops itself with SIGSTOP
//! once its heap is touched, and `sync`s so that no earlier core file is still
//! being written back; the clock runs from attach to detach. The heap
//! size is `OXBENCH_SNAPSHOT_MIB` (default 1024).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use oxtrace::Trace;

use crate::programs::Programs;
use crate::tools::Rate;
use crate::Workload;

/// The heap of the debuggee, in MiB.
fn heap_mib() -> u64 {
    std::env::var("OXBENCH_SNAPSHOT_MIB").ok().and_then(|v| v.parse().ok()).unwrap_or(1024)
}

/// A debuggee stopped with its heap touched; killed when dropped.
struct Stopped {
    child: Child,
    core: PathBuf,
}

impl Stopped {
    fn start(programs: &Programs) -> Result<Stopped, String> {
        let mut child = Command::new(&programs.snapshot)
            .arg(heap_mib().to_string())
            .stdout(Stdio::null())
            .spawn()
            .map_err(|e| format!("{}: {e}", programs.snapshot.display()))?;
        let pid = child.id();
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            if stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('T')) {
                break;
            }
            if Instant::now() > deadline || child.try_wait().ok().flatten().is_some() {
                let _ = child.kill();
                return Err("the snapshot debuggee did not stop".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        // Start every tool with no dirty pages waiting for the disk (the last run's core file).
        let _ = Command::new("sync").status();
        let core = programs.snapshot.with_file_name(format!("snapshot-{pid}.core"));
        Ok(Stopped { child, core })
    }

    fn pid(&self) -> i32 {
        self.child.id() as i32
    }
}

impl Drop for Stopped {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.core);
    }
}

/// `VmHWM` (peak resident memory) of `/proc/self/status` or of the given text, in MiB.
fn vm_hwm_mib(status: &str) -> Result<f64, String> {
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .ok_or("no VmHWM in the status")?;
    Ok(kib / 1024.0)
}

/// Checks the core file and turns the time into the row's figure.
fn figure(workload: Workload, stopped: &Stopped, secs: f64, peak_mib: f64) -> Rate {
    let size = std::fs::metadata(&stopped.core).map_err(|e| format!("{}: {e}", stopped.core.display()))?.len();
    if size < heap_mib() << 20 {
        return Err(format!("the core file has {size} bytes, less than the heap"));
    }
    match workload {
        Workload::Snapshot => Ok(heap_mib() as f64 / 1024.0 / secs),
        _ => Ok(peak_mib),
    }
}

/// oxtrace: attach, save, detach.
pub fn oxtrace(workload: Workload, programs: &Programs) -> Rate {
    let stopped = Stopped::start(programs)?;
    let start = Instant::now();
    let mut trace = Trace::attach(stopped.pid()).map_err(|e| e.to_string())?;
    trace.save_snapshot(&stopped.core).map_err(|e| e.to_string())?;
    trace.detach().map_err(|e| e.to_string())?;
    let secs = start.elapsed().as_secs_f64();
    let status = std::fs::read_to_string("/proc/self/status").map_err(|e| e.to_string())?;
    figure(workload, &stopped, secs, vm_hwm_mib(&status)?)
}

/// gdb's `gcore`, run as the `gcore` script runs it, printing its own peak memory at the end.
pub fn gdb(workload: Workload, programs: &Programs) -> Rate {
    let stopped = Stopped::start(programs)?;
    let start = Instant::now();
    let output = Command::new("gdb")
        .args(["-nx", "-batch", "-ex", "set pagination off", "-ex", "set height 0", "-ex", "set width 0"])
        .args(["-ex", &format!("attach {}", stopped.pid())])
        .args(["-ex", &format!("gcore {}", stopped.core.display())])
        .args(["-ex", "detach"])
        .args(["-ex", "python print(open('/proc/self/status').read())"])
        .output()
        .map_err(|e| format!("cannot run gdb: {e}"))?;
    let secs = start.elapsed().as_secs_f64();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let peak = vm_hwm_mib(&stdout).map_err(|e| format!("gdb printed no VmHWM (no python?): {e}"))?;
    figure(workload, &stopped, secs, peak)
}
