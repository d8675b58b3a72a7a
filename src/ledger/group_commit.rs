//! Group commit: a [`Ledger`] handle that coalesces the concurrent charges and records of one
//! process into shared transactions, so that many costs share one commit (one WAL flush).
//!
//! Calls go to a lane chosen by their principal; each lane has one flusher task that takes
//! the calls queued since its last transaction (at most [`GroupCommit::max_calls`], waiting
//! at most [`GroupCommit::max_wait`] for more) and runs them in arrival order in one write
//! transaction, each exactly as [`costs::charge`](super::costs::charge) would alone: a refusal
//! or a conflict is that call's answer and leaves the others alone. A call that was alone in
//! the queue runs alone, without a transaction around it.
//!
//! On PostgreSQL the unkeyed calls first go to one statement that is its own transaction
//! ([`one_statement::charge_many`]): it settles every principal whose calls all fit its limits,
//! with the audit events of its governed calls, in one round trip. The calls it leaves (keyed
//! ones, a new principal, a charge that does not fit, …) then share one write transaction, as
//! above.
//!
//! Faults:
//! - a pooled connection found broken at `BEGIN` is dropped and the same group takes the next
//!   (up to eight); when no connection can be had, the group's calls get the error at once;
//! - a connection lost before the commit leaves nothing of the transaction written: the group
//!   runs again as two groups at once, each a shorter transaction on a connection of its own (a
//!   principal's calls stay in one, in order; under repeated faults, down to calls alone);
//! - a statement refused (a key whose first use is in flight elsewhere, an event in a sealed
//!   range) rolls the transaction back, and its calls run again one by one;
//! - a failed commit is settled by reading the first row the transaction wrote on another
//!   connection: there, the calls get their outcomes; absent, nothing of it was written and
//!   the group runs again; when it cannot be read, every call gets the error and none is
//!   retried (retry with an idempotency key).
//!
//! No call is answered with success before its transaction committed or its row was read.
//!
//! Audit events ([`Ledger::append`]) share the lanes; the events a flusher takes go together by
//! one statement of their own (`crate::audit::grouped`), after the costs it took. Governed calls
//! ([`Ledger::govern`]) are charges that take their event into their commit: the one statement
//! inserts the events of the charges it settles, the shared write transaction inserts its
//! events by one statement before its commit; alone, each is its own transaction
//! (`super::governed`).

use super::cost::{CostOutcome, NewCost, Valid, cost_span};
use super::costs;
use super::governed::{self, Events, Governed, GovernedCall};
use super::{locked, one_statement};
use crate::audit::grouped::{self, Append};
use crate::audit::{NewAuditEvent, event_span};
use crate::error::connection_lost;
use crate::trace::traced;
use crate::{Conn, Db, Error, Result, Server, Tx};
use entity::audit_event;
use entity::cost_record;
use sea_orm::{ColumnTrait, DbErr, EntityTrait, QueryFilter};
use std::collections::BTreeSet;
use std::future::Future;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// How a [`Ledger`] groups calls into transactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupCommit {
    /// The most calls in one transaction.
    pub max_calls: usize,
    /// How long a transaction waits for more calls after its first; zero (the default) takes
    /// the calls that queued while the lane's previous transaction committed and those of
    /// callers already running then, without waiting for any more.
    pub max_wait: Duration,
    /// Lanes: transactions in flight at once, each on its own pooled connection (default 1:
    /// one lane makes the largest groups, which measured fastest on a local server; more help
    /// when one transaction's round trips are the wall). One principal's calls always share a
    /// lane. SQLite, which has one writer, always uses one.
    pub lanes: usize,
}

impl Default for GroupCommit {
    fn default() -> Self {
        GroupCommit { max_calls: 256, max_wait: Duration::ZERO, lanes: 1 }
    }
}

