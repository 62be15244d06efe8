//! Verifying a bundle as an auditor would: every file against the index, the attestation's subjects against
//! the index, the DSSE signature against a pinned (or the published) key, the manifest digest against the
//! record, and the manifest signature when a key for it is given. Every check reports its own verdict.

use std::collections::BTreeMap;
use std::path::Path;

use certus_attest::{Envelope, Statement};
use certus_verify::{PublicKey, Signature, TrustMaterial};
use serde::Serialize;

use crate::bundle::{self, check_index, read_index};
use crate::digest::sha256_hex;
use crate::pipeline::{read_capped, MAX_SIGNATURE_BYTES};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Fail,
    Skip,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub verdict: Verdict,
    pub detail: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct BundleReport {
    pub checks: Vec<Check>,
}

impl BundleReport {
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.verdict != Verdict::Fail)
    }

    fn add(&mut self, name: &'static str, verdict: Verdict, detail: impl Into<String>) {
        self.checks.push(Check {
            name,
            verdict,
            detail: detail.into(),
        });
    }
}

/// What the auditor pins: Assurance's attestation key, and the manifest owner's key.
#[derive(Default)]
pub struct Pins<'a> {
    pub attestation_key: Option<&'a PublicKey>,
    pub manifest_key: Option<&'a PublicKey>,
}

const MAX_JSON_BYTES: usize = 64 * 1024 * 1024;

pub fn verify_bundle(dir: &Path, pins: &Pins<'_>) -> BundleReport {
    let mut report = BundleReport::default();
    let index = match read_index(dir) {
        Ok(index) => index,
        Err(e) => {
            report.add("index", Verdict::Fail, format!("{}: {e}", bundle::INDEX));
            return report;
        }
    };
    match check_index(dir, &index) {
        Ok(problems) if problems.is_empty() => report.add(
            "index",
            Verdict::Pass,
            format!("{} files match their size and sha256", index.files.len()),
        ),
        Ok(problems) => {
            for p in problems {
                report.add("index", Verdict::Fail, p.to_string());
            }
        }
        Err(e) => report.add("index", Verdict::Fail, e.to_string()),
    }

    let envelope = read_capped(&dir.join(bundle::ATTESTATION), MAX_JSON_BYTES)
        .map_err(|e| e.to_string())
        .and_then(|bytes| Envelope::from_json(&bytes).map_err(|e| e.to_string()));
    let envelope = match envelope {
        Ok(env) => env,
        Err(e) => {
            report.add(
                "attestation",
                Verdict::Fail,
                format!("{}: {e}", bundle::ATTESTATION),
            );
            return report;
        }
    };
    match Statement::from_envelope(&envelope) {
        Ok(statement) => {
            report.add(
                "attestation",
                Verdict::Pass,
                "in-toto Statement v1 with SLSA Provenance v1",
            );
            check_subjects(&mut report, &statement, &index);
            check_manifest_digest(&mut report, dir, &statement);
        }
        Err(e) => report.add(
            "attestation",
            Verdict::Fail,
            format!("{}: {e}", bundle::ATTESTATION),
        ),
    }
    check_signature(&mut report, dir, &envelope, pins.attestation_key);
    check_manifest_signature(&mut report, dir, pins.manifest_key);
    report
}

fn check_subjects(report: &mut BundleReport, statement: &Statement, index: &bundle::BundleIndex) {
    let subjects: BTreeMap<&str, Option<&String>> = statement
        .subject
        .iter()
        .map(|s| (s.name.as_str(), s.digest.get("sha256")))
        .collect();
    let expected: BTreeMap<&str, String> = index
        .files
        .iter()
        .filter(|e| e.path != bundle::ATTESTATION)
        .map(|e| (e.path.as_str(), e.sha256.to_string()))
        .collect();
    let mut problems = Vec::new();
    for (path, digest) in &expected {
        match subjects.get(path) {
            None => problems.push(format!(
                "{path}: in the bundle but not an attestation subject"
            )),
            Some(Some(d)) if *d == digest => {}
            Some(_) => problems.push(format!("{path}: sha256 differs from the attested subject")),
        }
    }
    for path in subjects.keys().filter(|p| !expected.contains_key(*p)) {
        problems.push(format!("{path}: attested but not in the bundle"));
    }
    if problems.is_empty() {
        report.add(
            "subjects",
            Verdict::Pass,
            format!("{} subjects match the index", subjects.len()),
        );
    }
    for p in problems {
        report.add("subjects", Verdict::Fail, p);
    }
}

