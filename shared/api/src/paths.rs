//! Which server paths a remote caller may name in a submission. Over HTTP a `directory_path`, an
//! `archive_path` or a `file://` manifest or signature URI names a file on the server: only those under a
//! directory the operator allows (and, for archives, those uploaded here) are accepted; links are resolved
//! before the check.

use std::path::{Path, PathBuf};

use certus_core::request::{ManifestSource, SignatureSource, SourceSpec, ValidatedSubmission};
use certus_core::FieldError;

/// Refuses server paths outside `allowed_roots`; an archive may also be one of the caller's own uploads
/// (under `tenant_uploads`), and an archive under `upload_dir` is accepted only there, so that another
/// tenant's upload answers exactly as a path that does not exist. The directories are canonical paths.
/// `stored_archive`: the archive was found in the caller's archive store (not a server path), so it needs
/// no check here.
pub async fn check_server_paths(
    submission: &ValidatedSubmission,
    allowed_roots: &[PathBuf],
    upload_dir: &Path,
    tenant_uploads: &Path,
    stored_archive: bool,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    match &submission.source {
        SourceSpec::Archive { .. } if stored_archive => {}
        SourceSpec::Directory { directory_path } => {
            if !inside(directory_path, allowed_roots).await {
                errors.push(FieldError::new(
                    "directory_path",
                    "is not under a directory this server lets callers scan",
                ));
            }
        }
        SourceSpec::Archive { archive_path } => {
            let accepted = match tokio::fs::canonicalize(archive_path).await {
                Ok(real) if real.starts_with(upload_dir) => real.starts_with(tenant_uploads),
                Ok(real) => allowed_roots.iter().any(|root| real.starts_with(root)),
                Err(_) => false,
            };
            if !accepted {
                errors.push(not_uploaded());
            }
        }
        SourceSpec::Git { .. } => {}
    }
    if let ManifestSource::Uri(uri) = &submission.manifest {
        check_file_uri(&mut errors, "manifest_uri", uri, allowed_roots).await;
    }
    if let Some(SignatureSource::Uri(uri)) = &submission.signature {
        check_file_uri(&mut errors, "manifest_signature_uri", uri, allowed_roots).await;
    }
    errors
}

/// The answer for an archive that is not the caller's upload, whether it is missing or another tenant's.
pub fn not_uploaded() -> FieldError {
    FieldError::new(
        "archive_path",
        "must be an archive uploaded to this server (upload-archive) or lie under a directory it allows",
    )
}

async fn check_file_uri(errors: &mut Vec<FieldError>, field: &str, uri: &str, roots: &[PathBuf]) {
    if let Some(path) = uri.strip_prefix("file://") {
        if !inside(path, roots).await {
            errors.push(FieldError::new(
                field,
                "file:// URIs must name a file under a directory this server allows",
            ));
        }
    }
}

/// Whether `path` exists and, links resolved, lies under one of `roots`.
async fn inside(path: &str, roots: &[PathBuf]) -> bool {
    match tokio::fs::canonicalize(path).await {
        Ok(real) => roots.iter().any(|root| real.starts_with(root)),
        Err(_) => false,
    }
}
