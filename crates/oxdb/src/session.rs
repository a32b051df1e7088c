//! The debugging session: the traced process, what oxdb keeps beside it
//! (breakpoint conditions and command lists, the selected frame, the last
//! step command), and the feeding of command lines to the command table.
//!
//! A line holds one command or several joined by `&&` (a failing one ends
//! the chain). Errors are returned as one line each, never panics. Events
//! that happen while the program runs are collected by a notifier and
//! printed one line each after the command that ran it.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;
use std::io::Write;
use std::rc::Rc;

use oxtrace::{Event, EventKind, Trace, TraceState};

use crate::commands;

/// A command's failure: one line of text naming the bad thing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CmdError(pub String);

impl fmt::Display for CmdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Library messages may quote multi-line text: keep errors to one line.
        let text: String = self.0.chars().map(|c| if c == '\n' { ' ' } else { c }).collect();
        f.write_str(&text)
    }
}

impl From<oxtrace::Error> for CmdError {
    fn from(e: oxtrace::Error) -> Self {
        CmdError(e.to_string())
    }
}

impl From<std::io::Error> for CmdError {
    fn from(e: std::io::Error) -> Self {
        CmdError(format!("output: {e}"))
    }
}

impl From<String> for CmdError {
    fn from(s: String) -> Self {
        CmdError(s)
    }
}

impl From<&str> for CmdError {
    fn from(s: &str) -> Self {
        CmdError(s.to_owned())
    }
}

/// The first line of a command list that keeps its breakpoint's hits quiet.
const SILENT: &str = "silent";

/// What a command returns.
pub type CmdResult = Result<(), CmdError>;

/// What oxdb keeps about a breakpoint beside the library's record.
#[derive(Debug, Clone, Default)]
pub struct BreakExtra {
    /// The condition as typed.
    pub condition: Option<String>,
    /// Commands to run when it stops the program; a first line `silent`
    /// keeps its hits from being announced, as in gdb.
    pub commands: Vec<String>,
}

/// State shared with the event notifier.
#[derive(Debug, Default)]
pub struct Shared {
    /// Event lines not printed yet.
    pub lines: Vec<String>,
    /// Ids of the breakpoints and watchpoints the user set (others are internal to stepping).
    pub user_ids: BTreeSet<u32>,
    /// Ids of the breakpoints whose command list starts with `silent`: their hits are not announced.
    pub silent: BTreeSet<u32>,
    /// What each signal does (`handle`).
    pub signals: crate::commands::handle::SignalTable,
    /// Catchpoints (`catch`).
    pub catches: crate::commands::catch::Catches,
    /// Whether names not found make pending breakpoints.
    pub pending: crate::commands::locations::Pending,
    /// The library ids of the locations of breakpoints with several, by breakpoint number.
    pub locations: BTreeMap<u32, Vec<u32>>,
    /// Hits to let go by, by breakpoint number (`ignore`).
    pub ignore_counts: BTreeMap<u32, u64>,
    /// Breakpoints typed while no program was alive (as typed, one-time or not), set by the next `run`.
    pub at_next_run: Vec<(String, bool)>,
    /// Each breakpoint's location as typed, and whether it is one-time (to set it again at `run`).
    pub specs: BTreeMap<u32, (String, bool)>,
    /// Pending breakpoints not given their locations yet, by number.
    pub waiting: BTreeSet<u32>,
    /// Every breakpoint made pending (placed or waiting), by number.
    pub from_pending: BTreeSet<u32>,
}

/// One debugging session.
pub struct Session {
    /// The current inferior's trace.
    pub(crate) trace: Option<Trace>,
    /// The other inferiors (processes kept after forks), and settings for new programs.
    pub inferiors: crate::inferiors::Inferiors,
    /// Shared with the event notifier.
    pub shared: Rc<RefCell<Shared>>,
    /// Conditions and command lists of breakpoints, by id.
    pub breaks: BTreeMap<u32, BreakExtra>,
    /// The frame `frame`, `up` and `down` selected (0 is the innermost).
    pub selected_frame: usize,
    /// Commands queued by a breakpoint hit, run after the current command.
    pub queue: VecDeque<String>,
    /// The breakpoint whose command list is being typed, and the lines so far.
    collecting: Option<(u32, Vec<String>)>,
    /// The last breakpoint set (the default of `commands` and `condition`).
    pub last_break: Option<u32>,
    /// Set by `quit`.
    pub quit: bool,
    /// How many commands failed.
    pub errors: usize,
    /// The last run or step command, which an empty line repeats at the prompt.
    pub last_step: Option<String>,
    /// Value history and convenience variables of the C evaluator.
    pub values: oxtrace::cexpr::Values,
    /// `display` expressions: number, text, format letter.
    pub displays: Vec<(u32, String, Option<char>)>,
    /// The last display number given.
    pub next_display: u32,
    /// Watchpoints over C expressions, by id.
    pub watches: BTreeMap<u32, crate::commands::watches::CWatch>,
}

