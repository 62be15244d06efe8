//! The TLS client configuration: rustls with the ring provider, the webpki roots and optional extra CAs.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};

use crate::error::FetchError;

/// A rustls client config trusting the webpki roots plus every certificate in `extra_ca_pem`.
pub fn client_config(extra_ca_pem: Option<&[u8]>) -> Result<ClientConfig, FetchError> {
    let mut roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(pem) = extra_ca_pem {
        add_extra_roots(&mut roots, pem)?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| FetchError::Config {
            reason: format!("TLS setup: {error}"),
        })?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

fn add_extra_roots(roots: &mut RootCertStore, pem: &[u8]) -> Result<(), FetchError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| FetchError::Config {
            reason: format!("extra_ca_pem is not valid PEM: {error}"),
        })?;
    if certs.is_empty() {
        return Err(FetchError::Config {
            reason: "extra_ca_pem holds no CERTIFICATE block".into(),
        });
    }
    for cert in certs {
        roots.add(cert).map_err(|error| FetchError::Config {
            reason: format!("extra_ca_pem holds an unusable CA certificate: {error}"),
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_extra_ca_without_certificates() {
        let error = client_config(Some(b"not a pem")).unwrap_err();
        assert_eq!(
            error,
            FetchError::Config {
                reason: "extra_ca_pem holds no CERTIFICATE block".into()
            }
        );
    }

    #[test]
    fn refuses_garbage_inside_a_certificate_block() {
        let pem = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        let error = client_config(Some(pem)).unwrap_err();
        assert!(
            matches!(&error, FetchError::Config { reason } if reason.contains("unusable CA")),
            "{error}"
        );
    }

    #[test]
    fn builds_with_webpki_roots_only() {
        let config = client_config(None).unwrap();
        assert_eq!(config.alpn_protocols, vec![b"http/1.1".to_vec()]);
    }
}
