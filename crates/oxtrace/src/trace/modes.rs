//! Run modes: how [`Trace::run`](crate::Trace::run) behaves.

use super::Trace;

/// A run mode, switched with [`Trace::set_mode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Keep running after every event until the process exits, an interrupt
    /// arrives, or the mode is turned off (by a notifier, say).
    RunForever,
    /// [`Trace::stepi`] fires no `Step` notifiers (for tools that step a lot).
    FastStep,
    /// [`Trace::run`] single-steps the current thread instead of continuing;
    /// with `RunForever` it steps until something stops it.
    SingleStep,
    /// Stop at every system call entry and exit of every thread.
    Syscall,
}

/// The set of modes that are on.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Modes {
    pub run_forever: bool,
    pub fast_step: bool,
    pub single_step: bool,
    pub syscall: bool,
}

impl Modes {
    fn slot(&mut self, mode: Mode) -> &mut bool {
        match mode {
            Mode::RunForever => &mut self.run_forever,
            Mode::FastStep => &mut self.fast_step,
            Mode::SingleStep => &mut self.single_step,
            Mode::Syscall => &mut self.syscall,
        }
    }
}

impl Trace {
    /// Turns a mode on or off.
    pub fn set_mode(&mut self, mode: Mode, on: bool) {
        *self.modes.slot(mode) = on;
    }

    /// Whether a mode is on.
    pub fn mode(&self, mode: Mode) -> bool {
        let mut modes = self.modes;
        *modes.slot(mode)
    }
}
