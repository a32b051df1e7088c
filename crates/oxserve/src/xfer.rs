//! `qXfer` objects: the library list (`libraries-svr4`), the auxiliary vector
//! and the program's path.
//!
//! The library list is the dynamic linker's own list ([`Trace::link_map`]) as
//! gdbserver writes it: the first entry (the program) is `main-lm`, the others
//! are `<library>` elements with their `link_map` address, load bias and
//! dynamic section. It is built once per stop, on first request. The auxiliary
//! vector is `/proc/PID/auxv`. Every object is served in the pieces the client
//! asks for; an offset past the end gives an empty piece.

use gdbstub::common::Pid as GdbPid;
use gdbstub::target::ext::auxv::Auxv;
use gdbstub::target::ext::exec_file::ExecFile;
use gdbstub::target::ext::libraries::LibrariesSvr4;
use gdbstub::target::{TargetError, TargetResult};
use oxtrace::{LinkMapEntry, Trace};

use crate::target::{reply_error, TraceTarget};

/// Copies the piece `[offset, offset + length)` of `data` into `buf`; returns its size.
pub fn copy_piece(data: &[u8], offset: u64, length: usize, buf: &mut [u8]) -> usize {
    let Ok(start) = usize::try_from(offset) else { return 0 };
    let Some(rest) = data.get(start..) else { return 0 };
    let n = rest.len().min(length).min(buf.len());
    buf[..n].copy_from_slice(&rest[..n]);
    n
}

/// `text` with the five XML special characters escaped, for an attribute value.
pub fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Control characters are not allowed in XML 1.0, even escaped.
            c if (c as u32) < 0x20 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// The `library-list-svr4` document for a link map (the program first).
pub fn svr4_xml(entries: &[LinkMapEntry]) -> String {
    let Some((main, libraries)) = entries.split_first() else {
        return "<library-list-svr4 version=\"1.0\"/>".to_string();
    };
    let mut xml = format!("<library-list-svr4 version=\"1.0\" main-lm=\"{:#x}\">", main.addr);
    for entry in libraries {
        xml.push_str(&format!(
            "<library name=\"{}\" lm=\"{:#x}\" l_addr=\"{:#x}\" l_ld=\"{:#x}\" lmid=\"0x0\"/>",
            xml_escape(&entry.name),
            entry.addr,
            entry.bias,
            entry.dynamic
        ));
    }
    xml.push_str("</library-list-svr4>");
    xml
}

fn libraries_document(trace: &mut Trace) -> oxtrace::Result<Vec<u8>> {
    if !trace.is_attached() {
        return Ok(svr4_xml(&[]).into_bytes());
    }
    Ok(svr4_xml(&trace.link_map()?).into_bytes())
}

impl LibrariesSvr4 for TraceTarget {
    fn get_libraries_svr4(&self, offset: u64, length: usize, buf: &mut [u8]) -> TargetResult<usize, Self> {
        let mut cache = self.libraries_xml.borrow_mut();
        if cache.is_none() {
            *cache = Some(libraries_document(&mut self.trace.borrow_mut()).map_err(reply_error)?);
        }
        Ok(copy_piece(cache.as_deref().unwrap_or(&[]), offset, length, buf))
    }
}

impl Auxv for TraceTarget {
    fn get_auxv(&self, offset: u64, length: usize, buf: &mut [u8]) -> TargetResult<usize, Self> {
        let pid = self.trace.borrow().pid();
        let auxv = std::fs::read(format!("/proc/{pid}/auxv")).map_err(|_| TargetError::Errno(3))?;
        Ok(copy_piece(&auxv, offset, length, buf))
    }
}

impl ExecFile for TraceTarget {
    fn get_exec_file(
        &self,
        _pid: Option<GdbPid>,
        offset: u64,
        length: usize,
        buf: &mut [u8],
    ) -> TargetResult<usize, Self> {
        let trace = self.trace.borrow();
        let path = match trace.exe_path() {
            Some(path) => path,
            None => std::fs::read_link(format!("/proc/{}/exe", trace.pid()))
                .map_err(|_| TargetError::Errno(3))?
                .to_string_lossy()
                .into_owned(),
        };
        Ok(copy_piece(path.as_bytes(), offset, length, buf))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(addr: u64, name: &str) -> LinkMapEntry {
        LinkMapEntry { addr, bias: addr * 2, name: name.into(), dynamic: addr + 1 }
    }

    #[test]
    fn svr4_list_like_gdbserver() {
        let xml = svr4_xml(&[entry(0x10, ""), entry(0x20, "/lib/libc.so.6")]);
        assert_eq!(
            xml,
            "<library-list-svr4 version=\"1.0\" main-lm=\"0x10\">\
             <library name=\"/lib/libc.so.6\" lm=\"0x20\" l_addr=\"0x40\" l_ld=\"0x21\" lmid=\"0x0\"/>\
             </library-list-svr4>"
        );
        assert_eq!(svr4_xml(&[]), "<library-list-svr4 version=\"1.0\"/>");
    }

    #[test]
    fn pieces_never_overrun() {
        let data = b"0123456789";
        let mut buf = [0u8; 4];
        assert_eq!(copy_piece(data, 0, 100, &mut buf), 4);
        assert_eq!(copy_piece(data, 8, 100, &mut buf), 2);
        assert_eq!(&buf[..2], b"89");
        assert_eq!(copy_piece(data, 10, 4, &mut buf), 0);
        assert_eq!(copy_piece(data, u64::MAX, usize::MAX, &mut buf), 0);
    }

    /// Seeded random names: the attribute never ends early and holds no raw specials.
    #[test]
    fn fuzz_escaped_names() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..5_000 {
            let name: String = (0..seed % 40)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    char::from_u32((seed % 0x3000) as u32).unwrap_or('?')
                })
                .collect();
            let xml = svr4_xml(&[entry(1, ""), entry(2, &name)]);
            let value = xml.split("name=\"").nth(1).and_then(|rest| rest.split('"').next()).expect("attribute");
            assert!(xml[xml.find("name=\"").unwrap() + 6 + value.len()..].starts_with("\" lm="), "{name:?}");
            assert!(!value.contains(['<', '>', '\'']), "{name:?}");
            assert!(value.chars().all(|c| c as u32 >= 0x20), "{name:?}");
        }
    }
}
