//! Loading gitleaks-format TOML: every supported field, per-rule error reporting, file-level errors.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how it reports the unexpected

use certus_secrets::{RuleSet, ScanOptions, Scanner, SecretsError};

fn scan(toml: &str, path: &str, text: &str) -> Vec<(u64, String, String)> {
    let rules = RuleSet::from_gitleaks_toml(toml).expect("rules load");
    assert!(rules.rule_errors().is_empty(), "{:?}", rules.rule_errors());
    Scanner::new(rules, ScanOptions::default())
        .scan_bytes(path, text.as_bytes())
        .into_iter()
        .map(|f| (f.line, f.rule_id, f.redacted))
        .collect()
}

#[test]
fn broken_rules_are_reported_and_the_others_still_load() {
    let toml = r#"
[[rules]]
id = "good"
regex = '''tok_[a-z]{12}'''

[[rules]]
id = "bad-regex"
regex = '''(unclosed'''

[[rules]]
description = "no id"
regex = '''x'''

[[rules]]
id = "bad-group"
regex = '''(a)(b)'''
secretGroup = 3

[[rules]]
id = "nothing"
description = "neither regex nor path"

[[rules]]
id = "bad-allowlist"
regex = '''y'''
[[rules.allowlists]]
condition = "XOR"
regexes = ['''z''']

[[rules]]
id = "bad-type"
regex = '''z'''
entropy = "high"

[[rules]]
id = "good"
regex = '''dup'''
"#;
    let rules = RuleSet::from_gitleaks_toml(toml).expect("file loads");
    assert_eq!(rules.rule_ids(), vec!["good"]);
    let errors: Vec<(&str, &str)> = rules
        .rule_errors()
        .iter()
        .map(|e| (e.rule_id.as_str(), e.reason.as_str()))
        .collect();
    assert_eq!(errors.len(), 7, "{errors:?}");
    assert_eq!(errors[0].0, "bad-regex");
    assert!(errors[0].1.starts_with("regex does not compile"));
    assert_eq!(errors[1], ("rules[2]", "rule has no id"));
    assert_eq!(
        errors[2],
        (
            "bad-group",
            "secretGroup 3 does not exist (the regex has 2 groups)"
        )
    );
    assert_eq!(errors[3], ("nothing", "rule has neither regex nor path"));
    assert_eq!(
        errors[4],
        (
            "bad-allowlist",
            "allowlist #0: condition \"XOR\" is neither OR nor AND"
        )
    );
    assert_eq!(errors[5].0, "bad-type");
    assert!(errors[5].1.starts_with("invalid rule table"));
    assert_eq!(
        errors[6],
        ("good", "duplicate rule id; the first definition is kept")
    );
}

#[test]
fn file_level_errors_name_the_problem() {
    assert!(matches!(
        RuleSet::from_gitleaks_toml("[[rules]\nid="),
        Err(SecretsError::InvalidToml(_))
    ));
    let err = RuleSet::from_gitleaks_toml("rules = 3").expect_err("layout error");
    assert!(matches!(err, SecretsError::InvalidLayout(_)));
    assert_eq!(
        err.to_string(),
        "rules file has an invalid layout: `rules` must be an array of tables ([[rules]])"
    );
    let err = RuleSet::from_gitleaks_toml("[allowlist]\nregexes = ['''(''']")
        .expect_err("allowlist error");
    assert!(matches!(
        err,
        SecretsError::InvalidGlobalAllowlist { index: 0, .. }
    ));
    let err = RuleSet::from_gitleaks_toml("[allowlist]\ndescription = \"empty\"")
        .expect_err("allowlist error");
    assert_eq!(
        err.to_string(),
        "global allowlist #0 is invalid: allowlist has no regexes, paths, stopwords or commits"
    );
}

#[test]
fn extend_is_reported_as_unsupported() {
    let rules = RuleSet::from_gitleaks_toml("[extend]\nuseDefault = true\n").expect("loads");
    assert_eq!(rules.rule_errors().len(), 1);
    assert_eq!(rules.rule_errors()[0].rule_id, "[extend]");
}

#[test]
fn secret_group_first_group_and_whole_match() {
    let toml = r#"
[[rules]]
id = "second"
regex = '''(key)=(\w{12})'''
secretGroup = 2
[[rules]]
id = "first-nonempty"
regex = '''tag(x)?:(\w{12})'''
[[rules]]
id = "whole"
regex = '''W\w{13}'''
"#;
    let found = scan(
        toml,
        "f",
        "key=abcdefghijkl\ntag:mnopqrstuvwx\nWABCDEFGHIJKLM\n",
    );
    assert_eq!(
        found,
        vec![
            (1, "second".into(), "abcd****".into()),
            (2, "first-nonempty".into(), "mnop****".into()),
            (3, "whole".into(), "WABC****".into()),
        ]
    );
}

