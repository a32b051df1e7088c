//! Frames as dbghelp's `StackWalk64` reports them on x64, to compare a walk
//! of oxtrace's with Windows' own on the same stop.
//!
//! `StackWalk64` gives, per frame, `AddrPC` (the frame's pc), `AddrStack`
//! (its stack pointer) and `AddrReturn` (the pc of the next frame). A
//! backend's test walks the same thread both ways and hands both lists to
//! [`compare_with_stackwalk`].

use super::Frame;

/// One frame in `StackWalk64`'s terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StackWalkFrame {
    /// `AddrPC.Offset`.
    pub pc: u64,
    /// `AddrStack.Offset`.
    pub stack: u64,
    /// `AddrReturn.Offset` (0 for the last frame).
    pub ret: u64,
}

/// oxtrace's frames in `StackWalk64`'s terms.
pub fn as_stackwalk(frames: &[Frame]) -> Vec<StackWalkFrame> {
    frames
        .iter()
        .enumerate()
        .map(|(i, f)| StackWalkFrame { pc: f.pc, stack: f.sp, ret: frames.get(i + 1).map_or(0, |c| c.pc) })
        .collect()
}

/// Compares oxtrace's walk with `StackWalk64`'s, frame by frame, as far as
/// the shorter goes (dbghelp may stop earlier or later at the stack's base:
/// at least `min_frames` must agree). The error names the first difference.
pub fn compare_with_stackwalk(ours: &[Frame], theirs: &[StackWalkFrame], min_frames: usize) -> Result<(), String> {
    let ours = as_stackwalk(ours);
    let common = ours.len().min(theirs.len());
    if common < min_frames {
        return Err(format!("only {common} frames to compare (oxtrace {}, StackWalk64 {})", ours.len(), theirs.len()));
    }
    for (i, (a, b)) in ours.iter().zip(theirs).enumerate().take(common) {
        // The last frame compared may be the end of one walk only: its return address is not compared.
        let same = a.pc == b.pc && a.stack == b.stack && (i + 1 == common || a.ret == b.ret);
        if !same {
            return Err(format!(
                "frame {i}: oxtrace pc {:#x} sp {:#x} ret {:#x}, StackWalk64 pc {:#x} sp {:#x} ret {:#x}",
                a.pc, a.stack, a.ret, b.pc, b.stack, b.ret
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::x86_64::X86_64;
    use crate::unwind::{UnwindMethod, UnwindRegs};

    fn frame(pc: u64, sp: u64) -> Frame {
        let regs = UnwindRegs::new(&X86_64.unwind);
        Frame {
            pc,
            sp,
            cfa: None,
            regs,
            exact_pc: false,
            signal_trampoline: false,
            method: UnwindMethod::Pdata,
            saved_at: regs,
        }
    }

    #[test]
    fn frames_compare_by_pc_stack_and_return_address() {
        let ours = [frame(0x1000, 0x7f00), frame(0x2000, 0x7f40), frame(0x3000, 0x7f80)];
        let theirs = as_stackwalk(&ours);
        assert_eq!(theirs[1], StackWalkFrame { pc: 0x2000, stack: 0x7f40, ret: 0x3000 });
        assert_eq!(compare_with_stackwalk(&ours, &theirs, 3), Ok(()));
        // dbghelp went one frame less deep: the common part still agrees.
        assert_eq!(compare_with_stackwalk(&ours, &theirs[..2], 2), Ok(()));
        assert!(compare_with_stackwalk(&ours, &theirs[..2], 3).unwrap_err().starts_with("only 2 frames"));
        let mut wrong = theirs.clone();
        wrong[1].stack += 8;
        let err = compare_with_stackwalk(&ours, &wrong, 3).unwrap_err();
        assert!(err.starts_with("frame 1: oxtrace pc 0x2000 sp 0x7f40"), "{err}");
    }
}
