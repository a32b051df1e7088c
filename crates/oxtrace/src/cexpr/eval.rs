//! Evaluating C expressions over typed values, with gdb's `print` semantics:
//! C's integer promotions and usual arithmetic conversions, pointer
//! arithmetic, member access, casts, assignment to memory and registers,
//! calls, value history and convenience variables.

use std::collections::HashMap;

use super::parser::{parse, BinOp, Expr, TypeName, UnOp};
use super::value::CValue;
use crate::symbols::{CKind, CMember, CType, Place, TypeRef};

/// What the evaluator needs from the debuggee: memory, registers of the
/// selected frame, symbols in scope, types, and function calls.
pub trait Target {
    /// Reads `len` bytes at `addr`.
    fn read(&mut self, addr: u64, len: usize) -> Result<Vec<u8>, String>;
    /// Writes bytes at `addr`.
    fn write(&mut self, addr: u64, bytes: &[u8]) -> Result<(), String>;
    /// A register of the selected frame by name (`rip`, `pc`, `sp`, `fp`, `eax`); `None` when there is no such register.
    fn register(&mut self, name: &str) -> Result<Option<CValue>, String>;
    /// Writes DWARF register `number` of the selected frame.
    fn write_register(&mut self, number: u16, bytes: &[u8]) -> Result<(), String>;
    /// A variable or function by name: a local or argument of the selected
    /// frame first, then globals; with `function`, that function's static.
    fn variable(&mut self, name: &str, function: Option<&str>) -> Result<Option<CValue>, String>;
    /// A type by name (`struct node`, a typedef, `unsigned long`).
    fn type_named(&mut self, name: &str) -> Result<Option<CType>, String>;
    /// The full type behind a reference.
    fn resolve(&mut self, ty: &TypeRef) -> Result<CType, String>;
    /// Calls a function with arguments already converted to its parameter types.
    fn call(&mut self, function: u64, ty: &CType, args: &[CValue]) -> Result<CValue, String>;
    /// The symbol at an address (`g`, `main+4`), for showing pointers.
    fn symbol(&mut self, addr: u64) -> Option<String>;
}

/// Value history (`$1`, `$`, `$$2`) and convenience variables (`$foo`).
#[derive(Debug, Clone, Default)]
pub struct Values {
    history: Vec<CValue>,
    convenience: HashMap<String, CValue>,
}

impl Values {
    /// Records a printed value; its number (`$N`).
    pub fn record(&mut self, value: CValue) -> usize {
        self.history.push(value);
        self.history.len()
    }

    /// History value `n` (from 1).
    pub fn get(&self, n: usize) -> Option<&CValue> {
        n.checked_sub(1).and_then(|i| self.history.get(i))
    }

    /// How many values the history holds.
    pub fn len(&self) -> usize {
        self.history.len()
    }

    /// Whether the history is empty.
    pub fn is_empty(&self) -> bool {
        self.history.is_empty()
    }

    /// A convenience variable.
    pub fn convenience(&self, name: &str) -> Option<&CValue> {
        self.convenience.get(name)
    }

    /// Sets a convenience variable.
    pub fn set_convenience(&mut self, name: &str, value: CValue) {
        self.convenience.insert(name.to_owned(), value);
    }
}

/// Evaluates `text` against `target`.
pub fn evaluate(text: &str, target: &mut dyn Target, values: &mut Values) -> Result<CValue, String> {
    let expr = parse(text, &mut |name| target.type_named(name).ok().flatten().is_some())?;
    Evaluator { target, values, no_side_effects: false }.eval(&expr)
}

/// The type of `text` without running calls or writing anything (`whatis`, `ptype`, `sizeof`).
pub fn type_of(text: &str, target: &mut dyn Target, values: &mut Values) -> Result<CType, String> {
    let expr = parse(text, &mut |name| target.type_named(name).ok().flatten().is_some())?;
    if let Expr::Ident(name) = &expr {
        // `whatis T` for a type name T.
        if let Some(ty) = target.type_named(name)? {
            if target.variable(name, None)?.is_none() {
                return Ok(ty);
            }
        }
    }
    Evaluator { target, values, no_side_effects: true }.eval(&expr).map(|v| v.ty)
}

