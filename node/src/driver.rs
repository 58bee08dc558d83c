//! The consensus driver: the ONE task that owns the [`Consensus`] state machine and the
//! only writer of the ledger.
//!
//! It feeds the machine one input at a time (network messages, timeouts, its own block
//! values, sync results) and carries out the outputs strictly in order:
//!
//! - `PersistSafetyState` is written to RocksDB with fsync before the next output, so no
//!   vote or proposal leaves before the state that signed it is durable; a failed write
//!   stops the node.
//! - `Broadcast` goes to the consensus gossip topic; a proposal travels with its block.
//!   `Retransmit` is fed after a second in which consensus did not move, and what it
//!   re-sends carries a fresh re-send number so that gossip passes it on (ADR 0017).
//! - `ScheduleTimeout` arms a timer of the driver's own timer wheel.
//! - `RequestValue` builds a block from the mempool (execution in build mode).
//! - `Decide` commits the decided block and its commit in one atomic, synced batch, then
//!   resolves `?wait=commit` callers, prunes the mempool, updates the network allow-list
//!   when the member list changed, and prepares the next height.
//!
//! A proposed block is validated by executing it (validate mode: every record must pass,
//! the header must match the result) before the proposal is fed in with its verdict.
//! Signatures of records already in the mempool are not verified again.
//!
//! The next height starts (`NewHeight`) when records are waiting (after
//! `propose_batch_delay_ms`, to fill blocks), when `max_block_interval_ms` has passed
//! since the last block, or as soon as another validator's message for it arrives, so all
//! validators enter a height together and empty blocks are made only at the interval.
//!
//! Block sync: a message from a height above ours, a decision whose block we never saw,
//! or a fresh start makes the driver ask a peer for the blocks after its head; each
//! block is checked against its commit (more than 2/3 of that height's validators),
//! executed, and committed, and consensus jumps to the new height.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use libp2p::PeerId;
use tokio::sync::{mpsc, Notify};
use tongban_consensus::{Consensus, Input, Message, Output, SafetyState, Step};
use tongban_ledger::crypto::public_key;
use tongban_ledger::types::{Block, Commit, Height, Round, SignedProposal};
use tongban_ledger::{Hash32, PublicKey};

use crate::ledger::{BlockCheck, Executed, Ledger, LedgerError};
use crate::mempool::Mempool;
use crate::metrics::Metrics;
use crate::net::{GossipTopic, NetError, NetworkHandle, SyncResponse};
use crate::status::StatusCell;
use crate::waiters::{Fate, Waiters};
use tongban_ledger::wire::{ConsensusGossip, ConsensusWire, SyncedBlock};

/// Capacity of the driver's event queue (consensus gossip, sync results, peer events).
pub const DRIVER_QUEUE: usize = 4_096;
/// Most candidate blocks (proposed for the current height) kept.
pub const MAX_CANDIDATES: usize = 64;
/// Most timers armed at once; stale ones (older heights) are dropped first.
pub const MAX_TIMERS: usize = 1_024;
/// Blocks asked for per sync request.
pub const SYNC_BATCH_BLOCKS: u32 = 32;
/// Least time between two sync requests.
pub const SYNC_MIN_INTERVAL: Duration = Duration::from_millis(300);
/// Own messages are re-sent when consensus has not moved (height, round or step) for
/// this long, and again at this interval while it stays put (Tendermint assumes
/// reliable gossip; ADR 0017).
pub const RETRANSMIT_INTERVAL: Duration = Duration::from_millis(1_000);
/// Most next-height proposals held until our head reaches their parent.
pub const MAX_HELD_PROPOSALS: usize = 16;
/// Room in a proposal message for everything but the block's records (the proposal and
/// its signature, the header, length prefixes), generously.
pub const PROPOSAL_OVERHEAD_BYTES: usize = 64 * 1024;
/// A proposed block's time may be at most this far ahead of our clock.
pub const MAX_CLOCK_DRIFT_MS: u64 = 30_000;

/// What the driver reacts to besides its timers.
#[derive(Debug)]
pub enum DriverEvent {
    /// A consensus gossip message.
    Consensus {
        /// The member that published it.
        from: PeerId,
        /// Its bytes.
        bytes: Vec<u8>,
    },
    /// The answer to a sync request.
    SyncResponse {
        /// The peer asked.
        peer: PeerId,
        /// The answer.
        result: Result<SyncResponse, NetError>,
    },
    /// A member connected.
    PeerConnected(PeerId),
    /// A member disconnected.
    PeerDisconnected(PeerId),
}

