//! Tests of the API Gateway side against a real moto server (Step Functions, DynamoDB) and a recording
//! stand-in for the management API on loopback. Start moto with `shared/aws/tests/start-moto.sh <port>` and
//! export `CERTUS_MOTO_ENDPOINT`; without it every test says it is skipped.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how it reports the unexpected

mod common;
mod sfn;
mod ws;