/// Parses a type name (`struct node *`, `unsigned long`) against the debuggee's types.
pub fn parse_type(text: &str, target: &mut dyn Target) -> Result<CType, String> {
    let mut values = Values::default();
    let expr = parse(&format!("sizeof ({text})"), &mut |name| target.type_named(name).ok().flatten().is_some())
        .map_err(|_| format!("No symbol \"{text}\" in current context."))?;
    match expr {
        Expr::SizeofType(name) => Evaluator { target, values: &mut values, no_side_effects: true }.type_name(&name),
        _ => Err(format!("No symbol \"{text}\" in current context.")),
    }
}

struct Evaluator<'a> {
    target: &'a mut dyn Target,
    values: &'a mut Values,
    no_side_effects: bool,
}

/// The C name of a base type and its type.
fn builtin(name: &str) -> Option<CType> {
    let int = |name: &str, size, signed| CType::new(name, size, CKind::Int { signed });
    Some(match name {
        "char" => CType::char(),
        "signed char" => CType::new("signed char", 1, CKind::Char { signed: true }),
        "unsigned char" => CType::new("unsigned char", 1, CKind::Char { signed: false }),
        "short" => int("short", 2, true),
        "unsigned short" => int("unsigned short", 2, false),
        "int" => CType::int(),
        "unsigned int" => CType::uint(),
        "long" => CType::long(),
        "unsigned long" => CType::ulong(),
        "long long" => int("long long", 8, true),
        "unsigned long long" => int("unsigned long long", 8, false),
        "float" => CType::float(),
        "double" => CType::double(),
        "long double" => CType::new("long double", 16, CKind::Float),
        "void" => CType::void(),
        "_Bool" | "bool" => CType::new(name, 1, CKind::Bool),
        _ => return None,
    })
}

