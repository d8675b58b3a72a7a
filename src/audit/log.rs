//! `audit_events`: the append-only audit log. Events are appended and read, never changed.

use crate::Conn;
#[cfg(feature = "postgres")]
use crate::Server;
use crate::error::{refused_by_rule_trigger, write_error};
use crate::ledger::money::to_micros;
use crate::page::{self, Page};
use crate::trace::{self, operation, traced};
use crate::{Clock, Conflict, Entity, Error, Result, id, timestamp, validate};
use entity::{Protocol, audit_event, audit_seal};
use rust_decimal::Decimal;
use sea_orm::ActiveValue::Set;
use sea_orm::{
    ActiveEnum, ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};
use time::OffsetDateTime;

/// Rows per `INSERT` in [`append_many`]: 22 values a row stays below SQLite's 32 766 binds.
const CHUNK_ROWS: usize = 1_000;

/// An event to append. Build with [`NewAuditEvent::new`] and struct update syntax.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewAuditEvent {
    /// Its id; a UUIDv7 when `None`.
    pub id: Option<String>,
    /// When it happened; normalized to UTC microseconds.
    #[serde(with = "time::serde::rfc3339")]
    pub timestamp: OffsetDateTime,
    /// What happened, e.g. `tool_invoked`.
    pub event_type: String,
    /// Severity label, e.g. `low`.
    pub severity: String,
    /// Acting user.
    pub user_id: Option<String>,
    /// Acting user's e-mail.
    pub user_email: Option<String>,
    /// Resource (v1 server) involved.
    pub server_id: Option<String>,
    /// Tool name involved.
    pub tool_name: Option<String>,
    /// Policy decision, e.g. `allow`.
    pub decision: Option<String>,
    /// Policy that decided.
    pub policy_id: Option<String>,
    /// Client address.
    pub ip_address: Option<String>,
    /// Client user agent.
    pub user_agent: Option<String>,
    /// Request id.
    pub request_id: Option<String>,
    /// Free-form details, a JSON object.
    pub details: Json,
    /// Organisation of the principal.
    pub principal_org: Option<String>,
    /// Protocol of the resource involved.
    pub resource_protocol: Option<Protocol>,
    /// Capability involved.
    pub capability_id: Option<String>,
    /// Cross-organisation correlation id.
    pub correlation_id: Option<String>,
    /// Federation node the request came from.
    pub source_node: Option<String>,
    /// Federation node the request went to.
    pub target_node: Option<String>,
    /// Estimated cost (at most 6 decimals, not negative).
    pub estimated_cost: Option<Decimal>,
    /// Actual cost (at most 6 decimals, not negative).
    pub actual_cost: Option<Decimal>,
}

impl NewAuditEvent {
    /// An event of `event_type` with severity `low`, stamped now, nothing else set.
    pub fn new(event_type: impl Into<String>) -> Self {
        NewAuditEvent {
            id: None,
            timestamp: timestamp::now(),
            event_type: event_type.into(),
            severity: "low".into(),
            user_id: None,
            user_email: None,
            server_id: None,
            tool_name: None,
            decision: None,
            policy_id: None,
            ip_address: None,
            user_agent: None,
            request_id: None,
            details: json!({}),
            principal_org: None,
            resource_protocol: None,
            capability_id: None,
            correlation_id: None,
            source_node: None,
            target_node: None,
            estimated_cost: None,
            actual_cost: None,
        }
    }

