//! A throw-away Fulcio CA, CT log, Rekor log and RFC 3161 timestamp authority made at test time
//! with `openssl`, to exercise hashedrekord entries (Rekor v1 and v2), keyed bundles, legacy
//! cosign bundles, the legacy issuer extension, embedded SCTs and signed timestamps.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how it reports the unexpected

mod common;

use std::path::Path;

use certus_verify::{
    verify, BundleFormat, IdentityPolicy, Method, PublicKey, Signature, TrustMaterial, TrustedRoot,
    VerifyError,
};
use common::{b64, openssl, p256_key, p256_sign};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const IDENTITY: &str =
    "https://github.com/certus/manifests/.github/workflows/sign.yml@refs/heads/main";
const ISSUER: &str = "https://token.actions.githubusercontent.com";
const BLOB: &[u8] = b"{\"product\":\"certus\",\"profiles\":[{\"name\":\"light\"}]}";

fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

fn leaf_hash(data: &[u8]) -> [u8; 32] {
    Sha256::new()
        .chain_update([0u8])
        .chain_update(data)
        .finalize()
        .into()
}

fn node_hash(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    Sha256::new()
        .chain_update([1u8])
        .chain_update(left)
        .chain_update(right)
        .finalize()
        .into()
}

fn tree_root(leaves: &[[u8; 32]]) -> [u8; 32] {
    if leaves.len() == 1 {
        return leaves[0];
    }
    let split = leaves.len().next_power_of_two() / 2;
    node_hash(&tree_root(&leaves[..split]), &tree_root(&leaves[split..]))
}

fn audit_path(index: usize, leaves: &[[u8; 32]]) -> Vec<[u8; 32]> {
    if leaves.len() == 1 {
        return Vec::new();
    }
    let split = leaves.len().next_power_of_two() / 2;
    let (mut path, sibling) = if index < split {
        (
            audit_path(index, &leaves[..split]),
            tree_root(&leaves[split..]),
        )
    } else {
        (
            audit_path(index - split, &leaves[split..]),
            tree_root(&leaves[..split]),
        )
    };
    path.push(sibling);
    path
}

/// Adds to the certificate `precert_der` an SCT list holding one SCT by the CT log key `ct.key`
/// (RFC 6962 §3.2, over the certificate without the extension) and re-signs it with `ca.key`.
fn embed_sct(dir: &Path, precert_der: &[u8], issuer_key_hash: &[u8], ct_log_id: &[u8]) -> Vec<u8> {
    use der::asn1::{BitString, OctetString};
    use der::{Any, Decode, Encode};
    use x509_cert::ext::{Extension, Extensions};

    let precert = x509_cert::Certificate::from_der(precert_der).unwrap();
    let tbs = precert.tbs_certificate().to_der().unwrap();
    let not_before = precert
        .tbs_certificate()
        .validity()
        .not_before
        .to_unix_duration();
    let timestamp_ms = u64::try_from(not_before.as_millis()).unwrap();
    let extensions = vec![0u8, 0];
    let mut signed = vec![0u8, 0];
    signed.extend_from_slice(&timestamp_ms.to_be_bytes());
    signed.extend_from_slice(&[0, 1]);
    signed.extend_from_slice(issuer_key_hash);
    signed.extend_from_slice(&u32::try_from(tbs.len()).unwrap().to_be_bytes()[1..]);
    signed.extend_from_slice(&tbs);
    signed.extend_from_slice(&extensions);
    let signature = p256_sign(dir, "ct.key", &signed);
    let mut sct = vec![0u8];
    sct.extend_from_slice(ct_log_id);
    sct.extend_from_slice(&timestamp_ms.to_be_bytes());
    sct.extend_from_slice(&extensions);
    sct.extend_from_slice(&[4, 3]);
    sct.extend_from_slice(&u16::try_from(signature.len()).unwrap().to_be_bytes());
    sct.extend_from_slice(&signature);
    let mut list = (u16::try_from(sct.len() + 2).unwrap())
        .to_be_bytes()
        .to_vec();
    list.extend_from_slice(&u16::try_from(sct.len()).unwrap().to_be_bytes());
    list.extend_from_slice(&sct);
    let extension = Extension {
        extn_id: "1.3.6.1.4.1.11129.2.4.2".parse().unwrap(),
        critical: false,
        extn_value: OctetString::new(OctetString::new(list).unwrap().to_der().unwrap()).unwrap(),
    };
    let mut fields = Vec::<Any>::from_der(&tbs).unwrap();
    let last = fields.last_mut().unwrap();
    let mut all = Extensions::from_der(last.value()).unwrap();
    all.push(extension);
    *last = Any::new(last.header().tag(), all.to_der().unwrap()).unwrap();
    let new_tbs = fields.to_der().unwrap();
    let ca_signature = {
        std::fs::write(dir.join("tbs.der"), &new_tbs).unwrap();
        openssl(dir, &["dgst", "-sha384", "-sign", "ca.key", "tbs.der"])
    };
    vec![
        Any::from_der(&new_tbs).unwrap(),
        Any::encode_from(precert.signature_algorithm()).unwrap(),
        Any::encode_from(&BitString::from_bytes(&ca_signature).unwrap()).unwrap(),
    ]
    .to_der()
    .unwrap()
}

