//! `cargo run -p sark-db-migration -- <up|down|status|fresh|refresh|…>`: the sea-orm migration CLI.
//! Without `DATABASE_URL` (or `-u`) it migrates the embedded SQLite default `./sark.db`.

use sea_orm_migration::prelude::*;

/// Where the schema goes when no database is named.
const DEFAULT_DATABASE_URL: &str = "sqlite://sark.db?mode=rwc";

fn main() {
    if std::env::var_os("DATABASE_URL").is_none() {
        // SAFETY: no other thread exists yet; the runtime starts below.
        unsafe { std::env::set_var("DATABASE_URL", DEFAULT_DATABASE_URL) };
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("cannot start the tokio runtime")
        .block_on(cli::run_cli(sark_db_migration::Migrator));
}