    /// Validates the event (its timestamp against `clock`) and builds its row.
    pub(crate) fn row(&self, clock: &Clock) -> Result<audit_event::ActiveModel> {
        validate::name("event_type", &self.event_type)?;
        validate::name("severity", &self.severity)?;
        for (field, value) in [
            ("id", &self.id),
            ("user_id", &self.user_id),
            ("user_email", &self.user_email),
            ("server_id", &self.server_id),
            ("tool_name", &self.tool_name),
            ("decision", &self.decision),
            ("policy_id", &self.policy_id),
            ("ip_address", &self.ip_address),
            ("user_agent", &self.user_agent),
            ("request_id", &self.request_id),
            ("principal_org", &self.principal_org),
            ("capability_id", &self.capability_id),
            ("correlation_id", &self.correlation_id),
            ("source_node", &self.source_node),
            ("target_node", &self.target_node),
        ] {
            validate::label(field, value.as_deref())?;
        }
        validate::json_object("details", &self.details)?;
        let micros = |field, amount: Option<Decimal>| amount.map(|a| to_micros(field, a)).transpose();
        let at = timestamp::normalize(self.timestamp);
        clock.check(at)?;
        Ok(audit_event::ActiveModel {
            id: Set(id::or_new(self.id.as_deref())),
            timestamp: Set(at),
            event_type: Set(self.event_type.clone()),
            severity: Set(self.severity.clone()),
            user_id: Set(self.user_id.clone()),
            user_email: Set(self.user_email.clone()),
            server_id: Set(self.server_id.clone()),
            tool_name: Set(self.tool_name.clone()),
            decision: Set(self.decision.clone()),
            policy_id: Set(self.policy_id.clone()),
            ip_address: Set(self.ip_address.clone()),
            user_agent: Set(self.user_agent.clone()),
            request_id: Set(self.request_id.clone()),
            details: Set(self.details.clone()),
            principal_org: Set(self.principal_org.clone()),
            resource_protocol: Set(self.resource_protocol),
            capability_id: Set(self.capability_id.clone()),
            correlation_id: Set(self.correlation_id.clone()),
            source_node: Set(self.source_node.clone()),
            target_node: Set(self.target_node.clone()),
            estimated_cost_micros: Set(micros("estimated_cost", self.estimated_cost)?),
            actual_cost_micros: Set(micros("actual_cost", self.actual_cost)?),
        })
    }
}

/// Where a page of [`query`] ends: the `(timestamp, id)` of its last event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditCursor {
    /// Timestamp of the last event returned.
    #[serde(with = "time::serde::rfc3339")]
    pub timestamp: OffsetDateTime,
    /// Id of the last event returned.
    pub id: String,
}

/// A time range `[from, to)` of the log, optionally narrowed; see [`query`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditFilter {
    /// Start of the range, inclusive.
    #[serde(with = "time::serde::rfc3339")]
    pub from: OffsetDateTime,
    /// End of the range, exclusive.
    #[serde(with = "time::serde::rfc3339")]
    pub to: OffsetDateTime,
    /// Only this event type.
    pub event_type: Option<String>,
    /// Only this principal organisation.
    pub principal_org: Option<String>,
    /// Only requests from this node.
    pub source_node: Option<String>,
    /// Only requests to this node.
    pub target_node: Option<String>,
    /// Only this capability.
    pub capability_id: Option<String>,
    /// Only this resource protocol.
    pub resource_protocol: Option<Protocol>,
    /// Continue after this event (the `next` of the previous page).
    pub after: Option<AuditCursor>,
    /// Page size, 1 to 1,000; 100 when `None`.
    pub limit: Option<u64>,
}

impl AuditFilter {
    /// Every event in `[from, to)`, first page.
    pub fn between(from: OffsetDateTime, to: OffsetDateTime) -> Self {
        AuditFilter {
            from,
            to,
            event_type: None,
            principal_org: None,
            source_node: None,
            target_node: None,
            capability_id: None,
            resource_protocol: None,
            after: None,
            limit: None,
        }
    }
}

/// The span of one append: the event's type and correlation id.
macro_rules! event_span {
    ($name:literal, $event:expr) => {
        $crate::trace::operation!(
            INFO,
            $name,
            event_type = %$event.event_type,
            correlation_id = $event.correlation_id.as_deref()
        )
    };
}
pub(crate) use event_span;

