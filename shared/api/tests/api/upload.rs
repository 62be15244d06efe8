//! `upload-archive`: a real archive is stored safely and scans as an archive source; wrong types, wrong
//! contents, oversize files and hostile names are refused or neutralised.

use std::process::Command;

use reqwest::multipart::{Form, Part};
use serde_json::{json, Value};

use crate::support::{run, start, Options, Server};

async fn upload(s: &Server, name: &str, bytes: Vec<u8>) -> reqwest::Response {
    let form = Form::new().part("file", Part::bytes(bytes).file_name(name.to_string()));
    s.http
        .post(s.url("/v1/security-scans/upload-archive"))
        .bearer_auth(&s.acme.key)
        .multipart(form)
        .send()
        .await
        .expect("upload")
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
    assert_eq!(subdir.parent().unwrap(), s.upload_dir);
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
    let left: Vec<_> = std::fs::read_dir(&s.upload_dir).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
    s.stop().await;
}
