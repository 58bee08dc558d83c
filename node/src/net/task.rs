//! The network task: owns the swarm, turns commands into libp2p calls and libp2p events
//! into [`NetEvent`]s, checks gossip authors, and keeps members connected.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::stream::{FuturesUnordered, StreamExt};
use libp2p::core::ConnectedPoint;
use libp2p::multiaddr::Protocol;
use libp2p::request_response::{self, OutboundRequestId, ResponseChannel};
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::swarm::{ConnectionId, DialError, SwarmEvent};
use libp2p::{gossipsub, identify, identity::Keypair, noise, tcp, yamux, Multiaddr, PeerId, Swarm};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tongban_ledger::wire::ConsensusGossip;

use super::behaviour::{NodeBehaviour, NodeBehaviourEvent};
use super::sync::{truncate_response, SyncRequest, SyncResponse};
use super::{
    Command, Counters, GossipTopic, NetError, NetEvent, NetLimits, NetworkConfig, SyncReply,
    GOSSIP_ENVELOPE_BYTES, IDLE_CONNECTION_TIMEOUT, MAX_ADDRESSES_PER_PEER, MAX_LISTEN_WAITERS,
    MAX_PENDING_INBOUND_SYNC, MAX_PENDING_OUTBOUND_SYNC, REDIAL_BACKOFF_INITIAL,
    REDIAL_BACKOFF_MAX, REDIAL_TICK, STABLE_CONNECTION, SYNC_REPLY_TIMEOUT,
};

/// When and how to dial one member or bootstrap address again.
#[derive(Debug)]
pub(super) struct Redial {
    pub(super) backoff: Duration,
    pub(super) next_attempt: Instant,
}

impl Redial {
    pub(super) fn new() -> Self {
        Self {
            backoff: REDIAL_BACKOFF_INITIAL,
            next_attempt: Instant::now(),
        }
    }

    pub(super) fn due(&self, now: Instant) -> bool {
        now >= self.next_attempt
    }

    /// Called on each attempt: the next one waits twice as long, up to the cap.
    pub(super) fn attempted(&mut self, now: Instant) {
        self.next_attempt = now + self.backoff;
        self.backoff = (self.backoff * 2).min(REDIAL_BACKOFF_MAX);
    }

    pub(super) fn reset(&mut self) {
        self.backoff = REDIAL_BACKOFF_INITIAL;
        self.next_attempt = Instant::now();
    }
}

/// A member we know addresses for.
#[derive(Debug)]
struct KnownPeer {
    addresses: Vec<Multiaddr>,
    redial: Redial,
    /// When the current connection came up, if there is one.
    connected_at: Option<Instant>,
}

impl KnownPeer {
    fn new() -> Self {
        Self {
            addresses: Vec::new(),
            redial: Redial::new(),
            connected_at: None,
        }
    }

    /// Remembers an address, newest first, keeping at most [`MAX_ADDRESSES_PER_PEER`].
    fn add_address(&mut self, address: Multiaddr) {
        self.addresses.retain(|a| a != &address);
        self.addresses.insert(0, address);
        self.addresses.truncate(MAX_ADDRESSES_PER_PEER);
    }
}

/// A configured bootstrap address; `peer` is learned on the first connection through it.
#[derive(Debug)]
struct Bootstrap {
    address: Multiaddr,
    peer: Option<PeerId>,
    redial: Redial,
    dialing: Option<ConnectionId>,
}

type PendingReply = BoxFuture<
    'static,
    (
        ResponseChannel<SyncResponse>,
        SyncRequest,
        Option<SyncResponse>,
    ),
>;

