//! The manifest as a strict contract, through the real `certus` binary: each honest mistake a newcomer makes
//! (a misspelt tool id, key or severity, missing thresholds, a wrong type, an unknown field, a tool that is not
//! installed, a profile of unknown tools) ends the scan with exit 2 naming the field or tool, and no bundle
//! claims a verdict; `certus manifest validate` says the same without scanning. Optional tools are reported as
//! not run, a profile without a gate says so, and the demo's `sbom-only` profile needs an advisory database.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how it reports the unexpected

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{json, Value};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `certus` with a private data directory, no external tools (an empty bin dir, a PATH without user tools) and
/// no advisory database unless `env` gives one.
fn certus(args: &[&str], data: &Path, env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_certus"));
    command
        .args(args)
        .env("CERTUS_ASSURANCE_ARTIFACT_ROOT", data)
        .env_remove("CERTUS_ASSURANCE_MANIFEST_VERIFICATION_REQUIRED")
        .env_remove("CERTUS_ASSURANCE_MANIFEST_VERIFICATION_KEY_REF")
        .env_remove("CERTUS_ASSURANCE_ADVISORY_DB")
        .env_remove("CERTUS_ASSURANCE_ADVISORY_DB_MAX_AGE_DAYS")
        .env_remove("CERTUS_ASSURANCE_SAMPLE_MODE")
        .env("CERTUS_ASSURANCE_TOOLS_BIN_DIR", data.join("no-tools"))
        .env("PATH", "/usr/bin:/bin");
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("certus runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A source tree with a planted fake AWS key (assembled at run time) that a `critical: 0` gate must catch.
fn tree_with_a_secret(dir: &Path) -> PathBuf {
    let src = dir.join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(
        src.join("settings.py"),
        format!("AWS_ACCESS_KEY_ID = \"AKIA{}\"\n", "QX4NT7RZ2M5WCJ3E"),
    )
    .unwrap();
    src
}

static CASE: AtomicUsize = AtomicUsize::new(0);

/// A fresh directory name under `dir` for one case.
fn fresh(dir: &Path, tag: &str) -> PathBuf {
    dir.join(format!(
        "{tag}-{}-{}",
        std::process::id(),
        CASE.fetch_add(1, Ordering::Relaxed)
    ))
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(
        &std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap()
}

/// A scan that ended in an error: exit 2, the job FAILED, and nothing in its bundle (if one was written) that
/// says passed, names thresholds breached, or records tools as selected.
fn assert_no_verdict(name: &str, out: &Output, bundle: &Path) -> Value {
    assert_eq!(
        out.status.code(),
        Some(2),
        "{name}: stdout {} stderr {}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let job: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{name}: no job record on stdout ({e}): {}",
            text(&out.stdout)
        )
    });
    assert_eq!(job["status"], "FAILED", "{name}");
    if bundle.join("summary.json").exists() {
        let summary = read_json(&bundle.join("summary.json"));
        assert_eq!(summary["passed"], false, "{name}");
        assert_eq!(summary["verdict"], "error", "{name}");
        assert_eq!(summary["threshold_violations"], json!([]), "{name}");
        assert_eq!(summary["tools"], json!([]), "{name}: a tool ran");
    }
    assert!(
        !bundle.join("manifest-info.json").exists(),
        "{name}: the bundle records a resolved profile"
    );
    assert!(
        !bundle.join("reports/sast").exists(),
        "{name}: a scanner wrote results"
    );
    job
}

#[test]
fn each_manifest_mistake_fails_the_scan_naming_the_field_or_tool() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let src = tree_with_a_secret(work.path());
    // name, manifest, what the error must name
    let cases: Vec<(&str, Value, Vec<&str>)> = vec![
        (
            "misspelt tool id",
            json!({"profiles": [{"name": "light", "tools": ["secret"], "thresholds": {"critical": 0}}]}),
            vec!["/profiles/0/tools/0: unknown tool id \"secret\"; did you mean \"secrets\"?"],
        ),
        (
            "misspelt thresholds key",
            json!({"profiles": [{"name": "light", "tools": ["secrets"], "tresholds": {"critical": 0}}]}),
            vec![
                "/profiles/0/tresholds: unknown field; did you mean \"thresholds\"?",
                "/profiles/0/thresholds: required",
            ],
        ),
        (
            "misspelt severity",
            json!({"profiles": [{"name": "light", "tools": ["secrets"], "thresholds": {"critcal": 0}}]}),
            vec!["/profiles/0/thresholds/critcal: unknown severity; did you mean \"critical\"?"],
        ),
        (
            "missing thresholds",
            json!({"profiles": [{"name": "light", "tools": ["secrets"]}]}),
            vec!["/profiles/0/thresholds: required"],
        ),
        (
            "wrong type (tools)",
            json!({"profiles": [{"name": "light", "tools": "secrets", "thresholds": {"critical": 0}}]}),
            vec!["/profiles/0/tools: must be an array of tool ids or tool objects, not a string"],
        ),
        (
            "wrong type (a limit)",
            json!({"profiles": [{"name": "light", "tools": ["secrets"], "thresholds": {"critical": "zero"}}]}),
            vec!["/profiles/0/thresholds/critical: must be a non-negative integer (a count), not a string"],
        ),
        (
            "unknown top-level field",
            json!({"owner": "appsec", "profiles": [{"name": "light", "tools": ["secrets"], "thresholds": {"critical": 0}}]}),
            vec!["/owner: unknown field; did you mean \"owners\"?"],
        ),
        (
            "a tool not installed",
            json!({"profiles": [{"name": "light", "tools": ["secrets", "bandit"], "thresholds": {"critical": 0}}]}),
            vec![
                "profile 'light' names tools that cannot run here: bandit (not installed",
                "CERTUS_ASSURANCE_TOOLS_BIN_DIR",
                "\"optional\": true",
            ],
        ),
        (
            "a profile of only unknown tools",
            json!({"profiles": [{"name": "light", "tools": ["zap-dast", "privacy"], "thresholds": {"critical": 0}}]}),
            vec![
                "/profiles/0/tools/0: unknown tool id \"zap-dast\"",
                "/profiles/0/tools/1: unknown tool id \"privacy\"",
            ],
        ),
    ];
    for (name, manifest, expected) in &cases {
        let dir = fresh(work.path(), "case");
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("m.json");
        std::fs::write(&file, serde_json::to_vec_pretty(manifest).unwrap()).unwrap();
        let bundle = dir.join("bundle");
        let out = certus(
            &[
                "scan",
                src.to_str().unwrap(),
                "--manifest",
                file.to_str().unwrap(),
                "--out",
                bundle.to_str().unwrap(),
                "--json",
            ],
            &data,
            &[],
        );
        let job = assert_no_verdict(name, &out, &bundle);
        let errors = job["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e.as_str().unwrap_or_default().to_string())
            .collect::<Vec<_>>()
            .join("\n");
        for needle in expected {
            assert!(
                errors.contains(needle),
                "{name}: {needle:?} not in {errors}"
            );
        }

        // The same check without scanning. A tool that is not installed is no fault of the manifest: it is
        // valid, and validate says what a scan here would meet.
        let validated = certus(
            &["manifest", "validate", file.to_str().unwrap()],
            &data,
            &[],
        );
        if *name == "a tool not installed" {
            assert_eq!(validated.status.code(), Some(0), "{name}");
            assert!(
                text(&validated.stdout).contains("note: on this machine: profile 'light' names tools that cannot run here: bandit"),
                "{}",
                text(&validated.stdout)
            );
        } else {
            assert_eq!(validated.status.code(), Some(2), "{name}");
            let said = text(&validated.stderr);
            for needle in expected {
                assert!(
                    said.contains(needle),
                    "validate, {name}: {needle:?} not in {said}"
                );
            }
        }
    }
}

#[test]
fn an_optional_tool_that_is_not_installed_is_reported_as_not_run() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let src = work.path().join("clean");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("main.py"), "print('hello')\n").unwrap();
    let file = work.path().join("m.json");
    std::fs::write(
        &file,
        json!({"profiles": [{"name": "light", "tools": ["secrets", {"id": "bandit", "optional": true}],
                             "thresholds": {"critical": 0}}]})
        .to_string(),
    )
    .unwrap();
    let bundle = work.path().join("bundle");
    let out = certus(
        &[
            "scan",
            src.to_str().unwrap(),
            "--manifest",
            file.to_str().unwrap(),
            "--out",
            bundle.to_str().unwrap(),
        ],
        &data,
        &[],
    );
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("bandit          not run (optional: not installed"),
        "{stdout}"
    );
    assert!(
        stdout.contains("verdict         PASSED (not run: bandit)"),
        "{stdout}"
    );
    let info = read_json(&bundle.join("manifest-info.json"));
    assert_eq!(info["tools_selected"], json!(["secrets"]));
    assert_eq!(info["tools_not_run"][0]["id"], "bandit");
    let summary = read_json(&bundle.join("summary.json"));
    assert_eq!(summary["verdict"], "passed");
    assert_eq!(summary["not_run"][0]["id"], "bandit");
    let report = std::fs::read_to_string(bundle.join("report.md")).unwrap();
    assert!(
        report.contains("| bandit | not run (optional: not installed"),
        "{report}"
    );
    assert!(report.contains("not run (optional): bandit."), "{report}");
}

