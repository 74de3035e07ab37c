//! Wall-clock time as Unix epoch milliseconds, the one time unit of the API.

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, in Unix epoch milliseconds.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