/// What a lane's flusher takes: a cost, an audit event, or a governed call.
enum Queued {
    Cost(Call),
    Event(Box<Append>),
    Governed(Box<GovernedCall>, oneshot::Sender<Result<Governed>>),
}

/// A charge or record waiting for its transaction.
struct Call {
    cost: NewCost,
    enforce: bool,
    reply: Reply,
}

/// Where a call's answer goes.
enum Reply {
    /// A charge or record: its outcome.
    Cost(oneshot::Sender<Result<CostOutcome>>),
    /// A governed call: its events, the one its outcome picks committed with it.
    Governed(Box<Events>, oneshot::Sender<Result<Governed>>),
}

impl Call {
    /// The event this call appends in its charge's commit, given the charge's `outcome`.
    fn event(&self, outcome: &Result<CostOutcome>) -> Option<&audit_event::ActiveModel> {
        match &self.reply {
            Reply::Cost(_) => None,
            Reply::Governed(events, _) => events.pick(outcome),
        }
    }

    /// The event this call appends with its charge when the charge is accepted.
    fn charged_event(&self) -> Option<&audit_event::ActiveModel> {
        match &self.reply {
            Reply::Cost(_) => None,
            Reply::Governed(events, _) => Some(events.charged()),
        }
    }

    /// Answers the call with its charge's `outcome`, committed.
    fn answer(self, outcome: Result<CostOutcome>) {
        match self.reply {
            Reply::Cost(reply) => drop(reply.send(outcome)),
            Reply::Governed(events, reply) => drop(reply.send(events.answer(outcome))),
        }
    }
}

/// Charges and records through group commit. Cheap to clone; the flushers stop when the last
/// clone is dropped, after answering every call they took.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> sark_db::Result<()> {
/// # let db = sark_db::connect("sqlite::memory:").await?;
/// # sark_db::migrate(&db).await?;
/// use rust_decimal::dec;
/// use sark_db::ledger::costs::NewCost;
/// use sark_db::ledger::{GroupCommit, Ledger};
///
/// let ledger = Ledger::new(db.clone(), GroupCommit::default());
/// let outcome = ledger.charge(&NewCost::new("ann", "search-api", "query").estimated(dec!(0.5))).await?;
/// assert_eq!(outcome.daily_spent, dec!(0.5));
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Ledger {
    lanes: Arc<[mpsc::UnboundedSender<Queued>]>,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger").field("lanes", &self.lanes.len()).finish_non_exhaustive()
    }
}

impl Ledger {
    /// Starts the flushers on the current tokio runtime, on connections of `db`'s pool, reading
    /// `db`'s clock. On PostgreSQL give it a pool of its own, of [`GroupCommit::lanes`] and one
    /// more connections: a pool shared with many callers hands each group's statement to
    /// whichever idle connection comes next, and it is prepared and planned on each of them
    /// (measured in docs/benchmarks.md).
    pub fn new(db: Db, options: GroupCommit) -> Ledger {
        let lanes = if db.server() == Server::Sqlite { 1 } else { options.lanes.max(1) };
        let options = GroupCommit { max_calls: options.max_calls.max(1), ..options };
        let lanes = (0..lanes)
            .map(|_| {
                let (sender, receiver) = mpsc::unbounded_channel();
                tokio::spawn(flush(db.clone(), receiver, options));
                sender
            })
            .collect();
        Ledger { lanes }
    }

    /// [`costs::charge`](super::costs::charge) through group commit: the same outcome, refusal
    /// or error.
    pub async fn charge(&self, cost: &NewCost) -> Result<CostOutcome> {
        traced(cost_span!("ledger::charge", cost), self.submit(cost, true)).await
    }

    /// [`costs::record`](super::costs::record) through group commit: the same outcome or error.
    pub async fn record(&self, cost: &NewCost) -> Result<CostOutcome> {
        traced(cost_span!("ledger::record", cost), self.submit(cost, false)).await
    }

