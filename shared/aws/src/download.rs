//! Downloads every object under an S3 prefix into a fresh local directory (what `certus verify-bundle
//! s3://…` checks), streaming to disk, with every key confined under the destination and caps on the
//! number of objects and the total bytes. Keys are all checked before anything is written.

use std::path::{Path, PathBuf};

use certus_core::workspace::lexically_confined;
use certus_core::{CoreError, Result};
use tokio::io::AsyncWriteExt;

use crate::clients::AwsClients;
use crate::failure::Failure;
use crate::location::S3Location;

/// Caps for one download.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DownloadLimits {
    pub max_objects: usize,
    pub max_total_bytes: u64,
}

impl Default for DownloadLimits {
    /// 10,000 objects, 2 GiB.
    fn default() -> Self {
        Self {
            max_objects: 10_000,
            max_total_bytes: 2 * 1024 * 1024 * 1024,
        }
    }
}

/// What was downloaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadSummary {
    /// Paths relative to the destination, `/`-separated, sorted.
    pub files: Vec<String>,
    pub total_bytes: u64,
}

struct Listed {
    key: String,
    rel: PathBuf,
    size: u64,
}

/// [`download_prefix_with`] with the default limits.
pub async fn download_prefix(
    clients: &AwsClients,
    uri: &str,
    dest_dir: &Path,
) -> Result<DownloadSummary> {
    download_prefix_with(clients, uri, dest_dir, DownloadLimits::default()).await
}

/// Downloads every object under `s3://bucket/prefix` into `dest_dir` (created; must be absent or empty),
/// keeping the key path below the prefix. Directory markers (keys ending in `/`, empty) are skipped.
pub async fn download_prefix_with(
    clients: &AwsClients,
    uri: &str,
    dest_dir: &Path,
    limits: DownloadLimits,
) -> Result<DownloadSummary> {
    let root = S3Location::prefix(uri).map_err(|e| CoreError::Bundle(e.to_string()))?;
    let listed = list(clients.s3(), &root, limits).await?;
    if listed.is_empty() {
        return Err(CoreError::Bundle(format!("no objects under {root}")));
    }
    prepare_destination(dest_dir)?;
    let mut total_bytes = 0;
    let mut files = Vec::with_capacity(listed.len());
    for object in &listed {
        total_bytes += fetch_to_file(clients.s3(), &root.bucket, object, dest_dir).await?;
        files.push(object.rel.to_string_lossy().into_owned());
    }
    files.sort();
    Ok(DownloadSummary { files, total_bytes })
}

async fn list(
    s3: &aws_sdk_s3::Client,
    root: &S3Location,
    limits: DownloadLimits,
) -> Result<Vec<Listed>> {
    let key_prefix = if root.key.is_empty() {
        String::new()
    } else {
        format!("{}/", root.key)
    };
    let mut listed = Vec::new();
    let mut total: u64 = 0;
    let mut token = None;
    loop {
        let page = s3
            .list_objects_v2()
            .bucket(&root.bucket)
            .prefix(&key_prefix)
            .set_continuation_token(token)
            .send()
            .await
            .map_err(|e| Failure::from_sdk(&root.to_string(), e).into_core(CoreError::Bundle))?;
        for object in page.contents() {
            let key = object.key().unwrap_or_default();
            let size = u64::try_from(object.size().unwrap_or(0)).unwrap_or(0);
            let suffix = key.strip_prefix(&key_prefix).unwrap_or(key);
            if suffix.ends_with('/') && size == 0 {
                continue;
            }
            let rel = confined_rel(suffix)?;
            total = total.saturating_add(size);
            if total > limits.max_total_bytes {
                return Err(CoreError::Bundle(format!(
                    "{root} holds more than {} bytes",
                    limits.max_total_bytes
                )));
            }
            listed.push(Listed {
                key: key.to_string(),
                rel,
                size,
            });
            if listed.len() > limits.max_objects {
                return Err(CoreError::Bundle(format!(
                    "{root} holds more than {} objects",
                    limits.max_objects
                )));
            }
        }
        token = page
            .next_continuation_token()
            .filter(|_| page.is_truncated() == Some(true))
            .map(str::to_string);
        if token.is_none() {
            return Ok(listed);
        }
    }
}

