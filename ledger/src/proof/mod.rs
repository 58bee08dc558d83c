//! Licence proof bundles: what a node hands a verifier, and the offline check of it.
//!
//! A bundle ([`ProofBundle`], JSON `tongban-licence-proof/v1`) proves a licence's state
//! value (or its absence) at one height with nothing to trust but the genesis file: the
//! chain of validator-set changes since genesis, each signed by the set before it; the
//! header with a quorum commit of the set it names; and a state-tree proof of the
//! licence's key under the header's `state_root`. [`build_bundle`] assembles one from
//! the store's parts and [`licence_bundle`] does so from the node's [`crate::chain::Chain`]; [`verify`] checks it, purely (time is an input), and returns a
//! [`Verdict`]. The format is specified in `docs/spec/proof-format.md` so that verifiers
//! in other languages can follow it.

mod bundle;
mod from_chain;
mod quorum;
mod verify;

pub use bundle::{
    build_bundle, BuildError, BundleParseError, BundleParts, ProofBundle, ProvenLicence,
    ValidatorSetChange, FORMAT, MAX_BUNDLE_JSON_BYTES, MAX_LICENCE_VALUE_BYTES, MAX_VALIDATORS,
    MAX_VALIDATOR_CHANGES,
};
pub use from_chain::{licence_bundle, ChainBundleError};
pub use quorum::{commit_vote, verify_commit, verify_signatures, CommitError};
pub use verify::{verify, verify_proof, InvalidReason, Verdict, VerifyOptions};
