//! Findings where people look, through the real `certus` binary: the table `certus scan` ends with, `--format`,
//! `certus findings` with filters and a baseline, colour only on a terminal, and `report.html` in the bundle
//! (listed, attested, escaped).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how it reports the unexpected

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;
use common::certus;

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Fake GitHub tokens, built at run time so no credential-shaped string sits in this file.
fn token(n: usize) -> String {
    format!("{}{n:04}{}", "ghp_", "Zq7Xw2Rt9Lm4Kp3Vb8Nc5Hy6Jd1FsGt7")
}

fn aws_key() -> String {
    format!("{}{}", "AKIA", "Z7QW4ERT5YUI6OPL")
}

const SECRETS_MANIFEST: &str =
    r#"{"profiles":[{"name":"light","tools":["secrets"],"thresholds":{"critical":0}}]}"#;

/// A source tree with one AWS key and `tokens` GitHub tokens in `app/settings.py`, and a manifest.
fn tree(work: &Path, tokens: usize) -> (PathBuf, PathBuf) {
    let src = work.join("src");
    std::fs::create_dir_all(src.join("app")).unwrap();
    let mut text = format!("AWS_ACCESS_KEY_ID = \"{}\"\n", aws_key());
    for n in 0..tokens {
        text.push_str(&format!("TOKEN_{n} = \"{}\"\n", token(n)));
    }
    std::fs::write(src.join("app/settings.py"), text).unwrap();
    let manifest = work.join("m.json");
    std::fs::write(&manifest, SECRETS_MANIFEST).unwrap();
    (src, manifest)
}

fn scan(src: &Path, manifest: &Path, data: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "scan",
        src.to_str().unwrap(),
        "--manifest",
        manifest.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    certus(&args, data)
}

fn test_id_of(text: &str) -> String {
    let at = text.find("scan test_").expect("a test id") + 5;
    text[at..at + 17].to_string()
}

#[test]
fn scan_ends_with_a_findings_table_most_severe_first_and_capped() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let (src, manifest) = tree(work.path(), 24);
    let out = scan(&src, &manifest, &data, &[]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let header = text
        .lines()
        .position(|l| l.starts_with("SEVERITY  RULE"))
        .unwrap_or_else(|| panic!("no table in {text}"));
    let rows: Vec<&str> = text.lines().skip(header + 1).take(20).collect();
    assert!(
        rows[0].starts_with("critical") && rows[0].contains("app/settings.py:1"),
        "{text}"
    );
    assert!(rows[0].contains("secrets"), "{text}");
    assert!(rows[1..].iter().all(|r| r.starts_with("high")), "{text}");
    // 25 findings, 20 rows, then the count and the pointer to the whole list.
    let id = test_id_of(&text);
    assert!(
        text.contains("25 finding(s): critical 1 · high 24"),
        "{text}"
    );
    assert!(
        text.contains(&format!("… and 5 more: certus findings {id}")),
        "{text}"
    );
    // Not a terminal: no colour. The summary names the HTML report.
    assert!(!text.contains('\u{1b}'), "{text:?}");
    let report = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("report"))
        .map(|p| PathBuf::from(p.trim()))
        .expect("a report line");
    assert!(
        report.ends_with("report.html") && report.is_file(),
        "{text}"
    );
}

