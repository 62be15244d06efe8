//! `KmsSigner`: the key id and PEM it reports, signatures that `openssl dgst -sha256 -verify` accepts over
//! the message (and rejects over a tampered one), and refusal of keys of another spec.

use aws_sdk_kms::types::KeySpec;
use certus_aws::KmsSigner;
use certus_core::ports::BundleSigner;
use certus_core::CoreError;
use certus_verify::PublicKey;
use sha2::{Digest, Sha256};

use crate::common::{moto_clients, moto_endpoint, run};
use crate::keys::{create_alias, create_kms_key};

#[tokio::test]
async fn signatures_verify_with_openssl_against_the_reported_pem() {
    let Some(endpoint) = moto_endpoint() else {
        return;
    };
    let clients = moto_clients(&endpoint);
    let key_id = create_kms_key(&clients, KeySpec::EccNistP256).await;
    let alias = create_alias(&clients, &key_id).await;
    let signer = KmsSigner::new(&clients, &format!("awskms:///{alias}"))
        .await
        .unwrap();

    let pem = signer.public_key_pem();
    let public = PublicKey::from_pem(&pem).unwrap();
    assert_eq!(
        signer.key_id(),
        hex::encode(Sha256::digest(public.spki_der()))
    );
    assert_eq!(signer.algorithm(), "ecdsa-p256-sha256");

    let message = b"DSSEv1 28 application/vnd.in-toto+json 2 {}".to_vec();
    let signature = signer.sign(&message).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pem_path = dir.path().join("kms.pub.pem");
    let sig_path = dir.path().join("msg.sig");
    let msg_path = dir.path().join("msg");
    let tampered_path = dir.path().join("tampered");
    std::fs::write(&pem_path, &pem).unwrap();
    std::fs::write(&sig_path, &signature).unwrap();
    std::fs::write(&msg_path, &message).unwrap();
    let mut tampered = message.clone();
    tampered[0] ^= 1;
    std::fs::write(&tampered_path, &tampered).unwrap();

    let verify = |data: &std::path::Path| {
        run(
            "openssl",
            &[
                "dgst",
                "-sha256",
                "-verify",
                pem_path.to_str().unwrap(),
                "-signature",
                sig_path.to_str().unwrap(),
                data.to_str().unwrap(),
            ],
        )
    };
    let (ok, out) = verify(&msg_path);
    assert!(ok && out.contains("Verified OK"), "{out}");
    let (ok, out) = verify(&tampered_path);
    assert!(!ok && out.contains("Verification failure"), "{out}");

    // Signing by key id gives the same public key as by alias.
    let by_id = KmsSigner::new(&clients, &key_id).await.unwrap();
    assert_eq!(by_id.key_id(), signer.key_id());
}

#[tokio::test]
async fn keys_of_another_spec_are_refused() {
    let Some(endpoint) = moto_endpoint() else {
        return;
    };
    let clients = moto_clients(&endpoint);
    let rsa = create_kms_key(&clients, KeySpec::Rsa2048).await;
    let err = KmsSigner::new(&clients, &rsa).await.unwrap_err();
    assert!(
        matches!(&err, CoreError::Signing(m) if *m == format!("KMS key {rsa} has key spec RSA_2048; only ECC_NIST_P256 keys can sign bundles")),
        "{err}"
    );
    let p384 = create_kms_key(&clients, KeySpec::EccNistP384).await;
    let err = KmsSigner::new(&clients, &p384).await.unwrap_err();
    assert!(
        matches!(&err, CoreError::Signing(m) if m.contains("has key spec ECC_NIST_P384")),
        "{err}"
    );
    let err = KmsSigner::new(&clients, "alias/certus-absent-signing-key")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, CoreError::Signing(m) if m.starts_with("KMS key alias/certus-absent-signing-key does not exist")),
        "{err}"
    );
}
