//! The Win32 calls of the backend, each behind a safe function: the one file
//! of the backend with `unsafe` code.

use std::io;
use std::ptr::{null, null_mut};

use windows_sys::Win32::Foundation::{
    CloseHandle, GetLastError, DBG_CONTINUE, DBG_EXCEPTION_NOT_HANDLED, ERROR_SEM_TIMEOUT, HANDLE, NTSTATUS,
};
use windows_sys::Win32::Storage::FileSystem::GetFinalPathNameByHandleW;
use windows_sys::Win32::System::Diagnostics::Debug as dbg;
use windows_sys::Win32::System::LibraryLoader::{GetModuleHandleW, GetProcAddress};
use windows_sys::Win32::System::Memory as mem;
use windows_sys::Win32::System::ProcessStatus::K32GetMappedFileNameW;
use windows_sys::Win32::System::SystemServices::XSTATE_AVX;
use windows_sys::Win32::System::Threading as thr;

pub(super) use dbg::CONTEXT;

/// A handle value, kept as an integer so that what holds it may cross threads
/// (the interrupter). Handles the system gives in debug events belong to the
/// system, which closes them; [`OwnedHandle`] closes the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Handle(usize);

impl Handle {
    fn raw(self) -> HANDLE {
        self.0 as HANDLE
    }

    fn from_raw(handle: HANDLE) -> Option<Handle> {
        (!handle.is_null() && handle as isize != -1).then_some(Handle(handle as usize))
    }
}

/// A handle of ours, closed when dropped.
#[derive(Debug)]
pub(super) struct OwnedHandle(Handle);

impl OwnedHandle {
    pub(super) fn get(&self) -> Handle {
        self.0
    }
}

impl Drop for OwnedHandle {
    fn drop(&mut self) {
        // SAFETY: the handle is ours (opened by us, or handed to us to close) and closed once.
        unsafe { CloseHandle(self.0.raw()) };
    }
}

