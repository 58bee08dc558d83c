//! The node's status as `GET /v1/status` reports it, updated by the driver.

use std::sync::RwLock;

use serde::Serialize;
use tongban_ledger::{Hash32, PublicKey};

/// What `GET /v1/status` answers (see `docs/spec/openapi.yaml`).
#[derive(Debug, Clone, Serialize)]
pub struct NodeStatus {
    /// The chain.
    pub chain_id: String,
    /// Hash of the genesis.
    pub genesis_hash: Hash32,
    /// The node's name.
    pub moniker: String,
    /// The node's key.
    pub node_key: PublicKey,
    /// The member this key belongs to, if any.
    pub member_id: Option<String>,
    /// libp2p peer id.
    pub peer_id: String,
    /// Last committed height.
    pub height: u64,
    /// Hash of the head block (the genesis hash at height 0).
    pub head_hash: Hash32,
    /// State root at the head.
    pub state_root: Hash32,
    /// Head block time.
    pub time_ms: u64,
    /// Current consensus round.
    pub round: u32,
    /// Validators of the next height.
    pub validators: usize,
    /// Whether this node votes at the next height.
    pub is_validator: bool,
    /// Connected member peers.
    pub connected_peers: usize,
    /// Records waiting.
    pub mempool_size: usize,
    /// Whether the node knows it is behind its peers.
    pub syncing: bool,
}

/// The shared, updatable status.
#[derive(Debug)]
pub struct StatusCell {
    inner: RwLock<NodeStatus>,
}

impl StatusCell {
    /// A cell holding `status`.
    pub fn new(status: NodeStatus) -> StatusCell {
        StatusCell {
            inner: RwLock::new(status),
        }
    }

    /// A copy of the current status.
    pub fn get(&self) -> NodeStatus {
        self.inner.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Changes the status.
    pub fn update(&self, change: impl FnOnce(&mut NodeStatus)) {
        let mut guard = self.inner.write().unwrap_or_else(|e| e.into_inner());
        change(&mut guard);
    }
}
