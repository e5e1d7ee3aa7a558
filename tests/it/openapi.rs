//! The OpenAPI document stays in step with the router: every `/api/*` route of `route_table()` (the table the
//! router is built from) is documented with exactly its methods and vice versa, the probes are documented, every
//! `$ref` resolves, and the served document is the embedded one and declares OpenAPI 3.1.0.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::support::spawn_app;

const METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

fn document() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/http/openapi.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn documented_methods(item: &Value) -> BTreeSet<String> {
    METHODS.iter().filter(|m| item.get(**m).is_some()).map(|m| (*m).to_owned()).collect()
}

#[test]
fn every_api_route_is_documented_with_exactly_its_methods() {
    let doc = document();
    let paths = doc["paths"].as_object().unwrap();
    let table = mcp_coordinator::http::route_table();
    assert!(table.len() >= 27, "route table looks truncated: {}", table.len());
    let mut routed = BTreeSet::new();
    for (path, methods) in table {
        assert!(path.starts_with("/api/"), "{path}");
        let item = paths.get(*path).unwrap_or_else(|| panic!("{path} is routed but not in openapi.json"));
        let want: BTreeSet<String> = methods.iter().map(|m| (*m).to_owned()).collect();
        assert_eq!(documented_methods(item), want, "methods of {path}");
        routed.insert(*path);
    }
    for path in paths.keys().filter(|p| p.starts_with("/api/")) {
        assert!(routed.contains(path.as_str()), "{path} is in openapi.json but not routed");
    }
    for probe in ["/livez", "/healthz", "/health", "/readyz"] {
        assert_eq!(documented_methods(&paths[probe]), BTreeSet::from(["get".to_owned()]), "{probe}");
    }
}

fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get("$ref") {
                out.push(r);
            }
            m.values().for_each(|x| refs(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
        _ => {}
    }
}

#[test]
fn every_reference_resolves_and_every_operation_is_complete() {
    let doc = document();
    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(!all.is_empty());
    for r in all {
        let pointer = r.strip_prefix('#').unwrap_or_else(|| panic!("external $ref {r}"));
        assert!(doc.pointer(pointer).is_some(), "unresolved $ref {r}");
    }
    let mut ids = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for m in documented_methods(item) {
            let op = &item[m.as_str()];
            let id = op["operationId"].as_str().unwrap_or_else(|| panic!("{m} {path}: no operationId"));
            assert!(ids.insert(id.to_owned()), "duplicate operationId {id}");
            let responses = op["responses"].as_object().unwrap();
            assert!(responses.contains_key("200"), "{m} {path}: no 200");
            if path.starts_with("/api/") && m == "post" {
                for code in ["400", "403", "413", "503"] {
                    assert!(responses.contains_key(code), "{m} {path}: no {code}");
                }
            }
        }
    }
}

#[tokio::test]
async fn served_document_is_openapi_3_1() {
    let app = spawn_app().await;
    let r = reqwest::get(format!("{}/api/openapi.json", app.base)).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    assert!(r.headers().contains_key("x-request-id"));
    let served: Value = r.json().await.unwrap();
    assert_eq!(served["openapi"], "3.1.0");
    assert_eq!(served, document(), "the served document is the embedded src/http/openapi.json");
    let r = reqwest::Client::new().post(format!("{}/api/openapi.json", app.base)).send().await.unwrap();
    assert_eq!(r.status(), 405);
}

/// What fuzzing the document found in the server, pinned: a window suffix that is not ASCII (was a panic and a
/// dropped connection), a string query value that looks like a number (was 400), and a path parameter that is not
/// UTF-8 (was a plain-text 400 outside the envelope).
#[tokio::test]
async fn fuzzing_findings_stay_fixed() {
    let app = spawn_app().await;
    let get = |path: &str| reqwest::get(format!("{}{path}", app.base));
    let r = get("/api/scoring-stats?since=%C2%80").await.unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["details"]["issues"][0]["path"], "since");
    let r = get("/api/scoring-stats?since=5%C3%A9").await.unwrap();
    assert_eq!(r.status(), 400);
    let r = get("/api/check-interrupt?agent_id=123").await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["interrupt"], false);
    let r = get("/api/session-start?agent_id=true").await.unwrap();
    assert_eq!(r.status(), 200);
    let r = get("/api/hot-files?since_minutes=60").await.unwrap();
    assert_eq!(r.status(), 200, "numbers still convert");
    let r = get("/api/hot-files?since_minutes=abc").await.unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["details"]["issues"][0]["path"], "since_minutes");
    assert!(v["details"]["issues"][0]["message"].as_str().unwrap().contains("expected i64"), "{v}");
    let r = get("/api/agent-status/%FF").await.unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.headers()["content-type"], "application/json");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["code"], "INVALID_REQUEST");
    assert_eq!(v["details"]["issues"][0]["path"], "id");
    let r = get("/api/consultation/%FF/status").await.unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "INVALID_REQUEST");
}
