//! dbghelp's own walk of a stopped thread (`StackWalk64`), the reference the
//! stack tests compare oxtrace's walk with. The handles are the test's own,
//! opened by the process and thread ids: the debuggee is stopped at a held
//! debug event, so its registers and stack stay as the trace sees them.

use oxtrace::unwind::StackWalkFrame;
use windows_sys::Win32::Foundation::{CloseHandle, HANDLE};
use windows_sys::Win32::System::Diagnostics::Debug::{
    AddrModeFlat, GetThreadContext, StackWalk64, SymCleanup, SymFunctionTableAccess64, SymGetModuleBase64,
    SymInitialize, CONTEXT, CONTEXT_FULL_AMD64, STACKFRAME64,
};
use windows_sys::Win32::System::Threading::{
    OpenProcess, OpenThread, PROCESS_QUERY_INFORMATION, PROCESS_VM_READ, THREAD_GET_CONTEXT, THREAD_QUERY_INFORMATION,
};

/// `IMAGE_FILE_MACHINE_AMD64` (its windows-sys feature is not otherwise needed).
const MACHINE_AMD64: u32 = 0x8664;

/// A CONTEXT as GetThreadContext wants it: aligned on 16 bytes.
#[repr(C, align(16))]
struct Aligned(CONTEXT);

/// A handle closed when dropped.
struct Owned(HANDLE);

impl Drop for Owned {
    fn drop(&mut self) {
        // SAFETY: a handle this module opened and closes once.
        unsafe { CloseHandle(self.0) };
    }
}

/// The frames `StackWalk64` finds in thread `tid` of process `pid`, at most
/// `max`, from the thread's CONTEXT with its rip at `pc`. After a software
/// breakpoint the thread's own rip is still past the int3: the trace moves it
/// back in its register cache and writes it when the thread resumes, so the
/// walk starts from the pc the trace reports (one byte before, no further).
pub fn stack_walk(pid: u32, tid: u32, pc: u64, max: usize) -> Vec<StackWalkFrame> {
    // SAFETY: plain Win32 calls on handles checked for null; the CONTEXT is
    // aligned and has its flags set; STACKFRAME64 is zeroed then filled.
    unsafe {
        let process = Owned(OpenProcess(PROCESS_QUERY_INFORMATION | PROCESS_VM_READ, 0, pid));
        assert!(!process.0.is_null(), "OpenProcess({pid}): {}", std::io::Error::last_os_error());
        let thread = Owned(OpenThread(THREAD_GET_CONTEXT | THREAD_QUERY_INFORMATION, 0, tid));
        assert!(!thread.0.is_null(), "OpenThread({tid}): {}", std::io::Error::last_os_error());
        let mut ctx = Box::new(Aligned(std::mem::zeroed()));
        ctx.0.ContextFlags = CONTEXT_FULL_AMD64;
        assert_ne!(GetThreadContext(thread.0, &mut ctx.0), 0, "GetThreadContext: {}", std::io::Error::last_os_error());
        let rip = ctx.0.Rip;
        assert!(rip == pc || rip == pc + 1, "the thread's rip {rip:#x}, the trace's pc {pc:#x}");
        ctx.0.Rip = pc;
        assert_ne!(
            SymInitialize(process.0, std::ptr::null(), 1),
            0,
            "SymInitialize: {}",
            std::io::Error::last_os_error()
        );
        let mut frame = STACKFRAME64::default();
        frame.AddrPC.Offset = ctx.0.Rip;
        frame.AddrPC.Mode = AddrModeFlat;
        frame.AddrStack.Offset = ctx.0.Rsp;
        frame.AddrStack.Mode = AddrModeFlat;
        frame.AddrFrame.Offset = ctx.0.Rbp;
        frame.AddrFrame.Mode = AddrModeFlat;
        let mut frames = Vec::new();
        while frames.len() < max {
            let ok = StackWalk64(
                MACHINE_AMD64,
                process.0,
                thread.0,
                &mut frame,
                (&mut ctx.0 as *mut CONTEXT).cast(),
                None,
                Some(SymFunctionTableAccess64),
                Some(SymGetModuleBase64),
                None,
            );
            if ok == 0 || frame.AddrPC.Offset == 0 {
                break;
            }
            frames.push(StackWalkFrame {
                pc: frame.AddrPC.Offset,
                stack: frame.AddrStack.Offset,
                ret: frame.AddrReturn.Offset,
            });
        }
        SymCleanup(process.0);
        frames
    }
}
