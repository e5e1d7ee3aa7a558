//! `server logs`: prints the last lines of `logs/server.log` (the daemon's output), filtered by time (`--since`),
//! level (`--level`, that level and above) and a regular expression (`--grep`), and follows it with `-f`. JSON
//! log lines are pretty-printed as `<time> <LEVEL> [<component>] <message> key=value…`; other lines (panics,
//! start-up errors) are shown as they are and inherit the time of the line before them.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::Args;
use serde_json::Value;

use super::{EXIT_USAGE, Failure, Outcome, layout, settings};
use crate::config::Flags;

/// Interval at which `-f` looks for new lines.
const FOLLOW_POLL: Duration = Duration::from_millis(250);

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Number of lines to show.
    #[arg(short = 'n', long = "lines", default_value_t = 50)]
    pub lines: usize,
    /// Keep printing new lines as they are written (Ctrl-C to stop).
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Only lines at or after this time: a duration back from now (`30s`, `10m`, `2h`, `1d`) or RFC 3339.
    #[arg(long)]
    pub since: Option<String>,
    /// Only lines matching this regular expression.
    #[arg(long)]
    pub grep: Option<String>,
    /// Only lines at this level or above: trace, debug, info, warn, error.
    #[arg(long)]
    pub level: Option<String>,
}

struct Filter {
    since: Option<DateTime<Utc>>,
    grep: Option<regex::Regex>,
    level: u8,
    /// Whether the last timestamped line passed `since` (inherited by lines without a time).
    last_recent: bool,
}

fn level_rank(level: &str) -> Option<u8> {
    match level.trim().to_ascii_lowercase().as_str() {
        "trace" => Some(0),
        "debug" => Some(1),
        "info" => Some(2),
        "warn" | "warning" => Some(3),
        "error" => Some(4),
        _ => None,
    }
}

/// Parses `--since`.
fn parse_since(text: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    let (num, unit) = text.trim().split_at(text.trim().find(|c: char| !c.is_ascii_digit())?);
    let n: i64 = num.parse().ok()?;
    let secs = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => return None,
    };
    Some(now - chrono::Duration::seconds(secs))
}

impl Filter {
    fn new(a: &LogsArgs) -> Result<Filter, Failure> {
        let since = match &a.since {
            Some(t) => Some(parse_since(t, Utc::now()).ok_or_else(|| {
                Failure::new(EXIT_USAGE, format!("--since {t:?}: not a duration or time"))
                    .hint("use e.g. 30s, 10m, 2h, 1d or 2026-11-25T10:00:00Z")
            })?),
            None => None,
        };
        let grep = match &a.grep {
            Some(g) => Some(
                regex::Regex::new(g).map_err(|e| Failure::new(EXIT_USAGE, format!("--grep: invalid pattern: {e}")))?,
            ),
            None => None,
        };
        let level = match &a.level {
            Some(l) => level_rank(l).ok_or_else(|| {
                Failure::new(EXIT_USAGE, format!("--level {l:?}: unknown level"))
                    .hint("use trace, debug, info, warn or error")
            })?,
            None => 0,
        };
        Ok(Filter { since, grep, level, last_recent: true })
    }

    fn keep(&mut self, line: &str) -> bool {
        let json: Option<Value> = serde_json::from_str(line).ok().filter(Value::is_object);
        if let Some(since) = self.since {
            let time = json.as_ref().and_then(|j| j.get("timestamp")).and_then(Value::as_str);
            if let Some(t) = time.and_then(|t| DateTime::parse_from_rfc3339(t).ok()) {
                self.last_recent = t.with_timezone(&Utc) >= since;
            }
            if !self.last_recent {
                return false;
            }
        }
        let level = json.as_ref().and_then(|j| j.get("level")).and_then(Value::as_str).and_then(level_rank);
        if level.is_some_and(|l| l < self.level) {
            return false;
        }
        self.grep.as_ref().is_none_or(|g| g.is_match(line))
    }
}

