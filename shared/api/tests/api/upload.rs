//! `upload-archive`: a real archive is stored safely and scans as an archive source; wrong types, wrong
//! contents, oversize files and hostile names are refused or neutralised.

use std::process::Command;

use reqwest::multipart::{Form, Part};
use serde_json::{json, Value};

use crate::support::{run, start, Options, Server};

async fn upload(s: &Server, name: &str, bytes: Vec<u8>) -> reqwest::Response {
    upload_as(s, &s.acme.key, name, bytes).await
}

async fn upload_as(s: &Server, key: &str, name: &str, bytes: Vec<u8>) -> reqwest::Response {
    let form = Form::new().part("file", Part::bytes(bytes).file_name(name.to_string()));
    s.http
        .post(s.url("/v1/security-scans/upload-archive"))
        .bearer_auth(key)
        .multipart(form)
        .send()
        .await
        .expect("upload")
}

/// Uploads kept on the server, all tenants together (`<uploads>/<tenant>/<upload>`).
fn stored_uploads(s: &Server) -> usize {
    std::fs::read_dir(&s.upload_dir)
        .unwrap()
        .map(|tenant| std::fs::read_dir(tenant.unwrap().path()).unwrap().count())
        .sum()
}

/// An archive submission for `workspace` naming `archive_path`.
fn archive_submission(s: &Server, workspace: &str, archive_path: &str) -> Value {
    let mut submission = s.body(workspace, "sample");
    let fields = submission.as_object_mut().unwrap();
    fields.remove("directory_path");
    fields.insert("source_type".into(), json!("archive"));
    fields.insert("archive_path".into(), json!(archive_path));
    submission
}

