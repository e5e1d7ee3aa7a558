//! Column codecs (storage.md §1): T1 time text, ISO-8601 `Z` text for working-file claims, compact JSON text for
//! lists, 0/1 for bools. A value that does not decode is reported as a conversion failure, which the error
//! mapping classifies as corrupt data.

use rusqlite::Row;
use rusqlite::types::Type;
use serde::de::DeserializeOwned;

use crate::core::time::Timestamp;

/// A conversion failure for column `idx`.
pub(super) fn corrupt(idx: usize, msg: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, msg.into())
}

/// A T1 (or ISO) time column.
pub(super) fn ts(row: &Row<'_>, idx: usize) -> rusqlite::Result<Timestamp> {
    let text: String = row.get(idx)?;
    Timestamp::parse(&text).ok_or_else(|| corrupt(idx, format!("bad time {text:?}")))
}

/// A nullable time column.
pub(super) fn opt_ts(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<Timestamp>> {
    match row.get::<_, Option<String>>(idx)? {
        None => Ok(None),
        Some(text) => Timestamp::parse(&text).map(Some).ok_or_else(|| corrupt(idx, format!("bad time {text:?}"))),
    }
}

/// A JSON text column.
pub(super) fn json<T: DeserializeOwned>(row: &Row<'_>, idx: usize) -> rusqlite::Result<T> {
    let text: String = row.get(idx)?;
    serde_json::from_str(&text).map_err(|e| corrupt(idx, format!("bad JSON: {e}")))
}

/// A nullable JSON text column.
pub(super) fn opt_json<T: DeserializeOwned>(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<T>> {
    match row.get::<_, Option<String>>(idx)? {
        None => Ok(None),
        Some(text) => serde_json::from_str(&text).map(Some).map_err(|e| corrupt(idx, format!("bad JSON: {e}"))),
    }
}

/// An enum stored as text, decoded by `parse`.
pub(super) fn text_enum<T>(row: &Row<'_>, idx: usize, parse: fn(&str) -> Option<T>) -> rusqlite::Result<T> {
    let text: String = row.get(idx)?;
    parse(&text).ok_or_else(|| corrupt(idx, format!("unknown value {text:?}")))
}

/// T1 text of an optional time.
pub(super) fn opt_t1(t: Option<Timestamp>) -> Option<String> {
    t.map(Timestamp::t1)
}

/// Compact JSON text of an optional value.
pub(super) fn opt_json_text<T: serde::Serialize>(v: &Option<T>) -> Option<String> {
    v.as_ref().map(crate::core::rows::to_json_text)
}

/// A `LIMIT` bound: `usize` values beyond `i64` are clamped.
pub(super) fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