fn check(ok: i32) -> io::Result<()> {
    if ok != 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// What a debug event says, decoded.
#[derive(Debug)]
pub(super) enum DebugEvent {
    CreateProcess { process: Handle, thread: Handle, file: Option<OwnedHandle>, base: u64, start: u64, teb: u64 },
    CreateThread { thread: Handle, teb: u64 },
    ExitThread { code: u32 },
    ExitProcess { code: u32 },
    LoadDll { file: Option<OwnedHandle>, base: u64 },
    UnloadDll { base: u64 },
    DebugString { addr: u64, unicode: bool, len: u16 },
    Exception { code: u32, address: u64, first_chance: bool, params: Vec<u64> },
    Rip { error: u32, kind: u32 },
}

/// One debug event: the process and thread it concerns, and what it says.
#[derive(Debug)]
pub(super) struct RawEvent {
    pub pid: u32,
    pub tid: u32,
    pub event: DebugEvent,
}

/// Waits at most `millis` (`u32::MAX`: forever) for the next debug event of
/// the processes this thread debugs. (`WaitForDebugEvent`: wine 8 has no
/// `WaitForDebugEventEx`; debug strings say themselves whether they are UTF-16.)
pub(super) fn wait_event(millis: u32) -> io::Result<Option<RawEvent>> {
    let mut raw = dbg::DEBUG_EVENT::default();
    // SAFETY: `raw` is a valid DEBUG_EVENT to fill.
    if unsafe { dbg::WaitForDebugEvent(&mut raw, millis) } == 0 {
        // SAFETY: reads the calling thread's last error.
        return match unsafe { GetLastError() } {
            ERROR_SEM_TIMEOUT => Ok(None),
            _ => Err(io::Error::last_os_error()),
        };
    }
    // SAFETY: each arm reads the union member that the event code says is valid.
    let event = unsafe {
        match raw.dwDebugEventCode {
            dbg::CREATE_PROCESS_DEBUG_EVENT => {
                let i = raw.u.CreateProcessInfo;
                DebugEvent::CreateProcess {
                    process: Handle(i.hProcess as usize),
                    thread: Handle(i.hThread as usize),
                    file: Handle::from_raw(i.hFile).map(OwnedHandle),
                    base: i.lpBaseOfImage as u64,
                    start: i.lpStartAddress.map_or(0, |f| f as usize as u64),
                    teb: i.lpThreadLocalBase as u64,
                }
            }
            dbg::CREATE_THREAD_DEBUG_EVENT => {
                let i = raw.u.CreateThread;
                DebugEvent::CreateThread { thread: Handle(i.hThread as usize), teb: i.lpThreadLocalBase as u64 }
            }
            dbg::EXIT_THREAD_DEBUG_EVENT => DebugEvent::ExitThread { code: raw.u.ExitThread.dwExitCode },
            dbg::EXIT_PROCESS_DEBUG_EVENT => DebugEvent::ExitProcess { code: raw.u.ExitProcess.dwExitCode },
            dbg::LOAD_DLL_DEBUG_EVENT => {
                let i = raw.u.LoadDll;
                DebugEvent::LoadDll { file: Handle::from_raw(i.hFile).map(OwnedHandle), base: i.lpBaseOfDll as u64 }
            }
            dbg::UNLOAD_DLL_DEBUG_EVENT => DebugEvent::UnloadDll { base: raw.u.UnloadDll.lpBaseOfDll as u64 },
            dbg::OUTPUT_DEBUG_STRING_EVENT => {
                let i = raw.u.DebugString;
                DebugEvent::DebugString {
                    addr: i.lpDebugStringData as u64,
                    unicode: i.fUnicode != 0,
                    len: i.nDebugStringLength,
                }
            }
            dbg::EXCEPTION_DEBUG_EVENT => {
                let i = raw.u.Exception;
                let r = i.ExceptionRecord;
                let n = (r.NumberParameters as usize).min(r.ExceptionInformation.len());
                DebugEvent::Exception {
                    code: r.ExceptionCode as u32,
                    address: r.ExceptionAddress as u64,
                    first_chance: i.dwFirstChance != 0,
                    params: r.ExceptionInformation[..n].iter().map(|&p| p as u64).collect(),
                }
            }
            _ => {
                let i = raw.u.RipInfo;
                DebugEvent::Rip { error: i.dwError, kind: i.dwType }
            }
        }
    };
    Ok(Some(RawEvent { pid: raw.dwProcessId, tid: raw.dwThreadId, event }))
}

/// Lets the thread of the last debug event go on: `handled` says whether an
/// exception it reported was dealt with (`DBG_CONTINUE`) or goes to the
/// program's handlers (`DBG_EXCEPTION_NOT_HANDLED`).
pub(super) fn continue_event(pid: u32, tid: u32, handled: bool) -> io::Result<()> {
    let status: NTSTATUS = if handled { DBG_CONTINUE } else { DBG_EXCEPTION_NOT_HANDLED };
    // SAFETY: plain call with integer arguments.
    check(unsafe { dbg::ContinueDebugEvent(pid, tid, status) })
}

/// Starts a program under the debug API (`DEBUG_ONLY_THIS_PROCESS`).
/// `command_line` and `environment` are NUL-terminated UTF-16 (the environment
/// block double-NUL-terminated). Returns the process and thread ids.
pub(super) fn create_process(
    application: &[u16],
    command_line: &mut [u16],
    environment: Option<&[u16]>,
    directory: Option<&[u16]>,
) -> io::Result<(u32, u32)> {
    let startup = thr::STARTUPINFOW { cb: std::mem::size_of::<thr::STARTUPINFOW>() as u32, ..Default::default() };
    let mut info = thr::PROCESS_INFORMATION::default();
    let flags = thr::DEBUG_ONLY_THIS_PROCESS | thr::CREATE_UNICODE_ENVIRONMENT;
    // SAFETY: every pointer is to a live, NUL-terminated buffer (or null); `info` is filled on success.
    check(unsafe {
        thr::CreateProcessW(
            application.as_ptr(),
            command_line.as_mut_ptr(),
            null(),
            null(),
            1,
            flags,
            environment.map_or(null(), |e| e.as_ptr().cast()),
            directory.map_or(null(), <[u16]>::as_ptr),
            &startup,
            &mut info,
        )
    })?;
    // The debug events bring handles of their own.
    drop((OwnedHandle(Handle(info.hProcess as usize)), OwnedHandle(Handle(info.hThread as usize))));
    Ok((info.dwProcessId, info.dwThreadId))
}

/// Attaches to a running process (`DebugActiveProcess`).
pub(super) fn debug_active_process(pid: u32) -> io::Result<()> {
    // SAFETY: plain call.
    check(unsafe { dbg::DebugActiveProcess(pid) })
}

/// Detaches from a process (`DebugActiveProcessStop`).
pub(super) fn debug_active_process_stop(pid: u32) -> io::Result<()> {
    // SAFETY: plain call.
    check(unsafe { dbg::DebugActiveProcessStop(pid) })
}

/// Whether the processes this thread debugs die when it ends (`DebugSetProcessKillOnExit`).
pub(super) fn kill_on_exit(kill: bool) -> io::Result<()> {
    // SAFETY: plain call.
    check(unsafe { dbg::DebugSetProcessKillOnExit(i32::from(kill)) })
}

/// Opens a process with every right (for the interrupter, which outlives no event).
pub(super) fn open_process(pid: u32) -> io::Result<OwnedHandle> {
    // SAFETY: plain call; the handle is checked.
    let handle = unsafe { thr::OpenProcess(thr::PROCESS_ALL_ACCESS, 0, pid) };
    Handle::from_raw(handle).map(OwnedHandle).ok_or_else(io::Error::last_os_error)
}

/// Ends a process (`TerminateProcess`).
pub(super) fn terminate(process: Handle, code: u32) -> io::Result<()> {
    // SAFETY: plain call.
    check(unsafe { thr::TerminateProcess(process.raw(), code) })
}

/// Makes the process raise a breakpoint exception in a new thread (`DebugBreakProcess`).
pub(super) fn debug_break(process: Handle) -> io::Result<()> {
    // SAFETY: plain call.
    check(unsafe { dbg::DebugBreakProcess(process.raw()) })
}

/// Suspends a thread one count more.
pub(super) fn suspend(thread: Handle) -> io::Result<()> {
    // SAFETY: plain call.
    match unsafe { thr::SuspendThread(thread.raw()) } {
        u32::MAX => Err(io::Error::last_os_error()),
        _ => Ok(()),
    }
}

/// Takes one suspension count off a thread.
pub(super) fn resume(thread: Handle) -> io::Result<()> {
    // SAFETY: plain call.
    match unsafe { thr::ResumeThread(thread.raw()) } {
        u32::MAX => Err(io::Error::last_os_error()),
        _ => Ok(()),
    }
}

/// A CONTEXT as GetThreadContext wants it: aligned on 16 bytes. The second
/// field is the upper halves of YMM0-15 (16 bytes each), where the thread's
/// XSTATE could be read (`None` where the system gives no AVX state).
#[repr(C, align(16))]
#[derive(Clone, Copy)]
pub(super) struct Context(pub CONTEXT, pub Option<[u8; YMMH_LEN]>);

/// Bytes of the AVX upper halves (`XSTATE_AVX`'s area).
pub(super) const YMMH_LEN: usize = 256;

/// The AVX bit of the XSTATE feature masks.
const AVX_MASK: u64 = 1u64 << XSTATE_AVX;

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context").field("rip", &self.0.Rip).finish_non_exhaustive()
    }
}

