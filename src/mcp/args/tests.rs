//! Unit tests of argument parsing: exact error texts, defaults, caps and leniencies.

use serde_json::{Value, json};

use super::*;

fn parse(name: &str, args: Value) -> Result<ToolCall, ParseError> {
    let Value::Object(map) = args else { panic!("test arguments must be an object") };
    parse_call(name, Some(map))
}

fn invalid(name: &str, args: Value) -> String {
    match parse(name, args) {
        Err(ParseError::Invalid(message)) => message,
        other => panic!("expected Invalid, got {other:?}"),
    }
}

fn announce() -> Value {
    json!({
        "agent_id": "a1", "subject": "Refactor auth", "target_modules": ["auth"],
        "target_files": ["src/auth.rs"]
    })
}

#[test]
fn names_are_unique_and_26() {
    let mut names = TOOL_NAMES.to_vec();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), 26);
}

#[test]
fn unknown_tool_is_its_own_error() {
    assert_eq!(parse("nope", json!({})), Err(ParseError::UnknownTool("nope".into())));
}

#[test]
fn wrong_type_names_the_field() {
    let mut args = announce();
    args["target_files"] = json!("x");
    assert_eq!(
        invalid("announce_work", args),
        r#"Invalid arguments: target_files: invalid type: string "x", expected a sequence"#
    );
}

#[test]
fn missing_field_names_the_field() {
    assert_eq!(
        invalid("register_agent", json!({"agent_id": "a1", "modules": []})),
        "Invalid arguments: name: required field is missing"
    );
    assert_eq!(
        invalid("get_thread", json!({"thread_id": null})),
        "Invalid arguments: thread_id: required field is missing"
    );
}

#[test]
fn empty_required_strings_are_rejected() {
    assert_eq!(invalid("heartbeat", json!({"agent_id": "  "})), "Invalid arguments: agent_id: must not be empty");
    let mut args = announce();
    args["subject"] = json!("");
    assert_eq!(invalid("announce_work", args), "Invalid arguments: subject: must not be empty");
}

#[test]
fn target_symbols_limits() {
    let mut args = announce();
    args["target_symbols"] = json!(vec!["A.b"; 201]);
    assert_eq!(invalid("announce_work", args.clone()), "Invalid arguments: target_symbols: at most 200 items");
    let mut symbols = vec!["A.b".to_owned(); 4];
    symbols[3] = "x".repeat(257);
    args["target_symbols"] = json!(symbols);
    assert_eq!(invalid("announce_work", args.clone()), "Invalid arguments: target_symbols[3]: at most 256 characters");
    args["target_symbols"] = json!(vec!["y".repeat(256); 200]);
    assert!(parse("announce_work", args).is_ok());
}

#[test]
fn element_type_errors_carry_the_index() {
    let mut args = announce();
    args["target_modules"] = json!(["a", 7]);
    assert_eq!(
        invalid("announce_work", args),
        "Invalid arguments: target_modules[1]: invalid type: integer `7`, expected a string"
    );
}

#[test]
fn defaults_nulls_and_unknown_arguments() {
    let call = parse("list_agents", json!({"online_only": null, "extra": 1}));
    assert_eq!(call, Ok(ToolCall::ListAgents(ListAgentsArgs { online_only: false })));
    let Ok(ToolCall::AnnounceWork(args)) = parse("announce_work", announce()) else { panic!("announce must parse") };
    assert!(!args.keep_open);
    assert_eq!(args.plan, None);
    let Ok(ToolCall::HotFiles(args)) = parse_call("hot_files", None) else {
        panic!("hot_files without arguments must parse")
    };
    assert_eq!(args.since_minutes, 30);
}

#[test]
fn waits_default_and_cap_silently() {
    let call = parse("wait_for_message", json!({"agent_id": "a"}));
    let Ok(ToolCall::WaitForMessage(args)) = call else { panic!("{call:?}") };
    assert_eq!(args.timeout_seconds, 15);
    let call = parse("wait_for_message", json!({"agent_id": "a", "timeout_seconds": 9999}));
    let Ok(ToolCall::WaitForMessage(args)) = call else { panic!("{call:?}") };
    assert_eq!(args.timeout_seconds, 300);
    let call = parse("wait_for_peers", json!({"agent_id": "a", "timeout_seconds": 301}));
    let Ok(ToolCall::WaitForPeers(args)) = call else { panic!("{call:?}") };
    assert_eq!((args.min_peers, args.timeout_seconds), (1, 300));
    assert_eq!(
        invalid("wait_for_peers", json!({"agent_id": "a", "timeout_seconds": -1})),
        "Invalid arguments: timeout_seconds: invalid value: integer `-1`, expected u64"
    );
}