    /// Queues `cost` on its principal's lane and waits for its answer (bad input is judged by
    /// the flusher, once: its refusal is the call's answer and writes nothing).
    async fn submit(&self, cost: &NewCost, enforce: bool) -> Result<CostOutcome> {
        let (reply, answer) = oneshot::channel();
        self.lane(&cost.principal_id)
            .send(Queued::Cost(Call { cost: cost.clone(), enforce, reply: Reply::Cost(reply) }))
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    /// The lane `key` goes to.
    fn lane(&self, key: impl Hash) -> &mpsc::UnboundedSender<Queued> {
        let mut hasher = DefaultHasher::new();
        key.hash(&mut hasher);
        &self.lanes[(hasher.finish() % self.lanes.len() as u64) as usize]
    }

    /// [`audit::append`](crate::audit::append) through group commit: the events of concurrent
    /// callers share one commit; the same outcome, refusal or error.
    pub async fn append(&self, event: &NewAuditEvent) -> Result<audit_event::Model> {
        traced(event_span!("ledger::append", event), async {
            let (reply, answer) = oneshot::channel();
            self.lane(event.timestamp)
                .send(Queued::Event(Box::new(Append { event: event.clone(), reply })))
                .map_err(|_| stopped())?;
            answer.await.map_err(|_| stopped())?
        })
        .await
    }
}

impl Ledger {
    /// A governed call: charges `call.cost` and appends the audit event of the outcome in the
    /// same commit — `call.charged` with an accepted charge, `call.refused` with a budget
    /// refusal (then nothing is charged). Concurrent calls share commits. See
    /// [`governed`](super::governed) for retries.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> sark_db::Result<()> {
    /// # let db = sark_db::connect("sqlite::memory:").await?;
    /// # sark_db::migrate(&db).await?;
    /// use rust_decimal::dec;
    /// use sark_db::audit::NewAuditEvent;
    /// use sark_db::ledger::budgets::{self, Limits};
    /// use sark_db::ledger::costs::NewCost;
    /// use sark_db::ledger::{Governed, GovernedCall, GroupCommit, Ledger};
    ///
    /// budgets::set_limits(&db, "ann", &Limits { daily: Some(dec!(1)), monthly: None, currency: "USD".into() }).await?;
    /// let ledger = Ledger::new(db.clone(), GroupCommit::default());
    /// let call = GovernedCall {
    ///     cost: NewCost::new("ann", "search-api", "query").estimated(dec!(0.6)),
    ///     charged: NewAuditEvent { decision: Some("allow".into()), ..NewAuditEvent::new("tool_invoked") },
    ///     refused: Some(NewAuditEvent { decision: Some("deny".into()), ..NewAuditEvent::new("budget_exceeded") }),
    /// };
    /// assert!(matches!(ledger.govern(&call).await?, Governed::Charged { .. }));
    /// assert!(matches!(ledger.govern(&call).await?, Governed::Refused { event: Some(_), .. }));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn govern(&self, call: &GovernedCall) -> Result<Governed> {
        traced(cost_span!("ledger::govern", call.cost), async {
            let (reply, answer) = oneshot::channel();
            self.lane(&call.cost.principal_id)
                .send(Queued::Governed(Box::new(call.clone()), reply))
                .map_err(|_| stopped())?;
            answer.await.map_err(|_| stopped())?
        })
        .await
    }
}

/// The error of a call whose flusher is gone (its runtime shut down).
fn stopped() -> Error {
    DbErr::Custom("the ledger's flusher stopped".into()).into()
}

