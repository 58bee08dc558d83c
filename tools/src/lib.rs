//! tongban-tools: the library behind the `tongban` command-line tool.
//!
//! - [`keyfile`]: ed25519 key files (0600, never overwritten);
//! - [`genesis`]: building and checking `genesis.json`;
//! - [`records`]: signing admin records, commitments, clock nonces;
//! - [`client`]: the blocking HTTP client of the node API;
//! - [`timefmt`]: UTC times for humans;
//! - [`verify`]: the offline check on files, verdict exit codes;
//! - [`devnet`], [`demo`]: a local network of `tongban-node` processes with demo data;
//! - [`bench`]: the load generator.
//!
//! The binary (`src/main.rs`) is only argument parsing and printing; everything that can
//! be tested without a terminal lives here.
#![forbid(unsafe_code)]

pub mod bench;
pub mod client;
pub mod demo;
pub mod devnet;
pub mod genesis;
pub mod keyfile;
pub mod records;
pub mod timefmt;
pub mod verify;
