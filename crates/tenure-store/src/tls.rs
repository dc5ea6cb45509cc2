//! TLS to PostgreSQL, as libpq's `sslmode` asks (rustls, no OpenSSL): most managed
//! PostgreSQL services require it. `DATABASE_URL` may say `sslmode=` `disable` (the
//! default here: plain TCP, as for a local server), `prefer` (TLS when the server
//! offers it, unverified), `require` (TLS, server unverified), `verify-ca` (TLS, the
//! server's certificate chains to a trusted root) or `verify-full` (and names the
//! host), with `sslrootcert=<PEM file>` for the roots (else the system's).

use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::error::StoreError;

/// How a connection is secured, from `sslmode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

/// A PostgreSQL URL split into what tokio-postgres understands and the TLS settings
/// it does not (`verify-ca`, `verify-full`, `sslrootcert`).
#[derive(Clone, Debug)]
pub struct TlsSettings {
    pub mode: TlsMode,
    pub root_cert: Option<String>,
}

/// Takes `sslmode` and `sslrootcert` out of `url` (URL or key=value form), returning
/// the URL tokio-postgres parses and the TLS settings.
pub fn split_url(url: &str) -> Result<(String, TlsSettings), String> {
    let mut settings = TlsSettings {
        mode: TlsMode::Disable,
        root_cert: None,
    };
    let mut take = |key: &str, value: &str| -> Result<bool, String> {
        match key {
            "sslmode" => {
                settings.mode = match value {
                    "disable" | "allow" => TlsMode::Disable,
                    "prefer" => TlsMode::Prefer,
                    "require" => TlsMode::Require,
                    "verify-ca" => TlsMode::VerifyCa,
                    "verify-full" => TlsMode::VerifyFull,
                    other => {
                        return Err(format!(
                            "sslmode {other:?} is not one of disable, prefer, require, verify-ca, verify-full"
                        ));
                    }
                };
                Ok(true)
            }
            "sslrootcert" => {
                settings.root_cert = Some(value.to_owned());
                Ok(true)
            }
            _ => Ok(false),
        }
    };
    let rest = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        match url.split_once('?') {
            None => url.to_owned(),
            Some((base, query)) => {
                let mut kept = Vec::new();
                for pair in query.split('&').filter(|p| !p.is_empty()) {
                    let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                    if !take(key, &percent_decode(value))? {
                        kept.push(pair);
                    }
                }
                if kept.is_empty() {
                    base.to_owned()
                } else {
                    format!("{base}?{}", kept.join("&"))
                }
            }
        }
    } else {
        let mut kept = Vec::new();
        for pair in url.split_whitespace() {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            if !take(key, value.trim_matches('\''))? {
                kept.push(pair);
            }
        }
        kept.join(" ")
    };
    if settings.root_cert.is_some() && settings.mode == TlsMode::Disable {
        return Err("sslrootcert is given but sslmode is disable: say sslmode=verify-full".into());
    }
    Ok((rest, settings))
}

fn percent_decode(value: &str) -> String {
    percent_encoding::percent_decode_str(value)
        .decode_utf8_lossy()
        .into_owned()
}

/// The rustls connector for `settings`, or `None` for a plain connection.
pub fn connector(
    settings: &TlsSettings,
) -> Result<Option<tokio_postgres_rustls::MakeRustlsConnect>, StoreError> {
    let bad = |reason: String| StoreError::Tls(reason);
    if settings.mode == TlsMode::Disable {
        return Ok(None);
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(e.to_string()))?;
    let verifier: Arc<dyn ServerCertVerifier> = match settings.mode {
        TlsMode::Prefer | TlsMode::Require => Arc::new(Unverified(provider)),
        _ => {
            let mut roots = RootCertStore::empty();
            match &settings.root_cert {
                Some(path) => {
                    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                        .map_err(|e| bad(format!("sslrootcert {path}: {e}")))?
                        .collect::<Result<_, _>>()
                        .map_err(|e| bad(format!("sslrootcert {path}: {e}")))?;
                    if certs.is_empty() {
                        return Err(bad(format!("sslrootcert {path} holds no certificate")));
                    }
                    for cert in certs {
                        roots
                            .add(cert)
                            .map_err(|e| bad(format!("sslrootcert {path}: {e}")))?;
                    }
                }
                None => {
                    for cert in rustls_native_certs::load_native_certs().certs {
                        let _ = roots.add(cert);
                    }
                }
            }
            let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| bad(e.to_string()))?;
            if settings.mode == TlsMode::VerifyCa {
                Arc::new(AnyName(webpki))
            } else {
                webpki
            }
        }
    };
    let config = builder
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(Some(tokio_postgres_rustls::MakeRustlsConnect::new(config)))
}

/// `require` and `prefer`: encrypted, the server's certificate not checked (as libpq),
/// though the handshake's signatures are.
#[derive(Debug)]
struct Unverified(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `verify-ca`: the chain must reach a trusted root; the name is not checked.
#[derive(Debug)]
struct AnyName(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_settings_come_out_of_both_url_forms() {
        let (rest, s) = split_url(
            "postgres://u@db:5432/t?sslmode=verify-full&sslrootcert=%2Fca.pem&application_name=x",
        )
        .unwrap();
        assert_eq!(rest, "postgres://u@db:5432/t?application_name=x");
        assert_eq!(s.mode, TlsMode::VerifyFull);
        assert_eq!(s.root_cert.as_deref(), Some("/ca.pem"));
        let (rest, s) = split_url("host=db user=u sslmode=require dbname=t").unwrap();
        assert_eq!(rest, "host=db user=u dbname=t");
        assert_eq!(s.mode, TlsMode::Require);
        let (_, s) = split_url("postgres://u@db/t").unwrap();
        assert_eq!(s.mode, TlsMode::Disable);
        assert!(split_url("postgres://u@db/t?sslmode=sometimes").is_err());
    }
}
