//! The interactive prompt: line editing and history kept across runs
//! (`$OXDB_HISTORY`, or `~/.oxdb_history`), tab completion of commands,
//! symbols and registers, and an empty line repeating the last run or step
//! command.
//!
//! The line editor reads on a thread of its own, so that the main thread
//! (which alone may make ptrace calls) waits for either a line or a signal
//! that ends oxdb ([`crate::ending`]), and can leave at once even while a
//! line is being typed.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex, MutexGuard};

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

/// The completion words, shared by the main thread (which refreshes them) and the editor's.
type SharedWords = Arc<Mutex<Words>>;

fn lock(words: &SharedWords) -> MutexGuard<'_, Words> {
    words.lock().unwrap_or_else(|e| e.into_inner())
}

/// The line editor's helper: completion only.
struct OxdbHelper {
    words: SharedWords,
}

impl OxdbHelper {
    fn candidates(&self, kind: Complete, word: &str) -> Vec<String> {
        let words = lock(&self.words);
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
fn refresh_words(session: &mut Session, words: &SharedWords) {
    let Ok(trace) = session.trace() else { return };
    if lock(words).registers.is_empty() {
        lock(words).registers = trace.arch().registers.iter().map(|r| r.name.to_owned()).collect();
    }
    let Ok(symbols) = trace.symbols() else { return };
    let modules = symbols.modules();
    if modules.len() == lock(words).modules {
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
    let mut words = lock(words);
    words.symbols = names.into_iter().collect();
    words.modules = modules.len();
}

/// The line editor, and the terminal's settings before it ever made it raw.
pub struct LineEditor {
    editor: Editor<OxdbHelper, FileHistory>,
    words: SharedWords,
    terminal: Option<crate::terminal::Saved>,
}

impl LineEditor {
    /// A line editor with completion and the history file loaded.
    pub fn new() -> Result<LineEditor, String> {
        let config = Config::builder()
            .auto_add_history(false)
            .history_ignore_space(true)
            .completion_type(CompletionType::List)
            .max_history_size(HISTORY_SIZE)
            .map(|b| b.build());
        let mut editor = config
            .map_err(|e| e.to_string())
            .and_then(|c| Editor::<OxdbHelper, FileHistory>::with_config(c).map_err(|e| e.to_string()))
            .map_err(|e| format!("cannot start the line editor: {e}"))?;
        let words = SharedWords::default();
        editor.set_helper(Some(OxdbHelper { words: Arc::clone(&words) }));
        if let Some(path) = history_path() {
            // A missing history file is normal on the first run.
            let _ = editor.load_history(&path);
        }
        let terminal = crate::terminal::save();
        Ok(LineEditor { editor, words, terminal })
    }
}

/// What the editor's thread hands the main thread.
enum Input {
    /// A line (already in the history if not empty).
    Line(String),
    /// Ctrl-C at the prompt.
    Interrupted,
    /// End of input.
    Eof,
    /// The editor failed.
    Failed(String),
    /// A signal asks oxdb to end.
    Ending,
}

/// The editor's thread: reads one line for each prompt it is sent.
fn read_lines(mut editor: Editor<OxdbHelper, FileHistory>, prompts: Receiver<String>, input: Sender<Input>) {
    let history = history_path();
    for prompt in prompts {
        let read = match editor.readline(&prompt) {
            Ok(line) => {
                if !line.trim().is_empty() {
                    let _ = editor.add_history_entry(line.as_str());
                    if let Some(path) = &history {
                        if let Err(e) = editor.save_history(path) {
                            eprintln!("error: cannot save history to {}: {e}", path.display());
                        }
                    }
                }
                Input::Line(line)
            }
            Err(ReadlineError::Interrupted) => Input::Interrupted,
            Err(ReadlineError::Eof) => Input::Eof,
            Err(e) => Input::Failed(e.to_string()),
        };
        if input.send(read).is_err() {
            return;
        }
    }
}

/// Runs the prompt until `quit`, end of input, or a signal that ends oxdb.
pub fn run(session: &mut Session, line_editor: LineEditor) {
    let LineEditor { editor, words, terminal } = line_editor;
    let (input_tx, input) = channel();
    let (prompts, prompt_rx) = channel::<String>();
    let woken = input_tx.clone();
    crate::ending::on_request(move || {
        let _ = woken.send(Input::Ending);
    });
    std::thread::spawn(move || read_lines(editor, prompt_rx, input_tx));
    let mut out = std::io::stdout();
    let mut err = std::io::stderr();
    let mut reading = false;
    while crate::ending::requested().is_none() {
        refresh_words(session, &words);
        if !reading {
            // Nothing of oxdb's own stays mapped in the program while the user thinks.
            if let Ok(trace) = session.trace() {
                let _ = trace.unmap_scratch_page();
            }
            let prompt = if session.collecting() { "> " } else { "(oxdb) " };
            if prompts.send(prompt.to_owned()).is_err() {
                break;
            }
            reading = true;
        }
        let Ok(read) = input.recv() else { break };
        reading &= matches!(read, Input::Ending);
        match read {
            Input::Line(line) => {
                if line.trim().is_empty() && !session.collecting() {
                    if let Some(last) = session.last_step.clone() {
                        session.feed(&last, &mut out, &mut err);
                    }
                    continue;
                }
                session.feed(&line, &mut out, &mut err);
                if session.quit {
                    break;
                }
            }
            Input::Interrupted => continue,
            Input::Eof | Input::Ending => break,
            Input::Failed(e) => {
                eprintln!("error: {e}");
                break;
            }
        }
    }
    if reading {
        stop_reading(terminal.as_ref());
    }
}

/// Puts the terminal back as it was before the editor made it raw (the
/// editor's thread is still inside a line, and oxdb is about to exit).
fn stop_reading(saved: Option<&crate::terminal::Saved>) {
    if let Some(saved) = saved {
        crate::terminal::restore(saved);
        println!();
    }
}
