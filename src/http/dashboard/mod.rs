//! The live dashboard (http-api.md §4, operations.md §11): static assets embedded in the binary and served by
//! exact name from a fixed table, so no request path ever reaches the file system. Every response of this
//! router, errors and redirects included, carries the dashboard's strict CSP and security headers.
//!
//! The page itself is vanilla JavaScript (ES modules, no framework, no CDN): it reads `/api/events` over SSE and
//! polls a few REST routes (`/api/status`, `/api/agents`, `/api/threads-active`, `/api/hot-files`,
//! `/api/scoring-stats`).

use axum::Router;
use axum::extract::{Path, Request};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

use super::error::ApiError;

/// Content-Security-Policy of dashboard pages: no inline script, no foreign origin.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
                       connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'";

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const SVG: &str = "image/svg+xml";

/// One embedded asset: exact file name, content type, bytes.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $ct:expr) => {
        Asset { name: $name, content_type: $ct, body: include_bytes!($name) }
    };
}

/// The whole dashboard. Names are matched exactly; anything else is a 404.
const ASSETS: &[Asset] = &[
    asset!("index.html", HTML),
    asset!("app.css", CSS),
    asset!("favicon.svg", SVG),
    asset!("app.js", JS),
    asset!("util.js", JS),
    asset!("state.js", JS),
    asset!("describe.js", JS),
    asset!("timeline.js", JS),
    asset!("panels.js", JS),
    asset!("threads.js", JS),
];

fn find(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.name == name)
}

fn serve(name: &str) -> Response {
    match find(name) {
        Some(a) => ([(header::CONTENT_TYPE, a.content_type)], a.body).into_response(),
        None => ApiError::not_found().into_response(),
    }
}

async fn redirect() -> Redirect {
    Redirect::permanent("/dashboard/")
}

async fn index() -> Response {
    serve("index.html")
}

async fn file(Path(name): Path<String>) -> Response {
    serve(&name)
}

/// Adds the dashboard's security headers to every response of the router.
async fn headers(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    let set: [(HeaderName, &'static str); 5] = [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
        (header::CACHE_CONTROL, "no-cache"),
    ];
    for (name, value) in set {
        h.insert(name, HeaderValue::from_static(value));
    }
    res
}

/// `/dashboard`, `/dashboard/` and `/dashboard/<file>`; stateless, mounted outside the Host/Origin guard.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/dashboard", get(redirect))
        .route("/dashboard/", get(index))
        .route("/dashboard/{*file}", get(file))
        .layer(middleware::from_fn(headers))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_names_only() {
        assert!(ASSETS.iter().all(|a| find(a.name).is_some()));
        for bad in ["", "../Cargo.toml", "app.js/", "./app.js", "APP.JS", "mod.rs", "index.html?x=1"] {
            assert!(find(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn html_has_no_inline_script_or_handlers() {
        let html = std::str::from_utf8(ASSETS[0].body).unwrap().to_ascii_lowercase();
        let re = regex::Regex::new(r"<script\b[^>]*>\s*[^<\s]").unwrap();
        assert!(!re.is_match(&html), "inline script");
        let on = regex::Regex::new(r"\son[a-z]+\s*=").unwrap();
        assert!(!on.is_match(&html), "inline event handler");
    }
}
