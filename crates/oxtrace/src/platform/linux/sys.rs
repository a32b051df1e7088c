//! Thin wrappers over the Linux system calls the backend uses: ptrace, wait,
//! signals and cross-process memory reads.
//!
//! This is the only file of oxtrace with `unsafe` blocks. Each wrapper turns a raw
//! call into an `io::Result`, so the rest of the backend stays safe code. The
//! caller must respect ptrace's rule that only the thread that attached to a
//! tracee may issue requests for it.

use std::io;

use crate::error::{Pid, Tid};

/// `PTRACE_GET_SYSCALL_INFO` (Linux 5.3), not in every libc release.
const PTRACE_GET_SYSCALL_INFO: libc::c_uint = 0x420e;
/// `NT_X86_XSTATE`: the XSAVE area regset.
pub const NT_X86_XSTATE: libc::c_int = 0x202;
/// Offset of `u_debugreg` in `struct user` on x86_64.
pub const DEBUG_REG_OFFSET: usize = 848;

fn check(ret: libc::c_long) -> io::Result<libc::c_long> {
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// A ptrace request whose data argument is a plain integer.
fn request(req: libc::c_uint, tid: Tid, addr: usize, data: usize) -> io::Result<libc::c_long> {
    // SAFETY: the caller passes integer arguments only; requests that take
    // pointers go through the functions below, which pass valid buffers.
    check(unsafe { libc::ptrace(req, tid, addr, data) })
}

/// PTRACE_TRACEME, for the child between fork and exec. Async-signal-safe.
pub fn traceme() -> io::Result<()> {
    request(libc::PTRACE_TRACEME, 0, 0, 0).map(drop)
}

/// PTRACE_ATTACH: stops the thread with SIGSTOP.
pub fn attach(tid: Tid) -> io::Result<()> {
    request(libc::PTRACE_ATTACH, tid, 0, 0).map(drop)
}

/// PTRACE_DETACH, delivering `signal` (0 for none).
pub fn detach(tid: Tid, signal: i32) -> io::Result<()> {
    request(libc::PTRACE_DETACH, tid, 0, signal as usize).map(drop)
}

/// PTRACE_CONT.
pub fn cont(tid: Tid, signal: i32) -> io::Result<()> {
    request(libc::PTRACE_CONT, tid, 0, signal as usize).map(drop)
}

/// PTRACE_SINGLESTEP.
pub fn single_step(tid: Tid, signal: i32) -> io::Result<()> {
    request(libc::PTRACE_SINGLESTEP, tid, 0, signal as usize).map(drop)
}

/// PTRACE_SYSCALL.
pub fn cont_syscall(tid: Tid, signal: i32) -> io::Result<()> {
    request(libc::PTRACE_SYSCALL, tid, 0, signal as usize).map(drop)
}

/// PTRACE_SETOPTIONS.
pub fn set_options(tid: Tid, options: libc::c_int) -> io::Result<()> {
    request(libc::PTRACE_SETOPTIONS, tid, 0, options as usize).map(drop)
}

/// PTRACE_GETEVENTMSG.
pub fn event_message(tid: Tid) -> io::Result<u64> {
    let mut msg: libc::c_ulong = 0;
    // SAFETY: `msg` is a valid c_ulong the kernel writes to.
    check(unsafe { libc::ptrace(libc::PTRACE_GETEVENTMSG, tid, 0, &mut msg as *mut libc::c_ulong) })?;
    Ok(msg as u64)
}

/// PTRACE_GETSIGINFO.
pub fn signal_info(tid: Tid) -> io::Result<libc::siginfo_t> {
    // SAFETY: siginfo_t is plain old data; all-zero is a valid value.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: `info` is a valid siginfo_t the kernel fills in.
    check(unsafe { libc::ptrace(libc::PTRACE_GETSIGINFO, tid, 0, &mut info as *mut libc::siginfo_t) })?;
    Ok(info)
}

/// The fault address of a siginfo (meaningful for SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP).
pub fn siginfo_addr(info: &libc::siginfo_t) -> u64 {
    // SAFETY: reading the union member as an address is defined for every
    // siginfo; the caller decides whether the value is meaningful.
    unsafe { info.si_addr() as u64 }
}

/// The sender pid of a siginfo (meaningful for SI_USER, SI_TKILL, SI_QUEUE).
pub fn siginfo_pid(info: &libc::siginfo_t) -> Pid {
    // SAFETY: as above, a plain read of the union.
    unsafe { info.si_pid() }
}

/// PTRACE_GETREGS into a `user_regs_struct`-sized buffer.
pub fn get_regs(tid: Tid, buf: &mut [u8]) -> io::Result<()> {
    assert_eq!(buf.len(), std::mem::size_of::<libc::user_regs_struct>());
    // SAFETY: `buf` is exactly one user_regs_struct long and writable.
    check(unsafe { libc::ptrace(libc::PTRACE_GETREGS, tid, 0, buf.as_mut_ptr()) }).map(drop)
}

/// PTRACE_SETREGS from a `user_regs_struct`-sized buffer.
pub fn set_regs(tid: Tid, buf: &[u8]) -> io::Result<()> {
    assert_eq!(buf.len(), std::mem::size_of::<libc::user_regs_struct>());
    // SAFETY: `buf` is exactly one user_regs_struct long; the kernel only reads it.
    check(unsafe { libc::ptrace(libc::PTRACE_SETREGS, tid, 0, buf.as_ptr()) }).map(drop)
}

/// PTRACE_GETFPREGS into a 512-byte FXSAVE buffer.
pub fn get_fpregs(tid: Tid, buf: &mut [u8]) -> io::Result<()> {
    assert_eq!(buf.len(), std::mem::size_of::<libc::user_fpregs_struct>());
    // SAFETY: `buf` is exactly one user_fpregs_struct long and writable.
    check(unsafe { libc::ptrace(libc::PTRACE_GETFPREGS, tid, 0, buf.as_mut_ptr()) }).map(drop)
}

/// PTRACE_SETFPREGS from a 512-byte FXSAVE buffer.
pub fn set_fpregs(tid: Tid, buf: &[u8]) -> io::Result<()> {
    assert_eq!(buf.len(), std::mem::size_of::<libc::user_fpregs_struct>());
    // SAFETY: `buf` is exactly one user_fpregs_struct long; the kernel only reads it.
    check(unsafe { libc::ptrace(libc::PTRACE_SETFPREGS, tid, 0, buf.as_ptr()) }).map(drop)
}

/// PTRACE_GETREGSET; returns how many bytes the kernel wrote.
pub fn get_regset(tid: Tid, kind: libc::c_int, buf: &mut [u8]) -> io::Result<usize> {
    let mut iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
    // SAFETY: the iovec describes `buf`, which is valid and writable for its length.
    check(unsafe { libc::ptrace(libc::PTRACE_GETREGSET, tid, kind as usize, &mut iov as *mut libc::iovec) })?;
    Ok(iov.iov_len)
}

/// PTRACE_SETREGSET.
pub fn set_regset(tid: Tid, kind: libc::c_int, buf: &[u8]) -> io::Result<()> {
    let mut iov = libc::iovec { iov_base: buf.as_ptr() as *mut libc::c_void, iov_len: buf.len() };
    // SAFETY: the iovec describes `buf`; for SETREGSET the kernel only reads it.
    check(unsafe { libc::ptrace(libc::PTRACE_SETREGSET, tid, kind as usize, &mut iov as *mut libc::iovec) }).map(drop)
}

/// PTRACE_PEEKUSER: one word of the `struct user` area.
pub fn peek_user(tid: Tid, offset: usize) -> io::Result<u64> {
    // PEEKUSER returns the word itself, so -1 is ambiguous: clear errno first.
    // SAFETY: errno is thread-local; writing it is always allowed.
    unsafe { *libc::__errno_location() = 0 };
    // SAFETY: PEEKUSER takes only integers.
    let value = unsafe { libc::ptrace(libc::PTRACE_PEEKUSER, tid, offset, 0usize) };
    if value == -1 {
        let err = io::Error::last_os_error();
        if err.raw_os_error() != Some(0) {
            return Err(err);
        }
    }
    Ok(value as u64)
}

/// PTRACE_POKEUSER.
pub fn poke_user(tid: Tid, offset: usize, value: u64) -> io::Result<()> {
    request(libc::PTRACE_POKEUSER, tid, offset, value as usize).map(drop)
}

/// PTRACE_POKEDATA: one word of memory (the fallback when /proc/pid/mem is not writable).
pub fn poke_data(tid: Tid, addr: u64, value: u64) -> io::Result<()> {
    request(libc::PTRACE_POKEDATA, tid, addr as usize, value as usize).map(drop)
}

/// PTRACE_PEEKDATA: one word of memory.
pub fn peek_data(tid: Tid, addr: u64) -> io::Result<u64> {
    // SAFETY: errno is thread-local; writing it is always allowed.
    unsafe { *libc::__errno_location() = 0 };
    // SAFETY: PEEKDATA takes only integers.
    let value = unsafe { libc::ptrace(libc::PTRACE_PEEKDATA, tid, addr as usize, 0usize) };
    if value == -1 {
        let err = io::Error::last_os_error();
        if err.raw_os_error() != Some(0) {
            return Err(err);
        }
    }
    Ok(value as u64)
}

/// What PTRACE_GET_SYSCALL_INFO says about a syscall stop.
#[derive(Debug, Clone, Copy)]
pub enum SyscallInfo {
    /// Entering: number and arguments.
    Entry { number: u64, args: [u64; 6] },
    /// Leaving: return value.
    Exit { ret: i64 },
    /// Some other stop (seccomp, or not a syscall stop).
    Other,
}

/// PTRACE_GET_SYSCALL_INFO.
pub fn syscall_info(tid: Tid) -> io::Result<SyscallInfo> {
    // struct ptrace_syscall_info: op u8, pad, arch u32, ip u64, sp u64, then a union
    // of { nr u64, args u64[6] } and { rval s64, is_error u8 }. 96 bytes covers it.
    let mut raw = [0u64; 12];
    // SAFETY: the kernel writes at most `size` (the addr argument) bytes into `raw`.
    let len =
        check(unsafe { libc::ptrace(PTRACE_GET_SYSCALL_INFO, tid, std::mem::size_of_val(&raw), raw.as_mut_ptr()) })?;
    let op = (raw[0] & 0xff) as u8;
    Ok(match op {
        1 if len >= 80 => SyscallInfo::Entry { number: raw[3], args: [raw[4], raw[5], raw[6], raw[7], raw[8], raw[9]] },
        2 if len >= 33 => SyscallInfo::Exit { ret: raw[3] as i64 },
        _ => SyscallInfo::Other,
    })
}

/// `waitpid`. Returns `None` when `WNOHANG` was given and nothing is ready.
pub fn wait_pid(pid: Pid, flags: libc::c_int) -> io::Result<Option<(Tid, i32)>> {
    let mut status = 0;
    loop {
        // SAFETY: `status` is a valid int for the kernel to write.
        let ret = unsafe { libc::waitpid(pid, &mut status, flags) };
        if ret == -1 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(err);
        }
        return Ok(if ret == 0 { None } else { Some((ret, status)) });
    }
}

