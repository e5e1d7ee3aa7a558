//! Path normalisation (scoring.md §8): every declared or observed path becomes one canonical, repo-relative
//! `RepoPath`, so that two agents naming the same file the same way always collide, whatever checkout or
//! separator they used. Pure code: no filesystem access here (roots are canonicalised by the config layer).

use serde::{Deserialize, Serialize};
use std::fmt;

use super::error::CoreError;

/// Longest accepted path, in bytes.
pub const MAX_PATH_LEN: usize = 4096;

/// A normalised path: repo-relative (or absolute in team mode without roots), `/`-separated, no `.`/`..`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RepoPath(String);

impl RepoPath {
    /// Wraps a value read back from the store (already normalised when written).
    pub fn from_stored(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// File-activity module: the first two segments without a leading `/` (empty if fewer).
    pub fn module(&self) -> String {
        let segs: Vec<&str> = self.0.trim_start_matches('/').splitn(3, '/').take(2).collect();
        if segs.len() < 2 { String::new() } else { segs.join("/") }
    }
}

impl fmt::Display for RepoPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Root {
    segments: Vec<String>,
    windows: bool,
    display: String,
}

/// The repository roots of an org: absolute paths under which agents' absolute paths are made relative.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepoRoots {
    roots: Vec<Root>,
}

fn is_windows_shaped(s: &str) -> bool {
    let b = s.as_bytes();
    s.contains('\\') || (b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':')
}

fn is_absolute(s: &str) -> bool {
    let b = s.as_bytes();
    s.starts_with('/') || (b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':')
}

/// Splits into collapsed segments; `Err` when `..` climbs above the top.
fn collapse(s: &str) -> Result<Vec<&str>, ()> {
    let mut out: Vec<&str> = Vec::new();
    for seg in s.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if out.pop().is_none() {
                    return Err(());
                }
            }
            other => out.push(other),
        }
    }
    Ok(out)
}

impl RepoRoots {
    /// Builds the root set; each entry is an absolute path (as written or canonicalised; pass both to match both).
    pub fn new<I, S>(roots: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut out: Vec<Root> = Vec::new();
        for r in roots {
            let raw = r.as_ref().trim();
            if raw.is_empty() || !is_absolute(&raw.replace('\\', "/")) {
                continue;
            }
            let windows = is_windows_shaped(raw);
            let text = if windows { raw.replace('\\', "/") } else { raw.to_owned() };
            let Ok(segs) = collapse(&text) else { continue };
            let segments: Vec<String> =
                segs.iter().map(|s| if windows { s.to_lowercase() } else { (*s).to_owned() }).collect();
            let root = Root { segments, windows, display: raw.to_owned() };
            if !out.contains(&root) {
                out.push(root);
            }
        }
        // Longest first: the longest component-wise match wins.
        out.sort_by_key(|r| std::cmp::Reverse(r.segments.len()));
        Self { roots: out }
    }

    pub fn is_empty(&self) -> bool {
        self.roots.is_empty()
    }

    /// The roots as configured (for messages and `/health`).
    pub fn display(&self) -> Vec<String> {
        self.roots.iter().map(|r| r.display.clone()).collect()
    }

    /// Normalises one path (scoring.md §8 steps 1–5).
    pub fn normalize(&self, input: &str) -> Result<RepoPath, CoreError> {
        let reject = |reason: String| CoreError::InvalidPath { path: input.to_owned(), reason };
        if input.trim().is_empty() {
            return Err(reject("empty path".into()));
        }
        if input.len() > MAX_PATH_LEN {
            return Err(reject(format!("longer than {MAX_PATH_LEN} bytes")));
        }
        if input.chars().any(char::is_control) {
            return Err(reject("contains control characters".into()));
        }
        let win_input = is_windows_shaped(input);
        let text = if win_input { input.replace('\\', "/") } else { input.to_owned() };
        let escape = || reject("path escapes the repository root".into());
        let segs = collapse(&text).map_err(|_| escape())?;
        if is_absolute(&text) && !self.roots.is_empty() {
            for root in &self.roots {
                let ci = win_input || root.windows;
                if root.segments.len() > segs.len() {
                    continue;
                }
                let matches =
                    root.segments.iter().zip(&segs).all(|(r, s)| if ci { r.eq_ignore_ascii_case(s) } else { r == s });
                if matches {
                    let rest = segs[root.segments.len()..].join("/");
                    if rest.is_empty() {
                        return Err(reject("path is the repository root, not a file".into()));
                    }
                    return Ok(RepoPath(if ci { rest.to_lowercase() } else { rest }));
                }
            }
            return Err(reject(format!(
                "path is outside the configured repository roots ({}); add the checkout as a repo root or send a repo-relative path",
                self.display().join(", ")
            )));
        }
        if segs.is_empty() {
            return Err(reject("empty path".into()));
        }
        let joined = segs.join("/");
        let out = if text.starts_with('/') { format!("/{joined}") } else { joined };
        Ok(RepoPath(if win_input { out.to_lowercase() } else { out }))
    }

    /// Normalises a list, failing on the first rejection.
    pub fn normalize_all(&self, inputs: &[String]) -> Result<Vec<RepoPath>, CoreError> {
        let mut out: Vec<RepoPath> = Vec::with_capacity(inputs.len());
        for p in inputs {
            let n = self.normalize(p)?;
            if !out.contains(&n) {
                out.push(n);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(roots: &RepoRoots, p: &str) -> Result<String, String> {
        roots.normalize(p).map(|p| p.0).map_err(|e| e.to_string())
    }

    #[test]
    fn relative_paths_collapse() {
        let r = RepoRoots::default();
        assert_eq!(n(&r, "./src//auth/./jwt.ts/").unwrap(), "src/auth/jwt.ts");
        assert_eq!(n(&r, "src/a/../b.rs").unwrap(), "src/b.rs");
        assert!(n(&r, "../x").unwrap_err().contains("escapes the repository root"));
        assert!(n(&r, "").unwrap_err().contains("empty path"));
        assert_eq!(n(&r, "/abs/x.rs").unwrap(), "/abs/x.rs");
    }

    #[test]
    fn roots_strip_longest_match() {
        let r = RepoRoots::new(["/home/u/repo", "/home/u/repo/worktrees/feat"]);
        assert_eq!(n(&r, "/home/u/repo/src/a.rs").unwrap(), "src/a.rs");
        assert_eq!(n(&r, "/home/u/repo/worktrees/feat/src/a.rs").unwrap(), "src/a.rs");
        assert!(n(&r, "/home/u/repository/a.rs").unwrap_err().contains("outside the configured repository roots"));
        assert!(n(&r, "/etc/passwd").unwrap_err().starts_with("invalid path /etc/passwd: path is outside"));
    }

    #[test]
    fn windows_shapes_are_case_insensitive() {
        let r = RepoRoots::new(["C:\\Users\\Dev\\Repo"]);
        assert_eq!(n(&r, "c:\\users\\dev\\repo\\Src\\Main.CS").unwrap(), "src/main.cs");
        assert_eq!(n(&RepoRoots::default(), "src\\Foo.rs").unwrap(), "src/foo.rs");
    }

    #[test]
    fn module_is_first_two_segments() {
        assert_eq!(RepoPath::from_stored("src/auth/jwt.ts").module(), "src/auth");
        assert_eq!(RepoPath::from_stored("/abs/x.rs").module(), "abs/x.rs");
        assert_eq!(RepoPath::from_stored("README.md").module(), "");
    }
}
