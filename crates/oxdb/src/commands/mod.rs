//! The command table: names, aliases, usage, help and what their arguments
//! complete to; and running one command line against a [`Session`].
//!
//! Names are the ones a gdb user guesses; vdb's are aliases. A command word
//! may carry a modifier after `/` (`x/4gx`). Each command writes its output to
//! the `&mut dyn Write` it is given and reports failure as a one-line error.

pub mod break_extras;
pub mod breakpoints;
pub mod catch;
pub mod change;
pub mod disasm;
pub mod frame_info;
pub mod handle;
pub mod inferiors;
pub mod info;
pub mod locations;
pub mod memory;
pub mod registers;
pub mod restart;
pub mod run;
pub mod settings;
pub mod signals;
pub mod snapshot;
pub mod stack;
pub mod symbols;
pub mod tracepoints;
pub mod values;
pub mod watches;

use std::io::Write;

use oxtrace::Trace;

use crate::session::{CmdError, CmdResult, Session};

/// What a command's arguments complete to at the prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Complete {
    /// Nothing.
    Nothing,
    /// Symbols and registers (expressions).
    Expr,
    /// Register names and groups.
    Registers,
    /// Command names.
    Commands,
    /// `info` subjects.
    Info,
    /// Mode names.
    Modes,
}

/// A command's arguments as typed: the modifier after `/`, and the rest of the line.
#[derive(Debug, Clone, Copy)]
pub struct Args<'a> {
    /// The text after `/` in the command word, if any (`4gx` in `x/4gx`).
    pub modifier: Option<&'a str>,
    /// The rest of the line, trimmed.
    pub rest: &'a str,
}

impl Args<'_> {
    /// The rest of the line split at whitespace.
    pub fn words(&self) -> Vec<&str> {
        self.rest.split_whitespace().collect()
    }
}

/// A command's handler.
pub type Handler = fn(&mut Session, Args<'_>, &mut dyn Write) -> CmdResult;

/// One command of the table.
pub struct Command {
    /// Its name.
    pub name: &'static str,
    /// Other words for it.
    pub aliases: &'static [&'static str],
    /// Its arguments, for `help`.
    pub usage: &'static str,
    /// What it does, in one line.
    pub summary: &'static str,
    /// Whether an empty line at the prompt repeats it (run and step commands).
    pub repeats: bool,
    /// What its arguments complete to.
    pub complete: Complete,
    /// The code.
    pub run: Handler,
}

macro_rules! cmd {
    ($name:literal, [$($alias:literal),*], $usage:literal, $summary:literal, $repeats:expr, $complete:ident, $run:path) => {
        Command {
            name: $name,
            aliases: &[$($alias),*],
            usage: $usage,
            summary: $summary,
            repeats: $repeats,
            complete: Complete::$complete,
            run: $run,
        }
    };
}