impl Context {
    /// The x87/SSE state, in the FXSAVE format.
    pub(super) fn fxsave(&self) -> [u8; 512] {
        // SAFETY: XSAVE_FORMAT is 512 bytes of plain integers; any view of it is valid.
        unsafe { std::mem::transmute(self.0.Anonymous.FltSave) }
    }

    /// Replaces the x87/SSE state with an FXSAVE image.
    pub(super) fn set_fxsave(&mut self, area: &[u8; 512]) {
        // SAFETY: as above: 512 bytes of plain integers.
        self.0.Anonymous.FltSave = unsafe { std::mem::transmute::<[u8; 512], dbg::XSAVE_FORMAT>(*area) };
    }
}

/// Whether the system keeps AVX state in thread contexts.
fn avx_enabled() -> bool {
    // SAFETY: no arguments; reads the system's enabled features.
    unsafe { dbg::GetEnabledXStateFeatures() & AVX_MASK != 0 }
}

/// A CONTEXT with its XSTATE area, laid out by InitializeContext in a buffer
/// of the size it asks for.
struct XContext {
    _buf: Vec<u8>,
    ctx: *mut CONTEXT,
}

impl XContext {
    const FLAGS: u32 = dbg::CONTEXT_ALL_AMD64 | dbg::CONTEXT_XSTATE_AMD64;

