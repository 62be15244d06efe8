//! The API Gateway Management API of one WebSocket stage: posting a message to a connection and closing it.
//! Its endpoint is `https://{api-id}.execute-api.{region}.amazonaws.com/{stage}` in production (or the custom
//! domain's URL); requests are signed like any AWS call.

use aws_config::SdkConfig;
use aws_sdk_apigatewaymanagement::error::SdkError;
use aws_sdk_apigatewaymanagement::primitives::Blob;

use crate::clients::check_endpoint;
use crate::error::{sdk_failure, ApigwError, Result};

/// What became of a post.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Posted {
    Delivered,
    /// 410: the client has gone; the connection will never take another message.
    Gone,
}

#[derive(Debug, Clone)]
pub struct ManagementApi {
    client: aws_sdk_apigatewaymanagement::Client,
}

impl ManagementApi {
    /// A client for the stage at `endpoint`, with the region and credentials of `config`.
    pub fn new(config: &SdkConfig, endpoint: &str) -> Result<Self> {
        check_endpoint("management endpoint", endpoint)?;
        let client_config = aws_sdk_apigatewaymanagement::config::Builder::from(config)
            .endpoint_url(endpoint.trim_end_matches('/'))
            .build();
        Ok(Self {
            client: aws_sdk_apigatewaymanagement::Client::from_conf(client_config),
        })
    }

    /// `POST /@connections/{connection_id}` with `data` as the message.
    pub async fn post(&self, connection_id: &str, data: &[u8]) -> Result<Posted> {
        let sent = self
            .client
            .post_to_connection()
            .connection_id(connection_id)
            .data(Blob::new(data))
            .send()
            .await;
        match sent {
            Ok(_) => Ok(Posted::Delivered),
            Err(error) if is_gone(&error) => Ok(Posted::Gone),
            Err(error) => {
                let (reason, retry) = sdk_failure(&error);
                Err(ApigwError::Management {
                    operation: "PostToConnection",
                    connection_id: connection_id.to_string(),
                    reason,
                    retry,
                })
            }
        }
    }

    /// `DELETE /@connections/{connection_id}`: closes the socket. A connection already gone is fine.
    pub async fn close(&self, connection_id: &str) -> Result<()> {
        match self
            .client
            .delete_connection()
            .connection_id(connection_id)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(error) if is_gone(&error) => Ok(()),
            Err(error) => {
                let (reason, retry) = sdk_failure(&error);
                Err(ApigwError::Management {
                    operation: "DeleteConnection",
                    connection_id: connection_id.to_string(),
                    reason,
                    retry,
                })
            }
        }
    }
}

/// A 410 answer, whether or not it names `GoneException`.
fn is_gone<E>(
    error: &SdkError<E, aws_sdk_apigatewaymanagement::config::http::HttpResponse>,
) -> bool {
    matches!(error, SdkError::ServiceError(service) if service.raw().status().as_u16() == 410)
}
