//! Variables from DWARF: the arguments and locals in scope at an address
//! (through lexical blocks and inlined functions), globals and function
//! statics by name, and functions with their types. Each comes with where
//! DWARF says it lives at that address; `locations.rs` evaluates that.

use gimli::AttributeValue;

use super::ctype::{die_name, unit_ref, CType, Converter};
use super::lines::{LineInfo, Reader};

/// The most DIEs one lookup visits (a guard against hostile DWARF).
const MAX_VISITS: usize = 2_000_000;

/// Where a variable lives at one address.
#[derive(Debug, Clone)]
pub enum VarLocation {
    /// A DWARF location expression to evaluate (with its unit's encoding).
    Expr(gimli::Expression<gimli::EndianArcSlice<gimli::LittleEndian>>, gimli::Encoding),
    /// A constant value (`DW_AT_const_value`), as bytes of the variable's type.
    Const(Vec<u8>),
    /// Nowhere: optimized out at this address.
    OptimizedOut,
}

/// A variable DWARF describes.
#[derive(Debug, Clone)]
pub struct VariableDesc {
    /// Its name.
    pub name: String,
    /// Whether it is a function's argument.
    pub argument: bool,
    /// Its type.
    pub ty: CType,
    /// Where it is.
    pub location: VarLocation,
}

/// One function's part of the scope at an address: the function itself, or
/// a function inlined into it.
#[derive(Debug, Clone)]
pub struct FunctionScope {
    /// The function's name.
    pub name: Option<String>,
    /// The function's return type.
    pub ret: CType,
    /// The file address of the (physical) function's entry.
    pub entry: Option<u64>,
    /// Whether this function was inlined into the previous scope.
    pub inlined: bool,
    /// The physical function's frame base (`DW_AT_frame_base`).
    pub frame_base: Option<VarLocation>,
    /// Its arguments, in order.
    pub arguments: Vec<VariableDesc>,
    /// Its locals in scope, innermost block first.
    pub locals: Vec<VariableDesc>,
}

type Unit<'a> = gimli::UnitRef<'a, Reader>;
type Entry = gimli::DebuggingInformationEntry<Reader>;

impl LineInfo {
    /// The functions whose scope holds the file address `pc`, outermost (the
    /// physical function) first, then each function inlined into the previous.
    pub fn scopes_at(&self, module: &str, pc: u64) -> Vec<FunctionScope> {
        let Some(unit) = self.unit_at(pc) else { return Vec::new() };
        let conv = Converter { unit, module };
        let mut scopes = Vec::new();
        let Ok(mut tree) = unit.entries_tree(None) else { return scopes };
        let Ok(root) = tree.root() else { return scopes };
        let mut visits = 0;
        find_function(&conv, root, pc, &mut scopes, &mut visits);
        scopes
    }

    /// A global or static variable named `name` (file scope or namespace), or
    /// with `function`, a static variable of that function.
    pub fn global_named(&self, module: &str, name: &str, function: Option<&str>) -> Option<VariableDesc> {
        // A C++ global may be named with its namespace: `geo::made`.
        let (scope, bare) = match name.rsplit_once("::") {
            Some((scope, bare)) if function.is_none() => (Some(format!("{scope}::")), bare),
            _ => (None, name),
        };
        // The depth of the wanted function's DIE while the walk is inside it.
        let mut in_function: Option<isize> = None;
        self.find_in_units(module, |conv, entry| {
            let unit = &conv.unit;
            let level = entry.depth();
            if in_function.is_some_and(|d| level <= d) {
                in_function = None;
            }
            if entry.tag() == gimli::DW_TAG_subprogram {
                if function
                    .is_some_and(|wanted| origin_name(unit, entry).as_deref() == Some(wanted) && has_code(unit, entry))
                {
                    in_function = Some(level);
                }
                return None;
            }
            if entry.tag() != gimli::DW_TAG_variable || entry.attr_value(gimli::DW_AT_declaration).is_some() {
                return None;
            }
            let wanted_scope = match function {
                Some(_) => in_function.is_some(),
                None => level == 1 || parent_is_namespace(unit, entry),
            };
            if !wanted_scope || origin_name(unit, entry).as_deref() != Some(bare) {
                return None;
            }
            // A definition outside its namespace names its declaration inside (`DW_AT_specification`).
            let declared_at = origin(unit, entry).map_or(entry.offset(), |o| o.offset());
            if scope.as_ref().is_some_and(|s| conv.scope_prefix(declared_at) != *s) {
                return None;
            }
            let desc = variable(conv, entry, u64::MAX, false)?;
            // A declaration-like DIE without storage: look on.
            let storage_elsewhere = matches!(desc.location, VarLocation::OptimizedOut) && function.is_none();
            (!storage_elsewhere).then_some(desc)
        })
    }

