//! A migration imports no other migration, so that each is read, and frozen, on its own. Three
//! landed migrations import from older ones; they stay as they landed (a landed migration is
//! never edited), and no other migration may join them.

/// `(migration, the migration it imports from)`, as they landed.
const LANDED: [(&str, &str); 3] = [
    ("m20261128_000012_widen_adopted_audit_key", "m20261128_000007_enable_timescaledb"),
    ("m20261128_000015_canonical_sqlite_timestamps", "m20261128_000003_extend_audit_events"),
    ("m20261129_000019_distribute_on_citus", "m20261128_000016_partition_time_series"),
];

/// Whether `name` is a migration's module: `mYYYYMMDD_NNNNNN_…`.
fn is_migration(name: &str) -> bool {
    let bytes = name.as_bytes();
    bytes.len() > 17
        && bytes[0] == b'm'
        && bytes[1..9].iter().all(u8::is_ascii_digit)
        && bytes[9] == b'_'
        && bytes[10..16].iter().all(u8::is_ascii_digit)
}

#[test]
fn no_migration_imports_another_but_the_three_that_landed_so() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let stem = path.file_stem().unwrap().to_str().unwrap().to_owned();
        if !is_migration(&stem) {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        // Any path to another migration's module, whichever way it is written.
        for word in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
            if is_migration(word) && word != stem {
                found.push((stem.clone(), word.to_owned()));
            }
        }
    }
    found.sort();
    found.dedup();
    let landed: Vec<(String, String)> =
        LANDED.iter().map(|(a, b)| ((*a).to_owned(), (*b).to_owned())).collect();
    assert_eq!(found, landed, "a migration names another migration's module");
}
