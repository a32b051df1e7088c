//! The registers an unwinder knows for one frame, by DWARF number.

/// x86_64 DWARF register numbers (System V psABI) the unwinder tracks: the 16
/// general registers and the return address column (`rip`).
pub const DWARF_REGISTER_NAMES: [&str; 17] = [
    "rax", "rdx", "rcx", "rbx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "rip",
];

/// DWARF number of `rbp`.
pub const RBP: u16 = 6;
/// DWARF number of `rsp`.
pub const RSP: u16 = 7;
/// DWARF number of the return address column (`rip`).
pub const RIP: u16 = 16;

/// Registers a callee must preserve (rbx, rbp, r12-r15): where CFI says
/// nothing of them, the caller has the same value.
pub const CALLEE_SAVED: [u16; 6] = [3, 6, 12, 13, 14, 15];

/// The general registers of one frame; `None` where the value is not known
/// (a caller-saved register the callee may have clobbered).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UnwindRegs {
    values: [Option<u64>; 17],
}

impl UnwindRegs {
    /// The value of DWARF register `number`, if known.
    pub fn get(&self, number: u16) -> Option<u64> {
        self.values.get(usize::from(number)).copied().flatten()
    }

    /// Sets (or forgets, with `None`) DWARF register `number`; numbers past `rip` are ignored.
    pub fn set(&mut self, number: u16, value: Option<u64>) {
        if let Some(slot) = self.values.get_mut(usize::from(number)) {
            *slot = value;
        }
    }

    /// The value of a register by name (`rbx`, `rip`), if known.
    pub fn by_name(&self, name: &str) -> Option<u64> {
        let number = DWARF_REGISTER_NAMES.iter().position(|n| n.eq_ignore_ascii_case(name))?;
        self.values[number]
    }

    /// The program counter.
    pub fn pc(&self) -> Option<u64> {
        self.get(RIP)
    }

    /// The stack pointer.
    pub fn sp(&self) -> Option<u64> {
        self.get(RSP)
    }

    /// The frame pointer.
    pub fn fp(&self) -> Option<u64> {
        self.get(RBP)
    }

    /// Every known register as `(name, value)`, in DWARF order.
    pub fn known(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        DWARF_REGISTER_NAMES.iter().zip(self.values).filter_map(|(name, v)| Some((*name, v?)))
    }
}
