//! The `push-trigger` Lambda: CodeCommit pushes delivered by EventBridge start one scan of the pushed commit,
//! recorded in DynamoDB and run by the scan state machine. The registrations are read (from the work bucket)
//! and the clients built once here; registrations that cannot be read make every event fail, naming why.

use std::sync::Arc;

use certus_api::Launcher;
use certus_apigw::SfnLauncher;
use lambda_runtime::{service_fn, tracing, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let settings = push_trigger::Settings::from_vars(|name| std::env::var(name).ok())?;
    let config = certus_apigw::load_sdk_config(None).await?;
    let triggers = push_trigger::load(&settings, &certus_apigw::config_fetcher(&config)).await;
    if let Err(e) = &triggers {
        tracing::error!(source = %e.source, reason = %e.reason, "push registrations not loaded: every event is refused");
    }
    let dynamodb = aws_sdk_dynamodb::Client::new(&config);
    let stores = certus_apigw::edge::stores(&dynamodb, &settings.tables());
    let services =
        certus_apigw::edge::api_services(stores.jobs, stores.events, &settings.stream_base);
    let launcher: Arc<dyn Launcher> = Arc::new(SfnLauncher::new(
        aws_sdk_sfn::Client::new(&config),
        &settings.scan_machine_arn,
        services.clone(),
    ));
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let (triggers, services, launcher) = (&triggers, &services, launcher.as_ref());
        async move {
            let handled = push_trigger::handle(triggers, services, launcher, &event.payload).await?;
            tracing::info!(delivery = ?handled.delivery, outcome = ?handled.outcome, "push handled");
            Ok::<_, push_trigger::Failure>(handled)
        }
    }))
    .await
}
