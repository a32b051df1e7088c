//! Calling functions in the debuggee, by the platform's calling convention
//! ([`CallingConvention`](crate::arch::CallingConvention): System V AMD64 on
//! Linux, cdecl in a 32-bit i386 process, Microsoft x64 on Windows).
//!
//! The current thread's registers are saved; arguments go into `rdi`, `rsi`,
//! `rdx`, `rcx`, `r8`, `r9` and then onto the stack (on i386 all of them on
//! the stack, four bytes each), byte strings are copied
//! below the red zone, the stack is aligned to 16 bytes at the call, and the
//! return address is the program's entry point (run once at start-up, never
//! again), where a temporary breakpoint catches the return in this thread at
//! this stack depth. `orig_rax` is set to -1 so that a thread stopped inside a
//! system call does not restart it in the middle of the call; restoring the
//! registers afterwards restores the kernel's restart as well. Whatever
//! happens, the thread gets its registers back, and a signal the call raised
//! (a crash inside it) is not delivered to it afterwards.

use super::Trace;
use crate::arch::{ArgValue, CallingConvention, RegisterGroup};
use crate::error::{Error, Result, Tid};
use crate::event::EventKind;
use crate::registers::RegisterContext;
use crate::symbols::SymbolKind;

/// An argument of [`Trace::call`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallArg {
    /// An integer or pointer.
    Int(u64),
    /// Bytes copied into the debuggee's stack; the function gets their address.
    Bytes(Vec<u8>),
}

impl From<u64> for CallArg {
    fn from(value: u64) -> Self {
        CallArg::Int(value)
    }
}

impl From<&str> for CallArg {
    /// A C string: the bytes and a terminating NUL.
    fn from(text: &str) -> Self {
        let mut bytes = text.as_bytes().to_vec();
        bytes.push(0);
        CallArg::Bytes(bytes)
    }
}

impl From<&[u8]> for CallArg {
    fn from(bytes: &[u8]) -> Self {
        CallArg::Bytes(bytes.to_vec())
    }
}

/// What a call returned.
#[derive(Debug, Clone)]
pub struct CallResult {
    /// The integer return value (`rax`, or `eax` in a 32-bit process).
    pub value: u64,
    /// Every register of the thread at the return.
    pub registers: RegisterContext,
}

/// A thread's register blocks, to put back, and the breakpoint it stood on.
pub(super) struct SavedRegisters {
    general: Vec<u8>,
    vector: Vec<u8>,
    on_breakpoint: Option<u64>,
}

impl Trace {
    /// Calls `function(args...)` in the current thread and returns its result;
    /// the thread is left exactly as it was. A signal, a breakpoint or the
    /// process's end before the return is an [`Error::CallInterrupted`].
    pub fn call(&mut self, function: u64, args: &[CallArg]) -> Result<CallResult> {
        let convention = self.platform.calling_convention();
        self.call_as(convention, function, args)
    }

    /// [`Trace::call`] by another calling convention than the platform's:
    /// a function declared `__attribute__((ms_abi))` in a Linux program is
    /// called as [`CallingConvention::Microsoft64`].
    pub fn call_as(&mut self, convention: CallingConvention, function: u64, args: &[CallArg]) -> Result<CallResult> {
        self.require_stopped()?;
        if self.arch.x86_bitness().is_none() {
            return Err(Error::Unsupported("calling functions in the debuggee on this architecture"));
        }
        if convention.word() != self.arch.pointer_size as u64 {
            let arch = self.arch.name;
            return Err(Error::InvalidArgument(format!(
                "the {convention:?} convention does not fit an {arch} process"
            )));
        }
        let tid = self.current_tid;
        let saved = self.save_registers()?;
        let pending = self.pending_signals.get(&tid).copied();
        let result = self.call_with_saved(convention, function, args);
        self.restore_after_call(tid, saved, pending)?;
        result
    }

    /// After a call in thread `tid` (if it still lives): its registers as
    /// `saved` before the call, and its pending signal as it was (`pending`):
    /// a signal the call raised (a crash in it) is not the thread's to receive.
    pub(super) fn restore_after_call(&mut self, tid: Tid, saved: SavedRegisters, pending: Option<i32>) -> Result<()> {
        if self.is_attached() && self.platform.has_thread(tid) {
            self.current_tid = tid;
            self.restore_registers(saved)?;
            match pending {
                Some(signal) => self.pending_signals.insert(tid, signal),
                None => self.pending_signals.remove(&tid),
            };
        }
        Ok(())
    }

    /// Calls a function given by expression (`libc.strlen`).
    pub fn call_expr(&mut self, function: &str, args: &[CallArg]) -> Result<CallResult> {
        let addr = self.parse_expression(function)?;
        self.call(addr, args)
    }

    fn call_with_saved(
        &mut self,
        convention: CallingConvention,
        function: u64,
        args: &[CallArg],
    ) -> Result<CallResult> {
        if self.memory_map(function)?.is_none_or(|m| !m.perms.exec) {
            return Err(Error::InvalidArgument(format!("{function:#x} is not in executable memory")));
        }
        // An indirect function's symbol is its resolver: ask it for the implementation.
        let indirect = self.symbols()?.sym_by_addr(function).is_some_and(|hit| {
            hit.offset == 0
                && hit.module.table().symbols_at(hit.symbol.addr).any(|s| s.kind == SymbolKind::IndirectFunction)
        });
        if indirect {
            let implementation = self.call_once_as(convention, function, &[])?.value;
            return self.call_once_as(convention, implementation, args);
        }
        self.check_argument_count(function, args.len())?;
        self.call_once_as(convention, function, args)
    }