/// A timestamp authority in `dir`: `tsa-root.pem` (P-384, self-signed) issues `tsa.pem` (P-256,
/// critical timeStamping EKU, key `tsa.key`); `tsa.cnf` configures `openssl ts -reply`.
fn make_tsa(dir: &Path) {
    openssl(
        dir,
        &[
            "ecparam",
            "-genkey",
            "-name",
            "secp384r1",
            "-noout",
            "-out",
            "tsa-root.key",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-new",
            "-key",
            "tsa-root.key",
            "-sha384",
            "-days",
            "30",
            "-subj",
            "/O=certus-test/CN=test-tsa-root",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
            "-out",
            "tsa-root.pem",
        ],
    );
    p256_key(dir, "tsa");
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-key",
            "tsa.key",
            "-subj",
            "/O=certus-test/CN=test-tsa",
            "-out",
            "tsa.csr",
        ],
    );
    std::fs::write(
        dir.join("tsa-ext.cnf"),
        "[ext]\nextendedKeyUsage = critical, timeStamping\nkeyUsage = critical, digitalSignature\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "tsa.csr",
            "-CA",
            "tsa-root.pem",
            "-CAkey",
            "tsa-root.key",
            "-CAcreateserial",
            "-days",
            "1",
            "-sha384",
            "-extfile",
            "tsa-ext.cnf",
            "-extensions",
            "ext",
            "-out",
            "tsa.pem",
        ],
    );
    std::fs::write(dir.join("tsa-serial"), "01\n").unwrap();
    std::fs::write(
        dir.join("tsa.cnf"),
        "[ tsa ]\ndefault_tsa = certus\n[ certus ]\nserial = ./tsa-serial\ncrypto_device = builtin\n\
         signer_cert = ./tsa.pem\nsigner_key = ./tsa.key\nsigner_digest = sha256\n\
         default_policy = 1.2.3.4.1\ndigests = sha256\naccuracy = secs:1\nordering = no\n\
         tsa_name = no\ness_cert_id_chain = no\ness_cert_id_alg = sha256\n",
    )
    .unwrap();
}

struct World {
    dir: tempfile::TempDir,
    root_json: Vec<u8>,
    log_id: [u8; 32],
    leaf_der: Vec<u8>,
    leaf_pem: String,
    leaf_key_pem: String,
    integrated_time: i64,
}

