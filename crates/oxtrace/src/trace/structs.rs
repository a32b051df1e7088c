//! Reading C structs, unions and arrays from the debuggee by their type name,
//! with the layouts its DWARF describes.

use super::Trace;
use crate::error::{Error, Result};
use crate::symbols::{LineInfo, TypeLayout, Value};

impl Trace {
    /// The first answer `found` gives for a module's debug information and
    /// load bias, the program first, then the libraries (the order gdb looks in).
    fn find_in_debug_info<T>(&mut self, mut found: impl FnMut(&LineInfo, u64) -> Option<T>) -> Result<Option<T>> {
        let exe = self.platform.exe_path();
        let symbols = self.symbols()?;
        let mut modules: Vec<_> = symbols.modules().iter().collect();
        modules.sort_by_key(|m| exe.as_deref() != Some(m.path.as_str()));
        Ok(modules.iter().find_map(|m| found(m.image.lines()?, m.bias)))
    }

    /// The layout of a type of the debuggee (`struct stat`, `union number`, a
    /// typedef), from the first module whose DWARF defines it (the program first).
    pub fn type_layout(&mut self, name: &str) -> Result<TypeLayout> {
        self.find_in_debug_info(|lines, _| lines.type_layout(name))?
            .ok_or_else(|| Error::InvalidArgument(format!("no type {name:?} in the debug information")))
    }

    /// A global or static variable of the debuggee by its name in the debug
    /// information, as gdb's `print NAME` finds it (the program first, then
    /// the libraries): its address, its type, and its value read now.
    pub fn read_global(&mut self, name: &str) -> Result<(u64, TypeLayout, Value)> {
        let (addr, layout) = self
            .find_in_debug_info(|lines, bias| {
                let (file_addr, layout) = lines.global_variable(name)?;
                Some((file_addr.wrapping_add(bias), layout))
            })?
            .ok_or_else(|| {
                Error::NoSuchSymbol(format!("{name} (no variable of that name in the debug information)"))
            })?;
        let bytes = self.read_memory(addr, layout.size as usize)?;
        let value = layout.decode(&bytes);
        Ok((addr, layout, value))
    }

    /// Reads a value of type `type_name` at `addr`.
    pub fn read_typed(&mut self, type_name: &str, addr: u64) -> Result<Value> {
        let layout = self.type_layout(type_name)?;
        let bytes = self.read_memory(addr, layout.size as usize)?;
        Ok(layout.decode(&bytes))
    }

    /// A value of type `type_name` at `addr` as gdb's `print` shows it, with pointers symbolized.
    pub fn format_typed(&mut self, type_name: &str, addr: u64) -> Result<String> {
        let value = self.read_typed(type_name, addr)?;
        self.format_value(&value)
    }

    /// A value as gdb's `print` shows it, with pointers symbolized.
    pub fn format_value(&mut self, value: &Value) -> Result<String> {
        let symbols = self.symbols()?;
        let symbolize = |p: u64| symbols.sym_by_addr(p).map(|hit| hit.to_string());
        Ok(value.display_with(&symbolize))
    }
}
