//! The `prepare-source` Lambda: QUEUED → RUNNING, the pushed commit cloned (git from the layer under /opt/bin) or the archive unpacked into /tmp, and a snapshot of the tree in the run's work prefix.
//! Wiring only; the step is `certus_stages::Stages` over the AWS adapters of `certus-lambda`.
// The Lambda runtime around the step's future nests deeply enough to need more than the default.
#![recursion_limit = "256"]

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    certus_lambda::serve(certus_stages::Stage::PrepareSource).await
}
