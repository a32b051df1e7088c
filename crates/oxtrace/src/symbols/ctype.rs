//! C types as the expression evaluator needs them, from DWARF: pointers know
//! their target, functions their return and parameter types, members their
//! bit fields, and typedefs keep their name. A struct reached through a
//! pointer is left as a [`TypeRef`] and read when it is needed, so that
//! self-referential types (`struct node *next`) cost nothing until followed.

use gimli::{AttributeValue, UnitOffset};

use super::lines::{LineInfo, Reader};

/// How deep type DIEs are followed at once (a guard against hostile DWARF).
const MAX_DEPTH: usize = 24;
/// The most array elements a type is said to have.
const MAX_COUNT: u64 = 1 << 24;

/// Where a type's DIE is: the file that holds its DWARF and its `.debug_info` offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeRef {
    /// The module's path, as [`crate::symbols::Module::path`] gives it.
    pub module: String,
    /// The DIE's offset in `.debug_info`.
    pub offset: usize,
}

/// A C type.
#[derive(Debug, Clone, PartialEq)]
pub struct CType {
    /// How C writes it (`int`, `struct node *`, `char [8]`, `int (*)(int)`).
    pub name: String,
    /// Its size in bytes (0 for `void` and functions).
    pub size: u64,
    /// What it is.
    pub kind: CKind,
    /// A Rust type: shown with Rust's syntax (`Point {x: 3}`, `*mut T`), as gdb does.
    pub rust: bool,
}

/// The kinds of C types.
#[derive(Debug, Clone, PartialEq)]
pub enum CKind {
    /// `void`.
    Void,
    /// An integer, signed or not.
    Int {
        /// Whether it is signed.
        signed: bool,
    },
    /// A character type.
    Char {
        /// Whether it is signed.
        signed: bool,
    },
    /// `_Bool` / `bool`.
    Bool,
    /// `float`, `double`, `long double`.
    Float,
    /// A pointer to its target.
    Pointer(Box<CType>),
    /// A C++ reference to its target.
    Reference(Box<CType>),
    /// An array; `count` is `None` for `int []`.
    Array {
        /// The element type.
        element: Box<CType>,
        /// How many elements.
        count: Option<u64>,
    },
    /// A struct, class or union with its members.
    Struct {
        /// Its members in order.
        members: Vec<CMember>,
        /// Whether it is a union.
        union: bool,
    },
    /// An enumeration.
    Enum {
        /// Its named values.
        values: Vec<(String, i64)>,
        /// Whether its underlying type is signed.
        signed: bool,
    },
    /// A function.
    Function {
        /// What it returns.
        ret: Box<CType>,
        /// Its declared parameter types.
        params: Vec<CType>,
        /// Whether it takes more (`...`).
        variadic: bool,
    },
    /// A typedef or a qualified type (`const`, `volatile`) of its target.
    Typedef(Box<CType>),
    /// A struct, class or union not read yet (reached through a pointer): see
    /// [`crate::Trace::resolve_type`].
    Incomplete(TypeRef),
}

/// A member of a struct, class or union.
#[derive(Debug, Clone, PartialEq)]
pub struct CMember {
    /// Its name (empty for an anonymous member).
    pub name: String,
    /// Its offset in bytes (of the storage unit, for a bit field).
    pub offset: u64,
    /// For a bit field: its width and its first bit counted from `offset * 8`.
    pub bits: Option<(u64, u64)>,
    /// Its type.
    pub ty: CType,
    /// A C++ base class (gdb shows it as `<Base> = {...}`).
    pub base: bool,
}

impl CType {
    /// A type with this name, size and kind.
    pub fn new(name: impl Into<String>, size: u64, kind: CKind) -> CType {
        CType { name: name.into(), size, kind, rust: false }
    }

    /// `int`.
    pub fn int() -> CType {
        CType::new("int", 4, CKind::Int { signed: true })
    }

    /// `unsigned int`.
    pub fn uint() -> CType {
        CType::new("unsigned int", 4, CKind::Int { signed: false })
    }

