//! W8 of the 2026-12 red-team: what `certus scan` and `certus serve` write is private to their user (files
//! 0600, directories 0700, whatever umask they were started with), and API and WebSocket clients see neither
//! the server's data directory nor its process id.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how it reports the unexpected

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

fn certus() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_certus"));
    command
        .env_remove("CERTUS_ASSURANCE_MANIFEST_VERIFICATION_REQUIRED")
        .env_remove("CERTUS_ASSURANCE_MANIFEST_VERIFICATION_KEY_REF")
        .env_remove("CERTUS_ASSURANCE_ARTIFACT_ROOT")
        .env("PATH", "/usr/bin:/bin");
    command
}

/// Runs `script` with the umask of a careless start (022), so that only certus itself can make files private.
fn sh(dir: &Path, script: &str) -> String {
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("umask 022; {script}"))
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

/// Every path under `root` (itself included) that another user could read, write or enter.
fn open_to_others(root: &Path) -> Vec<String> {
    let mut open = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    let mut seen = 0;
    while let Some(path) = stack.pop() {
        let meta = std::fs::symlink_metadata(&path).unwrap();
        if meta.file_type().is_symlink() {
            continue;
        }
        seen += 1;
        if meta.permissions().mode() & 0o077 != 0 {
            open.push(format!(
                "{} {:o}",
                path.display(),
                meta.permissions().mode() & 0o777
            ));
        }
        if meta.is_dir() {
            for entry in std::fs::read_dir(&path).unwrap() {
                stack.push(entry.unwrap().path());
            }
        }
    }
    assert!(seen > 5, "too little written under {}", root.display());
    open
}

fn source(work: &Path) -> PathBuf {
    let src = work.join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("requirements.txt"), "flask==2.0.0\n").unwrap();
    std::fs::write(
        work.join("m.json"),
        r#"{"product":"p","profiles":[{"name":"light","tools":[{"id":"sbom","config":{"advisories":"off"}}],"thresholds":{}}]}"#,
    )
    .unwrap();
    src
}

