//! The rows of a unit's line table as a source step needs them: which
//! addresses begin a statement (`is_stmt`, with a line), and which code has
//! no line at all (line 0, code an optimizing compiler merged from several
//! lines or made up), which a step goes through without stopping, as gdb's.
//!
//! addr2line keeps neither the `is_stmt` flag nor line 0, so each unit's
//! rows are read here once, on the first step in it.

use std::sync::Arc;

use super::lines::LineInfo;

/// One row: where it starts, its line (0 for none), whether it begins a statement.
#[derive(Debug, Clone, Copy)]
struct Row {
    addr: u64,
    line: u64,
    stmt: bool,
}

/// One sequence of rows: `[start, end)`, its rows by address.
#[derive(Debug)]
struct Sequence {
    end: u64,
    rows: Vec<Row>,
}

/// The rows of one unit, by sequence.
#[derive(Debug, Default)]
pub(super) struct UnitRows {
    sequences: Vec<Sequence>,
}

impl UnitRows {
    fn read(unit: &gimli::UnitRef<'_, super::lines::Reader>) -> UnitRows {
        let mut sequences = Vec::new();
        let Some(program) = unit.line_program.clone() else { return UnitRows::default() };
        let mut rows = program.rows();
        let mut current: Vec<Row> = Vec::new();
        while let Ok(Some((_, row))) = rows.next_row() {
            if row.end_sequence() {
                if !current.is_empty() {
                    sequences.push(Sequence { end: row.address(), rows: std::mem::take(&mut current) });
                }
                continue;
            }
            let line = row.line().map_or(0, |l| l.get());
            current.push(Row { addr: row.address(), line, stmt: row.is_stmt() });
        }
        for sequence in &mut sequences {
            // Stable: rows at one address keep their order (the last one holds for the address).
            sequence.rows.sort_by_key(|r| r.addr);
        }
        UnitRows { sequences }
    }

    /// The sequence holding `addr`.
    fn sequence(&self, addr: u64) -> Option<&Sequence> {
        self.sequences.iter().find(|s| s.rows.first().is_some_and(|first| first.addr <= addr) && addr < s.end)
    }
}

impl LineInfo {
    /// The rows of the unit holding file address `addr`, read once per unit.
    fn unit_rows(&self, addr: u64) -> Option<Arc<UnitRows>> {
        let unit = self.unit_at(addr)?;
        let key = unit.header.offset();
        let mut cache = self.statements.lock().unwrap_or_else(|e| e.into_inner());
        Some(cache.entry(key).or_insert_with(|| Arc::new(UnitRows::read(&unit))).clone())
    }

    /// Whether a statement with a line begins at file address `addr`: a row
    /// marked `is_stmt` of a line other than 0 starts there (where a source
    /// step stops, as gdb's).
    pub fn is_statement_row(&self, addr: u64) -> bool {
        let Some(rows) = self.unit_rows(addr) else { return false };
        let Some(sequence) = rows.sequence(addr) else { return false };
        let first = sequence.rows.partition_point(|r| r.addr < addr);
        sequence.rows[first..].iter().take_while(|r| r.addr == addr).any(|r| r.stmt && r.line != 0)
    }

    /// Whether the line table covers file address `addr` with a row of no
    /// line (line 0): code of a function with debug information that no
    /// source line accounts for.
    pub fn is_lineless(&self, addr: u64) -> bool {
        let Some(rows) = self.unit_rows(addr) else { return false };
        let Some(sequence) = rows.sequence(addr) else { return false };
        let after = sequence.rows.partition_point(|r| r.addr <= addr);
        after > 0 && sequence.rows[after - 1].line == 0
    }
}
