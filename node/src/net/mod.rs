//! The node's network layer: libp2p between member departments only, gossip for records
//! and consensus messages, and request-response for block sync (DESIGN §7).
//!
//! # Shape
//!
//! [`Network::spawn`] starts one tokio task that owns the libp2p `Swarm` and returns a
//! cloneable [`NetworkHandle`] (commands in) and a bounded receiver of [`NetEvent`]s
//! (events out). Payloads are opaque bytes: the node encodes ledger types with
//! `ledger::codec` and checks them; this layer owns only transport, membership and limits.
//!
//! ```text
//!  NetworkHandle ──Command (bounded)──▶ ┌──────────── task ────────────┐
//!                                       │ Swarm: TCP + Noise + Yamux    │
//!                                       │  allow-list   (members only)  │
//!                                       │  conn limits  (pending, per peer)
//!                                       │  gossipsub    (records, consensus)
//!                                       │  request-response (sync)      │
//!                                       │  identify     (listen addrs)  │
//!  mpsc::Receiver<NetEvent> ◀─try_send─ └───────────────────────────────┘
//! ```
//!
//! # Membership
//!
//! A member's ed25519 key is its libp2p identity, so the member list fixes the set of
//! allowed `PeerId`s ([`peer_id_of`]). Noise authenticates the remote key during the
//! handshake; the allow-list behaviour then denies any established connection (inbound
//! or outbound) whose `PeerId` is not allowed, before any other protocol runs on it.
//! [`NetworkHandle::set_allowed`] replaces the list and closes the connections of peers
//! no longer on it. Gossip messages are unsigned (ADR 0011): a message is accepted and
//! forwarded only when the peer that handed it over is an allowed member, and what it
//! carries is signed on its own (records by their authors, votes and proposals by their
//! validators) and checked by admission and consensus, whoever relayed it.
//! Records and proposals are flooded by their publisher and not forwarded (ADRs 0012,
//! 0016); votes and commits are.
//!
//! # Finding peers
//!
//! The node dials its bootstrap addresses, and learns the listen addresses of members it
//! is connected to from identify. Whenever an allowed member is not connected, it is
//! redialled with exponential back-off ([`REDIAL_BACKOFF_INITIAL`] doubling up to
//! [`REDIAL_BACKOFF_MAX`]); a connection that lasted [`STABLE_CONNECTION`] resets the
//! back-off when it closes (one that is closed at once does not). There is no
//! peer discovery beyond that: list several members as bootstrap addresses.
//!
//! # Limits and back-pressure
//!
//! Every queue and message has a named limit ([`NetLimits`], the `MAX_*` constants).
//! Commands wait for room (back-pressure on the caller). Events are sent with `try_send`:
//! when the node does not keep up, gossip is dropped and counted in [`NetStats`] rather
//! than buffered; gossip is redundant and consensus recovers through its timeouts and
//! block sync. A sync request that cannot be queued is dropped, and the requester sees a
//! failed request. Connection events are never dropped silently either: they are
//! counted, and [`NetworkHandle::connected_peers`] is always exact.
//!
//! Size limits are enforced three times: `publish` refuses an oversized payload before
//! it leaves; gossipsub refuses inbound frames over `max_transmit_size` unread and
//! messages over the per-topic size; the task checks the payload against the topic limit
//! again before accepting it. Known libp2p behaviour: a frame over the whole frame
//! limit makes gossipsub drop the inbound stream it came on, so that sender's later
//! gossip on the connection is lost (it hurts only itself; nodes with the same limits
//! never send such a frame because `publish` refuses it). Sync streams read at most the
//! limit and fail the request if there is more.

mod behaviour;
mod sync;
mod task;

#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use libp2p::identity::{self, Keypair};
use libp2p::{Multiaddr, PeerId};
use tokio::sync::{mpsc, oneshot};
use tongban_ledger::PublicKey;

pub use sync::{SyncRequest, SyncResponse, SYNC_PROTOCOL};

/// Gossip topic for signed records on their way to the mempools. Each message is a
/// `tongban_ledger::wire::RecordBatch` in an unsigned gossip message (version 3;
/// version 2 was signed by its publisher, version 1 carried one record).
pub const RECORDS_TOPIC: &str = "tongban/records/3";
/// Gossip topic for proposals and votes: each message is a
/// `tongban_ledger::wire::ConsensusGossip` in an unsigned gossip message (version 3;
/// version 2 had no re-send number, version 1 was signed by its publisher).
pub const CONSENSUS_TOPIC: &str = "tongban/consensus/3";