    /// Refuses a call with fewer or more arguments than the function's DWARF declares.
    fn check_argument_count(&mut self, function: u64, given: usize) -> Result<()> {
        let symbols = self.symbols()?;
        let Some(module) = symbols.module_by_addr(function) else { return Ok(()) };
        let declared = module.image.lines().and_then(|l| l.parameters(function.wrapping_sub(module.bias)));
        let Some(declared) = declared else { return Ok(()) };
        let fits = if declared.variadic { given >= declared.count } else { given == declared.count };
        if fits {
            return Ok(());
        }
        let name = symbols.sym_by_addr(function).map_or_else(|| format!("{function:#x}"), |h| h.symbol.name.clone());
        let more = if declared.variadic { " or more" } else { "" };
        Err(Error::InvalidArgument(format!("{name} takes {}{more} argument(s), not {given}", declared.count)))
    }

    /// One call by the platform's convention, the thread's registers not saved.
    pub(super) fn call_once(&mut self, function: u64, args: &[CallArg]) -> Result<CallResult> {
        let convention = self.platform.calling_convention();
        self.call_once_as(convention, function, args)
    }

    fn call_once_as(&mut self, convention: CallingConvention, function: u64, args: &[CallArg]) -> Result<CallResult> {
        let tid = self.current_tid;
        let return_address = self.call_return_address()?;
        let mut sp = self.sp()?.wrapping_sub(convention.red_zone());
        let mut values = Vec::with_capacity(args.len());
        for arg in args {
            values.push(ArgValue::Int(match arg {
                CallArg::Int(v) => *v,
                CallArg::Bytes(bytes) => {
                    sp = sp.wrapping_sub(bytes.len() as u64) & !15;
                    self.write_memory(sp, bytes)?;
                    sp
                }
            }));
        }
        // Stack arguments, the shadow space (Windows) and the return address, 16-aligned at the call.
        let layout = convention.layout(sp, &values, return_address);
        for (addr, value) in &layout.stack {
            self.write_ptr(*addr, *value)?;
        }
        let sp = layout.sp;
        let word = convention.word();
        let i386 = self.arch.name == "i386";
        let has_orig_rax = self.arch.register("orig_rax").is_some();
        let ctx = self.registers()?;
        for (name, value) in &layout.registers {
            ctx.set_u64(name, *value)?;
        }
        if i386 {
            // The kernel reads orig_eax as a signed 32-bit number: -1 is "no system call".
            ctx.set_u64("orig_eax", u64::from(u32::MAX))?;
        } else if has_orig_rax {
            // (The System V layout sets rax, the vector-register count for a variadic callee, to 0.)
            ctx.set_u64("orig_rax", u64::MAX)?;
        }
        ctx.set_sp(sp)?;
        ctx.set_pc(function)?;
        let event = self.run_to_frame(return_address, sp + word)?;
        let returned = event.tid == tid && event.kind == EventKind::Step && self.pc().ok() == Some(return_address);
        if !returned {
            return Err(Error::CallInterrupted { function, tid, event: event.to_string() });
        }
        let registers = self.registers()?.clone();
        Ok(CallResult { value: registers.get_u64(convention.int_return())?, registers })
    }

    /// Where called functions return to: the program's entry point.
    pub(super) fn call_return_address(&mut self) -> Result<u64> {
        if let Some(entry) = self.platform.entry_point() {
            return Ok(entry);
        }
        let exe = self.platform.exe_path();
        let symbols = self.symbols()?;
        let program = symbols
            .modules()
            .iter()
            .find(|m| exe.as_deref() == Some(m.path.as_str()))
            .or_else(|| symbols.modules().iter().find(|m| m.table().entry() != 0))
            .ok_or_else(|| Error::InvalidArgument("no program image to return to".into()))?;
        Ok(program.entry())
    }

    /// The current thread's general and vector registers.
    pub(super) fn save_registers(&mut self) -> Result<SavedRegisters> {
        let tid = self.current_tid;
        // Inside a system call that has not returned (a new thread's creation
        // seen from its creator, a system call's entry), the kernel writes
        // the call's result over rax as the thread goes on: the code run
        // would be clobbered, and the registers put back after it would
        // replace the call's result with the value rax holds meanwhile.
        self.ensure_all_stopped()?;
        if self.platform.stopped_in_syscall(tid) {
            return Err(Error::InvalidArgument(format!(
                "thread {tid} is stopped inside a system call that has not returned yet: \
                 it cannot run code of the tracer's until the call returns"
            )));
        }
        let general = self.context_with(tid, RegisterGroup::General)?.block(RegisterGroup::General).map(<[u8]>::to_vec);
        let vector = self.context_with(tid, RegisterGroup::Vector)?.block(RegisterGroup::Vector).map(<[u8]>::to_vec);
        let on_breakpoint = self.on_breakpoint.get(&tid).copied();
        Ok(SavedRegisters { general: general.unwrap_or_default(), vector: vector.unwrap_or_default(), on_breakpoint })
    }

    /// Puts saved registers back into the current thread; a breakpoint it stood
    /// on is stepped over when it resumes, as before.
    pub(super) fn restore_registers(&mut self, saved: SavedRegisters) -> Result<()> {
        let tid = self.current_tid;
        match saved.on_breakpoint {
            Some(addr) => self.on_breakpoint.insert(tid, addr),
            None => self.on_breakpoint.remove(&tid),
        };
        let ctx = self.registers()?;
        ctx.restore(RegisterGroup::General, saved.general)?;
        ctx.restore(RegisterGroup::Vector, saved.vector)?;
        // In the kernel's copy at once: a tracer that dies now leaves the thread as it was.
        self.write_back_registers()
    }
}