/// One lane's flusher: takes the queued calls, at most `max_calls`, and settles them together.
async fn flush(db: Db, mut queue: mpsc::UnboundedReceiver<Queued>, options: GroupCommit) {
    let mut calls = Vec::with_capacity(options.max_calls);
    while queue.recv_many(&mut calls, options.max_calls).await > 0 {
        // The callers already woken (say, by the previous group's answers) queue their next
        // calls before the group is cut: while a turn brings more calls, take another.
        loop {
            tokio::task::yield_now().await;
            let before = calls.len();
            while calls.len() < options.max_calls
                && let Ok(call) = queue.try_recv()
            {
                calls.push(call);
            }
            if calls.len() == before || calls.len() == options.max_calls {
                break;
            }
        }
        if !options.max_wait.is_zero() {
            let deadline = tokio::time::Instant::now() + options.max_wait;
            while calls.len() < options.max_calls {
                match tokio::time::timeout_at(deadline, queue.recv()).await {
                    Ok(Some(call)) => calls.push(call),
                    _ => break,
                }
            }
        }
        let (mut costs, mut events) = (Vec::new(), Vec::new());
        for queued in calls.drain(..) {
            match queued {
                Queued::Cost(call) => costs.push(call),
                Queued::Event(append) => events.push(*append),
                Queued::Governed(call, reply) => match Events::new(&call, db.clock()) {
                    Ok(events) => {
                        let reply = Reply::Governed(Box::new(events), reply);
                        costs.push(Call { cost: call.cost, enforce: true, reply });
                    }
                    Err(e) => drop(reply.send(Err(e))),
                },
            }
        }
        if !costs.is_empty() {
            settle(&db, costs).await;
        }
        if !events.is_empty() {
            grouped::settle(&db, events).await;
        }
    }
}

/// Settles `calls` and answers each: what it can in one statement ([`at_once`]: route 1), the
/// rest in transactions ([`in_transactions`]).
async fn settle(db: &Db, calls: Vec<Call>) {
    let calls = if calls.len() > 1 { at_once(db, calls).await } else { calls };
    in_transactions(db, calls).await;
}

/// Tries of a group whose pooled connections are found broken at `BEGIN` (after a server
/// restart, every idle connection of the pool is).
const STALE_TRIES: usize = 8;

/// Settles `calls` in one transaction and answers each. When the transaction lost its
/// connection (nothing of it is written), its principals go again as two groups at once, each a
/// shorter transaction on a connection of its own (a principal's calls stay in one group, in
/// order); the calls of one principal go again as two halves, the first first. A group of one
/// call, or one whose statement was refused, runs call by call.
fn in_transactions(db: &Db, calls: Vec<Call>) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
    Box::pin(async move {
        if calls.len() > 1 {
            // Broken pooled connections are dropped one by one: the same group takes the next.
            let mut failed = together(db, &calls).await;
            for _ in 1..STALE_TRIES {
                if !matches!(failed, Err(Failed::Stale)) {
                    break;
                }
                failed = together(db, &calls).await;
            }
            let reason = match failed {
                Ok(outcomes) => {
                    for (call, outcome) in calls.into_iter().zip(outcomes) {
                        call.answer(outcome);
                    }
                    return;
                }
                Err(Failed::Lost | Failed::Stale) => {
                    let (first, second) = split(calls);
                    if second.iter().any(|c| c.cost.principal_id == first[0].cost.principal_id) {
                        in_transactions(db, first).await;
                        in_transactions(db, second).await;
                    } else {
                        tokio::join!(in_transactions(db, first), in_transactions(db, second));
                    }
                    return;
                }
                Err(Failed::Refused) => None,
                Err(Failed::NoConnection(e)) => Some(format!("no connection for a group of charges: {e}")),
                Err(Failed::Unknown(e)) => Some(format!("the commit of a group of charges failed: {e}")),
            };
            if let Some(reason) = reason {
                for call in calls {
                    call.answer(Err(DbErr::Custom(reason.clone()).into()));
                }
                return;
            }
        }
        for call in calls {
            alone(db, call).await;
        }
    })
}

