//! tongban-ledger: everything a department writes and everything a verifier checks.
//!
//! - [`ids`]: identifiers of DESIGN §3 that can only hold valid values;
//! - [`types`], [`bytes`]: the signed and stored formats of DESIGN §4 and §5;
//! - [`codec`]: the only place that touches bincode;
//! - [`crypto`]: SHA-256, ed25519 signing and batch verification, domain separation;
//! - [`execute`]: the rules of DESIGN §4, applied deterministically to blocks of records;
//! - [`merkle`]: the RFC 9162 records log of a block (`records_root`, inclusion proofs);
//! - [`state_tree`]: the Jellyfish Merkle state tree and its proofs;
//! - [`store`]: storage behind a trait (RocksDB, memory);
//! - [`chain`]: the facade the node uses: open, propose, validate, commit, reads;
//! - [`proof`]: licence proof bundles and their offline verification;
//! - [`wire`]: what nodes send each other (record gossip, consensus messages, sync).
//!
//! The verification side (these modules, Merkle proofs and proof bundles) is pure: no
//! RocksDB, no tokio. The RocksDB store is behind the `rocksdb` feature.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod bytes;
pub mod chain;
pub mod codec;
pub mod crypto;
pub mod execute;
pub mod ids;
pub mod keys;
pub mod merkle;
pub mod proof;
pub mod state;
pub mod state_tree;
pub mod store;
pub mod types;
pub mod wire;

pub use bytes::{Hash32, PublicKey, Signature};
