//! `certus audit` as an auditor runs it: real scans of real git repositories write the trail, then the
//! binary answers list (JSON, CSV, table, every filter), show and export from the same data directory, and
//! verify recomputes the hash chain: intact trails pass, and an entry removed, edited or moved directly in the
//! SQLite file is named; an export is checked by the Python lines of docs/audit-trail.md.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how it reports the unexpected

use std::path::Path;
use std::process::{Command, Output};

use certus_core::audit::AuditEntry;
use certus_core::audit_chain::{check_chain, AuditHead};
use serde_json::Value;

mod common;
use common::certus;

fn ok(out: Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn git_repo(dir: &Path) -> String {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("requirements.txt"), "flask==2.0.0\n").unwrap();
    std::fs::write(
        dir.join("certus.json"),
        r#"{"product":"p","profiles":[{"name":"light","tools":[{"id":"sbom","config":{"advisories":"off"}}],"thresholds":{}}]}"#,
    )
    .unwrap();
    let out = Command::new("sh")
        .arg("-c")
        .arg(
            "git init -q -b main && git add -A && git -c user.name=t -c user.email=t@example.invalid \
             -c commit.gpgsign=false commit -qm init && git rev-parse HEAD",
        )
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn scan(repo: &Path, workspace: &str, data: &Path) -> Value {
    let manifest = repo.join("certus.json");
    let out = certus(
        &[
            "scan",
            repo.to_str().unwrap(),
            "--manifest",
            manifest.to_str().unwrap(),
            "--workspace-id",
            workspace,
            "--json",
        ],
        data,
    );
    serde_json::from_str(&ok(out)).unwrap()
}

fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|j| j["test_id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn audit_list_show_and_export_answer_from_the_local_store() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let (repo_a, repo_b) = (work.path().join("a"), work.path().join("b"));
    let head_a = git_repo(&repo_a);
    git_repo(&repo_b);
    let first = scan(&repo_a, "bank", &data);
    let second = scan(&repo_b, "shop", &data);
    let third = scan(&repo_a, "shop", &data);
    let id = |job: &Value| job["test_id"].as_str().unwrap().to_string();

    let list = |extra: &[&str]| -> Value {
        let mut args = vec!["audit", "list", "--format", "json"];
        args.extend_from_slice(extra);
        serde_json::from_str(&ok(certus(&args, &data))).unwrap()
    };
    assert_eq!(ids(&list(&[])), vec![id(&third), id(&second), id(&first)]);
    assert_eq!(
        ids(&list(&["--workspace", "shop"])),
        vec![id(&third), id(&second)]
    );
    let repo_a_url = first["git_url"].as_str().unwrap();
    assert_eq!(
        ids(&list(&["--repository", repo_a_url, "--commit", &head_a])),
        vec![id(&third), id(&first)]
    );
    // The 12 characters the table shows, or any prefix of 7 or more, find the same jobs.
    assert_eq!(
        ids(&list(&[
            "--repository",
            repo_a_url,
            "--commit",
            &head_a[..12]
        ])),
        vec![id(&third), id(&first)]
    );
    assert_eq!(
        ids(&list(&[
            "--repository",
            repo_a_url,
            "--commit",
            &head_a[..7].to_uppercase(),
            "--limit",
            "1"
        ])),
        vec![id(&third)]
    );
    let short = certus(&["audit", "list", "--commit", &head_a[..6]], &data);
    assert_eq!(short.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least 7 hex digits"));
    let digest = first["manifest_digest"].as_str().unwrap();
    assert_eq!(ids(&list(&["--manifest-digest", digest])).len(), 3);
    assert_eq!(
        ids(&list(&["--status", "succeeded", "--limit", "1"])),
        vec![id(&third)]
    );
    assert!(ids(&list(&["--status", "failed"])).is_empty());
    assert!(ids(&list(&["--until", "2000-01-01"])).is_empty());
    assert_eq!(ids(&list(&["--since", "2000-01-01"])).len(), 3);

    let csv = ok(certus(&["audit", "list", "--format", "csv"], &data));
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 4);
    assert!(lines[0].starts_with("test_id,created_at,status,workspace_id"));
    assert!(lines[1].starts_with(&format!("{},", id(&third))));
    assert!(lines[3].contains(&head_a));
    let table = ok(certus(&["audit", "list", "--workspace", "bank"], &data));
    assert!(table.lines().next().unwrap().starts_with("test_id"));
    assert!(table.contains(&id(&first)) && table.contains("SUCCEEDED"));

    let shown: Value = serde_json::from_str(&ok(certus(
        &["audit", "show", &id(&first), "--format", "json"],
        &data,
    )))
    .unwrap();
    assert_eq!(shown["job"]["test_id"], first["test_id"]);
    let kinds: Vec<&str> = shown["trail"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.first(), Some(&"submitted"));
    for kind in [
        "source_resolved",
        "manifest_recorded",
        "manifest_verification",
        "bundle_stored",
    ] {
        assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
    }
    assert_eq!(kinds.iter().filter(|k| **k == "status_changed").count(), 2);
    let resolved = &shown["trail"][kinds.iter().position(|k| *k == "source_resolved").unwrap()];
    assert_eq!(resolved["detail"]["commit"], head_a.as_str());
    let table = ok(certus(&["audit", "show", &id(&first)], &data));
    assert!(table.contains("submitted") && table.contains("status_changed"));

    let export = ok(certus(&["audit", "export", "--since", "2000-01-01"], &data));
    let lines: Vec<Value> = export
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert!(lines
        .iter()
        .all(|l| !l["trail"].as_array().unwrap().is_empty()));
    assert_eq!(lines[2]["job"]["test_id"], first["test_id"]);
}

/// `certus audit verify` of one job: its exit code and what it printed.
fn verify(test_id: &str, data: &Path) -> (Option<i32>, String) {
    let out = certus(&["audit", "verify", test_id], data);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

/// The Python block of docs/audit-trail.md.
fn documented_python() -> String {
    let doc = std::fs::read_to_string(certus_testkit::workspace_root().join("docs/audit-trail.md"))
        .unwrap();
    let start = doc.find("```python\n").expect("a python block") + "```python\n".len();
    let end = start + doc[start..].find("```").unwrap();
    doc[start..end].to_string()
}

#[test]
fn an_untouched_trail_verifies_with_certus_and_with_the_documented_python() {
    let Some(python) = certus_testkit::installed(&["python3"], &[]) else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let repo = work.path().join("repo");
    git_repo(&repo);
    let job = scan(&repo, "bank", &data);
    let test_id = job["test_id"].as_str().unwrap();
    let (code, text) = verify(test_id, &data);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.starts_with("OK: ") && text.contains("chain intact"),
        "{text}"
    );

    let checked: Value =
        serde_json::from_str(&ok(certus(&["audit", "verify", test_id, "--json"], &data))).unwrap();
    assert_eq!(checked["check"]["broken"], Value::Null);
    assert_eq!(checked["check"]["head"], checked["record_head"]);

    let export = ok(certus(&["audit", "export"], &data));
    let line: Value = serde_json::from_str(export.lines().next().unwrap()).unwrap();
    let trail = line["trail"].as_array().unwrap();
    assert_eq!(trail[0]["prev"], "0".repeat(64));
    assert!(trail.iter().all(|e| e["prev"].is_string()));
    assert_eq!(line["job"]["audit_head"]["count"], trail.len());

    // The bundle's signed attestation records the head at sealing time: a prefix of the final trail.
    let envelope = std::fs::read(
        Path::new(job["bundle_location"].as_str().unwrap())
            .join("reports/signing/attestation.intoto.json"),
    )
    .unwrap();
    let payload = certus_attest::Envelope::from_json(&envelope)
        .unwrap()
        .decode_payload()
        .unwrap();
    let statement: Value = serde_json::from_slice(&payload).unwrap();
    let sealed: AuditHead = serde_json::from_value(
        statement["predicate"]["buildDefinition"]["internalParameters"]["audit_trail_head"].clone(),
    )
    .unwrap();
    let entries: Vec<AuditEntry> = serde_json::from_value(line["trail"].clone()).unwrap();
    let count = usize::try_from(sealed.count).unwrap();
    assert!(
        count >= 2 && count < entries.len(),
        "sealed at {count} of {}",
        entries.len()
    );
    let at_sealing = check_chain(&entries[..count], Some(&sealed)).unwrap();
    assert_eq!(
        at_sealing.broken, None,
        "the sealed head is entry {count}'s hash"
    );

    let script = work.path().join("verify.py");
    std::fs::write(&script, documented_python()).unwrap();
    let run = |file: &Path| {
        Command::new(&python)
            .arg(&script)
            .arg(file)
            .output()
            .unwrap()
    };
    let exported = work.path().join("trail.jsonl");
    std::fs::write(&exported, &export).unwrap();
    let out = run(&exported);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("{test_id} intact: {} entries", trail.len())
    );
    let mut forged = line.clone();
    forged["trail"][1]["detail"] = serde_json::json!({"forged": true});
    std::fs::write(&exported, format!("{forged}\n")).unwrap();
    let out = run(&exported);
    assert!(!out.status.success(), "the edit is caught");
    assert!(String::from_utf8_lossy(&out.stderr).contains("entry 2 changed or gone"));
}

