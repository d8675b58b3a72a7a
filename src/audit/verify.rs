//! Verification: recomputes seals from the log as it is now.
//!
//! Every entry of every seal is compared with its event. An entry may be absent only when a
//! retention removal of `audit_events` recorded *after the seal was made* covers its timestamp
//! (and that removal's row count has room for it); every other entry must be present and
//! unchanged, and an event in a sealed range without an entry is extra. A removal is recorded
//! after seal `s` when its `removed_at` is later than `s` was sealed and no seal up to `s`
//! chains it. Removals are part of the chain (canonical form version 2): a chained removal that
//! was altered or deleted, and a removal that no seal chains though it claims to be older than
//! the newest seal, are named.

use super::canonical::{ALGORITHM, ALGORITHM_V1, Chain, event_hash, removal_hash};
use super::seal::{BEGINNING, GENESIS, PAGE, after_key, page};
use super::statistics;
use crate::Conn;
use crate::timestamp;
use crate::trace::{self, operation, traced};
use crate::{Error, Result};
use entity::{audit_event, audit_seal, audit_seal_entry, audit_seal_removal, retention_entry};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use time::OffsetDateTime;

/// Entries of one seal that a retention removal accounts for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accounted {
    /// The removal's `retention_log` id.
    pub removal: String,
    /// What it removed (a partition or chunk name, or `rows`).
    pub removed: String,
    /// How many of the seal's entries it accounts for.
    pub entries: i64,
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
    /// Entries absent because retention removed them after the seal was made, per removal.
    pub accounted: Vec<Accounted>,
    /// The seal row, its entries or the removals it chains were changed: its digest is not
    /// what they hash to.
    pub seal_altered: bool,
    /// Its previous digest is not the previous seal's digest, or its range does not start where
    /// the previous one ended, or a seal is missing before it.
    pub chain_broken: bool,
    /// Events whose content differs from what was sealed, as `(timestamp, id)`.
    pub changed: Vec<(String, String)>,
    /// Sealed events that are gone, and no removal made after the seal accounts for.
    pub missing: Vec<(String, String)>,
    /// Events in the range that were not sealed.
    pub extra: Vec<(String, String)>,
    /// Removals this seal chains whose `retention_log` entry differs from what was chained.
    pub removals_changed: Vec<String>,
    /// Removals this seal chains whose `retention_log` entry is gone.
    pub removals_missing: Vec<String>,
}

impl SealCheck {
    /// Whether nothing is wrong with this seal.
    pub fn is_clean(&self) -> bool {
        !self.seal_altered
            && !self.chain_broken
            && self.changed.is_empty()
            && self.missing.is_empty()
            && self.extra.is_empty()
            && self.removals_changed.is_empty()
            && self.removals_missing.is_empty()
    }
}

/// What [`verify`] found: one check per seal overlapping the range, in order, and the removal
/// records outside the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealReport {
    /// The seals' checks.
    pub seals: Vec<SealCheck>,
    /// `retention_log` entries that no seal chains though they are dated before the newest
    /// seal was made: slipped into a sealed period.
    pub removals_unchained: Vec<String>,
}

impl SealReport {
    /// Whether every seal checked is clean and no removal record lies outside the chain.
    pub fn is_clean(&self) -> bool {
        self.seals.iter().all(SealCheck::is_clean) && self.removals_unchained.is_empty()
    }
}

