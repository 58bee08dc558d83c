//! Unit tests of the pieces that need no sockets; the real-socket tests are in
//! `node/tests/net_cluster.rs`.

use std::time::Duration;

use ed25519_dalek::SigningKey;
use tokio::time::Instant;

use super::behaviour::gossipsub_config;
use super::task::Redial;
use super::*;

fn signing_key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

/// A 32-byte string that does not decompress to a curve point (about half of all
/// y-coordinates have no matching x).
fn not_a_point() -> PublicKey {
    (0u8..=255)
        .map(|y| {
            let mut bytes = [0u8; 32];
            bytes[0] = y;
            PublicKey(bytes)
        })
        .find(|key| ed25519_dalek::VerifyingKey::from_bytes(&key.0).is_err())
        .expect("some small y is not on the curve")
}

#[test]
fn the_member_key_is_the_libp2p_identity() {
    let signing = signing_key(7);
    let keypair = keypair_from_secret(signing.to_bytes()).expect("any 32 bytes are a seed");
    let ledger_key = PublicKey(signing.verifying_key().to_bytes());
    assert_eq!(
        peer_id_of(&ledger_key).ok(),
        Some(keypair.public().to_peer_id())
    );
    // The libp2p public key is the same 32 bytes as the ledger's.
    let libp2p_key = keypair.public().try_into_ed25519().expect("ed25519");
    assert_eq!(libp2p_key.to_bytes(), ledger_key.0);
}

#[test]
fn peer_ids_differ_per_member() {
    let a = peer_id_of(&PublicKey(signing_key(1).verifying_key().to_bytes()));
    let b = peer_id_of(&PublicKey(signing_key(2).verifying_key().to_bytes()));
    assert!(a.is_ok() && b.is_ok());
    assert_ne!(a, b);
}

#[test]
fn a_key_that_is_not_a_curve_point_is_refused() {
    let bad = not_a_point();
    assert_eq!(
        peer_id_of(&bad),
        Err(NetError::InvalidMemberKey { key: bad })
    );
    let good = PublicKey(signing_key(3).verifying_key().to_bytes());
    assert_eq!(
        peer_ids_of(&[good, bad]).err(),
        Some(NetError::InvalidMemberKey { key: bad })
    );
}

#[test]
fn the_member_list_has_a_limit() {
    let key = PublicKey(signing_key(4).verifying_key().to_bytes());
    let keys = vec![key; MAX_ALLOWED_PEERS + 1];
    assert_eq!(
        peer_ids_of(&keys).err(),
        Some(NetError::TooManyMembers {
            count: MAX_ALLOWED_PEERS + 1,
            max: MAX_ALLOWED_PEERS
        })
    );
    assert_eq!(
        peer_ids_of(&keys[..MAX_ALLOWED_PEERS]).map(|s| s.len()),
        Ok(1)
    );
}

#[test]
fn topic_limits_come_from_the_config() {
    let limits = NetLimits {
        max_record_message_bytes: 10,
        max_consensus_message_bytes: 20,
        ..NetLimits::default()
    };
    assert_eq!(GossipTopic::Records.max_bytes(&limits), 10);
    assert_eq!(GossipTopic::Consensus.max_bytes(&limits), 20);
    assert_eq!(GossipTopic::Records.name(), "tongban/records/3");
    assert_eq!(GossipTopic::Consensus.name(), "tongban/consensus/3");
}

