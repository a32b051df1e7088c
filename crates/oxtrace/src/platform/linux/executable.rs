//! Checking that a program can be started under trace before starting it.
//!
//! `Command::spawn` runs whatever `execvp` accepts, and `execvp` falls back to
//! running a file that is not a program through `/bin/sh`: a text file, or an
//! ELF file of another machine, would then be reported as started (dash
//! running it). A debugger must say instead, as gdb does, that the file is
//! not a program it can debug.

use std::ffi::OsStr;
use std::io::Read;
use std::path::{Path, PathBuf};

/// `e_machine` of x86_64 ELF files.
const EM_X86_64: u16 = 62;
/// `e_machine` of i386 ELF files.
const EM_386: u16 = 3;

/// Checks that `program` (relative to `cwd`, the child's working directory,
/// when it has a slash) names an ELF program of this machine (x86_64, or
/// i386); returns why not.
pub(super) fn check_program(program: &OsStr, cwd: Option<&Path>) -> Result<(), String> {
    let path = find_program(program, cwd).ok_or_else(|| "no such file or program in PATH".to_string())?;
    if path.is_dir() {
        return Err("is a directory".into());
    }
    let mut header = [0u8; 20];
    let mut file = std::fs::File::open(&path).map_err(|e| e.to_string())?;
    let read = file.read(&mut header).map_err(|e| e.to_string())?;
    if header.starts_with(b"#!") {
        let interpreter = String::from_utf8_lossy(&header[2..read]);
        let interpreter = interpreter.split_whitespace().next().unwrap_or("?").to_owned();
        return Err(format!("a script for {interpreter}, not an ELF program: start {interpreter} with the script"));
    }
    if read < header.len() || &header[..4] != b"\x7fELF" {
        return Err("not in executable format: not an ELF file".into());
    }
    let little_endian = header[5] == 1;
    let machine = if little_endian {
        u16::from_le_bytes([header[18], header[19]])
    } else {
        u16::from_be_bytes([header[18], header[19]])
    };
    match machine {
        EM_X86_64 | EM_386 => Ok(()),
        other => Err(format!("an ELF program for another machine ({}), not x86_64 or i386", machine_name(other))),
    }
}

/// The file `execvp` would run: `program` itself when it has a slash, else the first match in `PATH`.
fn find_program(program: &OsStr, cwd: Option<&Path>) -> Option<PathBuf> {
    let path = Path::new(program);
    if program.as_encoded_bytes().contains(&b'/') {
        let path = cwd.map_or_else(|| path.to_path_buf(), |dir| dir.join(path));
        return path.exists().then_some(path);
    }
    let search = std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    std::env::split_paths(&search).map(|dir| dir.join(path)).find(|candidate| candidate.is_file())
}

fn machine_name(machine: u16) -> String {
    match machine {
        40 => "arm".into(),
        183 => "aarch64".into(),
        243 => "riscv".into(),
        8 => "mips".into(),
        20 => "powerpc".into(),
        21 => "powerpc64".into(),
        22 => "s390".into(),
        other => format!("e_machine {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn programs_of_this_machine_pass_and_others_are_named() {
        assert_eq!(check_program(OsStr::new("/bin/true"), None), Ok(()));
        assert_eq!(check_program(OsStr::new("true"), None), Ok(()));
        assert_eq!(check_program(OsStr::new("/"), None), Err("is a directory".into()));
        assert!(check_program(OsStr::new("/etc/passwd"), None).unwrap_err().contains("not an ELF file"));
        assert!(check_program(OsStr::new("no-such-program-here"), None).unwrap_err().contains("no such file"));
    }
}