impl World {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        openssl(
            d,
            &[
                "ecparam",
                "-genkey",
                "-name",
                "secp384r1",
                "-noout",
                "-out",
                "ca.key",
            ],
        );
        openssl(
            d,
            &[
                "req",
                "-x509",
                "-new",
                "-key",
                "ca.key",
                "-sha384",
                "-days",
                "30",
                "-subj",
                "/O=certus-test/CN=test-fulcio-root",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
                "-out",
                "ca.pem",
            ],
        );
        let (_, leaf_key_pem) = p256_key(d, "leaf");
        openssl(
            d,
            &[
                "req",
                "-new",
                "-key",
                "leaf.key",
                "-subj",
                "/O=certus-test",
                "-out",
                "leaf.csr",
            ],
        );
        std::fs::write(
            d.join("leaf.cnf"),
            format!(
                "[ext]\nsubjectAltName = critical, URI:{IDENTITY}\nextendedKeyUsage = codeSigning\n\
                 keyUsage = critical, digitalSignature\n1.3.6.1.4.1.57264.1.1 = DER:{}\n",
                hex::encode(ISSUER)
            ),
        )
        .unwrap();
        openssl(
            d,
            &[
                "x509",
                "-req",
                "-in",
                "leaf.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "1",
                "-sha384",
                "-extfile",
                "leaf.cnf",
                "-extensions",
                "ext",
                "-out",
                "leaf.pem",
            ],
        );
        let precert_der = openssl(d, &["x509", "-in", "leaf.pem", "-outform", "DER"]);
        let ca_der = openssl(d, &["x509", "-in", "ca.pem", "-outform", "DER"]);
        p256_key(d, "ct");
        let ct_der = openssl(d, &["pkey", "-pubin", "-in", "ct.pub", "-outform", "DER"]);
        let ca_spki = openssl(d, &["pkey", "-in", "ca.key", "-pubout", "-outform", "DER"]);
        let leaf_der = embed_sct(d, &precert_der, &sha256(&ca_spki), &sha256(&ct_der));
        std::fs::write(
            d.join("leaf.pem"),
            der::pem::encode_string("CERTIFICATE", der::pem::LineEnding::LF, &leaf_der).unwrap(),
        )
        .unwrap();
        make_tsa(d);
        let tsa_der = openssl(d, &["x509", "-in", "tsa.pem", "-outform", "DER"]);
        let tsa_root_der = openssl(d, &["x509", "-in", "tsa-root.pem", "-outform", "DER"]);
        p256_key(d, "log");
        let log_der = openssl(d, &["pkey", "-pubin", "-in", "log.pub", "-outform", "DER"]);
        let log_id = sha256(&log_der);
        let root_json = serde_json::to_vec(&json!({
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs": [{
                "baseUrl": "https://rekor.test",
                "hashAlgorithm": "SHA2_256",
                "publicKey": { "rawBytes": b64(&log_der), "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                               "validFor": { "start": "2020-01-01T00:00:00Z" } },
                "logId": { "keyId": b64(&log_id) }
            }],
            "ctlogs": [{
                "baseUrl": "https://ctfe.test",
                "hashAlgorithm": "SHA2_256",
                "publicKey": { "rawBytes": b64(&ct_der), "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                               "validFor": { "start": "2020-01-01T00:00:00Z" } },
                "logId": { "keyId": b64(&sha256(&ct_der)) }
            }],
            "timestampAuthorities": [{
                "subject": { "organization": "certus-test", "commonName": "test-tsa" },
                "certChain": { "certificates": [{ "rawBytes": b64(&tsa_der) }, { "rawBytes": b64(&tsa_root_der) }] },
                "validFor": { "start": "2020-01-01T00:00:00Z" }
            }],
            "certificateAuthorities": [{
                "subject": { "organization": "certus-test", "commonName": "test-fulcio-root" },
                "uri": "https://fulcio.test",
                "certChain": { "certificates": [{ "rawBytes": b64(&ca_der) }] },
                "validFor": { "start": "2020-01-01T00:00:00Z" }
            }]
        }))
        .unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        Self {
            leaf_pem: std::fs::read_to_string(d.join("leaf.pem")).unwrap(),
            dir,
            root_json,
            log_id,
            leaf_der,
            leaf_key_pem,
            integrated_time: i64::try_from(now).unwrap() + 60,
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn root(&self) -> TrustedRoot {
        TrustedRoot::from_json(&self.root_json).unwrap()
    }

    fn sign_blob(&self) -> Vec<u8> {
        p256_sign(self.path(), "leaf.key", BLOB)
    }

    /// A hashedrekord body naming `verifier_pem` (certificate or public key).
    fn hashedrekord(&self, signature: &[u8], verifier_pem: &str) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "apiVersion": "0.0.1",
            "kind": "hashedrekord",
            "spec": {
                "data": { "hash": { "algorithm": "sha256", "value": hex::encode(sha256(BLOB)) } },
                "signature": { "content": b64(signature), "publicKey": { "content": b64(verifier_pem.as_bytes()) } }
            }
        }))
        .unwrap()
    }

    fn set(&self, body: &[u8], log_index: u64) -> Vec<u8> {
        let canonical = format!(
            r#"{{"body":"{}","integratedTime":{},"logID":"{}","logIndex":{}}}"#,
            b64(body),
            self.integrated_time,
            hex::encode(self.log_id),
            log_index
        );
        p256_sign(self.path(), "log.key", canonical.as_bytes())
    }

    /// A Sigstore tlog entry for `body` placed at index 2 of a 5-leaf tree.
    fn tlog_entry(&self, body: &[u8]) -> Value {
        let mut leaves: Vec<[u8; 32]> = (0u8..5).map(|i| leaf_hash(&[i])).collect();
        leaves[2] = leaf_hash(body);
        let root = tree_root(&leaves);
        let note = format!("rekor.test - 42\n5\n{}\n", b64(&root));
        let note_sig = p256_sign(self.path(), "log.key", note.as_bytes());
        let signed = [&self.log_id[..4], &note_sig[..]].concat();
        json!({
            "logIndex": "1002",
            "logId": { "keyId": b64(&self.log_id) },
            "kindVersion": { "kind": "hashedrekord", "version": "0.0.1" },
            "integratedTime": self.integrated_time.to_string(),
            "inclusionPromise": { "signedEntryTimestamp": b64(&self.set(body, 1002)) },
            "inclusionProof": {
                "logIndex": "2",
                "rootHash": b64(&root),
                "treeSize": "5",
                "hashes": audit_path(2, &leaves).iter().map(|h| b64(h)).collect::<Vec<_>>(),
                "checkpoint": { "envelope": format!("{note}\n\u{2014} rekor.test {}\n", b64(&signed)) }
            },
            "canonicalizedBody": b64(body)
        })
    }

    fn keyless_bundle(&self) -> Value {
        let signature = self.sign_blob();
        let body = self.hashedrekord(&signature, &self.leaf_pem);
        json!({
            "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
            "verificationMaterial": {
                "certificate": { "rawBytes": b64(&self.leaf_der) },
                "tlogEntries": [self.tlog_entry(&body)]
            },
            "messageSignature": {
                "messageDigest": { "algorithm": "SHA2_256", "digest": b64(&sha256(BLOB)) },
                "signature": b64(&signature)
            }
        })
    }

    /// A DER RFC 3161 `TimeStampResp` from the test TSA over `data`.
    fn timestamp(&self, data: &[u8]) -> Vec<u8> {
        let d = self.path();
        std::fs::write(d.join("ts-data.bin"), data).unwrap();
        openssl(
            d,
            &[
                "ts",
                "-query",
                "-data",
                "ts-data.bin",
                "-sha256",
                "-no_nonce",
                "-out",
                "ts.tsq",
            ],
        );
        openssl(
            d,
            &[
                "ts",
                "-reply",
                "-config",
                "tsa.cnf",
                "-queryfile",
                "ts.tsq",
                "-out",
                "ts.tsr",
            ],
        );
        std::fs::read(d.join("ts.tsr")).unwrap()
    }

    /// A keyless bundle whose entry is a Rekor v2 hashedrekord 0.0.2 (no integrated time, no
    /// SET), timestamped over `timestamped` (normally the bundle's own signature).
    fn rekor_v2_bundle(&self, timestamped: Option<&[u8]>) -> (Value, Vec<u8>) {
        let signature = self.sign_blob();
        let body = serde_json::to_vec(&json!({
            "apiVersion": "0.0.2",
            "kind": "hashedrekord",
            "spec": { "hashedRekordV002": {
                "data": { "algorithm": "SHA2_256", "digest": b64(&sha256(BLOB)) },
                "signature": {
                    "content": b64(&signature),
                    "verifier": {
                        "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                        "x509Certificate": { "rawBytes": b64(&self.leaf_der) }
                    }
                }
            }}
        }))
        .unwrap();
        let mut entry = self.tlog_entry(&body);
        let fields = entry.as_object_mut().unwrap();
        fields.remove("integratedTime");
        fields.remove("inclusionPromise");
        entry["kindVersion"]["version"] = json!("0.0.2");
        let mut bundle = json!({
            "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
            "verificationMaterial": {
                "certificate": { "rawBytes": b64(&self.leaf_der) },
                "tlogEntries": [entry]
            },
            "messageSignature": {
                "messageDigest": { "algorithm": "SHA2_256", "digest": b64(&sha256(BLOB)) },
                "signature": b64(&signature)
            }
        });
        if let Some(data) = timestamped {
            let data = if data.is_empty() {
                &signature[..]
            } else {
                data
            };
            bundle["verificationMaterial"]["timestampVerificationData"] = json!({
                "rfc3161Timestamps": [{ "signedTimestamp": b64(&self.timestamp(data)) }]
            });
        }
        (bundle, signature)
    }

    fn keyed_bundle(&self, hint: &str) -> Value {
        let signature = self.sign_blob();
        let body = self.hashedrekord(&signature, &self.leaf_key_pem);
        json!({
            "mediaType": "application/vnd.dev.sigstore.bundle+json;version=0.2",
            "verificationMaterial": {
                "publicKey": { "hint": hint },
                "tlogEntries": [self.tlog_entry(&body)]
            },
            "messageSignature": { "signature": b64(&signature) }
        })
    }

    fn cosign_bundle(&self, with_cert: bool) -> Value {
        let signature = self.sign_blob();
        let verifier = if with_cert {
            &self.leaf_pem
        } else {
            &self.leaf_key_pem
        };
        let body = self.hashedrekord(&signature, verifier);
        let mut bundle = json!({
            "base64Signature": b64(&signature),
            "rekorBundle": {
                "SignedEntryTimestamp": b64(&self.set(&body, 77)),
                "Payload": {
                    "body": b64(&body),
                    "integratedTime": self.integrated_time,
                    "logIndex": 77,
                    "logID": hex::encode(self.log_id)
                }
            }
        });
        if with_cert {
            bundle["cert"] = Value::String(b64(self.leaf_pem.as_bytes()));
        }
        bundle
    }
}

