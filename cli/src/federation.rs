//! `federation …`: trusted nodes of other organisations and their trust anchors.

use crate::Verdict;
use crate::commands::{Failure, read};
use crate::output::{Output, Row, instant};
use clap::Subcommand;
use sark_db::Db;
use sark_db::entity::federation_node;
use sark_db::federation::{self, NewNode, NodeTrust};
use std::path::PathBuf;
use time::OffsetDateTime;

/// `federation …`.
#[derive(Debug, Subcommand)]
pub enum Federation {
    /// Every node: id, name, endpoint, enabled, trusted since, anchor fingerprint, not-after,
    /// days left.
    List,
    /// One node and its trust anchor.
    Show { node_id: String },
    /// Register a node, trusted by the certificate in a PEM file.
    Register {
        node_id: String,
        #[arg(long)]
        name: String,
        /// Absolute https URL (http only for loopback).
        #[arg(long)]
        endpoint: String,
        /// The node's trust anchor: one PEM X.509 certificate.
        #[arg(long)]
        cert: PathBuf,
        /// Requests per hour.
        #[arg(long, default_value_t = federation::DEFAULT_RATE_LIMIT_PER_HOUR)]
        rate_limit: i32,
        /// Register it disabled.
        #[arg(long)]
        disabled: bool,
    },
    /// Replace a node's trust anchor by the certificate in a PEM file (restarts trusted-since).
    Rotate {
        node_id: String,
        #[arg(long)]
        cert: PathBuf,
    },
    /// Trust a node again.
    Enable { node_id: String },
    /// Stop trusting a node (during an incident, say); it stays registered.
    Disable { node_id: String },
    /// Exit 1 listing the enabled nodes whose trust anchor expires within the period or has
    /// expired; exit 0 when none does. For cron and monitoring.
    Check {
        /// The period, e.g. `30d`, `12h`, `2w` (at most 65535 of the unit).
        #[arg(long, value_parser = period)]
        within: time::Duration,
    },
}

/// Runs `action`.
pub async fn run(db: &Db, action: Federation, out: &Output) -> Result<Verdict, Failure> {
    let now = OffsetDateTime::now_utc();
    match action {
        Federation::List => out.rows(&federation::trust(db, now).await?)?,
        Federation::Show { node_id } => {
            shown(out, federation::get(db, &node_id).await?, now)?;
        }
        Federation::Register { node_id, name, endpoint, cert, rate_limit, disabled } => {
            let new = NewNode {
                enabled: !disabled,
                rate_limit_per_hour: rate_limit,
                ..NewNode::new(node_id, name, endpoint, read(&cert)?)
            };
            shown(out, federation::register(db, &new).await?, now)?;
        }
        Federation::Rotate { node_id, cert } => {
            shown(out, federation::rotate_trust_anchor(db, &node_id, &read(&cert)?).await?, now)?;
        }
        Federation::Enable { node_id } => {
            shown(out, federation::set_enabled(db, &node_id, true).await?, now)?
        }
        Federation::Disable { node_id } => {
            shown(out, federation::set_enabled(db, &node_id, false).await?, now)?;
        }
        Federation::Check { within } => {
            let expiring = federation::expiring(db, within, now).await?;
            out.rows(&expiring)?;
            if !expiring.is_empty() {
                return Ok(Verdict::Differences);
            }
        }
    }
    Ok(Verdict::Clean)
}

/// Prints `node` with its trust anchor as of `now`.
fn shown(out: &Output, node: federation_node::Model, now: OffsetDateTime) -> Result<(), Failure> {
    let trust = NodeTrust::of(node, now)?;
    let (node, anchor, days_left) = (&trust.node, &trust.anchor, trust.days_left);
    let text = format!(
        "{} {} ({})\nendpoint {}\nrate limit {} per hour\ntrusted since {}\nanchor {} ({})\nvalid {} to {} ({days_left} days left)",
        node.node_id,
        node.name,
        if node.enabled { "enabled" } else { "disabled" },
        node.endpoint,
        node.rate_limit_per_hour,
        instant(node.trusted_since),
        anchor.subject,
        anchor.fingerprint_sha256,
        instant(anchor.not_before),
        instant(anchor.not_after),
    );
    out.report(&trust, &text)
}

/// Parses a period: a whole number and a unit, `d` (days), `h` (hours) or `w` (weeks).
fn period(text: &str) -> Result<time::Duration, String> {
    let refuse = || format!("{text:?} is not a period such as 30d, 12h or 2w");
    let unit = text.chars().last().ok_or_else(refuse)?;
    let count: u16 = text[..text.len() - unit.len_utf8()].parse().map_err(|_| refuse())?;
    let one = match unit {
        'd' => time::Duration::DAY,
        'h' => time::Duration::HOUR,
        'w' => time::Duration::WEEK,
        _ => return Err(refuse()),
    };
    Ok(one * u32::from(count))
}

impl Row for NodeTrust {
    fn header() -> Vec<&'static str> {
        vec![
            "node",
            "name",
            "endpoint",
            "enabled",
            "trusted since",
            "anchor sha-256",
            "not after",
            "days left",
        ]
    }
    fn cells(&self) -> Vec<String> {
        vec![
            self.node.node_id.clone(),
            self.node.name.clone(),
            self.node.endpoint.clone(),
            if self.node.enabled { "yes" } else { "no" }.to_owned(),
            instant(self.node.trusted_since),
            self.anchor.fingerprint_sha256.clone(),
            instant(self.anchor.not_after),
            self.days_left.to_string(),
        ]
    }
}
