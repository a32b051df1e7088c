//! Types shown as gdb's `whatis` and `ptype` show them.

use crate::symbols::{CKind, CType};

/// `whatis`: the type's name, one typedef level kept.
pub fn whatis_text(ty: &CType) -> String {
    format!("type = {}", ty.name)
}

/// `ptype`: the type with typedefs expanded and structs, unions and enums written out.
pub fn ptype_text(ty: &CType) -> String {
    format!("type = {}", expanded(ty, 0))
}

/// The type written out, with the declarator suffix (`*`, `[3]`) kept around the expansion.
fn expanded(ty: &CType, indent: usize) -> String {
    let stripped = ty.strip();
    match &stripped.kind {
        CKind::Struct { .. } | CKind::Enum { .. } => body(stripped, indent),
        CKind::Pointer(target) | CKind::Array { element: target, .. } => {
            let inner = target.strip();
            if matches!(inner.kind, CKind::Struct { .. } | CKind::Enum { .. }) {
                let suffix = stripped.name.strip_prefix(target.name.as_str()).unwrap_or("").to_owned();
                let suffix = if suffix.is_empty() {
                    stripped.name.rsplit_once(' ').map(|(_, s)| format!(" {s}")).unwrap_or_default()
                } else {
                    suffix
                };
                return format!("{}{suffix}", body(inner, indent));
            }
            unfold_name(stripped)
        }
        _ => unfold_name(stripped),
    }
}

/// A type's name with typedefs in it unfolded one level where the name says nothing more.
fn unfold_name(ty: &CType) -> String {
    ty.name.clone()
}

/// `struct s {\n    int a;\n}`, `enum e {A, B}`.
fn body(ty: &CType, indent: usize) -> String {
    let pad = " ".repeat(indent);
    match &ty.kind {
        CKind::Enum { values, .. } => {
            let mut next = 0i64;
            let items: Vec<String> = values
                .iter()
                .map(|(name, v)| {
                    let text = if *v == next { name.clone() } else { format!("{name} = {v}") };
                    next = v.wrapping_add(1);
                    text
                })
                .collect();
            format!("{} {{{}}}", ty.name, items.join(", "))
        }
        CKind::Struct { members, union } => {
            // C++ names its structs without the keyword, which ptype writes out.
            let keyword = if *union { "union " } else { "struct " };
            let named = ["struct ", "union ", "class "].iter().any(|k| ty.name.starts_with(k));
            let mut out = format!("{}{} {{\n", if named { "" } else { keyword }, ty.name);
            for member in members {
                let member_pad = " ".repeat(indent + 4);
                if member.base {
                    continue;
                }
                let anonymous_type = member.ty.strip().name.ends_with("{...}");
                let decl = if anonymous_type {
                    let text = body(member.ty.strip(), indent + 4);
                    if member.name.is_empty() {
                        text
                    } else {
                        format!("{text} {}", member.name)
                    }
                } else {
                    declaration(&member.ty, &member.name)
                };
                let bits = member.bits.map(|(w, _)| format!(" : {w}")).unwrap_or_default();
                out.push_str(&format!("{member_pad}{decl}{bits};\n"));
            }
            out.push_str(&format!("{pad}}}"));
            out
        }
        _ => ty.name.clone(),
    }
}

/// `int x`, `char name[8]`, `struct node *next`, `int (*fn)(int)`.
pub fn declaration(ty: &CType, name: &str) -> String {
    let type_name = &ty.name;
    if let Some((before, after)) = type_name.split_once("(*)") {
        return format!("{before}(*{name}){after}");
    }
    if let Some((base, dims)) = type_name.split_once(" [") {
        return format!("{base} {name}[{dims}");
    }
    if type_name.ends_with('*') {
        return format!("{type_name}{name}");
    }
    format!("{type_name} {name}")
}