fn policy() -> IdentityPolicy {
    IdentityPolicy {
        identity: IDENTITY.into(),
        issuer: ISSUER.into(),
    }
}

fn run(
    bundle: &Value,
    blob: Option<&[u8]>,
    trust: &TrustMaterial,
) -> Result<certus_verify::Verification, VerifyError> {
    verify(
        &Signature::parse(&serde_json::to_vec(bundle).unwrap())?,
        blob,
        trust,
    )
}

#[test]
fn keyless_hashedrekord_bundle_verifies_with_legacy_issuer_extension() {
    let world = World::new();
    let root = world.root();
    let policy = policy();
    let trust = TrustMaterial {
        trusted_root: Some(&root),
        identity: Some(&policy),
        ..TrustMaterial::default()
    };
    let bundle = world.keyless_bundle();
    let verification = run(&bundle, Some(BLOB), &trust).unwrap();
    assert_eq!(verification.method, Method::SigstoreKeyless);
    assert_eq!(verification.issuer.as_deref(), Some(ISSUER));
    assert_eq!(verification.rekor_log_index, Some(1002));
    assert_eq!(verification.integrated_time, Some(world.integrated_time));
    let leaf_key = PublicKey::from_pem(&world.leaf_key_pem).unwrap();
    assert_eq!(verification.key_fingerprint, leaf_key.fingerprint());

    // Without the blob the recorded digest is checked against the signature.
    run(&bundle, None, &trust).unwrap();

    let err = run(&bundle, Some(b"another manifest"), &trust).unwrap_err();
    assert!(matches!(err, VerifyError::DigestMismatch(_)), "{err}");
}