#[test]
fn gossipsub_is_unsigned_content_addressed_and_sized_from_the_limits() {
    let limits = NetLimits::default();
    let config = gossipsub_config(&limits).expect("valid config");
    assert!(config.validate_messages());
    assert!(matches!(
        config.validation_mode(),
        libp2p::gossipsub::ValidationMode::Anonymous
    ));
    assert_eq!(
        config.max_transmit_size(),
        MAX_CONSENSUS_MESSAGE_BYTES + GOSSIP_ENVELOPE_BYTES
    );
    let records = libp2p::gossipsub::IdentTopic::new(RECORDS_TOPIC).hash();
    assert_eq!(
        config.max_transmit_size_for_topic(&records),
        MAX_RECORD_MESSAGE_BYTES + GOSSIP_ENVELOPE_BYTES
    );

    // Message ids depend on topic and payload only, not on the author.
    let message = |source: u8, data: &[u8]| libp2p::gossipsub::Message {
        source: Some(
            keypair_from_secret([source; 32])
                .expect("seed")
                .public()
                .to_peer_id(),
        ),
        data: data.to_vec(),
        sequence_number: Some(u64::from(source)),
        topic: records.clone(),
    };
    assert_eq!(
        config.message_id(&message(1, b"x")),
        config.message_id(&message(2, b"x"))
    );
    assert_ne!(
        config.message_id(&message(1, b"x")),
        config.message_id(&message(1, b"y"))
    );
    let id = config.message_id(&message(1, b"x"));
    assert_eq!(
        id.0,
        tongban_ledger::crypto::sha256(&[RECORDS_TOPIC.as_bytes(), b"x"])
            .as_bytes()
            .to_vec()
    );
}

#[test]
fn redial_backoff_doubles_up_to_the_cap_and_resets() {
    let mut redial = Redial::new();
    let start = Instant::now();
    assert!(redial.due(start));
    redial.attempted(start);
    assert!(!redial.due(start));
    assert!(redial.due(start + REDIAL_BACKOFF_INITIAL));
    let mut waits = Vec::new();
    for _ in 0..10 {
        waits.push(redial.backoff);
        redial.attempted(start);
    }
    assert_eq!(waits[0], REDIAL_BACKOFF_INITIAL * 2);
    assert_eq!(waits[1], REDIAL_BACKOFF_INITIAL * 4);
    assert!(waits.iter().all(|w| *w <= REDIAL_BACKOFF_MAX));
    assert_eq!(redial.backoff, REDIAL_BACKOFF_MAX);
    redial.reset();
    assert_eq!(redial.backoff, REDIAL_BACKOFF_INITIAL);
    assert!(redial.due(Instant::now()));
    assert!(REDIAL_BACKOFF_MAX >= Duration::from_secs(1));
}

#[tokio::test]
async fn spawn_refuses_bad_configuration() {
    let config = || NetworkConfig {
        listen: "/ip4/127.0.0.1/tcp/0".parse().expect("multiaddr"),
        bootstrap: Vec::new(),
        limits: NetLimits::default(),
    };
    let keypair = || keypair_from_secret([9; 32]).expect("seed");
    let bad = not_a_point();
    assert_eq!(
        Network::spawn(config(), keypair(), vec![bad]).err(),
        Some(NetError::InvalidMemberKey { key: bad })
    );
    let mut too_many = config();
    too_many.bootstrap =
        vec!["/ip4/127.0.0.1/tcp/1".parse().expect("multiaddr"); MAX_BOOTSTRAP_ADDRESSES + 1];
    assert!(matches!(
        Network::spawn(too_many, keypair(), Vec::new()).err(),
        Some(NetError::TooManyBootstrapAddresses { .. })
    ));
    let mut unlistenable = config();
    unlistenable.listen = "/dns4/example.invalid/tcp/0".parse().expect("multiaddr");
    assert!(matches!(
        Network::spawn(unlistenable, keypair(), Vec::new()).err(),
        Some(NetError::Transport(_))
    ));
}

#[test]
fn spawn_outside_a_runtime_is_an_error_not_a_panic() {
    let config = NetworkConfig {
        listen: "/ip4/127.0.0.1/tcp/0".parse().expect("multiaddr"),
        bootstrap: Vec::new(),
        limits: NetLimits::default(),
    };
    let keypair = keypair_from_secret([9; 32]).expect("seed");
    assert_eq!(
        Network::spawn(config, keypair, Vec::new()).err(),
        Some(NetError::NoRuntime)
    );
}