/// Default largest record message: a batch of records (a record is a few hundred bytes
/// to a few KiB; the chain's `max_record_bytes` is 16 KiB by default). A record too large
/// for any message is not gossiped; it commits when its own node proposes.
pub const MAX_RECORD_MESSAGE_BYTES: usize = 1024 * 1024;
/// Default largest consensus message. A proposal carries its block, so this also bounds
/// the size of a block the node may propose.
pub const MAX_CONSENSUS_MESSAGE_BYTES: usize = 8 * 1024 * 1024;
/// Room for the gossipsub envelope around the payload (author, sequence number,
/// signature, author key, topic, protobuf framing).
pub const GOSSIP_ENVELOPE_BYTES: usize = 1024;
/// Default largest sync request on the wire (it is 12 bytes).
pub const MAX_SYNC_REQUEST_BYTES: usize = 1024;
/// Default largest sync response on the wire.
pub const MAX_SYNC_RESPONSE_BYTES: usize = 32 * 1024 * 1024;
/// Default most blocks in one sync response.
pub const MAX_SYNC_BLOCKS: u32 = 64;
/// Default capacity of the event queue to the node.
pub const EVENT_QUEUE_CAPACITY: usize = 4096;
/// Capacity of the command queue from the handles.
pub const COMMAND_QUEUE_CAPACITY: usize = 1024;
/// Most sync requests of ours waiting for an answer.
pub const MAX_PENDING_OUTBOUND_SYNC: usize = 64;
/// Most sync requests from peers waiting for the node's answer.
pub const MAX_PENDING_INBOUND_SYNC: usize = 64;
/// How long the node has to answer a sync request before it is dropped.
pub const SYNC_REPLY_TIMEOUT: Duration = Duration::from_secs(20);
/// How long we wait for a peer to answer a sync request.
pub const SYNC_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Most members (allowed peers).
pub const MAX_ALLOWED_PEERS: usize = 1024;
/// Most addresses remembered per member.
pub const MAX_ADDRESSES_PER_PEER: usize = 8;
/// Most bootstrap addresses.
pub const MAX_BOOTSTRAP_ADDRESSES: usize = 256;
/// Most connections being set up from outside at once (before the member check).
pub const MAX_PENDING_INCOMING_CONNECTIONS: u32 = 64;
/// Most connections to one peer (two allow a simultaneous dial from both sides).
pub const MAX_CONNECTIONS_PER_PEER: u32 = 2;
/// Most `listen_addrs` callers waiting for the first listen address.
pub const MAX_LISTEN_WAITERS: usize = 64;
/// First wait before redialling a member.
pub const REDIAL_BACKOFF_INITIAL: Duration = Duration::from_millis(500);
/// Longest wait between redials of a member.
pub const REDIAL_BACKOFF_MAX: Duration = Duration::from_secs(30);
/// A connection that lasted this long resets the redial back-off when it closes.
pub const STABLE_CONNECTION: Duration = Duration::from_secs(10);
/// How often the redial schedule is checked.
pub const REDIAL_TICK: Duration = Duration::from_millis(250);
/// Connections between members are long-lived; gossipsub keeps only mesh connections
/// alive on its own, so the idle timeout is set far beyond any gap in traffic.
pub const IDLE_CONNECTION_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

/// Size and queue limits; the defaults are the `MAX_*` constants of this module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetLimits {
    /// Largest payload on the records topic.
    pub max_record_message_bytes: usize,
    /// Largest payload on the consensus topic.
    pub max_consensus_message_bytes: usize,
    /// Largest sync request read from a peer.
    pub max_sync_request_bytes: usize,
    /// Largest sync response read from a peer or sent to one.
    pub max_sync_response_bytes: usize,
    /// Most blocks in one sync response (requests asking for more are capped).
    pub max_sync_blocks: u32,
    /// Capacity of the event queue to the node.
    pub event_queue_capacity: usize,
}

impl Default for NetLimits {
    fn default() -> Self {
        Self {
            max_record_message_bytes: MAX_RECORD_MESSAGE_BYTES,
            max_consensus_message_bytes: MAX_CONSENSUS_MESSAGE_BYTES,
            max_sync_request_bytes: MAX_SYNC_REQUEST_BYTES,
            max_sync_response_bytes: MAX_SYNC_RESPONSE_BYTES,
            max_sync_blocks: MAX_SYNC_BLOCKS,
            event_queue_capacity: EVENT_QUEUE_CAPACITY,
        }
    }
}

