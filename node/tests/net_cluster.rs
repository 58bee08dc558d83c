//! The network layer on real sockets: libp2p over TCP on 127.0.0.1 between tokio tasks,
//! each node with its own ed25519 member key.

use std::time::Duration;

use ed25519_dalek::SigningKey;
use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, PeerId};
use tokio::sync::mpsc;
use tokio::time::{timeout, Instant};
use tongban_ledger::wire::ConsensusGossip;
use tongban_ledger::PublicKey;
use tongban_node::net::{
    keypair_from_secret, peer_id_of, GossipTopic, NetError, NetEvent, NetLimits, Network,
    NetworkConfig, NetworkHandle, SyncResponse, MAX_SYNC_BLOCKS,
};

/// Generous: two cores are shared by several builds while these tests run.
const WAIT: Duration = Duration::from_secs(20);

struct Member {
    secret: [u8; 32],
    key: PublicKey,
    peer: PeerId,
}

fn member() -> Member {
    let signing = SigningKey::generate(&mut rand_core::OsRng);
    let key = PublicKey(signing.verifying_key().to_bytes());
    let peer = peer_id_of(&key).expect("a generated key is valid");
    Member {
        secret: signing.to_bytes(),
        key,
        peer,
    }
}

struct Node {
    handle: NetworkHandle,
    events: mpsc::Receiver<NetEvent>,
    address: Multiaddr,
}

async fn start_at(
    me: &Member,
    listen: Multiaddr,
    allowed: &[&Member],
    bootstrap: &[&Node],
    limits: NetLimits,
) -> Node {
    // RUST_LOG=tongban_node=debug,libp2p_gossipsub=debug shows what happened on failure.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let config = NetworkConfig {
        listen,
        bootstrap: bootstrap.iter().map(|n| n.address.clone()).collect(),
        limits,
    };
    let keypair = keypair_from_secret(me.secret).expect("keypair");
    let allowed = allowed.iter().map(|m| m.key).collect();
    let (handle, events) = Network::spawn(config, keypair, allowed).expect("spawn");
    let addresses = timeout(WAIT, handle.listen_addrs())
        .await
        .expect("listening in time")
        .expect("listen addresses");
    let address = addresses[0].clone().with(Protocol::P2p(me.peer));
    Node {
        handle,
        events,
        address,
    }
}

async fn start(me: &Member, allowed: &[&Member], bootstrap: &[&Node]) -> Node {
    start_with(me, allowed, bootstrap, NetLimits::default()).await
}

async fn start_with(
    me: &Member,
    allowed: &[&Member],
    bootstrap: &[&Node],
    limits: NetLimits,
) -> Node {
    let listen: Multiaddr = "/ip4/127.0.0.1/tcp/0".parse().expect("multiaddr");
    start_at(me, listen, allowed, bootstrap, limits).await
}

/// Reads events until `pick` returns `Some`, or `None` after `within`.
async fn next_matching<T>(
    node: &mut Node,
    within: Duration,
    mut pick: impl FnMut(NetEvent) -> Option<T>,
) -> Option<T> {
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match timeout(left, node.events.recv()).await {
            Ok(Some(event)) => {
                if let Some(found) = pick(event) {
                    return Some(found);
                }
            }
            Ok(None) | Err(_) => return None,
        }
    }
}