impl Evaluator<'_> {
    fn type_name(&mut self, name: &TypeName) -> Result<CType, String> {
        let mut ty = match builtin(&name.base) {
            Some(ty) => ty,
            None => self
                .target
                .type_named(&name.base)?
                .ok_or_else(|| format!("No symbol \"{}\" in current context.", name.base))?,
        };
        for _ in 0..name.pointers {
            ty = CType::pointer_to(ty);
        }
        Ok(ty)
    }

    /// The full type: typedefs kept, but a struct not read yet read now.
    fn complete(&mut self, ty: &CType) -> Result<CType, String> {
        match &ty.strip().kind {
            CKind::Incomplete(r) => {
                let mut full = self.target.resolve(r)?;
                full.name = ty.name.clone();
                Ok(full)
            }
            _ => Ok(ty.clone()),
        }
    }

    /// A value of `ty` read at `addr`.
    fn at(&mut self, ty: CType, addr: u64) -> Result<CValue, String> {
        let ty = self.complete(&ty)?;
        let size = ty.strip().size;
        if matches!(ty.strip().kind, CKind::Function { .. }) {
            return Ok(CValue { ty, bytes: Vec::new(), place: Place::Memory(addr) });
        }
        if size > 1 << 24 {
            return Err(format!(
                "value of type `{}' requires {size} bytes, which is more than max-value-size",
                ty.name
            ));
        }
        let bytes = self.target.read(addr, size as usize)?;
        Ok(CValue { ty, bytes, place: Place::Memory(addr) })
    }

    fn eval(&mut self, expr: &Expr) -> Result<CValue, String> {
        match expr {
            Expr::Int(value, suffix, radix) => Ok(int_literal(*value, suffix, *radix)),
            Expr::Float(value, single) => Ok(if *single {
                CValue::from_float(CType::float(), *value)
            } else {
                CValue::from_float(CType::double(), *value)
            }),
            Expr::Char(c) => Ok(CValue::from_int(CType::char(), i128::from(*c as i8))),
            Expr::Str(bytes) => {
                let mut bytes = bytes.clone();
                bytes.push(0);
                Ok(CValue::computed(CType::array_of(CType::char(), bytes.len() as u64), bytes))
            }
            Expr::Ident(name) => match self.target.variable(name, None)? {
                Some(value) => Ok(value),
                None => Err(format!("No symbol \"{name}\" in current context.")),
            },
            Expr::Scoped(function, name) => match self.target.variable(name, Some(function))? {
                Some(value) => Ok(value),
                // Not a function's static: a C++ qualified name (`geo::made`).
                None => match self.target.variable(&format!("{function}::{name}"), None)? {
                    Some(value) => Ok(value),
                    None => Err(format!("No symbol \"{name}\" in function \"{function}\".")),
                },
            },
            Expr::Dollar(name) => self.dollar(name),
            Expr::Unary(op, inner) => self.unary(*op, inner),
            Expr::Binary(BinOp::And, a, b) => {
                let left = self.truth(a)?;
                let result = left && self.truth(b)?;
                Ok(CValue::from_int(CType::int(), i128::from(result)))
            }
            Expr::Binary(BinOp::Or, a, b) => {
                let left = self.truth(a)?;
                let result = left || self.truth(b)?;
                Ok(CValue::from_int(CType::int(), i128::from(result)))
            }
            Expr::Binary(op, a, b) => {
                let left = self.eval(a)?;
                let right = self.eval(b)?;
                self.binary(*op, left, right)
            }
            Expr::Assign(op, target, value) => {
                let lhs = self.eval(target)?;
                let mut rhs = self.eval(value)?;
                if let Some(op) = op {
                    rhs = self.binary(*op, lhs.clone(), rhs)?;
                }
                if let Expr::Dollar(name) = target.as_ref() {
                    if !name.is_empty() && !name.starts_with(|c: char| c.is_ascii_digit() || c == '$') {
                        let is_register = self.target.register(name)?.is_some();
                        if !is_register {
                            let stored = CValue { place: Place::Computed, ..self.rvalue(rhs)? };
                            if !self.no_side_effects {
                                self.values.set_convenience(name, stored.clone());
                            }
                            return Ok(stored);
                        }
                    }
                }
                self.assign(lhs, rhs)
            }
            Expr::Cond(cond, yes, no) => {
                if self.truth(cond)? {
                    self.eval(yes)
                } else {
                    self.eval(no)
                }
            }
            Expr::Cast(name, inner) => {
                let ty = self.type_name(name)?;
                let value = match &**inner {
                    // `(T) f(...)` gives a function without a known return type its return type, as gdb does.
                    Expr::Call(function, args) => self.call(function, args, Some(&ty))?,
                    _ => self.eval(inner)?,
                };
                self.cast(value, ty)
            }
            Expr::SizeofType(name) => {
                let ty = self.type_name(name)?;
                let ty = self.complete(&ty)?;
                Ok(CValue::from_int(CType::ulong(), i128::from(ty.strip().size)))
            }
            Expr::SizeofExpr(inner) => {
                let saved = self.no_side_effects;
                self.no_side_effects = true;
                let value = self.eval(inner);
                self.no_side_effects = saved;
                Ok(CValue::from_int(CType::ulong(), i128::from(value?.ty.strip().size)))
            }
            Expr::Member(inner, name) => {
                let value = self.eval(inner)?;
                // Rust reaches a field through a reference or pointer with `.`.
                let value = match value.ty.strip().kind {
                    CKind::Pointer(_) if value.ty.rust => self.deref(value)?,
                    _ => value,
                };
                self.member(value, name)
            }
            Expr::Arrow(inner, name) => {
                let value = self.eval(inner)?;
                let value = self.reference_target(value)?;
                if !value.ty.is_pointer() {
                    return Err(format!(
                        "The -> operator needs a pointer to a struct or union, not `{}'.",
                        value.ty.name
                    ));
                }
                let target = self.deref(value)?;
                self.member(target, name)
            }
            Expr::Index(array, index) => {
                let base = self.eval(array)?;
                let index = self.eval(index)?;
                self.index(base, index)
            }
            Expr::Call(function, args) => self.call(function, args, None),
            Expr::Comma(a, b) => {
                self.eval(a)?;
                self.eval(b)
            }
            Expr::Repeat(first, count) => {
                let first = self.eval(first)?;
                let count = self.eval(count)?.as_int().ok_or("The right operand of `@' must be an integer.")?;
                let addr = first.address().ok_or("Only values in memory can be extended with '@'.")?;
                if count <= 0 || count > 1 << 20 {
                    return Err(format!("Invalid number {count} of repetitions."));
                }
                let ty = CType::array_of(first.ty.clone(), count as u64);
                self.at(ty, addr)
            }
        }
    }

    fn truth(&mut self, expr: &Expr) -> Result<bool, String> {
        let value = self.eval(expr)?;
        let value = self.rvalue(value)?;
        value.truth().ok_or_else(|| format!("A value of type `{}' cannot be used as a condition.", value.ty.name))
    }

    /// `$`, `$N`, `$$`, `$$N`, registers, convenience variables.
    fn dollar(&mut self, name: &str) -> Result<CValue, String> {
        let history = |values: &Values, n: usize| -> Result<CValue, String> {
            if values.is_empty() {
                // gdb: an empty history is void.
                return Ok(CValue::computed(CType::void(), Vec::new()));
            }
            values.get(n).cloned().ok_or_else(|| format!("History has not yet reached ${n}."))
        };
        let last = self.values.len();
        if name.is_empty() {
            return history(self.values, last);
        }
        if let Some(back) = name.strip_prefix('$') {
            let back: usize = if back.is_empty() {
                1
            } else {
                back.parse().map_err(|_| format!("Bad history reference $${back}."))?
            };
            let n = last
                .checked_sub(back)
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("History has not yet reached $$${back}."))?;
            return history(self.values, n);
        }
        if name.chars().all(|c| c.is_ascii_digit()) {
            let n: usize = name.parse().map_err(|_| format!("Bad history reference ${name}."))?;
            return self.values.get(n).cloned().ok_or_else(|| format!("History has not yet reached ${n}."));
        }
        if let Some(value) = self.target.register(name)? {
            return Ok(value);
        }
        Ok(self.values.convenience(name).cloned().unwrap_or_else(|| CValue::computed(CType::void(), Vec::new())))
    }

    /// A reference's target (C++ `int &`), other values as they are.
    fn reference_target(&mut self, value: CValue) -> Result<CValue, String> {
        match &value.ty.strip().kind {
            CKind::Reference(target) => {
                let target = (**target).clone();
                let addr = value.as_int().ok_or("A reference without an address.")? as u64;
                self.at(target, addr)
            }
            _ => Ok(value),
        }
    }

    /// A value ready for arithmetic: references followed, optimized out refused.
    fn rvalue(&mut self, value: CValue) -> Result<CValue, String> {
        if value.is_optimized_out() {
            return Err("value has been optimized out".into());
        }
        self.reference_target(value)
    }

    /// An array or function as a pointer (C's decay).
    fn decay(&mut self, value: CValue) -> Result<CValue, String> {
        let value = self.rvalue(value)?;
        match &value.ty.strip().kind {
            CKind::Array { element, .. } => {
                let addr = value.address().ok_or("Attempt to take address of value not located in memory.")?;
                Ok(CValue::from_int(CType::pointer_to((**element).clone()), i128::from(addr)))
            }
            CKind::Function { .. } => {
                let addr = value.address().ok_or("A function without an address.")?;
                Ok(CValue::from_int(CType::pointer_to(value.ty.clone()), i128::from(addr)))
            }
            _ => Ok(value),
        }
    }

    fn deref(&mut self, value: CValue) -> Result<CValue, String> {
        let value = self.decay(value)?;
        match &value.ty.strip().kind {
            CKind::Pointer(target) => {
                let target = (**target).clone();
                if matches!(target.strip().kind, CKind::Void) {
                    return Err("Attempt to take contents of a non-pointer value.".into());
                }
                let addr = value.as_int().unwrap_or(0) as u64;
                self.at(target, addr)
            }
            _ => Err(format!("Attempt to take contents of a non-pointer value (of type `{}').", value.ty.name)),
        }
    }

    fn unary(&mut self, op: UnOp, inner: &Expr) -> Result<CValue, String> {
        let value = self.eval(inner)?;
        match op {
            UnOp::Deref => {
                if matches!(value.ty.strip().kind, CKind::Function { .. }) {
                    return Ok(value);
                }
                self.deref(value)
            }
            UnOp::AddrOf => {
                if let Place::Bits(..) = value.place {
                    return Err("Attempt to take address of a bit field.".into());
                }
                let value = self.reference_target(value)?;
                let addr = value.address().ok_or("Attempt to take address of value not located in memory.")?;
                Ok(CValue::from_int(CType::pointer_to(value.ty.clone()), i128::from(addr)))
            }
            UnOp::Not => {
                let value = self.decay(value)?;
                let truth = value
                    .truth()
                    .ok_or_else(|| format!("Argument to ! is not a number (type `{}').", value.ty.name))?;
                Ok(CValue::from_int(CType::int(), i128::from(!truth)))
            }
            UnOp::Neg | UnOp::Plus | UnOp::BitNot => {
                let value = self.rvalue(value)?;
                if value.ty.is_float() && op != UnOp::BitNot {
                    let f = value.as_float().unwrap_or(0.0);
                    return Ok(CValue::from_float(value.ty.clone(), if op == UnOp::Neg { -f } else { f }));
                }
                if !value.ty.is_integer() {
                    return Err(format!(
                        "Argument to arithmetic operation not a number or boolean (type `{}').",
                        value.ty.name
                    ));
                }
                let ty = promote(&value.ty);
                let v = value.as_int().unwrap_or(0);
                let result = match op {
                    UnOp::Neg => v.wrapping_neg(),
                    UnOp::BitNot => !v,
                    _ => v,
                };
                Ok(CValue::from_int(ty, result))
            }
        }
    }

    fn binary(&mut self, op: BinOp, left: CValue, right: CValue) -> Result<CValue, String> {
        let left = self.decay(left)?;
        let right = self.decay(right)?;
        let (lp, rp) = (left.ty.is_pointer(), right.ty.is_pointer());
        let name_of = |v: &CValue| v.ty.name.clone();
        for v in [&left, &right] {
            if !(v.ty.is_integer() || v.ty.is_float() || v.ty.is_pointer()) {
                return Err(format!(
                    "Argument to arithmetic operation not a number or boolean (type `{}').",
                    name_of(v)
                ));
            }
        }
        let compare = matches!(op, BinOp::Lt | BinOp::Gt | BinOp::Le | BinOp::Ge | BinOp::Eq | BinOp::Ne);
        if lp || rp {
            let l = left.as_int().unwrap_or(0);
            let r = right.as_int().unwrap_or(0);
            if compare {
                let (l, r) = (l as u64, r as u64);
                return Ok(CValue::from_int(CType::int(), i128::from(compare_op(op, l.cmp(&r)))));
            }
            let element_size = |v: &CValue| match &v.ty.strip().kind {
                CKind::Pointer(t) => {
                    let size = match t.strip().kind {
                        CKind::Void => 1,
                        _ => t.strip().size,
                    };
                    size.max(1) as i128
                }
                _ => 1,
            };
            return match (op, lp, rp) {
                (BinOp::Add, true, false) if right.ty.is_integer() => {
                    Ok(CValue::from_int(left.ty.clone(), l.wrapping_add(r.wrapping_mul(element_size(&left)))))
                }
                (BinOp::Add, false, true) if left.ty.is_integer() => {
                    Ok(CValue::from_int(right.ty.clone(), r.wrapping_add(l.wrapping_mul(element_size(&right)))))
                }
                (BinOp::Sub, true, false) if right.ty.is_integer() => {
                    Ok(CValue::from_int(left.ty.clone(), l.wrapping_sub(r.wrapping_mul(element_size(&left)))))
                }
                (BinOp::Sub, true, true) => {
                    let size = element_size(&left);
                    Ok(CValue::from_int(CType::long(), ((l as i64).wrapping_sub(r as i64) as i128) / size))
                }
                _ => Err(format!("Invalid operands to `{op:?}': `{}' and `{}'.", name_of(&left), name_of(&right))),
            };
        }
        if left.ty.is_float() || right.ty.is_float() {
            let ty = if left.ty.strip().size >= right.ty.strip().size && left.ty.is_float() || !right.ty.is_float() {
                left.ty.strip().clone()
            } else {
                right.ty.strip().clone()
            };
            let (l, r) = (left.as_float().unwrap_or(0.0), right.as_float().unwrap_or(0.0));
            if compare {
                let ordering = l.partial_cmp(&r);
                let result = match ordering {
                    Some(o) => compare_op(op, o),
                    None => op == BinOp::Ne,
                };
                return Ok(CValue::from_int(CType::int(), i128::from(result)));
            }
            let value = match op {
                BinOp::Add => l + r,
                BinOp::Sub => l - r,
                BinOp::Mul => l * r,
                BinOp::Div => l / r,
                _ => return Err(format!("Integer-only operation {op:?} on a floating-point value.")),
            };
            return Ok(CValue::from_float(ty, value));
        }
        // Integers: the usual arithmetic conversions.
        let ty = if matches!(op, BinOp::Shl | BinOp::Shr) { promote(&left.ty) } else { common(&left.ty, &right.ty) };
        let convert = |v: &CValue| CValue::from_int(ty.clone(), v.as_int().unwrap_or(0)).as_int().unwrap_or(0);
        let (l, r) = (convert(&left), convert(&right));
        if compare {
            return Ok(CValue::from_int(CType::int(), i128::from(compare_op(op, l.cmp(&r)))));
        }
        let value = match op {
            BinOp::Add => l.wrapping_add(r),
            BinOp::Sub => l.wrapping_sub(r),
            BinOp::Mul => l.wrapping_mul(r),
            BinOp::Div | BinOp::Rem if r == 0 => return Err("Division by zero".into()),
            BinOp::Div => l.wrapping_div(r),
            BinOp::Rem => l.wrapping_rem(r),
            BinOp::Shl => l.wrapping_shl((right.as_int().unwrap_or(0) & 127) as u32),
            BinOp::Shr => l.wrapping_shr((right.as_int().unwrap_or(0) & 127) as u32),
            BinOp::BitAnd => l & r,
            BinOp::BitOr => l | r,
            BinOp::BitXor => l ^ r,
            _ => unreachable!("comparisons and logic are handled above"),
        };
        Ok(CValue::from_int(ty, value))
    }

    fn cast(&mut self, value: CValue, ty: CType) -> Result<CValue, String> {
        let target = self.complete(&ty)?;
        let stripped = target.strip().clone();
        if matches!(stripped.kind, CKind::Void) {
            return Ok(CValue::computed(ty, Vec::new()));
        }
        if matches!(stripped.kind, CKind::Struct { .. }) {
            let value = self.rvalue(value)?;
            if value.ty.strip().name == stripped.name {
                return Ok(CValue { ty, ..value });
            }
            return Err(format!("Invalid cast from `{}' to `{}'.", value.ty.name, ty.name));
        }
        let value = self.decay(value)?;
        if stripped.is_float() {
            let f =
                value.as_float().ok_or_else(|| format!("Invalid cast from `{}' to `{}'.", value.ty.name, ty.name))?;
            return Ok(CValue::from_float(ty, f));
        }
        if stripped.is_integer() || stripped.is_pointer() {
            let v = if value.ty.is_float() { value.as_float().map(|f| f as i128) } else { value.as_int() };
            let v = v.ok_or_else(|| format!("Invalid cast from `{}' to `{}'.", value.ty.name, ty.name))?;
            if matches!(stripped.kind, CKind::Bool) {
                return Ok(CValue::from_int(ty, i128::from(v != 0)));
            }
            return Ok(CValue::from_int(ty, v));
        }
        Err(format!("Invalid cast to `{}'.", ty.name))
    }

    fn member(&mut self, value: CValue, name: &str) -> Result<CValue, String> {
        let value = self.reference_target(value)?;
        let ty = self.complete(&value.ty)?;
        let CKind::Struct { members, .. } = &ty.strip().kind else {
            return Err(format!(
                "Attempt to extract a component of a value that is not a structure (`{}' has no member \"{name}\").",
                ty.name
            ));
        };
        let found = find_member(members, name).ok_or_else(|| format!("There is no member named {name}."))?;
        if value.is_optimized_out() {
            return Ok(CValue::optimized_out(found.1.ty));
        }
        Ok(extract_member(&value, &found.1, found.0))
    }

    fn index(&mut self, base: CValue, index: CValue) -> Result<CValue, String> {
        let base = self.rvalue(base)?;
        let index = self.rvalue(index)?;
        let (base, index) = if base.ty.is_integer() && !index.ty.is_integer() { (index, base) } else { (base, index) };
        let i = index.as_int().ok_or_else(|| format!("Array index of type `{}' is not an integer.", index.ty.name))?;
        match &base.ty.strip().kind {
            CKind::Array { element, count } => {
                let element = self.complete(element)?;
                let size = element.strip().size;
                let start = (i as u64).wrapping_mul(size);
                let inside = i >= 0 && count.is_none_or(|c| (i as u64) < c);
                match base.place {
                    Place::Memory(addr) => self.at(element, addr.wrapping_add(start)),
                    _ if inside && (start + size) as usize <= base.bytes.len() => {
                        let bytes = base.bytes[start as usize..(start + size) as usize].to_vec();
                        Ok(CValue::computed(element, bytes))
                    }
                    _ => Err(format!("no such vector element {i}")),
                }
            }
            CKind::Pointer(_) => {
                let pointer = self.binary(BinOp::Add, base, index)?;
                self.deref(pointer)
            }
            _ => Err(format!("cannot subscript something of type `{}'", base.ty.name)),
        }
    }

    /// Converts `value` to `ty` for an assignment or an argument.
    fn convert(&mut self, value: CValue, ty: &CType) -> Result<CValue, String> {
        let stripped = ty.strip();
        if matches!(stripped.kind, CKind::Struct { .. } | CKind::Incomplete(_) | CKind::Array { .. }) {
            let value = self.rvalue(value)?;
            if value.ty.strip().size != stripped.size {
                return Err(format!("Cannot convert `{}' to `{}'.", value.ty.name, ty.name));
            }
            return Ok(CValue { ty: ty.clone(), ..value });
        }
        self.cast(value, ty.clone())
    }

    fn assign(&mut self, lhs: CValue, rhs: CValue) -> Result<CValue, String> {
        let lhs = self.reference_target(lhs)?;
        let converted = self.convert(rhs, &lhs.ty)?;
        let mut bytes = converted.bytes.clone();
        bytes.resize(lhs.ty.strip().size as usize, 0);
        if self.no_side_effects {
            return Ok(CValue { bytes, ..lhs });
        }
        match lhs.place {
            Place::Memory(addr) => self.target.write(addr, &bytes)?,
            Place::Register(number) => self.target.write_register(number, &bytes)?,
            Place::Bits(addr, bit, width) => {
                let len = (bit + width).div_ceil(8) as usize;
                let old = self.target.read(addr, len)?;
                let mut raw = [0u8; 16];
                raw[..len.min(16)].copy_from_slice(&old[..len.min(16)]);
                let mut word = u128::from_le_bytes(raw);
                let mask = ((1u128 << width) - 1) << bit;
                let new = (converted.as_int().unwrap_or(0) as u128) << bit;
                word = (word & !mask) | (new & mask);
                self.target.write(addr, &word.to_le_bytes()[..len])?;
                let value = CValue::from_int(lhs.ty.clone(), converted.as_int().unwrap_or(0));
                return Ok(CValue { place: lhs.place, ..value });
            }
            Place::Computed | Place::OptimizedOut | Place::NotSaved => {
                return Err("Left operand of assignment is not an lvalue.".into())
            }
        }
        Ok(CValue { ty: lhs.ty, bytes, place: lhs.place })
    }

    /// A call; `cast` is the type of a `(T) f(...)` around it, which a function without debug information needs.
    fn call(&mut self, function: &Expr, args: &[Expr], cast: Option<&CType>) -> Result<CValue, String> {
        let callee = self.eval(function)?;
        let callee = self.rvalue(callee)?;
        let (addr, mut ty) = match &callee.ty.strip().kind {
            CKind::Function { .. } => (callee.address().ok_or("A function without an address.")?, callee.ty.clone()),
            CKind::Pointer(target) if matches!(target.strip().kind, CKind::Function { .. }) => {
                (callee.as_int().unwrap_or(0) as u64, (**target).clone())
            }
            _ => {
                let name = match (function, callee.as_int()) {
                    (Expr::Ident(n), _) => n.clone(),
                    (_, Some(v)) => format!("{v:#x}"),
                    _ => callee.ty.name.clone(),
                };
                return Err(format!(
                    "Cannot perform a function call: \"{name}\" is not a function (its type is `{}').",
                    callee.ty.name
                ));
            }
        };
        let name = match function {
            Expr::Ident(n) => n.clone(),
            _ => format!("{addr:#x}"),
        };
        if ty.name.starts_with('<') {
            // No debug information: the return type comes from a cast around the call.
            let Some(ret) = cast else {
                return Err(format!("'{name}' has unknown return type; cast the call to its declared return type"));
            };
            if let CKind::Function { params, variadic, .. } = &ty.strip().kind {
                let kind = CKind::Function { ret: Box::new(ret.clone()), params: params.clone(), variadic: *variadic };
                ty = CType::new(format!("{} ()", ret.name), 0, kind);
            }
        }
        let CKind::Function { params, variadic, .. } = &ty.strip().kind else { unreachable!("checked above") };
        if args.len() < params.len() {
            return Err(format!(
                "Too few arguments in function call: {name} takes {}, not {}.",
                params.len(),
                args.len()
            ));
        }
        if args.len() > params.len() && !variadic && !params.is_empty() {
            return Err(format!(
                "Too many arguments in function call: {name} takes {}, not {}.",
                params.len(),
                args.len()
            ));
        }
        let mut values = Vec::with_capacity(args.len());
        for (i, arg) in args.iter().enumerate() {
            let value = self.eval(arg)?;
            // A string literal is copied into the program by the call.
            let literal = value.place == Place::Computed && matches!(value.ty.strip().kind, CKind::Array { .. });
            let value = match params.get(i) {
                _ if literal => value,
                Some(param) => self.convert(value, param)?,
                None => {
                    // Default argument promotions for `...`.
                    let value = self.decay(value)?;
                    if value.ty.is_float() {
                        CValue::from_float(CType::double(), value.as_float().unwrap_or(0.0))
                    } else if value.ty.is_integer() && value.ty.strip().size < 4 {
                        CValue::from_int(CType::int(), value.as_int().unwrap_or(0))
                    } else {
                        value
                    }
                }
            };
            values.push(value);
        }
        if self.no_side_effects {
            let CKind::Function { ret, .. } = &ty.strip().kind else { unreachable!("checked above") };
            let size = ret.strip().size as usize;
            return Ok(CValue::computed((**ret).clone(), vec![0; size]));
        }
        self.target.call(addr, &ty, &values)
    }
}

