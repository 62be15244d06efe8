//! Package URLs (purl) per the purl specification, and PEP 503 name normalisation.

use crate::model::Ecosystem;

/// Builds `pkg:<type>/<namespace>/<name>@<version>` with each segment percent-encoded.
///
/// npm scopes become a `%40scope` namespace; npm and Go names are lowercased and PyPI names
/// PEP 503-normalised, as the purl type definitions require. Versions keep their case.
pub fn package_url(ecosystem: Ecosystem, name: &str, version: Option<&str>) -> String {
    let path = match ecosystem {
        Ecosystem::Cargo => encode_segment(name),
        Ecosystem::Pypi => encode_segment(&pep503_normalize(name)),
        Ecosystem::Npm => name
            .to_lowercase()
            .split('/')
            .map(encode_segment)
            .collect::<Vec<_>>()
            .join("/"),
        Ecosystem::Golang => name
            .to_lowercase()
            .split('/')
            .filter(|segment| !segment.is_empty())
            .map(encode_segment)
            .collect::<Vec<_>>()
            .join("/"),
    };
    let mut purl = format!("pkg:{}/{}", ecosystem.as_str(), path);
    if let Some(version) = version {
        purl.push('@');
        purl.push_str(&encode_segment(version));
    }
    purl
}

/// PEP 503: lowercase, and every run of `-`, `_` or `.` becomes one `-`.
pub fn pep503_normalize(name: &str) -> String {
    let mut normalized = String::with_capacity(name.len());
    let mut in_separator_run = false;
    for c in name.trim().chars() {
        if matches!(c, '-' | '_' | '.') {
            if !in_separator_run {
                normalized.push('-');
            }
            in_separator_run = true;
        } else {
            normalized.extend(c.to_lowercase());
            in_separator_run = false;
        }
    }
    normalized
}

/// Percent-encodes everything except ASCII alphanumerics and `.-_~`.
fn encode_segment(segment: &str) -> String {
    let mut encoded = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'-' | b'_' | b'~') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}