    /// The function named `name` with code: its file address and its type.
    pub fn function_named(&self, module: &str, name: &str) -> Option<(u64, CType)> {
        self.find_in_units(module, |conv, entry| {
            let unit = &conv.unit;
            if entry.tag() != gimli::DW_TAG_subprogram || origin_name(unit, entry).as_deref() != Some(name) {
                return None;
            }
            let low = entry.attr_value(gimli::DW_AT_low_pc).and_then(|v| unit.attr_address(v).ok().flatten())?;
            Some((low, function_type(conv, entry)))
        })
    }

    /// The type of the function whose code starts at file address `entry`.
    pub fn function_type_at(&self, module: &str, entry: u64) -> Option<CType> {
        let unit = self.unit_at(entry)?;
        let conv = Converter { unit, module };
        let mut cursor = unit.entries();
        while let Ok(Some(die)) = cursor.next_dfs() {
            if die.tag() != gimli::DW_TAG_subprogram {
                continue;
            }
            let low = die.attr_value(gimli::DW_AT_low_pc).and_then(|v| unit.attr_address(v).ok().flatten());
            if low == Some(entry) {
                return Some(function_type(&conv, die));
            }
        }
        None
    }
}

/// A function DIE's type, its declaration's (through `DW_AT_specification`
/// or `DW_AT_abstract_origin`) when it has no return type itself.
fn function_type(conv: &Converter, entry: &Entry) -> CType {
    let origin = [gimli::DW_AT_abstract_origin, gimli::DW_AT_specification]
        .iter()
        .find_map(|&at| unit_ref(entry, at))
        .and_then(|o| conv.unit.entry(o).ok());
    let mut ty = conv.function(entry, 0);
    let language =
        conv.unit.entry(conv.unit.root_offset()).ok().and_then(|root| root.attr_value(gimli::DW_AT_language));
    if language == Some(gimli::AttributeValue::Language(gimli::DW_LANG_Mips_Assembler)) {
        // Assembly: the debug information gives no return type, which gdb calls unknown.
        ty.name = "<text variable, no debug info>".into();
        return ty;
    }
    if let (Some(origin), CKindRet::Void) = (origin, ret_kind(&ty)) {
        let declared = conv.function(&origin, 0);
        if ret_kind(&declared) != CKindRet::Void || params_of(&declared) >= params_of(&ty) {
            ty = declared;
        }
    }
    ty
}

#[derive(PartialEq)]
enum CKindRet {
    Void,
    Other,
}

fn ret_kind(ty: &CType) -> CKindRet {
    match &ty.kind {
        super::ctype::CKind::Function { ret, .. } if matches!(ret.kind, super::ctype::CKind::Void) => CKindRet::Void,
        _ => CKindRet::Other,
    }
}

fn params_of(ty: &CType) -> usize {
    match &ty.kind {
        super::ctype::CKind::Function { params, .. } => params.len(),
        _ => 0,
    }
}

fn parent_is_namespace(_unit: &Unit, entry: &Entry) -> bool {
    // Namespace members sit at depth 2 under a DW_TAG_namespace; the cursor does not
    // give the parent, so accept depth-2 variables that are external.
    entry.depth() == 2 && entry.attr_value(gimli::DW_AT_external).is_some()
}

/// Whether a subprogram DIE has code (an address range).
fn has_code(unit: &Unit, entry: &Entry) -> bool {
    unit.die_ranges(entry).ok().and_then(|mut r| r.next().ok().flatten()).is_some()
}

/// Whether the DIE's address ranges hold `pc`.
fn contains(unit: &Unit, entry: &Entry, pc: u64) -> bool {
    let Ok(mut ranges) = unit.die_ranges(entry) else { return false };
    while let Ok(Some(range)) = ranges.next() {
        if range.begin <= pc && pc < range.end {
            return true;
        }
    }
    false
}

/// The name of a DIE, or of its abstract origin or specification.
fn origin_name(unit: &Unit, entry: &Entry) -> Option<String> {
    if let Some(name) = die_name(unit, entry) {
        return Some(name);
    }
    let first = origin(unit, entry)?;
    if let Some(name) = die_name(unit, &first) {
        return Some(name);
    }
    let next = origin(unit, &first)?;
    die_name(unit, &next)
}

/// The DIE an entry's `DW_AT_abstract_origin` or `DW_AT_specification` points at.
fn origin(unit: &Unit, entry: &Entry) -> Option<Entry> {
    let offset =
        [gimli::DW_AT_abstract_origin, gimli::DW_AT_specification].iter().find_map(|&at| unit_ref(entry, at))?;
    unit.entry(offset).ok()
}

