//! TLS with rustls (ring provider): trust roots, SNI and name or IP checks, the device certificate,
//! `--insecure`, and a plain-words reason for every handshake and certificate failure.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    AlertDescription, CertificateError, ClientConfig, DigitallySignedStruct, SignatureScheme,
};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::{Connection, Failure, FailureKind, Stream};

/// TLS material and choices, loaded and checked before any packet is sent.
#[derive(Debug)]
pub struct TlsSettings {
    /// Trust only these roots (`--ca-file`); `None` means the bundled webpki roots.
    pub ca: Option<Vec<CertificateDer<'static>>>,
    /// The device certificate chain and key (`--cert`, `--key`), offered only when the server asks.
    pub client: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
    /// Skip server certificate verification (`--insecure`).
    pub insecure: bool,
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Builds the rustls client configuration.
///
/// # Errors
/// A message naming the problem: a CA file without usable certificates, or a certificate and key
/// that do not belong together.
pub fn client_config(settings: &TlsSettings) -> Result<Arc<ClientConfig>, String> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS set-up failed: {e}"))?;
    let builder = if settings.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerification(provider())))
    } else {
        let mut roots = rustls::RootCertStore::empty();
        match &settings.ca {
            Some(certs) => {
                let (added, _ignored) = roots.add_parsable_certificates(certs.iter().cloned());
                if added == 0 {
                    return Err("--ca-file holds no usable CA certificate".into());
                }
            }
            None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        }
        builder.with_root_certificates(roots)
    };
    let config = match &settings.client {
        Some((chain, key)) => builder
            .with_client_auth_cert(chain.clone(), key.clone_key())
            .map_err(|e| format!("--cert/--key cannot be used: {e}"))?,
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

/// Runs the TLS handshake over `tcp` within `timeout`, verifying the server as `server_name`.
///
/// # Errors
/// A `TlsFailed` [`Failure`] with the reason, or `ConnectTimeout` when the handshake does not finish.
pub async fn handshake(
    tcp: TcpStream,
    config: Arc<ClientConfig>,
    server_name: &str,
    remote: SocketAddr,
    timeout: Duration,
) -> Result<Connection, Failure> {
    let name =
        ServerName::try_from(server_name.trim_matches(['[', ']']).to_string()).map_err(|_| {
            Failure::new(
                FailureKind::TlsFailed,
                format!("{server_name:?} is not a valid TLS server name"),
            )
        })?;
    let connector = TlsConnector::from(config);
    match tokio::time::timeout(timeout, connector.connect(name, tcp)).await {
        Err(_) => Err(Failure::new(
            FailureKind::TlsFailed,
            format!(
                "the TLS handshake did not finish within {} (does the port speak TLS?)",
                humantime::format_duration(timeout)
            ),
        )),
        Ok(Err(e)) => Err(match rustls_error(&e) {
            Some(err) => failure(err),
            None if e.kind() == io::ErrorKind::UnexpectedEof => Failure::new(
                FailureKind::TlsFailed,
                "the server closed the connection during the TLS handshake",
            ),
            None => Failure::new(FailureKind::TlsFailed, format!("TLS handshake failed: {e}")),
        }),
        Ok(Ok(stream)) => Ok(Connection::Tls(Box::new(Stream::new(stream, remote)))),
    }
}

/// The rustls error inside an I/O error, if there is one.
#[must_use]
pub fn rustls_error(e: &io::Error) -> Option<&rustls::Error> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
}

/// A plain-words failure for a rustls error.
#[must_use]
pub fn failure(err: &rustls::Error) -> Failure {
    let (reason, certificate) = match err {
        rustls::Error::InvalidCertificate(cert) => {
            let reason = match cert {
                CertificateError::UnknownIssuer => {
                    "server certificate signed by an unknown CA (use --ca-file, or --insecure)"
                        .to_string()
                }
                CertificateError::NotValidForName
                | CertificateError::NotValidForNameContext { .. } => {
                    format!("server certificate does not match the server name: {err}")
                }
                CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                    format!("server certificate expired: {err}")
                }
                CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                    format!("server certificate not valid yet: {err}")
                }
                _ => format!("server certificate rejected: {err}"),
            };
            (reason, true)
        }
        rustls::Error::AlertReceived(AlertDescription::CertificateRequired) => (
            "server requires a client certificate (use --cert/--key)".to_string(),
            false,
        ),
        rustls::Error::AlertReceived(
            alert @ (AlertDescription::BadCertificate
            | AlertDescription::UnknownCA
            | AlertDescription::CertificateUnknown
            | AlertDescription::UnsupportedCertificate
            | AlertDescription::CertificateExpired),
        ) => (
            format!("server rejected our client certificate (TLS alert {alert:?})"),
            false,
        ),
        rustls::Error::AlertReceived(alert) => (format!("server sent TLS alert {alert:?}"), false),
        rustls::Error::InvalidMessage(_) | rustls::Error::InappropriateMessage { .. } => (
            format!("the server did not answer in TLS ({err}): is this a TLS port?"),
            false,
        ),
        other => (format!("TLS failed: {other}"), false),
    };
    Failure {
        kind: FailureKind::TlsFailed,
        reason,
        certificate,
    }
}

/// `--insecure`: accepts any server certificate but still checks handshake signatures.
#[derive(Debug)]
struct NoVerification(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
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
