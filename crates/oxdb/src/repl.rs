//! The interactive prompt: line editing and history kept across runs
//! (`$OXDB_HISTORY`, or `~/.oxdb_history`), tab completion of commands,
//! symbols and registers, and an empty line repeating the last run or step
//! command.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::rc::Rc;

use rustyline::completion::Completer;
use rustyline::config::{CompletionType, Config};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::FileHistory;
use rustyline::validate::Validator;
use rustyline::{Context, Editor, Helper};

use crate::commands::info::MODES;
use crate::commands::registers::GROUPS;
use crate::commands::{lookup, Complete, COMMANDS, INFO_SUBJECTS};
use crate::session::Session;

/// The most history lines kept.
const HISTORY_SIZE: usize = 2000;

/// Where history is kept.
fn history_path() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("OXDB_HISTORY") {
        return Some(PathBuf::from(path));
    }
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".oxdb_history"))
}

/// What completion offers; symbols are refreshed as libraries come and go.
#[derive(Default)]
struct Words {
    registers: Vec<String>,
    symbols: Vec<String>,
    /// The number of modules the symbol list was built from.
    modules: usize,
}

/// The line editor's helper: completion only.
struct OxdbHelper {
    words: Rc<RefCell<Words>>,
}

impl OxdbHelper {
    fn candidates(&self, kind: Complete, word: &str) -> Vec<String> {
        let words = self.words.borrow();
        let mut list: Vec<String> = match kind {
            Complete::Nothing => Vec::new(),
            Complete::Commands => COMMANDS
                .iter()
                .flat_map(|c| std::iter::once(c.name).chain(c.aliases.iter().copied()))
                .map(String::from)
                .collect(),
            Complete::Info => INFO_SUBJECTS.iter().map(|(s, _)| s.to_string()).collect(),
            Complete::Modes => MODES.iter().map(|(m, _)| m.to_string()).collect(),
            Complete::Registers => {
                GROUPS.iter().map(|(g, _)| g.to_string()).chain(words.registers.iter().cloned()).collect()
            }
            Complete::Expr => words.registers.iter().chain(words.symbols.iter()).cloned().collect(),
        };
        list.retain(|c| c.starts_with(word));
        list.sort();
        list.dedup();
        list
    }
}

impl Completer for OxdbHelper {
    type Candidate = String;

    fn complete(&self, line: &str, pos: usize, _ctx: &Context<'_>) -> rustyline::Result<(usize, Vec<String>)> {
        let before = &line[..pos];
        let part_start = before.rfind("&&").map_or(0, |i| i + 2);
        let part = &before[part_start..];
        let word_start = part.rfind(|c: char| c.is_whitespace() || "()+-*,=&|!~<>".contains(c)).map_or(0, |i| i + 1);
        let word = &part[word_start..];
        let start = part_start + word_start;
        let head = part[..word_start].trim();
        if head.is_empty() {
            let mut list = self.candidates(Complete::Commands, word);
            if list.len() == 1 {
                list[0].push(' ');
            }
            return Ok((start, list));
        }
        let command_word = head.split_whitespace().next().unwrap_or("");
        let command_word = command_word.split('/').next().unwrap_or(command_word);
        let kind = lookup(command_word).map_or(Complete::Nothing, |c| c.complete);
        Ok((start, self.candidates(kind, word)))
    }
}

impl Hinter for OxdbHelper {
    type Hint = String;
}

impl Highlighter for OxdbHelper {}

impl Validator for OxdbHelper {}

impl Helper for OxdbHelper {}

/// Brings the symbol names up to date with the loaded modules.
fn refresh_words(session: &mut Session, words: &Rc<RefCell<Words>>) {
    let Ok(trace) = session.trace() else { return };
    if words.borrow().registers.is_empty() {
        words.borrow_mut().registers = trace.arch().registers.iter().map(|r| r.name.to_owned()).collect();
    }
    let Ok(symbols) = trace.symbols() else { return };
    let modules = symbols.modules();
    if modules.len() == words.borrow().modules {
        return;
    }
    let mut names = BTreeSet::new();
    for module in modules {
        names.insert(module.name.clone());
        for symbol in module.table().symbols() {
            if !symbol.name.is_empty() {
                names.insert(symbol.name.clone());
            }
        }
    }
    let mut words = words.borrow_mut();
    words.symbols = names.into_iter().collect();
    words.modules = modules.len();
}

/// Runs the prompt until `quit` or end of input.
pub fn run(session: &mut Session) {
    let config = Config::builder()
        .auto_add_history(false)
        .history_ignore_space(true)
        .completion_type(CompletionType::List)
        .max_history_size(HISTORY_SIZE)
        .map(|b| b.build());
    let editor = config
        .map_err(|e| e.to_string())
        .and_then(|c| Editor::<OxdbHelper, FileHistory>::with_config(c).map_err(|e| e.to_string()));
    let mut editor = match editor {
        Ok(editor) => editor,
        Err(e) => {
            eprintln!("error: cannot start the line editor: {e}");
            return;
        }
    };
    let words = Rc::new(RefCell::new(Words::default()));
    editor.set_helper(Some(OxdbHelper { words: Rc::clone(&words) }));
    let history = history_path();
    if let Some(path) = &history {
        // A missing history file is normal on the first run.
        let _ = editor.load_history(path);
    }
    let mut out = std::io::stdout();
    let mut err = std::io::stderr();
    loop {
        refresh_words(session, &words);
        let prompt = if session.collecting() { "> " } else { "(oxdb) " };
        match editor.readline(prompt) {
            Ok(line) => {
                if line.trim().is_empty() {
                    if !session.collecting() {
                        if let Some(last) = session.last_step.clone() {
                            session.feed(&last, &mut out, &mut err);
                        }
                        continue;
                    }
                } else {
                    let _ = editor.add_history_entry(line.as_str());
                    if let Some(path) = &history {
                        if let Err(e) = editor.save_history(path) {
                            eprintln!("error: cannot save history to {}: {e}", path.display());
                        }
                    }
                }
                session.feed(&line, &mut out, &mut err);
                if session.quit {
                    break;
                }
            }
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => break,
            Err(e) => {
                eprintln!("error: {e}");
                break;
            }
        }
    }
}
