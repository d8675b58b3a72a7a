//! Governed calls ([`Ledger::govern`](super::Ledger::govern)): a charge and the audit event of
//! its outcome in one commit — both are written or neither.
//!
//! A charge that is accepted appends the call's `charged` event with it; a charge refused for
//! budget appends the `refused` event instead (nothing is charged). Any other answer — bad
//! input, a conflict, a lost connection — writes neither.
//!
//! Retries: a keyed call that is replayed (its key's first call was charged) appends nothing,
//! since the first call's event committed with its charge. An event is never appended twice:
//! one whose id and timestamp are stored already is skipped. So that a retried refusal finds the
//! event its first try stored, a keyed call's events that have no id get one derived from the
//! principal, the key and the outcome; a retry that sends the same call (the same event
//! timestamps) appends its refusal once.

use super::cost::{CostOutcome, NewCost, Valid};
use super::costs;
use crate::audit::NewAuditEvent;
use crate::audit::grouped;
use crate::audit::log::append_error;
use crate::{Clock, Conn, Db, Error, Result};
use entity::audit_event;
use sea_orm::TryIntoModel;
use sha2::{Digest, Sha256};

/// A call the gateway governs: the cost to charge and the audit event of each outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct GovernedCall {
    /// The cost to charge.
    pub cost: NewCost,
    /// Appended in the charge's commit when the charge is accepted.
    pub charged: NewAuditEvent,
    /// Appended instead when the charge is refused for budget; when `None`, a refusal appends
    /// nothing.
    pub refused: Option<NewAuditEvent>,
}

/// What a governed call did; its charge and its event committed together.
#[derive(Debug)]
pub enum Governed {
    /// The charge was accepted. `event` is the `charged` event as stored, or `None` when the
    /// outcome is a replay (the key's first call appended its event).
    Charged {
        /// The charge's outcome.
        outcome: CostOutcome,
        /// The event appended with it.
        event: Option<audit_event::Model>,
    },
    /// The charge was refused for budget and nothing was charged.
    Refused {
        /// The refusal, an [`Error::BudgetExceeded`].
        refusal: Error,
        /// The `refused` event as stored, when the call had one.
        event: Option<audit_event::Model>,
    },
}

/// A governed call's events, validated, their ids fixed.
pub(super) struct Events {
    charged: audit_event::ActiveModel,
    refused: Option<audit_event::ActiveModel>,
}

impl Events {
    /// Validates `call`'s events against `clock`; bad input is the call's answer and writes
    /// nothing.
    pub(super) fn new(call: &GovernedCall, clock: &Clock) -> Result<Events> {
        let row = |event: &NewAuditEvent, outcome: &str| {
            let mut event = event.clone();
            if let (None, Some(key)) = (&event.id, &call.cost.idempotency_key) {
                event.id = Some(derived_id(&call.cost.principal_id, key, outcome));
            }
            event.row(clock)
        };
        Ok(Events {
            charged: row(&call.charged, "charged")?,
            refused: call.refused.as_ref().map(|e| row(e, "refused")).transpose()?,
        })
    }

    /// The event an accepted charge appends.
    pub(super) fn charged(&self) -> &audit_event::ActiveModel {
        &self.charged
    }

    /// The event a charge's `outcome` appends: `charged` for a new charge, `refused` for a
    /// budget refusal, none otherwise.
    pub(super) fn pick(&self, outcome: &Result<CostOutcome>) -> Option<&audit_event::ActiveModel> {
        match outcome {
            Ok(outcome) if !outcome.replayed => Some(&self.charged),
            Err(Error::BudgetExceeded { .. }) => self.refused.as_ref(),
            _ => None,
        }
    }

    /// The answer of a call whose charge's `outcome` committed with the event [`Events::pick`]
    /// gave.
    pub(super) fn answer(self, outcome: Result<CostOutcome>) -> Result<Governed> {
        let stored =
            |row: Option<&audit_event::ActiveModel>| row.map(|r| r.clone().try_into_model()).transpose();
        let event = stored(self.pick(&outcome))?;
        match outcome {
            Ok(outcome) => Ok(Governed::Charged { outcome, event }),
            Err(refusal @ Error::BudgetExceeded { .. }) => Ok(Governed::Refused { refusal, event }),
            Err(e) => Err(e),
        }
    }
}

/// The id of a keyed call's event that has none: the same for every try of the call.
fn derived_id(principal_id: &str, key: &str, outcome: &str) -> String {
    let digest = Sha256::new()
        .chain_update(b"sark-db governed event\0")
        .chain_update(principal_id)
        .chain_update(b"\0")
        .chain_update(key)
        .chain_update(b"\0")
        .chain_update(outcome)
        .finalize();
    let bytes: [u8; 16] = digest[..16].try_into().expect("a SHA-256 digest has 32 bytes");
    uuid::Uuid::new_v8(bytes).to_string()
}

/// A governed call on its own: its charge and its event in one write transaction.
pub(super) async fn alone(db: &Db, cost: &NewCost, events: Events) -> Result<Governed> {
    let valid = Valid::new(cost, db.clock())?;
    let txn = db.begin_write().await?;
    let outcome = costs::settle_valid(&txn, &valid, true, db.clock().now(), false).await;
    let Some(event) = events.pick(&outcome) else {
        // Nothing to append: a charge commits alone; anything else wrote nothing.
        if outcome.is_ok() {
            txn.commit().await?;
        }
        return events.answer(outcome);
    };
    if let Err(e) = grouped::insert_new(&txn, &[event]).await {
        return Err(append_error(e, event.id.as_ref()));
    }
    txn.commit().await?;
    events.answer(outcome)
}
