//! Seals: tamper evidence for the audit log.
//!
//! [`seal`] closes the time range from the end of the last seal up to `until`: it hashes every
//! event of the range in its canonical form (version 1, below), stores each hash in
//! `audit_seal_entries`, and writes one `audit_seals` row whose digest covers the previous
//! seal's digest, the range, the hashes in `(timestamp, id)` order and their count: a chain.
//! From then on the database refuses any event stamped inside a sealed range. [`verify`]
//! recomputes the seals of a time range and names every event that changed, went missing or
//! slipped in, and any break in the chain.
//!
//! **Canonical form, version 1** (`sark-audit-v1/sha256`): the event's 22 columns in table
//! order, each written as its name, `=`, then `-` for NULL or the value's byte length, `:`
//! and the value, then a newline. Timestamps are `YYYY-MM-DDTHH:MM:SS.ffffffZ`; integers are
//! decimal; `details` is JSON with object keys sorted by their UTF-8 bytes and no whitespace.
//!
//! A seal proves that the events of its range are the ones that were there when it was made,
//! unchanged. It cannot prove that an event removed before its range was sealed ever existed.

use crate::db::{begin_write, is_postgres};
use crate::timestamp::{self, stored};
use crate::trace::{self, operation, traced};
use crate::{Clock, Error, Result};
use entity::{audit_event, audit_seal, audit_seal_entry, retention_entry};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveEnum, ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, TransactionSession, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::macros::datetime;

/// The canonical encoding and hash of this version.
pub const ALGORITHM: &str = "sark-audit-v1/sha256";

/// The previous digest of the first seal.
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Where the first seal starts.
const BEGINNING: OffsetDateTime = datetime!(0001-01-01 00:00 UTC);

/// Events read and hashed at a time: memory stays bounded however large the range.
const PAGE: u64 = 5_000;

/// Seals the audit log up to `until` (exclusive), from the end of the last seal; returns the
/// new seal, whose `digest` an operator may publish or sign elsewhere as an external anchor.
/// `until` must lie at least the clock's tolerance in the past (appends may be stamped up to
/// that far from now) and after the last seal's end; otherwise [`Error::Validation`].
///
/// While it runs, appends and other seals wait (PostgreSQL: the table is locked in `SHARE ROW
/// EXCLUSIVE` mode; SQLite: the write lock), so that every event is either in the seal or after
/// it, and seals follow one another. Events are read and
/// their hashes written a page at a time: memory stays bounded.
pub async fn seal<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    until: OffsetDateTime,
) -> Result<audit_seal::Model> {
    seal_with(db, until, &Clock::default()).await
}

/// [`seal`] with now and the tolerance taken from `clock`.
pub async fn seal_with<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    until: OffsetDateTime,
    clock: &Clock,
) -> Result<audit_seal::Model> {
    traced(operation!(INFO, "audit::seal"), async {
        let until = timestamp::normalize(until);
        if until > clock.now() - clock.tolerance() {
            return Err(Error::validation("until", "must lie at least the clock's tolerance in the past"));
        }
        let txn = begin_write(db).await?;
        let tx = &stored(&txn);
        if is_postgres(tx) {
            // Conflicts with every insert and with another seal; reads go on.
            tx.execute_unprepared("LOCK TABLE audit_events IN SHARE ROW EXCLUSIVE MODE").await?;
        }
        let last = audit_seal::Entity::find().order_by_desc(audit_seal::Column::Seq).one(tx).await?;
        let (seq, start, previous) = match last {
            Some(s) => (s.seq + 1, s.range_end, s.digest),
            None => (1, BEGINNING, GENESIS.to_owned()),
        };
        if until <= start {
            return Err(Error::validation("until", "is not after the end of the last seal"));
        }
        // The entries go in page by page under the seal's number (no other seal can take it:
        // this transaction holds the write lock), the seal row last, once its digest is known.
        let mut chain = Chain::new(&previous, start, until);
        let mut after = None;
        loop {
            let events = page(tx, start, until, after.as_ref()).await?;
            let Some(last) = events.last() else { break };
            after = Some((last.timestamp, last.id.clone()));
            let entries: Vec<_> = events
                .iter()
                .map(|event| {
                    let hash = event_hash(event);
                    chain.add(&hash);
                    audit_seal_entry::ActiveModel {
                        seal_seq: Set(seq),
                        timestamp: Set(event.timestamp),
                        event_id: Set(event.id.clone()),
                        hash: Set(hash),
                    }
                })
                .collect();
            audit_seal_entry::Entity::insert_many(entries).exec_without_returning(tx).await?;
        }
        let (count, digest) = chain.finish();
        let seal = audit_seal::ActiveModel {
            seq: Set(seq),
            range_start: Set(start),
            range_end: Set(until),
            event_count: Set(count),
            digest: Set(digest),
            previous_digest: Set(previous),
            algorithm: Set(ALGORITHM.to_owned()),
            sealed_at: Set(timestamp::now()),
        }
        .insert(tx)
        .await?;
        txn.commit().await?;
        trace::rows(count);
        Ok(seal)
    })
    .await
}

