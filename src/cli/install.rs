//! The file edits behind `init --write-mcp-config/--write-claude-md` and `uninstall --mcp-config/--claude-md`,
//! as pure functions over file contents: the `coordinator` entry of `.mcp.json` (other servers and keys are
//! kept) and the marked coordination section of `CLAUDE.md` (the rest of the file is kept byte for byte).

use serde_json::{Map, Value, json};

/// Opens the coordination section in CLAUDE.md.
pub const SECTION_START: &str = "<!-- mcp-coordinator:coordination-section -->";
/// Closes the coordination section in CLAUDE.md.
pub const SECTION_END: &str = "<!-- /mcp-coordinator:coordination-section -->";

/// The section body (between the markers). Names only real tools.
const SECTION_BODY: &str = "\
## Coordination with other agents (mcp-coordinator)

Other AI agents may be editing this repository at the same time. The `coordinator` MCP server keeps you from
overwriting each other's work:

1. At the start of a session call `register_agent` once, with a stable agent_id and the modules you work on.
2. Before editing files call `announce_work` with a subject, a plan, target_modules and repo-relative target_files.
   An auto-resolved thread means nobody is concerned: go ahead.
3. If the thread is open, agree first: read replies with `get_thread_updates`, answer with `post_to_thread`,
   settle with `propose_resolution`; the others use `approve_resolution`.
4. While working call `heartbeat` every few minutes; when done call `close_thread` with a summary.
";

/// The whole section, markers included, ending with a newline.
pub fn section() -> String {
    format!("{SECTION_START}\n{SECTION_BODY}{SECTION_END}\n")
}

/// Byte range of the section in `text`: both markers, or a lone start marker up to the next `## ` heading after
/// it (or the end of the file). The range includes the line break after the end marker.
fn section_span(text: &str) -> Option<(usize, usize)> {
    let start = text.find(SECTION_START)?;
    let after = start + SECTION_START.len();
    if let Some(rel) = text[after..].find(SECTION_END) {
        let mut end = after + rel + SECTION_END.len();
        if text[end..].starts_with("\r\n") {
            end += 2;
        } else if text[end..].starts_with('\n') {
            end += 1;
        }
        return Some((start, end));
    }
    // No end marker: the section runs to the next second-level heading (skipping the section's own heading).
    let body_start = text[after..].find('\n').map_or(text.len(), |i| after + i + 1);
    let mut offset = body_start;
    let mut own_heading_seen = false;
    for line in text[body_start..].split_inclusive('\n') {
        if line.starts_with("## ") {
            if own_heading_seen || offset > body_start {
                return Some((start, offset));
            }
            own_heading_seen = true;
        }
        offset += line.len();
    }
    Some((start, text.len()))
}

/// CLAUDE.md with the section inserted (appended) or replaced; `None` = the file does not exist yet.
pub fn upsert_section(existing: Option<&str>) -> String {
    let Some(text) = existing else { return format!("# CLAUDE.md\n\n{}", section()) };
    if let Some((start, end)) = section_span(text) {
        return format!("{}{}{}", &text[..start], section(), &text[end..]);
    }
    let sep = if text.is_empty() || text.ends_with("\n\n") {
        ""
    } else if text.ends_with('\n') {
        "\n"
    } else {
        "\n\n"
    };
    format!("{text}{sep}{}", section())
}

/// CLAUDE.md without the section: `None` when there is no section, `Some(None)` when nothing but the
/// `# CLAUDE.md` title `init` wrote would be left (delete the file), `Some(Some(text))` otherwise.
pub fn remove_section(text: &str) -> Option<Option<String>> {
    let (start, end) = section_span(text)?;
    let mut rest = format!("{}{}", &text[..start], &text[end..]);
    while rest.ends_with("\n\n") {
        rest.pop();
    }
    let bare = rest.trim();
    if bare.is_empty() || bare == "# CLAUDE.md" { Some(None) } else { Some(Some(rest)) }
}

/// The `.mcp.json` entry written by `init`.
pub fn mcp_entry(url: &str) -> Value {
    json!({"type": "http", "url": url})
}

/// `.mcp.json` with `mcpServers.coordinator` set; `existing` must be a parsed JSON object (callers back up and
/// replace anything else).
pub fn merge_mcp_json(existing: Option<Map<String, Value>>, url: &str) -> String {
    let mut root = existing.unwrap_or_default();
    let servers = root.entry("mcpServers").or_insert_with(|| Value::Object(Map::new()));
    if !servers.is_object() {
        *servers = Value::Object(Map::new());
    }
    if let Value::Object(map) = servers {
        map.insert("coordinator".to_owned(), mcp_entry(url));
    }
    pretty(&Value::Object(root))
}

/// `.mcp.json` without the `coordinator` entry: `None` when nothing is left (delete the file), the unchanged
/// text when there is no such entry.
pub fn remove_mcp_entry(mut root: Map<String, Value>) -> Option<String> {
    if let Some(Value::Object(servers)) = root.get_mut("mcpServers") {
        servers.remove("coordinator");
        if servers.is_empty() {
            root.remove("mcpServers");
        }
    }
    (!root.is_empty()).then(|| pretty(&Value::Object(root)))
}

fn pretty(v: &Value) -> String {
    format!("{v:#}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn section_insert_replace_remove() {
        let created = upsert_section(None);
        assert!(created.starts_with("# CLAUDE.md\n\n<!-- mcp"));
        assert_eq!(upsert_section(Some(&created)), created);
        assert_eq!(remove_section(&created), Some(None));
        let own = "# Project\n\nRules.\n";
        let with = upsert_section(Some(own));
        assert_eq!(remove_section(&with), Some(Some(own.to_owned())));
        let old = format!("# P\n\n{SECTION_START}\nold text\n{SECTION_END}\n\n## Later\nkeep\n");
        let replaced = upsert_section(Some(&old));
        assert!(replaced.contains("register_agent") && !replaced.contains("old text"));
        assert!(replaced.ends_with("\n## Later\nkeep\n"));
        let lone = format!("# P\n\n{SECTION_START}\n## Coordination\nold\n## Later\nkeep\n");
        let fixed = upsert_section(Some(&lone));
        assert!(fixed.contains(SECTION_END) && !fixed.contains("old\n") && fixed.ends_with("## Later\nkeep\n"));
        assert_eq!(remove_section("# P\n"), None);
    }

    #[test]
    fn section_names_only_real_tools() {
        let allowed = ["agent_id", "target_modules", "target_files", "mcp-coordinator"];
        for token in SECTION_BODY.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
            if token.contains('_') {
                assert!(crate::mcp::TOOL_NAMES.contains(&token) || allowed.contains(&token), "{token}");
            }
        }
    }

    #[test]
    fn mcp_json_merge_keeps_other_servers() {
        let other: Map<String, Value> =
            serde_json::from_str(r#"{"mcpServers":{"x":{"command":"x"}},"extra":1}"#).unwrap();
        let merged = merge_mcp_json(Some(other.clone()), "http://localhost:1/mcp");
        let v: Value = serde_json::from_str(&merged).unwrap();
        assert_eq!(v["mcpServers"]["x"]["command"], "x");
        assert_eq!(v["mcpServers"]["coordinator"]["url"], "http://localhost:1/mcp");
        let back = remove_mcp_entry(serde_json::from_str(&merged).unwrap()).unwrap();
        assert_eq!(serde_json::from_str::<Value>(&back).unwrap(), Value::Object(other));
        let only = merge_mcp_json(None, "u");
        assert_eq!(remove_mcp_entry(serde_json::from_str(&only).unwrap()), None);
    }
}
