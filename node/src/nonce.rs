//! The persisted nonce counter of records the node signs with its own key.
//!
//! Nonces must strictly increase per author (DESIGN §4). The counter hands nonces out
//! from memory and persists a high-water mark [`RESERVE`] ahead, with fsync, before
//! using any nonce beyond the last persisted mark. After a crash the counter restarts
//! from the mark: nonces in between are skipped (gaps are allowed) and none is ever
//! reused. At start it also jumps above the key's last committed nonce on the ledger, in
//! case the key signed elsewhere (e.g. with the CLI) or the data directory was restored.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Nonces reserved per fsync.
pub const RESERVE: u64 = 1_000;

/// Why a nonce could not be handed out.
#[derive(Debug, thiserror::Error)]
pub enum NonceError {
    /// The counter file could not be read or written: the node must not sign.
    #[error("nonce counter {path}: {message}")]
    Io {
        /// The file.
        path: String,
        /// What failed.
        message: String,
    },
    /// The counter reached `u64::MAX`.
    #[error("nonce counter exhausted")]
    Exhausted,
}

/// The counter.
#[derive(Debug)]
pub struct NonceCounter {
    path: PathBuf,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// Last nonce handed out.
    last: u64,
    /// Highest nonce that may be handed out without persisting a new mark.
    persisted_mark: u64,
}

impl NonceCounter {
    /// Opens the counter at `path`; every nonce handed out is above `floor` (the key's
    /// last committed nonce).
    pub fn open(path: &Path, floor: u64) -> Result<NonceCounter, NonceError> {
        let io = |message: String| NonceError::Io {
            path: path.display().to_string(),
            message,
        };
        let mark = match fs::read_to_string(path) {
            Ok(text) => text
                .trim()
                .parse::<u64>()
                .map_err(|e| io(format!("not a number: {e}")))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(e) => return Err(io(e.to_string())),
        };
        let last = mark.max(floor);
        Ok(NonceCounter {
            path: path.to_path_buf(),
            state: Mutex::new(State {
                last,
                persisted_mark: last,
            }),
        })
    }

    /// The next nonce, persisting a new mark first when needed.
    pub fn next(&self) -> Result<u64, NonceError> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let nonce = state.last.checked_add(1).ok_or(NonceError::Exhausted)?;
        if nonce > state.persisted_mark {
            let mark = nonce.saturating_add(RESERVE);
            write_synced(&self.path, mark).map_err(|e| NonceError::Io {
                path: self.path.display().to_string(),
                message: e.to_string(),
            })?;
            state.persisted_mark = mark;
        }
        state.last = nonce;
        Ok(nonce)
    }
}

/// Writes the mark to a temporary file, fsyncs it, renames it over the counter and
/// fsyncs the directory, so a crash leaves either the old or the new mark.
fn write_synced(path: &Path, mark: u64) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut file = fs::File::create(&tmp)?;
        writeln!(file, "{mark}")?;
        file.sync_all()?;
    }
    fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_reuses_a_nonce_across_restarts() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("nonce");
        let counter = NonceCounter::open(&path, 0).expect("open");
        let first: Vec<u64> = (0..5).map(|_| counter.next().expect("nonce")).collect();
        assert_eq!(first, vec![1, 2, 3, 4, 5]);
        drop(counter);
        // A crash after handing out 5: the restart continues above the persisted mark.
        let counter = NonceCounter::open(&path, 0).expect("reopen");
        let next = counter.next().expect("nonce");
        assert!(next > 5, "{next}");
        // A committed nonce above the mark (the key signed elsewhere) is respected.
        let counter = NonceCounter::open(&path, 1_000_000).expect("reopen");
        assert_eq!(counter.next().expect("nonce"), 1_000_001);
    }

    #[test]
    fn corrupt_counter_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("nonce");
        fs::write(&path, "garbage").expect("write");
        assert!(NonceCounter::open(&path, 0).is_err());
    }
}
