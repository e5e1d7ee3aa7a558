//! Time values. Coordination rows use T1 (`YYYY-MM-DD HH:MM:SS`, UTC, second precision); working-file claims use
//! ISO-8601 with `Z`. Time inputs accept T1 (as UTC) or ISO-8601 with an offset.

use chrono::{DateTime, NaiveDateTime, SecondsFormat, TimeZone, Utc};
use std::fmt;

/// Milliseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Timestamp(i64);

const T1: &str = "%Y-%m-%d %H:%M:%S";

impl Timestamp {
    pub const fn from_millis(ms: i64) -> Self {
        Self(ms)
    }
    pub const fn from_secs(s: i64) -> Self {
        Self(s * 1000)
    }
    pub const fn millis(self) -> i64 {
        self.0
    }
    pub const fn secs(self) -> i64 {
        self.0.div_euclid(1000)
    }
    /// Truncated to whole seconds: the precision of every T1 column.
    pub const fn trunc_secs(self) -> Self {
        Self(self.secs() * 1000)
    }
    pub const fn minus_secs(self, s: i64) -> Self {
        Self(self.0 - s * 1000)
    }
    pub const fn plus_secs(self, s: i64) -> Self {
        Self(self.0 + s * 1000)
    }
    pub const fn plus_millis(self, ms: i64) -> Self {
        Self(self.0 + ms)
    }
    fn datetime(self) -> DateTime<Utc> {
        Utc.timestamp_millis_opt(self.0).single().unwrap_or_default()
    }
    /// `YYYY-MM-DD HH:MM:SS` UTC.
    pub fn t1(self) -> String {
        self.datetime().format(T1).to_string()
    }
    /// ISO-8601 with milliseconds and `Z`.
    pub fn iso(self) -> String {
        self.datetime().to_rfc3339_opts(SecondsFormat::Millis, true)
    }
    /// Parses T1 (UTC) or RFC 3339 / ISO-8601 with an offset.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
            return Some(Self(dt.timestamp_millis()));
        }
        for fmt in [T1, "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
            if let Ok(n) = NaiveDateTime::parse_from_str(s, fmt) {
                return Some(Self(n.and_utc().timestamp_millis()));
            }
        }
        None
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.t1())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t1_round_trip_and_offsets() {
        let t = Timestamp::parse("2026-11-25 10:00:05").unwrap();
        assert_eq!(t.t1(), "2026-11-25 10:00:05");
        let z = Timestamp::parse("2026-11-25T12:00:05+02:00").unwrap();
        assert_eq!(z, t);
        assert_eq!(t.iso(), "2026-11-25T10:00:05.000Z");
        assert!(Timestamp::parse("yesterday").is_none());
    }
}