/// Up to [`PAGE`] events of `[start, until)` after the `(timestamp, id)` cursor, in that order.
async fn page<C: ConnectionTrait>(
    db: &C,
    start: OffsetDateTime,
    until: OffsetDateTime,
    after: Option<&(OffsetDateTime, String)>,
) -> Result<Vec<audit_event::Model>> {
    use audit_event::Column as A;
    let mut select =
        audit_event::Entity::find().filter(A::Timestamp.gte(start)).filter(A::Timestamp.lt(until));
    if let Some((t, id)) = after {
        select = select.filter(after_key(A::Timestamp, A::Id, *t, id));
    }
    Ok(select.order_by_asc(A::Timestamp).order_by_asc(A::Id).limit(PAGE).all(db).await?)
}

/// `(timestamp, id) > (t, id)` as one row comparison, which the `(timestamp, id)` index serves
/// directly (an `OR` of the two cases made each page of a seal scan from the start of its
/// range). Also the cursor of `audit::query`.
pub(super) fn after_key(
    timestamp: impl ColumnTrait,
    id_column: impl ColumnTrait,
    t: OffsetDateTime,
    id: &str,
) -> Expr {
    Expr::tuple([Expr::col(timestamp), Expr::col(id_column)]).gt(Expr::tuple([Expr::val(t), Expr::val(id)]))
}

/// The running digest of one seal.
struct Chain {
    hasher: Sha256,
    count: i64,
}

impl Chain {
    /// Starts the digest of the seal of `[start, end)` that follows `previous`.
    fn new(previous: &str, start: OffsetDateTime, end: OffsetDateTime) -> Chain {
        let mut hasher = Sha256::new();
        hasher.update(format!(
            "{ALGORITHM}\n{previous}\n{}\n{}\n",
            timestamp::text(start),
            timestamp::text(end)
        ));
        Chain { hasher, count: 0 }
    }

    /// Adds the next event's hash.
    fn add(&mut self, hash: &str) {
        self.hasher.update(hash.as_bytes());
        self.hasher.update(b"\n");
        self.count += 1;
    }

    /// The count of events and the digest (hex).
    fn finish(mut self) -> (i64, String) {
        self.hasher.update(format!("{}\n", self.count));
        (self.count, hex::encode(self.hasher.finalize()))
    }
}

/// SHA-256 (hex) of `event`'s canonical form, version 1.
pub(crate) fn event_hash(event: &audit_event::Model) -> String {
    let mut out = String::new();
    let mut field = |name: &str, value: Option<&str>| {
        out.push_str(name);
        out.push('=');
        match value {
            None => out.push('-'),
            Some(v) => {
                out.push_str(&v.len().to_string());
                out.push(':');
                out.push_str(v);
            }
        }
        out.push('\n');
    };
    let int = |v: Option<i64>| v.map(|v| v.to_string());
    let e = event;
    field("id", Some(&e.id));
    field("timestamp", Some(&timestamp::text(e.timestamp)));
    field("event_type", Some(&e.event_type));
    field("severity", Some(&e.severity));
    field("user_id", e.user_id.as_deref());
    field("user_email", e.user_email.as_deref());
    field("server_id", e.server_id.as_deref());
    field("tool_name", e.tool_name.as_deref());
    field("decision", e.decision.as_deref());
    field("policy_id", e.policy_id.as_deref());
    field("ip_address", e.ip_address.as_deref());
    field("user_agent", e.user_agent.as_deref());
    field("request_id", e.request_id.as_deref());
    field("details", Some(&canonical_json(&e.details)));
    field("principal_org", e.principal_org.as_deref());
    field("resource_protocol", e.resource_protocol.map(|p| p.to_value()).as_deref());
    field("capability_id", e.capability_id.as_deref());
    field("correlation_id", e.correlation_id.as_deref());
    field("source_node", e.source_node.as_deref());
    field("target_node", e.target_node.as_deref());
    field("estimated_cost_micros", int(e.estimated_cost_micros).as_deref());
    field("actual_cost_micros", int(e.actual_cost_micros).as_deref());
    hex::encode(Sha256::digest(out.as_bytes()))
}

