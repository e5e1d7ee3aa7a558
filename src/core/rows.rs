//! Serde helpers for the reference row shapes (mcp-tools.md §2): JSON-array columns travel as JSON-encoded
//! strings and coordination times as T1 strings, byte-identical whatever the backend.

use serde::Serializer;

use super::time::Timestamp;

/// Compact JSON text of a value, as stored in `*_json`/list columns.
pub fn to_json_text<T: serde::Serialize + ?Sized>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".to_owned())
}

/// Serialises a list as a JSON-encoded string (`json-str`).
pub fn json_str<T: serde::Serialize, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&to_json_text(v))
}

/// Serialises an optional list as a JSON-encoded string or null.
pub fn opt_json_str<T: serde::Serialize, S: Serializer>(v: &Option<T>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.serialize_str(&to_json_text(v)),
        None => s.serialize_none(),
    }
}

/// Serialises a timestamp as T1.
pub fn t1<S: Serializer>(v: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&v.t1())
}

/// Serialises an optional timestamp as T1 or null.
pub fn opt_t1<S: Serializer>(v: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.serialize_str(&v.t1()),
        None => s.serialize_none(),
    }
}

/// Serialises an optional timestamp as ISO-8601 `Z` or null.
pub fn opt_iso<S: Serializer>(v: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.serialize_str(&v.iso()),
        None => s.serialize_none(),
    }
}
