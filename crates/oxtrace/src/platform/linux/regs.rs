//! Register groups of x86_64 Linux threads.
//!
//! * General: `user_regs_struct` (PTRACE_GETREGS / SETREGS).
//! * Vector: the first 832 bytes of the XSAVE area (x87, SSE, the XSAVE header,
//!   and the upper halves of the AVX registers), through `NT_X86_XSTATE`; where
//!   the CPU has no XSAVE, the 512-byte FXSAVE area through GETFPREGS.
//! * Debug: DR0-DR7 through PEEKUSER / POKEUSER.

use super::{sys, LinuxProcess};
use crate::arch::RegisterGroup;
use crate::error::{Error, Result, Tid};

/// Bytes of the XSAVE area the Vector group holds.
const VECTOR_SIZE: usize = 832;
/// The legacy FXSAVE region.
const FXSAVE_SIZE: usize = 512;
/// Offset of XSTATE_BV in the XSAVE header.
const XSTATE_BV: usize = 512;
/// Offset of the AVX upper halves.
const YMM_HI: usize = 576;
/// The x87, SSE and AVX feature bits of XSTATE_BV.
const X87_SSE_AVX: u64 = 0b111;
/// Enough for any XSAVE area the kernel hands out today.
const XSAVE_MAX: usize = 16 * 1024;

impl LinuxProcess {
    pub(super) fn read_group(&mut self, tid: Tid, group: RegisterGroup, buf: &mut [u8]) -> Result<()> {
        match group {
            RegisterGroup::General => sys::get_regs(tid, buf).map_err(|e| self.os_error("PTRACE_GETREGS", tid, e)),
            RegisterGroup::Vector => self.read_vector(tid, buf),
            RegisterGroup::Debug => {
                for (i, chunk) in buf.chunks_exact_mut(8).enumerate() {
                    let value = match i {
                        4 | 5 => 0, // DR4 and DR5 are reserved aliases.
                        _ => sys::peek_user(tid, sys::DEBUG_REG_OFFSET + 8 * i)
                            .map_err(|e| self.os_error("PTRACE_PEEKUSER(debug register)", tid, e))?,
                    };
                    chunk.copy_from_slice(&value.to_le_bytes());
                }
                Ok(())
            }
        }
    }

    pub(super) fn write_group(&mut self, tid: Tid, group: RegisterGroup, buf: &[u8]) -> Result<()> {
        match group {
            RegisterGroup::General => sys::set_regs(tid, buf).map_err(|e| self.os_error("PTRACE_SETREGS", tid, e)),
            RegisterGroup::Vector => self.write_vector(tid, buf),
            RegisterGroup::Debug => {
                // DR7 off while the addresses change, then on: the kernel checks
                // every enabled slot as each register is written.
                let word = |i: usize| u64::from_le_bytes(buf[8 * i..8 * i + 8].try_into().expect("8 bytes"));
                let dr7 = word(7);
                let current_dr7 = self.peek_debug(tid, 7)?;
                let mut dr7_now = current_dr7;
                for i in [0, 1, 2, 3, 6] {
                    if self.peek_debug(tid, i)? == word(i) {
                        continue;
                    }
                    if dr7_now != 0 && i != 6 {
                        self.poke_debug(tid, 7, 0)?;
                        dr7_now = 0;
                    }
                    self.poke_debug(tid, i, word(i))?;
                }
                if dr7_now != dr7 {
                    self.poke_debug(tid, 7, dr7)?;
                }
                Ok(())
            }
        }
    }

    fn peek_debug(&self, tid: Tid, i: usize) -> Result<u64> {
        sys::peek_user(tid, sys::DEBUG_REG_OFFSET + 8 * i)
            .map_err(|e| self.os_error("PTRACE_PEEKUSER(debug register)", tid, e))
    }

    fn poke_debug(&self, tid: Tid, i: usize, value: u64) -> Result<()> {
        sys::poke_user(tid, sys::DEBUG_REG_OFFSET + 8 * i, value).map_err(|e| match e.raw_os_error() {
            Some(libc::EINVAL) | Some(libc::EIO) => {
                Error::InvalidArgument(format!("thread {tid}: the kernel refused dr{i} = {value:#x} ({e})"))
            }
            _ => self.os_error("PTRACE_POKEUSER(debug register)", tid, e),
        })
    }

    /// The whole XSAVE area (`NT_X86_XSTATE`), or `None` where the CPU has no XSAVE.
    pub(super) fn read_xsave(&mut self, tid: Tid) -> Result<Option<Vec<u8>>> {
        if self.xstate_size == Some(0) {
            return Ok(None);
        }
        let mut area = vec![0u8; XSAVE_MAX];
        match sys::get_regset(tid, sys::NT_X86_XSTATE, &mut area) {
            Ok(len) => {
                self.xstate_size = Some(len);
                area.truncate(len);
                Ok(Some(area))
            }
            Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL) | Some(libc::ENODEV) | Some(libc::EIO)) => {
                self.xstate_size = Some(0);
                Ok(None)
            }
            Err(e) => Err(self.os_error("PTRACE_GETREGSET(NT_X86_XSTATE)", tid, e)),
        }
    }

    fn read_vector(&mut self, tid: Tid, buf: &mut [u8]) -> Result<()> {
        debug_assert_eq!(buf.len(), VECTOR_SIZE);
        if self.xstate_size != Some(0) {
            let mut area = vec![0u8; XSAVE_MAX];
            match sys::get_regset(tid, sys::NT_X86_XSTATE, &mut area) {
                Ok(len) => {
                    self.xstate_size = Some(len);
                    let n = len.min(VECTOR_SIZE);
                    buf[..n].copy_from_slice(&area[..n]);
                    buf[n..].fill(0);
                    return Ok(());
                }
                Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL) | Some(libc::ENODEV) | Some(libc::EIO)) => {
                    self.xstate_size = Some(0);
                }
                Err(e) => return Err(self.os_error("PTRACE_GETREGSET(NT_X86_XSTATE)", tid, e)),
            }
        }
        buf.fill(0);
        sys::get_fpregs(tid, &mut buf[..FXSAVE_SIZE]).map_err(|e| self.os_error("PTRACE_GETFPREGS", tid, e))
    }

    fn write_vector(&mut self, tid: Tid, buf: &[u8]) -> Result<()> {
        match self.xstate_size {
            Some(len) if len > YMM_HI => {
                let mut area = vec![0u8; len];
                sys::get_regset(tid, sys::NT_X86_XSTATE, &mut area)
                    .map_err(|e| self.os_error("PTRACE_GETREGSET(NT_X86_XSTATE)", tid, e))?;
                area[..FXSAVE_SIZE].copy_from_slice(&buf[..FXSAVE_SIZE]);
                let hi_end = VECTOR_SIZE.min(len);
                area[YMM_HI..hi_end].copy_from_slice(&buf[YMM_HI..hi_end]);
                // Mark x87, SSE and AVX state as present, or the kernel keeps their init values.
                let bv = u64::from_le_bytes(area[XSTATE_BV..XSTATE_BV + 8].try_into().expect("8 bytes")) | X87_SSE_AVX;
                area[XSTATE_BV..XSTATE_BV + 8].copy_from_slice(&bv.to_le_bytes());
                sys::set_regset(tid, sys::NT_X86_XSTATE, &area)
                    .map_err(|e| self.os_error("PTRACE_SETREGSET(NT_X86_XSTATE)", tid, e))
            }
            _ => sys::set_fpregs(tid, &buf[..FXSAVE_SIZE]).map_err(|e| self.os_error("PTRACE_SETFPREGS", tid, e)),
        }
    }
}
