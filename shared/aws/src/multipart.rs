//! Server-side copy of one object too large for a single `CopyObject` (over 5 GiB, or over a configured
//! threshold): `CreateMultipartUpload`, `UploadPartCopy` over byte ranges pinned to the source's ETag, then
//! `CompleteMultipartUpload`. Any failure aborts the upload, so no orphaned (and billed) parts remain.

use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use certus_core::{CoreError, Result, Retryability};

use crate::failure::Failure;
use crate::location::S3Location;

/// The largest object S3 stores (5 TiB); larger index entries are refused before anything is copied.
pub const MAX_MULTIPART_OBJECT_BYTES: u64 = 5 * 1024 * 1024 * 1024 * 1024;
/// S3's smallest part (5 MiB); only the last part may be smaller.
pub const MIN_PART_BYTES: u64 = 5 * 1024 * 1024;
/// The part size used unless told otherwise (512 MiB: about 10 parts per 5 GiB).
pub const DEFAULT_PART_BYTES: u64 = 512 * 1024 * 1024;
/// S3's limit on the number of parts of one upload.
const MAX_PARTS: u64 = 10_000;

/// One multipart copy: the source object (pinned to `source_etag`), the destination, its metadata.
pub(crate) struct MultipartCopy<'a> {
    pub(crate) from: &'a S3Location,
    pub(crate) copy_source: String,
    pub(crate) source_etag: Option<&'a str>,
    pub(crate) to: &'a S3Location,
    pub(crate) size: u64,
    pub(crate) part_bytes: u64,
    pub(crate) content_type: Option<&'a str>,
    pub(crate) metadata: &'a [(&'static str, String)],
}

/// Inclusive byte ranges covering `size` bytes in parts of `part_bytes` (raised when needed so that no
/// more than S3's 10 000 parts are used).
pub(crate) fn part_ranges(size: u64, part_bytes: u64) -> Vec<(u64, u64)> {
    let part_bytes = part_bytes.max(size.div_ceil(MAX_PARTS)).max(1);
    let mut ranges = Vec::new();
    let mut start = 0;
    while start < size {
        let end = size.min(start.saturating_add(part_bytes)) - 1;
        ranges.push((start, end));
        start = end + 1;
    }
    ranges
}

impl MultipartCopy<'_> {
    /// Copies the object part by part; on any failure the upload is aborted and the first error returned.
    pub(crate) async fn run(&self, s3: &aws_sdk_s3::Client) -> Result<()> {
        if self.size > MAX_MULTIPART_OBJECT_BYTES {
            return Err(CoreError::Bundle(format!(
                "{} is {} bytes, more than S3's 5 TiB object limit",
                self.from, self.size
            )));
        }
        let mut create = s3
            .create_multipart_upload()
            .bucket(&self.to.bucket)
            .key(&self.to.key);
        if let Some(content_type) = self.content_type {
            create = create.content_type(content_type);
        }
        for (name, value) in self.metadata {
            create = create.metadata(*name, value);
        }
        let created = create.send().await.map_err(|e| {
            Failure::from_sdk(&format!("starting a multipart copy to {}", self.to), e)
                .into_core(CoreError::Bundle)
        })?;
        let upload_id = created.upload_id().unwrap_or_default().to_string();
        if upload_id.is_empty() {
            return Err(CoreError::Bundle(format!(
                "S3 started a multipart copy to {} without an upload id",
                self.to
            )));
        }
        match self.copy_parts(s3, &upload_id).await {
            Ok(()) => Ok(()),
            Err(error) => Err(self.abort(s3, &upload_id, error).await),
        }
    }

    async fn copy_parts(&self, s3: &aws_sdk_s3::Client, upload_id: &str) -> Result<()> {
        let mut parts = Vec::new();
        for (number, (start, end)) in (1..).zip(part_ranges(self.size, self.part_bytes)) {
            let mut request = s3
                .upload_part_copy()
                .bucket(&self.to.bucket)
                .key(&self.to.key)
                .upload_id(upload_id)
                .part_number(number)
                .copy_source(&self.copy_source)
                .copy_source_range(format!("bytes={start}-{end}"));
            // Every part must come from the same version of the source that was checked.
            if let Some(etag) = self.source_etag {
                request = request.copy_source_if_match(etag);
            }
            let copied = request.send().await.map_err(|e| {
                Failure::from_sdk(
                    &format!(
                        "copying bytes {start}-{end} of {} to {} (part {number})",
                        self.from, self.to
                    ),
                    e,
                )
                .into_core(CoreError::Bundle)
            })?;
            let etag = copied
                .copy_part_result()
                .and_then(|r| r.e_tag())
                .ok_or_else(|| {
                    CoreError::Bundle(format!(
                        "S3 copied part {number} of {} without an ETag",
                        self.to
                    ))
                })?;
            parts.push(
                CompletedPart::builder()
                    .part_number(number)
                    .e_tag(etag)
                    .build(),
            );
        }
        s3.complete_multipart_upload()
            .bucket(&self.to.bucket)
            .key(&self.to.key)
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| {
                Failure::from_sdk(&format!("completing the multipart copy to {}", self.to), e)
                    .into_core(CoreError::Bundle)
            })?;
        Ok(())
    }

    /// Aborts the upload; the copy's own error is kept, with the abort's failure appended when it fails too.
    async fn abort(&self, s3: &aws_sdk_s3::Client, upload_id: &str, error: CoreError) -> CoreError {
        let aborted = s3
            .abort_multipart_upload()
            .bucket(&self.to.bucket)
            .key(&self.to.key)
            .upload_id(upload_id)
            .send()
            .await;
        match aborted {
            Ok(_) => error,
            Err(e) => {
                let detail =
                    Failure::from_sdk(&format!("aborting the multipart copy to {}", self.to), e)
                        .into_message();
                let message = format!("{error}; then {detail} (upload id {upload_id})");
                if error.is_retryable() {
                    CoreError::Storage(message)
                } else {
                    CoreError::Bundle(message)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1024 * 1024;

    #[test]
    fn ranges_cover_every_byte_once() {
        assert_eq!(
            part_ranges(12 * MIB, 5 * MIB),
            vec![
                (0, 5 * MIB - 1),
                (5 * MIB, 10 * MIB - 1),
                (10 * MIB, 12 * MIB - 1)
            ]
        );
        assert_eq!(part_ranges(10 * MIB, 5 * MIB).len(), 2);
        assert_eq!(part_ranges(1, 5 * MIB), vec![(0, 0)]);
        assert!(part_ranges(0, 5 * MIB).is_empty());
    }

    #[test]
    fn parts_grow_to_stay_within_ten_thousand() {
        let ranges = part_ranges(MAX_MULTIPART_OBJECT_BYTES, MIN_PART_BYTES);
        assert!(ranges.len() as u64 <= MAX_PARTS, "{}", ranges.len());
        assert_eq!(
            ranges.last().map(|r| r.1),
            Some(MAX_MULTIPART_OBJECT_BYTES - 1)
        );
        let mut next = 0;
        for (start, end) in ranges {
            assert_eq!(start, next);
            next = end + 1;
        }
    }
}
