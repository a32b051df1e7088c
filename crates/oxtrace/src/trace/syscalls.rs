//! System calls made by the debuggee on the tracer's behalf: memory
//! allocation, protection and release.
//!
//! The current thread executes one `syscall` instruction (`int 0x80` in a
//! 32-bit process: [`SyscallAbi`](crate::arch::syscall_abi::SyscallAbi)), written over the
//! program's entry point (run once at start-up, never again) and put back
//! afterwards, with the thread's registers saved and restored around it.
//! Other threads stay stopped. A thread stopped inside a system call that has
//! not returned (inside `clone3`, at a new thread's creation) never runs it:
//! the kernel would write that call's result over the injected one's number,
//! and the registers put back would then undo the call's result. The calls
//! whose effect is the process's (memory maps, protections) are made by
//! another thread then.

use super::Trace;
use crate::error::{Error, Result, Tid};
use crate::memory::Perms;
use crate::platform::{ResumeAction, ResumeKind, StopReason};

use crate::arch::syscall_abi::SyscallAbi;

/// The break instruction run after the injected system call.
const INT3: u8 = 0xcc;

const PROT_READ: u64 = 1;
const PROT_WRITE: u64 = 2;
const PROT_EXEC: u64 = 4;
const MAP_PRIVATE: u64 = 0x02;
const MAP_ANONYMOUS: u64 = 0x20;

/// The `PROT_*` bits of some permissions.
pub(super) fn prot_bits(perms: Perms) -> u64 {
    [(perms.read, PROT_READ), (perms.write, PROT_WRITE), (perms.exec, PROT_EXEC)]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, bit)| bit)
        .sum()
}

impl Trace {
    /// Makes the current thread execute system call `number` with `args`;
    /// returns its result, or the error it returned (named `name`).
    pub fn inject_syscall(&mut self, name: &'static str, number: u64, args: &[u64]) -> Result<u64> {
        self.require_stopped()?;
        let Some(abi) = self.arch.syscall_abi() else {
            return Err(Error::Unsupported("system calls injected into the debuggee on this architecture"));
        };
        if args.len() > abi.args.len() {
            return Err(Error::InvalidArgument(format!("{name}: at most 6 arguments, not {}", args.len())));
        }
        let at = self.call_return_address()?;
        let saved = self.save_registers()?;
        // The system call instruction and a break instruction after it. Raw
        // memory: a breakpoint of ours at the entry point must not take the
        // place of the code.
        let code: Vec<u8> = abi.instruction.iter().copied().chain([INT3]).collect();
        let mut original = vec![0u8; code.len()];
        self.platform.read_memory(at, &mut original)?;
        self.platform.write_memory(at, &code)?;
        let outcome = self.execute_syscall_at(abi, at, number, args);
        // Put everything back whatever happened.
        let restored = self.platform.write_memory(at, &original).and_then(|()| self.restore_registers(saved));
        let value = outcome?;
        restored?;
        match abi.signed_result(value) {
            -4095..=-1 => Err(Error::Syscall {
                name,
                pid: self.pid,
                source: std::io::Error::from_raw_os_error(-(value as i64) as i32),
            }),
            _ => Ok(value),
        }
    }

    fn execute_syscall_at(&mut self, abi: &SyscallAbi, at: u64, number: u64, args: &[u64]) -> Result<u64> {
        // Only this thread runs for the call: the others must be stopped.
        self.ensure_all_stopped()?;
        let ctx = self.registers()?;
        ctx.set_pc(at)?;
        ctx.set_u64(abi.number, number)?;
        ctx.set_u64(abi.restart, abi.truncate(u64::MAX))?;
        for (name, value) in abi.args.iter().zip(args) {
            ctx.set_u64(name, abi.truncate(*value))?;
        }
        // Stepped quietly (no Step event): this is the tracer's work, not the program's.
        // Only this thread runs; stops other threads reported earlier come
        // first and are kept, in order, to be reported before anything runs again.
        let tid = self.current_tid;
        self.flush_registers()?;
        // The backend resumes nothing while it holds stops not yet reported:
        // take them first (they are reported later, in order), or the step
        // below would never come.
        while let Some(stop) = self.platform.wait(Some(std::time::Duration::ZERO))? {
            self.deferred_stops.push_back(stop);
        }
        // Continued into the break instruction, not single-stepped: a step
        // leaves the trap flag set in the thread until its next resume, and a
        // tracer killed before that would leave it to die of a SIGTRAP.
        self.platform.resume(&[ResumeAction { tid, kind: ResumeKind::Continue, signal: None }])?;
        self.stops += 1; // the maps may change
        let stop = loop {
            let stop = self.platform.wait(None)?.ok_or(Error::ProcessExited { pid: self.pid })?;
            if stop.tid == tid {
                break stop;
            }
            self.deferred_stops.push_back(stop);
        };
        let trapped = matches!(stop.reason, StopReason::Trap | StopReason::SoftwareBreak);
        if !trapped || self.pc()? != at + abi.instruction.len() as u64 + 1 {
            let reason = format!("{:?}", stop.reason);
            self.deferred_stops.push_back(stop);
            return Err(Error::InvalidArgument(format!(
                "the injected system call in thread {tid} was interrupted: {reason}"
            )));
        }
        self.register_u64(abi.number)
    }

