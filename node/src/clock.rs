//! The node's wall clock, in Unix milliseconds: block times, case deadlines (overdue)
//! and proof ages come from here, never from inside the ledger or consensus.

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, Unix ms (0 if the clock is before 1970, which no real machine reports).
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
