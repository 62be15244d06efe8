//! The `verify-manifest` Lambda: the manifest signature checked over the exact bytes before anything runs (key, KMS key or Sigstore bundle).
//! Wiring only; the step is `certus_stages::Stages` over the AWS adapters of `certus-lambda`.
// The Lambda runtime around the step's future nests deeply enough to need more than the default.
#![recursion_limit = "256"]

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    certus_lambda::serve(certus_stages::Stage::VerifyManifest).await
}