impl std::fmt::Display for SealReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for s in &self.seals {
            let state = if s.is_clean() { "clean" } else { "NOT CLEAN" };
            writeln!(
                f,
                "seal {} [{} .. {}): {state}",
                s.seq,
                timestamp::text(s.range_start),
                timestamp::text(s.range_end)
            )?;
            for a in &s.accounted {
                writeln!(
                    f,
                    "  removed by retention after the seal: {} entries ({}, {})",
                    a.entries, a.removed, a.removal
                )?;
            }
            if s.seal_altered {
                writeln!(f, "  the seal row, its entries or its chained removals were altered")?;
            }
            if s.chain_broken {
                writeln!(f, "  the chain is broken before this seal")?;
            }
            for (label, events) in [("changed", &s.changed), ("missing", &s.missing), ("extra", &s.extra)] {
                for (t, id) in events {
                    writeln!(f, "  {label}: {id} at {t}")?;
                }
            }
            for (label, ids) in [("changed", &s.removals_changed), ("missing", &s.removals_missing)] {
                for id in ids {
                    writeln!(f, "  removal record {label}: {id}")?;
                }
            }
        }
        for id in &self.removals_unchained {
            writeln!(f, "removal record outside the chain, dated inside a sealed period: {id}")?;
        }
        write!(f, "result: {}", if self.is_clean() { "clean" } else { "tampering found" })
    }
}

