//! Offline advisory matching: the real RustSec snapshot and OSV records written by the test.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how it reports the unexpected

mod common;

use std::time::Instant;

use certus_sbom::{inventory, AdvisoryDb, Ecosystem, SbomError, Severity, VulnFinding};
use common::{shared_dir, write};

fn ids_for<'a>(findings: &'a [VulnFinding], purl: &str) -> Vec<&'a str> {
    findings
        .iter()
        .filter(|f| f.purl == purl)
        .map(|f| f.advisory_id.as_str())
        .collect()
}

const VULNERABLE_LOCK: &str = r#"version = 3

[[package]]
name = "app"
version = "0.1.0"
dependencies = ["smallvec 1.6.0", "time", "hyper"]

[[package]]
name = "smallvec"
version = "1.6.0"
source = "registry+https://github.com/rust-lang/crates.io-index"

[[package]]
name = "smallvec"
version = "1.6.1"
source = "registry+https://github.com/rust-lang/crates.io-index"

[[package]]
name = "time"
version = "0.1.45"
source = "registry+https://github.com/rust-lang/crates.io-index"

[[package]]
name = "hyper"
version = "0.14.9"
source = "registry+https://github.com/rust-lang/crates.io-index"
"#;

#[test]
fn rustsec_snapshot_loads_and_matches_known_vulnerable_versions() {
    let Some(shared) = shared_dir() else {
        return;
    };
    let started = Instant::now();
    let db = AdvisoryDb::load(&shared.join("data/rustsec-advisory-db")).unwrap();
    println!(
        "loaded {} RustSec advisories ({} withdrawn) in {:?}; unparsable files: {:?}",
        db.len(),
        db.skipped_count(),
        started.elapsed(),
        db.errors()
    );
    assert!(db.len() > 1100, "only {} advisories loaded", db.len());
    assert!(db.errors().is_empty(), "{:?}", db.errors());
    assert!(
        db.skipped_count() > 0,
        "the snapshot has withdrawn advisories"
    );
    assert!(db
        .advisories()
        .iter()
        .all(|a| a.ecosystem == Ecosystem::Cargo));

    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "Cargo.lock", VULNERABLE_LOCK);
    let findings = db.matches(&inventory(dir.path()).unwrap());

    let smallvec = ids_for(&findings, "pkg:cargo/smallvec@1.6.0");
    assert!(smallvec.contains(&"RUSTSEC-2021-0003"), "{smallvec:?}");
    let overflow = findings
        .iter()
        .find(|f| f.advisory_id == "RUSTSEC-2021-0003")
        .unwrap();
    assert_eq!(overflow.severity, Severity::Critical);
    assert_eq!(overflow.cvss_score, Some(9.8));
    assert_eq!(overflow.package, "smallvec");
    assert_eq!(overflow.version, "1.6.0");
    assert!(overflow.aliases.contains(&"CVE-2021-25900".to_string()));
    assert_eq!(
        overflow.fixed_versions,
        vec![">= 0.6.14, < 1.0.0", ">= 1.6.1"]
    );
    assert_eq!(overflow.source_files, vec!["Cargo.lock"]);
    assert_eq!(
        overflow.url.as_deref(),
        Some("https://github.com/servo/rust-smallvec/issues/252")
    );
    assert!(!overflow.title.is_empty() && !overflow.title.starts_with('#'));

    // The patched release must not match that advisory (nor any other smallvec one).
    assert_eq!(
        ids_for(&findings, "pkg:cargo/smallvec@1.6.1"),
        Vec::<&str>::new()
    );

    let time = ids_for(&findings, "pkg:cargo/time@0.1.45");
    assert!(time.contains(&"RUSTSEC-2020-0071"), "{time:?}");
    let segfault = findings
        .iter()
        .find(|f| f.advisory_id == "RUSTSEC-2020-0071")
        .unwrap();
    assert_eq!(segfault.severity, Severity::Medium, "CVSS 6.2");

    let hyper = ids_for(&findings, "pkg:cargo/hyper@0.14.9");
    assert!(hyper.contains(&"RUSTSEC-2021-0078"), "{hyper:?}");
    assert!(ids_for(&findings, "pkg:cargo/app@0.1.0").is_empty());
}

