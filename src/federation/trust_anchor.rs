//! Trust anchors of federation nodes: one PEM X.509 certificate, inspected.

use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use x509_parser::pem::Pem;

/// What sark-db reads out of a trust anchor certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustAnchor {
    /// SHA-256 of the certificate's DER encoding, lower-case hex.
    pub fingerprint_sha256: String,
    /// Subject distinguished name, e.g. `CN=node.example.org`.
    pub subject: String,
    /// Start of the validity window.
    #[serde(with = "time::serde::rfc3339")]
    pub not_before: OffsetDateTime,
    /// End of the validity window.
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
}

/// Reads `pem`, which must hold exactly one `CERTIFICATE` block with a well-formed X.509
/// certificate and nothing else: a private key, several blocks or garbage are refused.
pub fn inspect(pem: &str) -> Result<TrustAnchor> {
    let refuse = |reason: String| Error::validation("trust_anchor_cert", reason);
    crate::validate::key("trust_anchor_cert", pem)?;
    let blocks = Pem::iter_from_buffer(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| refuse(format!("is not valid PEM ({e})")))?;
    let block = match blocks.as_slice() {
        [] => return Err(refuse("holds no PEM block; expected one CERTIFICATE".into())),
        [block] if block.label == "CERTIFICATE" => block,
        [block] => {
            return Err(refuse(format!("holds a {} block; a trust anchor is one CERTIFICATE", block.label)));
        }
        blocks => {
            let labels: Vec<_> = blocks.iter().map(|b| b.label.as_str()).collect();
            return Err(refuse(format!(
                "holds {} PEM blocks ({}); expected one CERTIFICATE",
                blocks.len(),
                labels.join(", ")
            )));
        }
    };
    let cert = match x509_parser::parse_x509_certificate(&block.contents) {
        Ok(([], cert)) => cert,
        Ok(_) => return Err(refuse("has bytes after the certificate".into())),
        Err(e) => return Err(refuse(format!("is not an X.509 certificate ({e})"))),
    };
    Ok(TrustAnchor {
        fingerprint_sha256: hex::encode(Sha256::digest(&block.contents)),
        subject: cert.subject().to_string(),
        not_before: cert.validity().not_before.to_datetime(),
        not_after: cert.validity().not_after.to_datetime(),
    })
}

/// [`inspect`], and refuses a certificate whose validity ended before `now`.
pub(crate) fn check(pem: &str, now: OffsetDateTime) -> Result<TrustAnchor> {
    let anchor = inspect(pem)?;
    if anchor.not_after < now {
        return Err(Error::validation("trust_anchor_cert", format!("expired at {}", anchor.not_after)));
    }
    Ok(anchor)
}