/// Every command.
pub static COMMANDS: &[Command] = &[
    // Running.
    cmd!("continue", ["c", "go", "cont"], "[N] | until EXPR",
        "resume the program (N times; or until it reaches EXPR)", true, Expr, run::cont),
    cmd!("run", ["r"], "[ARGS...]",
        "start the program (again, keeping breakpoints; with new arguments if given) and resume it", false, Nothing,
        restart::run),
    cmd!("start", [], "[ARGS...]", "like run, stopping at the beginning of main", false, Nothing, restart::start),
    cmd!("stepi", ["si"], "[N]", "execute N instructions (default 1)", true, Nothing, run::stepi),
    cmd!("step", ["s"], "[N]", "run to the next source line, into called functions", true, Nothing, run::step),
    cmd!("next", ["n"], "[N]", "run to the next source line, running calls to their return", true, Nothing,
        run::next),
    cmd!("nexti", ["ni", "stepo"], "[N]", "execute one instruction, running a call to its return", true, Nothing,
        run::nexti),
    cmd!("finish", ["stepout", "fin"], "", "run until the current function returns", true, Nothing, run::finish),
    cmd!("until", ["advance"], "[LOCATION]",
        "run until the program reaches LOCATION or the current function returns (alone: next)", false, Expr,
        run::until),
    cmd!("detach", [], "", "let the program go on untraced", false, Nothing, run::detach),
    cmd!("kill", [], "", "kill the program", false, Nothing, run::kill),
    cmd!("quit", ["q", "exit"], "", "leave oxdb (a started program is killed, an attached one detached)", false,
        Nothing, run::quit),
    // Breakpoints.
    cmd!("break", ["bp", "b"], "[-t] EXPR [if COND]",
        "set a breakpoint at an address, symbol or expression (-t: one-time)", false, Expr, breakpoints::add),
    cmd!("tbreak", [], "EXPR [if COND]", "set a one-time breakpoint", false, Expr, breakpoints::add_once),
    cmd!("ignore", [], "ID COUNT", "let breakpoint ID's next COUNT hits go by without stopping", false, Nothing,
        break_extras::ignore),
    cmd!("clear", [], "LOCATION", "delete the breakpoints at a location", false, Expr, break_extras::clear),
    cmd!("rbreak", [], "REGEX", "a breakpoint on every function whose name matches", false, Nothing,
        break_extras::rbreak),
    cmd!("condition", [], "ID [COND]", "set or clear a breakpoint's condition", false, Expr, breakpoints::condition),
    cmd!("commands", [], "[ID] [CMD; CMD...]",
        "commands to run when breakpoint ID stops the program (lines up to `end`, or inline; a first `silent` hides the hit)", false, Commands,
        breakpoints::commands),
    cmd!("breakpoints", ["bl"], "", "list breakpoints and watchpoints", false, Nothing, breakpoints::list),
    cmd!("enable", ["be"], "ID...", "enable breakpoints", false, Nothing, breakpoints::enable),
    cmd!("disable", ["bd"], "ID...", "disable breakpoints", false, Nothing, breakpoints::disable),
    cmd!("delete", ["d", "bc"], "[ID...]", "delete breakpoints and watchpoints (all without IDs)", false, Nothing,
        breakpoints::delete),
    cmd!("trace", ["tp"], "LOCATION [if COND]",
        "set a tracepoint: count the hits (where COND, an eval expression compiled into the program, holds) without stopping", false, Expr,
        tracepoints::trace),
    cmd!("collect", [], "[ID] REG... | $args", "make each hit of a tracepoint record registers (or the arguments)", false,
        Registers, tracepoints::collect),
    cmd!("tstatus", [], "", "tracepoints and their hits, read from the running program", false, Nothing,
        tracepoints::status),
    cmd!("tdump", [], "[ID]", "the records tracepoints collected since the last tdump", false, Nothing,
        tracepoints::dump),
    cmd!("watch", ["wp"], "EXPR [if COND] | [-r|-x] [-s SIZE] ADDRESS",
        "stop when a C lvalue changes (its type gives the size; a local's watch ends with its frame), or watch SIZE bytes (1, 2, 4, 8) at an address for writes (-r: reads and writes, -x: execution)", false,
        Expr, breakpoints::watch),
    cmd!("rwatch", [], "EXPR [if COND]", "stop when a C lvalue is read", false, Expr, watches::rwatch),
    cmd!("awatch", [], "EXPR [if COND]", "stop when a C lvalue is read or written", false, Expr, watches::awatch),
    // Registers and memory.
    cmd!("regs", ["reg", "registers"], "[all|general|segment|x87|sse|avx|debug|NAME...|NAME=EXPR]",
        "show registers (a group, or by name), or set one", false, Registers, registers::regs),
    cmd!("set", [], "REG = EXPR | var NAME = EXPR", "set a register or a variable", false, Registers,
        registers::set),
    cmd!("x", ["mem"], "[/NFU] EXPR [LEN]",
        "memory: hex and ASCII dump, or N units (b h w g) as x d u c, s (string), i (instructions)", false, Expr,
        memory::examine),
    cmd!("write", ["writemem"], "[/b|/h|/w|/g] EXPR BYTES|\"TEXT\"|VALUE",
        "write hex bytes, a string, or a typed value", false, Expr, memory::write),
    cmd!("search", ["find"], "[-x HEX | -r REGEX | TEXT]", "search memory for text, bytes or a regex", false,
        Nothing, memory::search),
    cmd!("maps", [], "[EXPR]", "memory maps (or the one holding EXPR)", false, Expr, memory::maps),
    // Stacks and threads.
    cmd!("bt", ["backtrace", "where"], "[all]", "call stack of the current thread (or of all threads)", false,
        Nothing, stack::backtrace),
    cmd!("frame", ["f"], "[N]", "select frame N and show it", false, Nothing, stack::frame),
    cmd!("frameinfo", [], "", "the selected frame as gdb's info frame shows it: its address, saved pc, caller and callee, arguments, saved registers", false, Nothing, frame_info::info_frame),
    cmd!("up", [], "[N]", "select the caller's frame", false, Nothing, stack::up),
    cmd!("down", [], "[N]", "select the callee's frame", false, Nothing, stack::down),
    cmd!("threads", [], "", "list threads (* marks the current one)", false, Nothing, info::threads),
    cmd!("thread", [], "[TID|N]", "show or select the current thread (by id or number in the list)", false, Nothing, info::thread),
    // Symbols and expressions.
    cmd!("print", ["p", "inspect"], "[/FMT] [EXPR]",
        "evaluate a C expression in the selected frame and show it as gdb does (FMT: x d u o t c a z s)", false, Expr,
        values::print),
    cmd!("output", [], "[/FMT] EXPR", "show a C expression's value without recording it", false, Expr, values::output),
    cmd!("eval", ["vexpr"], "EXPR", "evaluate a vtrace expression (libc.malloc, poi(rsp), rdi+1): hex, decimal and symbol",
        false, Expr, symbols::print),
    cmd!("whatis", [], "EXPR|TYPE", "the type of an expression", false, Expr, values::whatis),
    cmd!("display", [], "[/FMT] [EXPR]", "show an expression now and after every stop", false, Expr, values::display),
    cmd!("undisplay", [], "[N...]", "stop displaying expressions (all without N)", false, Nothing, values::undisplay),
    cmd!("printf", [], "\"FORMAT\", ARGS...", "formatted output of C values", false, Expr, values::printf),
    cmd!("echo", [], "TEXT", "print text (C escapes; no newline unless \\n)", false, Nothing, values::echo),
    cmd!("locals", [], "", "the local variables of the selected frame (info locals)", false, Nothing, values::locals),
    cmd!("args", [], "", "the arguments of the selected frame (info args)", false, Nothing, values::arguments),
    cmd!("sym", ["bestname"], "EXPR", "the symbol, module and map of an address", false, Expr, symbols::sym),
    cmd!("addr", [], "NAME", "the address of a symbol (module.name or name)", false, Expr, symbols::addr),
    cmd!("syms", [], "REGEX [MODULE]", "symbols whose names match a regex", false, Nothing, symbols::syms),
    cmd!("modules", ["lm", "libraries", "sharedlibrary"], "", "loaded modules (the program and its libraries)",
        false, Nothing, symbols::modules),
    cmd!("var", ["vars"], "[NAME [EXPR]]", "list, show or set expression variables", false, Expr, symbols::var),
    cmd!("disassemble", ["dis", "disas", "u"], "[EXPR [COUNT]]",
        "disassemble around pc, a function, or COUNT instructions at EXPR", false, Expr, disasm::disassemble),
    // Signals, modes, metadata.
    cmd!("signal", ["sig"], "[SIGNAL|none]", "show or change the current thread's pending signal", false, Nothing,
        signals::signal),
    cmd!("handle", [], "[SIGNAL... [no]stop [no]print [no]pass]",
        "what a signal does: stop the program, print a line, pass it to the program (the table without arguments)",
        false, Nothing, handle::handle),
    cmd!("catch", [], "fork|vfork|exec|syscall [NAME...]|signal [SIG...]|throw|catch",
        "stop at a fork, vfork, exec, system call, signal, or C++ exception thrown or caught", false, Nothing,
        catch::catch),
    cmd!("inferior", [], "[N]", "show or switch the current inferior (process)", false, Nothing,
        inferiors::inferior),
    cmd!("inferiors", [], "", "list the inferiors (the program and the processes kept after forks)", false,
        Nothing, inferiors::info_inferiors),
    cmd!("mode", ["modes"], "[NAME on|off]", "show or set run modes (RunForever, FastStep, SingleStep, Syscall)",
        false, Modes, info::mode),
    cmd!("meta", [], "[KEY]", "show the trace's metadata", false, Nothing, info::meta),
    cmd!("snapshot", ["snap"], "FILE",
        "save the stopped program as an ELF core file (gdb PROGRAM FILE and oxdb --core FILE open it)", false,
        Nothing, snapshot::snapshot),
    cmd!("status", [], "", "the process and where it stands", false, Nothing, info::status),
    cmd!("info", ["i"], "SUBJECT [ARGS]",
        "breakpoints, registers, threads, frame, modules, symbol, address, signals, maps, variables, modes, meta, program",
        false, Info, info::info),
    // Changing the debuggee.
    cmd!("call", [], "FUNC(ARG, ...)", "call a function of the program with C values (System V: ints, doubles, structs, \"strings\")", false,
        Expr, values::call),
    cmd!("vcall", [], "FUNC(ARG, ...)", "call a function with vtrace expressions and \"strings\" as integer arguments", false,
        Expr, change::call),
    cmd!("alloc", [], "SIZE [PERMS] [HINT]", "allocate memory in the program (default rwx)", false, Expr,
        change::alloc),
    cmd!("protect", ["memprotect"], "ADDR SIZE PERMS", "change the protection of memory (like r-x)", false, Expr,
        change::protect),
    cmd!("free", ["munmap"], "ADDR SIZE", "release memory of the program", false, Expr, change::free),
    cmd!("inject", ["injectso"], "PATH", "load a shared library into the program", false, Nothing, change::inject),
    cmd!("pagewatch", [], "[-r] EXPR LEN",
        "watch LEN bytes for writes (-r: reads and writes) through page protection", false, Expr, change::pagewatch),
    cmd!("struct", [], "TYPE EXPR", "print a value of a C type (struct, union, array) at an address", false, Expr,
        change::print_struct),
    cmd!("ptype", [], "EXPR|TYPE", "the type of an expression, or a type, written out as C", false, Expr, values::ptype),
    cmd!("layout", [], "TYPE", "a C type's members, offsets and sizes", false, Nothing, change::ptype),
    cmd!("fds", [], "", "the program's open file descriptors", false, Nothing, change::fds),
    cmd!("ps", [], "[FILTER]", "processes of the machine", false, Nothing, change::ps),
    cmd!("help", ["h", "?"], "[COMMAND]", "list commands, or show one command's help", false, Commands, help),
];