impl Session {
    /// A session over a started or attached program.
    pub fn new(mut trace: Trace) -> Session {
        crate::interrupt::install();
        // A tracer killed while the program waits at the prompt leaves its code intact.
        let _ = trace.set_breakpoints_out_while_stopped(true);
        crate::interrupt::watch(&trace);
        let shared = Rc::new(RefCell::new(Shared::default()));
        crate::policy::install(&mut trace, &shared);
        // Library load and unload events; a program without a dynamic linker has none.
        let _ = trace.track_libraries();
        Session {
            trace: Some(trace),
            inferiors: crate::inferiors::Inferiors::default(),
            shared,
            breaks: BTreeMap::new(),
            selected_frame: 0,
            values: Default::default(),
            displays: Vec::new(),
            next_display: 0,
            watches: BTreeMap::new(),
            queue: VecDeque::new(),
            collecting: None,
            last_break: None,
            quit: false,
            errors: 0,
            last_step: None,
        }
    }

    /// The trace, whatever its state (for lists and settings that outlive the process).
    pub fn any_trace(&mut self) -> Result<&mut Trace, CmdError> {
        self.trace.as_mut().ok_or_else(|| CmdError("no program is being debugged".into()))
    }

    /// The trace of a live, stopped program, or an error that says why there is none.
    pub fn trace(&mut self) -> Result<&mut Trace, CmdError> {
        let trace = self.any_trace()?;
        match trace.state() {
            TraceState::Stopped => Ok(trace),
            TraceState::Exited(status) => Err(CmdError(format!("the program has exited ({status})"))),
            TraceState::Detached => Err(CmdError("the program was detached".into())),
            TraceState::Running => Err(CmdError("the program is running".into())),
        }
    }

    /// Whether a `commands` list is being typed (the prompt shows `>`).
    pub fn collecting(&self) -> bool {
        self.collecting.is_some()
    }

    /// Starts collecting the command list of breakpoint `id`, ended by a line `end`.
    pub fn collect_commands(&mut self, id: u32) {
        self.collecting = Some((id, Vec::new()));
    }

    /// Feeds one line typed or read from a script. Returns false if a command failed.
    pub fn feed(&mut self, line: &str, out: &mut dyn Write, err: &mut dyn Write) -> bool {
        if let Some((id, mut lines)) = self.collecting.take() {
            let text = line.trim();
            if text == "end" {
                let count = lines.len();
                self.set_commands(id, lines);
                let _ = writeln!(out, "breakpoint {id}: {count} command(s) to run at each stop");
            } else {
                if !text.is_empty() {
                    lines.push(text.to_owned());
                }
                self.collecting = Some((id, lines));
            }
            return true;
        }
        let mut ok = true;
        for part in split_chain(line) {
            if !self.run_one(&part, out, err) {
                ok = false;
                break;
            }
            if self.quit {
                return ok;
            }
        }
        // Commands queued by breakpoint hits; a resume among them replaces the rest.
        while let Some(next) = self.queue.pop_front() {
            let _ = writeln!(out, "> {next}");
            if !self.run_one(&next, out, err) {
                ok = false;
                self.queue.clear();
            }
            if self.quit {
                break;
            }
        }
        ok
    }

    fn run_one(&mut self, command: &str, out: &mut dyn Write, err: &mut dyn Write) -> bool {
        let result = commands::execute(self, command, out);
        // Processes kept after forks become inferiors.
        let _ = self.adopt_children(out);
        // Events seen by a command that failed half way are still shown.
        let _ = self.print_events(out);
        match result {
            Ok(()) => true,
            Err(e) => {
                self.errors += 1;
                let _ = out.flush();
                let _ = writeln!(err, "error: {e}");
                let _ = err.flush();
                false
            }
        }
    }

    /// Prints the event lines collected so far.
    pub fn print_events(&mut self, out: &mut dyn Write) -> CmdResult {
        let lines = std::mem::take(&mut self.shared.borrow_mut().lines);
        for line in lines {
            writeln!(out, "{line}")?;
        }
        Ok(())
    }