/// Finds the subprogram holding `pc` below `node`, and the scopes inside it.
fn find_function(
    conv: &Converter,
    node: gimli::EntriesTreeNode<Reader>,
    pc: u64,
    scopes: &mut Vec<FunctionScope>,
    visits: &mut usize,
) -> bool {
    let mut children = node.children();
    while let Ok(Some(child)) = children.next() {
        *visits += 1;
        if *visits > MAX_VISITS {
            return false;
        }
        let entry = child.entry().clone();
        match entry.tag() {
            gimli::DW_TAG_subprogram if contains(&conv.unit, &entry, pc) => {
                let entry_pc =
                    entry.attr_value(gimli::DW_AT_low_pc).and_then(|v| conv.unit.attr_address(v).ok().flatten());
                let frame_base = entry.attr_value(gimli::DW_AT_frame_base).map(|a| location_at(conv, a, pc));
                let ret = match function_type(conv, &entry).kind {
                    super::ctype::CKind::Function { ret, .. } => *ret,
                    _ => CType::void(),
                };
                let scope = FunctionScope {
                    name: origin_name(&conv.unit, &entry),
                    ret,
                    entry: entry_pc,
                    inlined: false,
                    frame_base,
                    arguments: Vec::new(),
                    locals: Vec::new(),
                };
                scopes.push(scope);
                collect(conv, child, pc, scopes, visits);
                return true;
            }
            gimli::DW_TAG_namespace
            | gimli::DW_TAG_structure_type
            | gimli::DW_TAG_class_type
            | gimli::DW_TAG_subprogram
            | gimli::DW_TAG_module => {
                // Nested scopes (C++ namespaces and classes, nested functions) may hold it.
                let found = find_function(conv, child, pc, scopes, visits);
                if found {
                    return true;
                }
            }
            _ => {}
        }
    }
    false
}

/// Collects the variables of the scope `node` (the last of `scopes`) that hold `pc`.
fn collect(
    conv: &Converter,
    node: gimli::EntriesTreeNode<Reader>,
    pc: u64,
    scopes: &mut Vec<FunctionScope>,
    visits: &mut usize,
) {
    let mut here = Vec::new();
    let mut inner: Option<gimli::UnitOffset> = None;
    let mut children = node.children();
    let scope_index = scopes.len() - 1;
    while let Ok(Some(child)) = children.next() {
        *visits += 1;
        if *visits > MAX_VISITS {
            break;
        }
        let entry = child.entry().clone();
        match entry.tag() {
            gimli::DW_TAG_formal_parameter => {
                if let Some(v) = variable(conv, &entry, pc, true) {
                    scopes[scope_index].arguments.push(v);
                }
            }
            gimli::DW_TAG_variable if entry.attr_value(gimli::DW_AT_declaration).is_none() => {
                if let Some(v) = variable(conv, &entry, pc, false) {
                    here.push(v);
                }
            }
            gimli::DW_TAG_lexical_block if contains(&conv.unit, &entry, pc) => {
                // An inner block: its variables are listed before this block's.
                collect(conv, child, pc, scopes, visits);
            }
            gimli::DW_TAG_inlined_subroutine if contains(&conv.unit, &entry, pc) => {
                inner = Some(entry.offset());
            }
            _ => {}
        }
    }
    // Innermost block first: this block's variables go after those of the blocks inside it.
    scopes[scope_index].locals.extend(here);
    let Some(offset) = inner else { return };
    let Ok(mut tree) = conv.unit.entries_tree(Some(offset)) else { return };
    let Ok(node) = tree.root() else { return };
    {
        let entry = node.entry().clone();
        let ret = origin(&conv.unit, &entry)
            .map(|o| match conv.function(&o, 0).kind {
                super::ctype::CKind::Function { ret, .. } => *ret,
                _ => CType::void(),
            })
            .unwrap_or_else(CType::void);
        let outer = &scopes[scope_index];
        let scope = FunctionScope {
            name: origin_name(&conv.unit, &entry),
            ret,
            entry: outer.entry,
            inlined: true,
            frame_base: outer.frame_base.clone(),
            arguments: Vec::new(),
            locals: Vec::new(),
        };
        scopes.push(scope);
        collect(conv, node, pc, scopes, visits);
    }
}