/// The `info` subjects, with the command each runs.
pub const INFO_SUBJECTS: &[(&str, &str)] = &[
    ("breakpoints", "breakpoints"),
    ("watchpoints", "breakpoints"),
    ("tracepoints", "tstatus"),
    ("registers", "regs"),
    ("all-registers", "regs all"),
    ("threads", "threads"),
    ("frame", "frameinfo"),
    ("stack", "bt"),
    ("modules", "modules"),
    ("sharedlibrary", "modules"),
    ("symbol", "sym"),
    ("address", "addr"),
    ("signals", "handle"),
    ("inferiors", "inferiors"),
    ("maps", "maps"),
    ("proc", "status"),
    ("program", "status"),
    ("variables", "var"),
    ("locals", "locals"),
    ("args", "args"),
    ("display", "display"),
    ("modes", "mode"),
    ("meta", "meta"),
];

/// The command a word names (name or alias).
pub fn lookup(word: &str) -> Option<&'static Command> {
    COMMANDS.iter().find(|c| c.name == word || c.aliases.contains(&word))
}

/// Runs one command (no `&&`).
pub fn execute(session: &mut Session, line: &str, out: &mut dyn Write) -> CmdResult {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(());
    }
    let end = line.find(|c: char| c.is_whitespace()).unwrap_or(line.len());
    let (head, rest) = line.split_at(end);
    let (word, modifier) = match head.split_once('/') {
        Some((word, modifier)) if !word.is_empty() => (word, Some(modifier)),
        _ => (head, None),
    };
    let command = lookup(word).ok_or_else(|| CmdError(format!("no command named {word:?} (try \"help\")")))?;
    if command.repeats {
        session.last_step = Some(line.to_owned());
    }
    (command.run)(session, Args { modifier, rest: rest.trim() }, out)
}

