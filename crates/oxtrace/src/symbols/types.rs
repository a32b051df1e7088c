//! C types from DWARF: the layout of a struct, union, array, enum or base
//! type found by name, and values decoded from bytes with it (vtrace's
//! getStruct, without hand-written definitions).

use gimli::{AttributeValue, UnitOffset};

use super::lines::{LineInfo, Reader};

/// How deep nested types are followed (a guard against cycles through hostile DWARF).
const MAX_DEPTH: usize = 32;
/// The most elements decoded from one array.
const MAX_ELEMENTS: u64 = 4096;

/// The layout of a type.
#[derive(Debug, Clone, PartialEq)]
pub struct TypeLayout {
    /// Its name as C writes it (`struct shape`, `int`, `char [8]`, `struct point *`).
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
    /// What it is.
    pub kind: TypeKind,
}

/// The kinds of types.
#[derive(Debug, Clone, PartialEq)]
pub enum TypeKind {
    /// A signed integer.
    Signed,
    /// An unsigned integer.
    Unsigned,
    /// A character (`char`, signed or not).
    Char,
    /// A boolean.
    Bool,
    /// A floating-point number.
    Float,
    /// A pointer.
    Pointer,
    /// A struct (or class) with its members.
    Struct(Vec<Member>),
    /// A union with its members (all at offset 0).
    Union(Vec<Member>),
    /// An array of `count` elements.
    Array {
        /// The element type.
        element: Box<TypeLayout>,
        /// How many.
        count: u64,
    },
    /// An enumeration with its named values.
    Enum(Vec<(String, i64)>),
    /// Something not decoded (a function type, a type too deep): shown as bytes.
    Opaque,
}

/// A member of a struct or union.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    /// Its name (empty for an anonymous member).
    pub name: String,
    /// Its offset in bytes.
    pub offset: u64,
    /// Its type.
    pub layout: TypeLayout,
}

/// A value decoded from memory with a [`TypeLayout`].
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A signed integer.
    Int(i64),
    /// An unsigned integer.
    Uint(u64),
    /// A character.
    Char(i64),
    /// A boolean.
    Bool(bool),
    /// A floating-point number, and whether it was single precision.
    Float(f64, bool),
    /// A pointer.
    Pointer(u64),
    /// Struct or union members, in order.
    Struct(Vec<(String, Value)>),
    /// Array elements.
    Array(Vec<Value>),
    /// An enumeration value and its name, if it has one.
    Enum(i64, Option<String>),
    /// Raw bytes.
    Bytes(Vec<u8>),
}

impl LineInfo {
    /// The layout of the type named `name`: `struct shape`, `union number`,
    /// `enum color`, or a bare name (struct, union, enum, typedef or base type).
    pub fn type_layout(&self, name: &str) -> Option<TypeLayout> {
        let (tags, bare): (&[gimli::DwTag], &str) = if let Some(n) = name.strip_prefix("struct ") {
            (&[gimli::DW_TAG_structure_type, gimli::DW_TAG_class_type], n)
        } else if let Some(n) = name.strip_prefix("union ") {
            (&[gimli::DW_TAG_union_type], n)
        } else if let Some(n) = name.strip_prefix("enum ") {
            (&[gimli::DW_TAG_enumeration_type], n)
        } else {
            (
                &[
                    gimli::DW_TAG_structure_type,
                    gimli::DW_TAG_class_type,
                    gimli::DW_TAG_union_type,
                    gimli::DW_TAG_enumeration_type,
                    gimli::DW_TAG_typedef,
                    gimli::DW_TAG_base_type,
                ],
                name,
            )
        };
        self.find_die(|unit, entry| {
            let wanted = tags.contains(&entry.tag()) && entry.attr_value(gimli::DW_AT_declaration).is_none();
            (wanted && die_name(unit, entry).as_deref() == Some(bare)).then(|| layout(unit, entry.offset(), 0))
        })
    }
}

