//! The commands, each a thin call of the library whose result goes to [`Output`].

use crate::Verdict;
use crate::output::{Output, Row, maintenance_text, status_table};
use clap::Subcommand;
use rust_decimal::Decimal;
use sark_db::MigratorTrait;
use sark_db::audit::anchor::{self, AnchorReport};
use sark_db::audit::{self, AuditFilter, SealReport};
use sark_db::ledger::budgets::{self, Limits};
use sark_db::ledger::summaries::{self, CostFilter, GroupBy};
use sark_db::maintenance::{self, Policy};
use sark_db::{Db, Migrator};
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime};

/// Everything a command can fail with.
pub type Failure = Box<dyn std::error::Error>;

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply or roll back schema migrations.
    Migrate {
        #[command(subcommand)]
        action: Migrate,
    },
    /// Set, show and check per-principal budgets.
    Budget {
        #[command(subcommand)]
        action: Budget,
    },
    /// Sum the cost ledger.
    Cost {
        #[command(subcommand)]
        action: Cost,
    },
    /// Read the audit log.
    Audit {
        #[command(subcommand)]
        action: Audit,
    },
    /// The v1 → v2 registry copy.
    V1 {
        #[command(subcommand)]
        action: V1,
    },
    /// Partitions ahead, rows out of default partitions, retention (run as the owner).
    Maintenance {
        #[command(subcommand)]
        action: Maintenance,
    },
    /// The application role of PostgreSQL (run as the owner).
    Privileges {
        #[command(subcommand)]
        action: Privileges,
    },
    /// The governed resources and their capabilities.
    Resource {
        #[command(subcommand)]
        action: crate::resource::Resource,
    },
    /// Trusted nodes of other organisations and their trust anchors.
    Federation {
        #[command(subcommand)]
        action: crate::federation::Federation,
    },
}

/// `maintenance …`.
#[derive(Debug, Subcommand)]
pub enum Maintenance {
    /// One maintenance run; prints what it created, moved and removed.
    Run {
        /// Months of partitions kept ready after the current one.
        #[arg(long, default_value_t = 3)]
        ahead_months: u32,
        /// Keep audit events this many days (default: forever).
        #[arg(long)]
        keep_audit_days: Option<u32>,
        /// Keep costs this many days (default: forever).
        #[arg(long)]
        keep_cost_days: Option<u32>,
        /// TimescaleDB with its community license: compress chunks older than this many days.
        #[arg(long)]
        compress_after_days: Option<u32>,
    },
}

/// `privileges …`.
#[derive(Debug, Subcommand)]
pub enum Privileges {
    /// Give ROLE exactly what a SARK service needs (created without login when missing).
    Grant { role: String },
}

/// `migrate …`: what `cargo run -p sark-db-migration` does.
#[derive(Debug, Subcommand)]
pub enum Migrate {
    /// Apply pending migrations (all, or the next N).
    Up {
        #[arg(short = 'n', long)]
        steps: Option<u32>,
    },
    /// Roll back the last migration (or the last N).
    Down {
        #[arg(short = 'n', long, default_value_t = 1)]
        steps: u32,
    },
    /// List every migration and whether it is applied.
    Status,
    /// Drop every table and migrate from scratch (refused while adopted v1 tables exist).
    Fresh,
}

/// `budget …`.
#[derive(Debug, Subcommand)]
pub enum Budget {
    /// Set a principal's limits (an absent limit is unlimited).
    Set {
        principal: String,
        #[arg(long)]
        daily: Option<Decimal>,
        #[arg(long)]
        monthly: Option<Decimal>,
        #[arg(long, default_value = "USD")]
        currency: String,
    },
    /// Where a principal's day and month stand.
    Status {
        principal: String,
        /// The instant to report on (RFC 3339 or YYYY-MM-DD; default now).
        #[arg(long, value_parser = instant)]
        at: Option<OffsetDateTime>,
    },
    /// Compare budget counters with the ledger; exit 1 when any disagree.
    Reconcile {
        /// Start of the period (default: 31 days ago).
        #[arg(long, value_parser = instant)]
        from: Option<OffsetDateTime>,
        /// End of the period (default: now).
        #[arg(long, value_parser = instant)]
        to: Option<OffsetDateTime>,
    },
}