    /// `long`.
    pub fn long() -> CType {
        CType::new("long", 8, CKind::Int { signed: true })
    }

    /// `unsigned long`.
    pub fn ulong() -> CType {
        CType::new("unsigned long", 8, CKind::Int { signed: false })
    }

    /// `char`.
    pub fn char() -> CType {
        CType::new("char", 1, CKind::Char { signed: true })
    }

    /// `double`.
    pub fn double() -> CType {
        CType::new("double", 8, CKind::Float)
    }

    /// `float`.
    pub fn float() -> CType {
        CType::new("float", 4, CKind::Float)
    }

    /// `void`.
    pub fn void() -> CType {
        CType::new("void", 0, CKind::Void)
    }

    /// A pointer to `target`.
    pub fn pointer_to(target: CType) -> CType {
        let name = match &target.strip().kind {
            CKind::Function { ret, .. } => match target.name.strip_prefix(ret.name.as_str()) {
                Some(list) => format!("{} (*){}", ret.name, list.trim_start()),
                None => format!("{} (*)()", ret.name),
            },
            _ if target.name.ends_with('*') => format!("{}*", target.name),
            _ => format!("{} *", target.name),
        };
        CType::new(name, 8, CKind::Pointer(Box::new(target)))
    }

    /// An array of `count` elements of `element`.
    pub fn array_of(element: CType, count: u64) -> CType {
        let name = match element.name.split_once(" [") {
            Some((base, dims)) => format!("{base} [{count}][{dims}"),
            None => format!("{} [{count}]", element.name),
        };
        CType::new(
            name,
            element.size.saturating_mul(count),
            CKind::Array { element: Box::new(element), count: Some(count) },
        )
    }

    /// The type without typedefs and qualifiers.
    pub fn strip(&self) -> &CType {
        let mut ty = self;
        while let CKind::Typedef(inner) = &ty.kind {
            ty = inner;
        }
        ty
    }

    /// Whether it is an integer, character, boolean or enumeration.
    pub fn is_integer(&self) -> bool {
        matches!(self.strip().kind, CKind::Int { .. } | CKind::Char { .. } | CKind::Bool | CKind::Enum { .. })
    }

    /// Whether it is a signed integer type.
    pub fn is_signed(&self) -> bool {
        match &self.strip().kind {
            CKind::Int { signed } | CKind::Char { signed } | CKind::Enum { signed, .. } => *signed,
            _ => false,
        }
    }

    /// Whether it is a floating-point type.
    pub fn is_float(&self) -> bool {
        matches!(self.strip().kind, CKind::Float)
    }

    /// Whether it is a pointer.
    pub fn is_pointer(&self) -> bool {
        matches!(self.strip().kind, CKind::Pointer(_))
    }

    /// Whether it is a struct, class or union (or one not read yet).
    pub fn is_struct(&self) -> bool {
        matches!(self.strip().kind, CKind::Struct { .. } | CKind::Incomplete(_))
    }

    /// Whether it is a C string's element type (`char`, signed or not).
    pub fn is_char(&self) -> bool {
        matches!(self.strip().kind, CKind::Char { .. })
    }
}

/// `(int, char *)`, `(void)`, `(int, ...)`.
pub fn param_list(params: &[CType], variadic: bool) -> String {
    let mut names: Vec<&str> = params.iter().map(|p| p.name.as_str()).collect();
    if variadic {
        names.push("...");
    }
    if names.is_empty() {
        return "(void)".into();
    }
    format!("({})", names.join(", "))
}

type Unit<'a> = gimli::UnitRef<'a, Reader>;
pub(super) type Entry = gimli::DebuggingInformationEntry<Reader>;

impl LineInfo {
    /// The type whose DIE is at `.debug_info` offset `offset`, read in full
    /// (its members' pointers left [`CKind::Incomplete`]); `module` is the
    /// path recorded in the type references it makes.
    pub fn ctype_at(&self, module: &str, offset: usize) -> Option<CType> {
        let (unit, unit_offset) = self.unit_of(offset)?;
        let unit = unit.unit_ref(self.dwarf());
        Some(Converter { unit, module }.convert(unit_offset, 0, false))
    }

