//! Where the arguments of a call go, by calling convention: which registers,
//! which stack slots, and where the stack pointer stands when the function
//! starts. [`Trace::call`](crate::Trace::call) lays its calls out with the
//! convention its platform names (the System V AMD64 ABI on Linux, the
//! Microsoft x64 convention on Windows, cdecl for i386).
//!
//! Only the placement is decided here (no process is touched), so every rule
//! is tested without one.

/// One argument value, as the convention places it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgValue {
    /// An integer or a pointer (a general register, or a stack word).
    Int(u64),
    /// A `double`, by its bits (a vector register, or a stack word).
    Double(u64),
}

impl ArgValue {
    fn bits(self) -> u64 {
        match self {
            ArgValue::Int(v) | ArgValue::Double(v) => v,
        }
    }
}

/// A calling convention of C functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallingConvention {
    /// The System V AMD64 ABI (Linux, x86_64): integers in `rdi`, `rsi`,
    /// `rdx`, `rcx`, `r8`, `r9`, doubles in `xmm0`-`xmm7`, each counted
    /// apart; the rest on the stack; a 128-byte red zone below `rsp`; `al`
    /// holds the number of vector registers used (for variadic callees).
    SysV64,
    /// The Microsoft x64 convention (Windows): the first four arguments by
    /// position in `rcx`, `rdx`, `r8`, `r9` (or `xmm0`-`xmm3` for doubles,
    /// copied to the integer register too, as variadic callees expect), the
    /// rest on the stack above 32 bytes of shadow space the callee owns; no red zone.
    Microsoft64,
    /// cdecl (i386): every argument on the stack, four bytes each.
    Cdecl32,
}

/// Where one call's arguments and return address go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallLayout {
    /// Registers to set, by name.
    pub registers: Vec<(&'static str, u64)>,
    /// Stack words to write, `(address, value)`, the return address included.
    pub stack: Vec<(u64, u64)>,
    /// The stack pointer at the function's first instruction (the return address is there).
    pub sp: u64,
}

const SYSV_INT: [&str; 6] = ["rdi", "rsi", "rdx", "rcx", "r8", "r9"];
const SYSV_SSE: [&str; 8] = ["xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7"];
const MS_INT: [&str; 4] = ["rcx", "rdx", "r8", "r9"];
const MS_SSE: [&str; 4] = ["xmm0", "xmm1", "xmm2", "xmm3"];