#[test]
fn format_prints_only_the_findings_on_stdout_in_each_form() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let (src, manifest) = tree(work.path(), 2);

    let out = scan(&src, &manifest, &data, &["--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let findings: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let findings = findings.as_array().unwrap();
    assert_eq!(findings.len(), 3);
    assert_eq!(findings[0]["severity"], "critical");
    assert_eq!(findings[0]["path"], "app/settings.py");
    assert_eq!(findings[0]["start_line"], 1);
    // No secret in clear in what is printed.
    assert!(!stdout(&out).contains(&aws_key()));
    assert!(String::from_utf8_lossy(&out.stderr).contains("POLICY THRESHOLDS BREACHED"));

    let out = scan(&src, &manifest, &data, &["--format", "sarif"]);
    let sarif: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    assert!(sarif["$schema"].as_str().unwrap().contains("sarif-2.1.0"));
    let run = &sarif["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "secrets");
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), 3);
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    for result in results {
        let index = result["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[index]["id"], result["ruleId"]);
        assert!(result["message"]["text"].is_string());
        assert!(result["locations"][0]["physicalLocation"]["region"]["startLine"].is_u64());
    }

    let out = scan(&src, &manifest, &data, &["--format", "markdown"]);
    let md = stdout(&out);
    assert!(md.starts_with("| severity | rule | location |"), "{md}");
    assert_eq!(md.lines().count(), 2 + 3);

    let both = scan(&src, &manifest, &data, &["--format", "json", "--json"]);
    assert_eq!(both.status.code(), Some(2));
}

#[test]
fn findings_filters_a_finished_scan_by_id_or_directory_and_tells_new_from_unchanged() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let (src, manifest) = tree(work.path(), 1);
    let first = test_id_of(&stdout(&scan(&src, &manifest, &data, &[])));

    // One more secret in another file; the second scan is compared with the first.
    std::fs::create_dir_all(src.join("lib")).unwrap();
    std::fs::write(src.join("lib/extra.py"), format!("T = \"{}\"\n", token(77))).unwrap();
    let second_out = scan(&src, &manifest, &data, &["--baseline", &first]);
    let second = test_id_of(&stdout(&second_out));
    let table = stdout(&certus(&["findings", &second], &data));
    let baseline_of = |path: &str| {
        table
            .lines()
            .find(|l| l.contains(path))
            .unwrap_or_else(|| panic!("{path} not in {table}"))
            .split_whitespace()
            .nth(4)
            .unwrap()
            .to_string()
    };
    assert_eq!(baseline_of("lib/extra.py:1"), "new");
    assert_eq!(baseline_of("app/settings.py:2"), "unchanged");

    let json = |extra: &[&str]| -> Vec<serde_json::Value> {
        let mut args = vec!["findings", second.as_str(), "--format", "json"];
        args.extend_from_slice(extra);
        let out = certus(&args, &data);
        assert_eq!(out.status.code(), Some(0), "{:?}", out);
        serde_json::from_slice::<serde_json::Value>(&out.stdout)
            .unwrap()
            .as_array()
            .unwrap()
            .clone()
    };
    assert_eq!(json(&[]).len(), 3);
    let new = json(&["--new-only"]);
    assert_eq!(new.len(), 1);
    assert_eq!(new[0]["path"], "lib/extra.py");
    assert_eq!(json(&["--severity", "critical"]).len(), 1);
    assert_eq!(json(&["--severity", "high,medium"]).len(), 2);
    assert_eq!(json(&["--path", "app/*.py"]).len(), 2);
    assert_eq!(json(&["--path", "*.py", "--severity", "high"]).len(), 2);
    assert_eq!(json(&["--tool", "bandit"]).len(), 0);
    let rule = new[0]["rule_id"].as_str().unwrap().to_string();
    assert_eq!(json(&["--rule", &rule]).len(), 2);

    // A bundle directory works as well, SARIF keeps only the filtered results.
    let bundle = data.join("bundles").join(&second);
    let out = certus(
        &[
            "findings",
            bundle.to_str().unwrap(),
            "--format",
            "sarif",
            "--new-only",
        ],
        &data,
    );
    let sarif: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(sarif["runs"][0]["results"].as_array().unwrap().len(), 1);
    assert_eq!(sarif["runs"][0]["results"][0]["baselineState"], "new");

    let missing = certus(&["findings", work.path().to_str().unwrap()], &data);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("is not an evidence bundle"));
    let bad = certus(&["findings", &second, "--severity", "urgent"], &data);
    assert_eq!(bad.status.code(), Some(2));
}

