//! in-toto Statement v1 / SLSA Provenance v1: exact JSON shape, determinism, validation of every field,
//! signing into DSSE verified by openssl, and reading statements back out of envelopes.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how it reports the unexpected

mod common;

use certus_attest::{
    pae, Algorithm, AttestError, BuildDefinition, BuildMetadata, Builder, DigestSet, Envelope,
    Provenance, ResourceDescriptor, RunDetails, SigningKey, Statement, Subject,
    IN_TOTO_PAYLOAD_TYPE, MAX_STATEMENT_BYTES,
};
use common::{openssl, sample_statement, write};
use serde_json::json;

const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

fn minimal_statement() -> Statement {
    Statement::new(
        vec![Subject::from_content("summary.json", b"")],
        Provenance {
            build_definition: BuildDefinition {
                build_type: "https://certus.example/scan/v1".to_string(),
                external_parameters: json!({}),
                internal_parameters: None,
                resolved_dependencies: vec![],
            },
            run_details: RunDetails {
                builder: Builder {
                    id: "https://certus.example/assurance".to_string(),
                    version: Default::default(),
                },
                metadata: BuildMetadata::default(),
                byproducts: vec![],
            },
        },
    )
}

#[test]
fn minimal_statement_serialises_exactly_with_empty_optionals_omitted() {
    let statement = minimal_statement();
    statement.validate().unwrap();
    let expected = format!(
        concat!(
            r#"{{"_type":"https://in-toto.io/Statement/v1","#,
            r#""subject":[{{"name":"summary.json","digest":{{"sha256":"{}"}}}}],"#,
            r#""predicateType":"https://slsa.dev/provenance/v1","#,
            r#""predicate":{{"buildDefinition":{{"buildType":"https://certus.example/scan/v1","externalParameters":{{}}}},"#,
            r#""runDetails":{{"builder":{{"id":"https://certus.example/assurance"}}}}}}}}"#
        ),
        EMPTY_SHA256
    );
    assert_eq!(
        String::from_utf8(statement.to_json().unwrap()).unwrap(),
        expected
    );
}

#[test]
fn full_statement_uses_slsa_camel_case_names_in_a_stable_order() {
    let json = String::from_utf8(sample_statement().to_json().unwrap()).unwrap();
    let names = [
        "\"_type\"",
        "\"subject\"",
        "\"predicateType\"",
        "\"predicate\"",
        "\"buildDefinition\"",
        "\"buildType\"",
        "\"externalParameters\"",
        "\"internalParameters\"",
        "\"resolvedDependencies\"",
        "\"runDetails\"",
        "\"builder\"",
        "\"version\"",
        "\"metadata\"",
        "\"invocationId\"",
        "\"startedOn\"",
        "\"finishedOn\"",
        "\"byproducts\"",
    ];
    let positions: Vec<usize> = names
        .iter()
        .map(|name| {
            json.find(name)
                .unwrap_or_else(|| panic!("{name} missing in {json}"))
        })
        .collect();
    assert!(
        positions.windows(2).all(|pair| pair[0] < pair[1]),
        "order: {json}"
    );
}

#[test]
fn serialisation_is_deterministic() {
    let first = sample_statement();
    let mut second = sample_statement();
    // Maps filled in another order must still serialise identically.
    second.predicate.run_details.builder.version.clear();
    second
        .predicate
        .run_details
        .builder
        .version
        .insert("certus-assurance".to_string(), "0.1.0".to_string());
    let mut annotated_a = ResourceDescriptor {
        uri: Some("s3://bucket/a".to_string()),
        ..ResourceDescriptor::default()
    };
    let mut annotated_b = annotated_a.clone();
    annotated_a.annotations.insert("z".to_string(), json!(1));
    annotated_a.annotations.insert("a".to_string(), json!(2));
    annotated_b.annotations.insert("a".to_string(), json!(2));
    annotated_b.annotations.insert("z".to_string(), json!(1));
    let mut first = first;
    first.predicate.run_details.byproducts.push(annotated_a);
    second.predicate.run_details.byproducts.push(annotated_b);
    assert_eq!(first.to_json().unwrap(), second.to_json().unwrap());
    assert_eq!(first.to_json().unwrap(), first.clone().to_json().unwrap());
}

