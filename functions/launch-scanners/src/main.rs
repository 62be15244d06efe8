//! The `launch-scanners` Lambda: the profile's tools resolved and planned as the Map's items (Lambda for built-in scanners, Fargate for the heavy ones).
//! Wiring only; the step is `certus_stages::Stages` over the AWS adapters of `certus-lambda`.
// The Lambda runtime around the step's future nests deeply enough to need more than the default.
#![recursion_limit = "256"]

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    certus_lambda::serve(certus_stages::Stage::LaunchScanners).await
}