async fn wait_connected(node: &Node, peers: &[PeerId]) {
    let deadline = Instant::now() + WAIT;
    loop {
        let connected = node.handle.connected_peers().await.expect("running");
        if peers.iter().all(|p| connected.contains(p)) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "not connected to {peers:?} in time; connected: {connected:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Publishing fails with `NoPeers` until the peers' subscriptions have arrived.
async fn publish_when_subscribed(node: &Node, topic: GossipTopic, bytes: Vec<u8>) {
    let deadline = Instant::now() + WAIT;
    loop {
        match node.handle.publish(topic, bytes.clone()).await {
            Ok(()) => return,
            Err(NetError::NoPeers) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("publish failed: {e}"),
        }
    }
}

/// Gossips until every node has received a record directly from every other one, so
/// that each publisher knows the others' subscriptions (and the meshes are formed)
/// before a test depends on delivery.
async fn warm_up(nodes: &mut [&mut Node]) {
    let peers: Vec<PeerId> = nodes.iter().map(|n| n.handle.local_peer_id()).collect();
    let mut seen: Vec<std::collections::HashSet<PeerId>> = vec![Default::default(); nodes.len()];
    let deadline = Instant::now() + WAIT;
    for round in 0.. {
        for (index, node) in nodes.iter().enumerate() {
            let record = format!("warm-up {index} {round}").into_bytes();
            // NoPeers until subscriptions arrive; the next round tries again.
            let _ = node.handle.publish_record(record).await;
        }
        for (index, node) in nodes.iter_mut().enumerate() {
            while let Ok(Some(event)) =
                timeout(Duration::from_millis(100), node.events.recv()).await
            {
                if let NetEvent::Record { from, bytes } = event {
                    if bytes.starts_with(b"warm-up") {
                        seen[index].insert(from);
                    }
                }
            }
        }
        let done = seen.iter().enumerate().all(|(index, s)| {
            peers
                .iter()
                .enumerate()
                .all(|(j, p)| j == index || s.contains(p))
        });
        if done {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "gossip never became ready: {seen:?}"
        );
    }
}

fn record_from(bytes: &[u8]) -> impl FnMut(NetEvent) -> Option<PeerId> + '_ {
    move |event| match event {
        NetEvent::Record { from, bytes: b } if b == bytes => Some(from),
        _ => None,
    }
}

fn consensus_from(bytes: &[u8]) -> impl FnMut(NetEvent) -> Option<PeerId> + '_ {
    move |event| match event {
        NetEvent::Consensus { from, bytes: b } if b == bytes => Some(from),
        _ => None,
    }
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_members_gossip_on_both_topics_and_sync_blocks() {
    let (a, b, c) = (member(), member(), member());
    let members = [&a, &b, &c];
    let mut node_a = start(&a, &members, &[]).await;
    let mut node_b = start(&b, &members, &[&node_a]).await;
    let mut node_c = start(&c, &members, &[&node_a, &node_b]).await;
    wait_connected(&node_a, &[b.peer, c.peer]).await;
    wait_connected(&node_b, &[a.peer, c.peer]).await;
    wait_connected(&node_c, &[a.peer, b.peer]).await;
    warm_up(&mut [&mut node_a, &mut node_b, &mut node_c]).await;

    // Records: B publishes, A and C receive it from B itself (records are flooded by
    // their publisher and never relayed).
    let record = b"record from B".to_vec();
    publish_when_subscribed(&node_b, GossipTopic::Records, record.clone()).await;
    let at_a = next_matching(&mut node_a, WAIT, record_from(&record)).await;
    assert_eq!(at_a, Some(b.peer));
    let at_c = next_matching(&mut node_c, WAIT, record_from(&record)).await;
    assert_eq!(at_c, Some(b.peer));

    // Consensus: A publishes, B and C receive it.
    let vote = b"vote from A".to_vec();
    publish_when_subscribed(&node_a, GossipTopic::Consensus, vote.clone()).await;
    let at_b = next_matching(&mut node_b, WAIT, consensus_from(&vote)).await;
    assert!(at_b == Some(a.peer) || at_b == Some(c.peer), "{at_b:?}");
    let at_c = next_matching(&mut node_c, WAIT, consensus_from(&vote)).await;
    assert!(at_c == Some(a.peer) || at_c == Some(b.peer), "{at_c:?}");

    // The same payload again has the same message id: refused as a duplicate.
    assert_eq!(
        node_a.handle.publish_consensus(vote.clone()).await,
        Err(NetError::Duplicate)
    );

    // Sync: C asks A for blocks from height 5; A's node answers through the reply slot.
    let requester = node_c.handle.clone();
    let request = tokio::spawn(async move { requester.request_blocks(a.peer, 5, 3).await });
    let (from, asked) = next_matching(&mut node_a, WAIT, |event| match event {
        NetEvent::SyncRequest {
            from,
            request,
            reply,
        } => {
            reply.send(SyncResponse {
                blocks: vec![
                    b"block 5".to_vec(),
                    b"block 6".to_vec(),
                    b"block 7".to_vec(),
                ],
            });
            Some((from, request))
        }
        _ => None,
    })
    .await
    .expect("A got the sync request");
    assert_eq!(from, c.peer);
    assert_eq!((asked.from_height, asked.max_blocks), (5, 3));
    let response = request.await.expect("joined").expect("sync response");
    assert_eq!(
        response.blocks,
        vec![
            b"block 5".to_vec(),
            b"block 6".to_vec(),
            b"block 7".to_vec()
        ]
    );

    // A node answering with more blocks than asked for is cut to the request's size.
    let requester = node_b.handle.clone();
    let request = tokio::spawn(async move { requester.request_blocks(c.peer, 0, 2).await });
    next_matching(&mut node_c, WAIT, |event| match event {
        NetEvent::SyncRequest { reply, .. } => {
            reply.send(SyncResponse {
                blocks: vec![vec![0]; 5],
            });
            Some(())
        }
        _ => None,
    })
    .await
    .expect("C got the sync request");
    let response = request.await.expect("joined").expect("sync response");
    assert_eq!(response.blocks.len(), 2);

    // A request the node drops fails at the requester instead of hanging.
    let requester = node_a.handle.clone();
    let request = tokio::spawn(async move { requester.request_blocks(b.peer, 0, 1).await });
    next_matching(&mut node_b, WAIT, |event| match event {
        NetEvent::SyncRequest { reply, .. } => {
            drop(reply);
            Some(())
        }
        _ => None,
    })
    .await
    .expect("B got the sync request");
    let result = request.await.expect("joined");
    assert!(
        matches!(result, Err(NetError::RequestFailed(_))),
        "{result:?}"
    );
}

/// A line of members, A - B - C (C never learns A's address): B passes A's votes on to
/// C, but not A's records or proposals (their publisher floods them to the members it
/// is connected to; relayed copies were duplicates).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn votes_are_relayed_and_records_and_proposals_are_not() {
    let (a, b, c) = (member(), member(), member());
    let members = [&a, &b, &c];
    let node_a = start(&a, &members, &[]).await;
    let mut node_b = start(&b, &members, &[&node_a]).await;
    let mut node_c = start(&c, &members, &[&node_b]).await;
    wait_connected(&node_b, &[a.peer, c.peer]).await;

    // Until the meshes form, a message may not get through: try new ones until one does.
    let deadline = Instant::now() + WAIT;
    let relayed = loop {
        let vote = format!("vote from A {:?}", Instant::now()).into_bytes();
        let _ = node_a.handle.publish_consensus(vote.clone()).await;
        let got = next_matching(
            &mut node_c,
            Duration::from_millis(500),
            consensus_from(&vote),
        );
        if let Some(from) = got.await {
            break from;
        }
        assert!(Instant::now() < deadline, "no consensus message reached C");
    };
    assert_eq!(relayed, b.peer);
    let connected = node_a.handle.connected_peers().await.expect("running");
    assert!(
        !connected.contains(&c.peer),
        "A and C connected: not a line"
    );

    let record = b"record from A".to_vec();
    publish_when_subscribed(&node_a, GossipTopic::Records, record.clone()).await;
    let at_b = next_matching(&mut node_b, WAIT, record_from(&record)).await;
    assert_eq!(at_b, Some(a.peer));
    let at_c = next_matching(&mut node_c, Duration::from_secs(3), record_from(&record)).await;
    assert_eq!(at_c, None, "B relayed a record");

    // The network does not decode consensus messages: it knows a proposal by the
    // variant index it starts with.
    let mut proposal = 0u32.to_le_bytes().to_vec();
    proposal.extend_from_slice(b"proposal from A");
    assert!(ConsensusGossip::is_proposal(&proposal));
    publish_when_subscribed(&node_a, GossipTopic::Consensus, proposal.clone()).await;
    let at_b = next_matching(&mut node_b, WAIT, consensus_from(&proposal)).await;
    assert_eq!(at_b, Some(a.peer));
    let at_c = next_matching(
        &mut node_c,
        Duration::from_secs(3),
        consensus_from(&proposal),
    )
    .await;
    assert_eq!(at_c, None, "B relayed a proposal");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_member_cannot_connect_and_its_messages_never_arrive() {
    let (a, b, outsider) = (member(), member(), member());
    let mut node_a = start(&a, &[&a, &b], &[]).await;
    let node_b = start(&b, &[&a, &b], &[&node_a]).await;
    wait_connected(&node_a, &[b.peer]).await;
    // The outsider believes it is a member and dials both.
    let node_o = start(&outsider, &[&a, &b, &outsider], &[&node_a, &node_b]).await;

    // Give it time for several dials (the first is immediate, then back-off).
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        for node in [&node_a, &node_b] {
            let connected = node.handle.connected_peers().await.expect("running");
            assert!(!connected.contains(&outsider.peer), "outsider got in");
        }
        // Nobody subscribed to anything the outsider can reach.
        let published = node_o
            .handle
            .publish_record(b"from outsider".to_vec())
            .await;
        assert_eq!(published, Err(NetError::NoPeers));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(node_a.handle.stats().connections_denied > 0);
    assert!(node_b.handle.stats().connections_denied > 0);
    // Sync requests to a member are refused before anything is sent.
    assert_eq!(
        node_o.handle.request_blocks(a.peer, 0, 1).await,
        Err(NetError::NotConnected(a.peer))
    );

    // A message from B published after all that arrives, and nothing from the outsider
    // arrived before it.
    let marker = b"marker from B".to_vec();
    publish_when_subscribed(&node_b, GossipTopic::Records, marker.clone()).await;
    let first_from = next_matching(&mut node_a, WAIT, |event| match event {
        NetEvent::Record { from, .. } | NetEvent::Consensus { from, .. } => Some(from),
        NetEvent::PeerConnected(peer) => {
            assert_ne!(peer, outsider.peer, "outsider connected");
            None
        }
        _ => None,
    })
    .await;
    assert_eq!(first_from, Some(b.peer));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_allowed_without_a_peer_closes_its_connection_until_it_is_allowed_again() {
    let (a, b) = (member(), member());
    let mut node_a = start(&a, &[&a, &b], &[]).await;
    let _node_b = start(&b, &[&a, &b], &[&node_a]).await;
    wait_connected(&node_a, &[b.peer]).await;
    let connected = next_matching(&mut node_a, WAIT, |event| match event {
        NetEvent::PeerConnected(peer) => Some(peer),
        _ => None,
    })
    .await;
    assert_eq!(connected, Some(b.peer));

    node_a
        .handle
        .set_allowed(vec![a.key])
        .await
        .expect("valid keys");
    let gone = next_matching(&mut node_a, WAIT, |event| match event {
        NetEvent::PeerDisconnected(peer) => Some(peer),
        _ => None,
    })
    .await;
    assert_eq!(gone, Some(b.peer));

    // B keeps redialling A (A is its bootstrap), and A keeps refusing.
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        let connected = node_a.handle.connected_peers().await.expect("running");
        assert!(!connected.contains(&b.peer), "removed member reconnected");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(node_a.handle.stats().connections_denied > 0);

    // An invalid key changes nothing.
    let not_a_point = not_a_point();
    assert!(peer_id_of(&not_a_point).is_err());
    assert_eq!(
        node_a
            .handle
            .set_allowed(vec![a.key, b.key, not_a_point])
            .await,
        Err(NetError::InvalidMemberKey { key: not_a_point })
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let connected = node_a.handle.connected_peers().await.expect("running");
    assert!(!connected.contains(&b.peer));

    // Allowed again: B's redial gets through.
    node_a
        .handle
        .set_allowed(vec![a.key, b.key])
        .await
        .expect("valid keys");
    wait_connected(&node_a, &[b.peer]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_that_restarts_is_redialled() {
    let (a, b) = (member(), member());
    let mut node_a = start(&a, &[&a, &b], &[]).await;
    let node_b = start(&b, &[&a, &b], &[&node_a]).await;
    wait_connected(&node_a, &[b.peer]).await;
    let b_listen: Multiaddr = {
        let mut address = node_b.address.clone();
        address.pop();
        address
    };
    // A learns B's listen address from identify (B dialled A, so A has no other source).
    let deadline = Instant::now() + WAIT;
    loop {
        let known = node_a.handle.known_addresses().await.expect("running");
        if known
            .iter()
            .any(|(peer, addresses)| *peer == b.peer && addresses.contains(&b_listen))
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "A never learned B's address: {known:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Stop B: dropping every handle stops its task and closes its sockets.
    drop(node_b);
    let gone = next_matching(&mut node_a, WAIT, |event| match event {
        NetEvent::PeerDisconnected(peer) => Some(peer),
        _ => None,
    })
    .await;
    assert_eq!(gone, Some(b.peer));

    // B comes back on the same address with no bootstrap list: only A's redial (to the
    // address A learned from identify) can reconnect them.
    let node_b = start_at(&b, b_listen, &[&a, &b], &[], NetLimits::default()).await;
    wait_connected(&node_a, &[b.peer]).await;
    wait_connected(&node_b, &[a.peer]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_messages_are_refused() {
    let (small, big) = (member(), member());
    let small_limits = NetLimits {
        max_record_message_bytes: 1024,
        max_consensus_message_bytes: 4 * 1024,
        max_sync_response_bytes: 4 * 1024,
        ..NetLimits::default()
    };
    let big_limits = NetLimits {
        max_record_message_bytes: 8 * 1024,
        max_consensus_message_bytes: 64 * 1024,
        max_sync_response_bytes: 64 * 1024,
        max_sync_blocks: 1000,
        ..NetLimits::default()
    };
    let mut node_small = start_with(&small, &[&small, &big], &[], small_limits).await;
    let mut node_big = start_with(&big, &[&small, &big], &[&node_small], big_limits).await;
    wait_connected(&node_small, &[big.peer]).await;

    // Our own limit: refused before anything is sent.
    assert_eq!(
        node_small.handle.publish_record(vec![0; 1025]).await,
        Err(NetError::MessageTooLarge {
            size: 1025,
            max: 1024
        })
    );
    assert_eq!(
        node_small.handle.publish_consensus(vec![0; 4097]).await,
        Err(NetError::MessageTooLarge {
            size: 4097,
            max: 4096
        })
    );

    // Sync first: an oversized gossip frame (below) costs the gossip stream it came on.
    // The big node answers with 32 KiB, over the small node's response limit; the
    // small node refuses to read it and the request fails.
    let requester = node_small.handle.clone();
    let request = tokio::spawn(async move { requester.request_blocks(big.peer, 0, 4).await });
    next_matching(&mut node_big, WAIT, |event| match event {
        NetEvent::SyncRequest { reply, .. } => {
            reply.send(SyncResponse {
                blocks: vec![vec![3; 8 * 1024]; 4],
            });
            Some(())
        }
        _ => None,
    })
    .await
    .expect("big got the request");
    let result = request.await.expect("joined");
    assert!(
        matches!(result, Err(NetError::RequestFailed(_))),
        "{result:?}"
    );

    // The other way round: the big node asks for 500 blocks, the small node's cap of
    // MAX_SYNC_BLOCKS applies, and the small node cuts its own answer to its byte limit,
    // so the request succeeds with the blocks that fit.
    let requester = node_big.handle.clone();
    let request = tokio::spawn(async move { requester.request_blocks(small.peer, 0, 500).await });
    let asked = next_matching(&mut node_small, WAIT, |event| match event {
        NetEvent::SyncRequest { request, reply, .. } => {
            reply.send(SyncResponse {
                blocks: vec![vec![4; 1500]; 4],
            });
            Some(request.max_blocks)
        }
        _ => None,
    })
    .await
    .expect("small got the request");
    assert_eq!(asked, MAX_SYNC_BLOCKS);
    let response = request.await.expect("joined").expect("sync response");
    assert_eq!(response.blocks, vec![vec![4; 1500]; 2]);

    // A peer with larger limits sends a 2 KiB record: over our record limit, under our
    // frame limit. Gossipsub refuses it; the small messages sent after it arrive.
    publish_when_subscribed(&node_big, GossipTopic::Records, vec![1; 2048]).await;
    let (mut got_record, mut got_vote) = (false, false);
    for attempt in 0..40 {
        if !got_record {
            let record = format!("small record {attempt}").into_bytes();
            node_big
                .handle
                .publish_record(record)
                .await
                .expect("published");
        }
        if !got_vote {
            let vote = format!("small vote {attempt}").into_bytes();
            node_big
                .handle
                .publish_consensus(vote)
                .await
                .expect("published");
        }
        let settle = Instant::now() + Duration::from_millis(500);
        while let Some(event) = next_matching(
            &mut node_small,
            settle.saturating_duration_since(Instant::now()),
            Some,
        )
        .await
        {
            match event {
                NetEvent::Record { bytes, .. } => {
                    assert!(
                        bytes.starts_with(b"small record"),
                        "{} bytes arrived",
                        bytes.len()
                    );
                    got_record = true;
                }
                NetEvent::Consensus { bytes, .. } => {
                    assert!(
                        bytes.starts_with(b"small vote"),
                        "{} bytes arrived",
                        bytes.len()
                    );
                    got_vote = true;
                }
                _ => {}
            }
        }
        if got_record && got_vote {
            break;
        }
    }
    assert!(
        got_record && got_vote,
        "record: {got_record}, vote: {got_vote}"
    );

    // A 32 KiB consensus message is over our whole frame limit: the frame is refused
    // unread and never reaches the node (libp2p also drops the stream it came on).
    node_big
        .handle
        .publish_consensus(vec![2; 32 * 1024])
        .await
        .expect("published");
    let arrived = next_matching(
        &mut node_small,
        Duration::from_secs(2),
        |event| match event {
            NetEvent::Record { bytes, .. } | NetEvent::Consensus { bytes, .. } => Some(bytes.len()),
            _ => None,
        },
    )
    .await;
    assert_eq!(arrived, None);
    // The connection itself stays up.
    wait_connected(&node_small, &[big.peer]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gossip_relayed_by_a_member_arrives_as_that_member_s() {
    // Gossip is unsigned (ADR 0011): B lists O as a member, A does not, so O's messages
    // reach A only through B, and A sees them as handed over by B, its member peer. What
    // they carry is judged by its own signatures (admission, consensus), not here.
    let (a, b, outsider) = (member(), member(), member());
    let mut node_a = start(&a, &[&a, &b], &[]).await;
    let mut node_b = start(&b, &[&a, &b, &outsider], &[&node_a]).await;
    wait_connected(&node_b, &[a.peer]).await;
    warm_up(&mut [&mut node_a, &mut node_b]).await;
    let node_o = start(&outsider, &[&b, &outsider], &[&node_b]).await;
    wait_connected(&node_b, &[outsider.peer]).await;

    // On the consensus topic: records are not relayed at all (ADR 0012).
    let from_outsider = b"vote by the outsider".to_vec();
    publish_when_subscribed(&node_o, GossipTopic::Consensus, from_outsider.clone()).await;
    assert_eq!(
        next_matching(&mut node_b, WAIT, consensus_from(&from_outsider)).await,
        Some(outsider.peer)
    );
    assert_eq!(
        next_matching(&mut node_a, WAIT, consensus_from(&from_outsider)).await,
        Some(b.peer)
    );
    assert_eq!(node_a.handle.stats().gossip_rejected, 0);
    // The outsider itself never gets a connection to A.
    assert!(!node_a
        .handle
        .connected_peers()
        .await
        .expect("running")
        .contains(&outsider.peer));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_node_drops_gossip_with_a_counter_instead_of_buffering() {
    let (a, b) = (member(), member());
    let capacity = 4;
    let limits = NetLimits {
        event_queue_capacity: capacity,
        ..NetLimits::default()
    };
    let mut node_a = start_with(&a, &[&a, &b], &[], limits).await;
    let node_b = start(&b, &[&a, &b], &[&node_a]).await;
    wait_connected(&node_a, &[b.peer]).await;

    // A's node reads nothing while B publishes many more messages than fit.
    let sent = 30u64;
    publish_when_subscribed(&node_b, GossipTopic::Records, b"record 0".to_vec()).await;
    for i in 1..sent {
        let record = format!("record {i}").into_bytes();
        node_b
            .handle
            .publish_record(record)
            .await
            .expect("published");
    }
    let deadline = Instant::now() + WAIT;
    loop {
        let stats = node_a.handle.stats();
        if stats.gossip_received + stats.gossip_dropped_queue_full == sent {
            assert!(stats.gossip_received <= capacity as u64, "{stats:?}");
            assert!(
                stats.gossip_dropped_queue_full >= sent - capacity as u64,
                "{stats:?}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "not all gossip seen: {stats:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The queue holds at most its capacity; after draining, new gossip flows again.
    let mut queued = 0;
    while node_a.events.try_recv().is_ok() {
        queued += 1;
    }
    assert!(queued <= capacity, "{queued} events were queued");
    let later = b"after draining".to_vec();
    node_b
        .handle
        .publish_record(later.clone())
        .await
        .expect("published");
    assert_eq!(
        next_matching(&mut node_a, WAIT, record_from(&later)).await,
        Some(b.peer)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listening_on_a_port_in_use_is_a_typed_error() {
    let a = member();
    let node_a = start(&a, &[&a], &[]).await;
    let mut taken = node_a.address.clone();
    taken.pop();
    let config = NetworkConfig {
        listen: taken,
        bootstrap: Vec::new(),
        limits: NetLimits::default(),
    };
    let keypair = keypair_from_secret(member().secret).expect("keypair");
    let result = Network::spawn(config, keypair, vec![a.key]);
    assert!(
        matches!(result, Err(NetError::Transport(_))),
        "{:?}",
        result.err()
    );
}