#[test]
fn list_threads_limit_range() {
    let Ok(ToolCall::ListThreads(args)) = parse("list_threads", json!({})) else {
        panic!("list_threads without arguments must parse")
    };
    assert_eq!(args.limit, 200);
    for bad in [0, 1001] {
        assert_eq!(
            invalid("list_threads", json!({ "limit": bad })),
            "Invalid arguments: limit: must be between 1 and 1000"
        );
    }
    assert!(parse("list_threads", json!({"limit": 1000})).is_ok());
}

#[test]
fn post_type_is_an_enum() {
    let args = json!({"thread_id": "t", "agent_id": "a", "type": "rant", "content": "c"});
    assert_eq!(
        invalid("post_to_thread", args),
        "Invalid arguments: type: unknown variant `rant`, expected one of `context`, \
         `suggestion`, `warning`"
    );
    let args = json!({"thread_id": "t", "agent_id": "a", "type": "warning", "content": "c"});
    let Ok(ToolCall::PostToThread(post)) = parse("post_to_thread", args) else { panic!("valid post must parse") };
    assert_eq!(post.kind, MessageKind::Warning);
}

#[test]
fn dependency_map_from_string_or_object() {
    let text = r#"{"auth": {"depends_on": ["db"]}, "db": {"module_id": "db", "owners": ["x"]}}"#;
    let Ok(ToolCall::SetDependencyMap(args)) = parse("set_dependency_map", json!({"modules": text})) else {
        panic!("string map must parse")
    };
    let auth = &args.modules.0["auth"];
    assert_eq!(auth.module_id, "auth");
    assert_eq!(auth.depends_on, ["db"]);
    assert!(auth.exports.is_empty() && auth.owners.is_empty());
    let object: Value = serde_json::from_str(text).unwrap_or_default();
    let from_object = parse("set_dependency_map", json!({ "modules": object }));
    assert_eq!(from_object, Ok(ToolCall::SetDependencyMap(args)));
}

#[test]
fn dependency_map_errors_name_modules() {
    assert_eq!(
        invalid("set_dependency_map", json!({"modules": "{not json"})),
        "Invalid arguments: modules: key must be a string at line 1 column 2"
    );
    assert_eq!(
        invalid("set_dependency_map", json!({"modules": r#"{"a": {"depends_on": "b"}}"#})),
        r#"Invalid arguments: modules: a.depends_on: invalid type: string "b", expected a sequence"#
    );
    assert_eq!(
        invalid("set_dependency_map", json!({"modules": r#"{"a": {"module_id": ""}}"#})),
        "Invalid arguments: modules.a.module_id: must not be empty"
    );
}

#[test]
fn mqtt_payload_object_is_serialised() {
    let args = json!({"topic": "t", "payload": {"b": 1}});
    let Ok(ToolCall::MqttPublish(publish)) = parse("mqtt_publish", args) else { panic!("object payload must parse") };
    assert_eq!(publish.payload, r#"{"b":1}"#);
}

#[test]
fn free_text_caps() {
    let mut args = announce();
    args["subject"] = json!("s".repeat(MAX_SUBJECT_CHARS + 1));
    assert_eq!(invalid("announce_work", args), "Invalid arguments: subject: at most 500 characters");
    let mut args = announce();
    args["target_files"] = json!(vec!["f"; MAX_LIST_ITEMS + 1]);
    assert_eq!(invalid("announce_work", args), "Invalid arguments: target_files: at most 1000 items");
}

#[test]
fn calls_serialise_as_tool_and_args() {
    let call = parse("get_thread", json!({"thread_id": "t1"}));
    let Ok(call) = call else { panic!("{call:?}") };
    assert_eq!(call.name(), "get_thread");
    assert_eq!(serde_json::to_value(&call).ok(), Some(json!({"tool": "get_thread", "args": {"thread_id": "t1"}})));
}
