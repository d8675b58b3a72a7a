//! Marks a test build with `SARK_TEST_PG=off`, so that the PostgreSQL tests are compiled as
//! ignored (shown as such by `cargo test`) instead of passing without running; and a build
//! without `SARK_TEST_CITUS` (a Citus coordinator's URL), so that the Citus tests are compiled
//! as ignored too; likewise without `SARK_TEST_TIMESCALE` (a TimescaleDB server's URL).

fn main() {
    println!("cargo::rustc-check-cfg=cfg(sark_pg_off)");
    println!("cargo::rustc-check-cfg=cfg(sark_citus_off)");
    println!("cargo::rerun-if-env-changed=SARK_TEST_PG");
    println!("cargo::rustc-check-cfg=cfg(sark_timescale_off)");
    println!("cargo::rerun-if-env-changed=SARK_TEST_CITUS");
    println!("cargo::rerun-if-env-changed=SARK_TEST_TIMESCALE");
    if std::env::var("SARK_TEST_PG").is_ok_and(|v| v == "off") {
        println!("cargo::rustc-cfg=sark_pg_off");
    }
    for (variable, cfg) in
        [("SARK_TEST_CITUS", "sark_citus_off"), ("SARK_TEST_TIMESCALE", "sark_timescale_off")]
    {
        if !std::env::var(variable).is_ok_and(|v| v != "off") {
            println!("cargo::rustc-cfg={cfg}");
        }
    }
}