    /// The current architecture's system call convention, or an error naming what needs it.
    fn syscall_abi_for(&self, what: &'static str) -> Result<&'static SyscallAbi> {
        self.arch.syscall_abi().ok_or(Error::Unsupported(what))
    }

    /// Allocates `size` bytes of private anonymous memory in the debuggee with
    /// `perms`, near `hint` if given; returns its address. The maps show it.
    pub fn allocate_memory(&mut self, size: u64, perms: Perms, hint: Option<u64>) -> Result<u64> {
        if size == 0 {
            return Err(Error::InvalidArgument("cannot allocate 0 bytes".into()));
        }
        if let Some(native) = self.platform.allocate_memory(size, perms, hint) {
            return native;
        }
        let abi = self.syscall_abi_for("allocating memory in the debuggee on this architecture")?;
        let flags = MAP_PRIVATE | MAP_ANONYMOUS;
        let args = [hint.unwrap_or(0), size, prot_bits(perms), flags, u64::MAX, 0];
        self.in_thread_free_to_inject(self.current_tid, |trace| trace.inject_syscall("mmap", abi.mmap, &args))
    }

    /// Changes the protection of `[addr, addr + size)` (page-aligned) in the debuggee.
    pub fn protect_memory(&mut self, addr: u64, size: u64, perms: Perms) -> Result<()> {
        if let Some(native) = self.platform.protect_memory(addr, size, perms) {
            return native;
        }
        let abi = self.syscall_abi_for("changing protections in the debuggee on this architecture")?;
        let args = [addr, size, prot_bits(perms)];
        self.in_thread_free_to_inject(self.current_tid, |trace| trace.inject_syscall("mprotect", abi.mprotect, &args))
            .map(drop)
    }

    /// Releases `[addr, addr + size)` in the debuggee.
    pub fn free_memory(&mut self, addr: u64, size: u64) -> Result<()> {
        if let Some(native) = self.platform.free_memory(addr, size) {
            return native;
        }
        let abi = self.syscall_abi_for("freeing memory in the debuggee on this architecture")?;
        self.in_thread_free_to_inject(self.current_tid, |trace| {
            trace.inject_syscall("munmap", abi.munmap, &[addr, size])
        })
        .map(drop)
    }

    /// Runs `work` (system calls made by the debuggee for the tracer, whose
    /// effect is the whole process's) with `preferred` as the current thread,
    /// or, if that one is stopped inside a system call that has not returned
    /// (see [`Platform::stopped_in_syscall`](crate::platform::Platform::stopped_in_syscall)),
    /// with another thread that is not. The current thread is kept.
    pub(super) fn in_thread_free_to_inject<T>(
        &mut self,
        preferred: Tid,
        work: impl FnOnce(&mut Self) -> Result<T>,
    ) -> Result<T> {
        // Threads left running by a stop handled alone must stop first: how they stop decides.
        self.ensure_all_stopped()?;
        let free = |trace: &Self, tid: Tid| trace.platform.has_thread(tid) && !trace.platform.stopped_in_syscall(tid);
        let tid =
            std::iter::once(preferred).chain(self.platform.threads()).find(|&t| free(self, t)).unwrap_or(preferred);
        let current = self.current_tid;
        self.current_tid = tid;
        let result = work(self);
        if self.platform.has_thread(current) {
            self.current_tid = current;
        }
        result
    }
}
