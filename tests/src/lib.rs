//! tongban-tests: tests that span crates.
//!
//! - [`sim`]: the deterministic consensus simulator (seeded network, clock, crashes and
//!   Byzantine mocks), driven by `tests/simulation.rs`.
//! - [`cluster`]: the multi-process harness (real `tongban-node` binaries on 127.0.0.1),
//!   driven by `tests/cluster_*.rs`.
//! - [`binaries`]: where the release binaries are, and helpers to run `tongban`.
#![forbid(unsafe_code)]

pub mod binaries;
pub mod cluster;
pub mod sim;