impl LineInfo {
    /// A global or static variable named `name` that lives at a fixed address
    /// (its location is one `DW_OP_addr`): its file address and its type's layout.
    pub fn global_variable(&self, name: &str) -> Option<(u64, TypeLayout)> {
        self.find_die(|unit, entry| {
            if entry.tag() != gimli::DW_TAG_variable || die_name(unit, entry).as_deref() != Some(name) {
                return None;
            }
            let Some(AttributeValue::Exprloc(expr)) = entry.attr_value(gimli::DW_AT_location) else { return None };
            let mut ops = expr.operations(unit.encoding());
            let (Ok(Some(gimli::Operation::Address { address })), Ok(None)) = (ops.next(), ops.next()) else {
                return None;
            };
            Some((address, type_ref(entry).map_or_else(|| opaque("?", 0), |t| layout(unit, t, 0))))
        })
    }
}

type Unit<'a> = gimli::UnitRef<'a, Reader>;

fn die_name(unit: &Unit, entry: &gimli::DebuggingInformationEntry<Reader>) -> Option<String> {
    let value = entry.attr_value(gimli::DW_AT_name)?;
    let name = unit.attr_string(value).ok()?;
    gimli::Reader::to_string_lossy(&name).ok().map(|n| n.into_owned())
}

fn udata(entry: &gimli::DebuggingInformationEntry<Reader>, at: gimli::DwAt) -> Option<u64> {
    entry.attr_value(at)?.udata_value()
}

fn type_ref(entry: &gimli::DebuggingInformationEntry<Reader>) -> Option<UnitOffset> {
    match entry.attr_value(gimli::DW_AT_type)? {
        AttributeValue::UnitRef(offset) => Some(offset),
        _ => None,
    }
}

fn opaque(name: &str, size: u64) -> TypeLayout {
    TypeLayout { name: name.to_owned(), size, kind: TypeKind::Opaque }
}

/// The layout of the type DIE at `offset`.
fn layout(unit: &Unit, offset: UnitOffset, depth: usize) -> TypeLayout {
    let Ok(entry) = unit.entry(offset) else { return opaque("?", 0) };
    if depth > MAX_DEPTH {
        return opaque("...", udata(&entry, gimli::DW_AT_byte_size).unwrap_or(0));
    }
    let name = die_name(unit, &entry).unwrap_or_default();
    let size = udata(&entry, gimli::DW_AT_byte_size).unwrap_or(0);
    let target = || type_ref(&entry).map(|t| layout(unit, t, depth + 1));
    match entry.tag() {
        gimli::DW_TAG_base_type => {
            let encoding = match entry.attr_value(gimli::DW_AT_encoding) {
                Some(AttributeValue::Encoding(e)) => Some(e),
                _ => None,
            };
            let kind = match encoding {
                Some(gimli::DW_ATE_float) => TypeKind::Float,
                Some(gimli::DW_ATE_boolean) => TypeKind::Bool,
                Some(gimli::DW_ATE_signed_char | gimli::DW_ATE_unsigned_char) => TypeKind::Char,
                Some(gimli::DW_ATE_unsigned) => TypeKind::Unsigned,
                _ => TypeKind::Signed,
            };
            TypeLayout { name, size, kind }
        }
        gimli::DW_TAG_pointer_type | gimli::DW_TAG_reference_type => {
            // Not followed: a pointer's name only needs its target's name.
            let pointee = type_ref(&entry)
                .and_then(|t| unit.entry(t).ok())
                .map(|t| qualified_name(unit, &t))
                .unwrap_or_else(|| "void".into());
            TypeLayout { name: format!("{pointee} *"), size: if size == 0 { 8 } else { size }, kind: TypeKind::Pointer }
        }
        gimli::DW_TAG_typedef => {
            let inner = target().unwrap_or_else(|| opaque("void", 0));
            TypeLayout { name, ..inner }
        }
        gimli::DW_TAG_const_type | gimli::DW_TAG_volatile_type => {
            let inner = target().unwrap_or_else(|| opaque("void", 0));
            let qualifier = if entry.tag() == gimli::DW_TAG_const_type { "const" } else { "volatile" };
            TypeLayout { name: format!("{qualifier} {}", inner.name), ..inner }
        }
        gimli::DW_TAG_structure_type | gimli::DW_TAG_class_type | gimli::DW_TAG_union_type => {
            let members = members(unit, offset, depth);
            let (word, kind) = if entry.tag() == gimli::DW_TAG_union_type {
                ("union", TypeKind::Union(members))
            } else {
                ("struct", TypeKind::Struct(members))
            };
            TypeLayout { name: format!("{word} {name}").trim_end().to_owned(), size, kind }
        }
        gimli::DW_TAG_enumeration_type => {
            let values = children(unit, offset)
                .into_iter()
                .filter(|c| c.tag() == gimli::DW_TAG_enumerator)
                .filter_map(|c| {
                    let value = c.attr_value(gimli::DW_AT_const_value)?;
                    let number = value.sdata_value().or_else(|| value.udata_value().map(|u| u as i64))?;
                    Some((die_name(unit, &c)?, number))
                })
                .collect();
            TypeLayout { name: format!("enum {name}"), size, kind: TypeKind::Enum(values) }
        }
        gimli::DW_TAG_array_type => {
            let element = target().unwrap_or_else(|| opaque("?", 0));
            let counts: Vec<u64> = children(unit, offset)
                .into_iter()
                .filter(|c| c.tag() == gimli::DW_TAG_subrange_type)
                .map(|c| {
                    udata(&c, gimli::DW_AT_count)
                        .or_else(|| udata(&c, gimli::DW_AT_upper_bound).map(|u| u.saturating_add(1)))
                        .unwrap_or(0)
                })
                .collect();
            // `int m[2][3]` is an array of 2 arrays of 3: build from the innermost dimension out.
            counts.iter().rev().fold(element, |inner, &count| {
                let count = count.min(MAX_ELEMENTS);
                let name = match inner.name.split_once(" [") {
                    Some((base, dims)) => format!("{base} [{count}][{dims}"),
                    None => format!("{} [{count}]", inner.name),
                };
                TypeLayout {
                    name,
                    size: inner.size.saturating_mul(count),
                    kind: TypeKind::Array { element: Box::new(inner), count },
                }
            })
        }
        _ => opaque(&name, size),
    }
}