#[test]
fn a_scan_writes_only_private_files_even_under_umask_022() {
    let work = tempfile::tempdir().unwrap();
    let src = source(work.path());
    let data = work.path().join("data");
    // A data directory an earlier version left open to everyone is closed again.
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = work.path().join("bundle");
    let status = Command::new("sh")
        .arg("-c")
        .arg("umask 022; exec \"$@\"")
        .arg("sh")
        .arg(env!("CARGO_BIN_EXE_certus"))
        .args(["scan", src.to_str().unwrap(), "--manifest"])
        .arg(work.path().join("m.json"))
        .arg("--out")
        .arg(&out)
        .arg("--keep-workspace")
        .env("CERTUS_ASSURANCE_ARTIFACT_ROOT", &data)
        .env(
            "CERTUS_ASSURANCE_TOOLS_BIN_DIR",
            work.path().join("no-tools"),
        )
        .env_remove("CERTUS_ASSURANCE_MANIFEST_VERIFICATION_REQUIRED")
        .env_remove("CERTUS_ASSURANCE_MANIFEST_VERIFICATION_KEY_REF")
        .env("PATH", "/usr/bin:/bin")
        .output()
        .unwrap();
    assert_eq!(
        status.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    assert!(data.join("certus.db").is_file());
    assert!(data.join("keys").is_dir());
    assert!(data.join("runs").is_dir(), "the kept workspace");
    assert_eq!(open_to_others(&data), Vec::<String>::new());
    assert_eq!(open_to_others(&out), Vec::<String>::new());
}

#[test]
fn serve_keeps_its_files_private_and_its_paths_and_pid_out_of_what_clients_see() {
    let work = tempfile::tempdir().unwrap();
    let src = source(work.path());
    sh(work.path(), "tar -cf app.tar -C src .");
    let data = work.path().join("data");
    let key = "test-api-key-0123456789";
    let hash = certus()
        .args(["serve", "--hash-key", key])
        .output()
        .unwrap();
    std::fs::write(
        work.path().join("keys.json"),
        format!(
            r#"[{{"key_sha256": "{}", "tenant": "acme", "workspaces": ["ws"]}}]"#,
            String::from_utf8(hash.stdout).unwrap().trim()
        ),
    )
    .unwrap();
    let port = certus_testkit::free_port();
    let _server = certus_testkit::KillOnDrop(
        Command::new("sh")
            .arg("-c")
            .arg("umask 022; exec \"$@\"")
            .arg("sh")
            .arg(env!("CARGO_BIN_EXE_certus"))
            .args([
                "serve",
                "--addr",
                &format!("127.0.0.1:{port}"),
                "--api-keys",
            ])
            .arg(work.path().join("keys.json"))
            .arg("--allow-root")
            .arg(&src)
            .env("CERTUS_ASSURANCE_ARTIFACT_ROOT", &data)
            .env(
                "CERTUS_ASSURANCE_TOOLS_BIN_DIR",
                work.path().join("no-tools"),
            )
            .env_remove("CERTUS_ASSURANCE_MANIFEST_VERIFICATION_REQUIRED")
            .env_remove("CERTUS_ASSURANCE_MANIFEST_VERIFICATION_KEY_REF")
            .env("PATH", "/usr/bin:/bin")
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    certus_testkit::wait_for_port(port);
    let base = format!("http://127.0.0.1:{port}/v1/security-scans");
    let auth = format!("-H 'Authorization: Bearer {key}'");
    let uploaded: serde_json::Value = serde_json::from_str(&sh(
        work.path(),
        &format!("curl -sf {auth} -F file=@app.tar {base}/upload-archive"),
    ))
    .unwrap();
    let archive_path = uploaded["archive_path"].as_str().unwrap();
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(work.path().join("m.json")).unwrap()).unwrap();
    let mut ids = Vec::new();
    for source in [
        serde_json::json!({"source_type": "archive", "archive_path": archive_path}),
        serde_json::json!({"source_type": "directory", "directory_path": src}),
    ] {
        let mut body = serde_json::json!({"workspace_id": "ws", "component_id": "c", "assessment_id": "a",
                                          "manifest": manifest});
        body.as_object_mut()
            .unwrap()
            .extend(source.as_object().unwrap().clone());
        std::fs::write(work.path().join("body.json"), body.to_string()).unwrap();
        let accepted: serde_json::Value = serde_json::from_str(&sh(
            work.path(),
            &format!("curl -sf {auth} -H 'content-type: application/json' -d @body.json {base}"),
        ))
        .unwrap();
        ids.push(accepted["test_id"].as_str().unwrap().to_string());
    }

    let data_text = data.display().to_string();
    let canonical = data.canonicalize().unwrap().display().to_string();
    let leaks = |text: &str| text.contains(&data_text) || text.contains(&canonical);
    for id in &ids {
        let mut record = serde_json::Value::Null;
        for _ in 0..1200 {
            record =
                serde_json::from_str(&sh(work.path(), &format!("curl -sf {auth} {base}/{id}")))
                    .unwrap();
            if record["status"] == "SUCCEEDED" || record["status"] == "FAILED" {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        assert_eq!(record["status"], "SUCCEEDED", "{record}");
        assert!(
            record["bundle_location"]
                .as_str()
                .unwrap()
                .starts_with("<data>/bundles/"),
            "{record}"
        );
        // The paths the client gave are its own input and shown as given; nothing else names the data dir.
        let mut shown = record.clone();
        let fields = shown.as_object_mut().unwrap();
        for client_input in ["archive_path", "directory_path", "submission"] {
            fields.remove(client_input);
        }
        let text = shown.to_string();
        assert!(!leaks(&text), "{text}");
        assert!(!text.contains("pid:"), "{text}");
        assert!(record.get("runner").is_none(), "{record}");
        for route in ["evidence", "audit"] {
            let answer = sh(work.path(), &format!("curl -sf {auth} {base}/{id}/{route}"));
            let value: serde_json::Value = serde_json::from_str(&answer).unwrap();
            let shown = if route == "audit" {
                value["job"]["bundle_location"].to_string()
            } else {
                answer.clone()
            };
            assert!(!leaks(&shown), "{route}: {shown}");
        }
        let watched = certus()
            .args([
                "watch",
                id,
                "--server",
                &format!("ws://127.0.0.1:{port}"),
                "--token",
                key,
                "--json",
            ])
            .output()
            .unwrap();
        let events = String::from_utf8_lossy(&watched.stdout);
        assert!(events.contains("scan_complete"), "{events}");
        for line in events.lines() {
            let mut event: serde_json::Value = serde_json::from_str(line).unwrap();
            if let Some(fields) = event.as_object_mut() {
                fields.remove("archive_path");
                fields.remove("directory_path");
            }
            let text = event.to_string();
            assert!(!leaks(&text), "{text}");
            assert!(!text.contains("pid:"), "{text}");
        }
    }
    let listed = sh(work.path(), &format!("curl -sf {auth} {base}"));
    let listed: serde_json::Value = serde_json::from_str(&listed).unwrap();
    for item in listed["items"].as_array().unwrap() {
        assert!(
            item["bundle_location"]
                .as_str()
                .unwrap()
                .starts_with("<data>/"),
            "{item}"
        );
        assert!(item.get("runner").is_none(), "{item}");
    }

    assert!(data.join("certus.db").is_file());
    assert!(data.join("uploads").is_dir());
    assert!(data.join("bundles").is_dir());
    assert_eq!(open_to_others(&data), Vec::<String>::new());
}
