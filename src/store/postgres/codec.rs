//! Column codecs (storage.md §1): core `Timestamp`s (ms since the epoch) to and from `timestamptz` — T1 columns
//! hold whole seconds, exactly what SQLite's T1 text can hold; working-file claims keep milliseconds — and
//! compact JSON text for lists, byte-identical to SQLite. A value that does not decode is `Corrupt`.

use chrono::{DateTime, TimeZone, Utc};
use serde::de::DeserializeOwned;
use sqlx::Row;
use sqlx::postgres::PgRow;

use crate::core::ports::{StoreError, StoreResult};
use crate::core::time::Timestamp;

/// A `timestamptz` value at millisecond precision (ISO columns).
pub(super) fn ms(t: Timestamp) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(t.millis()).single().unwrap_or_default()
}

/// A `timestamptz` value truncated to whole seconds (T1 columns, and bounds compared with them).
pub(super) fn t1(t: Timestamp) -> DateTime<Utc> {
    ms(t.trunc_secs())
}

/// An optional T1 value.
pub(super) fn opt_t1(t: Option<Timestamp>) -> Option<DateTime<Utc>> {
    t.map(t1)
}

fn from_dt(d: DateTime<Utc>) -> Timestamp {
    Timestamp::from_millis(d.timestamp_millis())
}

/// A time column.
pub(super) fn ts(row: &PgRow, idx: usize) -> StoreResult<Timestamp> {
    Ok(from_dt(row.try_get::<DateTime<Utc>, _>(idx)?))
}

/// A nullable time column.
pub(super) fn opt_ts(row: &PgRow, idx: usize) -> StoreResult<Option<Timestamp>> {
    Ok(row.try_get::<Option<DateTime<Utc>>, _>(idx)?.map(from_dt))
}

fn bad_json(idx: usize, e: &serde_json::Error) -> StoreError {
    StoreError::Corrupt(format!("column {idx}: bad JSON: {e}"))
}

/// A JSON text column.
pub(super) fn json<T: DeserializeOwned>(row: &PgRow, idx: usize) -> StoreResult<T> {
    let text: String = row.try_get(idx)?;
    serde_json::from_str(&text).map_err(|e| bad_json(idx, &e))
}

/// A nullable JSON text column.
pub(super) fn opt_json<T: DeserializeOwned>(row: &PgRow, idx: usize) -> StoreResult<Option<T>> {
    match row.try_get::<Option<String>, _>(idx)? {
        None => Ok(None),
        Some(text) => serde_json::from_str(&text).map(Some).map_err(|e| bad_json(idx, &e)),
    }
}

/// An enum stored as text, decoded by `parse`.
pub(super) fn text_enum<T>(row: &PgRow, idx: usize, parse: fn(&str) -> Option<T>) -> StoreResult<T> {
    let text: String = row.try_get(idx)?;
    parse(&text).ok_or_else(|| StoreError::Corrupt(format!("column {idx}: unknown value {text:?}")))
}

/// Compact JSON text of an optional value.
pub(super) fn opt_json_text<T: serde::Serialize>(v: &Option<T>) -> Option<String> {
    v.as_ref().map(crate::core::rows::to_json_text)
}

/// One column of a multi-row insert (`UNNEST($n::type[])`): `f` applied to every row, in order.
pub(super) fn column<'a, R, T>(rows: &'a [R], f: impl Fn(&'a R) -> T) -> Vec<T> {
    rows.iter().map(f).collect()
}

/// A `LIMIT` bound: `usize` values beyond `i64` are clamped.
pub(super) fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A count reported by the database as a `usize`.
pub(super) fn count(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}
