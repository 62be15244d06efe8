//! End-to-end tests of `certus serve`: a real server on 127.0.0.1:0, real HTTP and WebSocket clients, the
//! embedded services with the sample scanner and a directory source made here.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how it reports the unexpected

mod audit;
mod console;
mod exhaustion;
mod http;
mod jwt;
mod load;
mod openapi;
mod ratelimit;
mod recovery;
mod scheduling;
mod support;
mod tenancy;
mod upload;
mod webhooks;
mod ws;
