//! The `api` Lambda: `lambda_http` over the router of `certus serve`, with jobs and events in DynamoDB and
//! submissions starting the scan state machine. Clients are built and the push registrations read (from the
//! work bucket, when configured) once here; registrations that cannot be read leave the webhooks off.

use lambda_http::{run, tracing, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let var = |name: &str| std::env::var(name).ok();
    let settings = api::Settings::from_vars(&var)?;
    let auth = certus_apigw::auth_behind_jwt_authorizer(&var)?;
    let config = certus_apigw::load_sdk_config(None).await?;
    let dynamodb = aws_sdk_dynamodb::Client::new(&config);
    let sfn = aws_sdk_sfn::Client::new(&config);
    let triggers = api::triggers_or_none(&settings, &certus_apigw::config_fetcher(&config)).await;
    let stores = certus_apigw::edge::stores(&dynamodb, &settings.tables());
    let archives = api::archives(&certus_aws::AwsClients::from_sdk_config(&config), &settings)?;
    run(api::app(auth, stores, &sfn, &settings, triggers, archives)?).await
}