#[test]
fn keyless_hashedrekord_body_must_match() {
    let world = World::new();
    let root = world.root();
    let policy = policy();
    let trust = TrustMaterial {
        trusted_root: Some(&root),
        identity: Some(&policy),
        ..TrustMaterial::default()
    };
    let signature = world.sign_blob();
    // The log entry names the bare key, not the certificate that signed.
    let body = world.hashedrekord(&signature, &world.leaf_key_pem);
    let mut bundle = world.keyless_bundle();
    bundle["verificationMaterial"]["tlogEntries"][0] = world.tlog_entry(&body);
    let err = run(&bundle, Some(BLOB), &trust).unwrap_err();
    assert!(matches!(err, VerifyError::RekorBodyMismatch(_)), "{err}");
}

#[test]
fn keyed_bundle_with_log_entry_verifies() {
    let world = World::new();
    let root = world.root();
    let key = PublicKey::from_pem(&world.leaf_key_pem).unwrap();
    let trust = TrustMaterial {
        key: Some(&key),
        trusted_root: Some(&root),
        ..TrustMaterial::default()
    };
    let bundle = world.keyed_bundle(&key.hint());
    let verification = run(&bundle, Some(BLOB), &trust).unwrap();
    assert_eq!(verification.method, Method::SigstoreKeyed);
    assert_eq!(verification.bundle_format, Some(BundleFormat::SigstoreV02));
    assert_eq!(verification.key_fingerprint, key.fingerprint());
    assert_eq!(verification.rekor_log_index, Some(1002));

    let err = run(&bundle, Some(b"tampered"), &trust).unwrap_err();
    assert!(matches!(err, VerifyError::BadSignature(_)), "{err}");

    let without_root = TrustMaterial {
        key: Some(&key),
        ..TrustMaterial::default()
    };
    let err = run(&bundle, Some(BLOB), &without_root).unwrap_err();
    assert!(matches!(err, VerifyError::Missing(_)), "{err}");

    let (_, other_pem) = p256_key(world.path(), "other");
    let other = PublicKey::from_pem(&other_pem).unwrap();
    let other_trust = TrustMaterial {
        key: Some(&other),
        trusted_root: Some(&root),
        ..TrustMaterial::default()
    };
    let err = run(&bundle, Some(BLOB), &other_trust).unwrap_err();
    assert!(matches!(err, VerifyError::KeyHintMismatch { .. }), "{err}");
    let err = run(&world.keyed_bundle(""), Some(BLOB), &other_trust).unwrap_err();
    assert!(matches!(err, VerifyError::BadSignature(_)), "{err}");
}

