//! Picks the private-key block out of PEM text that may hold several blocks (e.g. `openssl ecparam -genkey`
//! writes `EC PARAMETERS` before `EC PRIVATE KEY`).

/// The PEM labels of private keys this crate can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PrivateKeyLabel {
    /// `PRIVATE KEY`: unencrypted PKCS#8.
    Pkcs8,
    /// `EC PRIVATE KEY`: SEC1 (RFC 5915).
    Sec1,
}

/// A private key block found in PEM text: its label and the whole block including BEGIN/END lines.
pub(crate) struct PrivateKeyBlock<'a> {
    pub(crate) label: PrivateKeyLabel,
    pub(crate) text: &'a str,
}

/// Finds the first `PRIVATE KEY` or `EC PRIVATE KEY` block; other blocks are skipped. Returns a reason
/// suitable for a human when there is none or when the key is encrypted or of an unsupported kind.
pub(crate) fn find_private_key_block(pem: &str) -> Result<PrivateKeyBlock<'_>, String> {
    let mut labels_seen = Vec::new();
    let mut search_from = 0;
    while let Some(found) = pem[search_from..].find("-----BEGIN ") {
        let begin = search_from + found;
        let after_begin = begin + "-----BEGIN ".len();
        let Some(label_len) = pem[after_begin..].find("-----") else {
            break;
        };
        let label = &pem[after_begin..after_begin + label_len];
        let end_marker = format!("-----END {label}-----");
        let Some(end_offset) = pem[after_begin..].find(&end_marker) else {
            return Err(format!("PEM block '{label}' has no matching END line"));
        };
        let end = after_begin + end_offset + end_marker.len();
        let kind = match label {
            "PRIVATE KEY" => Some(PrivateKeyLabel::Pkcs8),
            "EC PRIVATE KEY" => Some(PrivateKeyLabel::Sec1),
            "ENCRYPTED PRIVATE KEY" => {
                return Err("encrypted PKCS#8 keys are not supported; decrypt it first \
                            (openssl pkcs8 -in KEY -out PLAIN.pem)"
                    .to_string())
            }
            _ => None,
        };
        if let Some(label) = kind {
            return Ok(PrivateKeyBlock {
                label,
                text: &pem[begin..end],
            });
        }
        labels_seen.push(label.to_string());
        search_from = end;
    }
    if labels_seen.is_empty() {
        Err(
            "no PEM block found (expected '-----BEGIN\x20PRIVATE KEY-----' \
             or '-----BEGIN EC\x20PRIVATE KEY-----')"
                .to_string(),
        )
    } else {
        Err(format!(
            "no 'PRIVATE KEY' or 'EC PRIVATE KEY' PEM block; found: {}",
            labels_seen.join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_ec_parameters_before_the_key() {
        let pem = "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n\
                   -----BEGIN EC\x20PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n";
        let block = find_private_key_block(pem).unwrap();
        assert_eq!(block.label, PrivateKeyLabel::Sec1);
        assert!(block.text.starts_with("-----BEGIN EC\x20PRIVATE KEY-----"));
        assert!(block.text.ends_with("-----END EC PRIVATE KEY-----"));
    }

    #[test]
    fn rejects_encrypted_missing_and_foreign_blocks() {
        let encrypted =
            "-----BEGIN ENCRYPTED\x20PRIVATE KEY-----\nAA==\n-----END ENCRYPTED PRIVATE KEY-----\n";
        assert!(find_private_key_block(encrypted)
            .err()
            .unwrap()
            .contains("encrypted PKCS#8"));
        assert!(find_private_key_block("hello")
            .err()
            .unwrap()
            .contains("no PEM block found"));
        let public = "-----BEGIN PUBLIC KEY-----\nAA==\n-----END PUBLIC KEY-----\n";
        assert!(find_private_key_block(public)
            .err()
            .unwrap()
            .contains("found: PUBLIC KEY"));
        let unterminated = "-----BEGIN\x20PRIVATE KEY-----\nAA==\n";
        assert!(find_private_key_block(unterminated)
            .err()
            .unwrap()
            .contains("no matching END"));
    }
}
