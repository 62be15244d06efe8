//! The `certus` binary as a user runs it: exit codes, the summary and JSON record, the manifest tools, and a
//! bundle whose index is checked independently with `sha256sum`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how it reports the unexpected

use std::path::{Path, PathBuf};
use std::process::Command;

mod common;
use common::certus;

fn sh(dir: &Path, script: &str) -> String {
    let out = Command::new("sh")
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn repo_with(dir: &Path, lock: &str, manifest: &str) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("requirements.txt"), lock).unwrap();
    std::fs::write(dir.join("certus.json"), manifest).unwrap();
    sh(
        dir,
        "git init -q -b main && git add -A && git -c user.name=t -c user.email=t@example.invalid -c commit.gpgsign=false commit -qm init",
    );
}

/// Matches dependencies against an advisory database (which the scan must be given).
const MANIFEST: &str =
    r#"{"product":"p","profiles":[{"name":"light","tools":["sbom"],"thresholds":{"high":0}}]}"#;
/// The dependency inventory only: advisory matching explicitly off.
const INVENTORY_ONLY: &str = r#"{"product":"p","profiles":[{"name":"light","tools":[{"id":"sbom","config":{"advisories":"off"}}],"thresholds":{"high":0}}]}"#;

#[test]
fn scan_of_a_git_repository_exits_0_and_writes_a_bundle_that_sha256sum_agrees_with() {
    let work = tempfile::tempdir().unwrap();
    let repo = work.path().join("repo");
    repo_with(&repo, "flask==2.0.0\n", INVENTORY_ONLY);
    let head = sh(&repo, "git rev-parse HEAD");
    let out_dir = work.path().join("bundle");
    let data = work.path().join("data");
    let out = certus(
        &[
            "scan",
            repo.to_str().unwrap(),
            "--manifest",
            repo.join("certus.json").to_str().unwrap(),
            "--out",
            out_dir.to_str().unwrap(),
            "--json",
        ],
        &data,
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let job: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(job["status"], "SUCCEEDED");
    assert_eq!(job["source_type"], "git");
    assert_eq!(job["commit"], head.as_str());
    assert!(job["test_id"].as_str().unwrap().starts_with("test_"));

    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("bundle-index.json")).unwrap()).unwrap();
    let mut checklist = String::new();
    for entry in index["files"].as_array().unwrap() {
        checklist.push_str(&format!(
            "{}  {}\n",
            entry["sha256"].as_str().unwrap(),
            entry["path"].as_str().unwrap()
        ));
    }
    std::fs::write(work.path().join("SHA256SUMS"), checklist).unwrap();
    let check = sh(
        &out_dir,
        &format!("sha256sum -c {}", work.path().join("SHA256SUMS").display()),
    );
    assert!(
        check.contains("scan.json: OK") && !check.contains("FAILED"),
        "{check}"
    );
    let listed = index["files"].as_array().unwrap().len();
    let on_disk = sh(&out_dir, "find . -type f ! -name bundle-index.json | wc -l");
    assert_eq!(on_disk, listed.to_string());

    // The job is in the embedded database, which sqlite tooling can open.
    assert!(data.join("certus.db").is_file());
}

#[test]
fn threshold_breach_exits_1_and_errors_exit_2() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let db = work.path().join("advisories");
    std::fs::create_dir_all(&db).unwrap();
    std::fs::write(
        db.join("A-1.json"),
        r#"{"id":"A-1","summary":"x","affected":[{"package":{"ecosystem":"PyPI","name":"flask"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"2.2.5"}]}]}],"database_specific":{"severity":"HIGH"}}"#,
    )
    .unwrap();
    let src = work.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("requirements.txt"), "flask==2.0.0\n").unwrap();
    std::fs::write(work.path().join("m.json"), MANIFEST).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_certus"))
        .args([
            "scan",
            src.to_str().unwrap(),
            "--manifest",
            work.path().join("m.json").to_str().unwrap(),
        ])
        .env("CERTUS_ASSURANCE_ARTIFACT_ROOT", &data)
        .env("CERTUS_ASSURANCE_ADVISORY_DB", &db)
        .env("CERTUS_ASSURANCE_TOOLS_BIN_DIR", data.join("no-tools"))
        .env("PATH", "/usr/bin:/bin")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("high findings exceeded threshold (1 > 0)"),
        "{stdout}"
    );
    assert!(stdout.contains("POLICY THRESHOLDS BREACHED"));

    let missing = certus(
        &[
            "scan",
            src.to_str().unwrap(),
            "--manifest",
            "/nonexistent.json",
        ],
        &data,
    );
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent.json"));

    let required = certus(
        &[
            "scan",
            src.to_str().unwrap(),
            "--manifest",
            work.path().join("m.json").to_str().unwrap(),
            "--require-signature",
        ],
        &data,
    );
    assert_eq!(required.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&required.stderr).contains("no verification key is configured"));
}