fn check_manifest_digest(report: &mut BundleReport, dir: &Path, statement: &Statement) {
    let Ok(manifest) = std::fs::read(dir.join(bundle::MANIFEST_JSON)) else {
        report.add(
            "manifest digest",
            Verdict::Skip,
            "the bundle has no manifest.json",
        );
        return;
    };
    let actual = sha256_hex(&manifest);
    let attested =
        statement.predicate.build_definition.external_parameters["manifest_digest"].as_str();
    if attested == Some(actual.as_str()) {
        report.add(
            "manifest digest",
            Verdict::Pass,
            format!("manifest.json sha256 {actual} as attested"),
        );
    } else {
        report.add(
            "manifest digest",
            Verdict::Fail,
            format!(
                "manifest.json sha256 {actual} differs from the attested {}",
                attested.unwrap_or("(none)")
            ),
        );
    }
}

fn check_signature(
    report: &mut BundleReport,
    dir: &Path,
    envelope: &Envelope,
    pinned: Option<&PublicKey>,
) {
    let published = std::fs::read_to_string(dir.join(bundle::SIGNING_KEY))
        .ok()
        .and_then(|pem| PublicKey::from_pem(&pem).ok());
    let (key, source) = match (pinned, &published) {
        (Some(pin), Some(published)) if pin.fingerprint() != published.fingerprint() => {
            report.add(
                "signature",
                Verdict::Fail,
                format!(
                    "{}: published key {} is not the pinned key {}",
                    bundle::SIGNING_KEY,
                    published.fingerprint(),
                    pin.fingerprint()
                ),
            );
            return;
        }
        (Some(pin), _) => (pin, "the pinned key"),
        (None, Some(published)) => (
            published,
            "the key published in the bundle (pass --key to pin it)",
        ),
        (None, None) => {
            report.add(
                "signature",
                Verdict::Fail,
                format!("{} is missing or unreadable", bundle::SIGNING_KEY),
            );
            return;
        }
    };
    let pae = match envelope.pae_bytes() {
        Ok(pae) => pae,
        Err(e) => {
            report.add(
                "signature",
                Verdict::Fail,
                format!("{}: {e}", bundle::ATTESTATION),
            );
            return;
        }
    };
    let valid = envelope.signatures.iter().any(|s| {
        s.keyid == key.fingerprint()
            && s.decode_sig()
                .is_ok_and(|sig| key.verify(&pae, &sig).is_ok())
    });
    if valid {
        report.add(
            "signature",
            Verdict::Pass,
            format!(
                "DSSE signature valid with {source}, sha256:{}",
                key.fingerprint()
            ),
        );
    } else {
        report.add(
            "signature",
            Verdict::Fail,
            format!(
                "{}: no signature verifies with {source}, sha256:{}",
                bundle::ATTESTATION,
                key.fingerprint()
            ),
        );
    }
}

fn check_manifest_signature(report: &mut BundleReport, dir: &Path, key: Option<&PublicKey>) {
    let Ok(sig) = read_capped(&dir.join(bundle::MANIFEST_SIG), MAX_SIGNATURE_BYTES) else {
        report.add(
            "manifest signature",
            Verdict::Skip,
            "the manifest was not signed (no manifest.sig)",
        );
        return;
    };
    let Some(key) = key else {
        report.add(
            "manifest signature",
            Verdict::Skip,
            "manifest.sig present; pass --manifest-key to verify it",
        );
        return;
    };
    let manifest = match std::fs::read(dir.join(bundle::MANIFEST_JSON)) {
        Ok(bytes) => bytes,
        Err(e) => {
            report.add(
                "manifest signature",
                Verdict::Fail,
                format!(
                    "manifest.sig present but {} is unreadable: {e}",
                    bundle::MANIFEST_JSON
                ),
            );
            return;
        }
    };
    let result = Signature::parse(&sig).and_then(|s| {
        certus_verify::verify(
            &s,
            Some(&manifest),
            &TrustMaterial {
                key: Some(key),
                ..Default::default()
            },
        )
    });
    match result {
        Ok(v) => report.add(
            "manifest signature",
            Verdict::Pass,
            format!(
                "manifest.sig valid ({}, key sha256:{})",
                serde_json::to_value(v.method)
                    .ok()
                    .and_then(|m| m.as_str().map(str::to_string))
                    .unwrap_or_default(),
                key.fingerprint()
            ),
        ),
        Err(e) => report.add(
            "manifest signature",
            Verdict::Fail,
            format!("manifest.sig: {e}"),
        ),
    }
}
