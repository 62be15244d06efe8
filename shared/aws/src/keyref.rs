//! Resolves verification key references of every kind into a public key: local files and environment
//! variables directly, `s3://bucket/key` by fetching a PEM object, `awskms://…` by asking KMS for the
//! key's public half (SPKI DER).

use aws_sdk_kms::operation::get_public_key::GetPublicKeyOutput;
use aws_sdk_kms::types::KeySpec;
use certus_core::{CoreError, Result};
use certus_verify::{KeyRef, PublicKey};

use crate::clients::AwsClients;
use crate::failure::Failure;
use crate::fetcher::get_capped;
use crate::location::S3Location;

/// PEM key objects larger than this are refused.
pub const MAX_KEY_OBJECT_BYTES: usize = 64 * 1024;
const MAX_KMS_KEY_ID_CHARS: usize = 2048;

/// The public key a reference names.
pub async fn resolve_key_ref(clients: &AwsClients, key_ref: &KeyRef) -> Result<PublicKey> {
    match key_ref {
        KeyRef::File(_) | KeyRef::Env(_) => key_ref.load_local().map_err(verification),
        KeyRef::S3 { bucket, key } => {
            let location = S3Location::object(&format!("s3://{bucket}/{key}"))
                .map_err(|e| CoreError::Verification(e.to_string()))?;
            let bytes = get_capped(
                clients.s3(),
                &location,
                MAX_KEY_OBJECT_BYTES,
                CoreError::Verification,
            )
            .await?;
            let pem = String::from_utf8(bytes).map_err(|_| {
                CoreError::Verification(format!("key object {location} is not UTF-8 PEM text"))
            })?;
            PublicKey::from_pem(&pem)
                .map_err(|e| CoreError::Verification(format!("key object {location}: {e}")))
        }
        KeyRef::AwsKms(uri) => {
            let key_id = kms_key_id(uri)?;
            let der = kms_public_key(clients.kms(), &key_id).await?.der;
            PublicKey::from_spki_der(&der)
                .map_err(|e| CoreError::Verification(format!("KMS key {key_id}: {e}")))
        }
    }
}

/// The KMS key id, ARN or alias of an `awskms://` URI (`awskms://alias/x`, `awskms:///arn:aws:kms:…`).
/// URIs that name their own endpoint (`awskms://host:port/key`) are refused: the endpoint is the
/// process's configuration, not the reference's.
pub fn kms_key_id(uri: &str) -> Result<String> {
    let invalid = |reason: &str| {
        CoreError::Verification(format!(
            "KMS key reference '{}' is invalid: {reason}",
            uri.chars().take(200).collect::<String>()
        ))
    };
    let rest = uri
        .strip_prefix("awskms://")
        .ok_or_else(|| invalid("it does not start with awskms://"))?;
    let key_id = match rest.strip_prefix('/') {
        Some(id) => id,
        None if rest.starts_with("alias/") || rest.starts_with("arn:") || !rest.contains('/') => {
            rest
        }
        None => return Err(invalid(
            "naming an endpoint in the URI is not supported (use awskms:///<key id, ARN or alias>)",
        )),
    };
    if key_id.is_empty() {
        return Err(invalid("it names no key"));
    }
    if key_id.chars().count() > MAX_KMS_KEY_ID_CHARS
        || !key_id.chars().all(|c| c.is_ascii_graphic())
    {
        return Err(invalid(
            "the key id must be at most 2048 printable ASCII characters",
        ));
    }
    Ok(key_id.to_string())
}

/// What `GetPublicKey` says about a key.
pub(crate) struct KmsPublicKey {
    /// The key's ARN (stable even when the request named an alias).
    pub arn: Option<String>,
    pub der: Vec<u8>,
    /// `KeySpec`, e.g. `ECC_NIST_P256`.
    pub spec: Option<String>,
    pub usage: Option<aws_sdk_kms::types::KeyUsageType>,
}

pub(crate) async fn kms_public_key(
    kms: &aws_sdk_kms::Client,
    key_id: &str,
) -> Result<KmsPublicKey> {
    let what = format!("KMS key {key_id}");
    let response = kms
        .get_public_key()
        .key_id(key_id)
        .send()
        .await
        .map_err(|e| Failure::from_sdk(&what, e).into_core(CoreError::Verification))?;
    let der = response
        .public_key()
        .map(|blob| blob.as_ref().to_vec())
        .ok_or_else(|| CoreError::Verification(format!("{what}: KMS returned no public key")))?;
    Ok(KmsPublicKey {
        arn: response.key_id().map(str::to_string),
        der,
        spec: key_spec(&response),
        usage: response.key_usage().cloned(),
    })
}

/// The key spec, from the deprecated `CustomerMasterKeySpec` when a service (moto) sends only that.
fn key_spec(response: &GetPublicKeyOutput) -> Option<String> {
    #[allow(deprecated)]
    let legacy = response
        .customer_master_key_spec()
        .map(|spec| spec.as_str());
    response
        .key_spec()
        .map(KeySpec::as_str)
        .or(legacy)
        .map(str::to_string)
}

fn verification(e: certus_verify::VerifyError) -> CoreError {
    CoreError::Verification(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::kms_key_id;

    #[test]
    fn kms_uris_name_ids_arns_and_aliases() {
        for (uri, id) in [
            (
                "awskms://1234abcd-12ab-34cd-56ef-1234567890ab",
                "1234abcd-12ab-34cd-56ef-1234567890ab",
            ),
            ("awskms://alias/certus-signing", "alias/certus-signing"),
            ("awskms:///alias/certus-signing", "alias/certus-signing"),
            (
                "awskms:///arn:aws:kms:eu-west-1:111122223333:key/1234abcd",
                "arn:aws:kms:eu-west-1:111122223333:key/1234abcd",
            ),
            (
                "awskms://arn:aws:kms:eu-west-1:111122223333:alias/x",
                "arn:aws:kms:eu-west-1:111122223333:alias/x",
            ),
        ] {
            assert_eq!(kms_key_id(uri).unwrap(), id, "{uri}");
        }
    }

    #[test]
    fn kms_uris_with_endpoints_or_junk_are_refused() {
        for (uri, reason) in [
            ("awskms://localhost:4566/1234", "naming an endpoint"),
            ("awskms:///", "names no key"),
            ("awskms:///key id", "printable ASCII"),
            ("s3://b/k", "does not start with awskms://"),
        ] {
            let err = kms_key_id(uri).unwrap_err().to_string();
            assert!(err.contains(reason), "{uri}: {err}");
        }
    }
}