#[test]
fn manifest_digest_canonical_form_and_verification() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let m = work.path().join("m.json");
    std::fs::write(
        &m,
        "{ \"profiles\": [ {\"name\": \"light\", \"tools\": [\"sample\"], \"thresholds\": {}} ],\n  \"product\": \"p\" }\n",
    )
    .unwrap();

    let digest = certus(&["manifest", "digest", m.to_str().unwrap()], &data);
    let expected = sh(work.path(), "sha256sum m.json | cut -d' ' -f1");
    assert_eq!(String::from_utf8_lossy(&digest.stdout).trim(), expected);

    let canonical = certus(&["manifest", "canonicalize", m.to_str().unwrap()], &data);
    assert_eq!(
        canonical.stdout,
        br#"{"product":"p","profiles":[{"name":"light","thresholds":{},"tools":["sample"]}]}"#
    );
    std::fs::write(work.path().join("c.json"), &canonical.stdout).unwrap();
    let inline = certus(
        &["manifest", "digest", "--inline", m.to_str().unwrap()],
        &data,
    );
    assert_eq!(
        String::from_utf8_lossy(&inline.stdout).trim(),
        sh(work.path(), "sha256sum c.json | cut -d' ' -f1")
    );

    sh(
        work.path(),
        "openssl ecparam -genkey -name prime256v1 -noout -out k.pem && openssl ec -pubout -in k.pem -out k.pub 2>/dev/null \
         && openssl dgst -sha256 -sign k.pem m.json | base64 -w0 > m.sig && openssl dgst -sha256 -sign k.pem c.json | base64 -w0 > c.sig",
    );
    let key = work.path().join("k.pub");
    let ok = certus(
        &[
            "manifest",
            "verify",
            m.to_str().unwrap(),
            "--signature",
            work.path().join("m.sig").to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
        ],
        &data,
    );
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let record: serde_json::Value = serde_json::from_slice(&ok.stdout).unwrap();
    assert_eq!(record["method"], "cosign-keyed-ecdsa-p256");
    assert_eq!(record["manifest_digest"], expected.as_str());

    // A signature over the canonical bytes verifies the inline form, not the file bytes.
    let inline_ok = certus(
        &[
            "manifest",
            "verify",
            "--inline",
            m.to_str().unwrap(),
            "--signature",
            work.path().join("c.sig").to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
        ],
        &data,
    );
    assert_eq!(
        inline_ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&inline_ok.stderr)
    );
    let wrong = certus(
        &[
            "manifest",
            "verify",
            m.to_str().unwrap(),
            "--signature",
            work.path().join("c.sig").to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
        ],
        &data,
    );
    // A signature that does not verify is a failed check (1, as verify-bundle); a missing file is an error (2).
    assert_eq!(wrong.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("bad signature"));
    let missing = certus(
        &[
            "manifest",
            "verify",
            m.to_str().unwrap(),
            "--signature",
            work.path().join("nosuch.sig").to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
        ],
        &data,
    );
    assert_eq!(missing.status.code(), Some(2));
    let no_key = certus(
        &[
            "manifest",
            "verify",
            m.to_str().unwrap(),
            "--signature",
            work.path().join("m.sig").to_str().unwrap(),
        ],
        &data,
    );
    assert_eq!(no_key.status.code(), Some(2));
}