#[test]
fn rustsec_layout_written_by_test_handles_withdrawn_informational_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let advisory = |id: &str, extra: &str, versions: &str| {
        format!(
            "```toml\n[advisory]\nid = \"{id}\"\npackage = \"demo\"\ndate = \"2024-01-01\"\n{extra}\n\n[versions]\n{versions}\n```\n\n# Title of {id}\n\nBody.\n"
        )
    };
    write(
        dir.path(),
        "crates/demo/RUSTSEC-2024-0001.md",
        &advisory(
            "RUSTSEC-2024-0001",
            "cvss = \"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N\"",
            "patched = [\">= 1.2.0\"]\nunaffected = [\"< 1.0.0\"]",
        ),
    );
    write(
        dir.path(),
        "crates/demo/RUSTSEC-2024-0002.md",
        &advisory(
            "RUSTSEC-2024-0002",
            "informational = \"unmaintained\"",
            "patched = []",
        ),
    );
    write(
        dir.path(),
        "crates/demo/RUSTSEC-2024-0003.md",
        &advisory(
            "RUSTSEC-2024-0003",
            "withdrawn = \"2024-02-01\"",
            "patched = []",
        ),
    );
    write(
        dir.path(),
        "crates/demo/RUSTSEC-2024-0004.md",
        &advisory("RUSTSEC-2024-0004", "", "patched = [\"not a requirement\"]"),
    );
    write(
        dir.path(),
        "crates/demo/RUSTSEC-2024-0005.md",
        "# no front matter\n",
    );
    let db = AdvisoryDb::load(dir.path()).unwrap();
    assert_eq!(db.len(), 2);
    assert_eq!(db.skipped_count(), 1);
    let mut errors: Vec<String> = db.errors().iter().map(ToString::to_string).collect();
    errors.sort();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors[0].starts_with(
        "advisory crates/demo/RUSTSEC-2024-0004.md is not valid RustSec advisory: version requirement `not a requirement`"
    ));
    assert_eq!(
        errors[1],
        "advisory crates/demo/RUSTSEC-2024-0005.md is not valid RustSec advisory: no ```toml front matter block"
    );
    assert!(matches!(
        db.errors()[0],
        SbomError::MalformedAdvisory { .. }
    ));

    let project = tempfile::tempdir().unwrap();
    let lock = |version: &str| {
        format!("[[package]]\nname = \"demo\"\nversion = \"{version}\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n")
    };
    for (version, expected) in [
        ("0.9.0", vec!["RUSTSEC-2024-0002"]),
        ("1.1.9", vec!["RUSTSEC-2024-0001", "RUSTSEC-2024-0002"]),
        // A pre-release of a patched version is still below 1.2.0 and so vulnerable...
        ("1.2.0-rc.1", vec!["RUSTSEC-2024-0001", "RUSTSEC-2024-0002"]),
        ("1.2.0", vec!["RUSTSEC-2024-0002"]),
        // ...while one above it counts as patched although `semver` alone would refuse it.
        ("1.3.0-beta.1", vec!["RUSTSEC-2024-0002"]),
    ] {
        write(project.path(), "Cargo.lock", &lock(version));
        let findings = db.matches(&inventory(project.path()).unwrap());
        let ids: Vec<&str> = findings.iter().map(|f| f.advisory_id.as_str()).collect();
        assert_eq!(ids, expected, "demo {version}");
        let info = findings
            .iter()
            .find(|f| f.advisory_id == "RUSTSEC-2024-0002")
            .unwrap();
        assert_eq!(info.severity, Severity::Low);
        assert_eq!(info.informational.as_deref(), Some("unmaintained"));
        assert_eq!(info.title, "Title of RUSTSEC-2024-0002");
        assert_eq!(
            info.url.as_deref(),
            Some("https://rustsec.org/advisories/RUSTSEC-2024-0002.html")
        );
    }
    let high = db
        .advisories()
        .iter()
        .find(|a| a.id == "RUSTSEC-2024-0001")
        .unwrap();
    assert_eq!(high.severity, Severity::High, "CVSS 7.5");
}

