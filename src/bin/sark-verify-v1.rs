//! `cargo run --bin sark-verify-v1`: compares the v1 registry with v2 in the database at
//! `DATABASE_URL` (default: the embedded `./sark.db`), prints a report, and exits 0 when they
//! agree, 1 on any difference, 2 when the check could not run.

use std::process::ExitCode;

/// The database checked when `DATABASE_URL` is not set.
const DEFAULT_DATABASE_URL: &str = "sqlite://sark.db";

#[tokio::main]
async fn main() -> ExitCode {
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| DEFAULT_DATABASE_URL.to_owned());
    let report = async {
        let db = sark_db::connect(&url).await?;
        sark_db::v1::verify(&db).await
    };
    match report.await {
        Ok(report) => {
            println!("{report}");
            if report.is_clean() { ExitCode::SUCCESS } else { ExitCode::from(1) }
        }
        Err(e) => {
            eprintln!("sark-verify-v1: {e}");
            ExitCode::from(2)
        }
    }
}
