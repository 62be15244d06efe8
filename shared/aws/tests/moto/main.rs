//! Tests against a real moto server: S3 fetching, key references, KMS signing, bundle storage, publication
//! and download, uploaded archives.
//! Start one with `tests/start-moto.sh` and export `CERTUS_MOTO_ENDPOINT`; without it every test is skipped.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how it reports the unexpected

mod common;
mod fetch;
mod gate;
mod keys;
mod multipart;
mod publish;
mod runs;
mod scan_cache;
mod signer;
mod store;
mod uploads;
