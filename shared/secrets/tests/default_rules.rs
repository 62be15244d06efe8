//! The default rule set: one planted fake secret per rule family, exact rule ids and lines, the
//! allowlist / stopword / inline-allow / entropy / path behaviours, and redaction of every output.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how it reports the unexpected

mod common;

use std::collections::BTreeSet;

use certus_secrets::{RuleSet, ScanOptions, Scanner, SecretFinding};
use common::{default_families, lay_out, Fake, ALNUM};

fn scanner() -> Scanner {
    let rules = RuleSet::default_rules().expect("default rules load");
    Scanner::new(rules, ScanOptions::default())
}

fn rule_lines(findings: &[SecretFinding]) -> BTreeSet<(u64, String)> {
    findings
        .iter()
        .map(|f| (f.line, f.rule_id.clone()))
        .collect()
}

#[test]
fn default_rules_all_compile_and_say_they_are_ours() {
    let rules = RuleSet::default_rules().expect("default rules load");
    assert!(rules.rule_errors().is_empty(), "{:?}", rules.rule_errors());
    assert!(rules.len() >= 20, "only {} rules", rules.len());
    let text = include_str!("../rules/default.toml");
    assert!(text.contains("This is Certus's own rule set"));
}

#[test]
fn every_family_is_found_on_its_line_and_nothing_else() {
    let mut fake = Fake::new(0x5eed_0001);
    let planted = default_families(&mut fake);
    let (text, lines) = lay_out(&planted);
    let findings = scanner().scan_bytes("src/app/settings.py", text.as_bytes());
    let expected: BTreeSet<(u64, String)> = planted
        .iter()
        .zip(&lines)
        .flat_map(|(p, &line)| p.rules.iter().map(move |r| (line, r.to_string())))
        .collect();
    assert_eq!(rule_lines(&findings), expected);

    let ids: BTreeSet<&str> = findings.iter().map(|f| f.rule_id.as_str()).collect();
    let rules = RuleSet::default_rules().expect("default rules load");
    for id in rules.rule_ids() {
        assert!(
            ids.contains(id) || id == "keystore-file",
            "no planted secret exercises rule {id}"
        );
    }
    let key = findings
        .iter()
        .find(|f| f.rule_id == "private-key")
        .expect("private key found");
    assert_eq!(key.end_line, key.line + 4);
}

#[test]
fn findings_carry_location_metadata_and_redacted_secret_only() {
    let mut fake = Fake::new(0x5eed_0002);
    let planted = default_families(&mut fake);
    let (text, lines) = lay_out(&planted);
    let findings = scanner().scan_bytes("dir/file.txt", text.as_bytes());
    let json = serde_json::to_string(&findings).expect("serialise");
    let debug = format!("{findings:?}");
    for p in &planted {
        assert!(
            !json.contains(&p.secret),
            "secret leaked in JSON: {}",
            p.rules[0]
        );
        assert!(
            !debug.contains(&p.secret),
            "secret leaked in Debug: {}",
            p.rules[0]
        );
    }
    let npm = planted
        .iter()
        .position(|p| p.rules == ["npm-token"])
        .expect("npm planted");
    let f = findings
        .iter()
        .find(|f| f.rule_id == "npm-token")
        .expect("npm found");
    assert_eq!(f.line, lines[npm]);
    assert_eq!(f.column, "registry ".len() as u64 + 1);
    assert_eq!(f.end_line, f.line);
    assert_eq!(f.path, "dir/file.txt");
    assert_eq!(f.redacted, format!("{}****", &planted[npm].secret[..4]));
    assert_eq!(f.snippet, format!("registry {}", f.redacted));
    assert_eq!(f.tags, vec!["npm", "registry", "token"]);
    assert!(f.entropy > 3.0);
    assert_eq!(f.fingerprint.len(), 64);
    let short = findings
        .iter()
        .find(|f| f.rule_id == "url-embedded-password")
        .expect("url password found");
    let secret = &planted[planted.len() - 2].secret;
    assert_eq!(
        short.redacted,
        format!("{}****", &secret[..4]),
        "16 chars keep 4"
    );

    let eleven = fake.string(ALNUM, 11);
    let found = scanner().scan_bytes("p", format!("redis://u:{eleven}@cache\n").as_bytes());
    assert_eq!(found.len(), 1);
    assert_eq!(
        found[0].redacted, "****",
        "secrets under 12 chars show nothing"
    );
    assert_eq!(found[0].snippet, "redis://u:****@cache");
}

