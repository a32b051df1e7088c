//! The stub's register layout, from its target description
//! (`qXfer:features:read:target.xml`, following `xi:include`s), or gdb's
//! amd64 layout when the stub offers none.
//!
//! Only what the layout needs is read from the XML: the `<architecture>` and
//! every `<reg>`'s `name`, `bitsize` and `regnum` (a `reg` without one takes
//! the number after the previous). The scanner is a few string searches over
//! the text, never panics on any input (the fuzz test feeds it random text),
//! and ignores what it does not know.

/// One register of the stub's `g` packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteRegister {
    /// Its name in the description (`rax`, `eflags`, `xmm0`, `ymm0h`).
    pub name: String,
    /// Its width in bits.
    pub bits: u32,
    /// gdb's number for it (`p`/`P`, and the order in `g`).
    pub regnum: u32,
}

/// A stub's layout: the registers in `g` order, and the architecture it named.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Layout {
    /// `i386:x86-64`, `aarch64`... (empty if not named).
    pub architecture: String,
    /// The registers by number.
    pub registers: Vec<RemoteRegister>,
}

impl Layout {
    /// Byte offset and size of each register in the `g` packet, in order.
    pub fn offsets(&self) -> impl Iterator<Item = (&RemoteRegister, usize, usize)> + '_ {
        let mut at = 0usize;
        self.registers.iter().map(move |r| {
            let size = (r.bits as usize).div_ceil(8);
            let item = (r, at, size);
            at += size;
            item
        })
    }
}

/// The value of attribute `name` in a tag's text.
fn attribute<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let mut rest = tag;
    loop {
        let at = rest.find(name)?;
        let before_ok = at == 0 || rest[..at].ends_with(char::is_whitespace);
        let after = rest[at + name.len()..].trim_start();
        if before_ok {
            if let Some(value) = after.strip_prefix('=') {
                let value = value.trim_start();
                let quote = value.chars().next().filter(|&q| q == '"' || q == '\'')?;
                let value = &value[1..];
                return value.find(quote).map(|end| &value[..end]);
            }
        }
        rest = &rest[at + name.len()..];
    }
}

/// The tags named `name` in `xml` (the text between `<name` and `>`).
fn tags<'a>(xml: &'a str, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    let open = format!("<{name}");
    let mut rest = xml;
    std::iter::from_fn(move || loop {
        let at = rest.find(&open)?;
        let after = &rest[at + open.len()..];
        // `<reg` must not match `<register`.
        if !after.starts_with(|c: char| c.is_whitespace() || c == '/' || c == '>') {
            rest = after;
            continue;
        }
        let end = after.find('>').unwrap_or(after.len());
        rest = &after[end..];
        return Some(&after[..end]);
    })
}

/// The files a description includes (`<xi:include href="..."/>`), in order.
pub fn includes(xml: &str) -> Vec<String> {
    tags(xml, "xi:include").filter_map(|t| attribute(t, "href")).map(str::to_owned).collect()
}

/// Adds the architecture and registers of one description file to `layout`.
pub fn scan(xml: &str, layout: &mut Layout) {
    if let Some(start) = xml.find("<architecture>") {
        let rest = &xml[start + "<architecture>".len()..];
        if let Some(end) = rest.find('<') {
            layout.architecture = rest[..end].trim().to_owned();
        }
    }
    for tag in tags(xml, "reg") {
        let (Some(name), Some(bits)) = (attribute(tag, "name"), attribute(tag, "bitsize")) else { continue };
        let Ok(bits) = bits.trim().parse::<u32>() else { continue };
        if bits == 0 || bits > 4096 {
            continue;
        }
        let next = layout.registers.last().map_or(0, |r| r.regnum.saturating_add(1));
        let regnum = attribute(tag, "regnum").and_then(|n| n.trim().parse().ok()).unwrap_or(next);
        layout.registers.push(RemoteRegister { name: name.to_owned(), bits, regnum });
    }
}

/// Sorts by number and drops duplicates (the `g` packet's order).
pub fn finish(layout: &mut Layout) {
    layout.registers.sort_by_key(|r| r.regnum);
    layout.registers.dedup_by_key(|r| r.regnum);
}

/// gdb's amd64 layout (core and SSE registers), for stubs without a description.
pub fn amd64_default() -> Layout {
    let mut registers = Vec::new();
    let mut add = |name: String, bits: u32| {
        let regnum = registers.len() as u32;
        registers.push(RemoteRegister { name, bits, regnum });
    };
    for name in ["rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp"] {
        add(name.into(), 64);
    }
    for n in 8..16 {
        add(format!("r{n}"), 64);
    }
    add("rip".into(), 64);
    for name in ["eflags", "cs", "ss", "ds", "es", "fs", "gs"] {
        add(name.into(), 32);
    }
    for n in 0..8 {
        add(format!("st{n}"), 80);
    }
    for name in ["fctrl", "fstat", "ftag", "fiseg", "fioff", "foseg", "fooff", "fop"] {
        add(name.into(), 32);
    }
    for n in 0..16 {
        add(format!("xmm{n}"), 128);
    }
    add("mxcsr".into(), 32);
    Layout { architecture: "i386:x86-64".into(), registers }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registers_numbers_and_includes() {
        let xml = r#"<?xml version="1.0"?><target><architecture>i386:x86-64</architecture>
            <xi:include href="64bit-core.xml"/><xi:include href='64bit-sse.xml'/>
            <feature name="x"><reg name="rax" bitsize="64" type="int64"/>
            <reg name="rbx" bitsize="64"/><register name="no" bitsize="8"/>
            <reg name="orig_rax" bitsize="64" regnum="57"/><reg name="fs_base" bitsize="64"/></feature></target>"#;
        let mut layout = Layout::default();
        scan(xml, &mut layout);
        finish(&mut layout);
        assert_eq!(includes(xml), ["64bit-core.xml", "64bit-sse.xml"]);
        assert_eq!(layout.architecture, "i386:x86-64");
        let names: Vec<(&str, u32)> = layout.registers.iter().map(|r| (r.name.as_str(), r.regnum)).collect();
        assert_eq!(names, [("rax", 0), ("rbx", 1), ("orig_rax", 57), ("fs_base", 58)]);
        let default = amd64_default();
        assert_eq!(default.offsets().last().map(|(_, at, size)| at + size), Some(0x218));
    }

    /// Seeded random text and mutated descriptions: the scanner never panics.
    #[test]
    fn fuzz_descriptions() {
        let base = r#"<target><architecture>aarch64</architecture><reg name="x0" bitsize="64" regnum="0"/><xi:include href="a.xml"/></target>"#;
        let mut seed = 0x1234_5678_9abc_def1u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..5_000 {
            let mut bytes = base.as_bytes().to_vec();
            for _ in 0..next() % 8 {
                let at = (next() % bytes.len() as u64) as usize;
                match next() % 3 {
                    0 => bytes[at] = b"<>\"'= /x"[(next() % 8) as usize],
                    1 => bytes.truncate(at),
                    _ => bytes.insert(at, next() as u8),
                }
                if bytes.is_empty() {
                    break;
                }
            }
            let text = String::from_utf8_lossy(&bytes);
            let mut layout = Layout::default();
            scan(&text, &mut layout);
            finish(&mut layout);
            let _ = includes(&text);
            let _ = layout.offsets().count();
        }
    }
}
