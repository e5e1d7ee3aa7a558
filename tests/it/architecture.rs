//! House rules checked mechanically: the domain imports no transport or database crate, and the server
//! instructions name only real tools.

use std::path::Path;

const FORBIDDEN: [&str; 9] = ["axum", "rusqlite", "sqlx", "redis", "rmcp", "rmqtt", "kube", "reqwest", "hyper"];

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn core_depends_on_no_transport_or_database() {
    let mut files = Vec::new();
    rust_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src/core"), &mut files);
    assert!(files.len() > 10);
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        for line in text.lines().filter(|l| !l.trim_start().starts_with("//")) {
            for krate in FORBIDDEN {
                let bad = line.contains(&format!("use {krate}::")) || line.contains(&format!("{krate}::"));
                assert!(!bad || line.contains(&format!("_{krate}::")), "{} imports {krate}: {line}", f.display());
            }
        }
    }
}

#[test]
fn configuration_doc_lists_exactly_the_variables_the_code_reads() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // The config module: src/config.rs and its submodules under src/config/.
    let mut files = vec![root.join("src/config.rs")];
    rust_files(&root.join("src/config"), &mut files);
    let code: String = files.iter().map(|f| std::fs::read_to_string(f).unwrap()).collect();
    let doc = std::fs::read_to_string(root.join("docs/configuration.md")).unwrap();
    let var = regex::Regex::new(r#""((?:COORDINATOR_)?[A-Z][A-Z_]{2,})""#).unwrap();
    let in_code: std::collections::BTreeSet<&str> =
        var.captures_iter(&code).map(|c| c.get(1).unwrap().as_str()).collect();
    for v in &in_code {
        assert!(doc.contains(&format!("`{v}`")), "docs/configuration.md does not document {v}");
    }
    let doc_var = regex::Regex::new(r"`((?:COORDINATOR_[A-Z_]+)|PORT|LOG_LEVEL|HOME)`").unwrap();
    for c in doc_var.captures_iter(&doc) {
        let v = c.get(1).unwrap().as_str();
        assert!(in_code.contains(v), "docs/configuration.md documents {v}, which the code does not read");
    }
}