/// `calls` in two groups, each in arrival order: the calls of the first half of their
/// principals (in order of first arrival) and those of the rest; when they are all one
/// principal's, the first half of the calls and the second.
fn split(mut calls: Vec<Call>) -> (Vec<Call>, Vec<Call>) {
    let mut principals: Vec<&str> = Vec::new();
    for call in &calls {
        if !principals.contains(&call.cost.principal_id.as_str()) {
            principals.push(&call.cost.principal_id);
        }
    }
    if principals.len() == 1 {
        let second = calls.split_off(calls.len() / 2);
        return (calls, second);
    }
    let first: BTreeSet<String> = principals[..principals.len() / 2].iter().map(|&p| p.to_owned()).collect();
    calls.into_iter().partition(|c| first.contains(&c.cost.principal_id))
}

/// On PostgreSQL (not Citus): settles and answers the unkeyed calls [`one_statement::charge_many`]
/// settles in one statement (a governed call's event with its charge); the calls left, in
/// arrival order.
async fn at_once(db: &Db, calls: Vec<Call>) -> Vec<Call> {
    if db.server() != Server::Postgres {
        return calls;
    }
    let clock = db.clock();
    let mut answers: Vec<Option<Result<CostOutcome>>> = (0..calls.len()).map(|_| None).collect();
    {
        let valid: Vec<Result<Valid<'_>>> = calls.iter().map(|c| Valid::new(&c.cost, clock)).collect();
        let (at, group) = unkeyed(&calls, &valid, |c| c.cost.idempotency_key.is_some());
        // A governed call's event goes in by the same statement, with its charge.
        let events: Vec<_> = at.iter().map(|&i| calls[i].charged_event()).collect();
        let decided = one_statement::charge_many(db, &group, &events, clock.now()).await;
        at.into_iter().zip(decided).for_each(|(i, answer)| answers[i] = answer);
    }
    calls
        .into_iter()
        .zip(answers)
        .filter_map(|(call, answer)| match answer {
            Some(answer) => {
                call.answer(answer);
                None
            }
            None => Some(call),
        })
        .collect()
}

/// The valid calls of the principals without a call that is `apart` among `calls` (a keyed
/// one, say), with their indices: the calls a group decides together.
fn unkeyed<'a>(
    calls: &[Call],
    valid: &[Result<Valid<'a>>],
    apart: impl Fn(&Call) -> bool,
) -> (Vec<usize>, Vec<super::cost::Call<'a>>) {
    let keyed: BTreeSet<&str> =
        calls.iter().filter(|c| apart(c)).map(|c| c.cost.principal_id.as_str()).collect();
    valid
        .iter()
        .zip(calls)
        .enumerate()
        .filter_map(|(i, (v, call))| match v {
            Ok(v) if !keyed.contains(v.cost.principal_id.as_str()) => Some((i, (*v, call.enforce))),
            _ => None,
        })
        .unzip()
}

/// Settles and answers a call on its own: a charge or record as the free functions run it, a
/// governed call in a transaction of its own.
async fn alone(db: &Db, call: Call) {
    match call.reply {
        Reply::Cost(reply) => {
            let outcome = async {
                let valid = Valid::new(&call.cost, db.clock())?;
                costs::settle_valid(db, &valid, call.enforce, db.clock().now(), true).await
            };
            let _ = reply.send(outcome.await);
        }
        Reply::Governed(events, reply) => {
            let _ = reply.send(governed::alone(db, &call.cost, *events).await);
        }
    }
}

/// How a shared transaction failed.
enum Failed {
    /// A statement was refused: the transaction was rolled back and nothing of it is written.
    Refused,
    /// The connection was lost and the transaction did not commit: nothing of it is written.
    Lost,
    /// The pooled connection it was given was found broken at `BEGIN`: nothing is written.
    Stale,
    /// No connection could be had: nothing is written.
    NoConnection(Error),
    /// The commit failed, and whether it took effect is unknown.
    Unknown(Error),
}

impl Failed {
    /// How a transaction whose statement failed with `e` failed.
    fn at(e: &Error) -> Failed {
        match e {
            Error::Db(e) if connection_lost(e) => Failed::Lost,
            _ => Failed::Refused,
        }
    }
}

