//! How results reach the operator: a table (or a report's own text) by default, JSON with
//! `--json`, and a spinner on stderr while a long operation runs (only on a terminal).

use crate::commands::Failure;
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rust_decimal::Decimal;
use sark_db::entity::audit_event::Model as AuditEvent;
use sark_db::ledger::budgets::{BudgetStatus, Discrepancy};
use sark_db::ledger::summaries::Total;
use sark_db::maintenance::Report;
use serde::Serialize;
use std::fmt::Display;
use std::time::Duration;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Where and how results are printed.
pub struct Output {
    /// JSON instead of tables.
    pub json: bool,
}

/// A value shown as one row of a table.
pub trait Row: Serialize {
    /// The column names.
    fn header() -> Vec<&'static str>;
    /// The row's cells, in the order of [`Row::header`].
    fn cells(&self) -> Vec<String>;
}

impl Output {
    /// Prints `rows` as a table, or as a JSON array.
    pub fn rows<R: Row>(&self, rows: &[R]) -> Result<(), Failure> {
        if self.json {
            println!("{}", serde_json::to_string_pretty(rows)?);
        } else {
            let mut table = Table::new();
            table.load_preset(UTF8_FULL_CONDENSED).set_header(R::header());
            for row in rows {
                table.add_row(row.cells());
            }
            println!("{table}");
        }
        Ok(())
    }

    /// Prints `value` as JSON, or `text` for people.
    pub fn report<T: Serialize>(&self, value: &T, text: &impl Display) -> Result<(), Failure> {
        if self.json {
            println!("{}", serde_json::to_string_pretty(value)?);
        } else {
            println!("{text}");
        }
        Ok(())
    }

    /// Awaits `work` with a spinner saying `what` on stderr (drawn only on a terminal).
    pub async fn while_running<T, E>(
        &self,
        what: &str,
        work: impl Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        let spinner = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        spinner
            .set_style(ProgressStyle::with_template("{spinner} {msg} {elapsed}").expect("a valid template"));
        spinner.set_message(what.to_owned());
        spinner.enable_steady_tick(Duration::from_millis(120));
        let result = work.await;
        spinner.finish_and_clear();
        result
    }
}

impl Row for Total {
    fn header() -> Vec<&'static str> {
        vec!["group", "amount", "costs"]
    }
    fn cells(&self) -> Vec<String> {
        vec![self.key.clone(), money(self.amount), self.count.to_string()]
    }
}

impl Row for Discrepancy {
    fn header() -> Vec<&'static str> {
        vec!["principal", "window", "start", "budget counter", "ledger sum"]
    }
    fn cells(&self) -> Vec<String> {
        vec![
            self.principal_id.clone(),
            self.window.to_string(),
            instant(self.start),
            money(self.budget_spent),
            money(self.ledger_spent),
        ]
    }
}

impl Row for AuditEvent {
    fn header() -> Vec<&'static str> {
        vec!["timestamp", "id", "event", "severity", "org", "from", "to", "capability", "correlation"]
    }
    fn cells(&self) -> Vec<String> {
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        vec![
            instant(self.timestamp),
            self.id.clone(),
            self.event_type.clone(),
            self.severity.clone(),
            text(&self.principal_org),
            text(&self.source_node),
            text(&self.target_node),
            text(&self.capability_id),
            text(&self.correlation_id),
        ]
    }
}

/// What a maintenance run did, for people.
pub fn maintenance_text(report: &Report) -> String {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_header(["removed", "table", "from", "until", "rows"]);
    for r in &report.removed {
        table.add_row([
            r.removed.clone(),
            r.table_name.clone(),
            instant(r.range_start),
            instant(r.range_end),
            r.row_count.to_string(),
        ]);
    }
    format!(
        "created {} partitions{}\nmoved {} rows out of default partitions\n{table}",
        report.created.len(),
        if report.created.is_empty() { String::new() } else { format!(": {}", report.created.join(", ")) },
        report.moved
    )
}

/// A budget status as a table of its two windows.
pub fn status_table(status: &BudgetStatus) -> String {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_header([
        "window",
        "start",
        "limit",
        "spent",
        "remaining",
        "% used",
    ]);
    let or_unlimited = |v: Option<Decimal>| v.map_or("unlimited".to_owned(), money);
    for w in [&status.daily, &status.monthly] {
        table.add_row([
            w.window.to_string(),
            instant(w.start),
            or_unlimited(w.limit),
            money(w.spent),
            or_unlimited(w.remaining),
            w.percent_used.map_or("-".to_owned(), |p| p.to_string()),
        ]);
    }
    format!("{} ({})\n{table}", status.principal_id, status.currency)
}

/// An amount without trailing zeros (`0.75`, not `0.750000`).
fn money(amount: Decimal) -> String {
    amount.normalize().to_string()
}

/// An instant as RFC 3339.
pub fn instant(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}