/// A member by name, looking into anonymous members; its containing offset and the member.
fn find_member(members: &[CMember], name: &str) -> Option<(u64, CMember)> {
    for member in members {
        if member.name == name && !member.base {
            return Some((0, member.clone()));
        }
    }
    for member in members.iter().filter(|m| m.name.is_empty() || m.base) {
        if let CKind::Struct { members: inner, .. } = &member.ty.strip().kind {
            if let Some((offset, found)) = find_member(inner, name) {
                return Some((offset + member.offset, found));
            }
        }
    }
    None
}

/// The value of a member of `value` (`extra` bytes deeper for anonymous members).
pub(crate) fn extract_member(value: &CValue, member: &CMember, extra: u64) -> CValue {
    let offset = (member.offset + extra) as usize;
    match member.bits {
        Some((width, bit)) => {
            let len = ((bit + width).div_ceil(8) as usize).min(16);
            let mut raw = [0u8; 16];
            let available = value.bytes.get(offset..).unwrap_or_default();
            let n = len.min(available.len());
            raw[..n].copy_from_slice(&available[..n]);
            let word = u128::from_le_bytes(raw) >> bit;
            let mask = if width >= 128 { u128::MAX } else { (1u128 << width) - 1 };
            let mut v = (word & mask) as i128;
            if member.ty.is_signed() && width > 0 && width < 128 && (v >> (width - 1)) & 1 == 1 {
                v -= 1i128 << width;
            }
            let place = match value.place {
                Place::Memory(addr) => Place::Bits(addr + offset as u64, bit, width),
                _ => Place::Computed,
            };
            CValue { place, ..CValue::from_int(member.ty.clone(), v) }
        }
        None => {
            let size = member.ty.strip().size as usize;
            let mut bytes = value.bytes.get(offset..).unwrap_or_default().to_vec();
            bytes.truncate(size);
            bytes.resize(size, 0);
            let place = match value.place {
                Place::Memory(addr) => Place::Memory(addr + offset as u64),
                _ => Place::Computed,
            };
            CValue { ty: member.ty.clone(), bytes, place }
        }
    }
}