/// How many CPUs this thread may run on (`sched_getaffinity`); 1 when unknown.
pub fn cpus_allowed() -> usize {
    // SAFETY: an all-zero cpu_set_t is a valid (empty) set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: the kernel writes at most `size_of::<cpu_set_t>()` bytes into `set`.
    let ret = unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    if ret != 0 {
        return 1;
    }
    // SAFETY: CPU_COUNT only reads the set.
    (unsafe { libc::CPU_COUNT(&set) }) as usize
}

/// `kill`.
pub fn kill(pid: Pid, signal: i32) -> io::Result<()> {
    // SAFETY: kill takes only integers.
    check(unsafe { libc::kill(pid, signal) } as libc::c_long).map(drop)
}

/// `tgkill`: a signal to one thread.
pub fn tgkill(pid: Pid, tid: Tid, signal: i32) -> io::Result<()> {
    // SAFETY: the tgkill syscall takes only integers.
    check(unsafe { libc::syscall(libc::SYS_tgkill, pid, tid, signal) }).map(drop)
}

/// `process_vm_readv` of one range; returns the number of bytes read.
pub fn read_process_memory(pid: Pid, addr: u64, buf: &mut [u8]) -> io::Result<usize> {
    let local = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
    let remote = libc::iovec { iov_base: addr as *mut libc::c_void, iov_len: buf.len() };
    // SAFETY: `local` describes `buf`, valid and writable for its length; the
    // remote iovec is only an address in the other process and is never dereferenced here.
    let n = unsafe { libc::process_vm_readv(pid, &local, 1, &remote, 1, 0) };
    check(n as libc::c_long).map(|n| n as usize)
}

/// Between fork and exec in the child: be traced, die with the parent,
/// start with no signal blocked (whatever the tracer blocks, such as a
/// debugger reading its signals from a signalfd), and optionally turn
/// address-space randomization off. Async-signal-safe.
pub fn prepare_traced_child(disable_aslr: bool) -> io::Result<()> {
    // SAFETY: prctl with integer arguments.
    check(unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) } as libc::c_long)?;
    // SAFETY: an empty set built in place, then installed as the mask; both calls only touch `empty`.
    unsafe {
        let mut empty = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
        libc::sigemptyset(empty.as_mut_ptr());
        check(libc::sigprocmask(libc::SIG_SETMASK, empty.as_ptr(), std::ptr::null_mut()) as libc::c_long)?;
    }
    if disable_aslr {
        // SAFETY: personality takes an integer; 0xffffffff queries the current value.
        let current = unsafe { libc::personality(0xffff_ffff) };
        if current != -1 {
            // SAFETY: as above.
            unsafe {
                libc::personality(
                    (current as libc::c_ulong | libc::ADDR_NO_RANDOMIZE as libc::c_ulong) as libc::c_ulong,
                )
            };
        }
    }
    traceme()
}
