//! Events a plugin emits: an event type and a list of fields, which the host renders
//! as one EVE line `{"event_type": TYPE, TYPE: {fields...}}` tied to the flow, like
//! the built-in `http` or `dns` events.
//!
//! Contract: fields are a flat, FFI-safe token list. A [`Value::Object`] or
//! [`Value::Array`] field opens a nested object or array that the next
//! [`Value::End`] closes; inside an array the keys are ignored. The builder methods
//! keep the list balanced; the host closes what is left open, ignores a stray `End`,
//! keeps the last of two equal keys, and flattens nesting deeper than 16 levels, so a
//! malformed list still renders as valid JSON.

use abi_stable::std_types::{RString, RVec};
use abi_stable::StableAbi;

/// One field value (or a nesting token).
#[repr(u8)]
#[derive(StableAbi, Clone, Debug, PartialEq)]
pub enum Value {
    /// JSON `null`.
    Null,
    /// A boolean.
    Bool(bool),
    /// A signed integer.
    Int(i64),
    /// An unsigned integer.
    UInt(u64),
    /// A float (non-finite values render as `null`).
    Float(f64),
    /// A string.
    Str(RString),
    /// Opens an object: the fields up to the matching [`Value::End`] are its members.
    Object,
    /// Opens an array: the values up to the matching [`Value::End`] are its items.
    Array,
    /// Closes the innermost open object or array.
    End,
}

/// A key and its value.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq)]
pub struct Field {
    /// The key (ignored inside an array).
    pub key: RString,
    /// The value.
    pub value: Value,
}

/// An event: its EVE type and its fields.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq)]
pub struct Event {
    /// The EVE `event_type` (e.g. `"memcached"`).
    pub event_type: RString,
    /// The fields, in order.
    pub fields: RVec<Field>,
}

impl Event {
    /// An event of type `event_type` without fields.
    pub fn new(event_type: &str) -> Self {
        Event {
            event_type: event_type.into(),
            fields: RVec::new(),
        }
    }

    /// Adds a field.
    pub fn field(mut self, key: &str, value: Value) -> Self {
        self.fields.push(Field {
            key: key.into(),
            value,
        });
        self
    }

    /// Adds a string field.
    pub fn str(self, key: &str, value: &str) -> Self {
        self.field(key, Value::Str(value.into()))
    }

    /// Adds a signed integer field.
    pub fn int(self, key: &str, value: i64) -> Self {
        self.field(key, Value::Int(value))
    }

    /// Adds an unsigned integer field.
    pub fn uint(self, key: &str, value: u64) -> Self {
        self.field(key, Value::UInt(value))
    }

    /// Adds a boolean field.
    pub fn bool(self, key: &str, value: bool) -> Self {
        self.field(key, Value::Bool(value))
    }

    /// Adds a float field.
    pub fn float(self, key: &str, value: f64) -> Self {
        self.field(key, Value::Float(value))
    }

    /// Adds an array of strings.
    pub fn strs<'a>(self, key: &str, values: impl IntoIterator<Item = &'a str>) -> Self {
        let mut e = self.field(key, Value::Array);
        for v in values {
            e = e.field("", Value::Str(v.into()));
        }
        e.field("", Value::End)
    }

    /// Adds a nested object whose fields `build` adds.
    pub fn object(self, key: &str, build: impl FnOnce(Event) -> Event) -> Self {
        build(self.field(key, Value::Object)).field("", Value::End)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builder_keeps_nesting_balanced() {
        let e = Event::new("t")
            .str("a", "x")
            .strs("keys", ["k1", "k2"])
            .object("o", |o| o.uint("n", 3).bool("b", true));
        let opens = e
            .fields
            .iter()
            .filter(|f| matches!(f.value, Value::Object | Value::Array))
            .count();
        let ends = e.fields.iter().filter(|f| f.value == Value::End).count();
        assert_eq!((opens, ends), (2, 2));
        assert_eq!(e.fields.len(), 9);
    }
}
