//! Local publication: directories stand in for the raw and golden buckets.
//!
//! - raw: `<raw_root>/<raw_prefix>/<test_id>/incoming/<bundle-relative path>`
//! - golden: `<golden_root>/<golden_prefix>/<test_id>/golden/<bundle-relative path>`
//!
//! Every bundle file and the index are staged under raw (atomic writes), the staged set is re-read and
//! checked against the index (sizes and SHA-256), then each object is copied to golden under a temporary
//! name and renamed; `Ok` only once golden holds the full, checked set. An object already present with the
//! right digest is never rewritten, so a re-run after a failure completes the set without duplicates.
//!
//! Object metadata (what S3 keeps per object) is a sidecar JSON beside each set, written once the set is
//! checked: `<…>/<test_id>/incoming.objects.json` and `<…>/<test_id>/golden.objects.json`, shaped
//! `{"objects": {"<path>": {"test_id", "workspace_id", "component_id", "assessment_id", "manifest_digest",
//! "sha256", "size"}}}`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use certus_core::bundle::{check_index, BundleIndex, INDEX};
use certus_core::digest::{prefixed, Sha256Digest};
use certus_core::ids::parse_test_id;
use certus_core::job::{Job, RemoteArtifacts};
use certus_core::pipeline::read_capped;
use certus_core::ports::Publisher;
use certus_core::workspace::lexically_confined;
use certus_core::CoreError;
use serde_json::json;

use crate::error::TrustError;
use crate::objects::{clear_temporaries, file_uri, place, write_if_changed};

pub const DEFAULT_PREFIX: &str = "security-scans";
pub const RAW_SIDECAR: &str = "incoming.objects.json";
pub const GOLDEN_SIDECAR: &str = "golden.objects.json";
const MAX_INDEX_BYTES: usize = 16 * 1024 * 1024;

/// Where the stand-in buckets live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalPublisherConfig {
    pub raw_root: PathBuf,
    pub raw_prefix: String,
    pub golden_root: PathBuf,
    pub golden_prefix: String,
}

impl LocalPublisherConfig {
    /// `<data_dir>/raw` and `<data_dir>/golden`, both with the prefix `security-scans`.
    pub fn under(data_dir: &Path) -> Self {
        Self {
            raw_root: data_dir.join("raw"),
            raw_prefix: DEFAULT_PREFIX.into(),
            golden_root: data_dir.join("golden"),
            golden_prefix: DEFAULT_PREFIX.into(),
        }
    }
}

/// Publishes permitted bundles into local directories.
#[derive(Debug, Clone)]
pub struct LocalPublisher {
    /// The name of the directory standing in for the raw bucket (`raw` under a data directory).
    raw_bucket: String,
    raw_base: PathBuf,
    golden_base: PathBuf,
}

/// One object to publish: bundle-relative name, its checked relative path, digest and size.
struct Object {
    name: String,
    rel: PathBuf,
    sha256: String,
    size: u64,
}

impl LocalPublisher {
    pub fn new(config: &LocalPublisherConfig) -> Result<Self, TrustError> {
        Ok(Self {
            raw_bucket: config
                .raw_root
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            raw_base: base(&config.raw_root, &config.raw_prefix, "raw")?,
            golden_base: base(&config.golden_root, &config.golden_prefix, "golden")?,
        })
    }

    /// `<raw_root>/<raw_prefix>/<test_id>/incoming`
    pub fn raw_dir(&self, test_id: &str) -> Result<PathBuf, CoreError> {
        Ok(self.raw_base.join(parse_test_id(test_id)?).join("incoming"))
    }

    /// `<golden_root>/<golden_prefix>/<test_id>/golden`
    pub fn golden_dir(&self, test_id: &str) -> Result<PathBuf, CoreError> {
        Ok(self
            .golden_base
            .join(parse_test_id(test_id)?)
            .join("golden"))
    }

    fn publish_blocking(
        &self,
        job: &Job,
        bundle_dir: &Path,
        index: &BundleIndex,
    ) -> Result<RemoteArtifacts, CoreError> {
        let test_id = parse_test_id(&job.test_id)?;
        let objects = objects(bundle_dir, index)?;
        let raw_dir = self.raw_dir(test_id)?;
        let golden_dir = self.golden_dir(test_id)?;
        let sidecar = sidecar(job, &objects)?;

        clear_temporaries(&raw_dir)?;
        for object in &objects {
            place(
                &bundle_dir.join(&object.rel),
                &raw_dir.join(&object.rel),
                &object.sha256,
                object.size,
            )?;
        }
        check_set("raw", test_id, &raw_dir, index, &objects)?;
        write_if_changed(&self.raw_base.join(test_id).join(RAW_SIDECAR), &sidecar)?;

        clear_temporaries(&golden_dir)?;
        for object in &objects {
            place(
                &raw_dir.join(&object.rel),
                &golden_dir.join(&object.rel),
                &object.sha256,
                object.size,
            )?;
        }
        check_set("golden", test_id, &golden_dir, index, &objects)?;
        write_if_changed(
            &self.golden_base.join(test_id).join(GOLDEN_SIDECAR),
            &sidecar,
        )?;

        let uris = |dir: &Path| -> BTreeMap<String, String> {
            objects
                .iter()
                .map(|o| (o.name.clone(), file_uri(&dir.join(&o.rel))))
                .collect()
        };
        Ok(RemoteArtifacts {
            raw: uris(&raw_dir),
            golden: uris(&golden_dir),
            oci: None,
        })
    }
}

