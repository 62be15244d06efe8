//! Composite rules (`[[rules.required]]` with `withinLines` / `withinColumns`, and `skipReport`) as
//! gitleaks defines them. Every sample value is fake, generated at run time from a fixed seed.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how it reports the unexpected

mod common;

use certus_secrets::{RuleSet, ScanOptions, Scanner, SecretFinding};
use common::{Fake, ALNUM};

/// A fake "client id" rule reported only as a part, and a fake "client secret" rule that needs it.
fn rules(required: &str) -> RuleSet {
    let toml = format!(
        r#"
[[rules]]
id = "fake-client-id"
regex = '''fakeid_([a-z0-9]{{12}})'''
keywords = ["fakeid_"]
skipReport = true

[[rules]]
id = "fake-client-secret"
regex = '''fakesecret_([A-Za-z0-9]{{20}})'''
keywords = ["fakesecret_"]
[[rules.required]]
id = "fake-client-id"
{required}
"#
    );
    let rules = RuleSet::from_gitleaks_toml(&toml).expect("rules load");
    assert!(rules.rule_errors().is_empty(), "{:?}", rules.rule_errors());
    rules
}

fn scan(rules: RuleSet, text: &str) -> Vec<SecretFinding> {
    Scanner::new(rules, ScanOptions::default()).scan_bytes("app/settings.py", text.as_bytes())
}

/// Fake id and secret values (labelled as fakes in the text that holds them).
fn values(seed: u64) -> (String, String) {
    let mut fake = Fake::new(seed);
    let id = [
        "fakeid_",
        &fake.string("abcdefghijklmnopqrstuvwxyz0123456789", 12),
    ]
    .concat();
    let secret = ["fakesecret_", &fake.string(ALNUM, 20)].concat();
    (id, secret)
}

#[test]
fn a_composite_rule_reports_only_when_its_required_rule_matches_within_the_lines() {
    let (id, secret) = values(21);
    let near = format!("# fake values\nclient = {id}\n\nsecret = {secret}\n");
    let findings = scan(rules("withinLines = 2"), &near);
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0].rule_id, "fake-client-secret");
    assert_eq!(findings[0].line, 4);

    let far = format!("# fake values\nclient = {id}\n\n\nsecret = {secret}\n");
    assert!(scan(rules("withinLines = 2"), &far).is_empty());
    let alone = format!("secret = {secret}\n");
    assert!(scan(rules("withinLines = 2"), &alone).is_empty());
}

#[test]
fn without_distances_the_required_rule_may_match_anywhere_in_the_file() {
    let (id, secret) = values(22);
    let filler = "x = 1\n".repeat(500);
    let text = format!("client = {id}\n{filler}secret = {secret}\n");
    let findings = scan(rules(""), &text);
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0].line, 502);
}

#[test]
fn within_columns_compares_the_start_columns_of_both_matches() {
    let (id, secret) = values(23);
    let aligned = format!("{id}\n{secret}\n");
    assert_eq!(scan(rules("withinColumns = 0"), &aligned).len(), 1);
    let shifted = format!("{id}\n      {secret}\n");
    assert!(scan(rules("withinColumns = 3"), &shifted).is_empty());
    assert_eq!(scan(rules("withinColumns = 6"), &shifted).len(), 1);
    let both = "withinLines = 0\nwithinColumns = 40";
    assert!(
        scan(rules(both), &aligned).is_empty(),
        "not on the same line"
    );
    let same_line = format!("{id} {secret}\n");
    assert_eq!(scan(rules(both), &same_line).len(), 1);
}

#[test]
fn a_skip_report_rule_is_never_reported_and_the_part_is_masked_in_the_snippet() {
    let (id, secret) = values(24);
    let findings = scan(rules("withinLines = 0"), &format!("pair {id} {secret}\n"));
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert!(findings.iter().all(|f| f.rule_id != "fake-client-id"));
    let json = serde_json::to_string(&findings).expect("serialise");
    assert!(!json.contains(&secret[11..]), "{json}");
    assert!(
        !json.contains(&id[7..]),
        "the required part is masked too: {json}"
    );
    assert!(scan(rules(""), &format!("only {id}\n")).is_empty());
}

#[test]
fn broken_required_parts_are_reported_and_drop_only_their_rule() {
    let toml = r#"
[[rules]]
id = "plain"
regex = '''plain_[a-z]{8}'''

[[rules]]
id = "needs-missing"
regex = '''a_[a-z]{8}'''
[[rules.required]]
id = "no-such-rule"

[[rules]]
id = "needs-the-broken-one"
regex = '''b_[a-z]{8}'''
[[rules.required]]
id = "needs-missing"

[[rules]]
id = "negative"
regex = '''c_[a-z]{8}'''
[[rules.required]]
id = "plain"
withinLines = -1
"#;
    let rules = RuleSet::from_gitleaks_toml(toml).expect("file loads");
    assert_eq!(rules.rule_ids(), vec!["plain"]);
    let errors: Vec<(&str, &str)> = rules
        .rule_errors()
        .iter()
        .map(|e| (e.rule_id.as_str(), e.reason.as_str()))
        .collect();
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert!(errors
        .iter()
        .any(|(id, why)| *id == "needs-missing" && why.contains("no-such-rule")));
    assert!(errors
        .iter()
        .any(|(id, why)| *id == "needs-the-broken-one" && why.contains("needs-missing")));
    assert!(errors
        .iter()
        .any(|(id, why)| *id == "negative" && why.contains("withinLines -1")));
}
