//! Child processes: a `fork`, `vfork` or `clone` without `CLONE_THREAD` of a
//! traced process gives a child that the kernel traces too (ptrace's fork
//! options), stopped before its first instruction. Until the trace cleans it,
//! it holds every breakpoint byte of its parent, so it is handed over as a
//! backend of its own ([`Platform::take_child`](crate::platform::Platform::take_child)).

use super::status::MAILBOX;
use super::{sys, LinuxProcess, ThreadState};
use crate::error::{Pid, Result, Tid};
use crate::platform::StopReason;

/// `CLONE_THREAD`: the new task joins the caller's thread group.
const CLONE_THREAD: u64 = 0x10000;
/// System call numbers of `clone` and `clone3`: (x86_64, i386).
const SYS_CLONE: (u64, u64) = (56, 120);
const SYS_CLONE3: u64 = 435;
/// Slots of `user_regs_struct`, in 8-byte words: the first argument of a
/// system call (`rdi`; `ebx` for a 32-bit program) and its number.
const RDI_SLOT: usize = 14;
const RBX_SLOT: usize = 5;
const ORIG_RAX_SLOT: usize = 15;

impl LinuxProcess {
    /// Whether the `clone` that thread `tid` (stopped at its clone event)
    /// made (`new_tid`) created a thread rather than a process: its `CLONE_THREAD` flag,
    /// read from the call's arguments. (`/proc` cannot tell: the new task
    /// may be gone already.)
    pub(super) fn clone_made_thread(&mut self, tid: Tid, new_tid: Tid) -> Result<bool> {
        let mut regs = [0u8; 216];
        sys::get_regs(tid, &mut regs).map_err(|e| self.os_error("PTRACE_GETREGS", tid, e))?;
        let word = |slot: usize| u64::from_le_bytes(regs[slot * 8..slot * 8 + 8].try_into().expect("8 bytes"));
        let wide = self.arch.unwind.address_size == 8;
        let (clone, first_arg) =
            if wide { (SYS_CLONE.0, word(RDI_SLOT)) } else { (SYS_CLONE.1, word(RBX_SLOT) & 0xffff_ffff) };
        let number = word(ORIG_RAX_SLOT);
        let flags = match number {
            n if n == clone => first_arg,
            SYS_CLONE3 => {
                // `struct clone_args` starts with the flags (a u64 in both widths).
                let mut flags = [0u8; 8];
                self.read_mem(first_arg, &mut flags)?;
                u64::from_le_bytes(flags)
            }
            // Not a clone call we know: ask the kernel who the task belongs
            // to (a task gone already was most likely a short thread).
            _ => return Ok(super::status::thread_group_of(new_tid).is_none_or(|group| group == self.pid)),
        };
        Ok(flags & CLONE_THREAD != 0)
    }

    /// The parent `self` created `child`: waits for the child's first stop,
    /// keeps the child for the trace, and says what happened.
    pub(super) fn child_created(&mut self, child: Pid, vfork: bool) -> Result<StopReason> {
        self.wait_first_stop(child)?;
        let mut process = LinuxProcess::new(child, self.spawned);
        process.threads.insert(child, ThreadState::stopped());
        process.poll_before_blocking = self.poll_before_blocking;
        self.children.push(process);
        Ok(StopReason::Forked { child, vfork })
    }

    /// A new child starts with a SIGSTOP (or dies at once). Its status may
    /// already sit in this thread's mailbox, taken by a `waitpid(-1)`.
    fn wait_first_stop(&mut self, child: Pid) -> Result<()> {
        let seen = MAILBOX.with(|m| {
            let mut m = m.borrow_mut();
            let i = m.iter().position(|&(tid, _)| tid == child)?;
            Some(m.remove(i))
        });
        if seen.is_some() {
            return Ok(());
        }
        loop {
            match sys::wait_pid(child, libc::__WALL) {
                Ok(Some(_)) => return Ok(()),
                Ok(None) => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.os_error("waitpid(new child)", child, e)),
            }
        }
    }
}