/// One log line made readable; lines that are not JSON objects come back unchanged.
pub fn pretty(line: &str) -> String {
    let Ok(Value::Object(map)) = serde_json::from_str::<Value>(line) else { return line.to_owned() };
    let text = |k: &str| map.get(k).and_then(Value::as_str).unwrap_or_default();
    let mut out = format!("{} {:<5}", text("timestamp"), text("level"));
    if !text("component").is_empty() {
        out.push_str(&format!(" [{}]", text("component")));
    }
    let message = if text("message").is_empty() { text("msg") } else { text("message") };
    out.push(' ');
    out.push_str(message);
    for (k, v) in &map {
        if ["timestamp", "level", "component", "message", "msg", "target", "spans"].contains(&k.as_str()) {
            continue;
        }
        match v {
            Value::Object(span) if k == "span" => {
                out.push_str(&format!(" span={}", span.get("name").and_then(Value::as_str).unwrap_or("?")));
            }
            Value::String(s) if !s.contains(char::is_whitespace) => out.push_str(&format!(" {k}={s}")),
            other => out.push_str(&format!(" {k}={other}")),
        }
    }
    out
}

/// `server logs`.
pub async fn logs(a: &LogsArgs) -> Outcome {
    let s = settings(&Flags::default())?;
    let path = layout::log_file(&s.config_dir);
    let mut filter = Filter::new(a)?;
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !a.follow => {
            return Err(Failure::new(1, format!("no log file at {}", path.display())).hint(
                "the log is written by `mcp-coordinator server start --daemon`; a foreground server logs to stderr",
            ));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(Failure::new(1, format!("cannot read {}: {e}", path.display()))),
    };
    let text = String::from_utf8_lossy(&bytes);
    let kept: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty() && filter.keep(l)).collect();
    for line in &kept[kept.len().saturating_sub(a.lines)..] {
        println!("{}", pretty(line));
    }
    if a.follow {
        follow(&path, bytes.len() as u64, &mut filter).await;
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints lines appended after `pos` until Ctrl-C; starts over when the file shrinks (rotation).
async fn follow(path: &Path, mut pos: u64, filter: &mut Filter) {
    let stop = crate::lifecycle::signal();
    tokio::pin!(stop);
    let mut partial = String::new();
    loop {
        tokio::select! {
            _ = &mut stop => return,
            _ = tokio::time::sleep(FOLLOW_POLL) => {}
        }
        let Ok(mut file) = std::fs::File::open(path) else { continue };
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        if len < pos {
            pos = 0;
            partial.clear();
        }
        if len == pos || file.seek(SeekFrom::Start(pos)).is_err() {
            continue;
        }
        let mut chunk = Vec::new();
        if file.read_to_end(&mut chunk).is_err() {
            continue;
        }
        pos += chunk.len() as u64;
        partial.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(i) = partial.find('\n') {
            let line: String = partial.drain(..=i).collect();
            let line = line.trim_end();
            if !line.is_empty() && filter.keep(line) {
                println!("{}", pretty(line));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pretty_prints_json_and_keeps_other_lines() {
        let l = r#"{"timestamp":"2026-11-25T10:00:00Z","level":"INFO","component":"app","message":"listening","addr":"127.0.0.1:1"}"#;
        assert_eq!(pretty(l), "2026-11-25T10:00:00Z INFO  [app] listening addr=127.0.0.1:1");
        assert_eq!(pretty("plain error"), "plain error");
    }

    #[test]
    fn since_accepts_durations_and_times() {
        let now = DateTime::parse_from_rfc3339("2026-11-25T10:00:00Z").unwrap().with_timezone(&Utc);
        assert_eq!(parse_since("10m", now).unwrap().to_rfc3339(), "2026-11-25T09:50:00+00:00");
        assert_eq!(parse_since("2026-11-25T08:00:00Z", now).unwrap().to_rfc3339(), "2026-11-25T08:00:00+00:00");
        assert!(parse_since("soon", now).is_none());
    }

    #[test]
    fn filters_by_level_and_time() {
        let a = LogsArgs { lines: 50, follow: false, since: None, grep: None, level: Some("warn".into()) };
        let mut f = Filter::new(&a).unwrap();
        assert!(!f.keep(r#"{"level":"INFO","message":"x"}"#));
        assert!(f.keep(r#"{"level":"ERROR","message":"x"}"#));
        assert!(f.keep("not json"));
    }
}
