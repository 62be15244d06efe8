//! The signed attestation of a bundle: an in-toto Statement v1 whose subjects are the final bytes of every
//! bundle file, with a SLSA Provenance v1 predicate (what was scanned, with which manifest and scanners, by
//! whom and when, and the head of the job's hash-chained audit trail when the bundle was sealed, as
//! `internalParameters.audit_trail_head`), wrapped in a DSSE envelope signed by Assurance's key. Also the local signing key.

use std::collections::BTreeMap;
use std::path::Path;

use async_trait::async_trait;
use certus_attest::{
    pae, BuildDefinition, BuildMetadata, Builder, Envelope, Provenance, ResourceDescriptor,
    RunDetails, Signer, SigningKey, Statement, Subject, IN_TOTO_PAYLOAD_TYPE,
};
use serde_json::json;

use crate::bundle::{self, compute_index, BundleIndex, BundleWriter, IndexEntry};
use crate::digest::Sha256Digest;
use crate::error::{CoreError, Result};
use crate::job::Job;
use crate::ports::BundleSigner;
use crate::report::ToolRecord;
use crate::time;

pub const BUILD_TYPE: &str = "https://certus-assurance.invalid/buildtypes/security-scan/v1";
pub const SIGNING_KEY_INFO: &str = "reports/signing/signing-key.json";

fn signing(e: impl std::fmt::Display) -> CoreError {
    CoreError::Signing(e.to_string())
}

/// A signing key held by this process (the local runner's key file).
pub struct LocalSigner {
    key: SigningKey,
}

impl LocalSigner {
    /// Loads the key file, or creates it (mode 0600) on first use.
    pub fn load_or_generate(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| CoreError::io(dir, e))?;
        }
        certus_attest::load_or_generate(path)
            .map(|key| Self { key })
            .map_err(signing)
    }
}

#[async_trait]
impl BundleSigner for LocalSigner {
    fn key_id(&self) -> String {
        self.key.key_id().to_string()
    }

    fn algorithm(&self) -> String {
        self.key.algorithm().as_str().to_string()
    }

    fn public_key_pem(&self) -> String {
        self.key.public_key_pem().to_string()
    }

    async fn sign(&self, message: &[u8]) -> Result<Vec<u8>> {
        Signer::sign(&self.key, message).map_err(signing)
    }
}

/// Who produced the bundle.
#[derive(Debug, Clone)]
pub struct BuilderInfo {
    /// A URI naming this deployment (the local runner, or a Lambda function set).
    pub id: String,
    pub version: String,
}

fn descriptor(
    name: &str,
    uri: Option<String>,
    digest: BTreeMap<String, String>,
) -> ResourceDescriptor {
    ResourceDescriptor {
        uri,
        digest,
        name: Some(name.to_string()),
        annotations: BTreeMap::new(),
    }
}

/// A repository location as an SPDX-style VCS URI: `git+https://…`, `git+ssh://…`, `git+file:///…`.
fn git_uri(url: &str) -> String {
    if url.starts_with("git+") {
        url.to_string()
    } else if url.contains("://") {
        format!("git+{url}")
    } else if let Some((user_host, path)) = url.split_once(':').filter(|(h, _)| h.contains('@')) {
        format!("git+ssh://{user_host}/{}", path.trim_start_matches('/'))
    } else {
        format!("git+file://{url}")
    }
}

