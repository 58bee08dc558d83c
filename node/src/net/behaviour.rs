//! The composed libp2p behaviour and the configuration of each part.
//!
//! Field order matters: libp2p asks each behaviour in declaration order whether to accept
//! a connection, so the allow-list and the connection limits come first and a
//! non-member's connection is denied before gossipsub or sync ever see it.

use libp2p::swarm::NetworkBehaviour;
use libp2p::{
    allow_block_list, connection_limits, gossipsub, identify, identity, request_response,
};
use tongban_ledger::crypto::sha256;

use super::sync::{SyncCodec, SYNC_PROTOCOL};
use super::{
    NetError, NetLimits, GOSSIP_ENVELOPE_BYTES, MAX_CONNECTIONS_PER_PEER, MAX_PENDING_INBOUND_SYNC,
    MAX_PENDING_INCOMING_CONNECTIONS, RECORDS_TOPIC, SYNC_REQUEST_TIMEOUT,
};

/// Identify protocol version; peers announce it, we only use their listen addresses.
pub(crate) const IDENTIFY_PROTOCOL: &str = "/tongban/id/1";

#[derive(NetworkBehaviour)]
pub(crate) struct NodeBehaviour {
    pub(crate) allowed: allow_block_list::Behaviour<allow_block_list::AllowedPeers>,
    pub(crate) limits: connection_limits::Behaviour,
    pub(crate) gossipsub: gossipsub::Behaviour,
    pub(crate) sync: request_response::Behaviour<SyncCodec>,
    pub(crate) identify: identify::Behaviour,
}

impl NodeBehaviour {
    pub(crate) fn new(keypair: &identity::Keypair, limits: &NetLimits) -> Result<Self, NetError> {
        let connection_limits = connection_limits::ConnectionLimits::default()
            .with_max_pending_incoming(Some(MAX_PENDING_INCOMING_CONNECTIONS))
            .with_max_established_per_peer(Some(MAX_CONNECTIONS_PER_PEER));

        let sync = request_response::Behaviour::with_codec(
            SyncCodec {
                max_request_bytes: limits.max_sync_request_bytes,
                max_response_bytes: limits.max_sync_response_bytes,
            },
            [(SYNC_PROTOCOL, request_response::ProtocolSupport::Full)],
            request_response::Config::default()
                .with_request_timeout(SYNC_REQUEST_TIMEOUT)
                .with_max_concurrent_streams(MAX_PENDING_INBOUND_SYNC),
        );

        let identify = identify::Behaviour::new(
            identify::Config::new(IDENTIFY_PROTOCOL.to_string(), keypair.public())
                .with_push_listen_addr_updates(true),
        );

        Ok(Self {
            allowed: allow_block_list::Behaviour::default(),
            limits: connection_limits::Behaviour::new(connection_limits),
            gossipsub: gossipsub::Behaviour::new(
                // Unsigned (ADR 0011): every payload carries its own signatures, and
                // the peer that hands a message over is a Noise-authenticated member.
                gossipsub::MessageAuthenticity::Anonymous,
                gossipsub_config(limits)?,
            )
            .map_err(|e| NetError::Transport(format!("gossipsub: {e}")))?,
            sync,
            identify,
        })
    }
}

/// Gossipsub settings: unsigned messages (anonymous validation mode: a message that
/// carries an author, sequence number or signature is refused), content-addressed
/// message ids, our size limits, and validation by the network task before anything is
/// forwarded.
pub(crate) fn gossipsub_config(limits: &NetLimits) -> Result<gossipsub::Config, NetError> {
    let largest = limits
        .max_consensus_message_bytes
        .max(limits.max_record_message_bytes);
    gossipsub::ConfigBuilder::default()
        .validation_mode(gossipsub::ValidationMode::Anonymous)
        // Held until the task reports Accept or Reject, so that a message from a
        // non-member author is never forwarded.
        .validate_messages()
        // The same payload published by two members (one record submitted at two
        // departments) is one message.
        .message_id_fn(|message: &gossipsub::Message| {
            gossipsub::MessageId::from(
                sha256(&[message.topic.as_str().as_bytes(), &message.data])
                    .as_bytes()
                    .to_vec(),
            )
        })
        .max_transmit_size(largest + GOSSIP_ENVELOPE_BYTES)
        .max_transmit_size_for_topic(
            limits.max_record_message_bytes + GOSSIP_ENVELOPE_BYTES,
            gossipsub::IdentTopic::new(RECORDS_TOPIC).hash(),
        )
        .build()
        .map_err(|e| NetError::Transport(format!("gossipsub config: {e}")))
}