/// A key below the prefix as a relative path: no `..`, not absolute, no empty segments.
fn confined_rel(suffix: &str) -> Result<PathBuf> {
    if suffix.split('/').any(str::is_empty) {
        return Err(CoreError::PathEscape {
            path: suffix.chars().take(200).collect(),
            reason: "has an empty segment (leading, trailing or doubled '/')".into(),
        });
    }
    if suffix.contains('\\') {
        return Err(CoreError::PathEscape {
            path: suffix.chars().take(200).collect(),
            reason: "contains a backslash".into(),
        });
    }
    lexically_confined(suffix)
}

fn prepare_destination(dest_dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dest_dir).map_err(|e| CoreError::io(dest_dir, e))?;
    let mut entries = std::fs::read_dir(dest_dir).map_err(|e| CoreError::io(dest_dir, e))?;
    if entries.next().is_some() {
        return Err(CoreError::Bundle(format!(
            "download destination {} is not empty",
            dest_dir.display()
        )));
    }
    Ok(())
}

/// Streams one object into a new file; returns the bytes written.
async fn fetch_to_file(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    object: &Listed,
    dest_dir: &Path,
) -> Result<u64> {
    let what = format!("s3://{bucket}/{}", object.key);
    let target = dest_dir.join(&object.rel);
    if let Some(parent) = target.parent() {
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(|e| CoreError::io(parent, e))?;
    }
    let response = s3
        .get_object()
        .bucket(bucket)
        .key(&object.key)
        .send()
        .await
        .map_err(|e| Failure::from_sdk(&what, e).into_core(CoreError::Bundle))?;
    body_to_new_file(response.body, &target, &what, object.size, || {
        CoreError::Bundle(format!(
            "{what} is larger than the {} bytes it was listed with",
            object.size
        ))
    })
    .await
}

/// Streams an object's body into the new file `dest` (which must not exist), refusing it with `too_large()`
/// as soon as more than `max_bytes` arrive; returns the bytes written. `what` names the object in errors.
pub(crate) async fn body_to_new_file(
    mut body: aws_sdk_s3::primitives::ByteStream,
    dest: &Path,
    what: &str,
    max_bytes: u64,
    too_large: impl Fn() -> CoreError,
) -> Result<u64> {
    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(dest)
        .await
        .map_err(|e| CoreError::io(dest, e))?;
    let mut written: u64 = 0;
    while let Some(chunk) = body
        .try_next()
        .await
        .map_err(|e| CoreError::Storage(format!("{what}: reading the object failed: {e}")))?
    {
        written = written.saturating_add(chunk.len() as u64);
        if written > max_bytes {
            return Err(too_large());
        }
        file.write_all(&chunk)
            .await
            .map_err(|e| CoreError::io(dest, e))?;
    }
    file.sync_all().await.map_err(|e| CoreError::io(dest, e))?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_keys_are_refused() {
        assert_eq!(confined_rel("a/b.json").unwrap(), PathBuf::from("a/b.json"));
        for (key, reason) in [
            ("a/../../x", "contains '..'"),
            ("../x", "contains '..'"),
            ("/etc/passwd", "empty segment"),
            ("a//b", "empty segment"),
            ("a\\..\\x", "backslash"),
        ] {
            let err = confined_rel(key).unwrap_err();
            assert!(
                matches!(&err, CoreError::PathEscape { reason: r, .. } if r.contains(reason)),
                "{key}: {err}"
            );
        }
    }

    #[test]
    fn destinations_must_be_empty() {
        let dir = tempfile::tempdir().unwrap();
        prepare_destination(&dir.path().join("new")).unwrap();
        std::fs::write(dir.path().join("new/x"), b"x").unwrap();
        let err = prepare_destination(&dir.path().join("new")).unwrap_err();
        assert!(err.to_string().contains("is not empty"), "{err}");
    }
}