    /// After a run or step command stopped the program: print the events, the
    /// location of a step, and queue the command list of a breakpoint hit.
    pub fn after_stop(&mut self, event: &Event, out: &mut dyn Write) -> CmdResult {
        self.selected_frame = 0;
        self.print_events(out)?;
        let by_user = self.trace().is_ok_and(|trace| crate::interrupt::stopped_by_user(trace, event));
        if by_user {
            writeln!(out, "[thread {}] stopped by Ctrl-C", event.tid)?;
        }
        match event.kind {
            EventKind::Step => {
                let trace = self.trace()?;
                let pc = trace.pc()?;
                let line = crate::commands::disasm::location_with_instruction(trace, pc);
                writeln!(out, "{line}")?;
                if let Some(source) = source_line(trace, pc) {
                    writeln!(out, "{source}")?;
                }
            }
            EventKind::Breakpoint { id, .. } => {
                let id = crate::commands::locations::owner_of(&self.shared.borrow().locations, id);
                if let Some(extra) = self.breaks.get(&id) {
                    let silent = extra.commands.first().is_some_and(|c| c == SILENT);
                    self.queue.extend(extra.commands.iter().skip(usize::from(silent)).cloned());
                }
            }
            _ => {}
        }
        if self.trace().is_ok_and(|t| t.state() == oxtrace::TraceState::Stopped) {
            crate::commands::values::show_displays(self, out)?;
        }
        Ok(())
    }

    /// Sets the command list of breakpoint `id`.
    pub fn set_commands(&mut self, id: u32, commands: Vec<String>) {
        let mut shared = self.shared.borrow_mut();
        match commands.first().is_some_and(|c| c == SILENT) {
            true => shared.silent.insert(id),
            false => shared.silent.remove(&id),
        };
        self.breaks.entry(id).or_default().commands = commands;
    }

    /// Records a breakpoint or watchpoint the user set.
    pub fn add_user_id(&mut self, id: u32) {
        self.shared.borrow_mut().user_ids.insert(id);
        self.last_break = Some(id);
    }

    /// Ends the session: kills a started program, detaches from an attached
    /// one. Says what it did to a live program, or what went wrong.
    pub fn finish(&mut self) -> Option<String> {
        // Kept children (other inferiors) go the same way, silently.
        for trace in std::mem::take(&mut self.inferiors.others).into_values() {
            let _ = trace.release();
        }
        let trace = self.trace.take()?;
        let (pid, live, spawned) = (trace.pid(), trace.is_attached(), trace.is_spawned());
        match trace.release() {
            Err(e) => Some(format!("error: leaving process {pid}: {e}")),
            Ok(()) if !live => None,
            Ok(()) if spawned => Some(format!("killed process {pid}")),
            Ok(()) => Some(format!("detached from process {pid}")),
        }
    }

    /// The program's exit status, once it has exited.
    pub fn exit_status(&self) -> Option<oxtrace::ExitStatus> {
        self.trace.as_ref().and_then(|t| t.exit_status())
    }
}

/// Splits a line at `&&` outside quotes and parentheses (so `(a && b)` stays an expression).
pub fn split_chain(line: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut quote = None;
    let mut depth = 0usize;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, '"' | '\'') => {
                quote = Some(c);
                current.push(c);
            }
            (Some(q), _) if c == q => {
                quote = None;
                current.push(c);
            }
            (None, '(') => {
                depth += 1;
                current.push(c);
            }
            (None, ')') => {
                depth = depth.saturating_sub(1);
                current.push(c);
            }
            (None, '&') if depth == 0 && chars.peek() == Some(&'&') => {
                chars.next();
                parts.push(std::mem::take(&mut current));
            }
            _ => current.push(c),
        }
    }
    parts.push(current);
    parts.into_iter().map(|p| p.trim().to_owned()).filter(|p| !p.is_empty()).collect()
}

/// `NN\tTEXT`: the source line of `pc`, when DWARF names it and the file can be read.
fn source_line(trace: &mut Trace, pc: u64) -> Option<String> {
    let (file, line) = trace.line_for_addr(pc).ok()??;
    let text = std::fs::read_to_string(&file).ok()?;
    let content = text.lines().nth(line.checked_sub(1)? as usize)?;
    Some(format!("{line}\t{content}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chains_split_outside_quotes() {
        assert_eq!(split_chain("break d && continue && bt"), ["break d", "continue", "bt"]);
        assert_eq!(split_chain("search \"a && b\" && p 1"), ["search \"a && b\"", "p 1"]);
        assert_eq!(split_chain("p rdi & 1"), ["p rdi & 1"]);
        assert_eq!(split_chain("break d if (rdi == 1 && rsi) && c"), ["break d if (rdi == 1 && rsi)", "c"]);
        assert!(split_chain("  ").is_empty());
    }
}
