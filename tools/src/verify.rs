//! `tongban verify`: the offline check of DESIGN §5 on files, and its exit codes.
//!
//! The cryptographic work is `tongban_ledger::proof::verify`; this module reads the
//! files, turns the verdict into a report for people or scripts, and maps each verdict to
//! its own exit code so that a shell script can tell a revoked licence from a forged
//! proof without parsing text.

use std::path::Path;

use serde::Serialize;
use tongban_ledger::proof::{self, ProofBundle, Verdict, VerifyOptions, MAX_BUNDLE_JSON_BYTES};
use tongban_ledger::types::Genesis;

use crate::genesis::{GenesisError, MAX_GENESIS_FILE_BYTES};

/// Exit code of `VALID`.
pub const EXIT_VALID: u8 = 0;
/// Exit code of an error that is not a verdict (unreadable genesis or document, bad
/// arguments).
pub const EXIT_ERROR: u8 = 1;
/// Exit code of `REVOKED`.
pub const EXIT_REVOKED: u8 = 3;
/// Exit code of `SUSPENDED`.
pub const EXIT_SUSPENDED: u8 = 4;
/// Exit code of `EXPIRED`.
pub const EXIT_EXPIRED: u8 = 5;
/// Exit code of `NOT YET VALID`.
pub const EXIT_NOT_YET_VALID: u8 = 6;
/// Exit code of `UNKNOWN`.
pub const EXIT_UNKNOWN: u8 = 7;
/// Exit code of `INVALID PROOF` (including a file that is not a proof bundle at all).
pub const EXIT_INVALID_PROOF: u8 = 8;
/// Largest document read for the document-hash check.
pub const MAX_DOCUMENT_BYTES: u64 = 256 * 1024 * 1024;

/// The exit-code table printed by `tongban verify --help`.
pub const EXIT_CODE_HELP: &str = "Exit codes:
  0  VALID          the licence is in force; the proof is signed by a quorum traced back to genesis
  1  error          a file could not be read (genesis, document) or the arguments are wrong
  2  usage          bad command line
  3  REVOKED        the licence is revoked (or superseded)
  4  SUSPENDED      the licence is suspended by its issuer
  5  EXPIRED        the licence's validity has ended
  6  NOT YET VALID  the licence's validity has not started
  7  UNKNOWN        the proof validly shows that no such licence exists
  8  INVALID PROOF  the file proves nothing: forged, tampered, wrong chain, wrong document, too old";

/// Why verification could not even start.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The genesis file is unreadable or not a genesis.
    #[error(transparent)]
    Genesis(#[from] GenesisError),
    /// A file could not be read.
    #[error("{path}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// A file is larger than accepted.
    #[error("{path}: larger than {limit} bytes")]
    TooLarge {
        /// The file.
        path: String,
        /// The limit.
        limit: u64,
    },
}

/// The outcome, for printing and for `--json`.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// `VALID`, `REVOKED`, … `INVALID PROOF`.
    pub verdict: String,
    /// Stable machine-readable code (for an invalid proof: the reason's code).
    pub code: String,
    /// Why, for people.
    pub reason: String,
    /// The process exit code for this verdict.
    pub exit_code: u8,
    /// The licence asked about (if the file was a bundle).
    pub licence_id: Option<String>,
    /// The chain the proof claims.
    pub chain_id: Option<String>,
    /// The proven height.
    pub height: Option<u64>,
    /// The proven block's time, Unix ms.
    pub block_time_ms: Option<u64>,
    /// Age of the proven block at verification time, ms.
    pub proof_age_ms: Option<u64>,
    /// Whether a document was checked against the licence's document hash.
    pub document_checked: bool,
}

/// The exit code of a verdict.
pub fn exit_code(verdict: &Verdict) -> u8 {
    match verdict {
        Verdict::Valid => EXIT_VALID,
        Verdict::Revoked { .. } => EXIT_REVOKED,
        Verdict::Suspended { .. } => EXIT_SUSPENDED,
        Verdict::Expired { .. } => EXIT_EXPIRED,
        Verdict::NotYetValid { .. } => EXIT_NOT_YET_VALID,
        Verdict::Unknown => EXIT_UNKNOWN,
        Verdict::InvalidProof(_) => EXIT_INVALID_PROOF,
    }
}