#[test]
fn fingerprint_is_stable_when_the_secret_moves_but_not_across_paths() {
    let mut fake = Fake::new(7);
    let token = ["gh", "p_", &fake.string(ALNUM, 36)].concat();
    let s = scanner();
    let a = s.scan_bytes("a.txt", format!("x {token}\n").as_bytes());
    let b = s.scan_bytes("a.txt", format!("\n\n\n\ny {token}\n").as_bytes());
    let c = s.scan_bytes("b.txt", format!("x {token}\n").as_bytes());
    assert_eq!((a.len(), b.len(), c.len()), (1, 1, 1));
    assert_eq!(a[0].fingerprint, b[0].fingerprint);
    assert_eq!((a[0].line, b[0].line), (1, 5));
    assert_ne!(a[0].fingerprint, c[0].fingerprint);
}

#[test]
fn allowlists_stopwords_inline_allow_and_entropy_suppress_findings() {
    let mut fake = Fake::new(11);
    let s = scanner();
    let example_key = ["AK", "IA", "IOSFODNN7", "EXAMPLE"].concat();
    assert!(s
        .scan_bytes("a.py", format!("k = {example_key}\n").as_bytes())
        .is_empty());

    let stopword = format!("password = \"example{}\"\n", fake.string(ALNUM, 12));
    assert!(s.scan_bytes("a.py", stopword.as_bytes()).is_empty());
    let real = format!("password = \"{}\"\n", fake.string(ALNUM, 19));
    assert_eq!(s.scan_bytes("a.py", real.as_bytes()).len(), 1);

    let token = ["gh", "p_", &fake.string(ALNUM, 36)].concat();
    let allowed = format!("t = '{token}'  # gitleaks:allow\nu = '{token}'\n");
    let found = s.scan_bytes("a.py", allowed.as_bytes());
    assert_eq!(
        rule_lines(&found),
        BTreeSet::from([(2, "github-token".to_string())])
    );

    let low = "api_key = \"abababababababab\"\n";
    assert!(
        s.scan_bytes("a.py", low.as_bytes()).is_empty(),
        "entropy 1.0 is below 3.5"
    );
    let env_ref = "api_key = \"${API_KEY_FROM_ENV}\"\n";
    assert!(s.scan_bytes("a.py", env_ref.as_bytes()).is_empty());
}

#[test]
fn global_path_allowlist_and_path_rules() {
    let mut fake = Fake::new(13);
    let s = scanner();
    let token = ["np", "m_", &fake.string(ALNUM, 36)].concat();
    let text = format!("{token}\n");
    assert!(s.scan_bytes("web/yarn.lock", text.as_bytes()).is_empty());
    assert_eq!(s.scan_bytes("web/yarn.lock.txt", text.as_bytes()).len(), 1);

    let store = s.scan_bytes("certs/server.P12", b"anything");
    assert_eq!(store.len(), 1);
    assert_eq!(store[0].rule_id, "keystore-file");
    assert_eq!((store[0].line, store[0].redacted.as_str()), (1, ""));
    assert!(s.scan_bytes("certs/server.p12.md", b"anything").is_empty());
}

#[test]
fn keywords_are_case_insensitive_and_gate_rules() {
    let mut fake = Fake::new(17);
    let s = scanner();
    let key = ["AK", "IA", &fake.string(common::BASE32, 16)].concat();
    let found = s.scan_bytes("a", format!("{key}\n").as_bytes());
    assert_eq!(found.len(), 1, "keyword 'akia' matches 'AKIA'");
    let lower = key.to_ascii_lowercase();
    assert!(s
        .scan_bytes("a", format!("{lower}\n").as_bytes())
        .is_empty());
}

#[test]
fn every_copy_of_a_secret_is_masked_in_snippets() {
    let mut fake = Fake::new(19);
    let s = scanner();
    let stripe = ["sk", "_live_", &fake.string(ALNUM, 24)].concat();
    let npm = ["np", "m_", &fake.string(ALNUM, 36)].concat();
    let line = format!("a={stripe} b={npm} c={stripe}\n");
    let found = s.scan_bytes("x", line.as_bytes());
    assert_eq!(found.len(), 3);
    for f in &found {
        assert!(
            !f.snippet.contains(&stripe) && !f.snippet.contains(&npm),
            "{}",
            f.snippet
        );
        assert!(f.snippet.contains(&f.redacted), "{}", f.snippet);
    }
}