/// A variable or parameter DIE, where it lives at `pc`.
fn variable(conv: &Converter, entry: &Entry, pc: u64, argument: bool) -> Option<VariableDesc> {
    let unit = &conv.unit;
    let name = origin_name(unit, entry)?;
    let declared = origin(unit, entry);
    let ty = if unit_ref(entry, gimli::DW_AT_type).is_some() {
        conv.type_of(entry)
    } else {
        declared.as_ref().map_or_else(CType::void, |d| conv.type_of(d))
    };
    let location = if let Some(attr) = entry.attr_value(gimli::DW_AT_location) {
        location_at(conv, attr, pc)
    } else if let Some(value) =
        entry.attr_value(gimli::DW_AT_const_value).or_else(|| declared.as_ref()?.attr_value(gimli::DW_AT_const_value))
    {
        constant(unit, value, ty.size)
    } else {
        VarLocation::OptimizedOut
    };
    Some(VariableDesc { name, argument, ty, location })
}

/// A location attribute at `pc`: an expression, or the entry of a location list that holds `pc`.
fn location_at(conv: &Converter, attr: AttributeValue<Reader>, pc: u64) -> VarLocation {
    let encoding = conv.unit.encoding();
    if let AttributeValue::Exprloc(expr) = attr {
        return VarLocation::Expr(expr, encoding);
    }
    let Ok(Some(mut list)) = conv.unit.attr_locations(attr) else { return VarLocation::OptimizedOut };
    while let Ok(Some(entry)) = list.next() {
        if entry.range.begin <= pc && pc < entry.range.end {
            return VarLocation::Expr(entry.data, encoding);
        }
    }
    VarLocation::OptimizedOut
}

/// A `DW_AT_const_value` as the bytes of a value of `size` bytes.
fn constant(unit: &Unit, value: AttributeValue<Reader>, size: u64) -> VarLocation {
    let size = size.min(4096) as usize;
    let from_int = |v: u64| {
        let mut bytes = v.to_le_bytes().to_vec();
        bytes.resize(size.max(1), if (v as i64) < 0 { 0xff } else { 0 });
        bytes.truncate(size.max(1));
        VarLocation::Const(bytes)
    };
    match value {
        AttributeValue::Block(block) => {
            VarLocation::Const(gimli::Reader::to_slice(&block).map(|s| s.into_owned()).unwrap_or_default())
        }
        AttributeValue::Sdata(v) => from_int(v as u64),
        AttributeValue::String(_) | AttributeValue::DebugStrRef(_) => match unit.attr_string(value) {
            Ok(text) => VarLocation::Const(gimli::Reader::to_slice(&text).map(|s| s.into_owned()).unwrap_or_default()),
            Err(_) => VarLocation::OptimizedOut,
        },
        other => match other.udata_value() {
            Some(v) => from_int(v),
            None => VarLocation::OptimizedOut,
        },
    }
}

impl LineInfo {
    /// What the caller passed in DWARF register `register` at the call that
    /// returns to the file address `return_pc`: the call site parameter's
    /// `DW_AT_call_value`, a DWARF expression to evaluate in the caller's frame.
    pub fn call_site_value(&self, return_pc: u64, register: u16) -> Option<VarLocation> {
        let unit = self.unit_at(return_pc.checked_sub(1)?)?;
        let mut cursor = unit.entries();
        let mut site_depth = None;
        while let Ok(Some(entry)) = cursor.next_dfs() {
            let tag = entry.tag();
            if let Some(depth) = site_depth {
                if entry.depth() <= depth {
                    return None;
                }
                if tag != gimli::DW_TAG_call_site_parameter && tag != gimli::DW_TAG_GNU_call_site_parameter {
                    continue;
                }
                let Some(AttributeValue::Exprloc(location)) = entry.attr_value(gimli::DW_AT_location) else {
                    continue;
                };
                let here = VarLocation::Expr(location, unit.encoding());
                if super::locations::entry_value_register(&here) != Some(register) {
                    continue;
                }
                let value = entry
                    .attr_value(gimli::DW_AT_call_value)
                    .or_else(|| entry.attr_value(gimli::DW_AT_GNU_call_site_value));
                return match value {
                    Some(AttributeValue::Exprloc(expr)) => Some(VarLocation::Expr(expr, unit.encoding())),
                    _ => None,
                };
            }
            if tag != gimli::DW_TAG_call_site && tag != gimli::DW_TAG_GNU_call_site {
                continue;
            }
            let ret = entry
                .attr_value(gimli::DW_AT_call_return_pc)
                .or_else(|| entry.attr_value(gimli::DW_AT_low_pc))
                .and_then(|v| unit.attr_address(v).ok().flatten());
            if ret == Some(return_pc) {
                site_depth = Some(entry.depth());
            }
        }
        None
    }
}