/// The SLSA provenance of a finished scan.
pub fn provenance(job: &Job, tools: &[ToolRecord], builder: &BuilderInfo) -> Provenance {
    let mut dependencies = Vec::new();
    let source = match (&job.git_url, &job.commit) {
        (Some(url), Some(commit)) => Some(descriptor(
            "source",
            Some(git_uri(url)),
            [("gitCommit".to_string(), commit.clone())].into(),
        )),
        _ => job.source_digest.as_ref().map(|digest| {
            descriptor(
                "source",
                job.directory_path
                    .as_ref()
                    .or(job.archive_path.as_ref())
                    .map(|path| format!("file://{path}")),
                [("sha256".to_string(), digest.to_string())].into(),
            )
        }),
    };
    dependencies.extend(source);
    if let Some(digest) = &job.manifest_digest {
        dependencies.push(descriptor(
            bundle::MANIFEST_JSON,
            None,
            [("sha256".to_string(), digest.to_string())].into(),
        ));
    }
    for tool in tools {
        let mut d = descriptor(
            &format!("scanner:{}", tool.id),
            Some(format!(
                "pkg:generic/certus-scanner/{}@{}",
                tool.id, tool.version
            )),
            BTreeMap::new(),
        );
        d.annotations
            .insert("status".into(), json!(tool.status.as_str()));
        d.annotations.insert("sample".into(), json!(tool.sample));
        if let Some(cache) = &tool.cache {
            d.annotations.insert("cache".into(), json!(cache));
        }
        dependencies.push(d);
    }
    Provenance {
        build_definition: BuildDefinition {
            build_type: BUILD_TYPE.into(),
            external_parameters: json!({
                "profile": job.profile,
                "manifest_digest": job.manifest_digest,
                "source": job.submission.source,
                "workspace_id": job.ids.workspace_id,
                "component_id": job.ids.component_id,
                "assessment_id": job.ids.assessment_id,
                "requested_by": job.requested_by,
            }),
            internal_parameters: Some(json!({
                "manifest_verification": job.manifest_verification,
                "status": job.status,
                "audit_trail_head": job.audit_head,
            })),
            resolved_dependencies: dependencies,
        },
        run_details: RunDetails {
            builder: Builder {
                id: builder.id.clone(),
                version: [("certus-assurance".to_string(), builder.version.clone())].into(),
            },
            metadata: BuildMetadata {
                invocation_id: Some(job.test_id.clone()),
                started_on: job.started_at.as_ref().map(time::format),
                finished_on: job.completed_at.as_ref().map(time::format),
            },
            byproducts: Vec::new(),
        },
    }
}

/// Publishes the public key, then signs a statement over every file now in the bundle and writes the
/// envelope. Call after the last write of every other file and before the index. Returns the index the bundle
/// is sealed with ([`BundleWriter::write_index_of`]): every file the statement names, with the digests it
/// signed, and the envelope. Each file is hashed once.
pub async fn attest(
    bundle: &BundleWriter,
    job: &Job,
    tools: &[ToolRecord],
    builder: &BuilderInfo,
    signer: &dyn BundleSigner,
) -> Result<BundleIndex> {
    let public = signer.public_key_pem();
    bundle.write(bundle::SIGNING_KEY, public.as_bytes())?;
    bundle.write_json(
        SIGNING_KEY_INFO,
        &json!({"key_id": signer.key_id(), "algorithm": signer.algorithm(),
                "fingerprint": format!("sha256:{}", signer.key_id())}),
    )?;
    let mut index = compute_index(bundle.root())?;
    index.files.retain(|e| e.path != bundle::ATTESTATION);
    let subjects = index
        .files
        .iter()
        .map(|e| Subject::with_sha256(&e.path, &e.sha256.to_string()))
        .collect();
    let statement = Statement::new(subjects, provenance(job, tools, builder));
    statement.validate().map_err(signing)?;
    let payload = statement.to_json().map_err(signing)?;
    let signature = signer.sign(&pae(IN_TOTO_PAYLOAD_TYPE, &payload)).await?;
    let envelope =
        Envelope::from_signature(IN_TOTO_PAYLOAD_TYPE, &payload, &signer.key_id(), &signature);
    let envelope = envelope.to_json().map_err(signing)?;
    bundle.write(bundle::ATTESTATION, &envelope)?;
    index.insert(IndexEntry {
        path: bundle::ATTESTATION.to_string(),
        size: envelope.len() as u64,
        sha256: Sha256Digest::of(&envelope),
    });
    Ok(index)
}

#[cfg(test)]
mod tests {
    use super::git_uri;

    #[test]
    fn repository_locations_become_vcs_uris() {
        assert_eq!(
            git_uri("https://example.invalid/r.git"),
            "git+https://example.invalid/r.git"
        );
        assert_eq!(
            git_uri("git@example.invalid:org/r.git"),
            "git+ssh://git@example.invalid/org/r.git"
        );
        assert_eq!(git_uri("/srv/repos/r"), "git+file:///srv/repos/r");
        assert_eq!(git_uri("file:///srv/r"), "git+file:///srv/r");
    }
}
