//! The server certificate fields of the `tls` event, from the first certificate of a
//! clear-text Certificate message (TLS ≤ 1.2).
//!
//! Contract: [`CertInfo::from_der`] parses one DER certificate with `x509-parser` and
//! renders the fields as Suricata does: `subject` and `issuerdn` as x509-parser's RFC
//! 4514-style text (`C=US, O=Example, CN=example.com`), `serial` as uppercase hex bytes
//! joined by `:`, `fingerprint` as the lowercase SHA-1 of the DER joined by `:`,
//! `notbefore`/`notafter` as UTC `YYYY-MM-DDTHH:MM:SS`. A certificate that does not
//! parse yields [`CertError`]; nothing panics.

use sha1::{Digest, Sha1};
use std::fmt::Write;
use x509_parser::prelude::{FromDer, X509Certificate};

/// A certificate that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CertError {
    /// The DER does not hold an X.509 certificate.
    #[error("malformed X.509 certificate")]
    Malformed,
}

/// The fields Suricata logs for the server's first certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    /// Subject distinguished name.
    pub subject: String,
    /// Issuer distinguished name.
    pub issuerdn: String,
    /// Serial number, `XX:XX:...`.
    pub serial: String,
    /// SHA-1 of the DER, `xx:xx:...`.
    pub fingerprint: String,
    /// Start of validity, `YYYY-MM-DDTHH:MM:SS` (UTC).
    pub notbefore: String,
    /// End of validity, `YYYY-MM-DDTHH:MM:SS` (UTC).
    pub notafter: String,
}

impl CertInfo {
    /// Reads the fields of one DER certificate.
    pub fn from_der(der: &[u8]) -> Result<Self, CertError> {
        let (_, cert) = X509Certificate::from_der(der).map_err(|_| CertError::Malformed)?;
        let validity = cert.validity();
        Ok(CertInfo {
            subject: cert.subject().to_string(),
            issuerdn: cert.issuer().to_string(),
            serial: colon_hex(cert.raw_serial(), true),
            fingerprint: colon_hex(&Sha1::digest(der), false),
            notbefore: iso_utc(validity.not_before.timestamp()),
            notafter: iso_utc(validity.not_after.timestamp()),
        })
    }
}

fn colon_hex(bytes: &[u8], upper: bool) -> String {
    let mut s = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            s.push(':');
        }
        let _ = if upper {
            write!(s, "{b:02X}")
        } else {
            write!(s, "{b:02x}")
        };
    }
    s
}

/// `YYYY-MM-DDTHH:MM:SS` of a Unix time (proleptic Gregorian, UTC).
pub(crate) fn iso_utc(ts: i64) -> String {
    let days = ts.div_euclid(86_400);
    let secs = ts.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::iso_utc;

    #[test]
    fn iso_dates_match_suricata_format() {
        // Suricata's own x509/time.rs checks these two.
        assert_eq!(iso_utc(-86_400), "1969-12-31T00:00:00");
        assert_eq!(iso_utc(2_177_367_003), "2038-12-31T00:10:03");
        assert_eq!(iso_utc(0), "1970-01-01T00:00:00");
        assert_eq!(iso_utc(951_782_400), "2000-02-29T00:00:00");
    }
}
