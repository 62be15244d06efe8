//! Hostile inputs through the real pipeline (`pipeline::run` with the embedded adapters), each of which must
//! end the job with a clear reason and nothing read or written outside the run: repositories whose checked-out
//! symlinks point outside, archives with deep trees, huge files and too many members, manifests that are huge,
//! deeply nested, not UTF-8, with duplicate keys or tool ids carrying arguments, manifest URIs aimed at
//! loopback, link-local, private and CGNAT addresses, and tool output that is malformed or enormous (a real
//! process standing in for the tool).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how it reports the unexpected

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use certus_core::bundle::{check_index, read_index};
use certus_core::event::{Event, EventBody};
use certus_core::job::{Job, JobStatus};
use certus_core::pipeline::{self, ScannerSet};
use certus_core::ports::EventLog;
use certus_core::request::{
    ManifestSource, ScanIds, SignatureSource, SourceSpec, ValidatedSubmission,
};
use certus_core::verification::SignaturePolicy;
use certus_integration::{git_repo, harness, run, Harness};
use certus_scanners::{ExternalScanner, SbomScanner, SecretsScanner};
use certus_source::{ArchiveLimits, GitPolicy, LocalSourcePreparer, SourcePolicy};
use certus_tools::ToolId;
use serde_json::json;

fn submission(source: SourceSpec, manifest: ManifestSource) -> ValidatedSubmission {
    ValidatedSubmission {
        ids: ScanIds {
            workspace_id: "ws".into(),
            component_id: "hostile".into(),
            assessment_id: "a1".into(),
        },
        source,
        manifest,
        signature: None,
        profile: "light".into(),
        requested_by: Some("hostile-inputs".into()),
        baseline: None,
        full_scan: false,
    }
}

fn inline(tools: serde_json::Value) -> ManifestSource {
    ManifestSource::Inline(json!({
        "product": "p", "version": "1",
        "profiles": [{"name": "light", "tools": tools, "thresholds": {}}],
    }))
}

async fn scan(h: &Harness, sub: ValidatedSubmission) -> (Job, Vec<Event>) {
    let queued = pipeline::submit(&h.services.records(), sub).await.unwrap();
    let job = pipeline::run(&h.services, &queued.test_id).await.unwrap();
    assert!(job.status.is_terminal());
    let history = h.store.history(&job.test_id, 0).await.unwrap();
    assert_eq!(
        history.iter().filter(|e| e.body.is_terminal()).count(),
        1,
        "one scan_complete"
    );
    assert!(
        !h.dir.path().join("runs").join(&job.test_id).exists(),
        "the run's workspace was removed"
    );
    if let Some(bundle) = &job.bundle_location {
        let dir = Path::new(bundle);
        assert!(check_index(dir, &read_index(dir).unwrap())
            .unwrap()
            .is_empty());
    }
    (job, history)
}

fn tools_started(history: &[Event]) -> usize {
    history
        .iter()
        .filter(|e| matches!(e.body, EventBody::ToolStart { .. }))
        .count()
}

fn secrets_and_sbom(advisories: Option<PathBuf>) -> ScannerSet {
    ScannerSet::new(vec![
        Arc::new(SecretsScanner::new(None)),
        Arc::new(SbomScanner {
            advisory_db: advisories,
            max_age_days: None,
            ..SbomScanner::default()
        }),
    ])
}

/// A GitHub-token-shaped fake, assembled at run time so no secret-shaped literal is committed.
fn fake_token() -> String {
    format!("ghp_{}", "Zq7Xw2Rt9Lm4".repeat(3))
}