/// Runs `calls` in one write transaction; the answer of each, as if each ran alone in
/// arrival order. On PostgreSQL (not Citus) the unkeyed calls of principals without a keyed call in the
/// group are decided together ([`locked::settle_group`]); the others run one by one after them.
async fn together(db: &Db, calls: &[Call]) -> std::result::Result<Vec<Result<CostOutcome>>, Failed> {
    let (server, clock) = (db.server(), db.clock());
    let txn = db.begin_write().await.map_err(|e| match Failed::at(&e) {
        // A pooled connection found broken: the pool drops it.
        Failed::Lost if !matches!(e, Error::Db(DbErr::ConnectionAcquire(_))) => Failed::Stale,
        _ => Failed::NoConnection(e),
    })?;
    let now = clock.now();
    let valid: Vec<Result<Valid<'_>>> = calls.iter().map(|c| Valid::new(&c.cost, clock)).collect();
    let mut answers: Vec<Option<Result<CostOutcome>>> = (0..calls.len()).map(|_| None).collect();
    if server == Server::Postgres {
        let (at, group) = unkeyed(calls, &valid, |c| c.cost.idempotency_key.is_some());
        match locked::settle_group(&txn, &group, now).await {
            Ok(decided) => at.into_iter().zip(decided).for_each(|(i, answer)| answers[i] = answer),
            Err(e) => return Err(rollback(txn, Failed::at(&e)).await),
        }
    }
    let mut outcomes = Vec::with_capacity(calls.len());
    for ((call, valid), answer) in calls.iter().zip(valid).zip(answers) {
        let outcome = match (answer, valid) {
            (Some(answer), _) => answer,
            (None, Ok(valid)) => costs::settle_valid(&txn, &valid, call.enforce, now, true).await,
            (None, Err(e)) => Err(e),
        };
        if let Err(e @ Error::Db(_)) = &outcome {
            return Err(rollback(txn, Failed::at(e)).await);
        }
        outcomes.push(outcome);
    }
    let events: Vec<_> =
        calls.iter().zip(&outcomes).filter_map(|(call, outcome)| call.event(outcome)).collect();
    if !events.is_empty()
        && let Err(e) = grouped::insert_new(&txn, &events).await
    {
        return Err(rollback(txn, Failed::at(&e.into())).await);
    }
    match txn.commit().await {
        Ok(()) => Ok(outcomes),
        Err(e) => match committed(db, calls, &outcomes).await {
            Ok(true) => Ok(outcomes),
            Ok(false) => Err(Failed::Lost),
            Err(_) => Err(Failed::Unknown(e)),
        },
    }
}

/// Whether the transaction whose calls gave `outcomes` committed, after its commit failed: read
/// on another connection from the first row it wrote (a transaction writes all its rows or
/// none). When it wrote nothing, its answers are the same either way. This assumes that the lost
/// connection's server process has ended, as it has once it was killed or answered with an error.
async fn committed(db: &Db, calls: &[Call], outcomes: &[Result<CostOutcome>]) -> Result<bool> {
    for (call, outcome) in calls.iter().zip(outcomes) {
        if let Ok(outcome) = outcome
            && !outcome.replayed
        {
            let row = cost_record::Entity::find()
                .filter(cost_record::Column::Id.eq(outcome.cost_id))
                .filter(cost_record::Column::PrincipalId.eq(&call.cost.principal_id))
                .one(db)
                .await?;
            return Ok(row.is_some());
        }
        if let Some(event) = call.event(outcome) {
            return Ok(grouped::stored(db, event).await?);
        }
    }
    Ok(true)
}

/// Rolls `txn` back after a failed statement (nothing of it is written); `failed` says how.
async fn rollback(txn: Tx, failed: Failed) -> Failed {
    let _ = txn.rollback().await;
    failed
}