/// `value` as JSON with object keys sorted by their bytes and no whitespace, whatever order
/// the database or the JSON library kept them in.
fn canonical_json(value: &Json) -> String {
    match value {
        Json::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let fields: Vec<String> = keys
                .iter()
                .map(|k| format!("{}:{}", Json::String((*k).clone()), canonical_json(&map[*k])))
                .collect();
            format!("{{{}}}", fields.join(","))
        }
        Json::Array(items) => format!("[{}]", items.iter().map(canonical_json).collect::<Vec<_>>().join(",")),
        other => other.to_string(),
    }
}

/// What [`verify`] found for one seal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealCheck {
    /// The seal.
    pub seq: i64,
    /// Its range.
    #[serde(with = "time::serde::rfc3339")]
    pub range_start: OffsetDateTime,
    /// Its range's end (exclusive).
    #[serde(with = "time::serde::rfc3339")]
    pub range_end: OffsetDateTime,
    /// Retention removed data of this range (see `retention_log`): its events are not compared,
    /// only its place in the chain.
    pub covers_removed_data: bool,
    /// The seal row or its entries were changed: its digest is not what they hash to.
    pub seal_altered: bool,
    /// Its previous digest is not the previous seal's digest, or its range does not start where
    /// the previous one ended, or a seal is missing before it.
    pub chain_broken: bool,
    /// Events whose content differs from what was sealed, as `(timestamp, id)`.
    pub changed: Vec<(String, String)>,
    /// Sealed events that are gone.
    pub missing: Vec<(String, String)>,
    /// Events in the range that were not sealed.
    pub extra: Vec<(String, String)>,
}

impl SealCheck {
    /// Whether nothing is wrong with this seal.
    pub fn is_clean(&self) -> bool {
        !self.seal_altered
            && !self.chain_broken
            && self.changed.is_empty()
            && self.missing.is_empty()
            && self.extra.is_empty()
    }
}

/// What [`verify`] found: one check per seal overlapping the range, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealReport {
    /// The seals' checks.
    pub seals: Vec<SealCheck>,
}

impl SealReport {
    /// Whether every seal checked is clean (a seal over removed data is clean when its place in
    /// the chain is).
    pub fn is_clean(&self) -> bool {
        self.seals.iter().all(SealCheck::is_clean)
    }
}

impl std::fmt::Display for SealReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for s in &self.seals {
            let state = if !s.is_clean() {
                "NOT CLEAN"
            } else if s.covers_removed_data {
                "clean chain; data removed by retention"
            } else {
                "clean"
            };
            writeln!(
                f,
                "seal {} [{} .. {}): {state}",
                s.seq,
                timestamp::text(s.range_start),
                timestamp::text(s.range_end)
            )?;
            if s.seal_altered {
                writeln!(f, "  the seal row or its entries were altered")?;
            }
            if s.chain_broken {
                writeln!(f, "  the chain is broken before this seal")?;
            }
            for (label, events) in [("changed", &s.changed), ("missing", &s.missing), ("extra", &s.extra)] {
                for (t, id) in events {
                    writeln!(f, "  {label}: {id} at {t}")?;
                }
            }
        }
        write!(f, "result: {}", if self.is_clean() { "clean" } else { "tampering found" })
    }
}

/// Recomputes every seal that overlaps `[from, to)` from the events as they are now, and
/// checks each seal's digest against its entries and its link to the seal before it.
pub async fn verify<C: ConnectionTrait>(
    db: &C,
    from: OffsetDateTime,
    to: OffsetDateTime,
) -> Result<SealReport> {
    traced(operation!(DEBUG, "audit::verify"), async {
        let db = &stored(db);
        if to < from {
            return Err(Error::validation("to", "is before from"));
        }
        use audit_seal::Column as S;
        let seals = audit_seal::Entity::find()
            .filter(S::RangeEnd.gt(from))
            .filter(S::RangeStart.lt(to))
            .order_by_asc(S::Seq)
            .all(db)
            .await?;
        let mut previous = match seals.first() {
            Some(first) if first.seq > 1 => audit_seal::Entity::find_by_id(first.seq - 1).one(db).await?,
            _ => None,
        };
        let removed = retention_entry::Entity::find()
            .filter(retention_entry::Column::TableName.eq("audit_events"))
            .all(db)
            .await?;
        let mut report = SealReport { seals: Vec::new() };
        for seal in seals {
            let mut check = SealCheck {
                seq: seal.seq,
                range_start: seal.range_start,
                range_end: seal.range_end,
                covers_removed_data: removed
                    .iter()
                    .any(|r| r.range_start < seal.range_end && r.range_end > seal.range_start),
                seal_altered: false,
                chain_broken: !links(previous.as_ref(), &seal),
                changed: Vec::new(),
                missing: Vec::new(),
                extra: Vec::new(),
            };
            compare(db, &seal, &mut check).await?;
            trace::rows(report.seals.len() + 1);
            report.seals.push(check);
            previous = Some(seal);
        }
        Ok(report)
    })
    .await
}

