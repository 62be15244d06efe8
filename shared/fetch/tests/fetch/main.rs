//! Integration tests of certus-fetch, all on loopback: HTTPS against a local TLS server, OCI against a real
//! registry and a scripted one, pushing signed bundles to the real registry, `file://` roots, and scheme
//! dispatch.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how it reports the unexpected

mod file;
mod https;
mod oci;
mod oci_auth;
mod oci_push;
mod remote;
mod support;