    /// The enumeration that has an enumerator named `name` (as it is shown:
    /// `BLUE`, `geo::Unit::Foot`), and the enumerator's value.
    pub fn enumerator_named(&self, module: &str, name: &str) -> Option<(CType, i64)> {
        let bare = name.rsplit("::").next().unwrap_or(name);
        // An enumerator's enumeration is the last one opened before it, in its own unit.
        let mut enumeration = None;
        self.find_in_units(module, |conv, entry| match entry.tag() {
            gimli::DW_TAG_enumeration_type => {
                enumeration = Some(entry.offset());
                None
            }
            gimli::DW_TAG_enumerator if die_name(&conv.unit, entry).as_deref() == Some(bare) => {
                let ty = conv.convert(enumeration?, 0, false);
                let CKind::Enum { values, .. } = &ty.kind else { return None };
                let value = values.iter().find(|(n, _)| n == name)?.1;
                Some((ty, value))
            }
            _ => None,
        })
    }

    /// The type named `name` (`struct shape`, `union u`, `enum e`, a typedef
    /// or a base type), defined anywhere in this file.
    pub fn ctype_named(&self, module: &str, name: &str) -> Option<CType> {
        let (tags, bare): (&[gimli::DwTag], &str) = if let Some(n) = name.strip_prefix("struct ") {
            (&[gimli::DW_TAG_structure_type, gimli::DW_TAG_class_type], n)
        } else if let Some(n) = name.strip_prefix("class ") {
            (&[gimli::DW_TAG_class_type, gimli::DW_TAG_structure_type], n)
        } else if let Some(n) = name.strip_prefix("union ") {
            (&[gimli::DW_TAG_union_type], n)
        } else if let Some(n) = name.strip_prefix("enum ") {
            (&[gimli::DW_TAG_enumeration_type], n)
        } else {
            (
                &[
                    gimli::DW_TAG_typedef,
                    gimli::DW_TAG_base_type,
                    gimli::DW_TAG_structure_type,
                    gimli::DW_TAG_class_type,
                    gimli::DW_TAG_union_type,
                    gimli::DW_TAG_enumeration_type,
                ],
                name,
            )
        };
        // A C++ name may be qualified: `geo::Point`.
        let (scope, bare) = match bare.rsplit_once("::") {
            Some((scope, last)) => (Some(format!("{scope}::")), last),
            None => (None, bare),
        };
        self.find_in_units(module, |conv, entry| {
            let wanted = tags.contains(&entry.tag())
                && entry.attr_value(gimli::DW_AT_declaration).is_none()
                && die_name(&conv.unit, entry).as_deref() == Some(bare)
                && scope.as_ref().is_none_or(|s| conv.scope_prefix(entry.offset()) == *s);
            wanted.then(|| conv.convert(entry.offset(), 0, false))
        })
    }

    /// The unit holding the DIE at `.debug_info` offset `offset`, and the DIE's offset in it.
    pub(super) fn unit_of(&self, offset: usize) -> Option<(gimli::Unit<Reader>, UnitOffset)> {
        let dwarf = self.dwarf();
        let target = gimli::DebugInfoOffset(offset);
        let mut headers = dwarf.units();
        while let Ok(Some(header)) = headers.next() {
            let Some(unit_offset) = target.to_unit_offset(&header) else { continue };
            let unit = dwarf.unit(header).ok()?;
            return Some((unit, unit_offset));
        }
        None
    }
}

/// How many units' C++ scopes a thread keeps.
const MAX_CACHED_UNITS: usize = 256;

/// A unit's DIE scopes by DIE offset (a map shared by the types converted from it).
type ScopeMap = std::rc::Rc<std::collections::HashMap<usize, String>>;

thread_local! {
    /// The C++ scopes of the units read so far, by module and unit offset.
    static SCOPES: std::cell::RefCell<std::collections::HashMap<(String, usize), ScopeMap>> =
        Default::default();
}

