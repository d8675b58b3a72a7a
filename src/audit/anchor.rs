//! Anchors: seal digests signed with Ed25519 and kept outside the database.
//!
//! Seals catch any change to events, and removals chained into them; but someone who can
//! rewrite the database wholesale can also replace the newest seals and their entries by a
//! self-consistent chain of their own. An anchor file closes that gap: each line is one seal —
//! seq, range, event count, digest — signed with a key the database's administrators do not
//! hold, appended by [`new_anchors`] and kept where they cannot write. [`check`] then finds
//! every anchored seal with its anchored digest; together with [`super::verify`], which checks
//! the links between seals, that proves the chain up to the last anchor. Seals newer than the
//! last anchor are reported as unanchored.
//!
//! Keys are PKCS#8 PEM (private) and SPKI PEM (public), as `openssl genpkey -algorithm ed25519`
//! writes them.

use crate::Conn;
use crate::trace::{operation, traced};
use crate::{Error, Result, timestamp};
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::{Signature, Signer, Verifier};
use entity::audit_seal;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

pub use ed25519_dalek::{SigningKey, VerifyingKey};

/// One anchored seal: one line of the anchor file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anchor {
    /// The seal's number.
    pub seq: i64,
    /// Its range's start.
    #[serde(with = "time::serde::rfc3339")]
    pub range_start: OffsetDateTime,
    /// Its range's end (exclusive).
    #[serde(with = "time::serde::rfc3339")]
    pub range_end: OffsetDateTime,
    /// How many events it sealed.
    pub event_count: i64,
    /// Its digest (hex).
    pub digest: String,
    /// Ed25519 signature (hex) of the fields above in their signed form.
    pub signature: String,
}

impl Anchor {
    /// The bytes signed: a versioned line per field.
    fn message(&self) -> String {
        format!(
            "sark-anchor-v1\n{}\n{}\n{}\n{}\n{}\n",
            self.seq,
            timestamp::text(self.range_start),
            timestamp::text(self.range_end),
            self.event_count,
            self.digest
        )
    }

    /// Whether the signature is `key`'s over the fields.
    fn signed_by(&self, key: &VerifyingKey) -> bool {
        let Ok(bytes) = hex::decode(&self.signature) else { return false };
        let Ok(signature) = Signature::from_slice(&bytes) else { return false };
        key.verify(self.message().as_bytes(), &signature).is_ok()
    }

    /// The anchor line of `seal`, signed with `key`.
    fn of(seal: &audit_seal::Model, key: &SigningKey) -> Anchor {
        let mut anchor = Anchor {
            seq: seal.seq,
            range_start: seal.range_start,
            range_end: seal.range_end,
            event_count: seal.event_count,
            digest: seal.digest.clone(),
            signature: String::new(),
        };
        anchor.signature = hex::encode(key.sign(anchor.message().as_bytes()).to_bytes());
        anchor
    }

    /// Whether `seal` is the seal this anchor names, as anchored.
    fn matches(&self, seal: &audit_seal::Model) -> bool {
        self.range_start == seal.range_start
            && self.range_end == seal.range_end
            && self.event_count == seal.event_count
            && self.digest == seal.digest
    }
}

/// A new random signing key.
pub fn generate_key() -> Result<SigningKey> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| Error::validation("key", format!("no randomness: {e}")))?;
    Ok(SigningKey::from_bytes(&seed))
}

/// `key` as PKCS#8 PEM.
pub fn private_key_pem(key: &SigningKey) -> Result<String> {
    let pem = key.to_pkcs8_pem(LineEnding::LF).map_err(|e| Error::validation("key", e.to_string()))?;
    Ok(pem.as_str().to_owned())
}

/// `key`'s public half as SPKI PEM.
pub fn public_key_pem(key: &VerifyingKey) -> Result<String> {
    key.to_public_key_pem(LineEnding::LF).map_err(|e| Error::validation("public_key", e.to_string()))
}

/// Reads a PKCS#8 PEM Ed25519 private key; anything else is [`Error::Validation`].
pub fn signing_key_from_pem(pem: &str) -> Result<SigningKey> {
    SigningKey::from_pkcs8_pem(pem)
        .map_err(|e| Error::validation("key", format!("not a PKCS#8 PEM Ed25519 private key: {e}")))
}

