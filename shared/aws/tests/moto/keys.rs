//! `resolve_key_ref` for every kind: a PEM object in S3, a KMS key by id and by alias, local files and
//! environment variables, and the failures of each.

use aws_sdk_kms::types::{KeySpec, KeyUsageType};
use certus_aws::{resolve_key_ref, AwsClients};
use certus_core::CoreError;
use certus_verify::{KeyRef, PublicKey};

use crate::common::{
    moto_clients, moto_endpoint, new_bucket, openssl_p256_public_key, put, unique_name,
};

/// Creates a KMS key of `spec` for signing and returns its id.
pub async fn create_kms_key(clients: &AwsClients, spec: KeySpec) -> String {
    let created = clients
        .kms()
        .create_key()
        .key_spec(spec)
        .key_usage(KeyUsageType::SignVerify)
        .description("certus-aws test key")
        .send()
        .await
        .unwrap();
    created.key_metadata().unwrap().key_id().to_string()
}

pub async fn create_alias(clients: &AwsClients, key_id: &str) -> String {
    let alias = format!("alias/{}", unique_name("key"));
    clients
        .kms()
        .create_alias()
        .alias_name(&alias)
        .target_key_id(key_id)
        .send()
        .await
        .unwrap();
    alias
}

#[tokio::test]
async fn an_s3_pem_object_resolves_to_the_same_key() {
    let Some(endpoint) = moto_endpoint() else {
        return;
    };
    let clients = moto_clients(&endpoint);
    let dir = tempfile::tempdir().unwrap();
    let pem_path = openssl_p256_public_key(dir.path());
    let pem = std::fs::read(&pem_path).unwrap();
    let bucket = new_bucket(&clients, "keys").await;
    put(&clients, &bucket, "keys/signer.pub.pem", &pem).await;
    put(&clients, &bucket, "keys/junk.pem", b"this is not a key").await;

    let key_ref: KeyRef = format!("s3://{bucket}/keys/signer.pub.pem")
        .parse()
        .unwrap();
    let resolved = resolve_key_ref(&clients, &key_ref).await.unwrap();
    let local = PublicKey::from_pem(std::str::from_utf8(&pem).unwrap()).unwrap();
    assert_eq!(resolved.spki_der(), local.spki_der());

    // The same key through the file kind, which needs no AWS at all.
    let from_file = resolve_key_ref(&clients, &KeyRef::File(pem_path))
        .await
        .unwrap();
    assert_eq!(from_file.fingerprint(), local.fingerprint());

    let junk: KeyRef = format!("s3://{bucket}/keys/junk.pem").parse().unwrap();
    let err = resolve_key_ref(&clients, &junk).await.unwrap_err();
    assert!(
        matches!(&err, CoreError::Verification(m) if m.starts_with(&format!("key object s3://{bucket}/keys/junk.pem: public key is malformed"))),
        "{err}"
    );

    let missing: KeyRef = format!("s3://{bucket}/keys/absent.pem").parse().unwrap();
    let err = resolve_key_ref(&clients, &missing).await.unwrap_err();
    assert!(
        matches!(&err, CoreError::Verification(m) if m.contains("does not exist")),
        "{err}"
    );
}

#[tokio::test]
async fn an_oversized_s3_key_object_is_refused() {
    let Some(endpoint) = moto_endpoint() else {
        return;
    };
    let clients = moto_clients(&endpoint);
    let bucket = new_bucket(&clients, "bigkey").await;
    put(
        &clients,
        &bucket,
        "big.pem",
        &vec![b'A'; certus_aws::MAX_KEY_OBJECT_BYTES + 1],
    )
    .await;
    let key_ref: KeyRef = format!("s3://{bucket}/big.pem").parse().unwrap();
    let err = resolve_key_ref(&clients, &key_ref).await.unwrap_err();
    assert!(
        matches!(&err, CoreError::Verification(m) if m.contains("larger than the limit of 65536 bytes")),
        "{err}"
    );
}

#[tokio::test]
async fn a_kms_key_resolves_by_id_and_alias() {
    let Some(endpoint) = moto_endpoint() else {
        return;
    };
    let clients = moto_clients(&endpoint);
    let key_id = create_kms_key(&clients, KeySpec::EccNistP256).await;
    let alias = create_alias(&clients, &key_id).await;

    let by_id = resolve_key_ref(&clients, &format!("awskms://{key_id}").parse().unwrap())
        .await
        .unwrap();
    let by_alias = resolve_key_ref(&clients, &format!("awskms:///{alias}").parse().unwrap())
        .await
        .unwrap();
    assert_eq!(by_id.algorithm(), certus_verify::KeyAlgorithm::EcdsaP256);
    assert_eq!(by_id.spki_der(), by_alias.spki_der());

    let absent = "awskms://alias/certus-no-such-key".parse().unwrap();
    let err = resolve_key_ref(&clients, &absent).await.unwrap_err();
    assert!(
        matches!(&err, CoreError::Verification(m) if m.starts_with("KMS key alias/certus-no-such-key does not exist")),
        "{err}"
    );
}

#[tokio::test]
async fn missing_environment_keys_and_endpoint_uris_are_refused() {
    // No server needed: local kinds never touch AWS.
    let clients = moto_clients("http://127.0.0.1:9");
    let key_ref = KeyRef::Env("CERTUS_AWS_TEST_SURELY_UNSET_VARIABLE".into());
    let err = resolve_key_ref(&clients, &key_ref).await.unwrap_err();
    assert!(
        matches!(&err, CoreError::Verification(m) if m.contains("CERTUS_AWS_TEST_SURELY_UNSET_VARIABLE is not set")),
        "{err}"
    );
    let err = resolve_key_ref(
        &clients,
        &KeyRef::AwsKms("awskms://localhost:4566/k".into()),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, CoreError::Verification(m) if m.contains("naming an endpoint in the URI is not supported")),
        "{err}"
    );
}