/// `struct point`, `int`: how C names the type of a DIE, without following it.
fn qualified_name(unit: &Unit, entry: &gimli::DebuggingInformationEntry<Reader>) -> String {
    let name = die_name(unit, entry).unwrap_or_else(|| "?".into());
    match entry.tag() {
        gimli::DW_TAG_structure_type | gimli::DW_TAG_class_type => format!("struct {name}"),
        gimli::DW_TAG_union_type => format!("union {name}"),
        gimli::DW_TAG_enumeration_type => format!("enum {name}"),
        gimli::DW_TAG_pointer_type => "void *".into(),
        gimli::DW_TAG_subroutine_type => "function".into(),
        _ => name,
    }
}

fn children(unit: &Unit, offset: UnitOffset) -> Vec<gimli::DebuggingInformationEntry<Reader>> {
    let mut found = Vec::new();
    let Ok(mut tree) = unit.entries_tree(Some(offset)) else { return found };
    let Ok(root) = tree.root() else { return found };
    let mut iter = root.children();
    while let Ok(Some(child)) = iter.next() {
        found.push(child.entry().clone());
    }
    found
}

fn members(unit: &Unit, offset: UnitOffset, depth: usize) -> Vec<Member> {
    children(unit, offset)
        .into_iter()
        .filter(|c| c.tag() == gimli::DW_TAG_member)
        .map(|c| Member {
            name: die_name(unit, &c).unwrap_or_default(),
            offset: udata(&c, gimli::DW_AT_data_member_location).unwrap_or(0),
            layout: type_ref(&c).map_or_else(|| opaque("?", 0), |t| layout(unit, t, depth + 1)),
        })
        .collect()
}