#[test]
fn subjects_carry_sha256_of_their_content() {
    let subject = Subject::from_content("empty", b"");
    assert_eq!(
        subject.digest.get("sha256").map(String::as_str),
        Some(EMPTY_SHA256)
    );
    assert_eq!(subject, Subject::with_sha256("empty", EMPTY_SHA256));
}

#[test]
fn signed_statement_verifies_with_openssl_and_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let statement = sample_statement();
    for algorithm in [Algorithm::EcdsaP256Sha256, Algorithm::Ed25519] {
        let key = SigningKey::generate(algorithm).unwrap();
        let envelope = statement.sign(&key).unwrap();
        assert_eq!(envelope.payload_type, IN_TOTO_PAYLOAD_TYPE);
        assert_eq!(
            envelope.decode_payload().unwrap(),
            statement.to_json().unwrap()
        );
        assert_eq!(
            envelope.pae_bytes().unwrap(),
            pae(IN_TOTO_PAYLOAD_TYPE, &statement.to_json().unwrap())
        );

        write(dir.path(), "pub.pem", key.public_key_pem().as_bytes());
        write(dir.path(), "pae.bin", &envelope.pae_bytes().unwrap());
        write(
            dir.path(),
            "sig.der",
            &envelope.signatures[0].decode_sig().unwrap(),
        );
        let (ok, _, stderr) = match algorithm {
            Algorithm::EcdsaP256Sha256 => openssl(
                dir.path(),
                &[
                    "dgst",
                    "-sha256",
                    "-verify",
                    "pub.pem",
                    "-signature",
                    "sig.der",
                    "pae.bin",
                ],
            ),
            Algorithm::Ed25519 => openssl(
                dir.path(),
                &[
                    "pkeyutl", "-verify", "-pubin", "-inkey", "pub.pem", "-rawin", "-in",
                    "pae.bin", "-sigfile", "sig.der",
                ],
            ),
        };
        assert!(
            ok,
            "{algorithm}: openssl rejected the attestation signature: {stderr}"
        );

        let json = envelope.to_json().unwrap();
        let parsed = Envelope::from_json(&json).unwrap();
        assert_eq!(Statement::from_envelope(&parsed).unwrap(), statement);
    }
}

#[test]
fn signing_refuses_an_invalid_statement() {
    let key = SigningKey::generate(Algorithm::EcdsaP256Sha256).unwrap();
    let mut statement = sample_statement();
    statement.subject.clear();
    assert!(matches!(
        statement.sign(&key),
        Err(AttestError::InvalidStatement { field, .. }) if field == "subject"
    ));
}

#[test]
fn from_envelope_rejects_other_payload_types_and_invalid_statements() {
    let key = SigningKey::generate(Algorithm::Ed25519).unwrap();
    let payload = sample_statement().to_json().unwrap();
    let wrong_type = Envelope::sign("application/json", &payload, &key).unwrap();
    match Statement::from_envelope(&wrong_type) {
        Err(err @ AttestError::InvalidEnvelope { .. }) => assert_eq!(
            err.to_string(),
            "invalid DSSE envelope: payloadType is 'application/json', expected 'application/vnd.in-toto+json'"
        ),
        other => panic!("expected InvalidEnvelope, got {other:?}"),
    }

    let mut invalid = sample_statement();
    invalid.subject[0]
        .digest
        .insert("sha256".to_string(), "ABC".to_string());
    let envelope = Envelope::sign(IN_TOTO_PAYLOAD_TYPE, &invalid.to_json().unwrap(), &key).unwrap();
    assert!(matches!(
        Statement::from_envelope(&envelope),
        Err(AttestError::InvalidStatement { field, .. }) if field == "subject[0].digest.sha256"
    ));

    let not_json = Envelope::sign(IN_TOTO_PAYLOAD_TYPE, b"{", &key).unwrap();
    assert!(matches!(
        Statement::from_envelope(&not_json),
        Err(AttestError::Json {
            what: "in-toto statement",
            ..
        })
    ));
}