/// Reads an SPKI PEM Ed25519 public key; anything else is [`Error::Validation`].
pub fn verifying_key_from_pem(pem: &str) -> Result<VerifyingKey> {
    VerifyingKey::from_public_key_pem(pem)
        .map_err(|e| Error::validation("public_key", format!("not an SPKI PEM Ed25519 public key: {e}")))
}

/// Reads an anchor file: one JSON [`Anchor`] per line, blank lines skipped. A line that is not
/// an anchor is [`Error::Validation`] naming its number.
pub fn parse(text: &str) -> Result<Vec<Anchor>> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(n, line)| {
            serde_json::from_str(line)
                .map_err(|e| Error::validation("anchors", format!("line {} is not an anchor: {e}", n + 1)))
        })
        .collect()
}

/// `anchors` as the lines of an anchor file, each ending in a newline.
pub fn lines(anchors: &[Anchor]) -> Result<String> {
    let mut out = String::new();
    for anchor in anchors {
        out.push_str(
            &serde_json::to_string(anchor).map_err(|e| Error::validation("anchors", e.to_string()))?,
        );
        out.push('\n');
    }
    Ok(out)
}

/// Signs every seal after seq `after` (`None`: every seal) with `key`, in order: the lines to
/// append to the anchor file.
pub async fn new_anchors<C: Conn>(db: &C, key: &SigningKey, after: Option<i64>) -> Result<Vec<Anchor>> {
    traced(operation!(INFO, "audit::anchor::new_anchors"), async {
        let seals = audit_seal::Entity::find()
            .filter(audit_seal::Column::Seq.gt(after.unwrap_or(0)))
            .order_by_asc(audit_seal::Column::Seq)
            .all(db)
            .await?;
        Ok(seals.iter().map(|seal| Anchor::of(seal, key)).collect())
    })
    .await
}

/// What [`check`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnchorReport {
    /// Anchors whose signature is not the key's (the file was edited): their seqs.
    pub bad_signature: Vec<i64>,
    /// Anchored seals whose range, count or digest in the database differ from the anchor.
    pub replaced: Vec<i64>,
    /// Anchored seals that are gone from the database.
    pub removed: Vec<i64>,
    /// Seals newer than the last anchor: not covered yet.
    pub unanchored: Vec<i64>,
    /// The last anchored seq.
    pub last_anchored: Option<i64>,
}

impl AnchorReport {
    /// Whether every anchor is signed and its seal is in the database as anchored (unanchored
    /// seals do not count against it).
    pub fn is_clean(&self) -> bool {
        self.bad_signature.is_empty() && self.replaced.is_empty() && self.removed.is_empty()
    }
}

impl std::fmt::Display for AnchorReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (label, seqs) in [
            ("anchor signature wrong", &self.bad_signature),
            ("anchored seal replaced", &self.replaced),
            ("anchored seal removed", &self.removed),
            ("seal not anchored yet", &self.unanchored),
        ] {
            for seq in seqs {
                writeln!(f, "{label}: seal {seq}")?;
            }
        }
        match self.last_anchored {
            Some(seq) => write!(f, "anchors: up to seal {seq}, ")?,
            None => write!(f, "anchors: none, ")?,
        }
        write!(f, "{}", if self.is_clean() { "every anchored seal matches" } else { "tampering found" })
    }
}

/// Checks `anchors` against the seals in the database: each anchor's signature under `key`,
/// and that its seal exists with the anchored range, count and digest. Run [`super::verify`]
/// too: it checks the links between the seals.
pub async fn check<C: Conn>(db: &C, anchors: &[Anchor], key: &VerifyingKey) -> Result<AnchorReport> {
    traced(operation!(INFO, "audit::anchor::check"), async {
        let seals = audit_seal::Entity::find().order_by_asc(audit_seal::Column::Seq).all(db).await?;
        let mut report = AnchorReport::default();
        for anchor in anchors {
            if !anchor.signed_by(key) {
                report.bad_signature.push(anchor.seq);
                continue;
            }
            report.last_anchored = report.last_anchored.max(Some(anchor.seq));
            match seals.iter().find(|s| s.seq == anchor.seq) {
                None => report.removed.push(anchor.seq),
                Some(seal) if !anchor.matches(seal) => report.replaced.push(anchor.seq),
                Some(_) => {}
            }
        }
        let last = report.last_anchored.unwrap_or(0);
        report.unanchored = seals.iter().map(|s| s.seq).filter(|seq| *seq > last).collect();
        Ok(report)
    })
    .await
}
