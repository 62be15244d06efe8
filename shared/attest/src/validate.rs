//! Checks an in-toto Statement v1 with a SLSA Provenance v1 predicate against the specifications,
//! naming the failing field (e.g. `subject[2].digest.sha256`).

use std::collections::HashSet;

use serde_json::Value;

use crate::error::{AttestError, Result};
use crate::provenance::{DigestSet, ResourceDescriptor};
use crate::statement::{Statement, SLSA_PROVENANCE_V1, STATEMENT_TYPE_V1};
use crate::timestamp::is_rfc3339;

/// Longest digest value accepted for an algorithm without a known length.
const MAX_DIGEST_HEX_LEN: usize = 256;

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> AttestError {
    AttestError::InvalidStatement {
        field: field.into(),
        reason: reason.into(),
    }
}

pub(crate) fn validate_statement(statement: &Statement) -> Result<()> {
    if statement.statement_type != STATEMENT_TYPE_V1 {
        return Err(invalid(
            "_type",
            format!(
                "is '{}', expected '{STATEMENT_TYPE_V1}'",
                statement.statement_type
            ),
        ));
    }
    if statement.subject.is_empty() {
        return Err(invalid("subject", "must list at least one artifact"));
    }
    let mut names = HashSet::new();
    for (index, subject) in statement.subject.iter().enumerate() {
        let field = format!("subject[{index}]");
        if subject.name.is_empty() {
            return Err(invalid(format!("{field}.name"), "must not be empty"));
        }
        if !names.insert(subject.name.as_str()) {
            return Err(invalid(
                format!("{field}.name"),
                format!("'{}' is listed more than once", subject.name),
            ));
        }
        if subject.digest.is_empty() {
            return Err(invalid(
                format!("{field}.digest"),
                "must hold at least one digest",
            ));
        }
        validate_digests(&format!("{field}.digest"), &subject.digest)?;
    }
    if statement.predicate_type != SLSA_PROVENANCE_V1 {
        return Err(invalid(
            "predicateType",
            format!(
                "is '{}', expected '{SLSA_PROVENANCE_V1}'",
                statement.predicate_type
            ),
        ));
    }

    let definition = &statement.predicate.build_definition;
    validate_uri(
        "predicate.buildDefinition.buildType",
        &definition.build_type,
    )?;
    validate_object(
        "predicate.buildDefinition.externalParameters",
        &definition.external_parameters,
    )?;
    if let Some(internal) = &definition.internal_parameters {
        validate_object("predicate.buildDefinition.internalParameters", internal)?;
    }
    for (index, dependency) in definition.resolved_dependencies.iter().enumerate() {
        validate_resource(
            &format!("predicate.buildDefinition.resolvedDependencies[{index}]"),
            dependency,
        )?;
    }

    let run = &statement.predicate.run_details;
    validate_uri("predicate.runDetails.builder.id", &run.builder.id)?;
    for (component, version) in &run.builder.version {
        if component.is_empty() || version.is_empty() {
            return Err(invalid(
                "predicate.runDetails.builder.version",
                "component names and versions must not be empty",
            ));
        }
    }
    if let Some(invocation_id) = &run.metadata.invocation_id {
        if invocation_id.is_empty() {
            return Err(invalid(
                "predicate.runDetails.metadata.invocationId",
                "must not be empty when present",
            ));
        }
    }
    for (field, timestamp) in [
        (
            "predicate.runDetails.metadata.startedOn",
            &run.metadata.started_on,
        ),
        (
            "predicate.runDetails.metadata.finishedOn",
            &run.metadata.finished_on,
        ),
    ] {
        if let Some(timestamp) = timestamp {
            if !is_rfc3339(timestamp) {
                return Err(invalid(
                    field,
                    format!(
                        "'{timestamp}' is not an RFC 3339 timestamp such as 2026-01-31T12:00:00Z"
                    ),
                ));
            }
        }
    }
    for (index, byproduct) in run.byproducts.iter().enumerate() {
        validate_resource(
            &format!("predicate.runDetails.byproducts[{index}]"),
            byproduct,
        )?;
    }
    Ok(())
}

fn validate_object(field: &str, value: &Value) -> Result<()> {
    if value.is_object() {
        Ok(())
    } else {
        Err(invalid(field, "must be a JSON object"))
    }
}

fn validate_resource(field: &str, resource: &ResourceDescriptor) -> Result<()> {
    if resource.uri.is_none() && resource.digest.is_empty() {
        return Err(invalid(field, "needs a uri or a digest"));
    }
    if let Some(uri) = &resource.uri {
        validate_uri(&format!("{field}.uri"), uri)?;
    }
    if let Some(name) = &resource.name {
        if name.is_empty() {
            return Err(invalid(
                format!("{field}.name"),
                "must not be empty when present",
            ));
        }
    }
    validate_digests(&format!("{field}.digest"), &resource.digest)
}

/// A URI needs a scheme (`ALPHA *(ALPHA / DIGIT / "+" / "-" / ".")`), a colon, and a non-empty rest
/// without whitespace or control characters.
fn validate_uri(field: &str, uri: &str) -> Result<()> {
    let Some((scheme, rest)) = uri.split_once(':') else {
        return Err(invalid(field, format!("'{uri}' is not a URI (no scheme)")));
    };
    let mut scheme_chars = scheme.chars();
    let scheme_ok = scheme_chars
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic())
        && scheme_chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !scheme_ok {
        return Err(invalid(field, format!("'{uri}' is not a URI (bad scheme)")));
    }
    if rest.is_empty() || uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid(
            field,
            format!("'{uri}' is not a URI (empty or contains whitespace)"),
        ));
    }
    Ok(())
}

/// Hex lengths of the digest algorithms named by the in-toto digest set specification.
fn expected_hex_lengths(algorithm: &str) -> Option<&'static [usize]> {
    let lengths: &'static [usize] = match algorithm {
        "md5" => &[32],
        "sha1" | "ripemd160" => &[40],
        "sha224" | "sha512_224" | "sha3_224" => &[56],
        "sha256" | "sha512_256" | "sha3_256" | "blake2s" | "sm3" | "dirHash" => &[64],
        "sha384" | "sha3_384" => &[96],
        "sha512" | "sha3_512" | "blake2b" => &[128],
        "gitCommit" | "gitTree" | "gitBlob" | "gitTag" => &[40, 64],
        _ => return None,
    };
    Some(lengths)
}

fn validate_digests(field: &str, digests: &DigestSet) -> Result<()> {
    for (algorithm, value) in digests {
        let valid_name = !algorithm.is_empty()
            && algorithm
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'));
        if !valid_name {
            return Err(invalid(
                field,
                format!("'{algorithm}' is not a digest algorithm name"),
            ));
        }
        let field = format!("{field}.{algorithm}");
        if value.is_empty()
            || !value
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            return Err(invalid(field, "must be lowercase hex"));
        }
        match expected_hex_lengths(algorithm) {
            Some(lengths) if !lengths.contains(&value.len()) => {
                return Err(invalid(
                    field,
                    format!(
                        "has {} hex characters, expected {}",
                        value.len(),
                        lengths
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join(" or ")
                    ),
                ));
            }
            Some(_) => {}
            None if !value.len().is_multiple_of(2) || value.len() > MAX_DIGEST_HEX_LEN => {
                return Err(invalid(
                    field,
                    format!(
                        "has {} hex characters; expected an even number up to {MAX_DIGEST_HEX_LEN}",
                        value.len()
                    ),
                ));
            }
            None => {}
        }
    }
    Ok(())
}
