//! Per-thread registers, read lazily a group at a time and written back before
//! the thread runs again.

use super::Trace;
use crate::arch::RegisterGroup;
use crate::error::{Error, Result, Tid};
use crate::registers::{RegValue, RegisterContext};

impl Trace {
    /// The register context of `tid` with the given group loaded.
    pub(super) fn context_with(&mut self, tid: Tid, group: RegisterGroup) -> Result<&mut RegisterContext> {
        self.require_stopped()?;
        if !self.registers.contains_key(&tid) {
            if !self.platform.has_thread(tid) {
                return Err(Error::NoSuchThread { pid: self.pid, tid });
            }
            if !self.platform.is_stopped(tid) {
                // Left running by a stop handled one thread at a time (and
                // perhaps ended meanwhile).
                self.ensure_all_stopped()?;
                if !self.platform.has_thread(tid) {
                    return Err(Error::NoSuchThread { pid: self.pid, tid });
                }
            }
            self.registers.insert(tid, RegisterContext::new(self.arch));
        }
        if !self.registers[&tid].is_loaded(group) {
            let mut block = vec![0; self.arch.group_size(group)];
            self.platform.read_registers(tid, group, &mut block)?;
            self.registers.get_mut(&tid).expect("inserted above").load(group, block)?;
            if group == RegisterGroup::General {
                // A thread inside an out-of-line copy is shown where the original code is.
                self.leave_scratch(tid)?;
            }
        }
        Ok(self.registers.get_mut(&tid).expect("inserted above"))
    }

    /// Every register of a thread (all groups loaded). Changes made through it
    /// are written back before the thread runs again.
    pub fn register_context(&mut self, tid: Tid) -> Result<&mut RegisterContext> {
        for group in RegisterGroup::ALL {
            self.context_with(tid, group)?;
        }
        Ok(self.registers.get_mut(&tid).expect("loaded above"))
    }

    /// Every register of the current thread.
    pub fn registers(&mut self) -> Result<&mut RegisterContext> {
        self.register_context(self.current_tid)
    }

    /// One register of a thread, by name (`rax`, `eax`, `al`, `xmm0`, `ymm1`, `dr7`...).
    pub fn thread_register(&mut self, tid: Tid, name: &str) -> Result<RegValue> {
        let def = self
            .arch
            .register(name)
            .ok_or_else(|| Error::UnknownRegister { name: name.to_owned(), arch: self.arch.name })?;
        self.context_with(tid, def.group)?.get_def(def)
    }

    /// Sets one register of a thread by name. The value must fit the register.
    pub fn set_thread_register(&mut self, tid: Tid, name: &str, value: impl Into<RegValue>) -> Result<()> {
        let def = self
            .arch
            .register(name)
            .ok_or_else(|| Error::UnknownRegister { name: name.to_owned(), arch: self.arch.name })?;
        self.context_with(tid, def.group)?.set(def.name, value.into())
    }

    /// One register of the current thread, by name.
    pub fn register(&mut self, name: &str) -> Result<RegValue> {
        self.thread_register(self.current_tid, name)
    }

    /// One register of the current thread as an integer (registers up to 64 bits).
    pub fn register_u64(&mut self, name: &str) -> Result<u64> {
        let value = self.register(name)?;
        value.to_u64().ok_or_else(|| Error::InvalidArgument(format!("register {name} is wider than 64 bits")))
    }

    /// Sets one register of the current thread by name.
    pub fn set_register(&mut self, name: &str, value: impl Into<RegValue>) -> Result<()> {
        self.set_thread_register(self.current_tid, name, value)
    }

    /// The program counter of the current thread.
    pub fn pc(&mut self) -> Result<u64> {
        self.thread_pc(self.current_tid)
    }

    /// The program counter of a thread.
    pub fn thread_pc(&mut self, tid: Tid) -> Result<u64> {
        self.context_with(tid, RegisterGroup::General)?.pc()
    }

    /// Moves the current thread's program counter.
    pub fn set_pc(&mut self, pc: u64) -> Result<()> {
        self.context_with(self.current_tid, RegisterGroup::General)?.set_pc(pc)
    }

    /// The stack pointer of the current thread.
    pub fn sp(&mut self) -> Result<u64> {
        self.context_with(self.current_tid, RegisterGroup::General)?.sp()
    }

    /// Sets the stack pointer of the current thread.
    pub fn set_sp(&mut self, sp: u64) -> Result<()> {
        self.context_with(self.current_tid, RegisterGroup::General)?.set_sp(sp)
    }

    /// Writes back every changed register and forgets the cached values
    /// (before threads run, since they will change).
    pub(super) fn flush_registers(&mut self) -> Result<()> {
        let mut first_error = None;
        // Threads that ended since their registers were read have nothing to write back.
        let platform = &self.platform;
        self.registers.retain(|tid, _| platform.has_thread(*tid));
        for (tid, ctx) in self.registers.iter_mut() {
            for group in ctx.dirty_groups() {
                let block = ctx.block(group).expect("a dirty group is loaded").to_vec();
                match self.platform.write_registers(*tid, group, &block) {
                    Ok(()) => ctx.mark_clean(group),
                    Err(e) => {
                        first_error.get_or_insert(e);
                    }
                }
            }
        }
        self.registers.clear();
        first_error.map_or(Ok(()), Err)
    }
}
