//! `certus-step <stage>`: one step of the staged pipeline on the JSON input read from stdin (the local
//! state-machine runner, the Fargate scanner container's entry point), wired to AWS like the Lambda that runs
//! that step. Prints the step's JSON output; on failure prints `{"errorType", "errorMessage"}` and
//! exits 1, so a local state-machine runner can `Retry`/`Catch` on the same error names as Step Functions.

use std::io::Read;
use std::process::ExitCode;

use certus_lambda::{install_crypto, StepError, StepHandler};
use certus_stages::{Stage, StageError};

#[tokio::main]
async fn main() -> ExitCode {
    install_crypto();
    let (output, code) = match run().await {
        Ok(value) => (value, ExitCode::SUCCESS),
        Err(e) => (certus_runtime::Failure(e).to_json(), ExitCode::FAILURE),
    };
    println!("{output}");
    code
}

async fn run() -> Result<serde_json::Value, StepError> {
    let name = std::env::args().nth(1).unwrap_or_default();
    let stage = Stage::parse(&name).ok_or_else(|| {
        let names: Vec<&str> = Stage::ALL.iter().map(|s| s.name()).collect();
        StepError::Config(format!(
            "usage: certus-step <stage> (one of: {}), input JSON on stdin",
            names.join(", ")
        ))
    })?;
    let mut text = String::new();
    std::io::stdin()
        .take(1024 * 1024)
        .read_to_string(&mut text)
        .map_err(|e| StepError::Config(format!("stdin: {e}")))?;
    let payload = serde_json::from_str(&text).map_err(|e| {
        StepError::Stage(StageError::NonRetryable(format!("input is not JSON: {e}")))
    })?;
    StepHandler::from_env(stage).await?.handle(payload).await
}