#[test]
fn legacy_cosign_bundles_verify_keyed_and_keyless() {
    let world = World::new();
    let root = world.root();
    let key = PublicKey::from_pem(&world.leaf_key_pem).unwrap();
    let keyed = TrustMaterial {
        key: Some(&key),
        trusted_root: Some(&root),
        ..TrustMaterial::default()
    };
    let verification = run(&world.cosign_bundle(false), Some(BLOB), &keyed).unwrap();
    assert_eq!(verification.method, Method::CosignBundleKeyed);
    assert_eq!(verification.rekor_log_index, Some(77));

    let policy = policy();
    let keyless = TrustMaterial {
        trusted_root: Some(&root),
        identity: Some(&policy),
        ..TrustMaterial::default()
    };
    let bundle = world.cosign_bundle(true);
    let verification = run(&bundle, Some(BLOB), &keyless).unwrap();
    assert_eq!(verification.method, Method::CosignBundleKeyless);
    assert_eq!(verification.identity.as_deref(), Some(IDENTITY));

    let mut forged = bundle.clone();
    forged["rekorBundle"]["Payload"]["integratedTime"] = json!(world.integrated_time + 1);
    let err = run(&forged, Some(BLOB), &keyless).unwrap_err();
    assert!(matches!(err, VerifyError::InvalidSet(_)), "{err}");
}

#[test]
fn keyless_bundle_needs_an_sct_from_a_trusted_ct_log_valid_at_its_time() {
    let world = World::new();
    let policy = policy();
    let bundle = world.keyless_bundle();
    let check = |edit: &dyn Fn(&mut Value)| {
        let mut root: Value = serde_json::from_slice(&world.root_json).unwrap();
        edit(&mut root);
        let root = TrustedRoot::from_json(&serde_json::to_vec(&root).unwrap()).unwrap();
        let trust = TrustMaterial {
            trusted_root: Some(&root),
            identity: Some(&policy),
            ..TrustMaterial::default()
        };
        run(&bundle, Some(BLOB), &trust)
    };
    check(&|_| {}).unwrap();
    let err = check(&|root| root["ctlogs"] = json!([])).unwrap_err();
    assert!(
        matches!(&err, VerifyError::InvalidSct(m) if m.contains("no usable CT log")),
        "{err}"
    );
    let err = check(&|root| {
        root["ctlogs"][0]["publicKey"]["validFor"]["start"] = json!("2099-01-01T00:00:00Z");
    })
    .unwrap_err();
    assert!(
        matches!(&err, VerifyError::InvalidSct(m) if m.contains("not valid at")),
        "{err}"
    );
    // Another key under the log's id: the SCT signature no longer verifies.
    let other = p256_key(world.path(), "other-ct").1;
    let other_der = openssl(
        world.path(),
        &["pkey", "-pubin", "-in", "other-ct.pub", "-outform", "DER"],
    );
    assert!(other.contains("PUBLIC KEY"));
    let err = check(&|root| root["ctlogs"][0]["publicKey"]["rawBytes"] = json!(b64(&other_der)))
        .unwrap_err();
    assert!(
        matches!(&err, VerifyError::InvalidSct(m) if m.contains("does not verify")),
        "{err}"
    );
}

