//! tongban-node: the daemon a department runs (DESIGN §7).
//!
//! Only this crate knows tokio, libp2p, HTTP and JSON. Its tasks and the data flow
//! between them are drawn in `ARCHITECTURE.md` and `docs/adr/0004-node.md`:
//!
//! - [`config`], [`home`], [`genesis`]: the home directory and start-up checks;
//! - [`net`]: libp2p between members only (gossip, block sync);
//! - [`admission`] → [`mempool`]: records in, signatures verified once, in batches;
//! - [`driver`]: the one task that owns consensus and writes the ledger ([`ledger`]);
//! - [`api`]: the HTTP API; [`waiters`]: `?wait=commit`; [`nonce`]: operator nonces;
//! - [`metrics`], [`status`]: what operators watch;
//! - [`run`]: start-up wiring. What goes over gossip and sync is `tongban_ledger::wire`.
#![forbid(unsafe_code)]

pub mod admission;
pub mod api;
pub mod clock;
pub mod config;
pub mod driver;
pub mod genesis;
pub mod home;
pub mod ledger;
pub mod mempool;
pub mod metrics;
pub mod net;
pub mod nonce;
pub mod run;
pub mod status;
pub mod waiters;
