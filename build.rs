//! Marks a test build with `SARK_TEST_PG=off`, so that the PostgreSQL tests are compiled as
//! ignored (shown as such by `cargo test`) instead of passing without running.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(sark_pg_off)");
    println!("cargo::rerun-if-env-changed=SARK_TEST_PG");
    if std::env::var("SARK_TEST_PG").is_ok_and(|v| v == "off") {
        println!("cargo::rustc-cfg=sark_pg_off");
    }
}
