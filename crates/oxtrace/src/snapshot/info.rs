//! oxtrace's own note (name `OXTRACE`): what a core file has no place for.
//!
//! Encoding, little-endian: the magic `OXSNAP` and a `u16` version (1), then
//! records until the end, each `u8 key`, `u32 length`, `length` bytes. A
//! reader skips keys it does not know, so later versions can add records.
//! Strings are `u32 length` + UTF-8 bytes. Records:
//!
//! | key | record |
//! | --- | --- |
//! | 1 meta | name, value (a tagged [`MetaValue`]) |
//! | 2 variable | name, `u64` value |
//! | 3 breakpoint | `u32` id, `u64` address, `u8` enabled, kind (text), expression (text, empty if none) |
//! | 4 module | name, path, `u64` base, `u64` end |
//! | 5 map | `u64` start, `u64` end, perms (`rwxp`), `u64` file offset, path (empty if anonymous) |
//! | 6 fd | `u32` number, target |
//!
//! Decoding never panics: a record that does not parse is an error naming the
//! byte offset where it starts.

use super::elf::{put_u32, put_u64, LeReader};
use crate::memory::{MemoryMap, Perms};
use crate::trace::MetaValue;

const MAGIC: &[u8; 6] = b"OXSNAP";
/// The version this code writes and reads.
pub const VERSION: u16 = 1;
/// Nesting limit for metadata lists when decoding.
const MAX_DEPTH: usize = 32;

/// A breakpoint as a snapshot records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedBreakpoint {
    /// Its id in the trace that saved it.
    pub id: u32,
    /// Its address (0 when it was deferred).
    pub addr: u64,
    /// Whether it was armed.
    pub enabled: bool,
    /// Its kind, as `Debug` of [`crate::BreakpointKind`] prints it.
    pub kind: String,
    /// The expression it was set by, if any.
    pub expr: Option<String>,
}

/// A loaded module as a snapshot records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedModule {
    /// Normalized name (`libc`).
    pub name: String,
    /// File path.
    pub path: String,
    /// Lowest address.
    pub base: u64,
    /// End of the highest map.
    pub end: u64,
}

/// Everything the `OXTRACE` note carries.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SnapshotInfo {
    /// The trace's metadata.
    pub meta: Vec<(String, MetaValue)>,
    /// The trace's variables.
    pub variables: Vec<(String, u64)>,
    /// The breakpoints set when it was taken.
    pub breakpoints: Vec<SavedBreakpoint>,
    /// The loaded modules.
    pub modules: Vec<SavedModule>,
    /// Every map exactly as `/proc/PID/maps` gave it (pseudo names and the shared flag included).
    pub maps: Vec<MemoryMap>,
    /// Open file descriptors and their targets.
    pub fds: Vec<(i32, String)>,
}

impl SnapshotInfo {
    /// The note's payload.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&VERSION.to_le_bytes());
        let mut record = |key: u8, body: Vec<u8>| {
            out.push(key);
            put_u32(&mut out, body.len() as u32);
            out.extend_from_slice(&body);
        };
        for (name, value) in &self.meta {
            let mut body = Vec::new();
            put_str(&mut body, name);
            put_meta(&mut body, value);
            record(1, body);
        }
        for (name, value) in &self.variables {
            let mut body = Vec::new();
            put_str(&mut body, name);
            put_u64(&mut body, *value);
            record(2, body);
        }
        for bp in &self.breakpoints {
            let mut body = Vec::new();
            put_u32(&mut body, bp.id);
            put_u64(&mut body, bp.addr);
            body.push(bp.enabled as u8);
            put_str(&mut body, &bp.kind);
            put_str(&mut body, bp.expr.as_deref().unwrap_or(""));
            record(3, body);
        }
        for m in &self.modules {
            let mut body = Vec::new();
            put_str(&mut body, &m.name);
            put_str(&mut body, &m.path);
            put_u64(&mut body, m.base);
            put_u64(&mut body, m.end);
            record(4, body);
        }
        for map in &self.maps {
            let mut body = Vec::new();
            put_u64(&mut body, map.start);
            put_u64(&mut body, map.end);
            put_str(&mut body, &map.perms.to_string());
            put_u64(&mut body, map.offset);
            put_str(&mut body, map.path.as_deref().unwrap_or(""));
            record(5, body);
        }
        for (fd, target) in &self.fds {
            let mut body = Vec::new();
            put_u32(&mut body, *fd as u32);
            put_str(&mut body, target);
            record(6, body);
        }
        out
    }

    /// Parses the note's payload; the error says what is wrong and where.
    pub fn decode(bytes: &[u8]) -> Result<SnapshotInfo, String> {
        let mut r = LeReader::new(bytes);
        if r.bytes(MAGIC.len()) != Some(MAGIC.as_slice()) {
            return Err("the OXTRACE note does not start with OXSNAP".into());
        }
        let version = r.u16().ok_or("the OXTRACE note ends before its version")?;
        if version != VERSION {
            return Err(format!("the OXTRACE note has version {version}; this oxtrace reads version {VERSION}"));
        }
        let mut info = SnapshotInfo::default();
        while r.remaining() > 0 {
            let at = bytes.len() - r.remaining();
            let bad = || format!("the OXTRACE note has a bad record at byte {at}");
            let key = r.u8().ok_or_else(bad)?;
            let len = r.u32().ok_or_else(bad)? as usize;
            let mut body = LeReader::new(r.bytes(len).ok_or_else(bad)?);
            let b = &mut body;
            match key {
                1 => info.meta.push((get_str(b).ok_or_else(bad)?, get_meta(b, 0).ok_or_else(bad)?)),
                2 => info.variables.push((get_str(b).ok_or_else(bad)?, b.u64().ok_or_else(bad)?)),
                3 => {
                    let (id, addr, enabled) = (b.u32(), b.u64(), b.u8());
                    let (kind, expr) = (get_str(b), get_str(b));
                    let (Some(id), Some(addr), Some(enabled), Some(kind), Some(expr)) = (id, addr, enabled, kind, expr)
                    else {
                        return Err(bad());
                    };
                    let expr = (!expr.is_empty()).then_some(expr);
                    info.breakpoints.push(SavedBreakpoint { id, addr, enabled: enabled != 0, kind, expr });
                }
                4 => {
                    let (name, path, base, end) = (get_str(b), get_str(b), b.u64(), b.u64());
                    let (Some(name), Some(path), Some(base), Some(end)) = (name, path, base, end) else {
                        return Err(bad());
                    };
                    info.modules.push(SavedModule { name, path, base, end });
                }
                5 => {
                    let (start, end, perms, offset, path) = (b.u64(), b.u64(), get_str(b), b.u64(), get_str(b));
                    let (Some(start), Some(end), Some(perms), Some(offset), Some(path)) =
                        (start, end, perms, offset, path)
                    else {
                        return Err(bad());
                    };
                    let perms = Perms::parse(&perms).ok_or_else(bad)?;
                    let path = (!path.is_empty()).then_some(path);
                    info.maps.push(MemoryMap { start, end, perms, offset, device: (0, 0), inode: 0, path });
                }
                6 => info.fds.push((b.u32().ok_or_else(bad)? as i32, get_str(b).ok_or_else(bad)?)),
                _ => {} // a later version's record
            }
        }
        Ok(info)
    }
}

