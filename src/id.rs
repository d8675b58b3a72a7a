//! Row ids: caller-supplied strings, or UUIDv7 (which sort by creation time) when absent.

/// The caller's id, or a fresh UUIDv7.
pub(crate) fn or_new(id: Option<&str>) -> String {
    id.map_or_else(|| uuid::Uuid::now_v7().to_string(), str::to_owned)
}