pub(crate) struct NetworkTask {
    swarm: Swarm<NodeBehaviour>,
    limits: NetLimits,
    commands: mpsc::Receiver<Command>,
    events: mpsc::Sender<NetEvent>,
    counters: Arc<Counters>,
    local_peer_id: PeerId,
    records_topic: gossipsub::TopicHash,
    consensus_topic: gossipsub::TopicHash,
    allowed: HashSet<PeerId>,
    known_peers: HashMap<PeerId, KnownPeer>,
    bootstrap: Vec<Bootstrap>,
    outbound_sync:
        HashMap<OutboundRequestId, (u32, oneshot::Sender<Result<SyncResponse, NetError>>)>,
    inbound_sync: FuturesUnordered<PendingReply>,
    listen_waiters: Vec<oneshot::Sender<Vec<Multiaddr>>>,
    listen_addrs: Vec<Multiaddr>,
}

impl std::fmt::Debug for NetworkTask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetworkTask")
            .field("local_peer_id", &self.local_peer_id)
            .field("allowed", &self.allowed.len())
            .finish_non_exhaustive()
    }
}

fn strip_peer_id(address: &Multiaddr) -> (Multiaddr, Option<PeerId>) {
    let mut stripped = address.clone();
    match stripped.pop() {
        Some(Protocol::P2p(peer)) => (stripped, Some(peer)),
        _ => (address.clone(), None),
    }
}

/// libp2p binds its listeners with `SO_REUSEPORT`, so a second node configured with a
/// port already in use would share it silently (the kernel spreads incoming connections
/// over both). A plain bind first turns that mistake into an error at start.
fn check_port_free(listen: &Multiaddr) -> Result<(), NetError> {
    let (mut ip, mut port) = (None, None);
    for protocol in listen.iter() {
        match protocol {
            Protocol::Ip4(address) => ip = Some(std::net::IpAddr::V4(address)),
            Protocol::Ip6(address) => ip = Some(std::net::IpAddr::V6(address)),
            Protocol::Tcp(number) => port = Some(number),
            _ => {}
        }
    }
    match (ip, port) {
        (Some(ip), Some(port)) if port != 0 => std::net::TcpListener::bind((ip, port))
            .map(drop)
            .map_err(|e| NetError::Transport(format!("cannot listen on {listen}: {e}"))),
        _ => Ok(()),
    }
}

impl NetworkTask {
    pub(crate) fn new(
        config: NetworkConfig,
        keypair: Keypair,
        allowed: HashSet<PeerId>,
        commands: mpsc::Receiver<Command>,
        events: mpsc::Sender<NetEvent>,
        counters: Arc<Counters>,
    ) -> Result<Self, NetError> {
        let limits = config.limits;
        let transport_error = |e: &dyn std::fmt::Display| NetError::Transport(e.to_string());
        let behaviour = NodeBehaviour::new(&keypair, &limits)?;
        let mut swarm = libp2p::SwarmBuilder::with_existing_identity(keypair)
            .with_tokio()
            .with_tcp(
                tcp::Config::default().nodelay(true),
                noise::Config::new,
                yamux::Config::default,
            )
            .map_err(|e| transport_error(&e))?
            .with_behaviour(|_| behaviour)
            .map_err(|e| transport_error(&e))?
            .with_swarm_config(|c| c.with_idle_connection_timeout(IDLE_CONNECTION_TIMEOUT))
            .build();
        let local_peer_id = *swarm.local_peer_id();

        let records = gossipsub::IdentTopic::new(GossipTopic::Records.name());
        let consensus = gossipsub::IdentTopic::new(GossipTopic::Consensus.name());
        for topic in [&records, &consensus] {
            swarm
                .behaviour_mut()
                .gossipsub
                .subscribe(topic)
                .map_err(|e| transport_error(&e))?;
        }
        check_port_free(&config.listen)?;
        swarm
            .listen_on(config.listen.clone())
            .map_err(|e| transport_error(&e))?;

        let mut task = Self {
            swarm,
            limits,
            commands,
            events,
            counters,
            local_peer_id,
            records_topic: records.hash(),
            consensus_topic: consensus.hash(),
            allowed: HashSet::new(),
            known_peers: HashMap::new(),
            bootstrap: Vec::new(),
            outbound_sync: HashMap::new(),
            inbound_sync: FuturesUnordered::new(),
            listen_waiters: Vec::new(),
            listen_addrs: Vec::new(),
        };
        task.set_allowed(allowed);
        for address in config.bootstrap {
            let (address, peer) = strip_peer_id(&address);
            if let Some(peer) = peer {
                if task.allowed.contains(&peer) {
                    task.known_peers
                        .entry(peer)
                        .or_insert_with(KnownPeer::new)
                        .add_address(address.clone());
                }
            }
            task.bootstrap.push(Bootstrap {
                address,
                peer,
                redial: Redial::new(),
                dialing: None,
            });
        }
        Ok(task)
    }