/// `help [COMMAND]`.
fn help(_session: &mut Session, args: Args<'_>, out: &mut dyn Write) -> CmdResult {
    if let Some(word) = args.words().first() {
        if *word == "info" || INFO_SUBJECTS.iter().any(|(s, _)| s == word) && lookup(word).is_none() {
            let command = lookup("info").expect("info exists");
            writeln!(out, "info {}\n  {}", command.usage, command.summary)?;
            for (subject, runs) in INFO_SUBJECTS {
                writeln!(out, "  info {subject:<14} same as `{runs}`")?;
            }
            return Ok(());
        }
        let command = lookup(word).ok_or_else(|| CmdError(format!("no command named {word:?}")))?;
        let gap = if command.usage.starts_with("[/") { "" } else { " " };
        writeln!(out, "{}{gap}{}", command.name, command.usage)?;
        writeln!(out, "  {}", command.summary)?;
        if !command.aliases.is_empty() {
            writeln!(out, "  aliases: {}", command.aliases.join(", "))?;
        }
        if command.repeats {
            writeln!(out, "  an empty line at the prompt repeats it")?;
        }
        return Ok(());
    }
    writeln!(out, "commands (help COMMAND for more; join several with &&):")?;
    for command in COMMANDS {
        let names = std::iter::once(command.name).chain(command.aliases.iter().copied()).collect::<Vec<_>>();
        writeln!(out, "  {:<38} {}", names.join(", "), command.summary)?;
    }
    Ok(())
}