    fn new() -> io::Result<XContext> {
        let mut len = 0u32;
        let mut ctx = null_mut();
        // SAFETY: a null buffer only asks for the length (the call then fails
        // with ERROR_INSUFFICIENT_BUFFER, which is expected).
        unsafe { dbg::InitializeContext(null_mut(), Self::FLAGS, &mut ctx, &mut len) };
        if len == 0 {
            return Err(io::Error::last_os_error());
        }
        let mut buf = vec![0u8; len as usize];
        // SAFETY: `buf` has the `len` bytes asked for; InitializeContext aligns
        // the CONTEXT inside it and returns where. The Vec's heap block does
        // not move while `buf` lives in the XContext.
        check(unsafe { dbg::InitializeContext(buf.as_mut_ptr().cast(), Self::FLAGS, &mut ctx, &mut len) })?;
        // SAFETY: `ctx` is the CONTEXT just initialised.
        check(unsafe { dbg::SetXStateFeaturesMask(ctx, AVX_MASK) })?;
        Ok(XContext { _buf: buf, ctx })
    }

    /// The AVX area of the context, if it has one of the expected size.
    fn ymmh(&mut self) -> Option<&mut [u8; YMMH_LEN]> {
        let mut len = 0u32;
        // SAFETY: `self.ctx` is an initialised CONTEXT with an XSTATE area.
        let area = unsafe { dbg::LocateXStateFeature(self.ctx, XSTATE_AVX, &mut len) };
        if area.is_null() || (len as usize) < YMMH_LEN {
            return None;
        }
        // SAFETY: LocateXStateFeature gave `len` >= YMMH_LEN bytes inside our
        // buffer, which `&mut self` borrows.
        Some(unsafe { &mut *area.cast::<[u8; YMMH_LEN]>() })
    }
}

/// Every register of a stopped thread (`CONTEXT_ALL`, and the AVX state
/// through `CONTEXT_XSTATE` where the system gives it).
pub(super) fn get_context(thread: Handle) -> io::Result<Box<Context>> {
    if avx_enabled() {
        if let Ok(ctx) = get_xstate_context(thread) {
            return Ok(ctx);
        }
    }
    let mut ctx = Box::new(Context(CONTEXT::default(), None));
    ctx.0.ContextFlags = dbg::CONTEXT_ALL_AMD64;
    // SAFETY: `ctx` is an aligned CONTEXT with its flags set.
    check(unsafe { dbg::GetThreadContext(thread.raw(), &mut ctx.0) })?;
    Ok(ctx)
}

fn get_xstate_context(thread: Handle) -> io::Result<Box<Context>> {
    let mut x = XContext::new()?;
    // SAFETY: an initialised CONTEXT with its XSTATE area and flags set.
    check(unsafe { dbg::GetThreadContext(thread.raw(), x.ctx) })?;
    // SAFETY: as above; the CONTEXT part is plain data.
    let (raw, flags) = unsafe { (*x.ctx, (*x.ctx).ContextFlags) };
    if flags & dbg::CONTEXT_XSTATE_AMD64 != dbg::CONTEXT_XSTATE_AMD64 {
        return Err(io::Error::other("no XSTATE in the thread's context"));
    }
    let mut present = 0u64;
    // SAFETY: as above.
    check(unsafe { dbg::GetXStateFeaturesMask(x.ctx, &mut present) })?;
    let mut ymmh = [0u8; YMMH_LEN];
    // An AVX state not in the mask is in its initial state: all zeros.
    if present & AVX_MASK != 0 {
        ymmh = *x.ymmh().ok_or_else(|| io::Error::other("no AVX area in the context"))?;
    }
    let mut ctx = Box::new(Context(raw, Some(ymmh)));
    ctx.0.ContextFlags = dbg::CONTEXT_ALL_AMD64;
    Ok(ctx)
}

