//! A stalled height that only re-sent votes can finish, with real processes.
//!
//! Two of four validators are killed together; the other two cannot reach a quorum
//! (three of four) and sit in a round's prevote or precommit step, where no timeout is
//! armed until a quorum of votes of that step is seen. One of the killed validators is
//! restarted: it syncs to the last committed block, and then it needs the votes the two
//! sent before it came back, which only their once-a-second re-send can bring (gossip
//! keeps no history that old). With those, the three reach a quorum and commit again.
//!
//! Before re-sends carried their own bytes (ADR 0017), gossipsub refused a re-send as a
//! duplicate of the first copy for a minute and the height stayed stalled that long.
//!
//! Needs the binaries: `cargo build --release --bins` before `cargo test --release`.

use std::time::{Duration, Instant};

use tongban_tests::cluster::Cluster;

/// Well under gossipsub's one-minute duplicate cache, and well over the time the
/// restarted node needs to start, sync and go through a round's timeouts.
const RESUME_WITHIN: Duration = Duration::from_secs(30);

#[test]
fn restarted_validator_gets_the_votes_sent_while_it_was_down() {
    let mut cluster = Cluster::new(4, 1, 500);
    cluster.start_all();
    cluster.wait_height(&[0, 1, 2, 3], 2);

    cluster.nodes[2].kill();
    cluster.nodes[3].kill();
    // Two of four commit nothing: wait until both have been stuck long enough to have
    // sent their votes of the stalled round (the propose timeout is 3 s).
    let mut stalled = (cluster.nodes[0].height(), Instant::now());
    cluster.wait_for("the two survivors to stall", Duration::from_secs(60), |c| {
        let head = c.nodes[0].height().max(c.nodes[1].height());
        if head != stalled.0 {
            stalled = (head, Instant::now());
        }
        stalled.1.elapsed() >= Duration::from_secs(8)
    });
    let stalled_at = stalled.0;
    assert_eq!(
        cluster.nodes[0].height().max(cluster.nodes[1].height()),
        stalled_at,
        "two of four validators committed a block"
    );

    cluster.nodes[2].start();
    let restarted = Instant::now();
    cluster.wait_for(
        "three of four to commit past the stalled height",
        RESUME_WITHIN,
        |c| [0, 1, 2].iter().all(|&i| c.nodes[i].height() > stalled_at),
    );
    let resumed_ms = restarted.elapsed().as_millis();
    let resends: Vec<u64> = (0..3)
        .map(|i| cluster.nodes[i].metric("tongban_consensus_resends_total"))
        .collect();
    eprintln!(
        "stalled at height {stalled_at}; committed again {resumed_ms} ms after the \
         restart; re-sends per node {resends:?}"
    );
    // The two that waited through the stall re-sent (that is what brought the
    // restarted node the votes it missed).
    assert!(resends[0] > 0 && resends[1] > 0, "re-sends {resends:?}");

    // The fourth comes back and everyone agrees on the head.
    cluster.nodes[3].start();
    let head = cluster.nodes[0].height() + 1;
    cluster.wait_height(&[0, 1, 2, 3], head);
    cluster.assert_same_block(head);
}
