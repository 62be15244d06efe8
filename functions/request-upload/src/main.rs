//! The `request-upload` Lambda: the Certus-Trust exchange for a SUCCEEDED job (fails closed).
//! Wiring only; the step is `certus_stages::Stages` over the AWS adapters of `certus-lambda`.
// The Lambda runtime around the step's future nests deeply enough to need more than the default.
#![recursion_limit = "256"]

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    certus_lambda::serve(certus_stages::Stage::RequestUpload).await
}
