//! Membership end to end with real processes: a key that is not a member cannot connect
//! and its records never commit; admins add it as a fifth member, and it connects, syncs
//! and votes (without it a quorum of the five is impossible); then a member is removed:
//! its connections close and its records are refused.
//!
//! Needs the binaries: `cargo build --release --bins` before `cargo test --release`.

use std::time::Duration;

use tongban_ledger::crypto::public_key;
use tongban_ledger::ids::RegionCode;
use tongban_ledger::types::{Member, MemberChange, MemberStatus, RecordBody, RecordPayload, Role};
use tongban_tests::cluster::{member_id, test_key, Cluster, CHAIN_ID, DEFAULT_WAIT};

fn connected(cluster: &Cluster, node: usize) -> u64 {
    cluster.nodes[node]
        .status()
        .and_then(|s| s["connected_peers"].as_u64())
        .unwrap_or(0)
}

fn validators(cluster: &Cluster, node: usize) -> usize {
    let (_, members) = cluster.nodes[node].get("/v1/members");
    members["validators"]["validators"]
        .as_array()
        .map_or(0, Vec::len)
}

/// Proposes `change` with admin 0 and approves it with admin 1 (two admins: both are
/// needed); returns the height at which it applied.
fn govern(cluster: &mut Cluster, proposal_id: u64, change: MemberChange) -> u64 {
    let propose = cluster.admin_record(
        0,
        RecordBody::ProposeMemberChange {
            proposal_id,
            change,
        },
    );
    let (code, body) = cluster.nodes[0].submit(&propose, true);
    assert_eq!(code, 200, "{body}");
    let approve = cluster.admin_record(1, RecordBody::Approve { proposal_id });
    let (code, body) = cluster.nodes[0].submit(&approve, true);
    assert_eq!(code, 200, "{body}");
    body["height"].as_u64().expect("height")
}

#[test]
fn outsider_is_refused_then_added_then_a_member_is_removed() {
    let mut cluster = Cluster::new(4, 2, 1_000);
    // Node index 4: a key that is not in the member list.
    let outsider_key = test_key(5);
    let outsider = cluster.add_node(outsider_key.clone(), member_id(5));
    cluster.start_all();
    cluster.wait_height(&[0, 1, 2, 3], 2);

    // The outsider cannot connect: the members see only each other, it sees nobody.
    cluster.wait_for("members connected to each other", DEFAULT_WAIT, |c| {
        (0..4).all(|i| connected(c, i) == 3)
    });
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(connected(&cluster, outsider), 0);
    assert!((0..4).all(|i| connected(&cluster, i) == 3));
    assert_eq!(
        cluster.nodes[outsider].height(),
        0,
        "the outsider must not sync"
    );

    // Its records never commit: refused by members, and stuck at the outsider itself.
    let own = RecordPayload {
        chain_id: CHAIN_ID.to_string(),
        author: public_key(&outsider_key),
        nonce: 1,
        body: RecordBody::Approve { proposal_id: 99 },
    }
    .sign(&outsider_key);
    let (code, body) = cluster.nodes[0].submit(&own, false);
    assert_eq!(code, 422, "{body}");
    // Approve is an admin-signed body, so a key that is neither member nor admin is
    // refused as not an admin.
    assert_eq!(body["code"], "not_admin", "{body}");
    let valid_elsewhere = cluster.admin_record(
        0,
        RecordBody::ProposeMemberChange {
            proposal_id: 50,
            change: MemberChange::AddAdmin(public_key(&test_key(250))),
        },
    );
    let (code, body) = cluster.nodes[outsider].submit(&valid_elsewhere, false);
    assert_eq!(code, 202, "{body}");
    let hash = body["record_hash"].as_str().expect("hash").to_string();
    let height = cluster.nodes[0].height();
    cluster.wait_height(&[0, 1, 2, 3], height + 3);
    for node in 0..4 {
        let (code, _) = cluster.nodes[node].get(&format!("/v1/records/{hash}"));
        assert_eq!(code, 404, "an outsider's record reached node {node}");
    }

    // Governance adds it as a fifth validator.
    let added = Member {
        id: member_id(5),
        name: "测试部门 5".to_string(),
        region: RegionCode::parse("110000").expect("region"),
        key: public_key(&outsider_key),
        roles: vec![Role::Validator],
        status: MemberStatus::Active,
    };
    let applied = govern(&mut cluster, 1, MemberChange::Add(added));
    cluster.wait_for("the fifth member connects and syncs", DEFAULT_WAIT, |c| {
        c.nodes[outsider].height() > applied && connected(c, outsider) >= 3
    });
    assert_eq!(validators(&cluster, 0), 5);
    assert_eq!(validators(&cluster, outsider), 5);

    // It votes: with one of the original four down, a quorum of five (4 votes) needs it.
    cluster.nodes[3].kill();
    let height = cluster.nodes[0].height();
    cluster.wait_height(&[0, 1, 2, outsider], height + 3);
    cluster.nodes[3].start();
    cluster.wait_height(&[3], height + 3);

    // Remove member 2 (node index 1): its connections close, its records are refused.
    let removed_key = cluster.nodes[1].key.clone();
    govern(&mut cluster, 2, MemberChange::Remove(member_id(2)));
    cluster.wait_for(
        "the removed member's connections close",
        DEFAULT_WAIT,
        |c| connected(c, 1) == 0 && [0, 2, 3, outsider].iter().all(|&i| connected(c, i) == 3),
    );
    let removed_record = RecordPayload {
        chain_id: CHAIN_ID.to_string(),
        author: public_key(&removed_key),
        nonce: u64::MAX / 2,
        body: RecordBody::Approve { proposal_id: 1 },
    }
    .sign(&removed_key);
    let (code, body) = cluster.nodes[0].submit(&removed_record, false);
    assert_eq!(code, 422, "{body}");
    assert_eq!(validators(&cluster, 0), 4);
    // The four remaining validators go on.
    let height = cluster.nodes[0].height();
    cluster.wait_height(&[0, 2, 3, outsider], height + 2);
}
