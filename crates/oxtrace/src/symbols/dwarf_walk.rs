//! One walk over every DIE of every unit of a file's DWARF, for the lookups
//! by name (types, enumerators, globals, functions, inlined copies) that have
//! no address to narrow them to one unit.

use super::ctype::{Converter, Entry};
use super::lines::{LineInfo, Reader};

impl LineInfo {
    /// Calls `found` with each DIE in depth-first order, unit after unit, and
    /// returns the first answer.
    ///
    /// A unit that cannot be read is skipped, and so is the rest of a unit
    /// whose DIEs stop parsing. State the visitor keeps between calls sees
    /// each new unit start with its root DIE, at depth 0.
    pub(super) fn find_die<T>(
        &self,
        mut found: impl FnMut(&gimli::UnitRef<'_, Reader>, &Entry) -> Option<T>,
    ) -> Option<T> {
        let dwarf = self.dwarf();
        let mut headers = dwarf.units();
        while let Ok(Some(header)) = headers.next() {
            let Ok(unit) = dwarf.unit(header) else { continue };
            let unit = unit.unit_ref(dwarf);
            let mut cursor = unit.entries();
            while let Ok(Some(entry)) = cursor.next_dfs() {
                if let Some(answer) = found(&unit, entry) {
                    return Some(answer);
                }
            }
        }
        None
    }

    /// [`LineInfo::find_die`] with a [`Converter`] for the DIE's unit
    /// (`module` is the path recorded in the type references it makes).
    pub(super) fn find_in_units<T>(
        &self,
        module: &str,
        mut visit: impl FnMut(&Converter<'_>, &Entry) -> Option<T>,
    ) -> Option<T> {
        self.find_die(|unit, entry| visit(&Converter { unit: *unit, module }, entry))
    }
}
