//! The step Lambdas' shared code: the staged pipeline (`certus-stages`) wired to AWS, served through
//! `lambda_runtime` with errors typed for Step Functions (`Retryable`/`NonRetryable`). Each function crate
//! under `functions/` is one call to [`serve`]; `certus-step` runs the same handler on JSON from stdin, for
//! the local state-machine runner and the Fargate scanner container.

mod env;
mod error;
mod wiring;

use std::sync::Arc;

use certus_core::Retryability;
use certus_runtime::Failure;
use certus_stages::{Stage, StageInput, Stages};
use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;
use tokio::sync::OnceCell;

pub use env::StepEnv;
pub use error::{Result, StepError};
pub use wiring::{ports, stages_for, Clients, Port, LAMBDA_BUILDER_ID};

/// One step function: its clients (built once) and its wiring (built on the first invocation).
pub struct StepHandler {
    stage: Stage,
    env: StepEnv,
    clients: Clients,
    stages: OnceCell<Stages>,
}

impl StepHandler {
    pub async fn from_env(stage: Stage) -> Result<Self> {
        let env = StepEnv::from_vars(&|name| std::env::var(name).ok())?;
        let clients = Clients::from_env(&env).await?;
        Ok(Self {
            stage,
            env,
            clients,
            stages: OnceCell::new(),
        })
    }

    /// Runs the step on one state-machine payload.
    pub async fn handle(&self, payload: Value) -> Result<Value> {
        let input: StageInput = serde_json::from_value(payload).map_err(|e| {
            StepError::Stage(certus_stages::StageError::NonRetryable(format!(
                "{} input is not valid: {e}",
                self.stage.name()
            )))
        })?;
        let stages = self
            .stages
            .get_or_try_init(|| stages_for(self.stage, &self.env, &self.clients))
            .await?;
        let output = stages.run(self.stage, input).await?;
        serde_json::to_value(output).map_err(|e| {
            StepError::Stage(certus_stages::StageError::NonRetryable(format!(
                "{} output could not be encoded: {e}",
                self.stage.name()
            )))
        })
    }
}

/// The `main` of a step function: JSON logs, clients, then the Lambda runtime loop.
pub async fn serve(stage: Stage) -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    install_crypto();
    let handler = Arc::new(StepHandler::from_env(stage).await?);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let handler = handler.clone();
        async move {
            let test_id = event.payload.get("test_id").cloned().unwrap_or_default();
            lambda_runtime::tracing::info!(stage = stage.name(), %test_id, request_id = %event.context.request_id, "step");
            handler.handle(event.payload).await.map_err(|e| {
                lambda_runtime::tracing::warn!(stage = stage.name(), %test_id, error_type = e.retry().error_type(), error = %e, "step failed");
                Failure(e)
            })
        }
    }))
    .await
}

/// rustls with ring for every HTTPS client of the process (Trust, manifest fetches, AWS).
pub fn install_crypto() {
    // Already installed (a second call) is fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
}
