//! The registers an unwinder knows for one frame, by DWARF number, in the
//! layout of one architecture ([`UnwindLayout`]).

use std::fmt;

use crate::arch::UnwindLayout;

/// The registers of one frame; `None` where the value is not known (a
/// caller-saved register the callee may have clobbered).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct UnwindRegs {
    layout: &'static UnwindLayout,
    values: [Option<u64>; UnwindLayout::MAX_REGISTERS],
}

impl UnwindRegs {
    /// No register known yet, in `layout` (an [`Arch`](crate::arch::Arch)'s `unwind`).
    pub fn new(layout: &'static UnwindLayout) -> UnwindRegs {
        UnwindRegs { layout, values: [None; UnwindLayout::MAX_REGISTERS] }
    }

    /// No register known, in the same architecture as `self`.
    pub fn empty_like(&self) -> UnwindRegs {
        UnwindRegs::new(self.layout)
    }

    /// The architecture's register roles.
    pub fn layout(&self) -> &'static UnwindLayout {
        self.layout
    }

    /// The value of DWARF register `number`, if known.
    pub fn get(&self, number: u16) -> Option<u64> {
        self.values.get(usize::from(number)).copied().flatten()
    }

    /// Sets (or forgets, with `None`) DWARF register `number`; numbers the
    /// layout does not track are ignored.
    pub fn set(&mut self, number: u16, value: Option<u64>) {
        if usize::from(number) < self.layout.names.len() {
            self.values[usize::from(number)] = value;
        }
    }

    /// The value of a register by name (`rbx`, `rip`, `x19`, `pc`), if known.
    pub fn by_name(&self, name: &str) -> Option<u64> {
        let number = self.layout.names.iter().position(|n| n.eq_ignore_ascii_case(name))?;
        self.values[number]
    }

    /// The program counter.
    pub fn pc(&self) -> Option<u64> {
        self.get(self.layout.pc)
    }

    /// The stack pointer.
    pub fn sp(&self) -> Option<u64> {
        self.get(self.layout.sp)
    }

    /// The frame pointer.
    pub fn fp(&self) -> Option<u64> {
        self.get(self.layout.fp)
    }

    /// Sets the program counter.
    pub fn set_pc(&mut self, value: Option<u64>) {
        self.set(self.layout.pc, value);
    }

    /// Sets the stack pointer.
    pub fn set_sp(&mut self, value: Option<u64>) {
        self.set(self.layout.sp, value);
    }

    /// A caller's registers as far as the callee keeps them: the
    /// callee-saved registers copied, every other one unknown.
    pub fn callee_saved(&self) -> UnwindRegs {
        let mut caller = self.empty_like();
        for &number in self.layout.callee_saved {
            caller.set(number, self.get(number));
        }
        caller
    }

    /// Every known register as `(name, value)`, in DWARF order.
    pub fn known(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        self.layout.names.iter().zip(self.values).filter_map(|(name, v)| Some((*name, v?)))
    }
}

impl fmt::Debug for UnwindRegs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.known().map(|(name, value)| (name, format!("{value:#x}")))).finish()
    }
}