/// Evaluates an expression in the current thread; errors name the expression.
pub fn eval(trace: &mut Trace, text: &str) -> Result<u64, CmdError> {
    let text = text.trim();
    if text.is_empty() {
        return Err("an expression is needed".into());
    }
    Ok(trace.parse_expression(text)?)
}

/// Parses a count argument (`stepi 5`), 1 when absent.
pub fn count_arg(text: &str) -> Result<u64, CmdError> {
    match text.trim() {
        "" => Ok(1),
        t => parse_number(t).filter(|&n| n > 0).ok_or_else(|| CmdError(format!("bad count {t:?}"))),
    }
}

/// Parses a decimal or `0x` hex number.
pub fn parse_number(text: &str) -> Option<u64> {
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

/// Parses a breakpoint or watchpoint id.
pub fn id_arg(text: &str) -> Result<u32, CmdError> {
    text.trim().parse().map_err(|_| CmdError(format!("bad breakpoint id {:?}", text.trim())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_aliases_are_unique() {
        let mut seen = std::collections::BTreeSet::new();
        for command in COMMANDS {
            for word in std::iter::once(&command.name).chain(command.aliases) {
                assert!(seen.insert(*word), "{word} twice");
            }
        }
    }

    #[test]
    fn numbers_parse() {
        assert_eq!(parse_number("0x10"), Some(16));
        assert_eq!(parse_number("10"), Some(10));
        assert_eq!(count_arg(""), Ok(1));
        assert!(count_arg("0").is_err());
        assert!(count_arg("x").is_err());
    }
}