/// Writes every register of a stopped thread back.
pub(super) fn set_context(thread: Handle, ctx: &Context) -> io::Result<()> {
    if let Some(ymmh) = ctx.1 {
        let mut x = XContext::new()?;
        // SAFETY: the CONTEXT part of the initialised buffer is plain data;
        // its XSTATE area (after it) is left as InitializeContext set it.
        unsafe {
            *x.ctx = ctx.0;
            (*x.ctx).ContextFlags = XContext::FLAGS;
        }
        *x.ymmh().ok_or_else(|| io::Error::other("no AVX area in the context"))? = ymmh;
        // SAFETY: an initialised, filled CONTEXT with its XSTATE area.
        return check(unsafe { dbg::SetThreadContext(thread.raw(), x.ctx) });
    }
    let mut ctx = Box::new(*ctx);
    ctx.0.ContextFlags = dbg::CONTEXT_ALL_AMD64;
    // SAFETY: an aligned, filled CONTEXT.
    check(unsafe { dbg::SetThreadContext(thread.raw(), &ctx.0) })
}

/// Reads up to `buf.len()` bytes; returns how many were read.
pub(super) fn read_memory(process: Handle, addr: u64, buf: &mut [u8]) -> io::Result<usize> {
    let mut done = 0usize;
    // SAFETY: `buf` is valid for `buf.len()` bytes of writes.
    let ok = unsafe {
        dbg::ReadProcessMemory(process.raw(), addr as usize as *const _, buf.as_mut_ptr().cast(), buf.len(), &mut done)
    };
    if ok == 0 && done == 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(done)
}

/// Writes `data`; returns how many bytes were written.
pub(super) fn write_memory(process: Handle, addr: u64, data: &[u8]) -> io::Result<usize> {
    let mut done = 0usize;
    // SAFETY: `data` is valid for `data.len()` bytes of reads.
    let ok = unsafe {
        dbg::WriteProcessMemory(process.raw(), addr as usize as *const _, data.as_ptr().cast(), data.len(), &mut done)
    };
    if ok == 0 && done == 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(done)
}

/// Drops the processor's copies of code just written.
pub(super) fn flush_instruction_cache(process: Handle, addr: u64, len: usize) {
    // SAFETY: plain call; the range needs not be valid.
    unsafe { dbg::FlushInstructionCache(process.raw(), addr as usize as *const _, len) };
}

/// One region of a process's address space, as `VirtualQueryEx` describes it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Region {
    pub base: u64,
    pub allocation_base: u64,
    pub size: u64,
    pub state: u32,
    pub protect: u32,
    pub kind: u32,
}

/// The region that contains `addr`, or `None` past the end of the address space.
pub(super) fn query(process: Handle, addr: u64) -> Option<Region> {
    let mut info = mem::MEMORY_BASIC_INFORMATION::default();
    let size = std::mem::size_of::<mem::MEMORY_BASIC_INFORMATION>();
    // SAFETY: `info` is valid for `size` bytes.
    let got = unsafe { mem::VirtualQueryEx(process.raw(), addr as usize as *const _, &mut info, size) };
    (got == size).then_some(Region {
        base: info.BaseAddress as u64,
        allocation_base: info.AllocationBase as u64,
        size: info.RegionSize as u64,
        state: info.State,
        protect: info.Protect,
        kind: info.Type,
    })
}