/// Where to listen, whom to dial first, and the limits.
#[derive(Debug, Clone)]
pub struct NetworkConfig {
    /// Listen address, e.g. `/ip4/0.0.0.0/tcp/26656` (`tcp/0` picks a free port).
    pub listen: Multiaddr,
    /// Addresses of other members to dial at start (with or without `/p2p/<peer id>`).
    pub bootstrap: Vec<Multiaddr>,
    /// Size and queue limits.
    pub limits: NetLimits,
}

/// The two gossip topics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GossipTopic {
    /// [`RECORDS_TOPIC`].
    Records,
    /// [`CONSENSUS_TOPIC`].
    Consensus,
}

impl GossipTopic {
    /// The topic string.
    pub fn name(self) -> &'static str {
        match self {
            GossipTopic::Records => RECORDS_TOPIC,
            GossipTopic::Consensus => CONSENSUS_TOPIC,
        }
    }

    /// Largest payload allowed on this topic.
    pub fn max_bytes(self, limits: &NetLimits) -> usize {
        match self {
            GossipTopic::Records => limits.max_record_message_bytes,
            GossipTopic::Consensus => limits.max_consensus_message_bytes,
        }
    }
}

/// What the network tells the node.
#[derive(Debug)]
pub enum NetEvent {
    /// A record message handed over by a member (`from`; every record inside is signed
    /// by its own author).
    Record {
        /// The member that handed it to us (not necessarily its publisher).
        from: PeerId,
        /// The payload.
        bytes: Vec<u8>,
    },
    /// A consensus message handed over by a member (`from`; its author is whoever signed
    /// the vote or proposal inside).
    Consensus {
        /// The member that handed it to us (not necessarily its publisher).
        from: PeerId,
        /// The payload.
        bytes: Vec<u8>,
    },
    /// A member asks for blocks; answer through `reply` within [`SYNC_REPLY_TIMEOUT`].
    SyncRequest {
        /// The member asking.
        from: PeerId,
        /// What it asks for, with `max_blocks` already capped at our limit.
        request: SyncRequest,
        /// Where the answer goes.
        reply: SyncReply,
    },
    /// The first connection to a member is up.
    PeerConnected(PeerId),
    /// The last connection to a member is gone.
    PeerDisconnected(PeerId),
}

/// The answer slot of a [`NetEvent::SyncRequest`]. Dropping it without answering makes
/// the requester's request fail.
#[derive(Debug)]
pub struct SyncReply {
    sender: oneshot::Sender<SyncResponse>,
}

impl SyncReply {
    /// Sends the answer. Blocks beyond the request's `max_blocks` or the response size
    /// limit are dropped from the end (the requester asks again from where it stopped).
    pub fn send(self, response: SyncResponse) {
        // The network task may have shut down; then nobody is waiting for the answer.
        let _ = self.sender.send(response);
    }
}

/// Why a network operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NetError {
    /// A payload is larger than its topic allows.
    #[error("message of {size} bytes exceeds the limit of {max} bytes")]
    MessageTooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// A member key is not a valid ed25519 point.
    #[error("member key {key} is not a valid ed25519 public key")]
    InvalidMemberKey {
        /// The key.
        key: PublicKey,
    },
    /// The member list is longer than [`MAX_ALLOWED_PEERS`].
    #[error("{count} members exceed the limit of {max}")]
    TooManyMembers {
        /// How many were given.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// More bootstrap addresses than [`MAX_BOOTSTRAP_ADDRESSES`].
    #[error("{count} bootstrap addresses exceed the limit of {max}")]
    TooManyBootstrapAddresses {
        /// How many were given.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// The node key is not an ed25519 key.
    #[error("the node key must be an ed25519 key")]
    NotEd25519,
    /// Building the transport or listening failed.
    #[error("transport: {0}")]
    Transport(String),
    /// `spawn` was called outside a tokio runtime.
    #[error("the network must be spawned inside a tokio runtime")]
    NoRuntime,
    /// No member is subscribed to the topic (no member connected yet).
    #[error("no connected member is subscribed to the topic")]
    NoPeers,
    /// The same payload was already published recently (message ids are content hashes).
    #[error("the same message was published recently")]
    Duplicate,
    /// Gossipsub refused to publish for another reason.
    #[error("publish failed: {0}")]
    Publish(String),
    /// The peer is not connected, so no request was sent.
    #[error("peer {0} is not connected")]
    NotConnected(PeerId),
    /// Too many of our sync requests are waiting for answers.
    #[error("too many sync requests in flight (limit {0})")]
    TooManyPendingRequests(usize),
    /// A sync request failed on the way (timeout, closed connection, refused stream).
    #[error("sync request failed: {0}")]
    RequestFailed(String),
    /// The peer answered with more blocks than asked for.
    #[error("sync response has {got} blocks, asked for at most {asked}")]
    InvalidResponse {
        /// Blocks received.
        got: usize,
        /// Blocks asked for.
        asked: u32,
    },
    /// The network task has stopped.
    #[error("the network task has stopped")]
    Shutdown,
}

/// Counters of what the network dropped or refused; read with [`NetworkHandle::stats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    gossip_received: AtomicU64,
    gossip_dropped_queue_full: AtomicU64,
    gossip_rejected: AtomicU64,
    sync_requests_dropped: AtomicU64,
    peer_events_dropped: AtomicU64,
    connections_denied: AtomicU64,
    publish_failed: AtomicU64,
}

