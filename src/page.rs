//! Keyset pagination: a page of rows and the cursor that continues after it.

use crate::limits::{DEFAULT_PAGE_ROWS as DEFAULT_LIMIT, MAX_PAGE_ROWS as MAX_LIMIT};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// One page of rows in key order, and the cursor of the next page (`None` on the last one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page<T, K> {
    /// The rows of this page.
    pub items: Vec<T>,
    /// Pass back as `after` to get the next page; `None` when there is none.
    pub next: Option<K>,
}

impl<T, K> Page<T, K> {
    /// A page from up to `limit + 1` rows fetched in key order: the extra row only tells that
    /// another page follows.
    pub(crate) fn from_rows(mut rows: Vec<T>, limit: u64, key: impl Fn(&T) -> K) -> Self {
        let more = rows.len() as u64 > limit;
        rows.truncate(limit as usize);
        let next = if more { rows.last().map(key) } else { None };
        Page { items: rows, next }
    }
}

/// The page size asked for, [`DEFAULT_LIMIT`] when absent; 0 or more than [`MAX_LIMIT`] is refused.
pub(crate) fn limit(requested: Option<u64>) -> Result<u64> {
    match requested.unwrap_or(DEFAULT_LIMIT) {
        n @ 1..=MAX_LIMIT => Ok(n),
        n => Err(Error::validation("limit", format!("is {n}; a page holds 1 to {MAX_LIMIT} rows"))),
    }
}