/// A signed manifest with a strict and a lenient profile that permits only the strict one: a caller asking for
/// the lenient profile is refused before any tool runs, naming `/appliesTo/profiles`; dropping the restriction
/// from the manifest breaks its signature; the permitted profile scans.
#[test]
fn a_signed_manifest_refuses_a_profile_it_does_not_permit() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let src = work.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("requirements.txt"), "flask==2.0.0\n").unwrap();
    let profiles = r#""profiles":[{"name":"lenient","tools":[{"id":"sbom","config":{"advisories":"off"}}],"thresholds":"none"},{"name":"strict","tools":[{"id":"sbom","config":{"advisories":"off"}}],"thresholds":{"critical":0}}]"#;
    std::fs::write(
        work.path().join("m.json"),
        format!(r#"{{"product":"p",{profiles},"appliesTo":{{"profiles":["strict"]}}}}"#),
    )
    .unwrap();
    std::fs::write(
        work.path().join("unbound.json"),
        format!(r#"{{"product":"p",{profiles}}}"#),
    )
    .unwrap();
    sh(
        work.path(),
        "openssl ecparam -genkey -name prime256v1 -noout -out k.pem && openssl ec -pubout -in k.pem -out k.pub 2>/dev/null \
         && openssl dgst -sha256 -sign k.pem m.json | base64 -w0 > m.sig",
    );
    let scan = |manifest: &str, profile: &str| {
        certus(
            &[
                "scan",
                src.to_str().unwrap(),
                "--manifest",
                work.path().join(manifest).to_str().unwrap(),
                "--signature",
                work.path().join("m.sig").to_str().unwrap(),
                "--key",
                work.path().join("k.pub").to_str().unwrap(),
                "--require-signature",
                "--profile",
                profile,
                "--json",
            ],
            &data,
        )
    };

    let refused = scan("m.json", "lenient");
    assert_eq!(refused.status.code(), Some(2));
    let job: serde_json::Value = serde_json::from_slice(&refused.stdout).unwrap();
    assert_eq!(job["status"], "FAILED");
    let errors = job["errors"].to_string();
    assert!(
        errors.contains(r#"manifest /appliesTo/profiles: the manifest permits the profiles [\"strict\"], not \"lenient\""#),
        "{errors}"
    );
    assert_eq!(job["manifest_verification"]["verified"], true);
    assert!(
        job["findings_summary"]["tools"]
            .as_object()
            .is_none_or(|tools| tools.is_empty()),
        "no tool ran: {}",
        job["findings_summary"]
    );

    // The restriction is part of the signed bytes: without it the signature no longer verifies.
    let unbound = scan("unbound.json", "lenient");
    assert_eq!(unbound.status.code(), Some(2));
    let job: serde_json::Value = serde_json::from_slice(&unbound.stdout).unwrap();
    assert!(
        job["errors"].to_string().contains("signature"),
        "{}",
        job["errors"]
    );

    let permitted = scan("m.json", "STRICT");
    assert_eq!(
        permitted.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&permitted.stderr)
    );
    let job: serde_json::Value = serde_json::from_slice(&permitted.stdout).unwrap();
    assert_eq!(job["status"], "SUCCEEDED");
    assert_eq!(job["manifest_metadata"]["profile_resolved"], "strict");
}

#[test]
fn manifest_verify_against_a_digest_instead_of_the_bytes() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    std::fs::write(work.path().join("m.json"), "{\"product\":\"p\"}\n").unwrap();
    sh(
        work.path(),
        "openssl ecparam -genkey -name prime256v1 -noout -out k.pem && openssl ec -pubout -in k.pem -out k.pub 2>/dev/null \
         && openssl dgst -sha256 -sign k.pem m.json | base64 -w0 > m.sig",
    );
    let digest = format!(
        "sha256:{}",
        sh(work.path(), "sha256sum m.json | cut -d' ' -f1")
    );
    let sig = work.path().join("m.sig");
    let key = work.path().join("k.pub");
    let verify = |digest: &str| {
        certus(
            &[
                "manifest",
                "verify",
                "--digest",
                digest,
                "--signature",
                sig.to_str().unwrap(),
                "--key",
                key.to_str().unwrap(),
            ],
            &data,
        )
    };
    let ok = verify(&digest);
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let record: serde_json::Value = serde_json::from_slice(&ok.stdout).unwrap();
    assert_eq!(record["method"], "cosign-keyed-ecdsa-p256");
    assert_eq!(record["verified"], true);
    assert_eq!(record["manifest_digest"], digest["sha256:".len()..]);

    let other = format!("sha256:{}", "0".repeat(64));
    let wrong = verify(&other);
    // A signature that does not verify is a failed check (1), as with a manifest file.
    assert_eq!(wrong.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("signature verification failed"));
    for malformed in ["sha512:00", "sha256:xyz", "00"] {
        let out = verify(malformed);
        assert_eq!(out.status.code(), Some(2));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("--digest"),
            "{malformed}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    // A real keyless Sigstore bundle (the conformance suite's v0.3 happy path) by digest alone.
    let Some(shared) = certus_testkit::shared_dir("data/sigstore-conformance") else {
        return;
    };
    let suite = shared.join("data/sigstore-conformance");
    let artifact = std::fs::read(suite.join("a.txt")).unwrap();
    std::fs::write(work.path().join("a.txt"), artifact).unwrap();
    let a_digest = format!(
        "sha256:{}",
        sh(work.path(), "sha256sum a.txt | cut -d' ' -f1")
    );
    let keyless = |digest: &str| {
        certus(
            &[
                "manifest",
                "verify",
                "--digest",
                digest,
                "--signature",
                suite
                    .join("bundle-verify/happy-path-v0.3/bundle.sigstore.json")
                    .to_str()
                    .unwrap(),
                "--trusted-root",
                shared
                    .join("data/sigstore/sigstore_trusted_root.json")
                    .to_str()
                    .unwrap(),
                "--identity",
                "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main",
                "--issuer",
                "https://token.actions.githubusercontent.com",
            ],
            &data,
        )
    };
    let ok = keyless(&a_digest);
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let record: serde_json::Value = serde_json::from_slice(&ok.stdout).unwrap();
    assert_eq!(record["method"], "sigstore-keyless");
    let wrong = keyless(&other);
    assert_eq!(wrong.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&wrong.stderr).contains("message digest is not the given SHA-256")
    );
}