async fn wait_gone(path: &std::path::Path) {
    for _ in 0..600 {
        if !path.exists() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{} is still there", path.display());
}

fn tar_gz(s: &Server) -> Vec<u8> {
    run(Command::new("tar")
        .arg("-czf")
        .arg("-")
        .arg("-C")
        .arg(&s.source)
        .arg("."))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_uploaded_archive_is_stored_safely_and_scans() {
    let s = start(Options::default()).await;
    let bytes = tar_gz(&s);
    let response = upload(&s, "../../../etc/code.tar.gz", bytes.clone()).await;
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    let path = std::path::PathBuf::from(body["archive_path"].as_str().unwrap());
    assert_eq!(path.file_name().unwrap(), "code.tar.gz");
    let subdir = path.parent().unwrap();
    let tenant_dir = subdir.parent().unwrap();
    assert_eq!(tenant_dir.parent().unwrap(), s.upload_dir);
    assert!(
        tenant_dir
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("t-"),
        "the tenant's upload directory"
    );
    assert_eq!(
        subdir.file_name().unwrap().len(),
        32,
        "a random per-upload directory"
    );
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
    assert_eq!(body["size"], bytes.len());
    assert_eq!(body["sha256"], certus_core::digest::sha256_hex(&bytes));

    let mut submission = s.body("ws-acme", "sample");
    let fields = submission.as_object_mut().unwrap();
    fields.remove("directory_path");
    fields.insert("source_type".into(), json!("archive"));
    fields.insert("archive_path".into(), body["archive_path"].clone());
    let response = s.submit_as(&s.acme.key, &submission).await;
    assert_eq!(response.status(), 202);
    let test_id = response.json::<Value>().await.unwrap()["test_id"]
        .as_str()
        .unwrap()
        .to_string();
    let job = s.wait_terminal(&test_id).await;
    assert_eq!(job.status.as_str(), "SUCCEEDED", "{:?}", job.errors);
    assert!(job.source_digest.is_some());

    // A second upload of the same name gets its own directory.
    let again: Value = upload(&s, "code.tar.gz", bytes).await.json().await.unwrap();
    assert_ne!(again["archive_path"], body["archive_path"]);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn wrong_types_contents_and_sizes_are_refused() {
    let s = start(Options::default()).await;
    let response = upload(&s, "code.rar", b"Rar!\x1a\x07\x00".to_vec()).await;
    assert_eq!(response.status(), 415);
    assert_eq!(
        response.json::<Value>().await.unwrap()["detail"],
        "unsupported archive: 'code.rar' is not a .tar, .tar.gz, .tgz or .zip file"
    );
    let response = upload(&s, "code.zip", b"#!/bin/sh\necho not a zip\n".to_vec()).await;
    assert_eq!(response.status(), 415);
    assert_eq!(
        response.json::<Value>().await.unwrap()["detail"],
        "unsupported archive: the file's content is not a zip archive as its name says"
    );
    let response = upload(&s, "code.tar", tar_gz(&s)).await;
    assert_eq!(response.status(), 415, "gzip bytes named .tar");

    let mut big = vec![0x1f, 0x8b, 0x08];
    big.resize(300 * 1024, 0);
    let response = upload(&s, "big.tgz", big).await;
    assert_eq!(response.status(), 413);
    assert_eq!(
        response.json::<Value>().await.unwrap()["detail"],
        "request body is larger than the limit of 262144 bytes"
    );

    // Not a file part, and not multipart at all.
    let form = Form::new().text("file", "just text");
    let response = s
        .http
        .post(s.url("/v1/security-scans/upload-archive"))
        .bearer_auth(&s.acme.key)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let response = s
        .http
        .post(s.url("/v1/security-scans/upload-archive"))
        .bearer_auth(&s.acme.key)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    // Two files in one upload.
    let gz = tar_gz(&s);
    let form = Form::new()
        .part("file", Part::bytes(gz.clone()).file_name("a.tgz"))
        .part("file2", Part::bytes(gz).file_name("b.tgz"));
    let response = s
        .http
        .post(s.url("/v1/security-scans/upload-archive"))
        .bearer_auth(&s.acme.key)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(
        response.json::<Value>().await.unwrap()["detail"],
        "malformed request: send exactly one file part per upload"
    );
    // Nothing refused was left behind.
    assert_eq!(stored_uploads(&s), 0);
    s.stop().await;
}

/// W1: an upload is deleted once the scan that used it has ended.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_upload_is_deleted_once_the_scan_that_used_it_ends() {
    let s = start(Options::default()).await;
    let body: Value = upload(&s, "code.tar.gz", tar_gz(&s))
        .await
        .json()
        .await
        .unwrap();
    let path = std::path::PathBuf::from(body["archive_path"].as_str().unwrap());
    let submission = archive_submission(&s, "ws-acme", path.to_str().unwrap());
    let response = s.submit_as(&s.acme.key, &submission).await;
    assert_eq!(response.status(), 202);
    let test_id = response.json::<Value>().await.unwrap()["test_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(s.wait_terminal(&test_id).await.status.as_str(), "SUCCEEDED");
    wait_gone(path.parent().unwrap()).await;
    assert_eq!(stored_uploads(&s), 0);
    s.stop().await;
}

/// W1: an upload is tied to the uploader's tenant; another tenant naming its path gets exactly the answer a
/// path that does not exist gets (before, its scan SUCCEEDED).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn another_tenants_upload_path_answers_as_a_path_that_does_not_exist() {
    let s = start(Options::default()).await;
    let body: Value = upload_as(&s, &s.globex.key, "code.tar.gz", tar_gz(&s))
        .await
        .json()
        .await
        .unwrap();
    let theirs = body["archive_path"].as_str().unwrap().to_string();
    let path = std::path::Path::new(&theirs);
    let random = path
        .parent()
        .unwrap()
        .file_name()
        .unwrap()
        .to_str()
        .unwrap();
    let missing = theirs.replace(random, &"0".repeat(32));
    let answer = |key: String, archive: String| {
        let s = &s;
        async move {
            let response = s
                .submit_as(&key, &archive_submission(s, "ws-acme", &archive))
                .await;
            (response.status().as_u16(), response.text().await.unwrap())
        }
    };
    let (status, foreign) = answer(s.acme.key.clone(), theirs.clone()).await;
    assert_eq!(status, 422, "{foreign}");
    assert!(foreign.contains("archive_path"), "{foreign}");
    let (status, absent) = answer(s.acme.key.clone(), missing.clone()).await;
    assert_eq!(status, 422);
    assert_eq!(
        foreign.replace(&theirs, "<path>"),
        absent.replace(&missing, "<path>")
    );
    // The uploader's own tenant may scan it.
    let own = s
        .submit_as(&s.globex.key, &archive_submission(&s, "ws-globex", &theirs))
        .await;
    assert_eq!(own.status(), 202);
    s.stop().await;
}

/// W1: a tenant keeps at most a quota of uploads, by count and by bytes (429 past it, nothing stored);
/// another tenant's quota is its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_upload_quota_counts_each_tenants_uploads_and_bytes() {
    // A large archive (16 KiB that gzip cannot shrink) and a small one (a few hundred bytes), so that the
    // byte quota (2.5 large archives) is reached by the third large one and never by three small ones.
    let large = {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("app.py"), "print('hello')\n").unwrap();
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let noise: Vec<u8> = (0..16 * 1024)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state.to_le_bytes()[0]
            })
            .collect();
        std::fs::write(dir.path().join("blob.bin"), noise).unwrap();
        run(Command::new("tar")
            .arg("-czf")
            .arg("-")
            .arg("-C")
            .arg(dir.path())
            .arg("."))
    };
    let size = large.len() as u64;
    let s = start(Options {
        upload_quota: Some(certus_api::UploadQuota {
            max_count: 3,
            max_bytes: 2 * size + size / 2,
            ..certus_api::UploadQuota::default()
        }),
        ..Options::default()
    })
    .await;
    for _ in 0..2 {
        assert_eq!(upload(&s, "code.tar.gz", large.clone()).await.status(), 201);
    }
    // Bytes: a third upload would pass 2.5 times its size.
    let refused = upload(&s, "code.tar.gz", large).await;
    assert_eq!(refused.status(), 429);
    let detail = refused.json::<Value>().await.unwrap()["detail"].to_string();
    assert!(detail.contains("upload quota reached"), "{detail}");
    assert_eq!(stored_uploads(&s), 2, "the refused upload was kept");
    // Count: three small uploads of another tenant, then a fourth refused.
    let small = run(Command::new("tar")
        .arg("-czf")
        .arg("-")
        .arg("-C")
        .arg(&s.source)
        .arg("app.py"));
    assert!((small.len() as u64) * 3 < 2 * size + size / 2);
    for _ in 0..3 {
        let response = upload_as(&s, &s.globex.key, "one.tar.gz", small.clone()).await;
        assert_eq!(response.status(), 201);
    }
    let response = upload_as(&s, &s.globex.key, "one.tar.gz", small).await;
    assert_eq!(response.status(), 429);
    assert_eq!(stored_uploads(&s), 5);
    s.stop().await;
}

/// W1: an upload no scan used is removed once its time to live has passed (here zero: the server's next
/// sweep, which runs every second at that setting).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_upload_no_scan_used_is_removed_after_its_time_to_live() {
    let s = start(Options {
        upload_quota: Some(certus_api::UploadQuota {
            ttl: std::time::Duration::ZERO,
            ..certus_api::UploadQuota::default()
        }),
        ..Options::default()
    })
    .await;
    let body: Value = upload(&s, "code.tar.gz", tar_gz(&s))
        .await
        .json()
        .await
        .unwrap();
    let path = std::path::PathBuf::from(body["archive_path"].as_str().unwrap());
    wait_gone(path.parent().unwrap()).await;
    s.stop().await;
}