#[test]
fn every_authority_needs_a_validity_start() {
    let world = World::new();
    for pointer in [
        "/tlogs/0/publicKey/validFor",
        "/ctlogs/0/publicKey/validFor",
        "/certificateAuthorities/0/validFor",
        "/timestampAuthorities/0/validFor",
    ] {
        let mut root: Value = serde_json::from_slice(&world.root_json).unwrap();
        root.pointer_mut(pointer)
            .unwrap()
            .as_object_mut()
            .unwrap()
            .remove("start");
        let err = TrustedRoot::from_json(&serde_json::to_vec(&root).unwrap()).unwrap_err();
        assert!(
            matches!(&err, VerifyError::MalformedTrustedRoot(m) if m.contains("validFor.start is missing")),
            "{pointer}: {err}"
        );
    }
}

#[test]
fn rekor_v2_entry_takes_its_time_from_a_trusted_rfc3161_timestamp() {
    let world = World::new();
    let policy = policy();
    let check = |bundle: &Value, edit_root: &dyn Fn(&mut Value)| {
        let mut root: Value = serde_json::from_slice(&world.root_json).unwrap();
        edit_root(&mut root);
        let root = TrustedRoot::from_json(&serde_json::to_vec(&root).unwrap()).unwrap();
        let trust = TrustMaterial {
            trusted_root: Some(&root),
            identity: Some(&policy),
            ..TrustMaterial::default()
        };
        run(bundle, Some(BLOB), &trust)
    };
    // `Some(&[])`: timestamp the bundle's own signature.
    let (bundle, _) = world.rekor_v2_bundle(Some(&[]));
    let verification = check(&bundle, &|_| {}).unwrap();
    assert_eq!(verification.method, Method::SigstoreKeyless);
    assert_eq!(verification.integrated_time, None);
    assert_eq!(verification.rekor_log_index, Some(1002));

    let err = check(&bundle, &|root| root["timestampAuthorities"] = json!([])).unwrap_err();
    assert!(
        matches!(&err, VerifyError::InvalidTimestamp(m) if m.contains("no timestamp authority")),
        "{err}"
    );
    let err = check(&bundle, &|root| {
        root["timestampAuthorities"][0]["validFor"]["start"] = json!("2099-01-01T00:00:00Z");
    })
    .unwrap_err();
    assert!(
        matches!(&err, VerifyError::InvalidTimestamp(m) if m.contains("validity window")),
        "{err}"
    );
    let mut no_proof = bundle.clone();
    no_proof["verificationMaterial"]["tlogEntries"][0]
        .as_object_mut()
        .unwrap()
        .remove("inclusionProof");
    let err = check(&no_proof, &|_| {}).unwrap_err();
    assert!(
        matches!(err, VerifyError::InvalidInclusionProof(_)),
        "{err}"
    );

    let (untimestamped, _) = world.rekor_v2_bundle(None);
    let err = check(&untimestamped, &|_| {}).unwrap_err();
    assert!(
        err.to_string().contains("needs a signed timestamp"),
        "{err}"
    );

    let (over_other, _) = world.rekor_v2_bundle(Some(b"another signature"));
    let err = check(&over_other, &|_| {}).unwrap_err();
    assert!(
        matches!(&err, VerifyError::InvalidTimestamp(m) if m.contains("does not cover the signature")),
        "{err}"
    );

    let mut tampered = bundle.clone();
    let field = &mut tampered["verificationMaterial"]["timestampVerificationData"]
        ["rfc3161Timestamps"][0]["signedTimestamp"];
    let mut der = common::unb64(field.as_str().unwrap());
    let last = der.len() - 1;
    der[last] ^= 0x01;
    *field = json!(b64(&der));
    let err = check(&tampered, &|_| {}).unwrap_err();
    assert!(matches!(err, VerifyError::InvalidTimestamp(_)), "{err}");
}
