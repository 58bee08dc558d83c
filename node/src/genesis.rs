//! Genesis checks at start-up.
//!
//! The ledger's genesis validation (`ledger::execute::validate_genesis`) is the
//! authority; this module turns its typed error into the message `init` and `start` print.

use tongban_ledger::types::Genesis;

/// Checks a genesis; the message names the bad field.
pub fn validate(genesis: &Genesis) -> Result<(), String> {
    tongban_ledger::execute::validate_genesis(genesis).map_err(|e| e.to_string())
}
