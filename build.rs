//! Marks a test build with `SARK_TEST_PG=off`, so that the PostgreSQL tests are compiled as
//! ignored (shown as such by `cargo test`) instead of passing without running; and a build
//! without `SARK_TEST_CITUS` (a Citus coordinator's URL), so that the Citus tests are compiled
//! as ignored too.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(sark_pg_off)");
    println!("cargo::rustc-check-cfg=cfg(sark_citus_off)");
    println!("cargo::rerun-if-env-changed=SARK_TEST_PG");
    println!("cargo::rerun-if-env-changed=SARK_TEST_CITUS");
    if std::env::var("SARK_TEST_PG").is_ok_and(|v| v == "off") {
        println!("cargo::rustc-cfg=sark_pg_off");
    }
    if std::env::var("SARK_TEST_CITUS").is_ok_and(|v| v != "off") {
        return;
    }
    println!("cargo::rustc-cfg=sark_citus_off");
}
