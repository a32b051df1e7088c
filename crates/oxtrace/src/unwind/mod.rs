//! Call stacks: the x64 `.pdata` tables of Windows (PE) modules, DWARF call
//! frame information, signal frames and frame pointers where it is missing,
//! every callee-saved register recovered per frame.
//!
//! The unwinder reads memory through a closure and asks an [`UnwindInfo`] for
//! the tables of the module holding a pc, and never does I/O of its own, so it
//! works the same on a live process, a core file or a remote stub.

mod cfi;
mod frame_pointer;
mod pe_epilogue;
mod pe_unwind;
mod pe_unwind_info;
mod regs;
mod signal;
mod signal_i386;
mod stackwalk;

pub use cfi::{CfiStep, CfiTables};
pub use frame_pointer::step_frame_pointer;
pub use pe_epilogue::{epilogue_at, EpilogueStep};
pub use pe_unwind::{PeStep, PeStepKind, PeUnwindTables};
pub use pe_unwind_info::{
    RuntimeFunction, UnwindCode, UnwindOp, X64UnwindInfo, REGISTER_NAMES as X64_UNWIND_REGISTERS,
};
pub use regs::UnwindRegs;
pub use signal::{interrupted_registers, is_signal_restorer};
pub use stackwalk::{as_stackwalk, compare_with_stackwalk, StackWalkFrame};

/// How a frame's registers were found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnwindMethod {
    /// The thread's own registers (the innermost frame).
    Registers,
    /// From the callee's DWARF call frame information.
    Cfi,
    /// From the callee's frame-pointer chain.
    FramePointer,
    /// From the registers the kernel saved in a signal frame.
    SignalContext,
    /// From the callee's x64 `.pdata`/`.xdata` unwind tables (a PE module).
    Pdata,
}

/// One physical frame of a call stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame {
    /// Program counter: for frames past the first, a return address (look up
    /// `pc - 1` to find the call) unless [`Frame::exact_pc`].
    pub pc: u64,
    /// Stack pointer.
    pub sp: u64,
    /// The frame's canonical frame address (its caller's stack pointer before
    /// the call), when the caller could be found.
    pub cfa: Option<u64>,
    /// The registers known in this frame (callee-saved ones, recovered).
    pub regs: UnwindRegs,
    /// The pc is where the thread stopped or a signal interrupted it, not a return address.
    pub exact_pc: bool,
    /// This frame is a signal trampoline (gdb's `<signal handler called>`).
    pub signal_trampoline: bool,
    /// How its registers were found.
    pub method: UnwindMethod,
    /// Where it saved its caller's registers, as its CFI row says (none
    /// known when it was unwound another way).
    pub saved_at: UnwindRegs,
}

impl Frame {
    /// The address to symbolize: the pc itself (where the thread stopped or
    /// was interrupted, or a signal trampoline), or for a return address the call before it.
    pub fn lookup_pc(&self) -> u64 {
        if self.exact_pc || self.signal_trampoline {
            self.pc
        } else {
            self.pc.wrapping_sub(1)
        }
    }
}

/// What the unwinder needs to know of the modules of the process.
pub trait UnwindInfo {
    /// The call frame information of the module holding `pc`, and that module's load bias.
    fn cfi_for(&self, pc: u64) -> Option<(&CfiTables, u64)>;
    /// The start of the function holding `pc`, for the frame-pointer fallback.
    fn function_start(&self, pc: u64) -> Option<u64>;
    /// The x64 unwind tables of the PE module holding `pc`, and that module's
    /// bias (load address minus image base); `None` outside PE modules.
    fn pe_unwind_for(&self, _pc: u64) -> Option<(&PeUnwindTables, u64)> {
        None
    }
}

/// Walks the stack from the registers of its innermost frame, at most
/// `max_frames` frames. `read(addr, buf)` fills `buf` from memory and says whether it could.
pub fn unwind(
    initial: UnwindRegs,
    info: &dyn UnwindInfo,
    read: &mut dyn FnMut(u64, &mut [u8]) -> bool,
    max_frames: usize,
) -> Vec<Frame> {
    let mut frames = Vec::new();
    let mut regs = initial;
    let mut method = UnwindMethod::Registers;
    let mut exact_pc = true;
    while frames.len() < max_frames {
        let (Some(pc), Some(sp)) = (regs.pc(), regs.sp()) else { break };
        if pc == 0 {
            break;
        }
        let saved_at = regs.empty_like();
        let mut frame = Frame { pc, sp, cfa: None, regs, exact_pc, signal_trampoline: false, method, saved_at };
        let next = step(&frame, frames.is_empty(), info, read);
        let Some((caller, cfa, caller_method, saved_at)) = next else {
            frames.push(frame);
            break;
        };
        frame.cfa = Some(cfa);
        frame.saved_at = saved_at;
        frame.signal_trampoline = caller_method == UnwindMethod::SignalContext;
        frames.push(frame);
        // The stack grows down: a caller below its callee is garbage (signal
        // frames may sit on another stack). A call pushes its return address
        // on x86, so the caller is strictly above; with a link register, a
        // function that has not touched the stack yet (the innermost, or one
        // a signal interrupted) shares its caller's stack pointer.
        let caller_sp = caller.sp().unwrap_or(0);
        let same_sp_ok = regs.layout().link_register && exact_pc && caller.pc() != Some(pc);
        let below = caller_sp < sp || (caller_sp == sp && !same_sp_ok);
        if !frame.signal_trampoline && below {
            break;
        }
        exact_pc = frame.signal_trampoline;
        regs = caller;
        method = caller_method;
    }
    frames
}

/// The caller of one frame: `.pdata` in a PE module, else CFI, then a signal
/// restorer, then frame pointers.
fn step(
    frame: &Frame,
    innermost: bool,
    info: &dyn UnwindInfo,
    read: &mut dyn FnMut(u64, &mut [u8]) -> bool,
) -> Option<(UnwindRegs, u64, UnwindMethod, UnwindRegs)> {
    if let Some((tables, bias)) = info.pe_unwind_for(frame.lookup_pc()) {
        if let Some(step) = tables.step(frame.pc, frame.lookup_pc(), bias, &frame.regs, read) {
            let method = if step.machine_frame { UnwindMethod::SignalContext } else { UnwindMethod::Pdata };
            return Some((step.caller, step.cfa, method, step.saved_at));
        }
    }
    if let Some((tables, bias)) = info.cfi_for(frame.lookup_pc()) {
        if let Some(step) = tables.step(frame.lookup_pc(), bias, &frame.regs, read) {
            let method = if step.signal_trampoline { UnwindMethod::SignalContext } else { UnwindMethod::Cfi };
            return Some((step.caller, step.cfa, method, step.saved_at));
        }
    }
    let none = frame.regs.empty_like();
    if is_signal_restorer(&frame.regs, read) {
        let caller = interrupted_registers(frame.sp, read)?;
        return Some((caller, frame.sp, UnwindMethod::SignalContext, none));
    }
    if let Some(caller) = signal_i386::interrupted_registers(&frame.regs, frame.sp, read) {
        return Some((caller, frame.sp, UnwindMethod::SignalContext, none));
    }
    let start = info.function_start(frame.lookup_pc());
    let (caller, cfa) = step_frame_pointer(&frame.regs, innermost, start, read)?;
    Some((caller, cfa, UnwindMethod::FramePointer, none))
}