fn sarif_results(job: &Job, tool: &str) -> Vec<serde_json::Value> {
    let bundle = PathBuf::from(job.bundle_location.clone().unwrap());
    let sarif: serde_json::Value = serde_json::from_slice(
        &std::fs::read(bundle.join(format!("reports/sast/{tool}.sarif.json"))).unwrap(),
    )
    .unwrap();
    sarif["runs"][0]["results"].as_array().cloned().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn symlinks_in_a_cloned_repository_are_not_followed_out() {
    let work = tempfile::tempdir().unwrap();
    // Outside the repository: a file with a secret and a lockfile the scanners must never see.
    let outside = work.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(
        outside.join("credentials.env"),
        format!("GITHUB_TOKEN={}\n", fake_token()),
    )
    .unwrap();
    std::fs::write(
        outside.join("Cargo.lock"),
        "version = 3\n\n[[package]]\nname = \"outside-only-crate\"\nversion = \"0.1.0\"\n",
    )
    .unwrap();

    // Control: scanned directly, the outside directory does yield the secret and the package.
    let control = harness(SignaturePolicy::default(), secrets_and_sbom(None));
    let (job, _) = scan(
        &control,
        submission(
            SourceSpec::Directory {
                directory_path: outside.display().to_string(),
            },
            inline(json!(["secrets", {"id": "sbom", "config": {"advisories": "off"}}])),
        ),
    )
    .await;
    assert_eq!(
        sarif_results(&job, "secrets").len(),
        1,
        "control finds the secret"
    );
    let sbom = std::fs::read_to_string(
        Path::new(job.bundle_location.as_deref().unwrap()).join("reports/sbom/sbom.cyclonedx.json"),
    )
    .unwrap();
    assert!(
        sbom.contains("outside-only-crate"),
        "control sees the package"
    );

    // The repository: links to the outside directory (absolute and relative), to /etc, and to a file.
    let repo = work.path().join("repo");
    git_repo(&repo, &[("main.py", "print('hi')\n")]);
    let links: [(&str, PathBuf); 5] = [
        ("abs-outside", outside.clone()),
        ("rel-outside", PathBuf::from("../outside")),
        ("etc", PathBuf::from("/etc")),
        ("up", PathBuf::from("../../../../../../../../..")),
        ("creds.env", outside.join("credentials.env")),
    ];
    for (name, target) in &links {
        std::os::unix::fs::symlink(target, repo.join(name)).unwrap();
    }
    certus_integration::git(&repo, &["add", "-A"]);
    certus_integration::git(&repo, &["commit", "-q", "-m", "links out"]);

    let h = harness(SignaturePolicy::default(), secrets_and_sbom(None));
    let (job, history) = scan(
        &h,
        submission(
            SourceSpec::Git {
                git_url: repo.display().to_string(),
                branch: Some("main".into()),
                commit: None,
                git_credentials_ref: None,
            },
            inline(json!(["secrets", {"id": "sbom", "config": {"advisories": "off"}}])),
        ),
    )
    .await;
    assert_eq!(tools_started(&history), 2);
    let results = sarif_results(&job, "secrets");
    assert!(
        results.is_empty(),
        "secrets read through a link: {results:?}"
    );
    let bundle = PathBuf::from(job.bundle_location.clone().unwrap());
    let everything = leaks_of(&bundle, &["outside-only-crate", "root:x:0:0"]);
    assert!(
        everything.is_empty(),
        "outside content in the bundle: {everything:?}"
    );
}

/// Bundle files that contain any of `needles`.
fn leaks_of(dir: &Path, needles: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
                for needle in needles {
                    if text.contains(needle) {
                        found.push(format!("{}: {needle}", path.display()));
                    }
                }
            }
        }
    }
    found
}