/// `cost …`.
#[derive(Debug, Subcommand)]
pub enum Cost {
    /// Totals grouped by day, principal, resource or capability.
    Summary {
        #[arg(long, value_enum, default_value = "day")]
        by: By,
        #[arg(long)]
        principal: Option<String>,
        #[arg(long)]
        resource: Option<String>,
        /// Costs stamped at or after (RFC 3339 or YYYY-MM-DD).
        #[arg(long, value_parser = instant)]
        from: Option<OffsetDateTime>,
        /// Costs stamped before (RFC 3339 or YYYY-MM-DD).
        #[arg(long, value_parser = instant)]
        to: Option<OffsetDateTime>,
    },
}

/// What `cost summary` groups by.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum By {
    Day,
    Principal,
    Resource,
    Capability,
}

/// `audit …`.
#[derive(Debug, Subcommand)]
pub enum Audit {
    /// Every event of one request, in time order.
    Trace { correlation_id: String },
    /// Events in a time range, oldest first.
    Query {
        /// From (RFC 3339 or YYYY-MM-DD).
        #[arg(long, value_parser = instant)]
        from: OffsetDateTime,
        /// Until, exclusive (default: now).
        #[arg(long, value_parser = instant)]
        to: Option<OffsetDateTime>,
        #[arg(long)]
        event_type: Option<String>,
        #[arg(long)]
        principal_org: Option<String>,
        /// At most this many events.
        #[arg(long, default_value_t = 100)]
        limit: u64,
    },
    /// Seal the log up to an instant (default: 10 minutes ago); prints the seal and its digest.
    Seal {
        /// The end of the sealed range, exclusive (RFC 3339 or YYYY-MM-DD).
        #[arg(long, value_parser = instant)]
        until: Option<OffsetDateTime>,
    },
    /// Recompute the seals of a time range; exit 1 when anything was tampered with. With
    /// `--anchors`, also check every anchored seal against the anchor file.
    Verify {
        /// From (default: the beginning).
        #[arg(long, value_parser = instant)]
        from: Option<OffsetDateTime>,
        /// Until (default: now).
        #[arg(long, value_parser = instant)]
        to: Option<OffsetDateTime>,
        /// The anchor file `audit anchor` appends to.
        #[arg(long, requires = "public_key")]
        anchors: Option<PathBuf>,
        /// The public key (SPKI PEM) the anchors were signed for.
        #[arg(long, requires = "anchors")]
        public_key: Option<PathBuf>,
    },
    /// Make an Ed25519 key pair for anchors: the private key (PKCS#8 PEM, mode 0600) and the
    /// public key (SPKI PEM). Neither file may exist yet.
    Keygen {
        /// Where the private key goes; keep it away from the database's administrators.
        #[arg(long)]
        key: PathBuf,
        /// Where the public key goes.
        #[arg(long)]
        public_key: PathBuf,
    },
    /// Append every seal not anchored yet (seq, range, count, digest), signed, to an anchor
    /// file (JSON lines) meant to live where the database's administrators cannot write.
    Anchor {
        /// The private key (PKCS#8 PEM) from `audit keygen`.
        #[arg(long)]
        key: PathBuf,
        /// The anchor file; created when missing.
        #[arg(long)]
        out: PathBuf,
    },
}

/// `v1 …`.
#[derive(Debug, Subcommand)]
pub enum V1 {
    /// Compare the v1 registry with v2; exit 1 on any difference.
    Verify,
}

/// Runs `command` against the database at `url` (`audit keygen` needs none).
pub async fn run(url: &str, command: Command, out: &Output) -> Result<Verdict, Failure> {
    if let Command::Audit { action: Audit::Keygen { key, public_key } } = &command {
        return keygen(key, public_key, out);
    }
    let db = sark_db::connect(url).await?;
    match command {
        Command::Migrate { action } => migrate(&db, action, out).await,
        Command::Budget { action } => budget(&db, action, out).await,
        Command::Cost { action: Cost::Summary { by, principal, resource, from, to } } => {
            let filter =
                CostFilter { principal_id: principal, resource_id: resource, from, to, ..Default::default() };
            let by = match by {
                By::Day => GroupBy::Day,
                By::Principal => GroupBy::Principal,
                By::Resource => GroupBy::Resource,
                By::Capability => GroupBy::Capability,
            };
            out.rows(&summaries::grouped(&db, &filter, by).await?)?;
            Ok(Verdict::Clean)
        }
        Command::Audit { action } => audit(&db, action, out).await,
        Command::Resource { action } => crate::resource::run(&db, action, out).await,
        Command::Federation { action } => crate::federation::run(&db, action, out).await,
        Command::Maintenance {
            action: Maintenance::Run { ahead_months, keep_audit_days, keep_cost_days, compress_after_days },
        } => {
            let days = |d: Option<u32>| d.map(|d| time::Duration::days(d.into()));
            let policy = Policy {
                ahead_months,
                keep_audit_events: days(keep_audit_days),
                keep_costs: days(keep_cost_days),
                compress_after: days(compress_after_days),
            };
            let report = out.while_running("maintaining", maintenance::run(&db, &policy)).await?;
            out.report(&report, &maintenance_text(&report))?;
            Ok(Verdict::Clean)
        }
        Command::Privileges { action: Privileges::Grant { role } } => {
            sark_db::privileges::grant_application(&db, &role).await?;
            out.report(
                &serde_json::json!({ "granted": role }),
                &format!("{role}: application privileges granted"),
            )?;
            Ok(Verdict::Clean)
        }
        Command::V1 { action: V1::Verify } => {
            let report = out.while_running("comparing v1 with v2", sark_db::v1::verify(&db)).await?;
            out.report(&report, &report)?;
            Ok(if report.is_clean() { Verdict::Clean } else { Verdict::Differences })
        }
    }
}