impl Counters {
    fn add(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// A snapshot of the network counters, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NetStats {
    /// Gossip messages from members accepted and handed to the node.
    pub gossip_received: u64,
    /// Gossip messages accepted but dropped because the event queue was full.
    pub gossip_dropped_queue_full: u64,
    /// Gossip messages rejected (author not a member, oversized, unknown topic).
    pub gossip_rejected: u64,
    /// Sync requests from peers dropped (queue full, too many pending, no answer in time).
    pub sync_requests_dropped: u64,
    /// Peer connected/disconnected events dropped because the event queue was full.
    pub peer_events_dropped: u64,
    /// Connections refused or closed because the peer is not a member, or over a limit.
    pub connections_denied: u64,
    /// Publish attempts that gossipsub refused.
    pub publish_failed: u64,
}

/// Commands from handles to the network task.
#[derive(Debug)]
pub(crate) enum Command {
    Publish {
        topic: GossipTopic,
        bytes: Vec<u8>,
        reply: oneshot::Sender<Result<(), NetError>>,
    },
    RequestBlocks {
        peer: PeerId,
        request: SyncRequest,
        reply: oneshot::Sender<Result<SyncResponse, NetError>>,
    },
    SetAllowed {
        peers: HashSet<PeerId>,
        reply: oneshot::Sender<()>,
    },
    ConnectedPeers {
        reply: oneshot::Sender<Vec<PeerId>>,
    },
    ListenAddrs {
        reply: oneshot::Sender<Vec<Multiaddr>>,
    },
    KnownAddresses {
        reply: oneshot::Sender<Vec<(PeerId, Vec<Multiaddr>)>>,
    },
}

/// The node's way to talk to the network task. Cheap to clone; the task stops when the
/// last handle is dropped.
#[derive(Debug, Clone)]
pub struct NetworkHandle {
    commands: mpsc::Sender<Command>,
    counters: Arc<Counters>,
    local_peer_id: PeerId,
    limits: NetLimits,
}

/// Starts the network.
#[derive(Debug)]
pub struct Network;

impl Network {
    /// Builds the swarm, starts listening and dialling, and spawns the network task on the
    /// current tokio runtime.
    ///
    /// `keypair` is the member's own ed25519 key (see [`keypair_from_secret`]); `allowed`
    /// is the member list (our own key may be in it).
    pub fn spawn(
        config: NetworkConfig,
        keypair: Keypair,
        allowed: Vec<PublicKey>,
    ) -> Result<(NetworkHandle, mpsc::Receiver<NetEvent>), NetError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| NetError::NoRuntime)?;
        if keypair.key_type() != identity::KeyType::Ed25519 {
            return Err(NetError::NotEd25519);
        }
        let allowed = peer_ids_of(&allowed)?;
        if config.bootstrap.len() > MAX_BOOTSTRAP_ADDRESSES {
            return Err(NetError::TooManyBootstrapAddresses {
                count: config.bootstrap.len(),
                max: MAX_BOOTSTRAP_ADDRESSES,
            });
        }
        let counters = Arc::new(Counters::default());
        let (command_tx, command_rx) = mpsc::channel(COMMAND_QUEUE_CAPACITY);
        let (event_tx, event_rx) = mpsc::channel(config.limits.event_queue_capacity.max(1));
        let local_peer_id = keypair.public().to_peer_id();
        let limits = config.limits;
        // Entering the runtime: the TCP listener is created inside `listen_on`.
        let _guard = runtime.enter();
        let task = task::NetworkTask::new(
            config,
            keypair,
            allowed,
            command_rx,
            event_tx,
            Arc::clone(&counters),
        )?;
        runtime.spawn(task.run());
        Ok((
            NetworkHandle {
                commands: command_tx,
                counters,
                local_peer_id,
                limits,
            },
            event_rx,
        ))
    }
}

impl NetworkHandle {
    /// Our own peer id.
    pub fn local_peer_id(&self) -> PeerId {
        self.local_peer_id
    }

