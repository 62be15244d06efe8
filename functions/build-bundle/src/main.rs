//! The `build-bundle` Lambda: the verdict, the evidence bundle signed with KMS and stored in the work bucket, the final job record.
//! Wiring only; the step is `certus_stages::Stages` over the AWS adapters of `certus-lambda`.
// The Lambda runtime around the step's future nests deeply enough to need more than the default.
#![recursion_limit = "256"]

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    certus_lambda::serve(certus_stages::Stage::BuildBundle).await
}
