//! REST API tests over real HTTP (reqwest) against the running app: every Phase-1 route, the error envelope,
//! status codes, CORS/Origin/Host rules and SSE.

mod errors;
mod routes;
mod sse;

use reqwest::{Client, Response};
use serde_json::Value;

use crate::support::TestApp;

pub struct Api {
    pub http: Client,
    pub base: String,
}

impl Api {
    pub fn new(app: &TestApp) -> Self {
        Self { http: Client::new(), base: app.base.clone() }
    }
    pub async fn post(&self, path: &str, body: Value) -> Response {
        self.http.post(format!("{}{path}", self.base)).json(&body).send().await.unwrap()
    }
    pub async fn get(&self, path: &str) -> Response {
        self.http.get(format!("{}{path}", self.base)).send().await.unwrap()
    }
    /// POST expecting 200, returning the JSON body.
    pub async fn ok(&self, path: &str, body: Value) -> Value {
        let r = self.post(path, body).await;
        let status = r.status();
        let v: Value = r.json().await.unwrap();
        assert_eq!(status, 200, "{path}: {v}");
        v
    }
    pub async fn get_ok(&self, path: &str) -> Value {
        let r = self.get(path).await;
        let status = r.status();
        let v: Value = r.json().await.unwrap();
        assert_eq!(status, 200, "{path}: {v}");
        v
    }
}