async fn migrate(db: &Db, action: Migrate, out: &Output) -> Result<Verdict, Failure> {
    match action {
        Migrate::Up { steps } => out.while_running("migrating", Migrator::up(db.pool(), steps)).await?,
        Migrate::Down { steps } => {
            out.while_running("rolling back", Migrator::down(db.pool(), Some(steps))).await?
        }
        Migrate::Fresh => out.while_running("migrating from scratch", Migrator::fresh(db.pool())).await?,
        Migrate::Status => {}
    }
    let rows: Vec<MigrationRow> = Migrator::get_migration_with_status(db.pool())
        .await?
        .iter()
        .map(|m| MigrationRow { migration: m.name().to_owned(), status: m.status().to_string() })
        .collect();
    out.rows(&rows)?;
    Ok(Verdict::Clean)
}

/// One line of `migrate status`.
#[derive(Debug, serde::Serialize)]
struct MigrationRow {
    migration: String,
    status: String,
}

impl Row for MigrationRow {
    fn header() -> Vec<&'static str> {
        vec!["migration", "status"]
    }
    fn cells(&self) -> Vec<String> {
        vec![self.migration.clone(), self.status.clone()]
    }
}

async fn budget(db: &Db, action: Budget, out: &Output) -> Result<Verdict, Failure> {
    match action {
        Budget::Set { principal, daily, monthly, currency } => {
            budgets::set_limits(db, &principal, &Limits { daily, monthly, currency }).await?;
            let status = budgets::status(db, &principal, OffsetDateTime::now_utc()).await?;
            out.report(&status, &status_table(&status))?;
            Ok(Verdict::Clean)
        }
        Budget::Status { principal, at } => {
            let status = budgets::status(db, &principal, at.unwrap_or_else(OffsetDateTime::now_utc)).await?;
            out.report(&status, &status_table(&status))?;
            Ok(Verdict::Clean)
        }
        Budget::Reconcile { from, to } => {
            let to = to.unwrap_or_else(OffsetDateTime::now_utc);
            let from = from.unwrap_or(to - time::Duration::days(31));
            let drift = out.while_running("reconciling", budgets::reconcile(db, from, to)).await?;
            out.rows(&drift)?;
            Ok(if drift.is_empty() { Verdict::Clean } else { Verdict::Differences })
        }
    }
}

