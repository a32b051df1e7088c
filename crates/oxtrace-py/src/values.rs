//! Conversions between the library's values and Python's.

use oxtrace::symbols::Value;
use oxtrace::{MetaValue, Perms, RegValue};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyInt, PyList, PyString};
use pyo3::IntoPyObjectExt;

/// A typed value as Python sees it: ints, floats, bools, dicts for structs, lists for arrays.
pub fn value_to_py<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        Value::Int(v) | Value::Char(v) => v.into_bound_py_any(py)?,
        Value::Uint(v) | Value::Pointer(v) => v.into_bound_py_any(py)?,
        Value::Bool(v) => v.into_bound_py_any(py)?,
        Value::Float(v, _) => v.into_bound_py_any(py)?,
        Value::Enum(v, name) => match name {
            Some(name) => name.into_bound_py_any(py)?,
            None => v.into_bound_py_any(py)?,
        },
        Value::Bytes(b) => PyBytes::new(py, b).into_any(),
        Value::Struct(members) => {
            let dict = PyDict::new(py);
            for (name, v) in members {
                dict.set_item(name, value_to_py(py, v)?)?;
            }
            dict.into_any()
        }
        Value::Array(items) => {
            let list = PyList::empty(py);
            for v in items {
                list.append(value_to_py(py, v)?)?;
            }
            list.into_any()
        }
    })
}

/// A metadata value as Python sees it.
pub fn meta_to_py<'py>(py: Python<'py>, value: &MetaValue) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        MetaValue::Int(v) => v.into_bound_py_any(py)?,
        MetaValue::UInt(v) => v.into_bound_py_any(py)?,
        MetaValue::Str(s) => s.into_bound_py_any(py)?,
        MetaValue::Bool(b) => b.into_bound_py_any(py)?,
        MetaValue::Bytes(b) => PyBytes::new(py, b).into_any(),
        MetaValue::List(items) => {
            let list = PyList::empty(py);
            for v in items {
                list.append(meta_to_py(py, v)?)?;
            }
            list.into_any()
        }
    })
}

/// A Python value as metadata, when it is of a kind metadata holds.
pub fn meta_from_py(obj: &Bound<'_, PyAny>) -> PyResult<MetaValue> {
    if obj.is_instance_of::<PyBool>() {
        return Ok(MetaValue::Bool(obj.extract()?));
    }
    if obj.is_instance_of::<PyInt>() {
        if let Ok(v) = obj.extract::<i64>() {
            return Ok(MetaValue::Int(v));
        }
        return Ok(MetaValue::UInt(obj.extract()?));
    }
    if obj.is_instance_of::<PyString>() {
        return Ok(MetaValue::Str(obj.extract()?));
    }
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(MetaValue::Bytes(b.as_bytes().to_vec()));
    }
    if let Ok(items) = obj.extract::<Vec<Bound<'_, PyAny>>>() {
        return items.iter().map(meta_from_py).collect::<PyResult<_>>().map(MetaValue::List);
    }
    Err(PyTypeError::new_err(format!(
        "metadata holds int, str, bool, bytes and lists of them, not {}",
        obj.get_type().name()?
    )))
}

/// A register value as a Python int (any width).
pub fn reg_to_py<'py>(py: Python<'py>, value: &RegValue) -> PyResult<Bound<'py, PyAny>> {
    if let Some(v) = value.to_u64() {
        return v.into_bound_py_any(py);
    }
    if let Some(v) = value.to_u128() {
        return v.into_bound_py_any(py);
    }
    let bytes = PyBytes::new(py, value.as_bytes());
    py.get_type::<PyInt>().call_method1("from_bytes", (bytes, "little"))
}

/// A Python int (or little-endian bytes) as a value for a register of `size` bytes.
/// Negative ints are taken in two's complement of that width.
pub fn reg_from_py(obj: &Bound<'_, PyAny>, size: usize, name: &str) -> PyResult<RegValue> {
    if let Ok(b) = obj.cast::<PyBytes>() {
        if b.as_bytes().len() > size {
            return Err(PyValueError::new_err(format!(
                "{} bytes do not fit in register {name} ({size} bytes)",
                b.as_bytes().len()
            )));
        }
        return RegValue::from_bytes(b.as_bytes()).map_err(crate::errors::to_py);
    }
    if !obj.is_instance_of::<PyInt>() {
        return Err(PyTypeError::new_err(format!(
            "register {name} takes an int or bytes, not {}",
            obj.get_type().name()?
        )));
    }
    let py = obj.py();
    let bits = size * 8;
    let one = 1u8.into_bound_py_any(py)?;
    let modulus = one.lshift(bits)?;
    let low = modulus.clone().neg()?.rshift(1)?;
    if obj.lt(&low)? || obj.ge(&modulus)? {
        return Err(crate::errors::RegisterError::new_err(format!(
            "{} does not fit in register {name} ({bits} bits)",
            obj.repr()?
        )));
    }
    let unsigned = obj.rem(&modulus)?;
    let bytes: Vec<u8> = unsigned.call_method1("to_bytes", (size, "little"))?.extract()?;
    RegValue::from_bytes(&bytes).map_err(crate::errors::to_py)
}

/// Permissions from "rwx"-style text (any of r, w, x; "-" ignored).
pub fn perms_from_str(text: &str) -> PyResult<Perms> {
    let mut perms = Perms::default();
    for c in text.chars() {
        match c {
            'r' => perms.read = true,
            'w' => perms.write = true,
            'x' => perms.exec = true,
            '-' | 'p' => {}
            's' => perms.shared = true,
            _ => return Err(PyValueError::new_err(format!("bad permissions {text:?}: use r, w and x"))),
        }
    }
    Ok(perms)
}
