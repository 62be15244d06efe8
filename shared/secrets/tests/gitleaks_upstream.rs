//! The real upstream gitleaks rule file (from `../shared`, skipped when absent) loads in full and
//! finds planted fake secrets of several families.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how it reports the unexpected

mod common;

use std::collections::BTreeSet;

use certus_secrets::{RuleSet, ScanOptions, Scanner};
use common::{default_families, lay_out, shared_dir, Fake};

/// Default-family rule id → the upstream rule id expected on the same line.
const UPSTREAM_IDS: &[(&str, &str)] = &[
    ("aws-access-key-id", "aws-access-token"),
    ("github-token", "github-pat"),
    ("github-fine-grained-token", "github-fine-grained-pat"),
    ("gitlab-token", "gitlab-pat"),
    ("slack-token", "slack-bot-token"),
    ("slack-webhook-url", "slack-webhook-url"),
    ("stripe-key", "stripe-access-token"),
    ("google-api-key", "gcp-api-key"),
    ("private-key", "private-key"),
    ("jwt", "jwt"),
    ("npm-token", "npm-access-token"),
    ("pypi-token", "pypi-upload-token"),
    ("sendgrid-api-key", "sendgrid-api-token"),
    ("twilio-api-key", "twilio-api-key"),
    ("generic-secret-assignment", "generic-api-key"),
];

fn upstream_rules() -> Option<RuleSet> {
    let dir = shared_dir()?;
    let text = std::fs::read_to_string(dir.join("data/gitleaks/gitleaks.toml")).ok()?;
    Some(RuleSet::from_gitleaks_toml(&text).expect("upstream gitleaks file parses"))
}

#[test]
fn all_222_upstream_rules_compile() {
    let Some(rules) = upstream_rules() else {
        return;
    };
    println!("upstream gitleaks rules compiled: {}", rules.len());
    assert!(rules.rule_errors().is_empty(), "{:#?}", rules.rule_errors());
    assert_eq!(rules.len(), 222);
    assert_eq!(
        rules.patterns().len(),
        221,
        "one upstream rule is path-only"
    );
}

#[test]
fn upstream_rules_find_planted_secrets_of_several_families() {
    let Some(rules) = upstream_rules() else {
        return;
    };
    let scanner = Scanner::new(rules, ScanOptions::default());
    let mut fake = Fake::new(0x5eed_0003);
    let planted = default_families(&mut fake);
    let (text, lines) = lay_out(&planted);
    let findings = scanner.scan_bytes("service/config.rb", text.as_bytes());
    let found: BTreeSet<(u64, &str)> = findings
        .iter()
        .map(|f| (f.line, f.rule_id.as_str()))
        .collect();
    for (ours, theirs) in UPSTREAM_IDS {
        let index = planted
            .iter()
            .position(|p| p.rules[0] == *ours)
            .expect("family planted");
        assert!(
            found.contains(&(lines[index], theirs)),
            "upstream rule {theirs} missed the planted {ours} on line {}; found {found:?}",
            lines[index]
        );
    }
    let json = serde_json::to_string(&findings).expect("serialise");
    for p in &planted {
        assert!(!json.contains(&p.secret));
    }
}

#[test]
fn upstream_global_allowlist_excludes_paths_and_placeholders() {
    let Some(rules) = upstream_rules() else {
        return;
    };
    let scanner = Scanner::new(rules, ScanOptions::default());
    let mut fake = Fake::new(5);
    let token = ["gh", "p_", &fake.string(common::ALNUM, 36)].concat();
    let text = format!("t = {token}\n");
    assert_eq!(scanner.scan_bytes("lib/a.js", text.as_bytes()).len(), 1);
    assert!(scanner
        .scan_bytes("web/node_modules/x/a.js", text.as_bytes())
        .is_empty());
    let placeholder = "password = \"${DATABASE_PASSWORD}\"\n";
    assert!(scanner
        .scan_bytes("a.env", placeholder.as_bytes())
        .is_empty());
}