    /// Largest payload allowed on `topic`.
    pub fn max_payload(&self, topic: GossipTopic) -> usize {
        topic.max_bytes(&self.limits)
    }

    /// Publishes a record message on [`RECORDS_TOPIC`].
    pub async fn publish_record(&self, bytes: Vec<u8>) -> Result<(), NetError> {
        self.publish(GossipTopic::Records, bytes).await
    }

    /// Publishes a consensus message on [`CONSENSUS_TOPIC`].
    pub async fn publish_consensus(&self, bytes: Vec<u8>) -> Result<(), NetError> {
        self.publish(GossipTopic::Consensus, bytes).await
    }

    /// Publishes on a topic. Fails with [`NetError::NoPeers`] while no member is connected
    /// and subscribed; a consensus caller re-broadcasts on its timeouts.
    pub async fn publish(&self, topic: GossipTopic, bytes: Vec<u8>) -> Result<(), NetError> {
        let max = topic.max_bytes(&self.limits);
        if bytes.len() > max {
            return Err(NetError::MessageTooLarge {
                size: bytes.len(),
                max,
            });
        }
        self.call(|reply| Command::Publish {
            topic,
            bytes,
            reply,
        })
        .await?
    }

    /// Asks `peer` for up to `max_blocks` committed blocks from `from_height`.
    pub async fn request_blocks(
        &self,
        peer: PeerId,
        from_height: u64,
        max_blocks: u32,
    ) -> Result<SyncResponse, NetError> {
        let request = SyncRequest {
            from_height,
            max_blocks: max_blocks.min(self.limits.max_sync_blocks),
        };
        self.call(|reply| Command::RequestBlocks {
            peer,
            request,
            reply,
        })
        .await?
    }

    /// Replaces the member list; connections to peers no longer on it are closed. On an
    /// invalid key nothing changes.
    pub async fn set_allowed(&self, keys: Vec<PublicKey>) -> Result<(), NetError> {
        let peers = peer_ids_of(&keys)?;
        self.call(|reply| Command::SetAllowed { peers, reply })
            .await
    }

    /// The members we are connected to now.
    pub async fn connected_peers(&self) -> Result<Vec<PeerId>, NetError> {
        self.call(|reply| Command::ConnectedPeers { reply }).await
    }

    /// Our listen addresses, waiting until there is at least one (or the listener has
    /// closed, in which case the list may be empty).
    pub async fn listen_addrs(&self) -> Result<Vec<Multiaddr>, NetError> {
        self.call(|reply| Command::ListenAddrs { reply }).await
    }

    /// The members we know addresses for (and would redial), with those addresses.
    pub async fn known_addresses(&self) -> Result<Vec<(PeerId, Vec<Multiaddr>)>, NetError> {
        self.call(|reply| Command::KnownAddresses { reply }).await
    }

    /// The counters.
    pub fn stats(&self) -> NetStats {
        let c = &self.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        NetStats {
            gossip_received: get(&c.gossip_received),
            gossip_dropped_queue_full: get(&c.gossip_dropped_queue_full),
            gossip_rejected: get(&c.gossip_rejected),
            sync_requests_dropped: get(&c.sync_requests_dropped),
            peer_events_dropped: get(&c.peer_events_dropped),
            connections_denied: get(&c.connections_denied),
            publish_failed: get(&c.publish_failed),
        }
    }

    async fn call<T>(
        &self,
        command: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, NetError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(command(reply))
            .await
            .map_err(|_| NetError::Shutdown)?;
        answer.await.map_err(|_| NetError::Shutdown)
    }
}

/// The libp2p identity of a member key.
pub fn peer_id_of(key: &PublicKey) -> Result<PeerId, NetError> {
    let public = identity::ed25519::PublicKey::try_from_bytes(key.as_bytes())
        .map_err(|_| NetError::InvalidMemberKey { key: *key })?;
    Ok(identity::PublicKey::from(public).to_peer_id())
}

fn peer_ids_of(keys: &[PublicKey]) -> Result<HashSet<PeerId>, NetError> {
    if keys.len() > MAX_ALLOWED_PEERS {
        return Err(NetError::TooManyMembers {
            count: keys.len(),
            max: MAX_ALLOWED_PEERS,
        });
    }
    keys.iter().map(peer_id_of).collect()
}

/// The libp2p keypair of a member's 32-byte ed25519 secret key (the seed that
/// `ed25519_dalek::SigningKey::to_bytes` returns).
pub fn keypair_from_secret(secret: [u8; 32]) -> Result<Keypair, NetError> {
    Keypair::ed25519_from_bytes(secret).map_err(|_| NetError::NotEd25519)
}