#[test]
fn a_profile_without_a_gate_says_so() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let src = tree_with_a_secret(work.path());
    for thresholds in [json!("none"), json!({})] {
        let dir = fresh(work.path(), "gate");
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("m.json");
        std::fs::write(
            &file,
            json!({"profiles": [{"name": "light", "tools": ["secrets"], "thresholds": thresholds}]}).to_string(),
        )
        .unwrap();
        let bundle = dir.join("bundle");
        let out = certus(
            &[
                "scan",
                src.to_str().unwrap(),
                "--manifest",
                file.to_str().unwrap(),
                "--out",
                bundle.to_str().unwrap(),
            ],
            &data,
            &[],
        );
        let stdout = text(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{thresholds}: {stdout}");
        assert!(stdout.contains("thresholds      no gate"), "{stdout}");
        assert!(stdout.contains("secrets         critical 1"), "{stdout}");
        assert_eq!(read_json(&bundle.join("summary.json"))["gate"], "no gate");
        let report = std::fs::read_to_string(bundle.join("report.md")).unwrap();
        assert!(report.contains("**Thresholds:** no gate"), "{report}");
    }
}

#[test]
fn the_demo_sbom_only_profile_needs_an_advisory_database_and_then_finds_the_advisories() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let root = repo_root();
    let demo = root.join("examples/demo-app");
    let manifest = demo.join("certus-manifest.json");
    let advisories = root.join("examples/advisories");
    let scan = |tag: &str, env: &[(&str, &str)]| {
        let bundle = fresh(work.path(), tag);
        let out = certus(
            &[
                "scan",
                demo.to_str().unwrap(),
                "--manifest",
                manifest.to_str().unwrap(),
                "--profile",
                "sbom-only",
                "--out",
                bundle.to_str().unwrap(),
                "--json",
            ],
            &data,
            env,
        );
        (out, bundle)
    };

    // No database: the tool fails, the job is an error, the summary gives no verdict on dependencies.
    let (out, bundle) = scan("no-db", &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let job: Value = serde_json::from_slice(&out.stdout).unwrap();
    let errors = job["errors"].to_string();
    assert!(
        errors.contains("tool 'sbom' failed: no advisory database is configured")
            && errors.contains("CERTUS_ASSURANCE_ADVISORY_DB"),
        "{errors}"
    );
    let summary = read_json(&bundle.join("summary.json"));
    assert_eq!(
        (summary["passed"].clone(), summary["verdict"].clone()),
        (json!(false), json!("error"))
    );

    // With the demo's database: both pinned advisories, a breach of the profile's gate, and the database
    // recorded in the bundle.
    let db = advisories.to_str().unwrap();
    let (out, bundle) = scan("db", &[("CERTUS_ASSURANCE_ADVISORY_DB", db)]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let job: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(job["findings_summary"]["tools"]["sbom"]["critical"], 1);
    assert_eq!(job["findings_summary"]["tools"]["sbom"]["high"], 1);
    let sarif = read_json(&bundle.join("reports/sast/sbom.sarif.json"));
    let mut rules: Vec<String> = sarif["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["ruleId"].as_str().unwrap().to_string())
        .collect();
    rules.sort();
    assert_eq!(rules, vec!["CERTUS-DEMO-0001", "CERTUS-DEMO-0002"]);
    let record = read_json(&bundle.join("reports/sbom/advisory-database.json"));
    assert_eq!(record["matching"], "on");
    assert_eq!(record["snapshot_date"], "2026-12-04");
    assert!(record["digest"].as_str().unwrap().starts_with("sha256:"));
    let index = read_json(&bundle.join("bundle-index.json"));
    assert!(
        index["files"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["path"] == "reports/sbom/advisory-database.json"),
        "the record is indexed and attested"
    );

    // A maximum age the database is past fails the scan.
    let (out, _) = scan(
        "stale",
        &[
            ("CERTUS_ASSURANCE_ADVISORY_DB", db),
            ("CERTUS_ASSURANCE_ADVISORY_DB_MAX_AGE_DAYS", "1"),
        ],
    );
    let job: Value = serde_json::from_slice(&out.stdout).unwrap();
    let age = record["age_days"].as_i64().unwrap();
    if age > 1 {
        assert_eq!(out.status.code(), Some(2));
        assert!(
            job["errors"].to_string().contains("is stale"),
            "{}",
            job["errors"]
        );
    } else {
        println!("the demo database is {age} day(s) old: not stale yet");
    }
}

#[test]
fn the_demo_manifest_is_valid_and_its_default_profile_runs_with_built_in_scanners() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let root = repo_root();
    let manifest = root.join("examples/demo-app/certus-manifest.json");
    let validated = certus(
        &["manifest", "validate", manifest.to_str().unwrap()],
        &data,
        &[],
    );
    assert_eq!(
        validated.status.code(),
        Some(0),
        "{}",
        text(&validated.stderr)
    );
    let said = text(&validated.stdout);
    assert!(said.contains("valid manifest (4 profile(s))"), "{said}");
    assert!(!said.contains("note:"), "every profile runs here: {said}");

    let advisories = root.join("examples/advisories");
    let out = certus(
        &[
            "scan",
            root.join("examples/demo-app").to_str().unwrap(),
            "--manifest",
            manifest.to_str().unwrap(),
        ],
        &data,
        &[("CERTUS_ASSURANCE_ADVISORY_DB", advisories.to_str().unwrap())],
    );
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("semgrep         not run (optional"),
        "{stdout}"
    );
    assert!(stdout.contains("POLICY THRESHOLDS BREACHED"), "{stdout}");
}