/// Commits new memory in the process (`VirtualAllocEx`).
pub(super) fn allocate(process: Handle, hint: u64, size: u64, protect: u32) -> io::Result<u64> {
    // SAFETY: plain call; the result is checked.
    let addr = unsafe {
        mem::VirtualAllocEx(
            process.raw(),
            hint as usize as *const _,
            size as usize,
            mem::MEM_COMMIT | mem::MEM_RESERVE,
            protect,
        )
    };
    if addr.is_null() {
        Err(io::Error::last_os_error())
    } else {
        Ok(addr as u64)
    }
}

/// Changes the protection of pages (`VirtualProtectEx`); returns the old one.
pub(super) fn protect(process: Handle, addr: u64, size: u64, protect: u32) -> io::Result<u32> {
    let mut old = 0;
    // SAFETY: plain call; `old` receives the old protection.
    check(unsafe {
        mem::VirtualProtectEx(process.raw(), addr as usize as *const _, size as usize, protect, &mut old)
    })?;
    Ok(old)
}

/// Releases memory of [`allocate`] (`VirtualFreeEx`, the whole allocation).
pub(super) fn free(process: Handle, addr: u64) -> io::Result<()> {
    // SAFETY: plain call.
    check(unsafe { mem::VirtualFreeEx(process.raw(), addr as usize as *mut _, 0, mem::MEM_RELEASE) })
}

fn utf16_to_string(buf: &[u16], len: usize) -> Option<String> {
    (len > 0 && len < buf.len()).then(|| String::from_utf16_lossy(&buf[..len]))
}

/// The path of an open file (`GetFinalPathNameByHandleW`), without the `\\?\` prefix.
pub(super) fn final_path(file: Handle) -> Option<String> {
    let mut buf = vec![0u16; 1024];
    // SAFETY: `buf` is valid for its length in UTF-16 units.
    let len = unsafe { GetFinalPathNameByHandleW(file.raw(), buf.as_mut_ptr(), buf.len() as u32, 0) } as usize;
    let path = utf16_to_string(&buf, len)?;
    Some(path.strip_prefix(r"\\?\").map(str::to_owned).unwrap_or(path))
}

/// The file mapped at `addr` in the process, as the system names it.
pub(super) fn mapped_file_name(process: Handle, addr: u64) -> Option<String> {
    let mut buf = vec![0u16; 1024];
    // SAFETY: `buf` is valid for its length in UTF-16 units.
    let len =
        unsafe { K32GetMappedFileNameW(process.raw(), addr as usize as *const _, buf.as_mut_ptr(), buf.len() as u32) }
            as usize;
    utf16_to_string(&buf, len)
}

/// Starts a thread in the process at `start` with `parameter` in its first
/// argument register (`CreateRemoteThread`); returns its id. The thread is
/// announced by a debug event like any other, which brings its handle.
pub(super) fn create_remote_thread(process: Handle, start: u64, parameter: u64) -> io::Result<u32> {
    // SAFETY: `start` is an address in the other process: it is never called
    // here, only passed on. A null pointer is not created (checked by the caller).
    let routine: thr::LPTHREAD_START_ROUTINE = unsafe { std::mem::transmute::<usize, _>(start as usize) };
    let mut tid = 0u32;
    // SAFETY: plain call; the returned handle is checked and closed.
    let handle = unsafe {
        thr::CreateRemoteThread(process.raw(), null(), 0, routine, parameter as usize as *const _, 0, &mut tid)
    };
    let handle = Handle::from_raw(handle).map(OwnedHandle).ok_or_else(io::Error::last_os_error)?;
    drop(handle);
    Ok(tid)
}

/// The offset of an exported function from the base of a system DLL, as
/// loaded in this process: system DLLs are the same files in the debuggee.
pub(super) fn export_offset(module: &str, function: &str) -> Option<u64> {
    let wide: Vec<u16> = module.encode_utf16().chain([0]).collect();
    let name: Vec<u8> = function.bytes().chain([0]).collect();
    // SAFETY: NUL-terminated names; the results are checked.
    let (base, proc) = unsafe {
        let base = GetModuleHandleW(wide.as_ptr());
        if base.is_null() {
            return None;
        }
        (base, GetProcAddress(base, name.as_ptr())?)
    };
    Some((proc as usize as u64).wrapping_sub(base as u64))
}