/// The driver's settings.
#[derive(Debug, Clone)]
pub struct DriverConfig {
    /// Wait for more records before proposing.
    pub propose_batch_delay: Duration,
}

/// A block proposed for the current height, with our verdict.
#[derive(Debug)]
struct Candidate {
    block: Arc<Block>,
    /// The execution result when the block is valid on top of our head.
    executed: Option<Executed>,
}

/// The task that owns consensus.
#[derive(Debug)]
pub struct Driver {
    config: DriverConfig,
    own_key: PublicKey,
    consensus: Consensus,
    ledger: Arc<Ledger>,
    mempool: Arc<Mutex<Mempool>>,
    records_added: Arc<Notify>,
    net: NetworkHandle,
    metrics: Arc<Metrics>,
    waiters: Arc<Waiters>,
    status: Arc<StatusCell>,
    events_tx: mpsc::Sender<DriverEvent>,
    /// The height consensus works on: head + 1.
    height: Height,
    /// `NewHeight` was fed for `height`.
    started: bool,
    /// When to start `height` if nothing else starts it earlier.
    start_at: Instant,
    candidates: HashMap<Hash32, Candidate>,
    timers: BTreeMap<Instant, Vec<(Height, Round, Step)>>,
    timer_count: usize,
    peers: Vec<PeerId>,
    sync_in_flight: bool,
    last_sync_request: Option<Instant>,
    /// Next peer to ask (round-robin over `peers`).
    sync_cursor: usize,
    /// A member-list change committed: update the network allow-list.
    members_dirty: bool,
    /// Proposals for height + 1 that arrived before we committed this height.
    held_proposals: Vec<(SignedProposal, Arc<Block>)>,
    /// The head moved: `after_commit` is due.
    advanced: bool,
    /// Start the new height without waiting (we synced: others are already there).
    start_now: bool,
    /// Where consensus was when last seen to move, and when.
    progress: (Height, Round, Step),
    progress_at: Instant,
    /// The re-send number of the messages being sent: 0 for first sends.
    resend: u64,
    /// The last re-send number used. Starts at the clock in ms, so that numbers stay
    /// unused across restarts (one is used per second of no progress).
    last_resend: u64,
}

/// Why the driver stopped.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    /// The ledger failed (storage): the node must stop rather than go on with a
    /// doubtful state.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The event queue closed (the network task is gone).
    #[error("the network task stopped")]
    NetworkGone,
}

