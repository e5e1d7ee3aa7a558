//! The embedded dashboard (http-api.md §4): redirect, assets by exact name with their content types, the
//! security headers on every dashboard response, no traversal, no inline script, and `GET /api/agents`.

use reqwest::redirect::Policy;
use reqwest::{Client, Response};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::rest::Api;
use crate::support::spawn_app;

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
                   connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'";

fn client() -> Client {
    Client::builder().redirect(Policy::none()).build().unwrap()
}

fn assert_headers(r: &Response) {
    let h = r.headers();
    let path = r.url().path();
    assert_eq!(h["content-security-policy"], CSP, "{path}");
    assert_eq!(h["x-frame-options"], "DENY", "{path}");
    assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
    assert_eq!(h["referrer-policy"], "same-origin", "{path}");
    assert_eq!(h["cache-control"], "no-cache", "{path}");
    assert!(h.contains_key("x-request-id"), "{path}");
}

#[tokio::test]
async fn redirect_assets_and_headers() {
    let app = spawn_app().await;
    let http = client();
    let r = http.get(format!("{}/dashboard", app.base)).send().await.unwrap();
    assert_eq!(r.status(), 308);
    assert_eq!(r.headers()["location"], "/dashboard/");
    assert_headers(&r);

    for (path, ct) in [
        ("/dashboard/", "text/html; charset=utf-8"),
        ("/dashboard/index.html", "text/html; charset=utf-8"),
        ("/dashboard/app.js?v=123", "text/javascript; charset=utf-8"),
        ("/dashboard/timeline.js", "text/javascript; charset=utf-8"),
        ("/dashboard/app.css", "text/css; charset=utf-8"),
        ("/dashboard/favicon.svg", "image/svg+xml"),
    ] {
        let r = http.get(format!("{}{path}", app.base)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(r.headers()["content-type"], ct, "{path}");
        assert_headers(&r);
        assert!(!r.bytes().await.unwrap().is_empty(), "{path}");
    }
    // A foreign Origin does not block the static GETs.
    let r = http.get(format!("{}/dashboard/", app.base)).header("origin", "https://evil.example").send().await.unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn unknown_names_and_traversal_are_404() {
    let app = spawn_app().await;
    let http = client();
    for path in ["/dashboard/nope.js", "/dashboard/mod.rs", "/dashboard/%2e%2e%2fCargo.toml", "/dashboard/a/app.js"] {
        let r = http.get(format!("{}{path}", app.base)).send().await.unwrap();
        assert_eq!(r.status(), 404, "{path}");
        assert_headers(&r);
        assert_eq!(r.json::<Value>().await.unwrap(), json!({"error": "not found"}), "{path}");
    }
    // reqwest normalises `..` away, so send the raw request line.
    for target in ["/dashboard/../Cargo.toml", "/dashboard/..%2F..%2FCargo.toml", "/dashboard//etc/passwd"] {
        let addr = app.base.trim_start_matches("http://");
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        let req = format!("GET {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        s.write_all(req.as_bytes()).await.unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        assert!(out.starts_with("HTTP/1.1 404"), "{target}: {out}");
        assert!(!out.contains("[package]"), "{target}");
    }
}

#[tokio::test]
async fn html_has_no_inline_script_or_event_handlers() {
    let app = spawn_app().await;
    let html = client().get(format!("{}/dashboard/", app.base)).send().await.unwrap().text().await.unwrap();
    let lower = html.to_ascii_lowercase();
    let scripts = regex::Regex::new(r"(?s)<script\b([^>]*)>(.*?)</script>").unwrap();
    let mut n = 0;
    for c in scripts.captures_iter(&lower) {
        n += 1;
        assert!(c[1].contains("src="), "script without src: {}", &c[0]);
        assert!(c[2].trim().is_empty(), "inline script content: {}", &c[0]);
    }
    assert!(n >= 1, "the page loads its script");
    let handlers = regex::Regex::new(r#"<[^>]*\son[a-z]+\s*="#).unwrap();
    assert!(!handlers.is_match(&lower), "inline event handler attribute");
    assert!(!lower.contains("javascript:"), "javascript: URL");
    for needle in ["http://", "https://"] {
        assert!(!lower.contains(needle), "external resource {needle} (no CDN)");
    }
}

#[tokio::test]
async fn agents_route_lists_every_agent_with_activity() {
    let app = spawn_app().await;
    let api = Api::new(&app);
    api.ok("/api/register", json!({"agent_id": "alice", "name": "Alice"})).await;
    api.ok("/api/register", json!({"agent_id": "bob", "name": "Bob"})).await;
    api.ok("/api/log-file", json!({"session_id": "s", "agent_id": "alice", "tool_name": "Edit", "file": "src/a.rs"}))
        .await;
    api.ok("/api/session-stop", json!({"agent_id": "bob"})).await;
    let body = api.get_ok("/api/agents").await;
    let agents = body["agents"].as_array().unwrap();
    let find = |id: &str| agents.iter().find(|a| a["id"] == id).unwrap().clone();
    let alice = find("alice");
    assert_eq!((alice["name"].as_str(), alice["online"].as_bool()), (Some("Alice"), Some(true)));
    assert_eq!(alice["activity"]["activity_status"], "working");
    assert_eq!(alice["activity"]["current_file"], "src/a.rs");
    let bob = find("bob");
    assert_eq!((bob["online"].as_bool(), bob["activity"].is_null()), (Some(false), true));
}