async fn audit(db: &Db, action: Audit, out: &Output) -> Result<Verdict, Failure> {
    let events = match action {
        Audit::Seal { until } => {
            let until = until.unwrap_or_else(|| OffsetDateTime::now_utc() - time::Duration::minutes(10));
            let seal = out.while_running("sealing", audit::seal(db, until)).await?;
            let text = format!(
                "seal {} up to {}: {} events\ndigest {}",
                seal.seq,
                seal.range_end.format(&Rfc3339).unwrap_or_default(),
                seal.event_count,
                seal.digest
            );
            out.report(&seal, &text)?;
            return Ok(Verdict::Clean);
        }
        Audit::Verify { from, to, anchors, public_key } => {
            let from = from.unwrap_or(time::macros::datetime!(0001-01-01 00:00 UTC));
            let to = to.unwrap_or_else(OffsetDateTime::now_utc);
            let seals = out.while_running("verifying seals", audit::verify(db, from, to)).await?;
            let anchors = match (anchors, public_key) {
                (Some(anchors), Some(public_key)) => {
                    let key = anchor::verifying_key_from_pem(&read(&public_key)?)?;
                    let anchors = anchor::parse(&read(&anchors)?)?;
                    Some(anchor::check(db, &anchors, &key).await?)
                }
                _ => None,
            };
            let clean = seals.is_clean() && anchors.as_ref().is_none_or(AnchorReport::is_clean);
            let verification = Verification { seals, anchors };
            out.report(&verification, &verification)?;
            return Ok(if clean { Verdict::Clean } else { Verdict::Differences });
        }
        Audit::Anchor { key, out: file } => {
            let key = anchor::signing_key_from_pem(&read(&key)?)?;
            let existing = if file.exists() { anchor::parse(&read(&file)?)? } else { Vec::new() };
            let last = existing.iter().map(|a| a.seq).max();
            let new = anchor::new_anchors(db, &key, last).await?;
            let mut appending = std::fs::OpenOptions::new().create(true).append(true).open(&file)?;
            appending.write_all(anchor::lines(&new)?.as_bytes())?;
            appending.sync_all()?;
            let text = match (new.first(), new.last()) {
                (Some(first), Some(last)) => {
                    format!("anchored seals {} to {} in {}", first.seq, last.seq, file.display())
                }
                _ => format!("nothing to anchor: every seal is in {}", file.display()),
            };
            out.report(&new, &text)?;
            return Ok(Verdict::Clean);
        }
        Audit::Keygen { key, public_key } => return keygen(&key, &public_key, out),
        Audit::Trace { correlation_id } => audit::trace(db, &correlation_id).await?,
        Audit::Query { from, to, event_type, principal_org, limit } => {
            let mut filter = AuditFilter {
                event_type,
                principal_org,
                ..AuditFilter::between(from, to.unwrap_or_else(OffsetDateTime::now_utc))
            };
            let mut events = Vec::new();
            while (events.len() as u64) < limit {
                filter.limit = Some((limit - events.len() as u64).min(sark_db::limits::MAX_PAGE_ROWS));
                let page = audit::query(db, &filter).await?;
                events.extend(page.items);
                match page.next {
                    Some(next) => filter.after = Some(next),
                    None => break,
                }
            }
            events
        }
    };
    out.rows(&events)?;
    Ok(Verdict::Clean)
}

/// What `audit verify` found: the seals, and the anchors when a file was given.
#[derive(Debug, Serialize)]
struct Verification {
    #[serde(flatten)]
    seals: SealReport,
    anchors: Option<AnchorReport>,
}

impl std::fmt::Display for Verification {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.seals)?;
        if let Some(anchors) = &self.anchors {
            write!(f, "\n{anchors}")?;
        }
        Ok(())
    }
}

/// `audit keygen`: a new key pair in two new files, the private one readable by its owner only.
fn keygen(key: &Path, public_key: &Path, out: &Output) -> Result<Verdict, Failure> {
    let signing = anchor::generate_key()?;
    let public = anchor::public_key_pem(&signing.verifying_key())?;
    let mut private = std::fs::OpenOptions::new();
    private.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut private, 0o600);
    private.open(key).map_err(|e| named(key, e))?.write_all(anchor::private_key_pem(&signing)?.as_bytes())?;
    let mut public_file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(public_key)
        .map_err(|e| named(public_key, e))?;
    public_file.write_all(public.as_bytes())?;
    let text = format!("private key {}\npublic key {}", key.display(), public_key.display());
    out.report(&serde_json::json!({ "key": key, "public_key": public_key }), &text)?;
    Ok(Verdict::Clean)
}

/// The text of `path`, or a failure naming it.
pub(crate) fn read(path: &Path) -> Result<String, Failure> {
    std::fs::read_to_string(path).map_err(|e| named(path, e))
}

/// An I/O failure that names its file.
fn named(path: &Path, e: std::io::Error) -> Failure {
    format!("{}: {e}", path.display()).into()
}

/// Parses an instant: RFC 3339, or a date meaning its UTC midnight.
fn instant(text: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(text, &Rfc3339).or_else(|_| {
        let date =
            Date::parse(text, time::macros::format_description!("[year]-[month]-[day]")).map_err(|_| {
                format!("{text:?} is neither RFC 3339 (2026-11-28T12:00:00Z) nor a date (2026-11-28)")
            })?;
        Ok(date.midnight().assume_utc())
    })
}