impl TypeLayout {
    /// Decodes a value of this type from `bytes` (missing bytes read as zero).
    pub fn decode(&self, bytes: &[u8]) -> Value {
        let field = |offset: u64, len: u64| -> Vec<u8> {
            let start = (offset as usize).min(bytes.len());
            let end = (offset.saturating_add(len) as usize).min(bytes.len());
            let mut out = bytes[start..end].to_vec();
            out.resize(len as usize, 0);
            out
        };
        let int = |signed: bool| -> u64 {
            let mut raw = [0u8; 8];
            let n = (self.size as usize).min(8);
            raw[..n].copy_from_slice(&field(0, n as u64));
            let value = u64::from_le_bytes(raw);
            let shift = 64 - 8 * n as u32;
            if signed && n > 0 {
                (((value << shift) as i64) >> shift) as u64
            } else {
                value
            }
        };
        match &self.kind {
            TypeKind::Signed => Value::Int(int(true) as i64),
            TypeKind::Unsigned => Value::Uint(int(false)),
            TypeKind::Char => Value::Char(int(!self.name.contains("unsigned")) as i64),
            TypeKind::Bool => Value::Bool(int(false) != 0),
            TypeKind::Pointer => Value::Pointer(int(false)),
            TypeKind::Float => match self.size {
                4 => Value::Float(f64::from(f32::from_bits(int(false) as u32)), true),
                8 => Value::Float(f64::from_bits(int(false)), false),
                _ => Value::Bytes(field(0, self.size)),
            },
            TypeKind::Enum(names) => {
                let number = int(true) as i64;
                Value::Enum(number, names.iter().find(|(_, v)| *v == number).map(|(n, _)| n.clone()))
            }
            TypeKind::Struct(members) | TypeKind::Union(members) => Value::Struct(
                members.iter().map(|m| (m.name.clone(), m.layout.decode(&field(m.offset, m.layout.size)))).collect(),
            ),
            TypeKind::Array { element, count } => Value::Array(
                (0..*count).map(|i| element.decode(&field(i.saturating_mul(element.size), element.size))).collect(),
            ),
            TypeKind::Opaque => Value::Bytes(field(0, self.size)),
        }
    }
}

impl Value {
    /// The member called `name` of a struct or union value.
    pub fn field(&self, name: &str) -> Option<&Value> {
        match self {
            Value::Struct(members) => members.iter().find(|(n, _)| n == name).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Element `i` of an array value.
    pub fn index(&self, i: usize) -> Option<&Value> {
        match self {
            Value::Array(items) => items.get(i),
            _ => None,
        }
    }

    /// The value as gdb's `print` shows it; `symbolize` names pointer targets (`<the_origin>`).
    pub fn display_with(&self, symbolize: &dyn Fn(u64) -> Option<String>) -> String {
        match self {
            Value::Int(v) => v.to_string(),
            Value::Uint(v) => v.to_string(),
            Value::Bool(v) => v.to_string(),
            Value::Char(c) => format!("{c} {}", quote_char(*c as u8, '\'')),
            Value::Float(v, single) => format_g(*v, if *single { 9 } else { 17 }),
            Value::Pointer(0) => "0x0".into(),
            Value::Pointer(p) => match symbolize(*p) {
                Some(name) => format!("{p:#x} <{name}>"),
                None => format!("{p:#x}"),
            },
            Value::Enum(v, name) => name.clone().unwrap_or_else(|| v.to_string()),
            Value::Bytes(bytes) => format!("{bytes:02x?}"),
            Value::Struct(members) => {
                let parts: Vec<String> = members
                    .iter()
                    .map(|(n, v)| match n.as_str() {
                        "" => v.display_with(symbolize),
                        _ => format!("{n} = {}", v.display_with(symbolize)),
                    })
                    .collect();
                format!("{{{}}}", parts.join(", "))
            }
            Value::Array(items) if !items.is_empty() && items.iter().all(|i| matches!(i, Value::Char(_))) => {
                let mut bytes: Vec<u8> =
                    items.iter().map(|i| if let Value::Char(c) = i { *c as u8 } else { 0 }).collect();
                // The terminating NUL is not shown (as in gdb).
                if bytes.last() == Some(&0) {
                    bytes.pop();
                }
                let mut parts = Vec::new();
                let mut text = String::new();
                for (byte, count) in runs(&bytes) {
                    if count > REPEAT_THRESHOLD {
                        if !text.is_empty() {
                            parts.push(format!("\"{}\"", std::mem::take(&mut text)));
                        }
                        parts.push(format!("{} <repeats {count} times>", quote_char(byte, '\'')));
                    } else {
                        let quoted = quote_char(byte, '"');
                        text.push_str(&quoted[1..quoted.len() - 1].repeat(count));
                    }
                }
                if !text.is_empty() || parts.is_empty() {
                    parts.push(format!("\"{text}\""));
                }
                parts.join(", ")
            }
            Value::Array(items) => {
                let shown: Vec<String> = items.iter().map(|v| v.display_with(symbolize)).collect();
                let parts: Vec<String> = runs(&shown)
                    .into_iter()
                    .map(|(v, count)| {
                        if count > REPEAT_THRESHOLD {
                            format!("{v} <repeats {count} times>")
                        } else {
                            vec![v; count].join(", ")
                        }
                    })
                    .collect();
                format!("{{{}}}", parts.join(", "))
            }
        }
    }
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.display_with(&|_| None))
    }
}

