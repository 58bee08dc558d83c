//! tongban-tests: tests that span crates.
//!
//! - [`sim`]: the deterministic consensus simulator (seeded network, clock, crashes and
//!   Byzantine mocks), driven by `tests/simulation.rs`.
#![forbid(unsafe_code)]

pub mod sim;