fn small_limits(h: &mut Harness) {
    h.services.sources = Some(Arc::new(LocalSourcePreparer::new(SourcePolicy {
        git: GitPolicy::default(),
        archive: ArchiveLimits {
            max_total_bytes: 1024 * 1024,
            max_entries: 100,
            max_depth: 16,
            max_ratio: 200,
        },
        allowed_roots: None,
    })));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_archives_fail_the_job_clearly_and_write_nothing_outside() {
    let work = tempfile::tempdir().unwrap();
    let build = work.path().join("build");
    // A tree 40 directories deep.
    let deep = build.join("deep");
    let mut leaf = deep.clone();
    for _ in 0..40 {
        leaf = leaf.join("d");
    }
    std::fs::create_dir_all(&leaf).unwrap();
    std::fs::write(leaf.join("bottom.txt"), "deep").unwrap();
    // One 3 MiB file (over a 1 MiB total).
    let huge = build.join("huge");
    std::fs::create_dir_all(&huge).unwrap();
    let mut f = std::fs::File::create(huge.join("big.bin")).unwrap();
    f.write_all(&vec![b'a'; 3 * 1024 * 1024]).unwrap();
    // 500 small members (over a 100-member cap).
    let many = build.join("many");
    std::fs::create_dir_all(&many).unwrap();
    for i in 0..500 {
        std::fs::write(many.join(format!("f{i}.txt")), "x").unwrap();
    }

    let archives = work.path().join("archives");
    std::fs::create_dir_all(&archives).unwrap();
    let tar = |name: &str, dir: &str, flags: &str| {
        let out = archives.join(name);
        run(std::process::Command::new("tar")
            .arg(flags)
            .arg(&out)
            .arg("-C")
            .arg(&build)
            .arg(dir));
        out
    };
    let zip = |name: &str, dir: &str| {
        let out = archives.join(name);
        run(std::process::Command::new("zip")
            .current_dir(&build)
            .args(["-qr"])
            .arg(&out)
            .arg(dir));
        out
    };
    let cases = [
        (tar("deep.tar", "deep", "-cf"), "deeper than"),
        (tar("huge.tgz", "huge", "-czf"), "archive refused"),
        (zip("huge.zip", "huge"), "archive refused"),
        (tar("many.tar", "many", "-cf"), "more than 100 members"),
        (zip("many.zip", "many"), "more than 100 members"),
    ];
    let mut refused = 0;
    for (archive, reason) in &cases {
        let mut h = harness(SignaturePolicy::default(), secrets_and_sbom(None));
        small_limits(&mut h);
        let (job, history) = scan(
            &h,
            submission(
                SourceSpec::Archive {
                    archive_path: archive.display().to_string(),
                },
                inline(json!(["secrets"])),
            ),
        )
        .await;
        let errors = job.errors.join("; ");
        assert_eq!(job.status, JobStatus::Failed, "{}", archive.display());
        assert!(
            errors.contains(reason),
            "{}: expected '{reason}' in: {errors}",
            archive.display()
        );
        assert_eq!(
            tools_started(&history),
            0,
            "no scanner ran on a refused archive"
        );
        // Nothing beside the archives appeared, and nothing outside the data directory's runs.
        let beside: Vec<_> = std::fs::read_dir(&archives).unwrap().collect();
        assert_eq!(beside.len(), cases.len());
        refused += 1;
    }
    assert_eq!(refused, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_manifests_fail_before_any_scanner_starts() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("main.py"), "print('hi')\n").unwrap();
    let mut huge = br#"{"product":"p","annotations":{"pad":""#.to_vec();
    huge.extend(std::iter::repeat_n(b'a', 1024 * 1024));
    huge.extend(br#""},"profiles":[{"name":"light","tools":["secrets"]}]}"#);
    let nested = format!(
        r#"{{"product":"p","profiles":[{{"name":"light","tools":[{{"id":"secrets","config":{}1{}}}]}}]}}"#,
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let mut not_utf8 = br#"{"product":"p"#.to_vec();
    not_utf8.extend([0xff, 0xfe, 0xc3, 0x28]);
    not_utf8.extend(br#"","profiles":[{"name":"light","tools":["secrets"]}]}"#);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("huge", huge, "larger than the limit"),
        ("nested", nested.into_bytes(), "recursion limit"),
        ("not-utf8", not_utf8, "not UTF-8"),
        (
            "duplicate",
            br#"{"product":"p","profiles":[{"name":"light","tools":["secrets"]}],"profiles":[{"name":"light","tools":["sbom"]}]}"#.to_vec(),
            "duplicate field",
        ),
        (
            "option-injection",
            br#"{"profiles":[{"name":"light","tools":["--config=/etc/passwd"]}]}"#.to_vec(),
            "unknown tool id",
        ),
        (
            "shell-injection",
            br#"{"profiles":[{"name":"light","tools":["secrets; touch /tmp/certus-pwned"]}]}"#.to_vec(),
            "unknown tool id",
        ),
        (
            "object-injection",
            br#"{"profiles":[{"name":"light","tools":[{"id":"secrets --no-verify"}]}]}"#.to_vec(),
            "unknown tool id",
        ),
        (
            "path-tool",
            br#"{"profiles":[{"name":"light","tools":["../../bin/sh"]}]}"#.to_vec(),
            "unknown tool id",
        ),
        (
            "unknown-profile",
            br#"{"profiles":[{"name":"heavy-custom","tools":["secrets"],"thresholds":{}}]}"#.to_vec(),
            "manifest profile 'light' not found. Available profiles: heavy-custom",
        ),
        ("not-an-object", b"[1,2,3]".to_vec(), "must be a JSON object"),
    ];
    for (name, bytes, _) in &cases {
        std::fs::write(src.join(format!("{name}.json")), bytes).unwrap();
    }
    for (name, _, reason) in &cases {
        let h = harness(SignaturePolicy::default(), secrets_and_sbom(None));
        let (job, history) = scan(
            &h,
            submission(
                SourceSpec::Directory {
                    directory_path: src.display().to_string(),
                },
                ManifestSource::RepoPath(format!("{name}.json")),
            ),
        )
        .await;
        let errors = job.errors.join("; ");
        assert_eq!(job.status, JobStatus::Failed, "{name}");
        assert!(
            errors.contains(reason),
            "{name}: expected '{reason}' in: {errors}"
        );
        assert!(
            errors.len() < 4096,
            "{name}: the reason is not an echo of the input"
        );
        assert_eq!(tools_started(&history), 0, "{name}: a scanner started");
    }
    assert!(!Path::new("/tmp/certus-pwned").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manifest_uris_aimed_at_internal_addresses_are_refused_without_a_connection() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("main.py"), "print('hi')\n").unwrap();
    let uris = [
        format!("https://127.0.0.1:{port}/m.json"),
        format!("https://localhost:{port}/m.json"),
        format!("https://[::1]:{port}/m.json"),
        format!("https://[::ffff:127.0.0.1]:{port}/m.json"),
        format!("https://0.0.0.0:{port}/m.json"),
        format!("https://2130706433:{port}/m.json"),
        "https://169.254.169.254/latest/meta-data/iam/security-credentials/".to_string(),
        "https://[fd00:ec2::254]/latest/meta-data/".to_string(),
        "https://10.0.0.1/m.json".to_string(),
        "https://192.168.1.1/m.json".to_string(),
        "https://100.64.0.1/m.json".to_string(),
        format!("oci://127.0.0.1:{port}/repo/manifest:latest"),
    ];
    for uri in &uris {
        let mut h = harness(SignaturePolicy::default(), secrets_and_sbom(None));
        h.services.fetcher = Some(Arc::new(
            certus_fetch::RemoteFetcher::new(certus_fetch::FetchPolicy::default()).unwrap(),
        ));
        let mut sub = submission(
            SourceSpec::Directory {
                directory_path: dir.path().display().to_string(),
            },
            ManifestSource::Uri(uri.clone()),
        );
        sub.signature = Some(SignatureSource::Uri(format!("{uri}.sig")));
        let (job, history) = scan(&h, sub).await;
        let errors = job.errors.join("; ");
        assert_eq!(job.status, JobStatus::Failed, "{uri}");
        assert!(
            errors.contains("refusing to connect")
                || errors.contains("invalid URI")
                || errors.contains("not allowed"),
            "{uri}: {errors}"
        );
        assert_eq!(tools_started(&history), 0, "{uri}");
        assert!(
            listener.accept().is_err(),
            "{uri}: a connection reached the loopback listener"
        );
    }
}

/// A stand-in for bandit: a real executable that answers `--version` and otherwise runs `payload`.
fn fake_bandit(dir: &Path, payload: &str) -> ExternalScanner {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let script = bin.join("bandit");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nif [ \"$1\" = \"--version\" ]; then echo 'bandit 1.7.10'; exit 0; fi\n{payload}\n"
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    ExternalScanner::locate(ToolId::Bandit, Some(&bin)).expect("fake bandit found")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_or_enormous_tool_output_fails_the_tool_not_the_service() {
    let src = tempfile::tempdir().unwrap();
    std::fs::write(src.path().join("main.py"), "password = 'x'\n").unwrap();
    let cases = [
        ("garbage", "echo 'this is not JSON at all'"),
        ("truncated", "printf '{\"results\": [{\"filename\": \"main.py\", '"),
        ("binary", "head -c 4096 /dev/urandom"),
        (
            "deep",
            "python3 -c \"import sys; sys.stdout.write('['*200000 + ']'*200000)\"",
        ),
        (
            "enormous",
            "head -c 40000000 /dev/zero | tr '\\000' 'x'",
        ),
        (
            "hostile-paths",
            "printf '{\"results\":[{\"filename\":\"/etc/passwd\",\"test_id\":\"B1\",\"issue_severity\":\"HIGH\",\"issue_confidence\":\"HIGH\",\"issue_text\":\"t\",\"line_number\":1},{\"filename\":\"../../../etc/shadow\",\"test_id\":\"B1\",\"issue_severity\":\"HIGH\",\"issue_confidence\":\"HIGH\",\"issue_text\":\"t\",\"line_number\":1}],\"errors\":[]}'",
        ),
    ];
    for (name, payload) in cases {
        let tools = tempfile::tempdir().unwrap();
        let h = harness(
            SignaturePolicy::default(),
            ScannerSet::new(vec![Arc::new(fake_bandit(tools.path(), payload))]),
        );
        let (job, history) = scan(
            &h,
            submission(
                SourceSpec::Directory {
                    directory_path: src.path().display().to_string(),
                },
                inline(json!(["bandit"])),
            ),
        )
        .await;
        assert_eq!(tools_started(&history), 1, "{name}");
        let errors = job.errors.join("; ");
        if name == "hostile-paths" {
            // Parsable, but findings outside the scanned root are dropped, never reported.
            let results = sarif_results(&job, "bandit");
            assert!(results.is_empty(), "{name}: {results:?}");
            let text = serde_json::to_string(&history).unwrap();
            assert!(text.contains("dropped"), "{name}: the drop is not reported");
        } else {
            assert_eq!(job.status, JobStatus::Failed, "{name}");
            assert!(errors.contains("tool 'bandit' failed"), "{name}: {errors}");
            assert!(
                errors.len() < 8192,
                "{name}: error echoes the output ({} bytes)",
                errors.len()
            );
        }
    }
}

/// W3 of the 2026-12 red-team: a manifest (signed for one product, with a lenient profile) replayed for
/// another workspace, component, repository or after its expiry, or with a profile it does not permit, is
/// refused before any scanner starts, naming the `appliesTo` field; inside its bounds it scans as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manifest_used_outside_what_it_applies_to_is_refused_before_any_scanner_starts() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("src");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("requirements.txt"), "flask==2.0.0\n").unwrap();
    let repo = work.path().join("repo");
    git_repo(&repo, &[("requirements.txt", "flask==2.0.0\n")]);
    let directory = SourceSpec::Directory {
        directory_path: dir.display().to_string(),
    };
    let git = SourceSpec::Git {
        git_url: repo.display().to_string(),
        branch: Some("main".into()),
        commit: None,
        git_credentials_ref: None,
    };
    let bound = |applies_to: serde_json::Value| {
        ManifestSource::Inline(json!({
            "product": "payments", "version": "1", "appliesTo": applies_to,
            "profiles": [{"name": "light", "tools": [{"id": "sbom", "config": {"advisories": "off"}}],
                          "thresholds": {}},
                         {"name": "strict", "tools": [{"id": "sbom", "config": {"advisories": "off"}}],
                          "thresholds": {"critical": 0}}],
        }))
    };
    let cases = [
        (
            &directory,
            json!({"workspaces": ["ws-acme"]}),
            Some("/appliesTo/workspaces"),
        ),
        (
            &directory,
            json!({"components": ["payments"]}),
            Some("/appliesTo/components"),
        ),
        (
            &directory,
            json!({"notAfter": "2020-01-31"}),
            Some("/appliesTo/notAfter"),
        ),
        (
            &directory,
            json!({"repositories": ["**/repo"]}),
            Some("/appliesTo/repositories"),
        ),
        (
            &git,
            json!({"repositories": ["github.com/acme/*"]}),
            Some("/appliesTo/repositories"),
        ),
        // The caller asks for `light`; the manifest permits only `strict`.
        (
            &directory,
            json!({"profiles": ["strict"]}),
            Some("/appliesTo/profiles"),
        ),
        (
            &directory,
            json!({"workspaces": ["ws"], "components": ["hostile"], "notAfter": "2999-12-31"}),
            None,
        ),
        (&directory, json!({"profiles": ["strict", "LIGHT"]}), None),
        (
            &git,
            json!({"repositories": ["**/repo"], "workspaces": ["ws"]}),
            None,
        ),
    ];
    for (source, applies_to, refused) in cases {
        let h = harness(SignaturePolicy::default(), secrets_and_sbom(None));
        let (job, history) = scan(&h, submission(source.clone(), bound(applies_to.clone()))).await;
        let errors = job.errors.join("; ");
        match refused {
            Some(field) => {
                assert_eq!(job.status, JobStatus::Failed, "{applies_to}: {errors}");
                assert!(errors.contains(field), "{applies_to}: {errors}");
                assert_eq!(tools_started(&history), 0, "{applies_to}");
            }
            None => {
                assert_eq!(job.status, JobStatus::Succeeded, "{applies_to}: {errors}");
                assert_eq!(tools_started(&history), 1, "{applies_to}");
            }
        }
    }
}
