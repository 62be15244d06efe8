//! Digests are typed (`Sha256Digest`) in the job record, the events, the Trust upload request and the bundle
//! index, and stored JSON keeps its text: each fixture below is written as those records were stored while
//! the digests were strings, reads back, and writes the same JSON. A digest that is not one is refused,
//! naming the record and the field.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how it reports the unexpected

use certus_core::bundle::BundleIndex;
use certus_core::digest::Sha256Digest;
use certus_core::event::{Event, EventBody};
use certus_core::job::Job;
use certus_core::record::from_stored_json;
use certus_core::trust::TrustRequest;
use certus_core::CoreError;
use serde_json::Value;

const MANIFEST: &str = "ecc4b0dd74e195486161fa013e0f2b669b79c46675d7720c2d99a2e3ec1d79b8";
const UPLOADED: &str = include_str!("fixtures/job-uploaded.json");

const EVENT: &str = r#"{"type":"scan_complete","timestamp":"2026-12-05T02:33:12.118Z","test_id":"test_0123456789ab","seq":41,"bundle":"bundles/test_0123456789ab","manifest_digest":"ecc4b0dd74e195486161fa013e0f2b669b79c46675d7720c2d99a2e3ec1d79b8","status":"SUCCEEDED"}"#;
const EVENT_WITHOUT_MANIFEST: &str = r#"{"type":"scan_complete","timestamp":"2026-12-05T02:33:12.118Z","test_id":"test_0123456789ab","seq":3,"bundle":null,"manifest_digest":null,"status":"FAILED"}"#;

const INDEX: &str = r#"{
  "version": 1,
  "files": [
    {
      "path": "manifest.json",
      "size": 412,
      "sha256": "ecc4b0dd74e195486161fa013e0f2b669b79c46675d7720c2d99a2e3ec1d79b8"
    },
    {
      "path": "scan.json",
      "size": 2,
      "sha256": "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
    }
  ]
}"#;

const TRUST_REQUEST: &str = r#"{"scan_id":"test_0123456789ab","tier":"basic","inner_signature":{"signer":"certus-assurance@example.invalid","timestamp":"2026-12-05T02:33:40Z","signature":"c2ln","algorithm":"ed25519","certificate":null,"key_fingerprint":"","signed_content":""},"artifacts":[{"name":"scan.json","hash":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2}],"metadata":{"git_url":"https://git.example.invalid/a.git","branch":"main","commit":"0123456789abcdef0123456789abcdef01234567","requested_by":null,"source_type":"git"},"manifest_digest":"ecc4b0dd74e195486161fa013e0f2b669b79c46675d7720c2d99a2e3ec1d79b8","storage_destinations":{"raw_s3":true,"oci_registry":false,"raw_uri":"s3://raw/security-scans/test_0123456789ab/incoming/","raw_bucket":"raw","oci_repository":null}}"#;

fn same_json(written: &impl serde::Serialize, stored: &str) {
    assert_eq!(
        serde_json::to_value(written).unwrap(),
        serde_json::from_str::<Value>(stored).unwrap()
    );
}

#[test]
fn stored_digests_read_as_digests_and_write_the_same_text() {
    let manifest: Sha256Digest = MANIFEST.parse().unwrap();

    let job = Job::from_json(UPLOADED.trim_end()).unwrap();
    assert_eq!(job.manifest_digest, Some(manifest));
    assert_eq!(serde_json::to_string(&job).unwrap(), UPLOADED.trim_end());

    for stored in [EVENT, EVENT_WITHOUT_MANIFEST] {
        let event = Event::from_json(stored).unwrap();
        assert_eq!(event.to_json_line(), stored);
    }
    let EventBody::ScanComplete {
        manifest_digest, ..
    } = Event::from_json(EVENT).unwrap().body
    else {
        panic!("not a scan_complete");
    };
    assert_eq!(manifest_digest, Some(manifest));

    let index = BundleIndex::from_json(INDEX.as_bytes()).unwrap();
    assert_eq!(index.files[0].sha256, manifest);
    assert_eq!(index.files[1].sha256, Sha256Digest::of(b"{}"));
    assert_eq!(serde_json::to_string_pretty(&index).unwrap(), INDEX);

    let request: TrustRequest =
        from_stored_json("trust request", TRUST_REQUEST.as_bytes()).unwrap();
    assert_eq!(request.manifest_digest, Some(manifest));
    same_json(&request, TRUST_REQUEST);
}

/// The stored text with `from` replaced once by `to`.
fn edited(stored: &str, from: &str, to: &str) -> String {
    assert!(stored.contains(from), "{from}");
    stored.replacen(from, to, 1)
}

fn corrupt(result: Result<impl std::fmt::Debug, CoreError>) -> (String, String) {
    match result {
        Err(CoreError::CorruptRecord { what, reason }) => (what, reason),
        other => panic!("not refused as corrupt: {other:?}"),
    }
}

#[test]
fn a_digest_that_is_not_one_is_refused_naming_the_record_and_the_field() {
    let prefixed = format!("sha256:{MANIFEST}");
    let short = &MANIFEST[..12];

    let (what, reason) = corrupt(Job::from_json(&edited(UPLOADED, MANIFEST, short)));
    assert_eq!(what, "job record, field 'manifest_digest'");
    assert!(reason.contains("12 characters long"), "{reason}");

    let (what, reason) = corrupt(Event::from_json(&edited(EVENT, MANIFEST, &prefixed)));
    assert_eq!(what, "event");
    assert!(
        reason.contains("field 'manifest_digest'") && reason.contains("'sha256:' prefix"),
        "{reason}"
    );

    let upper = MANIFEST.to_uppercase();
    let (what, reason) = corrupt(BundleIndex::from_json(
        edited(INDEX, MANIFEST, &upper).as_bytes(),
    ));
    assert_eq!(what, "bundle-index.json, field 'files[0].sha256'");
    assert!(reason.contains("lowercase hex"), "{reason}");

    let (what, _) = corrupt(from_stored_json::<TrustRequest>(
        "trust request",
        edited(TRUST_REQUEST, MANIFEST, short).as_bytes(),
    ));
    assert_eq!(what, "trust request, field 'manifest_digest'");
}