/// A `bandit` that hangs, so a scan is reliably in progress when the runner is interrupted; each run leaves
/// its process id in `<dir>/pids`.
fn hanging_tools(dir: &Path) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let bin = dir.join("bin");
    let pids = dir.join("pids");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::create_dir_all(&pids).unwrap();
    let tool = bin.join("bandit");
    std::fs::write(
        &tool,
        format!(
            "#!/bin/sh\ncase \"$1\" in --version) echo 'bandit 0'; exit 0;; esac\necho $$ > '{}/'$$\nexec sleep 60\n",
            pids.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

fn start_hanging_scan(work: &Path, data: &Path) -> std::process::Child {
    let src = work.join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(
        work.join("m.json"),
        r#"{"profiles":[{"name":"light","tools":["bandit"],"thresholds":{}}]}"#,
    )
    .unwrap();
    Command::new(env!("CARGO_BIN_EXE_certus"))
        .args([
            "scan",
            src.to_str().unwrap(),
            "--manifest",
            work.join("m.json").to_str().unwrap(),
            "--json",
        ])
        .env("CERTUS_ASSURANCE_ARTIFACT_ROOT", data)
        .env("CERTUS_ASSURANCE_TOOLS_BIN_DIR", hanging_tools(work))
        .env("TMPDIR", temp_dir(work))
        .env("PATH", "/usr/bin:/bin")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// The temporary directory of the scans `start_hanging_scan` starts.
fn temp_dir(work: &Path) -> PathBuf {
    let tmp = work.join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    tmp
}

/// The hanging tools' processes still alive (a zombie counts), waiting a few seconds for them to go.
fn live_tools(work: &Path) -> Vec<String> {
    let alive = || -> Vec<String> {
        std::fs::read_dir(work.join("pids"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|pid| Path::new("/proc").join(pid).exists())
            .collect()
    };
    for _ in 0..100 {
        if alive().is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    alive()
}

fn job_statuses(data: &Path) -> Vec<String> {
    sh(
        data,
        "sqlite3 certus.db 'select status from jobs order by created_at'",
    )
    .lines()
    .map(str::to_string)
    .collect()
}

#[test]
fn an_interrupt_cancels_the_scan_and_a_killed_runner_is_ended_by_the_next_one() {
    if certus_testkit::installed(&["sqlite3"], &[]).is_none() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");

    // Ctrl-C: the job ends CANCELLED with its terminal event, the process exits 130 and its private
    // workspace is gone.
    let child = start_hanging_scan(work.path(), &data);
    wait_for_running_count(&data, 1);
    let runs = || -> Vec<String> {
        std::fs::read_dir(data.join("runs"))
            .map(|d| {
                d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(runs().len(), 1);
    sh(work.path(), &format!("kill -INT {}", child.id()));
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(job_statuses(&data), vec!["CANCELLED"]);
    assert!(runs().is_empty(), "{:?}", runs());
    // The tool was stopped and its scratch and home directories removed before the process ended.
    assert_eq!(live_tools(work.path()), Vec::<String>::new());
    let left: Vec<_> = std::fs::read_dir(temp_dir(work.path())).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");

    // SIGKILL: nothing runs in the dead process; the next `certus scan` ends the orphan as FAILED.
    let mut child = start_hanging_scan(work.path(), &data);
    wait_for_running_count(&data, 2);
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(job_statuses(&data), vec!["CANCELLED", "RUNNING"]);
    let _ = certus(
        &[
            "scan",
            work.path().join("src").to_str().unwrap(),
            "--manifest",
            work.path().join("m.json").to_str().unwrap(),
        ],
        &data,
    );
    let statuses = job_statuses(&data);
    assert_eq!(statuses[1], "FAILED", "{statuses:?}");
    let terminal = sh(
        &data,
        "sqlite3 certus.db \"select count(*) from events e join jobs j on e.test_id = j.test_id where e.type = 'scan_complete' and j.status = 'FAILED'\"",
    );
    assert!(terminal.trim().parse::<u32>().unwrap() >= 1);
    // A killed runner cannot stop its tool: this test does.
    sh(
        work.path(),
        "for pid in pids/*; do kill \"${pid#pids/}\" 2>/dev/null; done; true",
    );
}

fn wait_for_running_count(data: &Path, n: u32) {
    for _ in 0..200 {
        if data.join("certus.db").exists() {
            let out = sh(data, "sqlite3 certus.db \"select count(*) from events where type='tool_start'\" 2>/dev/null || echo 0");
            if out.trim().parse::<u32>().unwrap_or(0) >= n {
                return;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("fewer than {n} scans started their tool");
}

fn passing_scan(work: &Path, data: &Path) -> String {
    let src = work.join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("requirements.txt"), "flask==2.0.0\n").unwrap();
    std::fs::write(work.join("m.json"), INVENTORY_ONLY).unwrap();
    let out = certus(
        &[
            "scan",
            src.to_str().unwrap(),
            "--manifest",
            work.join("m.json").to_str().unwrap(),
            "--json",
        ],
        data,
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let job: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    job["test_id"].as_str().unwrap().to_string()
}

#[test]
fn upload_request_publishes_through_the_embedded_gate_and_the_trust_dev_server() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");

    // Embedded gate: permitted, staged under raw, promoted to golden; asking again publishes nothing new.
    let id = passing_scan(work.path(), &data);
    let out = certus(&["upload-request", &id], &data);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["upload_status"], "uploaded");
    let golden = data.join("golden/security-scans").join(&id).join("golden");
    let raw = data.join("raw/security-scans").join(&id).join("incoming");
    assert!(golden.join("scan.json").is_file() && raw.join("bundle-index.json").is_file());
    let again = certus(&["upload-request", &id], &data);
    let again: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(
        again["upload_permission_id"],
        result["upload_permission_id"]
    );

    // Over HTTP to `certus trust serve`, with a bearer token.
    let port = certus_testkit::free_port();
    let _server = certus_testkit::KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_certus"))
            .args([
                "trust",
                "serve",
                "--addr",
                &format!("127.0.0.1:{port}"),
                "--token-env",
                "TRUST_DEV_TOKEN",
            ])
            .env("TRUST_DEV_TOKEN", "dev-token-for-tests")
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    certus_testkit::wait_for_port(port);
    let id2 = passing_scan(work.path(), &data);
    let over_http = |token: &str| {
        Command::new(env!("CARGO_BIN_EXE_certus"))
            .args(["upload-request", &id2])
            .env("CERTUS_ASSURANCE_ARTIFACT_ROOT", &data)
            .env(
                "CERTUS_ASSURANCE_TRUST_BASE_URL",
                format!("http://127.0.0.1:{port}"),
            )
            .env("CERTUS_ASSURANCE_TRUST_TOKEN", token)
            .output()
            .unwrap()
    };
    let refused = over_http("wrong-token");
    assert_eq!(refused.status.code(), Some(1));
    let refused: serde_json::Value = serde_json::from_slice(&refused.stdout).unwrap();
    assert_eq!(refused["upload_status"], "upload_failed");
    assert!(
        !data.join("golden/security-scans").join(&id2).exists(),
        "nothing published without a permit"
    );
    let permitted = over_http("dev-token-for-tests");
    assert_eq!(
        permitted.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&permitted.stdout)
    );
    assert!(data
        .join("golden/security-scans")
        .join(&id2)
        .join("golden/scan.json")
        .is_file());
}

#[test]
fn a_bundle_written_with_out_is_published_by_upload_request() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let src = work.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("requirements.txt"), "flask==3.0.0\n").unwrap();
    std::fs::write(
        work.path().join("m.json"),
        r#"{"profiles":[{"name":"light","tools":[{"id":"sbom","config":{"advisories":"off"}}],"thresholds":{}}]}"#,
    )
    .unwrap();
    let bundle = work.path().join("elsewhere/bundle");
    let out = certus(
        &[
            "scan",
            src.to_str().unwrap(),
            "--manifest",
            work.path().join("m.json").to_str().unwrap(),
            "--out",
            bundle.to_str().unwrap(),
            "--json",
        ],
        &data,
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let job: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = job["test_id"].as_str().unwrap().to_string();
    assert!(bundle.join("bundle-index.json").is_file());
    assert!(
        !data.join("bundles").join(&id).exists(),
        "the bundle is only under --out"
    );

    let out = certus(&["upload-request", &id], &data);
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["upload_status"], "uploaded", "{result}");
    assert_eq!(out.status.code(), Some(0));
    let golden = data.join("golden/security-scans").join(&id).join("golden");
    assert_eq!(
        std::fs::read(golden.join("scan.json")).unwrap(),
        std::fs::read(bundle.join("scan.json")).unwrap()
    );

    // The index is still checked where the bundle is: a changed file there is a digest mismatch.
    let id2 = {
        let bundle2 = work.path().join("elsewhere/bundle2");
        let out = certus(
            &[
                "scan",
                src.to_str().unwrap(),
                "--manifest",
                work.path().join("m.json").to_str().unwrap(),
                "--out",
                bundle2.to_str().unwrap(),
                "--json",
            ],
            &data,
        );
        let job: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        std::fs::write(bundle2.join("report.md"), "tampered\n").unwrap();
        job["test_id"].as_str().unwrap().to_string()
    };
    let out = certus(&["upload-request", &id2], &data);
    assert_eq!(out.status.code(), Some(1));
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_ne!(result["upload_status"], "uploaded", "{result}");
    assert!(!data.join("golden/security-scans").join(&id2).exists());
}

#[test]
fn serve_runs_a_submitted_scan_and_watch_follows_it_to_the_end() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let src = work.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("requirements.txt"), "flask==2.0.0\n").unwrap();
    let port = certus_testkit::free_port();
    let key = "test-api-key-0123456789";
    let keys = api_keys_file(work.path(), &data, key);
    let _server = certus_testkit::KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_certus"))
            .args([
                "serve",
                "--addr",
                &format!("localhost:{port}"),
                "--api-keys",
                keys.to_str().unwrap(),
            ])
            .args(["--allow-root", src.to_str().unwrap()])
            .env("CERTUS_ASSURANCE_ARTIFACT_ROOT", &data)
            .env("CERTUS_ASSURANCE_TOOLS_BIN_DIR", data.join("no-tools"))
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    certus_testkit::wait_for_port(port);
    let body = serde_json::json!({
        "workspace_id": "ws", "component_id": "c", "assessment_id": "a", "source_type": "directory",
        "directory_path": src, "manifest": {"profiles": [{"name": "light", "tools": [{"id": "sbom", "config": {"advisories": "off"}}],
                                            "thresholds": {}}]},
    });
    let submit_body = |auth: &str, body: &serde_json::Value| {
        sh(
            work.path(),
            &format!(
                "curl -s -o body.json -w '%{{http_code}}' -H 'Authorization: Bearer {auth}' -H 'content-type: application/json' \
                 -d '{body}' http://127.0.0.1:{port}/v1/security-scans"
            ),
        )
    };
    let submit = |auth: &str| submit_body(auth, &body);
    assert_eq!(submit("not-a-key"), "401");
    // Only a file older than a timestamp tick has its results kept for the next scan (checked at the end).
    std::thread::sleep(certus_source::TIMESTAMP_TICK + std::time::Duration::from_millis(100));
    assert_eq!(submit(key), "202");
    let accepted: serde_json::Value =
        serde_json::from_slice(&std::fs::read(work.path().join("body.json")).unwrap()).unwrap();
    let id = accepted["test_id"].as_str().unwrap().to_string();
    let watch_job = |id: &str, extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_certus"))
            .args([
                "watch",
                id,
                "--server",
                &format!("ws://127.0.0.1:{port}"),
                "--token",
                key,
            ])
            .args(extra)
            .output()
            .unwrap()
    };
    let watch = |extra: &[&str]| watch_job(&id, extra);
    // By default, the lines `certus scan` shows while it runs.
    let human = watch(&[]);
    assert_eq!(human.status.code(), Some(0));
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(text.contains("scan started"), "{text}");
    assert!(text.contains("✓ sbom: completed, 0 finding(s)"), "{text}");
    assert!(
        text.trim_end().ends_with("scan complete: SUCCEEDED"),
        "{text}"
    );
    assert!(!text.contains('{'), "{text}");
    let watched = watch(&["--json"]);
    assert_eq!(
        watched.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&watched.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&watched.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.last().unwrap()["type"], "scan_complete");
    let seqs: Vec<u64> = lines.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (1..=lines.len() as u64).collect::<Vec<_>>());

    // The same directory again, unchanged: the server's scan cache gives the inventory without reading
    // the lockfile, and the bundle says so.
    let sbom_cache = |id: &str| {
        let summary: serde_json::Value = serde_json::from_slice(
            &std::fs::read(data.join("bundles").join(id).join("summary.json")).unwrap(),
        )
        .unwrap();
        summary["tools"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["id"] == "sbom")
            .unwrap()["cache"]
            .clone()
    };
    assert_eq!(sbom_cache(&id)["from_cache"], 0);
    assert_eq!(submit(key), "202");
    let again: serde_json::Value =
        serde_json::from_slice(&std::fs::read(work.path().join("body.json")).unwrap()).unwrap();
    let again = again["test_id"].as_str().unwrap();
    assert_eq!(watch_job(again, &["--json"]).status.code(), Some(0));
    let reused = sbom_cache(again);
    assert_eq!(
        (reused["files"].as_u64(), reused["from_cache"].as_u64()),
        (Some(1), Some(1)),
        "{reused}"
    );

    // A submission that asks for a full scan reuses nothing: its record has no cache object.
    let mut full_body = body.clone();
    full_body["full_scan"] = serde_json::json!(true);
    assert_eq!(submit_body(key, &full_body), "202");
    let full: serde_json::Value =
        serde_json::from_slice(&std::fs::read(work.path().join("body.json")).unwrap()).unwrap();
    let full = full["test_id"].as_str().unwrap();
    assert_eq!(watch_job(full, &["--json"]).status.code(), Some(0));
    assert_eq!(sbom_cache(full), serde_json::Value::Null);
}

/// `certus cancel` against `certus serve`: a scan hanging on a git remote that never answers (a tarpit on
/// loopback, allow-listed) is cancelled: exit 0 and CANCELLED, git's connection closed; a second cancel exits
/// 1 (already ended); an unknown id exits 2.
#[test]
fn cancel_stops_a_scan_hanging_on_git_and_a_second_cancel_says_it_has_ended() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let tarpit = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let tarpit_port = tarpit.local_addr().unwrap().port();
    let port = certus_testkit::free_port();
    let key = format!("cancel-key-{}-0123456789", std::process::id());
    let keys = api_keys_file(work.path(), &data, &key);
    let _server = certus_testkit::KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_certus"))
            .args(["serve", "--addr", &format!("127.0.0.1:{port}")])
            .args(["--api-keys", keys.to_str().unwrap()])
            .env("CERTUS_ASSURANCE_ARTIFACT_ROOT", &data)
            .env("CERTUS_ASSURANCE_TOOLS_BIN_DIR", data.join("no-tools"))
            .env("CERTUS_ASSURANCE_FETCH_ALLOW_HOSTS", "127.0.0.1")
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    certus_testkit::wait_for_port(port);
    let body = serde_json::json!({
        "workspace_id": "ws", "component_id": "c", "assessment_id": "a",
        "git_url": format!("http://127.0.0.1:{tarpit_port}/hang.git"),
        "manifest": {"profiles": [{"name": "light", "tools": [{"id": "sbom", "config": {"advisories": "off"}}], "thresholds": {}}]},
    });
    let code = sh(
        work.path(),
        &format!(
            "curl -s -o body.json -w '%{{http_code}}' -H 'Authorization: Bearer {key}' -H 'content-type: application/json' \
             -d '{body}' http://127.0.0.1:{port}/v1/security-scans"
        ),
    );
    assert_eq!(code, "202");
    let accepted: serde_json::Value =
        serde_json::from_slice(&std::fs::read(work.path().join("body.json")).unwrap()).unwrap();
    let id = accepted["test_id"].as_str().unwrap().to_string();
    // Git has connected: the scan is running and hangs there. (A job that ends before it gets there, its
    // manifest refused, fails the test instead of hanging it.)
    tarpit.set_nonblocking(true).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut held = loop {
        match tarpit.accept() {
            Ok((held, _)) => break held,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                assert!(
                    std::time::Instant::now() < deadline,
                    "git never connected: {}",
                    sh(
                        work.path(),
                        &format!(
                            "curl -s -H 'Authorization: Bearer {key}' http://127.0.0.1:{port}/v1/security-scans/{id}"
                        )
                    )
                );
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(e) => panic!("accept: {e}"),
        }
    };
    held.set_nonblocking(false).unwrap();
    let cancel = |test_id: &str| {
        Command::new(env!("CARGO_BIN_EXE_certus"))
            .args([
                "cancel",
                test_id,
                "--server",
                &format!("ws://127.0.0.1:{port}"),
            ])
            .env("CERTUS_API_TOKEN", &key)
            .output()
            .unwrap()
    };
    let out = cancel(&id);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("{id} CANCELLED")
    );
    // The connection git held is closed (git and its transport helper were killed).
    held.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    let mut rest = Vec::new();
    std::io::Read::read_to_end(&mut held, &mut rest).expect("git closed its connection");
    let again = cancel(&id);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already ended"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let unknown = cancel("test_000000000000");
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("404"),
        "{}",
        String::from_utf8_lossy(&unknown.stderr)
    );
}