/// Whether `seal` follows `previous` in the chain (`None`: `seal` must be the first).
fn links(previous: Option<&audit_seal::Model>, seal: &audit_seal::Model) -> bool {
    match previous {
        Some(p) => {
            p.seq + 1 == seal.seq && p.digest == seal.previous_digest && p.range_end == seal.range_start
        }
        None => seal.seq == 1 && seal.previous_digest == GENESIS && seal.range_start == BEGINNING,
    }
}

/// Recomputes `seal`'s digest from its entries, and compares its entries with the events of its
/// range (unless retention removed data there), a page of each at a time, in `(timestamp, id)`
/// order.
async fn compare<C: ConnectionTrait>(db: &C, seal: &audit_seal::Model, check: &mut SealCheck) -> Result<()> {
    let mut chain = Chain::new(&seal.previous_digest, seal.range_start, seal.range_end);
    let mut entries = EntryPages { seq: seal.seq, after: None, buffer: Vec::new().into_iter() };
    let mut events = EventPages {
        start: seal.range_start,
        until: seal.range_end,
        after: None,
        buffer: Vec::new().into_iter(),
    };
    let compare_events = !check.covers_removed_data;
    let key = |t: OffsetDateTime, id: &str| (timestamp::text(t), id.to_owned());
    let mut entry = entries.next(db).await?;
    let mut event = if compare_events { events.next(db).await? } else { None };
    loop {
        match (&entry, &event) {
            (None, None) => break,
            (Some(n), None) => {
                chain.add(&n.hash);
                if compare_events {
                    check.missing.push(key(n.timestamp, &n.event_id));
                }
                entry = entries.next(db).await?;
            }
            (None, Some(e)) => {
                check.extra.push(key(e.timestamp, &e.id));
                event = events.next(db).await?;
            }
            (Some(n), Some(e)) => {
                let (nk, ek) = ((n.timestamp, n.event_id.as_str()), (e.timestamp, e.id.as_str()));
                if nk < ek {
                    chain.add(&n.hash);
                    check.missing.push(key(n.timestamp, &n.event_id));
                    entry = entries.next(db).await?;
                } else if ek < nk {
                    check.extra.push(key(e.timestamp, &e.id));
                    event = events.next(db).await?;
                } else {
                    chain.add(&n.hash);
                    if event_hash(e) != n.hash {
                        check.changed.push(key(e.timestamp, &e.id));
                    }
                    entry = entries.next(db).await?;
                    event = events.next(db).await?;
                }
            }
        }
    }
    let (count, digest) = chain.finish();
    check.seal_altered = count != seal.event_count || digest != seal.digest || seal.algorithm != ALGORITHM;
    Ok(())
}

/// A seal's entries, read a page at a time.
struct EntryPages {
    seq: i64,
    after: Option<(OffsetDateTime, String)>,
    buffer: std::vec::IntoIter<audit_seal_entry::Model>,
}

impl EntryPages {
    async fn next<C: ConnectionTrait>(&mut self, db: &C) -> Result<Option<audit_seal_entry::Model>> {
        if let Some(entry) = self.buffer.next() {
            return Ok(Some(entry));
        }
        use audit_seal_entry::Column as N;
        let mut select = audit_seal_entry::Entity::find().filter(N::SealSeq.eq(self.seq));
        if let Some((t, id)) = &self.after {
            select = select.filter(after_key(N::Timestamp, N::EventId, *t, id));
        }
        let page = select.order_by_asc(N::Timestamp).order_by_asc(N::EventId).limit(PAGE).all(db).await?;
        if let Some(last) = page.last() {
            self.after = Some((last.timestamp, last.event_id.clone()));
        }
        self.buffer = page.into_iter();
        Ok(self.buffer.next())
    }
}

/// The events of a range, read a page at a time.
struct EventPages {
    start: OffsetDateTime,
    until: OffsetDateTime,
    after: Option<(OffsetDateTime, String)>,
    buffer: std::vec::IntoIter<audit_event::Model>,
}

impl EventPages {
    async fn next<C: ConnectionTrait>(&mut self, db: &C) -> Result<Option<audit_event::Model>> {
        if let Some(event) = self.buffer.next() {
            return Ok(Some(event));
        }
        let page = page(db, self.start, self.until, self.after.as_ref()).await?;
        if let Some(last) = page.last() {
            self.after = Some((last.timestamp, last.id.clone()));
        }
        self.buffer = page.into_iter();
        Ok(self.buffer.next())
    }
}