#[test]
fn entropy_threshold_is_strict_and_accepts_integers() {
    let toml = "[[rules]]\nid = \"e\"\nregex = '''v=(\\w+)'''\nentropy = 1\n";
    assert!(
        scan(toml, "f", "v=abababab\n").is_empty(),
        "entropy exactly 1.0 is not above 1"
    );
    assert_eq!(scan(toml, "f", "v=abcabcab\n").len(), 1);
}

#[test]
fn keywords_gate_rules_and_rules_without_keywords_always_run() {
    let toml = r#"
[[rules]]
id = "gated"
regex = '''val_\d{4}'''
keywords = ["MARKER"]
[[rules]]
id = "always"
regex = '''num_\d{4}'''
"#;
    assert_eq!(scan(toml, "f", "val_1234 num_5678\n").len(), 1);
    let both = scan(toml, "f", "val_1234 num_5678 marker\n");
    assert_eq!(both.len(), 2);
}

#[test]
fn allowlist_targets_conditions_paths_and_stopwords() {
    let toml = r#"
[allowlist]
paths = ['''^vendor/''']
stopwords = ["globalstop"]

[[rules]]
id = "r"
regex = '''s=(\w{12,})'''
[[rules.allowlists]]
regexTarget = "line"
regexes = ['''^#''']
[[rules.allowlists]]
regexTarget = "match"
regexes = ['''^s=M''']
[[rules.allowlists]]
condition = "AND"
paths = ['''\.md$''']
regexes = ['''^DOC''']
[[rules.allowlists]]
stopwords = ["Fixture"]
"#;
    let text = "s=abcdefghijkl\n# s=abcdefghijkl\ns=Mabcdefghijk\ns=DOCabcdefghi\ns=xxFIXTUREyyy\ns=aaglobalstop\n";
    let lines: Vec<u64> = scan(toml, "src/a.rs", text).iter().map(|f| f.0).collect();
    assert_eq!(lines, vec![1, 4]);
    let lines: Vec<u64> = scan(toml, "docs/a.md", text).iter().map(|f| f.0).collect();
    assert_eq!(
        lines,
        vec![1],
        "AND: path and regex both hold only in .md files"
    );
    assert!(scan(toml, "vendor/a.rs", text).is_empty());
}

#[test]
fn targeted_global_allowlists_and_rule_paths() {
    let toml = r#"
[[allowlists]]
targetRules = ["a"]
regexes = ['''^skip''']

[[rules]]
id = "a"
regex = '''x=(\w{12})'''
[[rules]]
id = "b"
regex = '''x=(\w{12})'''
path = '''\.cfg$'''
"#;
    let text = "x=skipabcdefgh\n";
    let ids: Vec<String> = scan(toml, "a.cfg", text).into_iter().map(|f| f.1).collect();
    assert_eq!(ids, vec!["b"]);
    assert!(scan(toml, "a.txt", text).is_empty());
}

#[test]
fn go_syntax_literal_braces_compile() {
    let toml = "[[rules]]\nid = \"brace\"\nregex = '''\\${(\\w{12})}'''\n";
    let found = scan(toml, "f", "${abcdefghijkl}\n");
    assert_eq!(found, vec![(1, "brace".into(), "abcd****".into())]);
}

#[test]
fn each_path_pattern_of_an_allowlist_matches_with_its_own_flags() {
    let toml = r#"
[allowlist]
paths = ['''(?i)\.PNG$''', '''^Vendor/''', '''(?:^|/)fixtures/''']

[[rules]]
id = "r"
regex = '''s=(\w{12,})'''
"#;
    let text = "s=abcdefghijkl\n";
    for allowed in [
        "a/b.png",
        "b.PnG",
        "Vendor/a.rs",
        "x/fixtures/a.rs",
        "fixtures/a",
    ] {
        assert!(scan(toml, allowed, text).is_empty(), "{allowed} is allowed");
    }
    // `(?i)` holds for its own pattern only: `^Vendor/` stays case-sensitive.
    for scanned in ["vendor/a.rs", "a.png.rs", "x/nofixtures/a.rs"] {
        assert_eq!(scan(toml, scanned, text).len(), 1, "{scanned} is scanned");
    }
}