/// Runs of more equal elements than this are shown once with a count (as gdb's `repeats`).
pub(crate) const REPEAT_THRESHOLD: usize = 10;

/// Consecutive equal elements, as `(element, how many)`.
pub(crate) fn runs<T: PartialEq + Clone>(items: &[T]) -> Vec<(T, usize)> {
    let mut out: Vec<(T, usize)> = Vec::new();
    for item in items {
        match out.last_mut() {
            Some((last, count)) if last == item => *count += 1,
            _ => out.push((item.clone(), 1)),
        }
    }
    out
}

/// A character in quotes, with C escapes (`'a'`, `'\000'`).
pub(crate) fn quote_char(c: u8, quote: char) -> String {
    let body = match c {
        b'\n' => "\\n".to_owned(),
        b'\t' => "\\t".to_owned(),
        b'\\' => "\\\\".to_owned(),
        c if c as char == quote => format!("\\{quote}"),
        0x20..=0x7e => (c as char).to_string(),
        c => format!("\\{c:03o}"),
    };
    format!("{quote}{body}{quote}")
}

/// C's `%.{precision}g`: the shortest of fixed and exponent notation, trailing zeros dropped.
pub(crate) fn format_g(value: f64, precision: usize) -> String {
    if !value.is_finite() {
        return if value.is_nan() {
            "nan".into()
        } else if value > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        };
    }
    if value == 0.0 {
        return "0".into();
    }
    let scientific = format!("{:.*e}", precision - 1, value);
    let (mantissa, exponent) = scientific.split_once('e').expect("{:e} has an exponent");
    let exponent: i32 = exponent.parse().expect("a number");
    let trim = |s: &str| -> String {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_owned()
        } else {
            s.to_owned()
        }
    };
    if exponent < -4 || exponent >= precision as i32 {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", trim(mantissa), exponent.abs())
    } else {
        let decimals = (precision as i32 - 1 - exponent).max(0) as usize;
        trim(&format!("{value:.decimals$}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_print_as_c_printf_g_does() {
        assert_eq!(format_g(2.5, 17), "2.5");
        assert_eq!(format_g(f64::from(f32::from_bits(12)), 9), "1.68155816e-44");
        assert_eq!(format_g(100000.0, 9), "100000");
        assert_eq!(format_g(0.0001, 9), "0.0001");
        assert_eq!(format_g(1e-5, 9), "1.00000001e-05".replace("1.00000001", "1"));
        assert_eq!(format_g(-3.0, 17), "-3");
        assert_eq!(quote_char(0, '"'), "\"\\000\"");
        let text = |s: &[u8]| Value::Array(s.iter().map(|&b| Value::Char(i64::from(b))).collect()).to_string();
        assert_eq!(text(b"square\0\0"), "\"square\\000\"");
        assert_eq!(text(b"hi\0\0\0\0\0\0\0\0\0\0\0\0"), "\"hi\", '\\000' <repeats 11 times>");
        assert_eq!(Value::Array(vec![Value::Int(0); 16]).to_string(), "{0 <repeats 16 times>}");
        assert_eq!(Value::Array(vec![Value::Int(1), Value::Int(2)]).to_string(), "{1, 2}");
    }
}