fn read_limited(path: &Path, limit: u64) -> Result<Vec<u8>, VerifyError> {
    let io = |source| VerifyError::Io {
        path: path.display().to_string(),
        source,
    };
    let len = std::fs::metadata(path).map_err(io)?.len();
    if len > limit {
        return Err(VerifyError::TooLarge {
            path: path.display().to_string(),
            limit,
        });
    }
    std::fs::read(path).map_err(io)
}

/// Reads a genesis for verification: parsed (identifiers validated by the ledger's
/// deserialisers) but not held to the CLI's building rules, so that any chain's genesis
/// is accepted as the trust root it is.
pub fn read_genesis(path: &Path) -> Result<Genesis, VerifyError> {
    let bytes = read_limited(path, MAX_GENESIS_FILE_BYTES)?;
    serde_json::from_slice(&bytes).map_err(|e| {
        VerifyError::Genesis(GenesisError::Malformed {
            path: path.to_owned(),
            detail: e.to_string(),
        })
    })
}

/// Checks bundle bytes against a genesis.
pub fn verify_bytes(
    genesis: &Genesis,
    bundle_bytes: &[u8],
    document: Option<&[u8]>,
    max_age_ms: Option<u64>,
    now_ms: u64,
) -> Report {
    let bundle = match ProofBundle::from_json(bundle_bytes) {
        Ok(bundle) => bundle,
        Err(e) => {
            return Report {
                verdict: "INVALID PROOF".into(),
                code: "malformed_bundle".into(),
                reason: e.to_string(),
                exit_code: EXIT_INVALID_PROOF,
                licence_id: None,
                chain_id: None,
                height: None,
                block_time_ms: None,
                proof_age_ms: None,
                document_checked: false,
            }
        }
    };
    let options = VerifyOptions {
        now_ms,
        max_age_ms,
        document,
    };
    let verdict = proof::verify(&bundle, genesis, &options);
    Report {
        verdict: verdict.label().into(),
        code: verdict.code().into(),
        reason: verdict.message(),
        exit_code: exit_code(&verdict),
        licence_id: Some(bundle.licence_id.to_string()),
        chain_id: Some(bundle.chain_id.clone()),
        height: Some(bundle.header.height),
        block_time_ms: Some(bundle.header.time_ms),
        proof_age_ms: Some(now_ms.saturating_sub(bundle.header.time_ms)),
        document_checked: document.is_some(),
    }
}

/// Reads the files and checks the bundle.
pub fn verify_files(
    genesis_path: &Path,
    proof_path: &Path,
    document_path: Option<&Path>,
    max_age_ms: Option<u64>,
    now_ms: u64,
) -> Result<Report, VerifyError> {
    let genesis = read_genesis(genesis_path)?;
    // Refused by size before reading, so a huge file costs nothing.
    let bundle = read_limited(proof_path, MAX_BUNDLE_JSON_BYTES as u64)?;
    let document = document_path
        .map(|p| read_limited(p, MAX_DOCUMENT_BYTES))
        .transpose()?;
    Ok(verify_bytes(
        &genesis,
        &bundle,
        document.as_deref(),
        max_age_ms,
        now_ms,
    ))
}

/// The report as text for people.
pub fn render(report: &Report) -> String {
    let mut out = format!("{}\n  reason: {}\n", report.verdict, report.reason);
    if let Some(id) = &report.licence_id {
        out.push_str(&format!("  licence: {id}\n"));
    }
    if let (Some(h), Some(t)) = (report.height, report.block_time_ms) {
        out.push_str(&format!(
            "  proven at height {h}, block time {} ({} old)\n",
            crate::timefmt::utc(t),
            crate::timefmt::duration(report.proof_age_ms.unwrap_or(0))
        ));
    }
    if report.document_checked {
        out.push_str("  document: checked against the licence's document hash\n");
    }
    out.push_str(&format!(
        "  code: {} (exit {})",
        report.code, report.exit_code
    ));
    out
}
