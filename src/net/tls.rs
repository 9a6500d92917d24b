//! TLS with rustls (ring provider): trust roots, SNI and name or IP checks, the device certificate,
//! `--insecure`, and a plain-words reason for every handshake and certificate failure.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{AlertDescription, ClientConfig, DigitallySignedStruct, SignatureScheme};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::stream::Stream;
use super::tls_reason::{failure, rustls_error};
use super::{Connection, TlsParams, tls_probe};
use crate::model::{Failure, Outcome, TlsProblem};

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

/// What a TLS handshake needs: the client configuration (one per process) and the name to verify.
#[derive(Debug, Clone)]
pub struct Client {
    /// The rustls client configuration.
    pub config: Arc<ClientConfig>,
    /// The name the server certificate must hold (SNI too, unless it is an IP address).
    pub server_name: String,
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
    tcp: Stream<TcpStream>,
    config: Arc<ClientConfig>,
    server_name: &str,
    timeout: Duration,
) -> Result<Connection, Failure> {
    let name =
        ServerName::try_from(server_name.trim_matches(['[', ']']).to_string()).map_err(|_| {
            Failure::new(
                Outcome::TlsFailed,
                format!("{server_name:?} is not a valid TLS server name"),
            )
        })?;
    let connector = TlsConnector::from(config);
    let (local, remote) = (tcp.local, tcp.remote);
    match tokio::time::timeout(timeout, connector.connect(name, tcp.io)).await {
        Err(_) => Err(Failure {
            tls: Some(TlsProblem::NotTls),
            ..Failure::new(
                Outcome::TlsFailed,
                format!(
                    "the TLS handshake did not finish within {}",
                    humantime::format_duration(timeout)
                ),
            )
        }),
        Ok(Err(e)) => Err({
            let failed = handshake_failure(&e);
            if worth_probing(&e) {
                with_probe(failed, remote, server_name, timeout).await
            } else {
                failed
            }
        }),
        Ok(Ok(stream)) => Ok(Connection::Tls(Box::new(Stream::wrap(
            stream, local, remote,
        )))),
    }
}

/// The failure for an error of the handshake.
fn handshake_failure(e: &io::Error) -> Failure {
    match rustls_error(e) {
        Some(err) => failure(err),
        None if e.kind() == io::ErrorKind::UnexpectedEof => Failure {
            tls: Some(TlsProblem::NotTls),
            ..Failure::new(
                Outcome::TlsFailed,
                "the server closed the connection during the TLS handshake",
            )
        },
        None => Failure::new(Outcome::TlsFailed, format!("TLS handshake failed: {e}")),
    }
}

/// True for the failures a server with only legacy TLS causes: it refuses our versions or suites with
/// a handshake_failure, protocol_version or insufficient_security alert (RFC 5246 §7.2.2), picks what
/// rustls does not support, or closes the connection. Certificate problems and timeouts are not probed.
fn worth_probing(e: &io::Error) -> bool {
    match rustls_error(e) {
        Some(rustls::Error::AlertReceived(
            AlertDescription::HandshakeFailure
            | AlertDescription::ProtocolVersion
            | AlertDescription::InsufficientSecurity,
        )) => true,
        Some(rustls::Error::PeerIncompatible(_)) => true,
        Some(_) => false,
        None => matches!(
            e.kind(),
            io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset
        ),
    }
}

/// Runs the legacy TLS probe after `failed` and, when the server would pick a version or suite rustls
/// does not support, adds the finding to the failure and its reason.
async fn with_probe(
    mut failed: Failure,
    remote: SocketAddr,
    server_name: &str,
    timeout: Duration,
) -> Failure {
    let probe_timeout = timeout.min(tls_probe::PROBE_TIMEOUT);
    if let Some(found) = tls_probe::probe(remote, server_name, probe_timeout).await {
        failed.reason = format!(
            "{}; offered legacy TLS, the server picks {found}, which a phone may accept and sipreg (rustls) refuses",
            failed.reason
        );
        failed.legacy = Some(Box::new(found));
    }
    failed
}

/// The negotiated version and cipher suite of a TLS stream.
#[must_use]
pub fn params(io: &tokio_rustls::client::TlsStream<TcpStream>) -> Option<TlsParams> {
    let conn = io.get_ref().1;
    let version = conn.protocol_version().map(|v| format!("{v:?}"))?;
    let cipher = conn
        .negotiated_cipher_suite()
        .map(|c| format!("{:?}", c.suite()))?;
    let earliest_cert_expiry = conn
        .peer_certificates()
        .and_then(|chain| chain.iter().filter_map(|c| super::x509::not_after(c)).min());
    Some(TlsParams {
        version,
        cipher,
        earliest_cert_expiry,
    })
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

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::CertificateError;

    #[test]
    fn only_version_and_suite_refusals_and_closes_are_probed() {
        let tls = |err: rustls::Error| io::Error::other(err);
        assert!(worth_probing(&tls(rustls::Error::AlertReceived(
            AlertDescription::HandshakeFailure
        ))));
        assert!(worth_probing(&tls(rustls::Error::AlertReceived(
            AlertDescription::ProtocolVersion
        ))));
        assert!(worth_probing(&tls(rustls::Error::PeerIncompatible(
            rustls::PeerIncompatible::ServerTlsVersionIsDisabledByOurConfig
        ))));
        assert!(worth_probing(&io::ErrorKind::UnexpectedEof.into()));
        assert!(!worth_probing(&tls(rustls::Error::InvalidCertificate(
            CertificateError::UnknownIssuer
        ))));
        assert!(!worth_probing(&tls(rustls::Error::AlertReceived(
            AlertDescription::BadCertificate
        ))));
        assert!(!worth_probing(&io::ErrorKind::TimedOut.into()));
    }
}