/// Recomputes every seal that overlaps `[from, to)` from the events and removals as they are
/// now, and checks each seal's digest against its entries and its link to the seal before it.
/// On PostgreSQL, audit tables never analyzed are analyzed first where this role owns them (as
/// [`seal`](super::seal) does), so that each page is read by its index.
pub async fn verify<C: Conn>(db: &C, from: OffsetDateTime, to: OffsetDateTime) -> Result<SealReport> {
    traced(operation!(DEBUG, "audit::verify"), async {
        let (from, to) = (timestamp::normalize(from), timestamp::normalize(to));
        if to < from {
            return Err(Error::validation("to", "is before from"));
        }
        statistics::analyze_if_never(db).await?;
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
        let newest = audit_seal::Entity::find().order_by_desc(S::Seq).one(db).await?;
        let mut removals = Removals::load(db).await?;
        let mut report =
            SealReport { seals: Vec::new(), removals_unchained: removals.unchained_before(newest.as_ref()) };
        for seal in seals {
            let mut check = SealCheck {
                seq: seal.seq,
                range_start: seal.range_start,
                range_end: seal.range_end,
                accounted: Vec::new(),
                seal_altered: false,
                chain_broken: !links(previous.as_ref(), &seal),
                changed: Vec::new(),
                missing: Vec::new(),
                extra: Vec::new(),
                removals_changed: Vec::new(),
                removals_missing: Vec::new(),
            };
            compare(db, &seal, &mut removals, &mut check).await?;
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

/// The retention removals as recorded now, and which seal chains each.
struct Removals {
    /// Every `retention_log` entry, by id.
    recorded: HashMap<String, retention_entry::Model>,
    /// Every chained removal, by removal id (chained once): its seal and its hash then.
    chained: HashMap<String, audit_seal_removal::Model>,
    /// Entries each removal may still account for (its row count, less what earlier seals
    /// used).
    room: HashMap<String, i64>,
}

impl Removals {
    async fn load<C: ConnectionTrait>(db: &C) -> Result<Removals> {
        let recorded: HashMap<_, _> =
            retention_entry::Entity::find().all(db).await?.into_iter().map(|r| (r.id.clone(), r)).collect();
        let chained = audit_seal_removal::Entity::find()
            .all(db)
            .await?
            .into_iter()
            .map(|c| (c.removal_id.clone(), c))
            .collect();
        let room = recorded.values().map(|r| (r.id.clone(), r.row_count)).collect();
        Ok(Removals { recorded, chained, room })
    }

    /// The seal that chains removal `id`, if any.
    fn chained_by(&self, id: &str) -> Option<i64> {
        self.chained.get(id).map(|c| c.seal_seq)
    }

    /// Removals that no seal chains though they are dated before `newest` was made.
    fn unchained_before(&self, newest: Option<&audit_seal::Model>) -> Vec<String> {
        let Some(newest) = newest else { return Vec::new() };
        let mut ids: Vec<String> = self
            .recorded
            .values()
            .filter(|r| r.removed_at < newest.sealed_at && self.chained_by(&r.id).is_none())
            .map(|r| r.id.clone())
            .collect();
        ids.sort();
        ids
    }

    /// The removal that accounts for `seal`'s absent entry stamped `t`, with room taken for
    /// it: one of `audit_events`, covering `t`, recorded after `seal` was made.
    fn account(&mut self, seal: &audit_seal::Model, t: OffsetDateTime) -> Option<&retention_entry::Model> {
        let mut candidates: Vec<&retention_entry::Model> = self
            .recorded
            .values()
            .filter(|r| {
                r.table_name == "audit_events"
                    && r.range_start <= t
                    && t < r.range_end
                    && r.removed_at > seal.sealed_at
                    && self.chained_by(&r.id).is_none_or(|by| by > seal.seq)
                    && self.room.get(&r.id).is_some_and(|room| *room > 0)
            })
            .collect();
        candidates.sort_by(|a, b| (a.removed_at, &a.id).cmp(&(b.removed_at, &b.id)));
        let removal = candidates.first()?;
        if let Some(room) = self.room.get_mut(&removal.id) {
            *room -= 1;
        }
        Some(removal)
    }

    /// The hashes `seal` chains, in id order; names the chained removals changed or gone.
    fn of_seal(&self, seal: &audit_seal::Model, check: &mut SealCheck) -> Vec<String> {
        let mut chained: Vec<&audit_seal_removal::Model> =
            self.chained.values().filter(|c| c.seal_seq == seal.seq).collect();
        chained.sort_by(|a, b| a.removal_id.cmp(&b.removal_id));
        for c in &chained {
            match self.recorded.get(&c.removal_id) {
                None => check.removals_missing.push(c.removal_id.clone()),
                Some(r) if removal_hash(r) != c.hash => check.removals_changed.push(c.removal_id.clone()),
                Some(_) => {}
            }
        }
        chained.iter().map(|c| c.hash.clone()).collect()
    }
}

/// Recomputes `seal`'s digest from its entries and chained removals, and compares its entries
/// with the events of its range, a page of each at a time, in `(timestamp, id)` order.
async fn compare<C: ConnectionTrait>(
    db: &C,
    seal: &audit_seal::Model,
    removals: &mut Removals,
    check: &mut SealCheck,
) -> Result<()> {
    let mut chain = Chain::new(&seal.algorithm, &seal.previous_digest, seal.range_start, seal.range_end);
    let mut entries = EntryPages { seq: seal.seq, after: None, buffer: Vec::new().into_iter() };
    let mut events = EventPages {
        start: seal.range_start,
        until: seal.range_end,
        after: None,
        buffer: Vec::new().into_iter(),
    };
    let key = |t: OffsetDateTime, id: &str| (timestamp::text(t), id.to_owned());
    let mut absent = |t: OffsetDateTime, id: &str, check: &mut SealCheck| match removals.account(seal, t) {
        Some(r) => match check.accounted.iter_mut().find(|a| a.removal == r.id) {
            Some(a) => a.entries += 1,
            None => check.accounted.push(Accounted {
                removal: r.id.clone(),
                removed: r.removed.clone(),
                entries: 1,
            }),
        },
        None => check.missing.push(key(t, id)),
    };
    let mut entry = entries.next(db).await?;
    let mut event = events.next(db).await?;
    loop {
        match (&entry, &event) {
            (None, None) => break,
            (Some(n), None) => {
                chain.add(&n.hash);
                absent(n.timestamp, &n.event_id, check);
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
                    absent(n.timestamp, &n.event_id, check);
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
    let chained = (seal.algorithm == ALGORITHM).then(|| removals.of_seal(seal, check));
    let (count, digest) = chain.finish(chained.as_deref());
    let known = seal.algorithm == ALGORITHM || seal.algorithm == ALGORITHM_V1;
    check.seal_altered = !known || count != seal.event_count || digest != seal.digest;
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
