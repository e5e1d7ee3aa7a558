//! The sidecar's one tool, `post_to_thread` (events-mqtt.md §6): its input schema, argument checking, and the
//! `POST <url>/api/post-to-thread` call that records the reply (the coordinator then publishes it on
//! `consultations/<id>/messages`, so every subscriber — this sidecar included — sees it). No rmcp types here:
//! the handler in `server` turns [`PostOutcome`] into a tool result.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

/// The tool's name.
pub const TOOL: &str = "post_to_thread";
/// The author of a reply when the caller names none.
pub const DEFAULT_AGENT_ID: &str = "channel";
/// How long one post may take.
const TIMEOUT: Duration = Duration::from_secs(10);
/// Longest server error message repeated to the model.
const MAX_ERROR_CHARS: usize = 300;

/// The tool description shown to the model.
pub const DESCRIPTION: &str = "Reply into a consultation thread named by a <channel> event (its thread_id \
    attribute): add context, answer a question, or acknowledge. The reply is recorded as a `context` message.";

/// The JSON Schema of the arguments.
pub fn input_schema() -> serde_json::Map<String, Value> {
    let schema = json!({
        "type": "object",
        "properties": {
            "thread_id": {"type": "string", "minLength": 1,
                "description": "The thread_id attribute of the <channel> event you answer."},
            "content": {"type": "string", "minLength": 1, "description": "Your message."},
            "agent_id": {"type": "string", "minLength": 1, "default": DEFAULT_AGENT_ID,
                "description": "Author shown on the thread (default \"channel\")."}
        },
        "required": ["thread_id", "content"],
        "additionalProperties": false
    });
    match schema {
        Value::Object(m) => m,
        _ => serde_json::Map::new(),
    }
}

/// Checked arguments of one call.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostArgs {
    pub thread_id: String,
    pub content: String,
    pub agent_id: Option<String>,
}

/// Parses and checks the arguments against [`input_schema`]; the error is the message for the model.
pub fn parse_args(arguments: Option<serde_json::Map<String, Value>>) -> Result<PostArgs, String> {
    let args: PostArgs = serde_json::from_value(Value::Object(arguments.unwrap_or_default()))
        .map_err(|e| format!("Invalid arguments for {TOOL}: {e}"))?;
    let empty = [
        ("thread_id", args.thread_id.is_empty()),
        ("content", args.content.is_empty()),
        ("agent_id", args.agent_id.as_deref() == Some("")),
    ];
    match empty.iter().find(|(_, is_empty)| *is_empty) {
        Some((name, _)) => Err(format!("Invalid arguments for {TOOL}: {name} must not be empty")),
        None => Ok(args),
    }
}

/// What a post came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostOutcome {
    Posted,
    /// The message for an `isError` result.
    Failed(String),
}

/// Posts to the coordinator's HTTP API.
#[derive(Debug, Clone)]
pub struct Poster {
    http: reqwest::Client,
    endpoint: String,
    token: Option<String>,
}

impl Poster {
    /// A poster for the coordinator at `base_url` (no trailing slash), authenticating with `token` when given.
    pub fn new(base_url: &str, token: Option<String>) -> Result<Poster, reqwest::Error> {
        let http = reqwest::Client::builder().timeout(TIMEOUT).redirect(reqwest::redirect::Policy::none()).build()?;
        Ok(Poster { http, endpoint: format!("{base_url}/api/post-to-thread"), token })
    }

    /// Records `args` as a `context` message.
    pub async fn post(&self, args: PostArgs) -> PostOutcome {
        let body = json!({
            "thread_id": args.thread_id,
            "agent_id": args.agent_id.as_deref().unwrap_or(DEFAULT_AGENT_ID),
            "type": "context",
            "content": args.content,
        });
        let mut request = self.http.post(&self.endpoint).json(&body);
        if let Some(t) = &self.token {
            request = request.bearer_auth(t);
        }
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(component = "channel", error = %e, "post_to_thread: coordinator unreachable");
                return PostOutcome::Failed(format!("Cannot reach the coordinator at {}: {e}", self.endpoint));
            }
        };
        let status = response.status();
        if status.is_success() {
            return PostOutcome::Posted;
        }
        let text = response.text().await.unwrap_or_default();
        PostOutcome::Failed(format!("post_to_thread failed: HTTP {}: {}", status.as_u16(), error_message(&text)))
    }
}

/// The server's own words from an error body: `message` (envelope), else `error` (legacy shape), else the text.
fn error_message(body: &str) -> String {
    let parsed = serde_json::from_str::<Value>(body).ok();
    let from_json = parsed
        .as_ref()
        .and_then(|v| ["message", "error"].iter().find_map(|k| v.get(*k).and_then(Value::as_str).map(str::to_owned)));
    let text = from_json.unwrap_or_else(|| body.trim().to_owned());
    let text = if text.is_empty() { "no error message".to_owned() } else { text };
    if text.chars().count() > MAX_ERROR_CHARS {
        format!("{}…", text.chars().take(MAX_ERROR_CHARS).collect::<String>())
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: Value) -> Result<PostArgs, String> {
        let Value::Object(m) = v else { panic!("object") };
        parse_args(Some(m))
    }

    #[test]
    fn arguments_follow_the_schema() {
        let ok = args(json!({"thread_id": "t", "content": "hi"})).unwrap();
        assert_eq!(ok, PostArgs { thread_id: "t".into(), content: "hi".into(), agent_id: None });
        assert_eq!(args(json!({"thread_id": "t", "content": "c", "agent_id": "me"})).unwrap().agent_id.unwrap(), "me");
        let e = args(json!({"thread_id": "t"})).unwrap_err();
        assert_eq!(e, "Invalid arguments for post_to_thread: missing field `content`");
        assert!(args(json!({"thread_id": "t", "content": "c", "x": 1})).unwrap_err().contains("unknown field `x`"));
        assert!(args(json!({"thread_id": 1, "content": "c"})).unwrap_err().contains("invalid type"));
        let e = args(json!({"thread_id": "", "content": "c"})).unwrap_err();
        assert_eq!(e, "Invalid arguments for post_to_thread: thread_id must not be empty");
        assert!(args(json!({"thread_id": "t", "content": ""})).unwrap_err().contains("content must not be empty"));
        assert!(args(json!({"thread_id": "t", "content": "c", "agent_id": ""})).unwrap_err().contains("agent_id"));
        assert!(parse_args(None).unwrap_err().contains("missing field"));
    }

    #[test]
    fn schema_requires_both_fields_and_nothing_else() {
        let s = Value::Object(input_schema());
        assert_eq!(s["required"], json!(["thread_id", "content"]));
        assert_eq!(s["additionalProperties"], json!(false));
        assert_eq!(
            (s["properties"]["thread_id"]["minLength"].as_u64(), s["properties"]["content"]["minLength"].as_u64()),
            (Some(1), Some(1))
        );
        assert_eq!(s["properties"]["agent_id"]["default"], "channel");
    }

    #[test]
    fn error_messages_come_from_the_body() {
        assert_eq!(error_message(r#"{"code":"X","message":"Thread is closed"}"#), "Thread is closed");
        assert_eq!(error_message(r#"{"error":"thread_not_found","thread_id":"t"}"#), "thread_not_found");
        assert_eq!(error_message("plain failure\n"), "plain failure");
        assert_eq!(error_message(""), "no error message");
        assert_eq!(error_message(&"e".repeat(400)).chars().count(), MAX_ERROR_CHARS + 1);
    }
}
