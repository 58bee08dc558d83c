//! Test fixtures shared by the golden-bytes and hostile-bytes tests (and, through
//! `#[path]`, by `fuzz/examples/seed_corpus.rs`).
#![allow(dead_code)]

mod fixtures;
pub use fixtures::*;

pub mod arb;
