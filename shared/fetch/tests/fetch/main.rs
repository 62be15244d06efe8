//! Integration tests of certus-fetch, all on loopback: HTTPS against a local TLS server, OCI against a real
//! registry and a scripted one, pushing signed bundles to the real registry, `file://` roots, and scheme
//! dispatch.

mod file;
mod https;
mod oci;
mod oci_auth;
mod oci_push;
mod remote;
mod support;
