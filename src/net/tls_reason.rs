//! TLS failures in plain words: the rustls error inside an I/O error, and the problem and reason it
//! means (certificate checks of RFC 5280 §6, alerts of RFC 8446 §6). Shared by the handshake and
//! the streams that carry TLS.

use std::io;

use rustls::pki_types::UnixTime;
use rustls::{AlertDescription, CertificateError};

use crate::model::{Failure, Outcome, TlsProblem};

/// The rustls error inside an I/O error, if there is one.
#[must_use]
pub fn rustls_error(e: &io::Error) -> Option<&rustls::Error> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
}

/// A plain-words failure for a rustls error.
#[must_use]
pub fn failure(err: &rustls::Error) -> Failure {
    use TlsProblem as P;
    let (problem, reason) = match err {
        rustls::Error::InvalidCertificate(cert) => certificate_problem(cert, err),
        rustls::Error::AlertReceived(AlertDescription::CertificateRequired) => (
            P::ClientCertRequired,
            "server requires a client certificate".to_string(),
        ),
        rustls::Error::AlertReceived(
            alert @ (AlertDescription::BadCertificate
            | AlertDescription::UnknownCA
            | AlertDescription::CertificateUnknown
            | AlertDescription::UnsupportedCertificate
            | AlertDescription::CertificateExpired
            | AlertDescription::CertificateRevoked
            | AlertDescription::AccessDenied),
        ) => (
            P::ClientCertRejected,
            format!("server rejected our client certificate (TLS alert {alert:?})"),
        ),
        rustls::Error::AlertReceived(alert) => {
            (P::Other, format!("server sent TLS alert {alert:?}"))
        }
        rustls::Error::InvalidMessage(_) | rustls::Error::InappropriateMessage { .. } => (
            P::NotTls,
            format!("the server did not answer in TLS ({err})"),
        ),
        other => (P::Other, format!("TLS failed: {other}")),
    };
    let cert_names = reason
        .split_once("only valid for ")
        .map(|(_, names)| names.to_string());
    Failure {
        certificate: matches!(err, rustls::Error::InvalidCertificate(_)),
        tls: Some(problem),
        cert_names,
        ..Failure::new(Outcome::TlsFailed, reason)
    }
}

/// The problem and reason for a server certificate that our verification rejected.
fn certificate_problem(cert: &CertificateError, err: &rustls::Error) -> (TlsProblem, String) {
    use TlsProblem as P;
    match cert {
        CertificateError::UnknownIssuer => (
            P::UnknownIssuer,
            "server certificate signed by an unknown CA".to_string(),
        ),
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => (
            P::NameMismatch,
            format!("server certificate does not match the server name: {err}"),
        ),
        CertificateError::ExpiredContext { time, not_after } => (
            P::Expired,
            format!(
                "server certificate expired on {} (checked at {})",
                date(*not_after),
                date(*time)
            ),
        ),
        CertificateError::Expired => (P::Expired, "server certificate expired".to_string()),
        CertificateError::NotValidYetContext { time, not_before } => (
            P::NotValidYet,
            format!(
                "server certificate is not valid before {} (checked at {})",
                date(*not_before),
                date(*time)
            ),
        ),
        CertificateError::NotValidYet => (
            P::NotValidYet,
            "server certificate is not valid yet".to_string(),
        ),
        _ => (
            P::BadCertificate,
            format!("server certificate rejected: {err}"),
        ),
    }
}

/// A UTC date and time for a certificate validity bound.
fn date(t: UnixTime) -> String {
    let secs = t.as_secs();
    let days = i64::try_from(secs / 86_400).unwrap_or(i64::MAX / 2);
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn dates_are_civil_utc() {
        assert_eq!(
            date(UnixTime::since_unix_epoch(Duration::from_secs(0))),
            "1970-01-01 00:00:00 UTC"
        );
        assert_eq!(
            date(UnixTime::since_unix_epoch(Duration::from_secs(
                951_782_400 + 3661
            ))),
            "2000-02-29 01:01:01 UTC"
        );
        assert_eq!(
            date(UnixTime::since_unix_epoch(Duration::from_secs(
                4_102_444_800
            ))),
            "2100-01-01 00:00:00 UTC"
        );
    }

    #[test]
    fn certificate_errors_are_classified() {
        let f = failure(&rustls::Error::InvalidCertificate(
            CertificateError::UnknownIssuer,
        ));
        assert_eq!(
            (f.tls, f.certificate),
            (Some(TlsProblem::UnknownIssuer), true)
        );
        let f = failure(&rustls::Error::AlertReceived(
            AlertDescription::CertificateRequired,
        ));
        assert_eq!(
            (f.tls, f.certificate),
            (Some(TlsProblem::ClientCertRequired), false)
        );
    }
}
