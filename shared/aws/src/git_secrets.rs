//! Git credentials from AWS Secrets Manager: the [`SecretStore`] a `git_credentials_ref` of the form
//! `secretsmanager:<name or ARN>` is read through on AWS. The prefix a name must have is checked by
//! `certus-source` before this store is asked; IAM grants the function `GetSecretValue` on that prefix only.
//! The secret's string is returned to the one fetch that needs it and never kept; errors carry the service's
//! error code and the reference, never the secret.

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_secretsmanager::error::ProvideErrorMetadata;
use certus_core::request::GIT_CREDENTIALS_REF;
use certus_core::{CoreError, Result};
use certus_source::SecretStore;

/// Reads secrets with `secretsmanager:GetSecretValue`.
#[derive(Debug, Clone)]
pub struct SecretsManagerStore {
    client: aws_sdk_secretsmanager::Client,
}

impl SecretsManagerStore {
    /// From the process's shared configuration ([`crate::sdk_config`]).
    pub fn new(config: &SdkConfig) -> Self {
        Self::from_client(aws_sdk_secretsmanager::Client::new(config))
    }

    pub fn from_client(client: aws_sdk_secretsmanager::Client) -> Self {
        Self { client }
    }
}

#[async_trait]
impl SecretStore for SecretsManagerStore {
    async fn secret_string(&self, id: &str) -> Result<String> {
        let answer = self
            .client
            .get_secret_value()
            .secret_id(id)
            .send()
            .await
            .map_err(|e| {
                // The service's error code, or what kept the request from being answered; never the secret.
                let why = match (e.code(), e.raw_response()) {
                    (Some(code), _) => code.to_string(),
                    (None, Some(raw)) => format!("HTTP {}", raw.status().as_u16()),
                    (None, None) => "no answer from Secrets Manager".to_string(),
                };
                CoreError::Source(format!(
                    "{GIT_CREDENTIALS_REF}: secretsmanager:{id} could not be read ({why})"
                ))
            })?;
        answer.secret_string().map(str::to_string).ok_or_else(|| {
            CoreError::Source(format!(
                "{GIT_CREDENTIALS_REF}: secretsmanager:{id} holds no string (a binary secret is not a token)"
            ))
        })
    }
}
