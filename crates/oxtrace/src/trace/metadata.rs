//! Metadata (named values about the trace) and variables (named integers for expressions).

use std::collections::BTreeMap;

use super::Trace;

/// A metadata value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetaValue {
    /// A signed integer.
    Int(i64),
    /// An unsigned integer (addresses).
    UInt(u64),
    /// Text.
    Str(String),
    /// A flag.
    Bool(bool),
    /// Raw bytes.
    Bytes(Vec<u8>),
    /// A list of values.
    List(Vec<MetaValue>),
}

impl MetaValue {
    /// The text, if this is a `Str`.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            MetaValue::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The value as an integer, if it is one (`Int`, `UInt` or `Bool`).
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            MetaValue::Int(v) => Some(v),
            MetaValue::UInt(v) => i64::try_from(v).ok(),
            MetaValue::Bool(v) => Some(v as i64),
            _ => None,
        }
    }
}

macro_rules! meta_from {
    ($($t:ty => $variant:ident as $conv:ty),* $(,)?) => {
        $(impl From<$t> for MetaValue {
            fn from(v: $t) -> Self {
                MetaValue::$variant(<$conv>::from(v))
            }
        })*
    };
}

meta_from!(i32 => Int as i64, i64 => Int as i64, u32 => UInt as u64, u64 => UInt as u64,
    bool => Bool as bool, &str => Str as String, String => Str as String, Vec<u8> => Bytes as Vec<u8>);

/// The metadata table.
pub(super) type Metadata = BTreeMap<String, MetaValue>;

impl Trace {
    /// Sets a metadata value.
    pub fn set_meta(&mut self, key: &str, value: impl Into<MetaValue>) {
        self.metadata.insert(key.to_owned(), value.into());
    }

    /// A metadata value, if set.
    pub fn meta(&self, key: &str) -> Option<&MetaValue> {
        self.metadata.get(key)
    }

    /// Whether a metadata key is set.
    pub fn has_meta(&self, key: &str) -> bool {
        self.metadata.contains_key(key)
    }

    /// Every metadata key and value, sorted by key.
    pub fn metadata(&self) -> impl Iterator<Item = (&str, &MetaValue)> {
        self.metadata.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Sets a variable (usable by name in expressions).
    pub fn set_variable(&mut self, name: &str, value: u64) {
        self.variables.insert(name.to_owned(), value);
    }

    /// A variable's value, if set.
    pub fn variable(&self, name: &str) -> Option<u64> {
        self.variables.get(name).copied()
    }

    /// Every variable, sorted by name.
    pub fn variables(&self) -> Vec<(String, u64)> {
        let mut vars: Vec<_> = self.variables.iter().map(|(k, &v)| (k.clone(), v)).collect();
        vars.sort();
        vars
    }
}
