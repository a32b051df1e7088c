//! Thread contexts: a Windows `CONTEXT` seen as oxtrace's x86_64 register
//! groups, laid out as on Linux (see [`crate::arch::x86_64`]), so that every
//! register has the same name and place on both systems.
//!
//! * General: the words of `user_regs_struct`. `orig_rax` has no counterpart
//!   (reads as -1, writes are ignored); `fs_base` is 0 and `gs_base` the
//!   thread's TEB, which is where `gs` points on Windows x64 (both read-only).
//! * Vector: the FXSAVE image is the CONTEXT's `FltSave` itself; the upper
//!   halves of the AVX registers (at 576, as in the XSAVE area) come from the
//!   context's XSTATE area (`CONTEXT_XSTATE`, `XSTATE_AVX`). Where the system
//!   gives no AVX state they read as zero and writes to them are refused.
//! * Debug: DR0-DR3, DR6 and DR7 (DR4 and DR5 read as zero).

use super::sys::{Context, YMMH_LEN};
use crate::arch::RegisterGroup;

/// The General block's words, in `user_regs_struct` order.
const GENERAL: usize = 27;

/// Where the AVX upper halves start in the Vector block.
const YMMH: usize = 576;

/// Reads one group of `ctx` into `buf` (of the group's size).
pub(super) fn read_group(ctx: &Context, teb: u64, group: RegisterGroup, buf: &mut [u8]) {
    match group {
        RegisterGroup::General => {
            for (i, word) in general_words(ctx, teb).iter().enumerate() {
                buf[i * 8..i * 8 + 8].copy_from_slice(&word.to_le_bytes());
            }
        }
        RegisterGroup::Vector => {
            buf.fill(0);
            buf[..512].copy_from_slice(&ctx.fxsave());
            if let Some(ymmh) = &ctx.1 {
                buf[YMMH..YMMH + YMMH_LEN].copy_from_slice(ymmh);
            }
        }
        RegisterGroup::Debug => {
            let c = &ctx.0;
            let words = [c.Dr0, c.Dr1, c.Dr2, c.Dr3, 0, 0, c.Dr6, c.Dr7];
            for (i, word) in words.iter().enumerate() {
                buf[i * 8..i * 8 + 8].copy_from_slice(&word.to_le_bytes());
            }
        }
    }
}

/// Writes one group from `buf` into `ctx`.
pub(super) fn write_group(ctx: &mut Context, group: RegisterGroup, buf: &[u8]) {
    let word = |i: usize| u64::from_le_bytes(buf[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
    match group {
        RegisterGroup::General => {
            let c = &mut ctx.0;
            let w: [u64; GENERAL] = std::array::from_fn(word);
            [c.R15, c.R14, c.R13, c.R12, c.Rbp, c.Rbx, c.R11, c.R10, c.R9, c.R8] =
                [w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7], w[8], w[9]];
            [c.Rax, c.Rcx, c.Rdx, c.Rsi, c.Rdi] = [w[10], w[11], w[12], w[13], w[14]];
            // w[15] is orig_rax: Windows has none.
            c.Rip = w[16];
            c.SegCs = w[17] as u16;
            c.EFlags = w[18] as u32;
            c.Rsp = w[19];
            c.SegSs = w[20] as u16;
            // w[21], w[22]: fs_base and gs_base cannot be set through a CONTEXT.
            [c.SegDs, c.SegEs, c.SegFs, c.SegGs] = [w[23] as u16, w[24] as u16, w[25] as u16, w[26] as u16];
        }
        RegisterGroup::Vector => {
            let area: &[u8; 512] = buf[..512].try_into().expect("512 bytes");
            ctx.set_fxsave(area);
            if let Some(ymmh) = &mut ctx.1 {
                ymmh.copy_from_slice(&buf[YMMH..YMMH + YMMH_LEN]);
            }
        }
        RegisterGroup::Debug => {
            let c = &mut ctx.0;
            [c.Dr0, c.Dr1, c.Dr2, c.Dr3] = [word(0), word(1), word(2), word(3)];
            c.Dr6 = word(6);
            c.Dr7 = word(7);
        }
    }
}

/// Whether writing `buf` to `group` would drop AVX upper halves the context
/// cannot hold (non-zero ones where the system gave no XSTATE).
pub(super) fn loses_avx(ctx: &Context, group: RegisterGroup, buf: &[u8]) -> bool {
    group == RegisterGroup::Vector && ctx.1.is_none() && buf[YMMH..YMMH + YMMH_LEN].iter().any(|&b| b != 0)
}

fn general_words(ctx: &Context, teb: u64) -> [u64; GENERAL] {
    let c = &ctx.0;
    [
        c.R15,
        c.R14,
        c.R13,
        c.R12,
        c.Rbp,
        c.Rbx,
        c.R11,
        c.R10,
        c.R9,
        c.R8,
        c.Rax,
        c.Rcx,
        c.Rdx,
        c.Rsi,
        c.Rdi,
        u64::MAX, // orig_rax
        c.Rip,
        u64::from(c.SegCs),
        u64::from(c.EFlags),
        c.Rsp,
        u64::from(c.SegSs),
        0,   // fs_base
        teb, // gs_base
        u64::from(c.SegDs),
        u64::from(c.SegEs),
        u64::from(c.SegFs),
        u64::from(c.SegGs),
    ]
}