impl CallingConvention {
    /// The integer argument registers, in order.
    pub fn int_registers(self) -> &'static [&'static str] {
        match self {
            CallingConvention::SysV64 => &SYSV_INT,
            CallingConvention::Microsoft64 => &MS_INT,
            CallingConvention::Cdecl32 => &[],
        }
    }

    /// The size of a stack slot (and of the return address).
    pub fn word(self) -> u64 {
        match self {
            CallingConvention::Cdecl32 => 4,
            _ => 8,
        }
    }

    /// Bytes below the stack pointer a leaf function may use, which a call must skip.
    pub fn red_zone(self) -> u64 {
        match self {
            CallingConvention::SysV64 => 128,
            _ => 0,
        }
    }

    /// The space the caller reserves above the return address for the callee
    /// to spill its register arguments (32 bytes on Windows x64).
    pub fn shadow_space(self) -> u64 {
        match self {
            CallingConvention::Microsoft64 => 32,
            _ => 0,
        }
    }

    /// Where the first stack argument is, from the stack pointer at the
    /// function's first instruction (past the return address and the shadow space).
    pub fn stack_args_offset(self) -> u64 {
        self.word() + self.shadow_space()
    }

    /// The register holding an integer result.
    pub fn int_return(self) -> &'static str {
        match self {
            CallingConvention::Cdecl32 => "eax",
            _ => "rax",
        }
    }

    /// The register holding a `double` result (`st0` on i386).
    pub fn double_return(self) -> &'static str {
        match self {
            CallingConvention::Cdecl32 => "st0",
            _ => "xmm0",
        }
    }

    /// The integer argument `index` of a function stopped at its first
    /// instruction with stack pointer `sp`: a register name, or a stack address.
    pub fn int_argument(self, index: usize, sp: u64) -> Result<&'static str, u64> {
        match self.int_registers().get(index) {
            Some(register) => Ok(register),
            None => {
                let slot = (index - self.int_registers().len()) as u64;
                Err(sp + self.stack_args_offset() + slot * self.word())
            }
        }
    }

    /// Lays out a call of `args` returning to `return_address`, with the
    /// stack usable below `sp` (already past any red zone and copied data).
    /// The stack is 16-byte aligned at the call (the return address sits just below a 16-byte boundary).
    pub fn layout(self, sp: u64, args: &[ArgValue], return_address: u64) -> CallLayout {
        let word = self.word();
        let mut registers = Vec::new();
        let mut on_stack = Vec::new();
        match self {
            CallingConvention::SysV64 => {
                let (mut ints, mut sses) = (0, 0);
                for arg in args {
                    match arg {
                        ArgValue::Int(v) if ints < SYSV_INT.len() => {
                            registers.push((SYSV_INT[ints], *v));
                            ints += 1;
                        }
                        ArgValue::Double(v) if sses < SYSV_SSE.len() => {
                            registers.push((SYSV_SSE[sses], *v));
                            sses += 1;
                        }
                        other => on_stack.push(other.bits()),
                    }
                }
                registers.push(("rax", sses as u64));
            }
            CallingConvention::Microsoft64 => {
                for (i, arg) in args.iter().enumerate() {
                    match (arg, MS_INT.get(i)) {
                        (ArgValue::Int(v), Some(register)) => registers.push((register, *v)),
                        (ArgValue::Double(v), Some(register)) => {
                            registers.push((MS_SSE[i], *v));
                            registers.push((register, *v));
                        }
                        (other, None) => on_stack.push(other.bits()),
                    }
                }
            }
            CallingConvention::Cdecl32 => on_stack.extend(args.iter().map(|a| a.bits())),
        }
        // The arguments (above the shadow space) start at a 16-byte boundary: the call's.
        let area = self.shadow_space() + word * on_stack.len() as u64;
        let call_sp = sp.wrapping_sub(area) & !15;
        let mut stack: Vec<(u64, u64)> =
            on_stack.iter().enumerate().map(|(i, v)| (call_sp + self.shadow_space() + word * i as u64, *v)).collect();
        let entry_sp = call_sp - word;
        stack.push((entry_sp, return_address));
        CallLayout { registers, stack, sp: entry_sp }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ArgValue::{Double, Int};

    const RET: u64 = 0x4000_1000;

    #[test]
    fn microsoft_x64_uses_four_registers_by_position_then_the_stack_above_the_shadow_space() {
        let ms = CallingConvention::Microsoft64;
        let args: Vec<ArgValue> = (1..=6).map(Int).collect();
        let layout = ms.layout(0x7fff_0f38, &args, RET);
        assert_eq!(layout.registers, [("rcx", 1), ("rdx", 2), ("r8", 3), ("r9", 4)]);
        // At the call rsp is 16-aligned; at entry it is 8 below, the return address there.
        assert_eq!(layout.sp % 16, 8);
        let entry = layout.sp;
        assert_eq!(layout.stack, [(entry + 40, 5), (entry + 48, 6), (entry, RET)]);
        assert!(entry + 56 <= 0x7fff_0f38, "the arguments stay below the given stack pointer");
        assert_eq!(ms.int_argument(1, entry), Ok("rdx"));
        assert_eq!(ms.int_argument(5, entry), Err(entry + 48));
        assert_eq!((ms.red_zone(), ms.shadow_space(), ms.int_return(), ms.double_return()), (0, 32, "rax", "xmm0"));
    }

    #[test]
    fn microsoft_x64_puts_doubles_in_the_xmm_register_of_their_position() {
        let layout =
            CallingConvention::Microsoft64.layout(0x1000, &[Int(7), Double(0x4000), Int(9), Double(1), Double(2)], RET);
        assert_eq!(
            layout.registers,
            [("rcx", 7), ("xmm1", 0x4000), ("rdx", 0x4000), ("r8", 9), ("xmm3", 1), ("r9", 1)]
        );
        // Even with no stack argument, the shadow space is reserved above the return address.
        assert_eq!(layout.stack, [(layout.sp + 40, 2), (layout.sp, RET)]);
        let bare = CallingConvention::Microsoft64.layout(0x1000, &[], RET);
        assert_eq!((bare.sp, bare.stack.len()), (0x1000 - 32 - 8, 1));
    }

    #[test]
    fn system_v_counts_integer_and_vector_registers_apart() {
        let sysv = CallingConvention::SysV64;
        let mut args: Vec<ArgValue> = (1..=7).map(Int).collect();
        args.insert(1, Double(0x3ff0));
        let layout = sysv.layout(0x2000, &args, RET);
        assert_eq!(
            layout.registers,
            [("rdi", 1), ("xmm0", 0x3ff0), ("rsi", 2), ("rdx", 3), ("rcx", 4), ("r8", 5), ("r9", 6), ("rax", 1)]
        );
        assert_eq!(layout.stack, [(layout.sp + 8, 7), (layout.sp, RET)]);
        assert_eq!(layout.sp % 16, 8);
        assert_eq!(sysv.int_argument(6, layout.sp), Err(layout.sp + 8));
    }

    #[test]
    fn cdecl_puts_everything_on_the_stack_in_words_of_four() {
        let layout = CallingConvention::Cdecl32.layout(0x3000, &[Int(1), Int(2), Int(3)], RET);
        assert!(layout.registers.is_empty());
        assert_eq!(layout.stack, [(layout.sp + 4, 1), (layout.sp + 8, 2), (layout.sp + 12, 3), (layout.sp, RET)]);
        assert_eq!((layout.sp + 4) % 16, 0);
    }
}
