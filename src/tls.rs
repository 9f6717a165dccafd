//! TLS material from PEM files (certificates, keys) for the exporter's connections and the
//! listeners, and the listeners' rustls server configuration, offering HTTP/2 and HTTP/1.1.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Why the certificate or key cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{what} {path}: {reason}")]
pub(crate) struct TlsFileError {
    what: &'static str,
    path: String,
    reason: String,
}

impl TlsFileError {
    /// What is wrong with the file, without its name.
    #[cfg(feature = "otlp")]
    pub(crate) fn reason(&self) -> &str {
        &self.reason
    }
}

/// The certificates of a PEM file, in order.
pub(crate) fn certificates(
    what: &'static str,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, TlsFileError> {
    let bad = |reason: String| TlsFileError {
        what,
        path: path.display().to_string(),
        reason,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| bad(format!("cannot be read ({e})")))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(format!("is not a PEM certificate file ({e})")))?;
    if certs.is_empty() {
        return Err(bad(
            "holds no certificate (expected -----BEGIN CERTIFICATE-----)".into(),
        ));
    }
    Ok(certs)
}

/// The private key of a PEM file (PKCS#8, PKCS#1 or SEC1).
pub(crate) fn private_key(
    what: &'static str,
    path: &Path,
) -> Result<PrivateKeyDer<'static>, TlsFileError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| TlsFileError {
        what,
        path: path.display().to_string(),
        reason: format!("holds no usable private key ({e})"),
    })
}

/// A TLS acceptor serving this certificate chain and key, offering h2 and http/1.1; with
/// `client_ca`, every client must present a certificate that CA signed (mutual TLS).
#[cfg(any(feature = "prometheus", feature = "receiver"))]
pub(crate) fn acceptor(
    cert: &Path,
    key: &Path,
    client_ca: Option<&Path>,
) -> Result<tokio_rustls::TlsAcceptor, TlsFileError> {
    let chain = certificates("the TLS certificate", cert)?;
    let key = private_key("the TLS key", key)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsFileError {
            what: "the TLS configuration",
            path: String::new(),
            reason: e.to_string(),
        })?;
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(path) => {
            let mut roots = rustls::RootCertStore::empty();
            for ca in certificates("the client CA certificate", path)? {
                roots.add(ca).map_err(|e| TlsFileError {
                    what: "the client CA certificate",
                    path: path.display().to_string(),
                    reason: e.to_string(),
                })?;
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()
            .map_err(|e| TlsFileError {
                what: "the client CA certificate",
                path: path.display().to_string(),
                reason: e.to_string(),
            })?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder
        .with_single_cert(chain, key)
        .map_err(|e| TlsFileError {
            what: "the TLS certificate",
            path: cert.display().to_string(),
            reason: format!("does not go with the key ({e})"),
        })?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// A client configuration for the exporter: trusting the CA certificates in `ca`, or else
/// the platform's roots; presenting `identity` (certificate and key files) when given.
#[cfg(feature = "otlp")]
pub(crate) fn client_config(
    ca: Option<&Path>,
    identity: Option<(&Path, &Path)>,
) -> Result<rustls::ClientConfig, TlsFileError> {
    let mut roots = rustls::RootCertStore::empty();
    match ca {
        Some(path) => {
            for cert in certificates("the CA certificate", path)? {
                roots.add(cert).map_err(|e| TlsFileError {
                    what: "the CA certificate",
                    path: path.display().to_string(),
                    reason: e.to_string(),
                })?;
            }
        }
        None => {
            let native = rustls_native_certs::load_native_certs();
            for cert in native.certs {
                // A platform certificate rustls cannot parse is skipped, as browsers do.
                let _ = roots.add(cert);
            }
            if roots.is_empty() {
                return Err(TlsFileError {
                    what: "the platform's trusted roots",
                    path: String::new(),
                    reason: "none found: install the ca-certificates package, set SSL_CERT_FILE, or give a CA with OTEL_EXPORTER_OTLP_CERTIFICATE".into(),
                });
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsFileError {
            what: "the TLS configuration",
            path: String::new(),
            reason: e.to_string(),
        })?
        .with_root_certificates(roots);
    match identity {
        None => Ok(builder.with_no_client_auth()),
        Some((cert, key)) => {
            let chain = certificates("the client certificate", cert)?;
            let key_der = private_key("the client key", key)?;
            builder
                .with_client_auth_cert(chain, key_der)
                .map_err(|e| TlsFileError {
                    what: "the client certificate",
                    path: cert.display().to_string(),
                    reason: format!("does not go with the key ({e})"),
                })
        }
    }
}