fn base(root: &Path, prefix: &str, which: &'static str) -> Result<PathBuf, TrustError> {
    let setting = |reason: String| TrustError::PublishSetting {
        setting: which,
        reason,
    };
    let root =
        std::path::absolute(root).map_err(|e| setting(format!("root {}: {e}", root.display())))?;
    let prefix = lexically_confined(prefix).map_err(|e| setting(format!("prefix: {e}")))?;
    Ok(root.join(prefix))
}

/// Every file the index lists plus the index itself, after checking that the bundle's own index is the
/// one given.
fn objects(bundle_dir: &Path, index: &BundleIndex) -> Result<Vec<Object>, CoreError> {
    let index_bytes = read_capped(&bundle_dir.join(INDEX), MAX_INDEX_BYTES)?;
    let stored: BundleIndex =
        serde_json::from_slice(&index_bytes).map_err(|e| CoreError::json(INDEX, e))?;
    if &stored != index {
        return Err(TrustError::IndexDiffers {
            location: bundle_dir.display().to_string(),
        }
        .into());
    }
    let mut seen = BTreeSet::new();
    let mut objects = Vec::with_capacity(index.files.len() + 1);
    let listed = index
        .files
        .iter()
        .map(|e| (e.path.as_str(), e.sha256, e.size));
    let index_entry = [(
        INDEX,
        Sha256Digest::of(&index_bytes),
        index_bytes.len() as u64,
    )];
    for (name, sha256, size) in listed.chain(index_entry) {
        let rel = lexically_confined(name)?;
        if !seen.insert(rel.clone()) {
            return Err(CoreError::Bundle(format!("{name} is listed twice")));
        }
        objects.push(Object {
            name: name.to_string(),
            rel,
            sha256: sha256.to_string(),
            size,
        });
    }
    Ok(objects)
}

/// The set under `dir` must be exactly the index's files (digests and sizes re-read) plus the index.
fn check_set(
    stage: &'static str,
    test_id: &str,
    dir: &Path,
    index: &BundleIndex,
    objects: &[Object],
) -> Result<(), CoreError> {
    let mut problems: Vec<String> = check_index(dir, index)?
        .iter()
        .map(ToString::to_string)
        .collect();
    if let Some(entry) = objects.iter().find(|o| o.name == INDEX) {
        if !crate::objects::holds(&dir.join(&entry.rel), &entry.sha256, entry.size)? {
            problems.push(format!("{INDEX}: missing or not the bundle's index"));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(TrustError::SetMismatch {
            stage,
            test_id: test_id.to_string(),
            problems: problems.join("; "),
        }
        .into())
    }
}

fn sidecar(job: &Job, objects: &[Object]) -> Result<Vec<u8>, CoreError> {
    let entries: serde_json::Map<String, serde_json::Value> = objects
        .iter()
        .map(|o| {
            (
                o.name.clone(),
                json!({
                    "test_id": job.test_id,
                    "workspace_id": job.ids.workspace_id,
                    "component_id": job.ids.component_id,
                    "assessment_id": job.ids.assessment_id,
                    "manifest_digest": job.manifest_digest.map(|d| d.prefixed()),
                    "sha256": prefixed(&o.sha256),
                    "size": o.size,
                }),
            )
        })
        .collect();
    let mut bytes = serde_json::to_vec_pretty(&json!({ "objects": entries }))
        .map_err(|e| CoreError::json("object metadata", e))?;
    bytes.push(b'\n');
    Ok(bytes)
}

#[async_trait]
impl Publisher for LocalPublisher {
    fn raw_bucket(&self) -> String {
        self.raw_bucket.clone()
    }

    fn raw_destination(&self, test_id: &str) -> String {
        let dir = self.raw_base.join(test_id).join("incoming");
        format!("{}/", file_uri(&dir))
    }

    async fn publish(
        &self,
        job: &Job,
        bundle_location: &str,
        index: &BundleIndex,
    ) -> Result<RemoteArtifacts, CoreError> {
        let this = self.clone();
        let job = job.clone();
        let bundle_dir = PathBuf::from(bundle_location);
        let index = index.clone();
        tokio::task::spawn_blocking(move || this.publish_blocking(&job, &bundle_dir, &index))
            .await
            .map_err(|e| CoreError::Storage(format!("publication task failed: {e}")))?
    }
}