/// A manifest given from outside the source is checked before the source is fetched: one that is refused
/// ends the job without a single connection to the repository's host.
#[test]
fn a_refused_manifest_ends_the_scan_before_the_repository_is_contacted() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    // The repository's host: counts the connections it gets, and closes each at once.
    let host = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://127.0.0.1:{}/repo.git",
        host.local_addr().unwrap().port()
    );
    let contacted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = contacted.clone();
    std::thread::spawn(move || {
        for connection in host.incoming() {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            drop(connection);
        }
    });
    // No `thresholds`: refused (the field is required).
    let manifest = work.path().join("m.json");
    std::fs::write(
        &manifest,
        r#"{"profiles": [{"name": "light", "tools": ["sbom"]}]}"#,
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_certus"))
        .args(["scan", &url, "--manifest", manifest.to_str().unwrap()])
        .env("CERTUS_ASSURANCE_ARTIFACT_ROOT", &data)
        .env("CERTUS_ASSURANCE_FETCH_ALLOW_HOSTS", "127.0.0.1")
        .env("CERTUS_ASSURANCE_TOOLS_BIN_DIR", data.join("no-tools"))
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(said.contains("/profiles/0/thresholds"), "{said}");
    assert_eq!(
        contacted.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "the repository's host was contacted"
    );
}

