//! Archives uploaded through the API on AWS. The `api` function stores each one in the work bucket as
//! `uploads/<tenant key>/<random id>/<name>` (the tenant key is the first 32 hex digits of the SHA-256 of the
//! tenant, so a tenant name never shapes a key), and answers with its `s3://` URI; a submission naming that
//! URI is accepted only for the same tenant and only while the object exists; prepare-source downloads it,
//! capped, into the run's workspace.

use std::path::Path;

use certus_core::{CoreError, Result};
use sha2::{Digest, Sha256};

use crate::clients::AwsClients;
use crate::download::body_to_new_file;
use crate::failure::Failure;
use crate::location::S3Location;

/// Where uploaded archives live in the work bucket.
pub const UPLOADS_PREFIX: &str = "uploads/";

const TENANT_KEY_HEX: usize = 32;
const ID_HEX: usize = 32;
const MAX_NAME_LEN: usize = 100;

/// The uploaded archives of one work bucket.
#[derive(Debug, Clone)]
pub struct S3Uploads {
    s3: aws_sdk_s3::Client,
    bucket: String,
}

/// An upload's key, split into its parts.
struct UploadKey<'a> {
    tenant_key: &'a str,
    name: &'a str,
}

impl S3Uploads {
    /// The uploads of the work bucket that `work_root` (`s3://bucket` or any prefix in it, as
    /// `CERTUS_ASSURANCE_WORK_BUCKET` names it) lies in.
    pub fn new(clients: &AwsClients, work_root: &str) -> Result<Self> {
        let location = S3Location::prefix(work_root)?;
        Ok(Self {
            s3: clients.s3().clone(),
            bucket: location.bucket,
        })
    }

    /// Stores `body` (already checked by the caller) for `tenant` as `name` (already a safe base name) under
    /// a fresh random id; returns its `s3://` URI.
    pub async fn put(
        &self,
        tenant: &str,
        name: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> Result<String> {
        if !valid_name(name) {
            return Err(CoreError::Validation(vec![certus_core::FieldError::new(
                "file",
                "the archive name must be a safe base name",
            )]));
        }
        let mut random = [0u8; ID_HEX / 2];
        getrandom::fill(&mut random)
            .map_err(|e| CoreError::Storage(format!("no OS randomness for an upload id: {e}")))?;
        let key = format!(
            "{UPLOADS_PREFIX}{}/{}/{name}",
            tenant_key(tenant),
            hex::encode(random)
        );
        let uri = format!("s3://{}/{key}", self.bucket);
        self.s3
            .put_object()
            .bucket(&self.bucket)
            .key(&key)
            .content_type(content_type)
            .body(body.into())
            .send()
            .await
            .map_err(|e| Failure::from_sdk(&uri, e).into_store_error())?;
        Ok(uri)
    }

    /// Whether `uri` is an upload of `tenant` that exists. Another tenant's upload, a URI outside the uploads
    /// or a missing object all answer `false`, alike.
    pub async fn holds(&self, tenant: &str, uri: &str) -> Result<bool> {
        let Some((key, parts)) = self.upload_key(uri) else {
            return Ok(false);
        };
        if parts.tenant_key != tenant_key(tenant) {
            return Ok(false);
        }
        match self
            .s3
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) => match Failure::from_sdk(uri, e) {
                Failure::NotFound(_) => Ok(false),
                other => Err(other.into_store_error()),
            },
        }
    }

    /// Whether `uri` names an upload in this bucket (whoever's it is); such sources are downloaded with
    /// [`S3Uploads::download`].
    pub fn is_upload(&self, uri: &str) -> bool {
        self.upload_key(uri).is_some()
    }

    /// The archive's file name (its extension says its type).
    pub fn file_name<'a>(&self, uri: &'a str) -> Option<&'a str> {
        self.upload_key(uri).map(|(_, parts)| parts.name)
    }

    /// Downloads the upload `uri` to `dest` (created, must not exist), refusing it past `max_bytes`;
    /// returns its size.
    pub async fn download(&self, uri: &str, dest: &Path, max_bytes: u64) -> Result<u64> {
        let (key, _) = self
            .upload_key(uri)
            .ok_or_else(|| CoreError::Source(format!("'{uri}' is not an uploaded archive")))?;
        let response = self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| Failure::from_sdk(uri, e).into_core(CoreError::Source))?;
        body_to_new_file(response.body, dest, uri, max_bytes, || {
            CoreError::Source(format!(
                "{uri} is larger than the {max_bytes} bytes an archive may have"
            ))
        })
        .await
    }

    /// The key of `uri` when it is `s3://<this bucket>/uploads/<tenant key>/<id>/<name>` with every part well
    /// formed.
    fn upload_key<'a>(&self, uri: &'a str) -> Option<(&'a str, UploadKey<'a>)> {
        let key = uri
            .strip_prefix("s3://")?
            .strip_prefix(self.bucket.as_str())?
            .strip_prefix('/')?;
        let mut parts = key.strip_prefix(UPLOADS_PREFIX)?.split('/');
        let (tenant_key, id, name) = (parts.next()?, parts.next()?, parts.next()?);
        let well_formed = parts.next().is_none()
            && is_lower_hex(tenant_key, TENANT_KEY_HEX)
            && is_lower_hex(id, ID_HEX)
            && valid_name(name);
        well_formed.then_some((key, UploadKey { tenant_key, name }))
    }
}

/// The tenant's directory under `uploads/`.
fn tenant_key(tenant: &str) -> String {
    let mut digest = hex::encode(Sha256::digest(tenant.as_bytes()));
    digest.truncate(TENANT_KEY_HEX);
    digest
}

fn is_lower_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f'))
}

/// A base name of `[A-Za-z0-9._-]`, not starting with `.` or `-`, as the API's sanitising makes it.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && !name.starts_with(['.', '-'])
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uploads() -> S3Uploads {
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .build();
        S3Uploads {
            s3: aws_sdk_s3::Client::from_conf(config),
            bucket: "work-bucket".into(),
        }
    }

    #[test]
    fn only_well_formed_upload_keys_of_this_bucket_are_uploads() {
        let u = uploads();
        let tenant = tenant_key("acme");
        let id = "0123456789abcdef0123456789abcdef";
        let good = format!("s3://work-bucket/uploads/{tenant}/{id}/app.tar.gz");
        assert!(u.is_upload(&good));
        assert_eq!(u.file_name(&good), Some("app.tar.gz"));
        for bad in [
            format!("s3://other-bucket/uploads/{tenant}/{id}/app.tar.gz"),
            format!("s3://work-bucket/runs/{tenant}/{id}/app.tar.gz"),
            format!("s3://work-bucket/uploads/{tenant}/{id}/../x.tar"),
            format!("s3://work-bucket/uploads/{tenant}/{id}/a/b.tar"),
            format!("s3://work-bucket/uploads/acme/{id}/app.tar.gz"),
            format!("s3://work-bucket/uploads/{tenant}/short/app.tar.gz"),
            format!("s3://work-bucket-2/uploads/{tenant}/{id}/app.tar.gz"),
            format!("/tmp/uploads/{tenant}/{id}/app.tar.gz"),
        ] {
            assert!(!u.is_upload(&bad), "{bad}");
        }
    }

    #[test]
    fn tenants_get_distinct_fixed_length_keys() {
        assert_ne!(tenant_key("acme"), tenant_key("acme2"));
        assert_eq!(tenant_key("a/../b").len(), TENANT_KEY_HEX);
        assert!(is_lower_hex(&tenant_key("x"), TENANT_KEY_HEX));
    }
}