#[test]
fn from_json_names_missing_required_slsa_fields_and_caps_size() {
    let mut value: serde_json::Value =
        serde_json::from_slice(&sample_statement().to_json().unwrap()).unwrap();
    let round_trip = Statement::from_json(value.to_string().as_bytes()).unwrap();
    assert_eq!(round_trip, sample_statement());

    for (pointer, field) in [
        ("/predicate/buildDefinition", "buildType"),
        ("/predicate/buildDefinition", "externalParameters"),
        ("/predicate/runDetails/builder", "id"),
        ("/predicate", "runDetails"),
        ("", "subject"),
    ] {
        let mut broken = value.clone();
        broken
            .pointer_mut(pointer)
            .unwrap()
            .as_object_mut()
            .unwrap()
            .remove(field);
        match Statement::from_json(broken.to_string().as_bytes()) {
            Err(AttestError::Json {
                what: "in-toto statement",
                source,
            }) => assert!(
                source
                    .to_string()
                    .contains(&format!("missing field `{field}`")),
                "{source}"
            ),
            other => panic!("expected Json error for missing {field}, got {other:?}"),
        }
    }

    value["predicate"]["buildDefinition"]["externalParameters"] = json!({"nested": [[[[1]]]]});
    assert!(Statement::from_json(value.to_string().as_bytes()).is_ok());

    let deeply_nested = format!(
        r#"{{"_type":"x","subject":[],"predicateType":"y","predicate":{{"buildDefinition":{{"buildType":"b","externalParameters":{}1{}}}}}}}"#,
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    assert!(matches!(
        Statement::from_json(deeply_nested.as_bytes()),
        Err(AttestError::Json { source, .. }) if source.to_string().contains("recursion limit")
    ));

    let huge = vec![b' '; MAX_STATEMENT_BYTES + 1];
    assert!(matches!(
        Statement::from_json(&huge),
        Err(AttestError::TooLarge {
            what: "in-toto statement",
            ..
        })
    ));
}

type Mutation = fn(&mut Statement);

#[test]
fn validate_names_each_failing_field() {
    sample_statement().validate().unwrap();
    let digest = |statement: &mut Statement, value: &str| {
        statement.subject[0].digest = DigestSet::from([("sha256".to_string(), value.to_string())]);
    };
    let cases: Vec<(Mutation, &str, &str)> = vec![
        (
            |s| s.statement_type = "https://in-toto.io/Statement/v0.1".into(),
            "_type",
            "expected 'https://in-toto.io/Statement/v1'",
        ),
        (|s| s.subject.clear(), "subject", "at least one artifact"),
        (
            |s| s.subject[1].name.clear(),
            "subject[1].name",
            "must not be empty",
        ),
        (
            |s| s.subject[1].name = s.subject[0].name.clone(),
            "subject[1].name",
            "listed more than once",
        ),
        (
            |s| s.subject[0].digest.clear(),
            "subject[0].digest",
            "at least one digest",
        ),
        (
            |s| {
                s.subject[0].digest.insert("sha256".into(), "AB".repeat(32));
            },
            "subject[0].digest.sha256",
            "lowercase hex",
        ),
        (
            |s| {
                s.subject[0].digest.insert("sha256".into(), "g".repeat(64));
            },
            "subject[0].digest.sha256",
            "lowercase hex",
        ),
        (
            |s| {
                s.subject[0].digest.insert("sha256".into(), "a".repeat(63));
            },
            "subject[0].digest.sha256",
            "has 63 hex characters, expected 64",
        ),
        (
            |s| {
                s.subject[0].digest.insert("sha512".into(), "a".repeat(64));
            },
            "subject[0].digest.sha512",
            "expected 128",
        ),
        (
            |s| {
                s.subject[0].digest.insert("sha256".into(), String::new());
            },
            "subject[0].digest.sha256",
            "lowercase hex",
        ),
        (
            |s| {
                s.subject[0].digest.insert("custom".into(), "abc".into());
            },
            "subject[0].digest.custom",
            "even number",
        ),
        (
            |s| {
                s.subject[0].digest.insert("sha 256".into(), "ab".into());
            },
            "subject[0].digest",
            "not a digest algorithm name",
        ),
        (
            |s| s.predicate_type = "https://slsa.dev/provenance/v0.2".into(),
            "predicateType",
            "expected 'https://slsa.dev/provenance/v1'",
        ),
        (
            |s| s.predicate.build_definition.build_type.clear(),
            "predicate.buildDefinition.buildType",
            "not a URI",
        ),
        (
            |s| s.predicate.build_definition.build_type = "scan".into(),
            "predicate.buildDefinition.buildType",
            "not a URI (no scheme)",
        ),
        (
            |s| s.predicate.build_definition.build_type = "1http://x".into(),
            "predicate.buildDefinition.buildType",
            "bad scheme",
        ),
        (
            |s| s.predicate.build_definition.build_type = "https://x y".into(),
            "predicate.buildDefinition.buildType",
            "whitespace",
        ),
        (
            |s| s.predicate.build_definition.external_parameters = serde_json::Value::Null,
            "predicate.buildDefinition.externalParameters",
            "must be a JSON object",
        ),
        (
            |s| s.predicate.build_definition.external_parameters = json!([1]),
            "predicate.buildDefinition.externalParameters",
            "must be a JSON object",
        ),
        (
            |s| s.predicate.build_definition.internal_parameters = Some(json!("x")),
            "predicate.buildDefinition.internalParameters",
            "must be a JSON object",
        ),
        (
            |s| {
                s.predicate.build_definition.resolved_dependencies[0] =
                    ResourceDescriptor::default();
            },
            "predicate.buildDefinition.resolvedDependencies[0]",
            "needs a uri or a digest",
        ),
        (
            |s| {
                s.predicate.build_definition.resolved_dependencies[0].uri =
                    Some("no scheme".into());
            },
            "predicate.buildDefinition.resolvedDependencies[0].uri",
            "not a URI",
        ),
        (
            |s| {
                s.predicate.build_definition.resolved_dependencies[0]
                    .digest
                    .insert("gitCommit".into(), "a".repeat(41));
            },
            "predicate.buildDefinition.resolvedDependencies[0].digest.gitCommit",
            "expected 40 or 64",
        ),
        (
            |s| s.predicate.run_details.builder.id.clear(),
            "predicate.runDetails.builder.id",
            "not a URI",
        ),
        (
            |s| {
                s.predicate
                    .run_details
                    .builder
                    .version
                    .insert("certus".into(), String::new());
            },
            "predicate.runDetails.builder.version",
            "must not be empty",
        ),
        (
            |s| s.predicate.run_details.metadata.invocation_id = Some(String::new()),
            "predicate.runDetails.metadata.invocationId",
            "must not be empty",
        ),
        (
            |s| s.predicate.run_details.metadata.started_on = Some("yesterday".into()),
            "predicate.runDetails.metadata.startedOn",
            "not an RFC 3339 timestamp",
        ),
        (
            |s| s.predicate.run_details.metadata.finished_on = Some("2026-11-28 22:05:00".into()),
            "predicate.runDetails.metadata.finishedOn",
            "not an RFC 3339 timestamp",
        ),
        (
            |s| s.predicate.run_details.byproducts[0].name = Some(String::new()),
            "predicate.runDetails.byproducts[0].name",
            "must not be empty",
        ),
        (
            |s| {
                s.predicate.run_details.byproducts[0]
                    .digest
                    .insert("md5".into(), "0".repeat(40));
            },
            "predicate.runDetails.byproducts[0].digest.md5",
            "expected 32",
        ),
    ];
    for (mutate, field, reason) in cases {
        let mut statement = sample_statement();
        mutate(&mut statement);
        match statement.validate() {
            Err(AttestError::InvalidStatement {
                field: got_field,
                reason: got_reason,
            }) => {
                assert_eq!(got_field, field);
                assert!(
                    got_reason.contains(reason),
                    "{field}: '{got_reason}' lacks '{reason}'"
                );
            }
            other => panic!("{field}: expected InvalidStatement, got {other:?}"),
        }
    }
    let mut statement = sample_statement();
    digest(&mut statement, "A");
    assert_eq!(
        statement.validate().unwrap_err().to_string(),
        "invalid in-toto statement: field 'subject[0].digest.sha256': must be lowercase hex"
    );
}
