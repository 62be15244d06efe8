//! How the `certus` tests run the binary as a user would: a data directory of the test's own, no
//! verification settings, DynamoDB table or colour preference inherited from the caller's environment, no
//! external scanners and a minimal `PATH`.

use std::path::Path;
use std::process::{Command, Output};

/// Runs `certus ARGS` with `data` as its data directory.
pub fn certus(args: &[&str], data: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_certus"))
        .args(args)
        .env("CERTUS_ASSURANCE_ARTIFACT_ROOT", data)
        .env_remove("CERTUS_ASSURANCE_MANIFEST_VERIFICATION_REQUIRED")
        .env_remove("CERTUS_ASSURANCE_MANIFEST_VERIFICATION_KEY_REF")
        .env_remove("CERTUS_ASSURANCE_DYNAMODB_JOBS_TABLE")
        .env_remove("NO_COLOR")
        .env("CERTUS_ASSURANCE_TOOLS_BIN_DIR", data.join("no-tools"))
        .env("PATH", "/usr/bin:/bin")
        .output()
        .expect("certus runs")
}
