//! The HTTP client side of `server status` and `doctor`: GETs the health routes and speaks just enough MCP
//! (streamable HTTP, JSON or SSE replies, stateless or stateful) to `initialize` and call `coordinator_status`.
//! Every request has its own deadline; errors are short strings meant for one line of output.

use std::net::IpAddr;
use std::time::Duration;

use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderValue};
use serde_json::{Value, json};

/// The protocol version the CLI asks for in `initialize`.
const PROTOCOL_VERSION: &str = "2025-06-18";
const SESSION_HEADER: &str = "mcp-session-id";

/// A client for one server.
pub struct Probe {
    client: reqwest::Client,
    base: String,
    host: String,
}

/// A reply: status code and JSON body (`Value::Null` when the body is not JSON).
pub struct Reply {
    pub status: u16,
    pub body: Value,
}

/// The host to dial for a server bound to `bind`: loopback when it listens on every interface.
pub fn dial_host(bind: IpAddr) -> String {
    match bind {
        IpAddr::V4(a) if a.is_unspecified() => "127.0.0.1".to_owned(),
        IpAddr::V6(a) if a.is_unspecified() => "::1".to_owned(),
        other => other.to_string(),
    }
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connect() {
        "connection refused".to_owned()
    } else {
        let mut text = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            text = format!("{text}: {s}");
            source = s.source();
        }
        text
    }
}

impl Probe {
    /// A client for `http://<host>:<port>`.
    pub fn new(host: &str, port: u16) -> Result<Probe, String> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .map_err(|e| describe(&e))?;
        let host = if host.contains(':') && !host.starts_with('[') { format!("[{host}]") } else { host.to_owned() };
        Ok(Probe { client, base: format!("http://{host}:{port}"), host })
    }

    /// The host dialled (bracketed when IPv6).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// `GET <path>` within `timeout`.
    pub async fn get(&self, path: &str, timeout: Duration) -> Result<Reply, String> {
        let resp =
            self.client.get(format!("{}{path}", self.base)).timeout(timeout).send().await.map_err(|e| describe(&e))?;
        let status = resp.status().as_u16();
        let text = resp.text().await.map_err(|e| describe(&e))?;
        Ok(Reply { status, body: serde_json::from_str(&text).unwrap_or(Value::Null) })
    }

    /// One JSON-RPC POST to `/mcp`; returns the reply message (or `Null` for a notification) and the session id.
    async fn rpc(
        &self,
        msg: &Value,
        session: Option<&str>,
        timeout: Duration,
    ) -> Result<(Value, Option<String>), String> {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(ACCEPT, HeaderValue::from_static("application/json, text/event-stream"));
        if let Some(s) = session.and_then(|s| HeaderValue::from_str(s).ok()) {
            headers.insert(SESSION_HEADER, s);
            headers.insert("mcp-protocol-version", HeaderValue::from_static(PROTOCOL_VERSION));
        }
        let resp = self
            .client
            .post(format!("{}/mcp", self.base))
            .headers(headers)
            .json(msg)
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| describe(&e))?;
        let status = resp.status();
        let session = resp.headers().get(SESSION_HEADER).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let text = resp.text().await.map_err(|e| describe(&e))?;
        if !status.is_success() {
            return Err(format!("HTTP {status}: {}", text.chars().take(200).collect::<String>()));
        }
        if msg.get("id").is_none() {
            return Ok((Value::Null, session));
        }
        Ok((parse_reply(&text)?, session))
    }

    /// MCP `initialize`; returns its `result` and the session id, if the server issued one.
    pub async fn initialize(&self, timeout: Duration) -> Result<(Value, Option<String>), String> {
        let msg = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": PROTOCOL_VERSION,
            "capabilities": {},
            "clientInfo": {"name": "mcp-coordinator-cli", "version": env!("CARGO_PKG_VERSION")},
        }});
        let (reply, session) = self.rpc(&msg, None, timeout).await?;
        match reply.get("result") {
            Some(result) => Ok((result.clone(), session)),
            None => Err(format!("initialize failed: {}", reply.get("error").unwrap_or(&reply))),
        }
    }

    /// Calls the `coordinator_status` tool and returns its parsed result.
    pub async fn coordinator_status(&self, timeout: Duration) -> Result<Value, String> {
        let (_, session) = self.initialize(timeout).await?;
        let s = session.as_deref();
        self.rpc(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}), s, timeout).await?;
        let call = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
            "params": {"name": "coordinator_status", "arguments": {}}});
        let (reply, _) = self.rpc(&call, s, timeout).await?;
        let text = reply
            .pointer("/result/content/0/text")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("coordinator_status failed: {reply}"))?;
        serde_json::from_str(text).map_err(|e| format!("coordinator_status returned no JSON: {e}"))
    }
}

/// A JSON-RPC reply sent either as a JSON body or as the first SSE `data:` event carrying an `id`.
fn parse_reply(text: &str) -> Result<Value, String> {
    if let Ok(v) = serde_json::from_str::<Value>(text) {
        return Ok(v);
    }
    text.lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .filter_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
        .find(|v| v.get("id").is_some())
        .ok_or_else(|| "the reply is neither JSON nor an SSE stream with a JSON-RPC response".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_in_json_or_sse() {
        assert_eq!(parse_reply(r#"{"id":1,"result":{}}"#).unwrap()["id"], 1);
        let sse = "event: message\ndata: {\"method\":\"x\"}\n\ndata: {\"id\":2,\"result\":{}}\n\n";
        assert_eq!(parse_reply(sse).unwrap()["id"], 2);
        assert!(parse_reply("nope").is_err());
        assert_eq!(dial_host("0.0.0.0".parse().unwrap()), "127.0.0.1");
    }
}