    pub(crate) async fn run(mut self) {
        let mut redial_tick = tokio::time::interval(REDIAL_TICK);
        redial_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                command = self.commands.recv() => match command {
                    Some(command) => self.on_command(command),
                    // Every handle is gone: the node is shutting down.
                    None => break,
                },
                event = self.swarm.select_next_some() => self.on_swarm_event(event),
                Some((channel, request, response)) = self.inbound_sync.next(),
                    if !self.inbound_sync.is_empty() =>
                {
                    self.on_sync_reply(channel, request, response)
                }
                _ = redial_tick.tick() => self.redial(),
            }
        }
        tracing::debug!(peer = %self.local_peer_id, "network task stopped");
    }

    // ---------------------------------------------------------------------------------
    // Commands

    fn on_command(&mut self, command: Command) {
        match command {
            Command::Publish {
                topic,
                bytes,
                reply,
            } => {
                let _ = reply.send(self.on_publish(topic, bytes));
            }
            Command::RequestBlocks {
                peer,
                request,
                reply,
            } => self.on_request_blocks(peer, request, reply),
            Command::SetAllowed { peers, reply } => {
                self.set_allowed(peers);
                let _ = reply.send(());
            }
            Command::ConnectedPeers { reply } => {
                let _ = reply.send(self.swarm.connected_peers().copied().collect());
            }
            Command::KnownAddresses { reply } => {
                let known = self
                    .known_peers
                    .iter()
                    .map(|(peer, known)| (*peer, known.addresses.clone()))
                    .collect();
                let _ = reply.send(known);
            }
            Command::ListenAddrs { reply } => {
                if !self.listen_addrs.is_empty() {
                    let _ = reply.send(self.listen_addrs.clone());
                } else if self.listen_waiters.len() < MAX_LISTEN_WAITERS {
                    self.listen_waiters.push(reply);
                }
                // Beyond the limit the reply is dropped and the caller sees Shutdown;
                // only a misbehaving caller gets there.
            }
        }
    }

    fn on_publish(&mut self, topic: GossipTopic, bytes: Vec<u8>) -> Result<(), NetError> {
        let max = topic.max_bytes(&self.limits);
        if bytes.len() > max {
            return Err(NetError::MessageTooLarge {
                size: bytes.len(),
                max,
            });
        }
        let hash = match topic {
            GossipTopic::Records => self.records_topic.clone(),
            GossipTopic::Consensus => self.consensus_topic.clone(),
        };
        let size = bytes.len();
        let result = self.swarm.behaviour_mut().gossipsub.publish(hash, bytes);
        result.map(|_| ()).map_err(|e| {
            Counters::add(&self.counters.publish_failed);
            match e {
                gossipsub::PublishError::NoPeersSubscribedToTopic => NetError::NoPeers,
                gossipsub::PublishError::Duplicate => NetError::Duplicate,
                // Only if the envelope outgrew GOSSIP_ENVELOPE_BYTES: the payload fits.
                gossipsub::PublishError::MessageTooLarge => NetError::MessageTooLarge {
                    size: size + GOSSIP_ENVELOPE_BYTES,
                    max: max + GOSSIP_ENVELOPE_BYTES,
                },
                other => NetError::Publish(other.to_string()),
            }
        })
    }

    fn on_request_blocks(
        &mut self,
        peer: PeerId,
        request: SyncRequest,
        reply: oneshot::Sender<Result<SyncResponse, NetError>>,
    ) {
        if !self.swarm.is_connected(&peer) {
            let _ = reply.send(Err(NetError::NotConnected(peer)));
            return;
        }
        // Drop answers nobody waits for any more before counting.
        self.outbound_sync.retain(|_, (_, r)| !r.is_closed());
        if self.outbound_sync.len() >= MAX_PENDING_OUTBOUND_SYNC {
            let _ = reply.send(Err(NetError::TooManyPendingRequests(
                MAX_PENDING_OUTBOUND_SYNC,
            )));
            return;
        }
        let id = self.swarm.behaviour_mut().sync.send_request(&peer, request);
        self.outbound_sync.insert(id, (request.max_blocks, reply));
    }

    /// Installs a new member list: newly allowed peers may connect, removed ones are
    /// disconnected and forgotten.
    fn set_allowed(&mut self, mut peers: HashSet<PeerId>) {
        // We never dial ourselves; a connection to our own id is refused as not a member.
        peers.remove(&self.local_peer_id);
        let removed: Vec<PeerId> = self.allowed.difference(&peers).copied().collect();
        for peer in removed {
            // Closes every connection to it (allow-list behaviour) and stops redialling.
            self.swarm.behaviour_mut().allowed.disallow_peer(peer);
            self.known_peers.remove(&peer);
            tracing::info!(%peer, "peer removed from the member list");
        }
        for peer in &peers {
            self.swarm.behaviour_mut().allowed.allow_peer(*peer);
        }
        self.allowed = peers;
        // A bootstrap address whose peer becomes a member again is dialled again.
        for entry in &self.bootstrap {
            if let Some(peer) = entry.peer {
                if self.allowed.contains(&peer) {
                    self.known_peers
                        .entry(peer)
                        .or_insert_with(KnownPeer::new)
                        .add_address(entry.address.clone());
                }
            }
        }
    }

    // ---------------------------------------------------------------------------------
    // Keeping members connected

    fn redial(&mut self) {
        let now = Instant::now();
        for (peer, known) in &mut self.known_peers {
            if known.addresses.is_empty() || !known.redial.due(now) || self.swarm.is_connected(peer)
            {
                continue;
            }
            known.redial.attempted(now);
            let opts = DialOpts::peer_id(*peer)
                .addresses(known.addresses.clone())
                .condition(PeerCondition::DisconnectedAndNotDialing)
                .build();
            if let Err(e) = self.swarm.dial(opts) {
                tracing::debug!(%peer, error = %e, "redial not started");
            }
        }
        for entry in &mut self.bootstrap {
            // Once its peer is known, the address lives in `known_peers` (if a member).
            if entry.peer.is_some() || entry.dialing.is_some() || !entry.redial.due(now) {
                continue;
            }
            entry.redial.attempted(now);
            let opts = DialOpts::unknown_peer_id()
                .address(entry.address.clone())
                .build();
            let id = opts.connection_id();
            match self.swarm.dial(opts) {
                Ok(()) => entry.dialing = Some(id),
                Err(e) => tracing::debug!(address = %entry.address, error = %e, "dial failed"),
            }
        }
    }

    /// A bootstrap dial finished: remember which peer is behind the address.
    fn on_bootstrap_dial_done(&mut self, connection_id: ConnectionId, peer: Option<PeerId>) {
        for entry in &mut self.bootstrap {
            if entry.dialing != Some(connection_id) {
                continue;
            }
            entry.dialing = None;
            if let Some(peer) = peer {
                entry.peer = Some(peer);
                if self.allowed.contains(&peer) {
                    let known = self.known_peers.entry(peer).or_insert_with(KnownPeer::new);
                    known.add_address(entry.address.clone());
                }
            }
        }
    }

    // ---------------------------------------------------------------------------------
    // Swarm events

    fn on_swarm_event(&mut self, event: SwarmEvent<NodeBehaviourEvent>) {
        match event {
            SwarmEvent::Behaviour(NodeBehaviourEvent::Gossipsub(event)) => self.on_gossip(event),
            SwarmEvent::Behaviour(NodeBehaviourEvent::Sync(event)) => self.on_sync(event),
            SwarmEvent::Behaviour(NodeBehaviourEvent::Identify(identify::Event::Received {
                peer_id,
                info,
                ..
            })) => {
                if let Some(known) = self.known_peers.get_mut(&peer_id) {
                    for address in info.listen_addrs.into_iter().take(MAX_ADDRESSES_PER_PEER) {
                        known.add_address(strip_peer_id(&address).0);
                    }
                } else if self.allowed.contains(&peer_id) {
                    let mut known = KnownPeer::new();
                    for address in info.listen_addrs.into_iter().take(MAX_ADDRESSES_PER_PEER) {
                        known.add_address(strip_peer_id(&address).0);
                    }
                    self.known_peers.insert(peer_id, known);
                }
            }
            SwarmEvent::Behaviour(_) => {}
            SwarmEvent::ConnectionEstablished {
                peer_id,
                connection_id,
                endpoint,
                num_established,
                ..
            } => {
                if let ConnectedPoint::Dialer { .. } = endpoint {
                    self.on_bootstrap_dial_done(connection_id, Some(peer_id));
                }
                if let Some(known) = self.known_peers.get_mut(&peer_id) {
                    known.connected_at.get_or_insert_with(Instant::now);
                }
                if num_established.get() == 1 {
                    tracing::info!(peer = %peer_id, "member connected");
                    self.emit_peer_event(NetEvent::PeerConnected(peer_id));
                }
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established: 0,
                cause,
                ..
            } => {
                // Back-off starts over only after a connection that lasted: a peer that
                // accepts and at once closes (it does not list us as a member) must not
                // be redialled at the initial rate forever.
                if let Some(known) = self.known_peers.get_mut(&peer_id) {
                    if known
                        .connected_at
                        .take()
                        .is_some_and(|at| at.elapsed() >= STABLE_CONNECTION)
                    {
                        known.redial.reset();
                    }
                }
                tracing::info!(peer = %peer_id, cause = ?cause, "member disconnected");
                self.emit_peer_event(NetEvent::PeerDisconnected(peer_id));
            }
            SwarmEvent::OutgoingConnectionError {
                connection_id,
                peer_id,
                error,
            } => {
                let peer = match &error {
                    DialError::Denied { .. } => {
                        Counters::add(&self.counters.connections_denied);
                        peer_id
                    }
                    DialError::WrongPeerId { obtained, .. } => Some(*obtained),
                    _ => peer_id,
                };
                tracing::debug!(?peer, %error, "outgoing connection failed");
                self.on_bootstrap_dial_done(connection_id, peer);
            }
            SwarmEvent::IncomingConnectionError {
                send_back_addr,
                error,
                peer_id,
                ..
            } => {
                if let libp2p::swarm::ListenError::Denied { .. } = error {
                    Counters::add(&self.counters.connections_denied);
                }
                tracing::debug!(?peer_id, %send_back_addr, %error, "incoming connection refused");
            }
            SwarmEvent::NewListenAddr { address, .. } => {
                tracing::info!(%address, "listening");
                if self.listen_addrs.len() < MAX_ADDRESSES_PER_PEER {
                    self.listen_addrs.push(address);
                }
                for waiter in self.listen_waiters.drain(..) {
                    let _ = waiter.send(self.listen_addrs.clone());
                }
            }
            SwarmEvent::ExpiredListenAddr { address, .. } => {
                self.listen_addrs.retain(|a| a != &address);
            }
            SwarmEvent::ListenerClosed {
                addresses, reason, ..
            } => {
                tracing::error!(?addresses, ?reason, "listener closed");
                self.listen_addrs.retain(|a| !addresses.contains(a));
                // Nobody waits forever for an address that will not come.
                for waiter in self.listen_waiters.drain(..) {
                    let _ = waiter.send(self.listen_addrs.clone());
                }
            }
            SwarmEvent::ListenerError { error, .. } => {
                tracing::warn!(%error, "listener error");
            }
            _ => {}
        }
    }

    fn emit_peer_event(&mut self, event: NetEvent) {
        if self.events.try_send(event).is_err() {
            Counters::add(&self.counters.peer_events_dropped);
        }
    }

    fn on_gossip(&mut self, event: gossipsub::Event) {
        let gossipsub::Event::Message {
            propagation_source,
            message_id,
            message,
        } = event
        else {
            return;
        };
        let topic = if message.topic == self.records_topic {
            Some(GossipTopic::Records)
        } else if message.topic == self.consensus_topic {
            Some(GossipTopic::Consensus)
        } else {
            None
        };
        // Messages are unsigned (ADR 0011): what is checked is the member that handed it
        // to us, authenticated by Noise; the payload's own signatures are checked by
        // admission and consensus.
        let author = Some(propagation_source).filter(|peer| self.allowed.contains(peer));
        let acceptance = match (topic, author) {
            (Some(topic), Some(author)) if message.data.len() <= topic.max_bytes(&self.limits) => {
                Some((topic, author))
            }
            _ => None,
        };
        let Some((topic, author)) = acceptance else {
            Counters::add(&self.counters.gossip_rejected);
            tracing::debug!(%propagation_source, "gossip rejected");
            self.swarm
                .behaviour_mut()
                .gossipsub
                .report_message_validation_result(
                    &message_id,
                    &propagation_source,
                    gossipsub::MessageAcceptance::Reject,
                );
            return;
        };
        // The transport-level checks passed. Votes and commits go on to the other
        // members even if we are too busy to look at them ourselves (they must reach
        // every validator, also over a broken link). Records and proposals are not
        // passed on: their publisher floods them to every member it is connected to,
        // which in a network of members is all of them, so a relayed copy was a
        // duplicate (with 4 nodes, 6 of every 9 copies sent; relayed proposals, which
        // carry their block, were a third of all bytes sent). A member that misses a
        // record still gets it in the block; one that misses a proposal prevotes nil,
        // and fetches the block by sync if the others decide it (ADRs 0012, 0016).
        let acceptance = match topic {
            GossipTopic::Consensus if !ConsensusGossip::is_proposal(&message.data) => {
                gossipsub::MessageAcceptance::Accept
            }
            GossipTopic::Consensus | GossipTopic::Records => gossipsub::MessageAcceptance::Ignore,
        };
        self.swarm
            .behaviour_mut()
            .gossipsub
            .report_message_validation_result(&message_id, &propagation_source, acceptance);
        let bytes = message.data;
        let event = match topic {
            GossipTopic::Records => NetEvent::Record {
                from: author,
                bytes,
            },
            GossipTopic::Consensus => NetEvent::Consensus {
                from: author,
                bytes,
            },
        };
        match self.events.try_send(event) {
            Ok(()) => Counters::add(&self.counters.gossip_received),
            Err(_) => Counters::add(&self.counters.gossip_dropped_queue_full),
        }
    }

    fn on_sync(&mut self, event: request_response::Event<SyncRequest, SyncResponse>) {
        match event {
            request_response::Event::Message {
                peer,
                message:
                    request_response::Message::Request {
                        request, channel, ..
                    },
                ..
            } => self.on_sync_request(peer, request, channel),
            request_response::Event::Message {
                message:
                    request_response::Message::Response {
                        request_id,
                        response,
                    },
                ..
            } => {
                if let Some((asked, reply)) = self.outbound_sync.remove(&request_id) {
                    let result = if response.blocks.len() > asked as usize {
                        Err(NetError::InvalidResponse {
                            got: response.blocks.len(),
                            asked,
                        })
                    } else {
                        Ok(response)
                    };
                    let _ = reply.send(result);
                }
            }
            request_response::Event::OutboundFailure {
                request_id, error, ..
            } => {
                if let Some((_, reply)) = self.outbound_sync.remove(&request_id) {
                    let _ = reply.send(Err(NetError::RequestFailed(error.to_string())));
                }
            }
            request_response::Event::InboundFailure { peer, error, .. } => {
                tracing::debug!(%peer, %error, "inbound sync request failed");
            }
            request_response::Event::ResponseSent { .. } => {}
        }
    }

    fn on_sync_request(
        &mut self,
        peer: PeerId,
        mut request: SyncRequest,
        channel: ResponseChannel<SyncResponse>,
    ) {
        // Only members get this far (the allow-list closed everyone else), but the cap on
        // the request is ours, not theirs.
        request.max_blocks = request.max_blocks.min(self.limits.max_sync_blocks);
        if self.inbound_sync.len() >= MAX_PENDING_INBOUND_SYNC {
            // Dropping the channel fails the peer's request.
            Counters::add(&self.counters.sync_requests_dropped);
            return;
        }
        let (sender, answer) = oneshot::channel();
        let event = NetEvent::SyncRequest {
            from: peer,
            request,
            reply: SyncReply { sender },
        };
        if self.events.try_send(event).is_err() {
            Counters::add(&self.counters.sync_requests_dropped);
            return;
        }
        self.inbound_sync.push(Box::pin(async move {
            let response = match tokio::time::timeout(SYNC_REPLY_TIMEOUT, answer).await {
                Ok(Ok(response)) => Some(response),
                _ => None,
            };
            (channel, request, response)
        }));
    }

    fn on_sync_reply(
        &mut self,
        channel: ResponseChannel<SyncResponse>,
        request: SyncRequest,
        response: Option<SyncResponse>,
    ) {
        let Some(mut response) = response else {
            Counters::add(&self.counters.sync_requests_dropped);
            return;
        };
        truncate_response(
            &mut response,
            request.max_blocks,
            self.limits.max_sync_response_bytes,
        );
        if self
            .swarm
            .behaviour_mut()
            .sync
            .send_response(channel, response)
            .is_err()
        {
            // The peer disconnected or gave up meanwhile.
            tracing::debug!("sync response not sent: the request is gone");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trailing_peer_id_is_split_off_an_address() {
        let peer = Keypair::ed25519_from_bytes([5u8; 32])
            .map(|k| k.public().to_peer_id())
            .expect("seed");
        let bare: Multiaddr = "/ip4/127.0.0.1/tcp/4001".parse().expect("multiaddr");
        let full = bare.clone().with(Protocol::P2p(peer));
        assert_eq!(strip_peer_id(&full), (bare.clone(), Some(peer)));
        assert_eq!(strip_peer_id(&bare), (bare, None));
    }

    #[test]
    fn the_address_book_keeps_the_newest_addresses_up_to_the_limit() {
        let mut known = KnownPeer::new();
        let address = |port: usize| -> Multiaddr {
            format!("/ip4/127.0.0.1/tcp/{port}")
                .parse()
                .expect("multiaddr")
        };
        for port in 1..=MAX_ADDRESSES_PER_PEER + 3 {
            known.add_address(address(port));
        }
        assert_eq!(known.addresses.len(), MAX_ADDRESSES_PER_PEER);
        assert_eq!(known.addresses[0], address(MAX_ADDRESSES_PER_PEER + 3));
        // Seeing an address again moves it to the front without duplicating it.
        known.add_address(address(MAX_ADDRESSES_PER_PEER));
        assert_eq!(known.addresses[0], address(MAX_ADDRESSES_PER_PEER));
        assert_eq!(known.addresses.len(), MAX_ADDRESSES_PER_PEER);
        let mut unique = known.addresses.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), MAX_ADDRESSES_PER_PEER);
    }
}
