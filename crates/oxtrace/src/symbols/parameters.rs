//! How many parameters a function takes, from its DWARF description, so that
//! a call with the wrong number of arguments is refused before it runs.

use super::lines::LineInfo;

/// A function's parameters as DWARF declares them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parameters {
    /// How many are named.
    pub count: usize,
    /// Whether more may follow (`...`).
    pub variadic: bool,
}

impl LineInfo {
    /// The parameters of the function whose code starts at the file address
    /// `function_start`, when DWARF describes it.
    pub fn parameters(&self, function_start: u64) -> Option<Parameters> {
        let unit = self.unit_at(function_start)?;
        let mut cursor = unit.entries();
        let mut function_depth = None;
        let mut found = Parameters { count: 0, variadic: false };
        while let Ok(Some(entry)) = cursor.next_dfs() {
            match function_depth {
                None => {
                    let low_pc =
                        entry.attr_value(gimli::DW_AT_low_pc).and_then(|v| unit.attr_address(v).ok().flatten());
                    if entry.tag() == gimli::DW_TAG_subprogram && low_pc == Some(function_start) {
                        function_depth = Some(entry.depth());
                    }
                }
                Some(depth) if entry.depth() <= depth => break,
                Some(depth) if entry.depth() == depth + 1 => match entry.tag() {
                    gimli::DW_TAG_formal_parameter => found.count += 1,
                    gimli::DW_TAG_unspecified_parameters => found.variadic = true,
                    _ => {}
                },
                Some(_) => {}
            }
        }
        function_depth.map(|_| found)
    }
}
