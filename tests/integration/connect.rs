//! Opening pools: the options reach the pool, a connection dropped while idle is replaced,
//! and a database that cannot be opened fails at once with its cause.

use crate::common;

use common::{Backend, Schema, TestDb, scalar};
use sark_db::{PoolOptions, connect_with};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_options_reach_the_sqlite_pool() {
    the_options_reach_the_pool(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(sark_pg_off, ignore = "SARK_TEST_PG=off: PostgreSQL switched off")]
async fn the_options_reach_the_postgres_pool() {
    the_options_reach_the_pool(Backend::Postgres).await;
}

async fn the_options_reach_the_pool(backend: Backend) {
    let t = TestDb::new(backend, Schema::Migrated).await;
    let options = PoolOptions {
        max_connections: Some(2),
        sqlite_full_sync: true,
        sqlite_busy_timeout: Duration::from_millis(1_500),
        ..PoolOptions::default()
    };
    let db = connect_with(&t.url, &options).await.unwrap();
    let max = match backend {
        Backend::Sqlite => db.pool().get_sqlite_connection_pool().options().get_max_connections(),
        Backend::Postgres | Backend::Citus | Backend::Timescale => {
            db.pool().get_postgres_connection_pool().options().get_max_connections()
        }
    };
    assert_eq!(max, 2, "{backend:?}");
    if backend == Backend::Sqlite {
        assert_eq!(scalar(&db, "PRAGMA synchronous").await, 2, "FULL");
        assert_eq!(scalar(&db, "PRAGMA busy_timeout").await, 1_500);
        let default = sark_db::connect(&t.url).await.unwrap();
        assert_eq!(scalar(&default, "PRAGMA synchronous").await, 1, "NORMAL by default");
        assert_eq!(default.pool().get_sqlite_connection_pool().options().get_max_connections(), 4);
    } else {
        let default = sark_db::connect(&t.url).await.unwrap();
        assert_eq!(default.pool().get_postgres_connection_pool().options().get_max_connections(), 10);
    }
    db.close().await.unwrap();
}

/// A pooled connection is pinged only after idling `ping_after_idle`: then one the server
/// dropped is replaced and the next statement succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(sark_pg_off, ignore = "SARK_TEST_PG=off: PostgreSQL switched off")]
async fn a_connection_dropped_while_idle_is_replaced() {
    let t = TestDb::new(Backend::Postgres, Schema::Migrated).await;
    let url = format!("{}?application_name=sark_idle", t.url);
    let options = PoolOptions {
        max_connections: Some(1),
        ping_after_idle: Duration::from_millis(50),
        ..PoolOptions::default()
    };
    let db = connect_with(&url, &options).await.unwrap();
    assert!(
        !db.pool().get_postgres_connection_pool().options().get_test_before_acquire(),
        "no ping on every use"
    );
    assert_eq!(scalar(&db, "SELECT 1::int8").await, 1);
    let kill =
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'sark_idle'";
    assert_eq!(scalar(&t.db, kill).await, 1, "the pool's one connection");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(scalar(&db, "SELECT 2::int8").await, 2, "the dropped connection was replaced");
    db.close().await.unwrap();
}

#[tokio::test]
async fn an_unreachable_server_fails_at_once_naming_the_cause() {
    fails_at_once_naming("postgres://postgres@127.0.0.1:1/postgres", "refused").await;
}

#[tokio::test]
async fn an_unopenable_sqlite_file_fails_at_once_naming_the_cause() {
    fails_at_once_naming("sqlite:///no/such/directory/sark.db?mode=rwc", "unable to open").await;
}

/// `connect(url)` fails within seconds (not the pool's 30 s timeout) and names `cause`.
async fn fails_at_once_naming(url: &str, cause: &str) {
    let started = Instant::now();
    let err = sark_db::connect(url).await.unwrap_err().to_string();
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    assert!(err.contains(cause), "{err}");
}