#[test]
fn verify_names_an_entry_removed_edited_or_reordered_in_the_sqlite_file() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let repo = work.path().join("repo");
    git_repo(&repo);
    let ids: Vec<String> = (0..4)
        .map(|_| {
            scan(&repo, "bank", &data)["test_id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    for id in &ids {
        assert_eq!(
            verify(id, &data).0,
            Some(0),
            "{id} is intact before tampering"
        );
    }
    let last: i64 = {
        let db = rusqlite::Connection::open(data.join("certus.db")).unwrap();
        db.query_row(
            "SELECT MAX(seq) FROM audit WHERE test_id = ?1",
            [&ids[3]],
            |r| r.get(0),
        )
        .unwrap()
    };
    assert!(last >= 4, "a scan's trail has {last} entries");
    {
        // Whoever holds the file can drop the triggers that refuse updates and deletes.
        let db = rusqlite::Connection::open(data.join("certus.db")).unwrap();
        db.execute_batch(
            "DROP TRIGGER audit_is_append_only_update; DROP TRIGGER audit_is_append_only_delete;",
        )
        .unwrap();
        let sql = |sql: &str, id: &str| {
            db.execute(sql, [id]).unwrap();
        };
        sql("DELETE FROM audit WHERE test_id = ?1 AND seq = 3", &ids[0]);
        sql(
            "UPDATE audit SET detail = '{\"to\":\"SUCCEEDED\"}' WHERE test_id = ?1 AND seq = 2",
            &ids[1],
        );
        for step in [
            "UPDATE audit SET seq = -2 WHERE test_id = ?1 AND seq = 2",
            "UPDATE audit SET seq = 2 WHERE test_id = ?1 AND seq = 3",
            "UPDATE audit SET seq = 3 WHERE test_id = ?1 AND seq = -2",
        ] {
            sql(step, &ids[2]);
        }
        db.execute(
            "DELETE FROM audit WHERE test_id = ?1 AND seq = ?2",
            rusqlite::params![ids[3], last],
        )
        .unwrap();
    }
    for (id, named) in [
        (&ids[0], "entry 3: removed".to_string()),
        (&ids[1], "entry 2: edited".to_string()),
        (&ids[2], "entry 2: reordered".to_string()),
        (&ids[3], format!("entry {last}: removed")),
    ] {
        let (code, text) = verify(id, &data);
        assert_eq!(code, Some(1), "{text}");
        assert!(
            text.starts_with("BROKEN: ") && text.contains(&named),
            "{named} in {text}"
        );
    }
}

#[test]
fn the_trail_of_a_secrets_scan_keeps_its_counts_and_no_credential() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let src = work.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    // Built from pieces so no credential-shaped string sits in this source file.
    let key_id = format!("{}{}", "AKIA", "Z7QW4ERT5YUI6OPL");
    std::fs::write(
        src.join("config.py"),
        format!("aws_access_key_id = \"{key_id}\"\n"),
    )
    .unwrap();
    let manifest = work.path().join("m.json");
    std::fs::write(
        &manifest,
        r#"{"profiles":[{"name":"light","tools":["secrets"],"thresholds":{"critical":10}}]}"#,
    )
    .unwrap();
    let job: Value = serde_json::from_str(&ok(certus(
        &[
            "scan",
            src.to_str().unwrap(),
            "--manifest",
            manifest.to_str().unwrap(),
            "--json",
        ],
        &data,
    )))
    .unwrap();
    let id = job["test_id"].as_str().unwrap();
    assert_eq!(job["findings_summary"]["tools"]["secrets"]["critical"], 1);

    let shown = ok(certus(&["audit", "show", id, "--format", "json"], &data));
    assert!(!shown.contains(&key_id), "a credential in the trail");
    let shown: Value = serde_json::from_str(&shown).unwrap();
    let last = shown["trail"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|e| e["kind"] == "status_changed")
        .unwrap();
    assert_eq!(last["detail"]["to"], "SUCCEEDED");
    assert_eq!(
        last["detail"]["findings_summary"]["tools"]["secrets"],
        job["findings_summary"]["tools"]["secrets"]
    );
}

#[test]
fn audit_refuses_bad_input_with_the_cause_named() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("empty");
    let cases: [(&[&str], &str); 4] = [
        (&["audit", "list"], "no job records"),
        (&["audit", "show", "test_../../x"], "test_id"),
        (&["audit", "list", "--status", "DONE"], "must be one of"),
        (&["audit", "list", "--since", "yesterday"], "RFC 3339"),
    ];
    for (args, cause) in cases {
        let out = certus(args, &data);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(cause), "{args:?}: {stderr}");
    }
    std::fs::create_dir_all(&data).unwrap();
    let repo = work.path().join("r");
    git_repo(&repo);
    scan(&repo, "w", &data);
    let out = certus(&["audit", "show", "test_0123456789ab"], &data);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not found"));
}