/// The name of a DIE.
pub(super) fn die_name(unit: &Unit, entry: &Entry) -> Option<String> {
    let value = entry.attr_value(gimli::DW_AT_name)?;
    let name = unit.attr_string(value).ok()?;
    gimli::Reader::to_string_lossy(&name).ok().map(|n| n.into_owned())
}

/// The DIE a reference attribute points at, in the same unit.
pub(super) fn unit_ref(entry: &Entry, at: gimli::DwAt) -> Option<UnitOffset> {
    match entry.attr_value(at)? {
        AttributeValue::UnitRef(offset) => Some(offset),
        _ => None,
    }
}

fn udata(entry: &Entry, at: gimli::DwAt) -> Option<u64> {
    entry.attr_value(at)?.udata_value()
}

/// Turns type DIEs of one unit into [`CType`]s.
pub(super) struct Converter<'a> {
    /// The unit.
    pub unit: Unit<'a>,
    /// The module path recorded in type references.
    pub module: &'a str,
}

impl Converter<'_> {
    /// The type of an entity's `DW_AT_type` (`void` without one).
    pub fn type_of(&self, entry: &Entry) -> CType {
        match unit_ref(entry, gimli::DW_AT_type) {
            Some(offset) => self.convert(offset, 0, false),
            None => CType::void(),
        }
    }

    /// The type DIE at `offset`; `lazy` leaves structs as references.
    pub fn convert(&self, offset: UnitOffset, depth: usize, lazy: bool) -> CType {
        let mut ty = self.convert_die(offset, depth, lazy);
        if self.is_rust() {
            ty.rust = true;
            if let CKind::Pointer(target) = &ty.kind {
                // gdb writes every Rust pointer and reference type as a raw pointer.
                ty.name = format!("*mut {}", target.name);
            }
        }
        ty
    }

    /// Whether the unit is Rust.
    pub fn is_rust(&self) -> bool {
        let Ok(root) = self.unit.entry(self.unit.header.root_offset()) else { return false };
        root.attr_value(gimli::DW_AT_language) == Some(AttributeValue::Language(gimli::DW_LANG_Rust))
    }

    fn convert_die(&self, offset: UnitOffset, depth: usize, lazy: bool) -> CType {
        let Ok(entry) = self.unit.entry(offset) else { return CType::new("?", 0, CKind::Void) };
        let name = die_name(&self.unit, &entry);
        let size = udata(&entry, gimli::DW_AT_byte_size).unwrap_or(0);
        if depth > MAX_DEPTH {
            return CType::new(name.unwrap_or_else(|| "...".into()), size, CKind::Void);
        }
        let target = |lazy: bool| match unit_ref(&entry, gimli::DW_AT_type) {
            Some(t) => self.convert(t, depth + 1, lazy),
            None => CType::void(),
        };
        match entry.tag() {
            gimli::DW_TAG_base_type => {
                let encoding = match entry.attr_value(gimli::DW_AT_encoding) {
                    Some(AttributeValue::Encoding(e)) => e,
                    _ => gimli::DW_ATE_signed,
                };
                let kind = match encoding {
                    gimli::DW_ATE_float => CKind::Float,
                    gimli::DW_ATE_boolean => CKind::Bool,
                    gimli::DW_ATE_signed_char => CKind::Char { signed: true },
                    gimli::DW_ATE_unsigned_char | gimli::DW_ATE_UTF => CKind::Char { signed: false },
                    gimli::DW_ATE_unsigned => CKind::Int { signed: false },
                    _ => CKind::Int { signed: true },
                };
                CType::new(c_integer_name(name.unwrap_or_default()), size, kind)
            }
            gimli::DW_TAG_pointer_type | gimli::DW_TAG_ptr_to_member_type => CType::pointer_to(target(true)),
            gimli::DW_TAG_reference_type | gimli::DW_TAG_rvalue_reference_type => {
                let inner = target(true);
                let amp = if entry.tag() == gimli::DW_TAG_reference_type { "&" } else { "&&" };
                CType::new(format!("{} {amp}", inner.name), 8, CKind::Reference(Box::new(inner)))
            }
            gimli::DW_TAG_typedef => {
                let inner = target(lazy);
                CType::new(name.unwrap_or_default(), inner.size, CKind::Typedef(Box::new(inner)))
            }
            gimli::DW_TAG_const_type | gimli::DW_TAG_volatile_type | gimli::DW_TAG_restrict_type => {
                let inner = target(lazy);
                let word = match entry.tag() {
                    gimli::DW_TAG_const_type => "const",
                    gimli::DW_TAG_volatile_type => "volatile",
                    _ => "restrict",
                };
                let name = if inner.name.ends_with('*') {
                    format!("{} {word}", inner.name)
                } else {
                    format!("{word} {}", inner.name)
                };
                CType::new(name, inner.size, CKind::Typedef(Box::new(inner)))
            }
            gimli::DW_TAG_structure_type | gimli::DW_TAG_class_type | gimli::DW_TAG_union_type => {
                let union = entry.tag() == gimli::DW_TAG_union_type;
                let word = if union { "union" } else { "struct" };
                let shown = match &name {
                    Some(n) if self.unit.encoding().version > 0 && (self.is_cplusplus() || self.is_rust()) => {
                        format!("{}{n}", self.scope_prefix(offset))
                    }
                    Some(n) => format!("{word} {n}"),
                    None => format!("{word} {{...}}"),
                };
                if lazy && name.is_some() {
                    let offset = offset.to_debug_info_offset(&self.unit.header).map_or(0, |o| o.0);
                    return CType::new(shown, size, CKind::Incomplete(TypeRef { module: self.module.into(), offset }));
                }
                let members = self.members(offset, depth);
                CType::new(shown, size, CKind::Struct { members, union })
            }
            gimli::DW_TAG_enumeration_type => {
                let mut values = Vec::new();
                for child in self.children(offset) {
                    if child.tag() != gimli::DW_TAG_enumerator {
                        continue;
                    }
                    let Some(value) = child.attr_value(gimli::DW_AT_const_value) else { continue };
                    let number = value.sdata_value().or_else(|| value.udata_value().map(|u| u as i64));
                    if let (Some(n), Some(number)) = (die_name(&self.unit, &child), number) {
                        values.push((n, number));
                    }
                }
                if self.is_cplusplus() || self.is_rust() {
                    // C++ enumerators are shown qualified, and with their enum's name for an
                    // `enum class` (every Rust enum is one).
                    let mut scope = self.scope_prefix(offset);
                    let scoped = entry.attr_value(gimli::DW_AT_enum_class).is_some() || self.is_rust();
                    if let (Some(n), true) = (&name, scoped) {
                        scope.push_str(&format!("{n}::"));
                    }
                    for (n, _) in values.iter_mut() {
                        *n = format!("{scope}{n}");
                    }
                }
                let signed = unit_ref(&entry, gimli::DW_AT_type)
                    .map(|t| self.convert(t, depth + 1, true).is_signed())
                    .unwrap_or_else(|| values.iter().any(|(_, v)| *v < 0));
                let shown = match name {
                    Some(n) if self.is_cplusplus() || self.is_rust() => format!("{}{n}", self.scope_prefix(offset)),
                    Some(n) => format!("enum {n}"),
                    None => "enum {...}".into(),
                };
                CType::new(shown, size, CKind::Enum { values, signed })
            }
            gimli::DW_TAG_array_type => {
                let element = target(lazy);
                let counts: Vec<Option<u64>> = self
                    .children(offset)
                    .into_iter()
                    .filter(|c| c.tag() == gimli::DW_TAG_subrange_type)
                    .map(|c| {
                        udata(&c, gimli::DW_AT_count)
                            .or_else(|| {
                                let upper = c.attr_value(gimli::DW_AT_upper_bound)?;
                                let upper = upper.sdata_value().or_else(|| upper.udata_value().map(|u| u as i64))?;
                                Some((upper + 1).max(0) as u64)
                            })
                            .map(|c| c.min(MAX_COUNT))
                    })
                    .collect();
                let counts = if counts.is_empty() { vec![None] } else { counts };
                counts.iter().rev().fold(element, |inner, count| match count {
                    Some(count) => CType::array_of(inner, *count),
                    None => CType::new(
                        format!("{} []", inner.name),
                        0,
                        CKind::Array { element: Box::new(inner), count: None },
                    ),
                })
            }
            gimli::DW_TAG_subroutine_type | gimli::DW_TAG_subprogram => self.function(&entry, depth),
            gimli::DW_TAG_unspecified_type => CType::new(name.unwrap_or_else(|| "void".into()), 0, CKind::Void),
            _ => CType::new(name.unwrap_or_else(|| "?".into()), size, CKind::Void),
        }
    }

    /// The C++ scope of the DIE at `offset`: its enclosing namespaces and
    /// classes, as `geo::Shape::` (empty at the top level). The scopes of a
    /// unit are read in one walk, kept per thread.
    pub fn scope_prefix(&self, offset: UnitOffset) -> String {
        let unit_id = UnitOffset(0usize).to_debug_info_offset(&self.unit.header).map_or(0, |o| o.0);
        let key = (self.module.to_owned(), unit_id);
        let scopes = SCOPES.with(|cache| {
            let mut cache = cache.borrow_mut();
            if cache.len() > MAX_CACHED_UNITS {
                cache.clear();
            }
            cache.entry(key).or_insert_with(|| std::rc::Rc::new(self.scopes())).clone()
        });
        scopes.get(&offset.0).cloned().unwrap_or_default()
    }

    /// The scope of every DIE below a namespace, class, struct or union.
    fn scopes(&self) -> std::collections::HashMap<usize, String> {
        let mut found = std::collections::HashMap::new();
        let mut stack: Vec<(isize, String)> = Vec::new();
        let mut cursor = self.unit.entries();
        while let Ok(Some(entry)) = cursor.next_dfs() {
            let depth = entry.depth();
            while stack.last().is_some_and(|(d, _)| *d >= depth) {
                stack.pop();
            }
            if !stack.is_empty() {
                let scope: String = stack.iter().map(|(_, n)| format!("{n}::")).collect();
                found.insert(entry.offset().0, scope);
            }
            let tag = entry.tag();
            if matches!(
                tag,
                gimli::DW_TAG_namespace
                    | gimli::DW_TAG_structure_type
                    | gimli::DW_TAG_class_type
                    | gimli::DW_TAG_union_type
            ) {
                let name = die_name(&self.unit, entry).unwrap_or_else(|| match tag {
                    gimli::DW_TAG_namespace => "(anonymous namespace)".into(),
                    _ => "{...}".into(),
                });
                stack.push((depth, name));
            }
        }
        found
    }

    /// The type of a function or subroutine-type DIE.
    pub fn function(&self, entry: &Entry, depth: usize) -> CType {
        let ret = match unit_ref(entry, gimli::DW_AT_type) {
            Some(t) => self.convert(t, depth + 1, true),
            None => CType::void(),
        };
        let mut params = Vec::new();
        let mut variadic = false;
        for child in self.children(entry.offset()) {
            match child.tag() {
                gimli::DW_TAG_formal_parameter => {
                    if child.attr_value(gimli::DW_AT_artificial).is_some() && self.is_cplusplus() {
                        continue;
                    }
                    let ty = match unit_ref(&child, gimli::DW_AT_type) {
                        Some(t) => self.convert(t, depth + 1, true),
                        None => {
                            // A concrete instance names its parameters through its abstract origin.
                            let origin = unit_ref(&child, gimli::DW_AT_abstract_origin)
                                .and_then(|o| self.unit.entry(o).ok())
                                .and_then(|o| unit_ref(&o, gimli::DW_AT_type));
                            origin.map_or_else(CType::void, |t| self.convert(t, depth + 1, true))
                        }
                    };
                    params.push(ty);
                }
                gimli::DW_TAG_unspecified_parameters => variadic = true,
                _ => {}
            }
        }
        // A prototyped function without parameters is `(void)`; an unprototyped one `()`.
        let prototyped = entry.attr_value(gimli::DW_AT_prototyped).is_some() || self.is_cplusplus();
        let list =
            if params.is_empty() && !variadic && !prototyped { "()".into() } else { param_list(&params, variadic) };
        let list = if self.is_cplusplus() && list == "(void)" { "(void)".to_owned() } else { list };
        CType::new(format!("{} {list}", ret.name), 0, CKind::Function { ret: Box::new(ret), params, variadic })
    }

    /// Whether the unit is C++ (names types without `struct`).
    pub fn is_cplusplus(&self) -> bool {
        let Ok(root) = self.unit.entry(self.unit.header.root_offset()) else { return false };
        matches!(
            root.attr_value(gimli::DW_AT_language),
            Some(AttributeValue::Language(
                gimli::DW_LANG_C_plus_plus
                    | gimli::DW_LANG_C_plus_plus_03
                    | gimli::DW_LANG_C_plus_plus_11
                    | gimli::DW_LANG_C_plus_plus_14
            ))
        )
    }

    /// The child DIEs of the DIE at `offset`.
    pub fn children(&self, offset: UnitOffset) -> Vec<Entry> {
        let mut found = Vec::new();
        let Ok(mut tree) = self.unit.entries_tree(Some(offset)) else { return found };
        let Ok(root) = tree.root() else { return found };
        let mut iter = root.children();
        while let Ok(Some(child)) = iter.next() {
            found.push(child.entry().clone());
            if found.len() > 100_000 {
                break;
            }
        }
        found
    }

    fn members(&self, offset: UnitOffset, depth: usize) -> Vec<CMember> {
        let mut members = Vec::new();
        for child in self.children(offset) {
            let base = child.tag() == gimli::DW_TAG_inheritance;
            if child.tag() != gimli::DW_TAG_member && !base {
                continue;
            }
            // C++ static members are declarations without a place in the object.
            if child.attr_value(gimli::DW_AT_external).is_some() || child.attr_value(gimli::DW_AT_declaration).is_some()
            {
                continue;
            }
            let ty = match unit_ref(&child, gimli::DW_AT_type) {
                Some(t) => self.convert(t, depth + 1, false),
                None => CType::void(),
            };
            let location = udata(&child, gimli::DW_AT_data_member_location).unwrap_or(0);
            let bits = udata(&child, gimli::DW_AT_bit_size).map(|width| {
                if let Some(bit) = udata(&child, gimli::DW_AT_data_bit_offset) {
                    (width, bit)
                } else {
                    // DWARF 2-4: the offset counts from the storage unit's most significant bit.
                    let unit_bits = 8 * udata(&child, gimli::DW_AT_byte_size).unwrap_or(ty.size);
                    let from_msb = udata(&child, gimli::DW_AT_bit_offset).unwrap_or(0);
                    (width, 8 * location + unit_bits.saturating_sub(from_msb + width))
                }
            });
            let (offset, bits) = match bits {
                Some((width, bit)) => (bit / 8, Some((width, bit % 8))),
                None => (location, None),
            };
            let name = if base { ty.name.clone() } else { die_name(&self.unit, &child).unwrap_or_default() };
            members.push(CMember { name, offset, bits, ty, base });
        }
        members
    }
}

/// The short C spelling of an integer type that compilers write long (`long int` is `long`), as gdb shows it.
fn c_integer_name(name: String) -> String {
    let short = match name.as_str() {
        "long int" => "long",
        "long unsigned int" => "unsigned long",
        "short int" => "short",
        "short unsigned int" => "unsigned short",
        "long long int" => "long long",
        "long long unsigned int" => "unsigned long long",
        _ => return name,
    };
    short.to_owned()
}
