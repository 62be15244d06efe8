//! The `fetch-manifest` Lambda: the manifest and its signature, as exact bytes, from the repository, S3, OCI or HTTPS into the run's bundle prefix.
//! Wiring only; the step is `certus_stages::Stages` over the AWS adapters of `certus-lambda`.
// The Lambda runtime around the step's future nests deeply enough to need more than the default.
#![recursion_limit = "256"]

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    certus_lambda::serve(certus_stages::Stage::FetchManifest).await
}
