//! `sark-db`: the operator CLI of the SARK data layer.
//!
//! Exit codes: 0 done (a check found nothing wrong); 1 a check found differences (`v1 verify`,
//! `budget reconcile`, `audit verify`, `federation check`); 2 bad usage (clap's own); 3 the operation failed (unreachable database,
//! invalid input, not found, a database error), with the reason on stderr.

mod commands;
mod federation;
mod output;
mod resource;

use clap::Parser;
use std::process::ExitCode;

/// The database used when neither `--database-url` nor `DATABASE_URL` names one.
const DEFAULT_DATABASE_URL: &str = "sqlite://sark.db?mode=rwc";

/// Operate a SARK database: migrations, budgets, costs, the audit log, the registry, federation
/// nodes, the v1 copy.
#[derive(Debug, Parser)]
#[command(name = "sark-db", version)]
struct Cli {
    /// The database (`sqlite://…` or `postgres://…`).
    #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL, global = true)]
    database_url: String,
    /// Print JSON for scripts instead of tables.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: commands::Command,
}

/// What a command found: whether its check passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// Done; nothing wrong found.
    Clean,
    /// A check found differences (printed).
    Differences,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let out = output::Output { json: cli.json };
    match commands::run(&cli.database_url, cli.command, &out).await {
        Ok(Verdict::Clean) => ExitCode::SUCCESS,
        Ok(Verdict::Differences) => ExitCode::from(1),
        Err(e) => {
            eprintln!("sark-db: {e}");
            ExitCode::from(3)
        }
    }
}
