//! `POST /v1/security-scans/upload-archive`: one archive file per request, checked by name and by magic
//! bytes, size-capped while it streams, within the tenant's upload quota, stored under the tenant's upload
//! directory in a fresh random subdirectory with a sanitised file name, and answered with the server path a
//! submission of the same tenant can name as `archive_path`. With an [`crate::ArchiveStore`] (on AWS) the
//! checked archive goes to that store instead, tied to the caller's tenant, and the answer is the store's
//! `archive_path`.

use std::path::{Path, PathBuf};

use axum::extract::multipart::MultipartRejection;
use axum::extract::multipart::{Field, MultipartError};
use axum::extract::{Multipart, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::auth::Principal;
use crate::error::{ApiError, Result};
use crate::routes::ApiState;
use crate::upload_store::{tenant_dir, usage};

const MAX_NAME_LEN: usize = 100;
/// Enough of the file to see every format's magic (tar's sits at offset 257).
const MAGIC_WINDOW: usize = 262;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ArchiveKind {
    Tar,
    TarGz,
    Zip,
}

impl ArchiveKind {
    fn magic_matches(self, head: &[u8]) -> bool {
        match self {
            Self::Tar => head.get(257..262) == Some(b"ustar".as_slice()),
            Self::TarGz => head.starts_with(&[0x1f, 0x8b, 0x08]),
            Self::Zip => head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06"),
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Self::Tar => "application/x-tar",
            Self::TarGz => "application/gzip",
            Self::Zip => "application/zip",
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Self::Tar => "a tar archive (ustar)",
            Self::TarGz => "a gzip-compressed tar archive",
            Self::Zip => "a zip archive",
        }
    }
}

pub async fn upload_archive(
    State(state): State<ApiState>,
    Extension(principal): Extension<Principal>,
    multipart: std::result::Result<Multipart, MultipartRejection>,
) -> Result<(StatusCode, Json<Value>)> {
    let mut multipart = multipart.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let limit = state.limits.max_upload;
    let field = multipart
        .next_field()
        .await
        .map_err(|e| part_error(&e, limit))?
        .ok_or_else(|| ApiError::BadRequest("the form has no file part".into()))?;
    let raw_name = field
        .file_name()
        .ok_or_else(|| ApiError::BadRequest("the form part is not a file (no filename)".into()))?
        .to_string();
    let (name, kind) = sanitise(&raw_name)?;
    if let Some(archives) = state.archives.as_deref() {
        let (body, sha256) = read_capped(field, kind, limit).await?;
        only_part(&mut multipart, limit).await?;
        let size = body.len();
        let archive_path = archives
            .put(&principal.tenant, &name, body, kind.content_type())
            .await?;
        return Ok((
            StatusCode::CREATED,
            Json(json!({"archive_path": archive_path, "sha256": sha256, "size": size})),
        ));
    }
    let tenant_uploads = tenant_dir(&state.limits.upload_dir, &principal.tenant);
    // The directory exists before the others are counted, so uploads sent at the same time count each other.
    let dir = new_upload_dir(&tenant_uploads).await?;
    let cleanup = RemoveOnDrop(Some(dir.clone()));
    let quota = state.limits.upload_quota;
    let (count, used) = {
        let (tenant_uploads, dir) = (tenant_uploads.clone(), dir.clone());
        tokio::task::spawn_blocking(move || usage(&tenant_uploads, &dir))
            .await
            .map_err(|e| ApiError::Server(format!("the upload quota could not be read: {e}")))?
    };
    let over_quota = || {
        ApiError::UploadQuota(format!(
            "your tenant keeps {count} upload(s), {used} bytes; at most {} and {} bytes are kept (an upload is \
             deleted once the scan that used it ends, or {} s after the upload when no scan used it)",
            quota.max_count,
            quota.max_bytes,
            quota.ttl.as_secs()
        ))
    };
    if count >= quota.max_count || used >= quota.max_bytes {
        return Err(over_quota());
    }
    let room = quota.max_bytes - used;
    let path = dir.join(&name);
    let (sha256, size) = match store(field, &path, kind, limit.min(room)).await {
        Err(ApiError::PayloadTooLarge { .. }) if room < limit => return Err(over_quota()),
        stored => stored?,
    };
    if multipart
        .next_field()
        .await
        .map_err(|e| part_error(&e, limit))?
        .is_some()
    {
        return Err(ApiError::BadRequest(
            "send exactly one file part per upload".into(),
        ));
    }
    cleanup.keep();
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "archive_path": path.display().to_string(),
            "sha256": sha256,
            "size": size,
        })),
    ))
}

/// Streams the part to `path`, hashing and counting; refuses it past `limit` or when its first bytes are not
/// those of the archive type its name claims.
async fn store(
    mut field: Field<'_>,
    path: &Path,
    kind: ArchiveKind,
    limit: u64,
) -> Result<(String, u64)> {
    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .await
        .map_err(|e| ApiError::io(path, e))?;
    let mut hasher = Sha256::new();
    let mut size: u64 = 0;
    let mut head: Vec<u8> = Vec::with_capacity(MAGIC_WINDOW);
    let mut magic_checked = false;
    while let Some(chunk) = field.chunk().await.map_err(|e| part_error(&e, limit))? {
        size = size.saturating_add(chunk.len() as u64);
        if size > limit {
            return Err(ApiError::PayloadTooLarge { limit });
        }
        if head.len() < MAGIC_WINDOW {
            let take = (MAGIC_WINDOW - head.len()).min(chunk.len());
            head.extend_from_slice(&chunk[..take]);
        }
        if !magic_checked && head.len() >= MAGIC_WINDOW {
            check_magic(kind, &head)?;
            magic_checked = true;
        }
        hasher.update(&chunk);
        file.write_all(&chunk)
            .await
            .map_err(|e| ApiError::io(path, e))?;
    }
    if !magic_checked {
        check_magic(kind, &head)?;
    }
    file.sync_all().await.map_err(|e| ApiError::io(path, e))?;
    Ok((hex::encode(hasher.finalize()), size))
}

