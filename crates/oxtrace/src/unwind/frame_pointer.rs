//! Unwinding by frame pointers, for x86_64 code built with them.
//!
//! Each frame's `rbp` points at the caller's saved `rbp`, with the return
//! address above it. That chain is only set up after a function's prologue
//! (`push %rbp; mov %rsp,%rbp`), so the innermost frame is handled by looking
//! at the prologue: stopped at a function's first instruction, the return
//! address is at `[rsp]` (vtrace reads `[rbp+8]` there and loses the caller).
//! Code built without frame pointers needs the DWARF CFI unwinder.

/// One frame: its pc (for frames after the first, a return address: symbolize `pc - 1`),
/// and the stack and frame pointers it had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame {
    /// Program counter.
    pub pc: u64,
    /// Stack pointer.
    pub sp: u64,
    /// Frame pointer.
    pub fp: u64,
}

/// The registers the walk starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameRegs {
    /// Program counter.
    pub pc: u64,
    /// Stack pointer.
    pub sp: u64,
    /// Frame pointer.
    pub fp: u64,
}

const ENDBR64: [u8; 4] = [0xf3, 0x0f, 0x1e, 0xfa];
const PUSH_RBP: u8 = 0x55;
const MOV_RSP_RBP: [u8; 3] = [0x48, 0x89, 0xe5];

/// Where the innermost frame stands in its function's prologue.
enum Prologue {
    /// Nothing pushed yet: the return address is at `[sp]`.
    BeforePush,
    /// `rbp` pushed, not yet moved: the return address is at `[sp + 8]`, the caller's `rbp` at `[sp]`.
    AfterPush,
    /// The frame is set up.
    Done,
}

fn prologue_state(pc: u64, start: u64, read: &mut dyn FnMut(u64, &mut [u8]) -> bool) -> Prologue {
    let mut code = [0u8; 8];
    if pc < start || pc - start > 8 || !read(start, &mut code) {
        return Prologue::Done;
    }
    let push_at = if code[..4] == ENDBR64 { 4 } else { 0 };
    if code[push_at] != PUSH_RBP || code[push_at + 1..push_at + 4] != MOV_RSP_RBP {
        return Prologue::Done;
    }
    match pc - start {
        off if off <= push_at as u64 => Prologue::BeforePush,
        off if off == push_at as u64 + 1 => Prologue::AfterPush,
        _ => Prologue::Done,
    }
}

fn read_u64(read: &mut dyn FnMut(u64, &mut [u8]) -> bool, addr: u64) -> Option<u64> {
    let mut buf = [0u8; 8];
    read(addr, &mut buf).then(|| u64::from_le_bytes(buf))
}