/// Appends one event and returns it as stored. An `(id, timestamp)` that exists already is
/// a [`Error::Conflict`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> sark_db::Result<()> {
/// # let db = sark_db::connect("sqlite::memory:").await?;
/// # sark_db::migrate(&db).await?;
/// use sark_db::audit::{self, NewAuditEvent};
///
/// let event = NewAuditEvent { correlation_id: Some("req-1".into()), ..NewAuditEvent::new("tool_invoked") };
/// let stored = audit::append(&db, &event).await?;
/// assert_eq!(audit::trace(&db, "req-1").await?, [stored]);
/// # Ok(())
/// # }
/// ```
pub async fn append<C: Conn>(db: &C, event: &NewAuditEvent) -> Result<audit_event::Model> {
    traced(event_span!("audit::append", event), async {
        let row = event.row(db.clock())?;
        let id = row.id.as_ref().clone();
        row.insert(db).await.map_err(|e| append_error(e, &id))
    })
    .await
}

/// Appends `events` in one transaction — on a PostgreSQL pool by one `COPY`, else in chunks
/// below the bind limit; returns how many. One invalid event refuses the whole batch before
/// anything is written; a refused row (a taken id and timestamp, a sealed range) writes none.
pub async fn append_many<C: Conn>(db: &C, events: &[NewAuditEvent]) -> Result<u64> {
    traced(operation!(INFO, "audit::append_many", events = events.len()), async {
        let rows = events.iter().map(|e| e.row(db.clock())).collect::<Result<Vec<_>>>()?;
        let mut keys = std::collections::HashSet::new();
        if let Some(twice) = rows.iter().find(|r| !keys.insert((r.id.as_ref(), r.timestamp.as_ref()))) {
            return Err(Error::exists(Entity::AuditEvent, twice.id.as_ref()));
        }
        // On the PostgreSQL pool: one `COPY`, its own transaction.
        #[cfg(feature = "postgres")]
        if let Some(pool) = db.as_pool().filter(|_| db.server() == Server::Postgres) {
            let appended = super::copy::append(pool.get_postgres_connection_pool(), &rows).await;
            let appended = match appended {
                Ok(n) => n,
                Err(e) => return Err(batch_error(db, e, &rows).await),
            };
            trace::rows(appended);
            return Ok(appended);
        }
        let txn = db.begin_write().await?;
        let tx = &txn;
        let mut appended = 0;
        for chunk in rows.chunks(CHUNK_ROWS) {
            match audit_event::Entity::insert_many(chunk.to_vec()).exec_without_returning(tx).await {
                Ok(n) => appended += n,
                Err(e) => {
                    drop(txn);
                    return Err(batch_error(db, e, chunk).await);
                }
            }
        }
        txn.commit().await?;
        trace::rows(appended);
        Ok(appended)
    })
    .await
}

/// Translates the error of an append: the sealed-range trigger's refusal (the one rule trigger
/// an event that passed validation can meet) is [`Conflict::Sealed`], the rest as for any write.
pub(crate) fn append_error(e: DbErr, id: &str) -> Error {
    if refused_by_rule_trigger(&e) {
        Conflict::Sealed { id: id.to_owned() }.into()
    } else {
        write_error(e, Entity::AuditEvent, id, None)
    }
}

/// Translates the error of a chunk of a batch, naming the event it is about: the first one
/// stamped inside a sealed range, or the first whose id and timestamp are taken. Read after the
/// batch's transaction ended, on `db`.
async fn batch_error<C: ConnectionTrait>(db: &C, e: DbErr, chunk: &[audit_event::ActiveModel]) -> Error {
    let culprit = async {
        if refused_by_rule_trigger(&e) {
            let sealed_until = audit_seal::Entity::find()
                .order_by_desc(audit_seal::Column::Seq)
                .one(db)
                .await?
                .map(|s| s.range_end);
            let sealed = chunk.iter().find(|r| sealed_until.is_some_and(|end| *r.timestamp.as_ref() < end));
            return Ok::<_, DbErr>(sealed.map(|r| r.id.as_ref().clone()));
        }
        for row in chunk {
            let found = audit_event::Entity::find()
                .filter(audit_event::Column::Id.eq(row.id.as_ref().as_str()))
                .filter(audit_event::Column::Timestamp.eq(*row.timestamp.as_ref()))
                .one(db)
                .await?;
            if found.is_some() {
                return Ok(Some(row.id.as_ref().clone()));
            }
        }
        Ok(None)
    };
    match culprit.await {
        Ok(Some(id)) => append_error(e, &id),
        Ok(None) | Err(_) => e.into(),
    }
}