/// Runs `certus findings` under a pseudo-terminal (util-linux `script`), as a person at a terminal would.
fn findings_on_a_terminal(id: &str, data: &Path, no_color: bool) -> Option<String> {
    certus_testkit::installed(&["script"], &[])?;
    let command = format!("{} findings {id}", env!("CARGO_BIN_EXE_certus"));
    let mut script = Command::new("script");
    script
        .args(["-qec", &command, "/dev/null"])
        .env("CERTUS_ASSURANCE_ARTIFACT_ROOT", data)
        .env_remove("NO_COLOR");
    if no_color {
        script.env("NO_COLOR", "1");
    }
    let out = script.output().unwrap();
    assert!(out.status.success(), "{out:?}");
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn colour_only_on_a_terminal_and_never_with_no_color() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let (src, manifest) = tree(work.path(), 1);
    let id = test_id_of(&stdout(&scan(&src, &manifest, &data, &[])));
    let Some(coloured) = findings_on_a_terminal(&id, &data, false) else {
        return;
    };
    assert!(coloured.contains("\u{1b}[1;31mcritical"), "{coloured:?}");
    let plain = findings_on_a_terminal(&id, &data, true).unwrap();
    assert!(!plain.contains('\u{1b}'), "{plain:?}");
    assert!(plain.contains("critical"));
}

/// A `bandit` that reports one issue whose text is an HTML injection attempt.
fn hostile_bandit(work: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let bin = work.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let tool = bin.join("bandit");
    std::fs::write(
        &tool,
        r#"#!/bin/sh
case "$1" in --version) echo 'bandit 1.7.0'; exit 0;; esac
cat <<JSON
{"errors": [], "results": [{"test_id": "B999", "test_name": "x", "issue_severity": "HIGH",
 "issue_confidence": "HIGH", "filename": "$2/app/settings.py", "line_number": 1, "line_range": [1],
 "issue_text": "</td><script>alert(document.domain)</script><img src=x onerror=alert(1)>"}]}
JSON
exit 1
"#,
    )
    .unwrap();
    std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

#[test]
fn every_bundle_has_an_attested_self_contained_report_html_that_escapes_findings() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let (src, _) = tree(work.path(), 1);
    let manifest = work.path().join("bandit.json");
    std::fs::write(
        &manifest,
        r#"{"profiles":[{"name":"light","tools":["secrets","bandit"],"thresholds":{}}]}"#,
    )
    .unwrap();
    let out_dir = work.path().join("bundle");
    let out = Command::new(env!("CARGO_BIN_EXE_certus"))
        .args([
            "scan",
            src.to_str().unwrap(),
            "--manifest",
            manifest.to_str().unwrap(),
            "--out",
            out_dir.to_str().unwrap(),
        ])
        .env("CERTUS_ASSURANCE_ARTIFACT_ROOT", &data)
        .env(
            "CERTUS_ASSURANCE_TOOLS_BIN_DIR",
            hostile_bandit(work.path()),
        )
        .env("PATH", "/usr/bin:/bin")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let html = std::fs::read_to_string(out_dir.join("report.html")).unwrap();
    assert!(
        html.contains(
            "&lt;/td&gt;&lt;script&gt;alert(document.domain)&lt;/script&gt;&lt;img src=x"
        ),
        "{html}"
    );
    assert!(!html.contains("<script>alert") && !html.contains("<img"));
    assert_eq!(html.matches("<script").count(), 1);
    assert!(html.contains(">PASSED<"));
    assert!(html.contains("<svg"));
    assert!(html.contains("app/settings.py:1"));
    assert!(html.contains("id=\"f-sev\""));
    // Listed in the index, and a subject of the signed attestation like every other file.
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("bundle-index.json")).unwrap()).unwrap();
    assert!(index["files"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["path"] == "report.html"));
    let verified = certus(
        &[
            "verify-bundle",
            out_dir.to_str().unwrap(),
            "--trust-embedded-key",
        ],
        &data,
    );
    assert_eq!(verified.status.code(), Some(0), "{verified:?}");
    let mut tampered = html.clone();
    tampered.push_str("<!-- -->");
    std::fs::write(out_dir.join("report.html"), tampered).unwrap();
    let refused = certus(
        &[
            "verify-bundle",
            out_dir.to_str().unwrap(),
            "--trust-embedded-key",
        ],
        &data,
    );
    assert_eq!(refused.status.code(), Some(1));
    assert!(stdout(&refused).contains("report.html"), "{refused:?}");
}