fn put_str(out: &mut Vec<u8>, text: &str) {
    put_u32(out, text.len() as u32);
    out.extend_from_slice(text.as_bytes());
}

fn get_str(r: &mut LeReader<'_>) -> Option<String> {
    let len = r.u32()? as usize;
    String::from_utf8(r.bytes(len)?.to_vec()).ok()
}

fn put_meta(out: &mut Vec<u8>, value: &MetaValue) {
    match value {
        MetaValue::Int(v) => {
            out.push(0);
            put_u64(out, *v as u64);
        }
        MetaValue::UInt(v) => {
            out.push(1);
            put_u64(out, *v);
        }
        MetaValue::Str(s) => {
            out.push(2);
            put_str(out, s);
        }
        MetaValue::Bool(b) => {
            out.push(3);
            out.push(*b as u8);
        }
        MetaValue::Bytes(bytes) => {
            out.push(4);
            put_u32(out, bytes.len() as u32);
            out.extend_from_slice(bytes);
        }
        MetaValue::List(items) => {
            out.push(5);
            put_u32(out, items.len() as u32);
            for item in items {
                put_meta(out, item);
            }
        }
    }
}

fn get_meta(r: &mut LeReader<'_>, depth: usize) -> Option<MetaValue> {
    if depth > MAX_DEPTH {
        return None;
    }
    Some(match r.u8()? {
        0 => MetaValue::Int(r.u64()? as i64),
        1 => MetaValue::UInt(r.u64()?),
        2 => MetaValue::Str(get_str(r)?),
        3 => MetaValue::Bool(r.u8()? != 0),
        4 => {
            let len = r.u32()? as usize;
            MetaValue::Bytes(r.bytes(len)?.to_vec())
        }
        5 => {
            let count = r.u32()? as usize;
            let mut items = Vec::with_capacity(count.min(r.remaining()));
            for _ in 0..count {
                items.push(get_meta(r, depth + 1)?);
            }
            MetaValue::List(items)
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> SnapshotInfo {
        SnapshotInfo {
            meta: vec![
                ("ExeName".into(), MetaValue::Str("/bin/x".into())),
                (
                    "L".into(),
                    MetaValue::List(vec![MetaValue::Int(-1), MetaValue::Bytes(vec![1, 2]), MetaValue::Bool(true)]),
                ),
            ],
            variables: vec![("v".into(), 7)],
            breakpoints: vec![SavedBreakpoint {
                id: 3,
                addr: 0x401000,
                enabled: true,
                kind: "Normal".into(),
                expr: Some("main".into()),
            }],
            modules: vec![SavedModule {
                name: "libc".into(),
                path: "/lib/libc.so.6".into(),
                base: 0x7f00,
                end: 0x8f00,
            }],
            maps: vec![MemoryMap {
                start: 0x1000,
                end: 0x2000,
                perms: Perms::parse("rw-s").unwrap(),
                offset: 0,
                device: (0, 0),
                inode: 0,
                path: Some("[heap]".into()),
            }],
            fds: vec![(0, "/dev/null".into())],
        }
    }

    #[test]
    fn round_trips() {
        let info = sample();
        assert_eq!(SnapshotInfo::decode(&info.encode()).unwrap(), info);
    }

    #[test]
    fn every_truncation_is_an_error_or_a_prefix() {
        let bytes = sample().encode();
        for len in 0..bytes.len() {
            let _ = SnapshotInfo::decode(&bytes[..len]);
        }
        assert!(SnapshotInfo::decode(b"NOTOXS").is_err());
    }
}
