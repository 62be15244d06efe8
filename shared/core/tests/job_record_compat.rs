//! Job records and audit trails as they are stored today keep loading, and keep their bytes.
//!
//! The fixtures were written by `certus scan` and `certus upload-request` (local data directory, embedded
//! Trust gate) before the record's manifest metadata, manifest verification, findings summary, Trust proof
//! and upload trail were typed: `job-uploaded.json` (a signed manifest, uploaded) and `job-failed.json`
//! (an unsigned manifest, a breached threshold, a tool that did not run) are the `record` column of the
//! SQLite store, `trail-uploaded.json` the audit trail of the first.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how it reports the unexpected

use certus_core::audit::{changes, AuditEntry, AuditKind};
use certus_core::audit_chain::check_chain;
use certus_core::job::{Job, JobStatus, UploadStatus};
use serde_json::Value;

const UPLOADED: &str = include_str!("fixtures/job-uploaded.json");
const FAILED: &str = include_str!("fixtures/job-failed.json");
const TRAIL: &str = include_str!("fixtures/trail-uploaded.json");

fn load(text: &str) -> Job {
    Job::from_json(text).unwrap()
}

#[test]
fn stored_records_load_and_serialize_to_the_same_bytes() {
    for text in [UPLOADED, FAILED] {
        let stored = text.trim_end();
        let job = load(stored);
        assert_eq!(serde_json::to_string(&job).unwrap(), stored);
        // scan.json and the API write the record through `serde_json::Value`.
        assert_eq!(
            serde_json::to_value(&job).unwrap(),
            serde_json::from_str::<Value>(stored).unwrap()
        );
    }
    let uploaded = load(UPLOADED);
    assert!(uploaded.manifest_verification.unwrap().verified);
    assert_eq!(uploaded.upload_audit.len(), 3);
    assert!(uploaded.verification_proof.unwrap().inner_signature_valid);
    let failed = load(FAILED);
    assert_eq!(failed.findings_summary.unwrap().totals.critical, 1);
    assert_eq!(
        failed.manifest_metadata.unwrap().tools_not_run.unwrap()[0].id,
        "semgrep"
    );
}

/// The trail written from the untyped record is still one chain, and what the typed record gives for
/// each change is exactly what was trailed then: new entries hash as the old ones did.
#[test]
fn the_trail_of_a_stored_record_is_what_the_typed_record_writes() {
    let job = load(UPLOADED);
    let trail: Vec<AuditEntry> = serde_json::from_str(TRAIL).unwrap();
    let check = check_chain(&trail, job.audit_head.as_ref()).unwrap();
    assert_eq!(check.broken, None);
    assert_eq!(check.head, job.audit_head);

    let mut before = job.clone();
    before.manifest_verification = None;
    before.status = JobStatus::Running;
    before.upload_audit.clear();
    before.upload_status = UploadStatus::Permitted;
    let found = changes(&before, &job);
    let kinds: Vec<AuditKind> = found.iter().map(|(kind, _)| *kind).collect();
    assert_eq!(
        kinds,
        [
            AuditKind::ManifestVerification,
            AuditKind::StatusChanged,
            AuditKind::TrustExchange,
            AuditKind::UploadStep,
            AuditKind::Publication,
            AuditKind::UploadStatusChanged,
        ]
    );
    for ((kind, detail), seq) in found.iter().zip([5, 7, 8, 9, 11, 12]) {
        let entry = &trail[seq - 1];
        assert_eq!(entry.kind, *kind);
        assert_eq!(detail, &entry.detail, "{kind}");
    }
}

fn edited(text: &str, edit: impl FnOnce(&mut Value)) -> String {
    let mut value: Value = serde_json::from_str(text).unwrap();
    edit(&mut value);
    serde_json::to_string(&value).unwrap()
}

#[test]
fn records_from_before_the_later_fields_still_load_and_keep_their_bytes() {
    let older = edited(FAILED, |job| {
        let record = job.as_object_mut().unwrap();
        for field in [
            "audit_head",
            "runner",
            "upload_audit",
            "snapshot_digest",
            "tenant",
        ] {
            record.remove(field);
        }
        let info = record["manifest_metadata"].as_object_mut().unwrap();
        for field in ["gate", "suppressions", "threshold_scope", "tools_not_run"] {
            info.remove(field);
        }
    });
    let job = load(&older);
    let info = job.manifest_metadata.as_ref().unwrap();
    assert_eq!(info.gate, None);
    assert_eq!(info.tools_selected, ["secrets", "sbom"]);
    let again: Value = serde_json::to_value(&job).unwrap();
    assert_eq!(
        again["manifest_metadata"],
        serde_json::from_str::<Value>(&older).unwrap()["manifest_metadata"]
    );
}

#[test]
fn an_unknown_or_malformed_field_is_refused_naming_its_path() {
    type Edit = fn(&mut Value);
    let cases: [(Edit, &str); 7] = [
        (
            |job| job["manifest_verification"]["verified_by"] = "me".into(),
            "field 'manifest_verification.verified_by'",
        ),
        (
            |job| job["findings_summary"]["totals"]["critical"] = "many".into(),
            "field 'findings_summary.totals.critical'",
        ),
        (
            |job| job["manifest_metadata"]["colour"] = "red".into(),
            "field 'manifest_metadata.colour'",
        ),
        (
            |job| job["manifest_metadata"]["manifest_digest"] = "sha256:ab".into(),
            "field 'manifest_metadata.manifest_digest'",
        ),
        (
            |job| job["source_digest"] = "1F94".into(),
            "field 'source_digest'",
        ),
        (
            |job| job["upload_audit"][1]["step"] = "teleport".into(),
            "field 'upload_audit[1].step'",
        ),
        (
            |job| job["upload_audit"][2]["mirrors"] = 3.into(),
            "field 'upload_audit[2]' is corrupt: unknown field `mirrors`",
        ),
    ];
    for (edit, named) in cases {
        let text = edited(UPLOADED, edit);
        let err = Job::from_json(&text).unwrap_err().to_string();
        assert!(err.contains(named), "{named}: {err}");
    }
}