fn osv_record(
    id: &str,
    ecosystem: &str,
    package: &str,
    affected_extra: &str,
    top_extra: &str,
) -> String {
    format!(
        r#"{{"schema_version":"1.6.0","id":"{id}","modified":"2024-01-01T00:00:00Z",
            "summary":"Problem in {package}","details":"Long text.","published":"2024-01-01T00:00:00Z","aliases":["CVE-2024-0001"],
            "references":[{{"type":"WEB","url":"https://example.invalid/web"}},
                          {{"type":"ADVISORY","url":"https://example.invalid/{id}"}}],
            "affected":[{{"package":{{"ecosystem":"{ecosystem}","name":"{package}"}}{affected_extra}}}]{top_extra}}}"#
    )
}

#[test]
fn osv_records_match_npm_pypi_go_and_cargo() {
    let advisories = tempfile::tempdir().unwrap();
    write(
        advisories.path(),
        "npm/GHSA-aaaa.json",
        &osv_record(
            "GHSA-aaaa",
            "npm",
            "@scope/pkg",
            r#","ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"2.0.1"},{"introduced":"3.0.0"},{"last_affected":"3.1.0"}]}]"#,
            r#","severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}]"#,
        ),
    );
    write(
        advisories.path(),
        "pypi/PYSEC-1.json",
        &osv_record(
            "PYSEC-1",
            "PyPI",
            "Django",
            r#","ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"4.2a1"},{"fixed":"4.2.8"}]}],"versions":["4.1.0"]"#,
            r#","database_specific":{"severity":"MODERATE"}"#,
        ),
    );
    write(
        advisories.path(),
        "go/GO-1.json",
        &osv_record(
            "GO-2024-0001",
            "Go",
            "github.com/gorilla/mux",
            r#","ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.8.1"}]}]"#,
            r#","severity":[{"type":"CVSS_V4","score":"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:L/VI:N/VA:N/SC:N/SI:N/SA:N"}]"#,
        ),
    );
    write(
        advisories.path(),
        "cargo/RUSTSEC-OSV.json",
        &osv_record(
            "RUSTSEC-2099-0001",
            "crates.io",
            "demo",
            r#","versions":["0.1.0"],"database_specific":{"informational":"unsound"}"#,
            "",
        ),
    );
    write(
        advisories.path(),
        "withdrawn.json",
        &osv_record(
            "GHSA-gone",
            "npm",
            "@scope/pkg",
            r#","versions":["1.0.0"]"#,
            r#","withdrawn":"2024-02-02T00:00:00Z""#,
        ),
    );
    write(
        advisories.path(),
        "other.json",
        &osv_record(
            "DEBIAN-1",
            "Debian:12",
            "openssl",
            r#","versions":["1.0.0"]"#,
            "",
        ),
    );
    write(advisories.path(), "broken.json", "{\"id\": 5");
    write(
        advisories.path(),
        "bad-range.json",
        &osv_record(
            "GHSA-bad",
            "npm",
            "x",
            r#","ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"not-a-version!"}]}]"#,
            "",
        ),
    );
    let db = AdvisoryDb::load(advisories.path()).unwrap();
    assert_eq!(db.len(), 4);
    assert_eq!(db.skipped_count(), 2, "withdrawn + other ecosystem");
    let errors: Vec<String> = db.errors().iter().map(ToString::to_string).collect();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors.iter().any(|e| e.starts_with(
        "advisory bad-range.json is not valid OSV JSON: range version `not-a-version!`"
    )));
    assert!(errors
        .iter()
        .any(|e| e.starts_with("advisory broken.json is not valid OSV JSON:")));

    let project = tempfile::tempdir().unwrap();
    write(
        project.path(),
        "package-lock.json",
        r#"{"lockfileVersion":3,"packages":{
            "node_modules/@scope/pkg":{"version":"2.0.0"},
            "node_modules/a/node_modules/@scope/pkg":{"version":"2.0.1"},
            "node_modules/b/node_modules/@scope/pkg":{"version":"3.1.0"},
            "node_modules/c/node_modules/@scope/pkg":{"version":"3.1.1"}}}"#,
    );
    write(
        project.path(),
        "requirements.txt",
        "django==4.2.7\nDjango-Other==1.0\n",
    );
    write(
        project.path(),
        "py2/requirements.txt",
        "DJANGO==4.2.8\ndjango==4.1\n",
    );
    write(project.path(), "py3/requirements.txt", "django==4.2rc1\n");
    write(
        project.path(),
        "go.mod",
        "module m\n\nrequire (\n\tgithub.com/gorilla/mux v1.8.0\n)\n",
    );
    write(
        project.path(),
        "Cargo.lock",
        "[[package]]\nname = \"demo\"\nversion = \"0.1.0\"\nsource = \"registry+x\"\n",
    );
    let findings = db.matches(&inventory(project.path()).unwrap());
    let summary: Vec<(String, String)> = findings
        .iter()
        .map(|f| (f.purl.clone(), f.advisory_id.clone()))
        .collect();
    let expected: Vec<(String, String)> = [
        ("pkg:cargo/demo@0.1.0", "RUSTSEC-2099-0001"),
        ("pkg:golang/github.com/gorilla/mux@v1.8.0", "GO-2024-0001"),
        ("pkg:npm/%40scope/pkg@2.0.0", "GHSA-aaaa"),
        ("pkg:npm/%40scope/pkg@3.1.0", "GHSA-aaaa"),
        ("pkg:pypi/django@4.1", "PYSEC-1"),
        ("pkg:pypi/django@4.2.7", "PYSEC-1"),
        ("pkg:pypi/django@4.2rc1", "PYSEC-1"),
    ]
    .iter()
    .map(|(p, i)| (p.to_string(), i.to_string()))
    .collect();
    assert_eq!(summary, expected);

    let npm = &findings[2];
    assert_eq!(npm.severity, Severity::Critical);
    assert_eq!(
        npm.url.as_deref(),
        Some("https://example.invalid/GHSA-aaaa")
    );
    assert_eq!(npm.fixed_versions, vec!["2.0.1"]);
    assert_eq!(npm.title, "Problem in @scope/pkg");
    let record = db
        .advisories()
        .iter()
        .find(|a| a.id == "GHSA-aaaa")
        .unwrap();
    assert_eq!(record.description, "Long text.");
    assert_eq!(record.date.as_deref(), Some("2024-01-01T00:00:00Z"));
    assert_eq!(record.aliases, vec!["CVE-2024-0001"]);
    let django = &findings[5];
    assert_eq!(django.severity, Severity::Medium);
    assert_eq!(django.cvss_score, None);
    assert_eq!(django.package, "django");
    let go = &findings[1];
    assert_eq!(
        go.severity,
        Severity::Medium,
        "CVSS v4 score {:?}",
        go.cvss_score
    );
    assert_eq!(findings[0].severity, Severity::Low);
    assert_eq!(findings[0].informational.as_deref(), Some("unsound"));
}