/// Walks the frame-pointer chain from `regs`, at most `max_frames` frames.
/// `function_start(pc)` gives the start of the function holding `pc`;
/// `read(addr, buf)` fills `buf` from memory and says whether it could.
pub fn unwind_frame_pointers(
    regs: FrameRegs,
    function_start: &mut dyn FnMut(u64) -> Option<u64>,
    read: &mut dyn FnMut(u64, &mut [u8]) -> bool,
    max_frames: usize,
) -> Vec<Frame> {
    let mut frames = Vec::new();
    if max_frames == 0 {
        return frames;
    }
    frames.push(Frame { pc: regs.pc, sp: regs.sp, fp: regs.fp });
    // The caller of the innermost frame, per its prologue.
    let prologue = function_start(regs.pc).map_or(Prologue::Done, |start| prologue_state(regs.pc, start, read));
    let (mut pc, mut sp, mut fp) = match prologue {
        Prologue::BeforePush => match read_u64(read, regs.sp) {
            Some(ret) => (ret, regs.sp + 8, regs.fp),
            None => return frames,
        },
        Prologue::AfterPush => match (read_u64(read, regs.sp + 8), read_u64(read, regs.sp)) {
            (Some(ret), Some(saved)) => (ret, regs.sp + 16, saved),
            _ => return frames,
        },
        Prologue::Done => match (read_u64(read, regs.fp.wrapping_add(8)), read_u64(read, regs.fp)) {
            (Some(ret), Some(saved)) if regs.fp != 0 => (ret, regs.fp + 16, saved),
            _ => return frames,
        },
    };
    while frames.len() < max_frames && pc != 0 {
        frames.push(Frame { pc, sp, fp });
        // The next frame must be further up the stack.
        if fp == 0 || fp < sp.saturating_sub(16) {
            break;
        }
        let (Some(ret), Some(saved)) = (read_u64(read, fp.wrapping_add(8)), read_u64(read, fp)) else {
            break;
        };
        if saved != 0 && saved <= fp {
            // A chain that does not climb is garbage (or the outermost frame).
            if ret != 0 {
                frames.push(Frame { pc: ret, sp: fp + 16, fp: saved });
            }
            break;
        }
        (pc, sp, fp) = (ret, fp + 16, saved);
    }
    frames
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake process: code at 0x1000 (two functions), a stack at 0x8000.
    struct Fake {
        code: Vec<u8>,
        stack: Vec<u64>,
    }

    const CODE: u64 = 0x1000;
    const STACK: u64 = 0x8000;

    impl Fake {
        fn read(&self, addr: u64, buf: &mut [u8]) -> bool {
            let bytes: Vec<u8> = if (CODE..CODE + self.code.len() as u64).contains(&addr) {
                self.code[(addr - CODE) as usize..].to_vec()
            } else if (STACK..STACK + 8 * self.stack.len() as u64).contains(&addr) {
                self.stack.iter().flat_map(|w| w.to_le_bytes()).skip((addr - STACK) as usize).collect()
            } else {
                return false;
            };
            if bytes.len() < buf.len() {
                return false;
            }
            buf.copy_from_slice(&bytes[..buf.len()]);
            true
        }
    }

    fn walk(fake: &Fake, regs: FrameRegs) -> Vec<u64> {
        let mut start = |pc: u64| Some(if pc >= CODE + 0x40 { CODE + 0x40 } else { CODE });
        let mut read = |addr: u64, buf: &mut [u8]| fake.read(addr, buf);
        unwind_frame_pointers(regs, &mut start, &mut read, 64).iter().map(|f| f.pc).collect()
    }

    /// Function at 0x1000 with endbr64 + push rbp + mov rsp,rbp.
    fn code() -> Vec<u8> {
        let mut code = vec![0x90; 0x80];
        code[..8].copy_from_slice(&[0xf3, 0x0f, 0x1e, 0xfa, 0x55, 0x48, 0x89, 0xe5]);
        code
    }

    /// A stack of three frames: inner fp at 0x8000 -> 0x8010 -> 0x8020 -> 0.
    fn stack() -> Vec<u64> {
        vec![0x8010, 0x2001, 0x8020, 0x3001, 0, 0x4001]
    }

    #[test]
    fn chain_mid_function() {
        let fake = Fake { code: code(), stack: stack() };
        let pcs = walk(&fake, FrameRegs { pc: CODE + 0x20, sp: STACK - 0x10, fp: STACK });
        assert_eq!(pcs, [CODE + 0x20, 0x2001, 0x3001, 0x4001]);
    }

    #[test]
    fn at_function_entry_the_return_address_is_on_top() {
        // rsp points at the return address 0x2001; rbp is still the caller's (0x8010).
        let fake = Fake { code: code(), stack: vec![0x2001, 0, 0x8020, 0x3001, 0, 0x4001] };
        let pcs = walk(&fake, FrameRegs { pc: CODE, sp: STACK, fp: STACK + 0x10 });
        assert_eq!(pcs, [CODE, 0x2001, 0x3001, 0x4001]);
        // After endbr64, before the push: the same.
        let pcs = walk(&fake, FrameRegs { pc: CODE + 4, sp: STACK, fp: STACK + 0x10 });
        assert_eq!(pcs, [CODE + 4, 0x2001, 0x3001, 0x4001]);
    }

    #[test]
    fn after_the_push_the_return_address_is_one_word_up() {
        let fake = Fake { code: code(), stack: vec![0x8010, 0x2001, 0x8020, 0x3001, 0, 0x4001] };
        let pcs = walk(&fake, FrameRegs { pc: CODE + 5, sp: STACK, fp: 0xdead });
        assert_eq!(pcs, [CODE + 5, 0x2001, 0x3001, 0x4001]);
    }

    #[test]
    fn garbage_stops_cleanly() {
        let fake = Fake { code: code(), stack: vec![0x8000, 0x2001, 0x8000, 0x3001] };
        let pcs = walk(&fake, FrameRegs { pc: CODE + 0x20, sp: STACK, fp: STACK });
        assert!(pcs.len() <= 3, "{pcs:x?}");
        let pcs = walk(&fake, FrameRegs { pc: CODE + 0x20, sp: STACK, fp: 0x10 });
        assert_eq!(pcs, [CODE + 0x20]);
    }
}
