//! Plan quality (scoring.md §5): three cheap textual checks. It never changes the verdict; it only flags plans
//! too vague to coordinate on.

use regex::Regex;
use std::sync::LazyLock;

use super::model::{PlanChecks, PlanMode, PlanQuality};

static MENTIONS_FILES: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"(?i)\w+/\w+|\.[a-z][a-z0-9]{1,3}\b").ok());
static CONCRETE: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(add|create|split|extract|replace|implement|delete|remove|migrate|wrap|ajout|cré|cree|remplac|implémen|supprim)",
    )
    .ok()
});

/// Words a plan needs to have "sufficient detail" (strictly more than this).
pub const MIN_WORDS: usize = 20;

/// Evaluates a plan; returns the quality and the downgrade reason, if any.
pub fn evaluate(plan: Option<&str>) -> (PlanQuality, Option<String>) {
    let text = plan.unwrap_or("");
    if text.trim().is_empty() {
        let q = PlanQuality {
            mode: PlanMode::Discovery,
            score: 0,
            checks: PlanChecks::default(),
            original_plan: plan.map(str::to_owned),
        };
        return (q, None);
    }
    let hit = |re: &LazyLock<Option<Regex>>| re.as_ref().is_some_and(|r| r.is_match(text));
    let checks = PlanChecks {
        mentions_files: hit(&MENTIONS_FILES),
        concrete_approach: hit(&CONCRETE),
        sufficient_detail: text.split_whitespace().count() > MIN_WORDS,
    };
    let score =
        u8::from(checks.mentions_files) + u8::from(checks.concrete_approach) + u8::from(checks.sufficient_detail);
    let mode = if score >= 2 { PlanMode::WithPlan } else { PlanMode::Discovery };
    let reason = (mode == PlanMode::Discovery).then(|| {
        let mut flags = Vec::new();
        if !checks.mentions_files {
            flags.push("no files");
        }
        if !checks.concrete_approach {
            flags.push("vague approach");
        }
        if !checks.sufficient_detail {
            flags.push("too short");
        }
        format!("plan downgraded: score {score}/3 — {}", flags.join(", "))
    });
    (PlanQuality { mode, score, checks, original_plan: Some(text.to_owned()) }, reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_plan_is_discovery_without_downgrade() {
        let (q, r) = evaluate(None);
        assert_eq!((q.mode, q.score, r), (PlanMode::Discovery, 0, None));
        assert_eq!(evaluate(Some("   ")).1, None);
    }

    #[test]
    fn scores_each_check() {
        let (q, r) = evaluate(Some("refactor things"));
        assert_eq!(q.score, 0);
        assert_eq!(r.unwrap(), "plan downgraded: score 0/3 — no files, vague approach, too short");
        let (q, r) = evaluate(Some("Extract the parser from src/lib.rs"));
        assert_eq!((q.mode, q.score), (PlanMode::WithPlan, 2));
        assert!(r.is_none());
        let long = "add a cache layer in front of the store so that every announcement reads the index and never the \
                    history, then measure it with the bench in benches/announce.rs";
        assert_eq!(evaluate(Some(long)).0.score, 3);
    }
}
