//! Certificates and keys for federation tests, generated fresh by rcgen.

use rcgen::{CertificateParams, DnType, KeyPair};
use time::OffsetDateTime;

/// A self-signed certificate for `cn`, as PEM, with its DER bytes.
pub fn certificate(cn: &str) -> (String, Vec<u8>) {
    issue(cn, None)
}

/// A self-signed certificate for `cn` valid only in `[not_before, not_after]`.
pub fn certificate_valid(
    cn: &str,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
) -> (String, Vec<u8>) {
    issue(cn, Some((not_before, not_after)))
}

fn issue(cn: &str, validity: Option<(OffsetDateTime, OffsetDateTime)>) -> (String, Vec<u8>) {
    let key = KeyPair::generate().expect("key pair");
    let mut params = CertificateParams::new(vec![cn.to_owned()]).expect("params");
    params.distinguished_name.push(DnType::CommonName, cn);
    if let Some((not_before, not_after)) = validity {
        params.not_before = not_before;
        params.not_after = not_after;
    }
    let cert = params.self_signed(&key).expect("self-signed certificate");
    (cert.pem(), cert.der().to_vec())
}

/// A PEM private key (never acceptable as a trust anchor).
pub fn private_key() -> String {
    KeyPair::generate().expect("key pair").serialize_pem()
}
