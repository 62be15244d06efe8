//! The run store on AWS: a run's between-steps workspace is the private prefix `<root>/<test_id>/` of the work
//! bucket (expired by a lifecycle rule). Files are streamed from and to disk; keys are confined.

use std::path::Path;

use async_trait::async_trait;
use aws_sdk_s3::primitives::ByteStream;
use certus_core::ids::parse_test_id;
use certus_core::ports::RunStore;
use certus_core::{CoreError, Result};
use tokio::io::AsyncWriteExt;

use crate::clients::AwsClients;
use crate::failure::Failure;
use crate::fetcher::get_capped_or_failure;
use crate::location::S3Location;
use crate::store::confined_key;

#[derive(Debug, Clone)]
pub struct S3RunStore {
    s3: aws_sdk_s3::Client,
    root: S3Location,
}

impl S3RunStore {
    /// `root`: `s3://bucket/runs` (or `s3://bucket`).
    pub fn new(clients: &AwsClients, root: &str) -> Result<Self> {
        let root = S3Location::prefix(root)?;
        if !root.key.is_empty() {
            confined_key(&root.key)?;
        }
        Ok(Self {
            s3: clients.s3().clone(),
            root,
        })
    }

    fn run_prefix(&self, test_id: &str) -> Result<String> {
        Ok(self.root.join(&format!("{}/", parse_test_id(test_id)?)))
    }

    fn object(&self, test_id: &str, key: &str) -> Result<S3Location> {
        Ok(S3Location {
            bucket: self.root.bucket.clone(),
            key: format!("{}{}", self.run_prefix(test_id)?, confined_key(key)?),
        })
    }
}

fn storage(failure: Failure) -> CoreError {
    failure.into_store_error()
}

#[async_trait]
impl RunStore for S3RunStore {
    async fn put(&self, test_id: &str, key: &str, bytes: Vec<u8>) -> Result<()> {
        let at = self.object(test_id, key)?;
        self.s3
            .put_object()
            .bucket(&at.bucket)
            .key(&at.key)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(|e| storage(Failure::from_sdk(&at.to_string(), e)))?;
        Ok(())
    }

    async fn get(&self, test_id: &str, key: &str, max_bytes: usize) -> Result<Option<Vec<u8>>> {
        let at = self.object(test_id, key)?;
        match get_capped_or_failure(&self.s3, &at, max_bytes).await {
            Ok(bytes) => Ok(Some(bytes)),
            Err(Failure::NotFound(_)) => Ok(None),
            Err(other) => Err(storage(other)),
        }
    }

    async fn put_file(&self, test_id: &str, key: &str, path: &Path) -> Result<()> {
        let at = self.object(test_id, key)?;
        let body = ByteStream::from_path(path)
            .await
            .map_err(|e| CoreError::Storage(format!("cannot read {}: {e}", path.display())))?;
        self.s3
            .put_object()
            .bucket(&at.bucket)
            .key(&at.key)
            .body(body)
            .send()
            .await
            .map_err(|e| storage(Failure::from_sdk(&at.to_string(), e)))?;
        Ok(())
    }

    async fn get_file(&self, test_id: &str, key: &str, dest: &Path) -> Result<bool> {
        let at = self.object(test_id, key)?;
        let response = match self
            .s3
            .get_object()
            .bucket(&at.bucket)
            .key(&at.key)
            .send()
            .await
            .map_err(|e| Failure::from_sdk(&at.to_string(), e))
        {
            Ok(response) => response,
            Err(Failure::NotFound(_)) => return Ok(false),
            Err(other) => return Err(storage(other)),
        };
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).map_err(|e| CoreError::io(parent, e))?;
        }
        let mut file = tokio::fs::File::create(dest)
            .await
            .map_err(|e| CoreError::io(dest, e))?;
        let mut body = response.body;
        while let Some(chunk) = body
            .try_next()
            .await
            .map_err(|e| CoreError::Storage(format!("{at}: reading the object failed: {e}")))?
        {
            file.write_all(&chunk)
                .await
                .map_err(|e| CoreError::io(dest, e))?;
        }
        file.flush().await.map_err(|e| CoreError::io(dest, e))?;
        Ok(true)
    }

    async fn list(&self, test_id: &str, prefix: &str) -> Result<Vec<String>> {
        let run = self.run_prefix(test_id)?;
        let mut keys = Vec::new();
        let mut pages = self
            .s3
            .list_objects_v2()
            .bucket(&self.root.bucket)
            .prefix(format!("{run}{prefix}"))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| {
                storage(Failure::from_sdk(
                    &format!("s3://{}/{run}", self.root.bucket),
                    e,
                ))
            })?;
            for object in page.contents() {
                if let Some(rel) = object.key().and_then(|k| k.strip_prefix(&run)) {
                    keys.push(rel.to_string());
                }
            }
        }
        keys.sort();
        Ok(keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use certus_core::Retryability;

    #[test]
    fn a_refused_permission_is_not_retried_and_transient_trouble_is() {
        let denied = storage(Failure::Denied(
            "access to s3://work-bucket/runs/test_0123456789ab/stages/prepare-source.json was denied"
                .into(),
        ));
        assert!(!denied.is_retryable(), "{denied}");
        assert!(
            denied.to_string().contains("prepare-source.json"),
            "{denied}"
        );
        assert!(storage(Failure::Retryable("throttled".into())).is_retryable());
    }
}
