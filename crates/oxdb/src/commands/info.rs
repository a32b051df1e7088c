//! `info SUBJECT`, threads, modes, metadata and the process status.

use std::io::Write;

use oxtrace::{MetaValue, Mode, TraceState};

use super::symbols::describe_addr;
use super::{execute, Args, INFO_SUBJECTS};
use crate::events::exit_text;
use crate::session::{CmdError, CmdResult, Session};

/// The run modes by name.
pub const MODES: [(&str, Mode); 4] = [
    ("RunForever", Mode::RunForever),
    ("FastStep", Mode::FastStep),
    ("SingleStep", Mode::SingleStep),
    ("Syscall", Mode::Syscall),
];

/// `info SUBJECT [ARGS]`: runs the command the subject stands for.
pub fn info(session: &mut Session, args: Args<'_>, out: &mut dyn Write) -> CmdResult {
    let rest = args.rest.trim();
    let (subject, more) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    if subject.is_empty() {
        let names: Vec<&str> = INFO_SUBJECTS.iter().map(|(s, _)| *s).collect();
        return Err(CmdError(format!("info what? one of: {}", names.join(", "))));
    }
    // A unique prefix is enough (`info b`, `info reg`).
    let matches: Vec<&(&str, &str)> = INFO_SUBJECTS.iter().filter(|(s, _)| s.starts_with(subject)).collect();
    let command = match matches.as_slice() {
        [(_, command)] => *command,
        _ => match INFO_SUBJECTS.iter().find(|(s, _)| *s == subject) {
            Some((_, command)) => *command,
            None if matches.is_empty() => return Err(CmdError(format!("no info subject {subject:?}"))),
            None => match subject {
                "b" | "break" => "breakpoints",
                "r" | "reg" => "regs",
                "s" => "bt",
                _ => {
                    let names: Vec<&str> = matches.iter().map(|(s, _)| *s).collect();
                    return Err(CmdError(format!("ambiguous info subject {subject:?}: {}", names.join(", "))));
                }
            },
        },
    };
    execute(session, &format!("{command} {more}"), out)
}

/// `threads`.
pub fn threads(session: &mut Session, _args: Args<'_>, out: &mut dyn Write) -> CmdResult {
    let trace = session.trace()?;
    let current = trace.current_thread();
    for (n, tid) in trace.threads().into_iter().enumerate() {
        let mark = if tid == current { "*" } else { " " };
        let place = match trace.thread_pc(tid) {
            Ok(pc) => describe_addr(trace, pc),
            Err(e) => format!("({e})"),
        };
        writeln!(out, "{mark} {:<3} {tid:<8} {place}", n + 1)?;
    }
    Ok(())
}

/// `thread [TID|N]`: by thread id, or by its number in the `threads` list.
pub fn thread(session: &mut Session, args: Args<'_>, out: &mut dyn Write) -> CmdResult {
    let trace = session.trace()?;
    let text = args.rest.trim();
    if !text.is_empty() {
        let n: i32 = text.parse().map_err(|_| CmdError(format!("bad thread id {text:?}")))?;
        let threads = trace.threads();
        // A thread id, or a thread's number in the `threads` list.
        let tid = match usize::try_from(n) {
            _ if threads.contains(&n) => n,
            Ok(i @ 1..) if i <= threads.len() => threads[i - 1],
            _ => return Err(CmdError(format!("no thread {n}"))),
        };
        trace.select_thread(tid)?;
        session.selected_frame = 0;
    }
    let trace = session.trace()?;
    let tid = trace.current_thread();
    let pc = trace.pc()?;
    let place = describe_addr(trace, pc);
    writeln!(out, "thread {tid} at {place}")?;
    Ok(())
}

/// `mode [NAME on|off]`.
pub fn mode(session: &mut Session, args: Args<'_>, out: &mut dyn Write) -> CmdResult {
    let words = args.words();
    let trace = session.any_trace()?;
    match words.as_slice() {
        [] => {}
        [name, value] | [name, "=", value] => {
            let (_, mode) = MODES
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .ok_or_else(|| CmdError(format!("no mode named {name:?}")))?;
            let on = match value.to_ascii_lowercase().as_str() {
                "on" | "true" | "1" | "yes" => true,
                "off" | "false" | "0" | "no" => false,
                other => return Err(CmdError(format!("bad mode value {other:?} (on or off)"))),
            };
            trace.set_mode(*mode, on);
        }
        _ => return Err("usage: mode [NAME on|off]".into()),
    }
    for (name, mode) in MODES {
        writeln!(out, "{name:<11} {}", if trace.mode(mode) { "on" } else { "off" })?;
    }
    Ok(())
}

fn meta_text(value: &MetaValue) -> String {
    match value {
        MetaValue::Int(v) => v.to_string(),
        MetaValue::UInt(v) => format!("{v:#x}"),
        MetaValue::Str(s) => s.clone(),
        MetaValue::Bool(b) => b.to_string(),
        MetaValue::Bytes(b) => b.iter().map(|x| format!("{x:02x}")).collect(),
        MetaValue::List(list) => format!("[{}]", list.iter().map(meta_text).collect::<Vec<_>>().join(", ")),
    }
}

/// `meta [KEY]`.
pub fn meta(session: &mut Session, args: Args<'_>, out: &mut dyn Write) -> CmdResult {
    let trace = session.any_trace()?;
    let key = args.rest.trim();
    if !key.is_empty() {
        let value = trace.meta(key).ok_or_else(|| CmdError(format!("no metadata named {key:?}")))?;
        writeln!(out, "{key} = {}", meta_text(value))?;
        return Ok(());
    }
    for (key, value) in trace.metadata() {
        writeln!(out, "{key} = {}", meta_text(value))?;
    }
    Ok(())
}

/// `status`.
pub fn status(session: &mut Session, _args: Args<'_>, out: &mut dyn Write) -> CmdResult {
    let trace = session.any_trace()?;
    let pid = trace.pid();
    let exe = trace.exe_path().unwrap_or_else(|| "?".into());
    match trace.state() {
        TraceState::Stopped => {
            let tid = trace.current_thread();
            let pc = trace.pc()?;
            let place = describe_addr(trace, pc);
            let threads = trace.threads().len();
            writeln!(out, "process {pid} ({exe}) stopped, {threads} thread(s); thread {tid} at {place}")?;
        }
        TraceState::Exited(status) => writeln!(out, "process {pid} ({exe}) {}", exit_text(status))?,
        TraceState::Detached => writeln!(out, "process {pid} ({exe}) detached")?,
        TraceState::Running => writeln!(out, "process {pid} ({exe}) running")?,
    }
    Ok(())
}
