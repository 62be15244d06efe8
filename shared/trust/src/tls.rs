//! The TLS configuration of the Trust client: certificates always verified, against the webpki (Mozilla)
//! roots plus an optional extra CA given as PEM. There is deliberately no way to turn verification off.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};

use crate::error::{Result, TrustError};

const MAX_CA_PEM_BYTES: usize = 1024 * 1024;

/// A rustls client configuration trusting the webpki roots and every certificate in `extra_ca_pem`.
pub fn client_config(extra_ca_pem: Option<&str>) -> Result<ClientConfig> {
    let mut roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(pem) = extra_ca_pem {
        if pem.len() > MAX_CA_PEM_BYTES {
            return Err(TrustError::CaCertificate(format!(
                "{} bytes (limit {MAX_CA_PEM_BYTES})",
                pem.len()
            )));
        }
        let mut added = 0usize;
        for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
            let cert = cert.map_err(|e| TrustError::CaCertificate(e.to_string()))?;
            roots
                .add(cert)
                .map_err(|e| TrustError::CaCertificate(e.to_string()))?;
            added += 1;
        }
        if added == 0 {
            return Err(TrustError::CaCertificate(
                "no \"CERTIFICATE\" PEM block found".into(),
            ));
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TrustError::Client(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pem_without_certificates_is_refused() {
        let err = client_config(Some("not a pem")).unwrap_err();
        assert!(matches!(err, TrustError::CaCertificate(_)), "{err}");
        let err = client_config(Some(
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        ))
        .unwrap_err();
        assert!(matches!(err, TrustError::CaCertificate(_)), "{err}");
    }

    #[test]
    fn webpki_roots_alone_are_fine() {
        assert!(client_config(None).is_ok());
    }
}
