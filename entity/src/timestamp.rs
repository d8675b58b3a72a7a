//! Timestamps as the schema stores them: UTC, microseconds; and the `updated_at` an update sets.

use sea_orm::ActiveValue::{self, Set};
use time::{OffsetDateTime, UtcOffset};

/// `t` in UTC with its nanoseconds truncated to microseconds, so that values round-trip
/// unchanged through both backends.
pub fn normalize(t: OffsetDateTime) -> OffsetDateTime {
    let t = t.to_offset(UtcOffset::UTC);
    t.replace_nanosecond(t.nanosecond() / 1_000 * 1_000).unwrap_or(t)
}

/// The current time, normalized.
pub fn now() -> OffsetDateTime {
    normalize(OffsetDateTime::now_utc())
}

/// On an update that does not set `updated_at` itself, sets it to [`now`] (the
/// `before_save` of every entity with that column).
pub(crate) fn touch(updated_at: &mut ActiveValue<OffsetDateTime>, insert: bool) {
    if !insert && !updated_at.is_set() {
        *updated_at = Set(now());
    }
}

/// `impl ActiveModelBehavior` for an entity with `updated_at`: an update bumps it.
macro_rules! touches_updated_at {
    () => {
        #[async_trait::async_trait]
        impl ActiveModelBehavior for ActiveModel {
            async fn before_save<C: ConnectionTrait>(mut self, _db: &C, insert: bool) -> Result<Self, DbErr> {
                crate::timestamp::touch(&mut self.updated_at, insert);
                Ok(self)
            }
        }
    };
}
pub(crate) use touches_updated_at;