#[test]
fn missing_advisory_directory_is_an_error() {
    let error = AdvisoryDb::load(std::path::Path::new("/nonexistent/advisories")).unwrap_err();
    assert!(matches!(error, SbomError::NotADirectory { .. }));
    assert_eq!(
        error.to_string(),
        "/nonexistent/advisories is not a readable directory"
    );
}

#[test]
fn the_identity_of_a_database_follows_its_files_without_reading_them() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "osv/A-1.json", "{\"id\": \"A-1\"}");
    write(dir.path(), ".git/HEAD", "ref: main\n");
    let first = AdvisoryDb::identity(dir.path()).unwrap();
    assert_eq!(first.len(), 64);
    assert_eq!(AdvisoryDb::identity(dir.path()).unwrap(), first);
    // What the loader skips does not count.
    write(dir.path(), ".git/HEAD", "ref: other\n");
    assert_eq!(AdvisoryDb::identity(dir.path()).unwrap(), first);
    // Rewriting an advisory (a new inode and times), even with the same bytes, gives another identity.
    let path = dir.path().join("osv/A-1.json");
    std::fs::write(dir.path().join("staged"), "{\"id\": \"A-1\"}").unwrap();
    std::fs::rename(dir.path().join("staged"), &path).unwrap();
    let rewritten = AdvisoryDb::identity(dir.path()).unwrap();
    assert_ne!(rewritten, first);
    write(dir.path(), "osv/A-2.json", "{\"id\": \"A-2\"}");
    assert_ne!(AdvisoryDb::identity(dir.path()).unwrap(), rewritten);
    assert!(matches!(
        AdvisoryDb::identity(&dir.path().join("absent")),
        Err(SbomError::NotADirectory { .. })
    ));
}