#[test]
fn a_permitted_bundle_is_also_pushed_to_an_oci_registry_as_a_signed_artifact() {
    let Some(registry_bin) =
        certus_testkit::installed(&["docker-registry"], &["/usr/bin/docker-registry"])
    else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let port = certus_testkit::free_port();
    let config = work.path().join("registry.yml");
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
            work.path().join("storage").display()
        ),
    )
    .unwrap();
    let _registry = certus_testkit::KillOnDrop(
        Command::new(registry_bin)
            .arg("serve")
            .arg(&config)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    certus_testkit::wait_for_port(port);
    let id = passing_scan(work.path(), &data);
    let out = Command::new(env!("CARGO_BIN_EXE_certus"))
        .args(["upload-request", &id])
        .env("CERTUS_ASSURANCE_ARTIFACT_ROOT", &data)
        .env(
            "CERTUS_ASSURANCE_OCI_REPOSITORY",
            format!("oci://127.0.0.1:{port}/certus/bundles"),
        )
        .env("CERTUS_ASSURANCE_FETCH_ALLOW_HOSTS", "127.0.0.1")
        .env("CERTUS_ASSURANCE_FETCH_ALLOW_PLAIN_HTTP", "127.0.0.1")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let oci = result["remote_artifacts"]["oci"].as_str().unwrap();
    assert!(
        oci.starts_with(&format!("oci://127.0.0.1:{port}/certus/bundles@sha256:")),
        "{oci}"
    );
    let digest = oci.rsplit('@').next().unwrap();
    let tags = sh(
        work.path(),
        &format!("curl -s http://127.0.0.1:{port}/v2/certus/bundles/tags/list"),
    );
    assert!(tags.contains(&id), "{tags}");
    assert!(
        tags.contains(&format!("{}.sig", digest.replace(':', "-"))),
        "signature tag missing: {tags}"
    );
}

/// A `certus serve --api-keys` file in `dir` that grants `key` (stored as `certus serve --hash-key` hashes it)
/// to tenant `acme` in workspace `ws`.
fn api_keys_file(dir: &Path, data: &Path, key: &str) -> PathBuf {
    let hash = String::from_utf8(certus(&["serve", "--hash-key", key], data).stdout).unwrap();
    let keys = dir.join("keys.json");
    std::fs::write(
        &keys,
        format!(
            r#"[{{"key_sha256": "{}", "tenant": "acme", "workspaces": ["ws"]}}]"#,
            hash.trim()
        ),
    )
    .unwrap();
    keys
}