fn compare_op(op: BinOp, ordering: std::cmp::Ordering) -> bool {
    use std::cmp::Ordering::*;
    match op {
        BinOp::Lt => ordering == Less,
        BinOp::Gt => ordering == Greater,
        BinOp::Le => ordering != Greater,
        BinOp::Ge => ordering != Less,
        BinOp::Eq => ordering == Equal,
        _ => ordering != Equal,
    }
}

/// C's integer promotion.
fn promote(ty: &CType) -> CType {
    let stripped = ty.strip();
    if stripped.size < 4 || matches!(stripped.kind, CKind::Bool | CKind::Char { .. }) {
        return CType::int();
    }
    if matches!(stripped.kind, CKind::Enum { .. }) {
        return if stripped.size > 4 {
            CType::long()
        } else if stripped.is_signed() {
            CType::int()
        } else {
            CType::uint()
        };
    }
    stripped.clone()
}

/// The usual arithmetic conversions of two integer types.
fn common(a: &CType, b: &CType) -> CType {
    let (a, b) = (promote(a), promote(b));
    if a.size != b.size {
        return if a.size > b.size { a } else { b };
    }
    if !a.is_signed() {
        a
    } else {
        b
    }
}

/// The value of an integer literal with C's typing rules.
fn int_literal(value: u128, suffix: &str, hex_or_octal: bool) -> CValue {
    let unsigned = suffix.contains('u');
    let long = suffix.contains('l');
    let ty = if !long && !unsigned && value <= i32::MAX as u128 {
        CType::int()
    } else if !long && (unsigned || hex_or_octal) && value <= u32::MAX as u128 {
        CType::uint()
    } else if !unsigned && value <= i64::MAX as u128 {
        CType::long()
    } else {
        CType::ulong()
    };
    CValue::from_int(ty, value as i128)
}