/// The event with `id` (the earliest, should a caller have reused an id at another time).
pub async fn get<C: Conn>(db: &C, id: &str) -> Result<audit_event::Model> {
    traced(operation!(DEBUG, "audit::get", id), async {
        validate::key("id", id)?;
        audit_event::Entity::find()
            .filter(audit_event::Column::Id.eq(id))
            .order_by_asc(audit_event::Column::Timestamp)
            .one(db)
            .await?
            .ok_or_else(|| Error::not_found(Entity::AuditEvent, id))
    })
    .await
}

/// Every event with `correlation_id`, in time order: one request across organisations.
pub async fn trace<C: Conn>(db: &C, correlation_id: &str) -> Result<Vec<audit_event::Model>> {
    traced(operation!(DEBUG, "audit::trace", correlation_id), async {
        validate::key("correlation_id", correlation_id)?;
        Ok(audit_event::Entity::find()
            .filter(audit_event::Column::CorrelationId.eq(correlation_id))
            .order_by_asc(audit_event::Column::Timestamp)
            .order_by_asc(audit_event::Column::Id)
            .all(db)
            .await?)
    })
    .await
}

/// One page of the events `q` selects, ordered by `(timestamp, id)`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> sark_db::Result<()> {
/// # let db = sark_db::connect("sqlite::memory:").await?;
/// # sark_db::migrate(&db).await?;
/// use sark_db::audit::{self, AuditFilter, NewAuditEvent};
/// use time::{Duration, OffsetDateTime};
///
/// audit::append(&db, &NewAuditEvent::new("policy_denied")).await?;
/// let now = OffsetDateTime::now_utc();
/// let mut filter = AuditFilter { event_type: Some("policy_denied".into()), ..AuditFilter::between(now - Duration::hours(1), now + Duration::seconds(1)) };
/// let mut seen = 0;
/// loop {
///     let page = audit::query(&db, &filter).await?;
///     seen += page.items.len();
///     match page.next {
///         Some(after) => filter.after = Some(after),
///         None => break,
///     }
/// }
/// assert_eq!(seen, 1);
/// # Ok(())
/// # }
/// ```
pub async fn query<C: Conn>(db: &C, q: &AuditFilter) -> Result<Page<audit_event::Model, AuditCursor>> {
    traced(operation!(DEBUG, "audit::query"), async {
        let limit = page::limit(q.limit)?;
        let (from, to) = (timestamp::normalize(q.from), timestamp::normalize(q.to));
        if to < from {
            return Err(Error::validation("to", "is before from"));
        }
        use audit_event::Column as A;
        let mut select =
            audit_event::Entity::find().filter(A::Timestamp.gte(from)).filter(A::Timestamp.lt(to));
        for (field, column, value) in [
            ("event_type", A::EventType, &q.event_type),
            ("principal_org", A::PrincipalOrg, &q.principal_org),
            ("source_node", A::SourceNode, &q.source_node),
            ("target_node", A::TargetNode, &q.target_node),
            ("capability_id", A::CapabilityId, &q.capability_id),
        ] {
            if let Some(value) = value {
                validate::key(field, value)?;
                select = select.filter(column.eq(value.as_str()));
            }
        }
        if let Some(protocol) = q.resource_protocol {
            select = select.filter(A::ResourceProtocol.eq(protocol.to_value()));
        }
        if let Some(after) = &q.after {
            validate::key("after", &after.id)?;
            let at = timestamp::normalize(after.timestamp);
            select = select.filter(super::seal::after_key(A::Timestamp, A::Id, at, &after.id));
        }
        let rows = select.order_by_asc(A::Timestamp).order_by_asc(A::Id).limit(limit + 1).all(db).await?;
        let page = Page::from_rows(rows, limit, |e| AuditCursor { timestamp: e.timestamp, id: e.id.clone() });
        trace::rows(page.items.len());
        Ok(page)
    })
    .await
}