/// The part in memory, hashed, refused past `limit` or when its first bytes are not those of `kind`.
async fn read_capped(
    mut field: Field<'_>,
    kind: ArchiveKind,
    limit: u64,
) -> Result<(Vec<u8>, String)> {
    let mut body = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(|e| part_error(&e, limit))? {
        if body.len() as u64 + chunk.len() as u64 > limit {
            return Err(ApiError::PayloadTooLarge { limit });
        }
        body.extend_from_slice(&chunk);
        if body.len() >= MAGIC_WINDOW {
            check_magic(kind, &body[..MAGIC_WINDOW])?;
        }
    }
    check_magic(kind, &body[..body.len().min(MAGIC_WINDOW)])?;
    let sha256 = hex::encode(Sha256::digest(&body));
    Ok((body, sha256))
}

async fn only_part(multipart: &mut Multipart, limit: u64) -> Result<()> {
    match multipart
        .next_field()
        .await
        .map_err(|e| part_error(&e, limit))?
    {
        Some(_) => Err(ApiError::BadRequest(
            "send exactly one file part per upload".into(),
        )),
        None => Ok(()),
    }
}

fn check_magic(kind: ArchiveKind, head: &[u8]) -> Result<()> {
    if kind.magic_matches(head) {
        Ok(())
    } else {
        Err(ApiError::UnsupportedArchive(format!(
            "the file's content is not {} as its name says",
            kind.describe()
        )))
    }
}

/// The client's file name reduced to a safe base name (never a path) of `[A-Za-z0-9._-]`, and the archive
/// type its extension names.
fn sanitise(raw: &str) -> Result<(String, ArchiveKind)> {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let cleaned = cleaned.trim_start_matches(['.', '-']);
    let lower = cleaned.to_ascii_lowercase();
    let (kind, extension) = [
        (ArchiveKind::TarGz, ".tar.gz"),
        (ArchiveKind::TarGz, ".tgz"),
        (ArchiveKind::Tar, ".tar"),
        (ArchiveKind::Zip, ".zip"),
    ]
    .into_iter()
    .find(|(_, ext)| lower.ends_with(ext))
    .ok_or_else(|| {
        ApiError::UnsupportedArchive(format!(
            "'{}' is not a .tar, .tar.gz, .tgz or .zip file",
            raw.chars().take(80).collect::<String>()
        ))
    })?;
    let stem: String = cleaned[..cleaned.len() - extension.len()]
        .chars()
        .take(MAX_NAME_LEN - extension.len())
        .collect();
    Ok((format!("{stem}{extension}"), kind))
}

async fn new_upload_dir(root: &Path) -> Result<PathBuf> {
    let mut random = [0u8; 16];
    getrandom::fill(&mut random)
        .map_err(|e| ApiError::Server(format!("no OS randomness for an upload directory: {e}")))?;
    let dir = root.join(hex::encode(random));
    tokio::fs::create_dir_all(root)
        .await
        .map_err(|e| ApiError::io(root, e))?;
    tokio::fs::create_dir(&dir)
        .await
        .map_err(|e| ApiError::io(&dir, e))?;
    Ok(dir)
}

fn part_error(error: &MultipartError, limit: u64) -> ApiError {
    if error.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge { limit }
    } else {
        ApiError::BadRequest(format!(
            "the multipart body cannot be read: {}",
            error.body_text()
        ))
    }
}

/// Removes a refused upload's directory.
struct RemoveOnDrop(Option<PathBuf>);

impl RemoveOnDrop {
    fn keep(mut self) {
        self.0 = None;
    }
}

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if let Some(dir) = self.0.take() {
            if let Err(e) = std::fs::remove_dir_all(&dir) {
                eprintln!(
                    "certus serve: cannot remove refused upload {}: {e}",
                    dir.display()
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_safe_base_names() {
        assert_eq!(
            sanitise("../../etc/evil.tar.gz").unwrap(),
            ("evil.tar.gz".into(), ArchiveKind::TarGz)
        );
        assert_eq!(
            sanitise("C:\\Users\\me\\my code (1).zip").unwrap(),
            ("my_code__1_.zip".into(), ArchiveKind::Zip)
        );
        assert_eq!(
            sanitise("-rf.TAR").unwrap(),
            ("rf.tar".into(), ArchiveKind::Tar)
        );
        assert!(matches!(
            sanitise("..tgz"),
            Err(ApiError::UnsupportedArchive(_))
        ));
        let long = format!("{}.tar", "a".repeat(500));
        assert_eq!(sanitise(&long).unwrap().0.len(), MAX_NAME_LEN);
    }

    #[test]
    fn other_types_are_refused_by_name() {
        for bad in ["x.tar.bz2", "x.rar", "x", "tar", "x.zip.exe"] {
            assert!(
                matches!(sanitise(bad), Err(ApiError::UnsupportedArchive(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn magic_bytes_are_checked() {
        let mut tar = vec![0u8; 512];
        tar[257..262].copy_from_slice(b"ustar");
        assert!(ArchiveKind::Tar.magic_matches(&tar));
        assert!(!ArchiveKind::Zip.magic_matches(&tar));
        assert!(ArchiveKind::TarGz.magic_matches(&[0x1f, 0x8b, 0x08, 0]));
        assert!(ArchiveKind::Zip.magic_matches(b"PK\x03\x04rest"));
        assert!(!ArchiveKind::Tar.magic_matches(b"short"));
    }
}