impl Driver {
    /// A driver starting from the ledger's head and the persisted safety state.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        config: DriverConfig,
        consensus_config: tongban_consensus::Config,
        key: SigningKey,
        ledger: Arc<Ledger>,
        mempool: Arc<Mutex<Mempool>>,
        records_added: Arc<Notify>,
        net: NetworkHandle,
        metrics: Arc<Metrics>,
        waiters: Arc<Waiters>,
        status: Arc<StatusCell>,
        events_tx: mpsc::Sender<DriverEvent>,
    ) -> Result<Driver, DriverError> {
        let consensus = match ledger.safety_state()? {
            Some(state) => {
                tracing::info!(
                    height = state.height,
                    round = state.round,
                    "restoring consensus safety state"
                );
                Consensus::restore(consensus_config, key.clone(), state)
            }
            None => Consensus::new(consensus_config, key.clone()),
        };
        let head = ledger.head();
        let own_key = public_key(&key);
        let mut driver = Driver {
            config,
            own_key,
            consensus,
            ledger,
            mempool,
            records_added,
            net,
            metrics,
            waiters,
            status,
            events_tx,
            height: head.height + 1,
            started: false,
            start_at: Instant::now(),
            candidates: HashMap::new(),
            timers: BTreeMap::new(),
            timer_count: 0,
            peers: Vec::new(),
            sync_in_flight: false,
            last_sync_request: None,
            sync_cursor: 0,
            members_dirty: false,
            held_proposals: Vec::new(),
            advanced: false,
            start_now: false,
            progress: (0, 0, Step::Propose),
            progress_at: Instant::now(),
            resend: 0,
            last_resend: crate::clock::now_ms(),
        };
        driver.schedule_start();
        driver.publish_status();
        Ok(driver)
    }

    /// Runs until the network is gone or the ledger fails.
    pub async fn run(mut self, mut events: mpsc::Receiver<DriverEvent>) -> Result<(), DriverError> {
        let mut retransmit = tokio::time::interval(RETRANSMIT_INTERVAL);
        retransmit.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let records_added = Arc::clone(&self.records_added);
        loop {
            let next_timer = self.timers.keys().next().copied();
            let start_at = (!self.started).then_some(self.start_at);
            tokio::select! {
                event = events.recv() => {
                    let Some(event) = event else { return Err(DriverError::NetworkGone) };
                    self.on_event(event).await?;
                }
                () = sleep_until_opt(next_timer) => self.on_timers().await?,
                () = sleep_until_opt(start_at) => self.start_height().await?,
                () = records_added.notified() => self.on_records_added(),
                _ = retransmit.tick() => {
                    if self.started && self.progress_at.elapsed() >= RETRANSMIT_INTERVAL {
                        self.resend_own_messages().await?;
                    }
                }
            }
            while self.advanced {
                self.advanced = false;
                let start_now = std::mem::take(&mut self.start_now);
                self.after_commit(start_now).await?;
            }
            if self.members_dirty {
                self.members_dirty = false;
                self.update_allow_list().await;
            }
        }
    }

    // -----------------------------------------------------------------------------
    // Inputs
    // -----------------------------------------------------------------------------

    async fn on_event(&mut self, event: DriverEvent) -> Result<(), DriverError> {
        match event {
            DriverEvent::Consensus { from, bytes } => self.on_consensus_message(from, &bytes).await,
            DriverEvent::SyncResponse { peer, result } => self.on_sync_response(peer, result).await,
            DriverEvent::PeerConnected(peer) => {
                if !self.peers.contains(&peer) {
                    self.peers.push(peer);
                }
                self.metrics.connected_peers.set(self.peers.len() as i64);
                self.publish_status();
                // A fresh peer may be ahead of us (we restarted or joined late).
                self.request_sync(Some(peer));
                Ok(())
            }
            DriverEvent::PeerDisconnected(peer) => {
                self.peers.retain(|p| p != &peer);
                self.metrics.connected_peers.set(self.peers.len() as i64);
                self.publish_status();
                Ok(())
            }
        }
    }

    async fn on_consensus_message(
        &mut self,
        from: PeerId,
        bytes: &[u8],
    ) -> Result<(), DriverError> {
        let message = match ConsensusGossip::from_bytes(bytes) {
            Ok(gossip) => gossip.message,
            Err(e) => {
                self.metrics.bad_messages.inc();
                tracing::debug!(%from, "undecodable consensus message: {e}");
                return Ok(());
            }
        };
        let height = message.height();
        if height < self.height {
            // Old news; consensus would refuse it anyway. A Commit for an old height is
            // how a peer helps laggards: we are not one.
            return Ok(());
        }
        if height > self.height + 1 {
            // Others are more than one height past us: fetch the blocks we lack.
            // (One height behind is consensus's own business: peers re-send the
            // commit of the height we miss, and height + 1 messages are buffered.)
            self.request_sync(Some(from));
            return Ok(());
        }
        if height == self.height && !self.started {
            // Another validator has started our height: start too.
            self.start_height().await?;
        }
        match message {
            ConsensusWire::Proposal { proposal, block } => self.on_proposal(proposal, block).await,
            ConsensusWire::Vote(vote) => self.feed(Input::Vote(vote)).await,
            ConsensusWire::Commit(commit) => self.feed(Input::Commit(commit)).await,
        }
    }

    async fn on_proposal(
        &mut self,
        proposal: SignedProposal,
        block: Arc<Block>,
    ) -> Result<(), DriverError> {
        if block.header.hash() != proposal.proposal.block_hash {
            self.metrics.bad_messages.inc();
            tracing::debug!("proposal whose block does not match its hash; ignored");
            return Ok(());
        }
        let block_hash = proposal.proposal.block_hash;
        let valid = if proposal.proposal.height != self.height {
            // For the next height: held until our head reaches its parent, then
            // validated and fed.
            return self.feed_proposal_later(proposal, block);
        } else if let Some(candidate) = self.candidates.get(&block_hash) {
            candidate.executed.is_some()
        } else {
            let executed = self.validate(&block).await?;
            let valid = executed.is_some();
            self.insert_candidate(block_hash, Candidate { block, executed });
            valid
        };
        self.feed(Input::Proposal { proposal, valid }).await
    }

    /// Holds a next-height proposal until our head reaches its parent.
    fn feed_proposal_later(
        &mut self,
        proposal: SignedProposal,
        block: Arc<Block>,
    ) -> Result<(), DriverError> {
        if proposal.proposal.height == self.height + 1
            && self.held_proposals.len() < MAX_HELD_PROPOSALS
        {
            self.held_proposals.push((proposal, block));
        }
        Ok(())
    }

    /// Executes a proposed block on top of our head (validate mode). `None` = invalid.
    async fn validate(&self, block: &Arc<Block>) -> Result<Option<Executed>, DriverError> {
        let ledger = Arc::clone(&self.ledger);
        let mempool = Arc::clone(&self.mempool);
        let block = Arc::clone(block);
        let now_ms = crate::clock::now_ms();
        let started = Instant::now();
        let records = block.records.len();
        let result = tokio::task::spawn_blocking(move || {
            let verified = |hash: &Hash32| {
                mempool
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .contains(hash)
            };
            ledger.validate_block(&block, now_ms + MAX_CLOCK_DRIFT_MS, &verified)
        })
        .await
        .map_err(|e| LedgerError::Fault(format!("validation task failed: {e}")))?;
        tracing::debug!(
            height = self.height,
            records,
            validate_ms = started.elapsed().as_millis() as u64,
            "validated a proposed block"
        );
        match result {
            Ok(executed) => Ok(Some(executed)),
            Err(BlockCheck::Invalid(reason)) => {
                tracing::warn!(height = self.height, "proposed block is invalid: {reason}");
                Ok(None)
            }
            Err(BlockCheck::Fault(e)) => Err(DriverError::Ledger(e)),
        }
    }

    fn insert_candidate(&mut self, hash: Hash32, candidate: Candidate) {
        if self.candidates.len() >= MAX_CANDIDATES {
            // Keep our own and the first ones; a flood of proposals (only the round's
            // proposer may send one, so this takes many rounds) loses the newest.
            tracing::warn!("candidate block table full; dropping a proposal's block");
            return;
        }
        self.candidates.insert(hash, candidate);
    }

    fn on_records_added(&mut self) {
        if !self.started {
            let at = Instant::now() + self.config.propose_batch_delay;
            if at < self.start_at {
                self.start_at = at;
            }
        }
    }

    async fn on_timers(&mut self) -> Result<(), DriverError> {
        let now = Instant::now();
        let due: Vec<Instant> = self.timers.range(..=now).map(|(at, _)| *at).collect();
        for at in due {
            if let Some(list) = self.timers.remove(&at) {
                self.timer_count -= list.len();
                for (height, round, step) in list {
                    if height == self.height {
                        self.feed(Input::Timeout {
                            height,
                            round,
                            step,
                        })
                        .await?;
                    }
                }
            }
        }
        Ok(())
    }

    // -----------------------------------------------------------------------------
    // Heights
    // -----------------------------------------------------------------------------

    /// When to start the next height if no records come: `max_block_interval_ms` after
    /// the head block's time, or at once when records are already waiting.
    fn schedule_start(&mut self) {
        let head = self.ledger.head();
        let interval_ms = self.ledger.params().max_block_interval_ms;
        let now_ms = crate::clock::now_ms();
        let due_ms = head.time_ms.saturating_add(interval_ms);
        let wait = Duration::from_millis(due_ms.saturating_sub(now_ms).min(interval_ms));
        let has_records = !self.lock_mempool().is_empty();
        let wait = if has_records {
            wait.min(self.config.propose_batch_delay)
        } else {
            wait
        };
        self.start_at = Instant::now() + wait;
    }

    async fn start_height(&mut self) -> Result<(), DriverError> {
        if self.started {
            return Ok(());
        }
        self.started = true;
        let validators = self.ledger.validators_for(self.height)?;
        tracing::debug!(
            height = self.height,
            validators = validators.len(),
            "starting height"
        );
        self.feed(Input::NewHeight {
            height: self.height,
            validators,
        })
        .await
    }

    // -----------------------------------------------------------------------------
    // Outputs
    // -----------------------------------------------------------------------------

    /// Feeds one input and carries out the outputs in order. Outputs that feed inputs
    /// back (our own block value) are queued and processed in turn, never nested.
    async fn feed(&mut self, input: Input) -> Result<(), DriverError> {
        let mut inputs = std::collections::VecDeque::from([input]);
        while let Some(input) = inputs.pop_front() {
            let outputs = self.consensus.process(input);
            for output in outputs {
                if let Some(next) = self.carry_out(output).await? {
                    inputs.push_back(next);
                }
            }
        }
        self.metrics.round.set(i64::from(self.consensus.round()));
        let now = (
            self.consensus.height(),
            self.consensus.round(),
            self.consensus.step(),
        );
        if now != self.progress {
            self.progress = now;
            self.progress_at = Instant::now();
        }
        Ok(())
    }

    /// Consensus has not moved for [`RETRANSMIT_INTERVAL`]: someone may have missed our
    /// messages (a peer that restarted, or dropped them when its queue was full), and
    /// without them a quorum may never form. Each re-send gets a number of its own, so
    /// that its bytes differ from every earlier copy and gossip passes it on.
    async fn resend_own_messages(&mut self) -> Result<(), DriverError> {
        self.last_resend += 1;
        self.resend = self.last_resend;
        self.metrics.consensus_resends.inc();
        let result = self.feed(Input::Retransmit).await;
        self.resend = 0;
        result
    }

    async fn carry_out(&mut self, output: Output) -> Result<Option<Input>, DriverError> {
        match output {
            Output::PersistSafetyState(state) => {
                self.persist(&state)?;
                Ok(None)
            }
            Output::Broadcast(message) => {
                self.broadcast(message).await;
                Ok(None)
            }
            Output::ScheduleTimeout {
                height,
                round,
                step,
                duration_ms,
            } => {
                self.arm_timer(height, round, step, duration_ms);
                Ok(None)
            }
            Output::RequestValue { height, round } => self.build_value(height, round).await,
            Output::Decide {
                height,
                round: _,
                block_hash,
                commit,
            } => {
                self.on_decide(height, block_hash, commit).await?;
                Ok(None)
            }
            Output::Evidence(evidence) => {
                tracing::warn!(
                    validator = evidence.validator_index(),
                    "validator misbehaved: {evidence:?}"
                );
                Ok(None)
            }
            Output::Rejected(error) => {
                tracing::debug!("consensus refused an input: {error}");
                Ok(None)
            }
        }
    }

    fn persist(&self, state: &SafetyState) -> Result<(), DriverError> {
        // Synced write: what follows may be a vote or proposal signed under this state.
        // The fsync blocks this thread; the runtime's other tasks move off it meanwhile
        // (the node runs on the multi-thread runtime).
        tokio::task::block_in_place(|| self.ledger.put_safety_state(state))?;
        Ok(())
    }

    async fn broadcast(&mut self, message: Message) {
        let wire = match message {
            Message::Proposal(proposal) => {
                let Some(candidate) = self.candidates.get(&proposal.proposal.block_hash) else {
                    tracing::warn!("own proposal's block is not at hand; not sent");
                    return;
                };
                ConsensusWire::Proposal {
                    proposal,
                    block: Arc::clone(&candidate.block),
                }
            }
            Message::Vote(vote) => ConsensusWire::Vote(vote),
            Message::Commit(commit) => ConsensusWire::Commit(commit),
        };
        let gossip = ConsensusGossip {
            message: wire,
            resend: self.resend,
        };
        if let Err(e) = self.net.publish_consensus(gossip.to_bytes()).await {
            // No peer connected yet, typically; the retransmit tick re-sends.
            tracing::debug!("consensus message not sent: {e}");
        }
    }

    fn arm_timer(&mut self, height: Height, round: Round, step: Step, duration_ms: u64) {
        if self.timer_count >= MAX_TIMERS {
            let current = self.height;
            self.timers.retain(|_, list| {
                list.retain(|(h, _, _)| *h >= current);
                !list.is_empty()
            });
            self.timer_count = self.timers.values().map(Vec::len).sum();
            if self.timer_count >= MAX_TIMERS {
                tracing::warn!("timer table full; timeout dropped");
                return;
            }
        }
        let at = Instant::now() + Duration::from_millis(duration_ms);
        self.timers
            .entry(at)
            .or_default()
            .push((height, round, step));
        self.timer_count += 1;
    }

    /// `getValue()`: build and execute a block from the mempool.
    async fn build_value(
        &mut self,
        height: Height,
        round: Round,
    ) -> Result<Option<Input>, DriverError> {
        if height != self.height {
            return Ok(None);
        }
        let started = Instant::now();
        let max_records = self.ledger.params().max_block_records as usize;
        // The block travels inside one proposal message: its records must fit in it.
        let max_bytes = self
            .net
            .max_payload(GossipTopic::Consensus)
            .saturating_sub(PROPOSAL_OVERHEAD_BYTES);
        let entries = self.lock_mempool().take_for_block(max_records, max_bytes);
        let records: Vec<_> = entries.iter().map(|e| (*e.record).clone()).collect();
        let verified: HashSet<Hash32> = entries.iter().map(|e| e.hash).collect();
        let head = self.ledger.head();
        let time_ms = crate::clock::now_ms().max(head.time_ms + 1);
        let ledger = Arc::clone(&self.ledger);
        let proposer = self.own_key;
        let built = tokio::task::spawn_blocking(move || {
            ledger.build_block(&records, proposer, time_ms, &|hash: &Hash32| {
                verified.contains(hash)
            })
        })
        .await
        .map_err(|e| LedgerError::Fault(format!("build task failed: {e}")))??;
        // Records that failed now will fail in any later block too (same state, same
        // rules, until their author fixes them): drop them and tell their submitters.
        if !built.dropped.is_empty() {
            let mut mempool = self.lock_mempool();
            for (hash, code, message) in &built.dropped {
                mempool.remove(hash);
                self.metrics.reject(code);
                self.waiters.resolve(
                    hash,
                    &Fate::Rejected {
                        code,
                        message: message.clone(),
                    },
                );
            }
            self.metrics.mempool_size.set(mempool.len() as i64);
        }
        let block_hash = built.block.header.hash();
        tracing::debug!(
            height,
            round,
            records = built.block.records.len(),
            build_ms = started.elapsed().as_millis() as u64,
            "proposing block {block_hash}"
        );
        self.insert_candidate(
            block_hash,
            Candidate {
                block: Arc::new(built.block),
                executed: Some(built.executed),
            },
        );
        Ok(Some(Input::ProposeValue {
            height,
            round,
            block_hash,
        }))
    }

    async fn on_decide(
        &mut self,
        height: Height,
        block_hash: Hash32,
        commit: Commit,
    ) -> Result<(), DriverError> {
        if height != self.height {
            return Ok(());
        }
        // A validator that missed some of the precommits decides on this certificate
        // instead of waiting for the re-sends of a stalled height (ADR 0017).
        self.broadcast(Message::Commit(commit.clone())).await;
        let Some(candidate) = self.candidates.remove(&block_hash) else {
            // Decided without the block (we missed the proposal): fetch it.
            tracing::info!(height, "decided block {block_hash} not at hand; syncing");
            self.request_sync(None);
            return Ok(());
        };
        let executed = match candidate.executed {
            Some(executed) => executed,
            None => match self.validate(&candidate.block).await? {
                Some(executed) => executed,
                None => {
                    // More than 2/3 signed a block our execution refuses: our state or
                    // software differs from theirs. Stop rather than diverge.
                    return Err(DriverError::Ledger(LedgerError::Fault(format!(
                        "decided block {block_hash} at height {height} does not execute here"
                    ))));
                }
            },
        };
        self.commit_block(&candidate.block, executed, commit, false)
    }

    /// Commits a block and does everything that follows a commit.
    fn commit_block(
        &mut self,
        block: &Block,
        executed: Executed,
        commit: Commit,
        synced: bool,
    ) -> Result<(), DriverError> {
        let started = Instant::now();
        // Execution hashed every record already.
        let record_hashes = executed.record_hashes.clone();
        // One synced RocksDB batch, started here and landing behind (the next write
        // waits for it): other tasks move off this thread meanwhile.
        let info =
            tokio::task::block_in_place(|| self.ledger.commit_block(block, executed, &commit))?;
        let height = block.header.height;
        let block_hash = commit.block_hash;
        // The block's write lands behind the commit (ADR 0024): its submitters hear
        // "committed" once it is on disk, from a task that waits for that.
        let mut committed = Vec::with_capacity(block.records.len());
        {
            let mut mempool = self.lock_mempool();
            let now = Instant::now();
            for (index, (record, &hash)) in block.records.iter().zip(&record_hashes).enumerate() {
                if let Some(entry) = mempool.remove(&hash) {
                    self.metrics
                        .commit_latency_seconds
                        .observe(now.duration_since(entry.admitted_at).as_secs_f64());
                }
                for stale in mempool.remove_stale(&record.payload.author, record.payload.nonce) {
                    self.waiters.resolve(
                        &stale.hash,
                        &Fate::Rejected {
                            code: "stale_nonce",
                            message: format!(
                                "nonce {} is no longer above the author's last committed nonce {}",
                                stale.record.payload.nonce, record.payload.nonce
                            ),
                        },
                    );
                }
                committed.push((
                    hash,
                    Fate::Committed {
                        height,
                        index: index as u32,
                        block_hash,
                    },
                ));
            }
            self.metrics.mempool_size.set(mempool.len() as i64);
        }
        let ledger = Arc::clone(&self.ledger);
        let waiters = Arc::clone(&self.waiters);
        tokio::task::spawn_blocking(move || match ledger.settle() {
            Ok(()) => {
                for (hash, fate) in &committed {
                    waiters.resolve(hash, fate);
                }
            }
            // The driver stops at its next write, which reports the same failure; the
            // submitters time out rather than hear of a block that is not on disk.
            Err(e) => tracing::error!(height, "committed block did not reach the disk: {e}"),
        });
        self.metrics
            .committed_records
            .inc_by(block.records.len() as u64);
        self.metrics.committed_blocks.inc();
        if synced {
            self.metrics.synced_blocks.inc();
        }
        self.metrics.height.set(height as i64);
        if info.members_changed {
            self.members_dirty = true;
        }
        tracing::info!(
            height,
            records = block.records.len(),
            synced,
            commit_ms = started.elapsed().as_millis() as u64,
            "committed block {block_hash}"
        );
        self.height = height + 1;
        self.started = false;
        self.advanced = true;
        self.candidates.clear();
        self.publish_status();
        Ok(())
    }

    /// Runs after the head moved (consensus decision or sync): schedules the start of
    /// the new height and feeds proposals for it that arrived early. Called from the main
    /// loop, never from inside `feed`, so a decision never nests another.
    async fn after_commit(&mut self, start_now: bool) -> Result<(), DriverError> {
        self.schedule_start();
        if start_now {
            self.start_at = Instant::now();
        }
        // Drop timers of finished heights.
        let current = self.height;
        self.timers.retain(|_, list| {
            list.retain(|(h, _, _)| *h >= current);
            !list.is_empty()
        });
        self.timer_count = self.timers.values().map(Vec::len).sum();
        // Proposals for this height that arrived early: validate and feed them now
        // (which also starts the height: a validator is already in it).
        let held = std::mem::take(&mut self.held_proposals);
        for (proposal, block) in held {
            if proposal.proposal.height == self.height {
                self.start_height().await?;
                self.on_proposal(proposal, block).await?;
            } else if proposal.proposal.height == self.height + 1 {
                self.held_proposals.push((proposal, block));
            }
        }
        Ok(())
    }

    // -----------------------------------------------------------------------------
    // Block sync
    // -----------------------------------------------------------------------------

    fn request_sync(&mut self, preferred: Option<PeerId>) {
        if self.sync_in_flight {
            return;
        }
        if let Some(last) = self.last_sync_request {
            if last.elapsed() < SYNC_MIN_INTERVAL {
                return;
            }
        }
        let peer = match preferred.filter(|p| self.peers.contains(p)) {
            Some(peer) => peer,
            None => {
                if self.peers.is_empty() {
                    return;
                }
                self.sync_cursor = (self.sync_cursor + 1) % self.peers.len();
                self.peers[self.sync_cursor]
            }
        };
        self.sync_in_flight = true;
        self.last_sync_request = Some(Instant::now());
        let from_height = self.height;
        let net = self.net.clone();
        let events = self.events_tx.clone();
        tokio::spawn(async move {
            let result = net
                .request_blocks(peer, from_height, SYNC_BATCH_BLOCKS)
                .await;
            // The driver may be gone (shutting down).
            let _ = events
                .send(DriverEvent::SyncResponse { peer, result })
                .await;
        });
    }

    async fn on_sync_response(
        &mut self,
        peer: PeerId,
        result: Result<SyncResponse, NetError>,
    ) -> Result<(), DriverError> {
        self.sync_in_flight = false;
        let response = match result {
            Ok(response) => response,
            Err(e) => {
                tracing::debug!(%peer, "sync request failed: {e}");
                return Ok(());
            }
        };
        let received = response.blocks.len();
        let mut committed = 0usize;
        for bytes in response.blocks {
            let synced = match SyncedBlock::from_bytes(&bytes) {
                Ok(synced) => synced,
                Err(e) => {
                    self.metrics.bad_messages.inc();
                    tracing::warn!(%peer, "undecodable synced block: {e}");
                    break;
                }
            };
            let SyncedBlock { block, commit } = synced;
            let block = Arc::new(block);
            let height = block.header.height;
            if height < self.height {
                continue;
            }
            if height > self.height {
                tracing::warn!(%peer, height, expected = self.height, "synced block out of order");
                break;
            }
            match self.check_synced(&block, &commit).await? {
                Some(executed) => {
                    self.commit_block(&block, executed, commit, true)?;
                    committed += 1;
                }
                None => {
                    tracing::warn!(%peer, height, "synced block refused");
                    break;
                }
            }
        }
        if committed > 0 {
            tracing::info!(%peer, committed, head = self.height - 1, "caught up by block sync");
            // Start the new height at once: others are already there.
            self.start_now = true;
            if received >= SYNC_BATCH_BLOCKS as usize {
                self.request_sync(Some(peer));
            }
        }
        Ok(())
    }

    /// Checks a synced block against its commit and executes it. `None` = refused.
    async fn check_synced(
        &self,
        block: &Arc<Block>,
        commit: &Commit,
    ) -> Result<Option<Executed>, DriverError> {
        let height = block.header.height;
        let block_hash = block.header.hash();
        if commit.height != height || commit.block_hash != block_hash {
            return Ok(None);
        }
        let validators = self.ledger.validators_for(height)?;
        if let Err(e) =
            tongban_consensus::verify_commit(self.ledger.chain_id(), &validators, commit)
        {
            tracing::warn!(height, "synced commit does not verify: {e}");
            return Ok(None);
        }
        // The commit proves more than 2/3 of the validators accepted this block; we still
        // execute it to compute our state, and refuse it if the result differs.
        self.validate(block).await
    }

    // -----------------------------------------------------------------------------
    // Helpers
    // -----------------------------------------------------------------------------

    async fn update_allow_list(&self) {
        match self.ledger.active_member_keys() {
            Ok(keys) => {
                tracing::info!(
                    members = keys.len(),
                    "member list changed; updating the allow-list"
                );
                if let Err(e) = self.net.set_allowed(keys).await {
                    tracing::error!("allow-list update failed: {e}");
                }
            }
            Err(e) => tracing::error!("cannot read the member list: {e}"),
        }
    }

    fn publish_status(&self) {
        let head = self.ledger.head();
        let validators = self.ledger.validators_for(head.height + 1).ok();
        self.status.update(|status| {
            status.height = head.height;
            status.head_hash = head.block_hash;
            status.state_root = head.state_root;
            status.time_ms = head.time_ms;
            status.round = self.consensus.round();
            status.connected_peers = self.peers.len();
            status.syncing = self.sync_in_flight;
            if let Some(validators) = &validators {
                status.validators = validators.len();
                status.is_validator = validators.index_of(&self.own_key).is_some();
            }
        });
    }

    fn lock_mempool(&self) -> std::sync::MutexGuard<'_, Mempool> {
        self.mempool.lock().unwrap_or_else(|e| e.into_inner())
    }
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
        None => std::future::pending().await,
    }
}
