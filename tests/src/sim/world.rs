//! The simulation engine: instances, the event queue on a simulated clock, the
//! application (block values and their validity), the Byzantine mocks, crashes and
//! restarts, and the liveness phase.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};

use ed25519_dalek::SigningKey;
use sha2::{Digest, Sha256};
use tongban_consensus::{Config, Consensus, Input, Message, Output, SafetyState, TimeoutConfig};
use tongban_ledger::codec::encode;
use tongban_ledger::crypto::{self, PROPOSAL_DOMAIN, VOTE_DOMAIN};
use tongban_ledger::ids::{uscc_check_char, MemberId};
use tongban_ledger::types::{
    Commit, Height, SignedProposal, SignedVote, Validator, ValidatorSet, Vote,
};
use tongban_ledger::Hash32;

use super::invariants::{Invariants, Violation};
use super::network::{Faults, Network};
use super::rng::Rng;
use super::{Behaviour, Failure, Report, SimConfig};

const CHAIN: &str = "tongban-sim";
/// Period of the retransmission tick (reliable gossip over lossy links).
const GOSSIP_INTERVAL_MS: u64 = 1_000;
/// A node asks a peer for a commit at most this often.
const SYNC_REQUEST_INTERVAL_MS: u64 = 500;
/// Probability (‰) per event that an honest instance crashes in the chaos phase.
const CRASH_PER_MILLE: u64 = 2;
/// Probability (‰) per output that an honest instance crashes in the middle of
/// carrying out an output batch (after persisting, before sending).
const CRASH_MID_BATCH_PER_MILLE: u64 = 1;
/// Hard cap on events after the chaos phase, against a livelock in the simulator.
const MAX_LIVENESS_EVENTS: u64 = 2_000_000;

fn timeouts() -> TimeoutConfig {
    TimeoutConfig {
        propose_base_ms: 1_000,
        propose_delta_ms: 200,
        prevote_base_ms: 500,
        prevote_delta_ms: 200,
        precommit_base_ms: 500,
        precommit_delta_ms: 200,
    }
}

/// The application's `valid(v)`: a deterministic property of the block hash, so
/// every honest node agrees on it (as re-execution does for real blocks).
pub fn is_valid(block: &Hash32) -> bool {
    block.0[0] & 0b11 != 0
}

/// A block value: hash of (height, round, proposer instance, seed, attempt),
/// searched until it has the wanted validity.
fn make_value(seed: u64, height: Height, round: u32, instance: usize, valid: bool) -> Hash32 {
    for attempt in 0u32.. {
        let hash = crypto::sha256(&[
            b"sim/block",
            &seed.to_le_bytes(),
            &height.to_le_bytes(),
            &round.to_le_bytes(),
            &(instance as u64).to_le_bytes(),
            &attempt.to_le_bytes(),
        ]);
        if is_valid(&hash) == valid {
            return hash;
        }
    }
    unreachable!("a quarter of all hashes are invalid and three quarters valid")
}

#[derive(Debug, Clone)]
enum Payload {
    Consensus(Message),
    SyncRequest { height: Height },
}

#[derive(Debug, Clone)]
enum Event {
    Deliver {
        to: usize,
        from: usize,
        payload: Payload,
    },
    Timer {
        instance: usize,
        incarnation: u64,
        input: Input,
    },
    Gossip {
        instance: usize,
        incarnation: u64,
    },
    Restart {
        instance: usize,
    },
    PartitionStart,
    PartitionHeal,
}

#[derive(Debug)]
struct Scheduled {
    time_ms: u64,
    seq: u64,
    event: Event,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        (self.time_ms, self.seq) == (other.time_ms, other.seq)
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scheduled {
    // Reversed: BinaryHeap is a max-heap and we want the earliest event first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.time_ms, other.seq).cmp(&(self.time_ms, self.seq))
    }
}

#[derive(Debug)]
struct Instance {
    /// Validator index whose key this instance signs with.
    validator: usize,
    behaviour: Behaviour,
    consensus: Option<Consensus>,
    /// The simulated disk: the last persisted safety state.
    disk: SafetyState,
    /// The simulated block store: decided commits by height.
    store: BTreeMap<Height, Commit>,
    /// Bumped on every crash, so timers of a previous life are ignored.
    incarnation: u64,
    last_sync_request_ms: u64,
}

impl Instance {
    fn honest(&self) -> bool {
        self.behaviour == Behaviour::Honest
    }

    fn decided_height(&self) -> Height {
        self.store.keys().next_back().copied().unwrap_or(0)
    }
}

/// One simulation run in progress.
#[derive(Debug)]
pub struct World {
    config: SimConfig,
    rng: Rng,
    now_ms: u64,
    seq: u64,
    steps: u64,
    queue: BinaryHeap<Scheduled>,
    keys: Vec<SigningKey>,
    validators: ValidatorSet,
    instances: Vec<Instance>,
    network: Network,
    invariants: Invariants,
    trace: Sha256,
    chaos: bool,
    report: Report,
}

impl World {
    /// Builds the instances for `config`; nothing runs until [`World::run`].
    pub fn new(config: SimConfig) -> Self {
        let mut rng = Rng::new(config.seed);
        let keys: Vec<SigningKey> = (0..config.validators)
            .map(|_| SigningKey::from_bytes(&rng.bytes32()))
            .collect();
        let mut validators: Vec<Validator> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| Validator {
                member_id: member_id(i),
                key: crypto::public_key(k),
            })
            .collect();
        validators.sort_by(|a, b| a.member_id.cmp(&b.member_id));
        let validators = ValidatorSet { validators };
        let mut instances = Vec::new();
        for (validator, behaviour) in config.behaviours.iter().copied().enumerate() {
            let copies = if behaviour == Behaviour::Twin { 2 } else { 1 };
            for _ in 0..copies {
                instances.push(Instance {
                    validator,
                    behaviour,
                    consensus: None,
                    disk: SafetyState::initial(0),
                    store: BTreeMap::new(),
                    incarnation: 0,
                    last_sync_request_ms: 0,
                });
            }
        }
        let network = Network::new(instances.len(), Faults::chaos_from(&mut rng));
        World {
            config,
            rng,
            now_ms: 0,
            seq: 0,
            steps: 0,
            queue: BinaryHeap::new(),
            keys,
            validators,
            instances,
            network,
            invariants: Invariants::default(),
            trace: Sha256::new(),
            chaos: true,
            report: Report {
                trace_hash: [0; 32],
                steps: 0,
                time_ms: 0,
                heights: 0,
                evidence: 0,
                crashes: 0,
                delivered: 0,
                dropped: 0,
            },
        }
    }

    /// Runs the chaos phase, heals the network, and runs until liveness is shown.
    pub fn run(mut self) -> Result<Report, Box<Failure>> {
        for i in 0..self.instances.len() {
            if self.instances[i].behaviour != Behaviour::Silent {
                self.boot(i)?;
            }
        }
        if self.network.faults.partitions {
            let at = self.rng.between(1_000, 10_000);
            self.schedule(at, Event::PartitionStart);
        }
        while self.steps < self.config.chaos_steps {
            self.step()?;
            if self.config.crashes && self.rng.chance(CRASH_PER_MILLE) {
                let i = self.rng.below(self.instances.len() as u64) as usize;
                if self.instances[i].honest() && self.instances[i].consensus.is_some() {
                    self.crash(i);
                }
            }
        }
        self.heal()?;
        let healed_at = self.now_ms;
        let targets: Vec<(usize, Height)> = self
            .honest_instances()
            .map(|i| {
                (
                    i,
                    self.invariants
                        .highest_decided()
                        .max(self.instances[i].decided_height())
                        + self.config.liveness_heights,
                )
            })
            .collect();
        let mut events = 0;
        loop {
            let done = targets
                .iter()
                .all(|&(i, target)| self.instances[i].decided_height() >= target);
            if done {
                break;
            }
            let too_late = self.now_ms > healed_at + self.config.liveness_bound_ms
                || events > MAX_LIVENESS_EVENTS
                || self.queue.is_empty();
            if too_late {
                let (instance, target) = targets
                    .iter()
                    .copied()
                    .find(|&(i, target)| self.instances[i].decided_height() < target)
                    .unwrap_or((0, 0));
                return Err(self.failure(Violation::Liveness {
                    instance,
                    decided: self.instances[instance].decided_height(),
                    target,
                    detail: self.describe(),
                }));
            }
            self.step()?;
            events += 1;
        }
        self.report.steps = self.steps;
        self.report.time_ms = self.now_ms;
        self.report.heights = self.invariants.heights_decided();
        self.report.trace_hash = self.trace.clone().finalize().into();
        Ok(self.report)
    }

    /// One line per instance, for failure reports.
    fn describe(&self) -> String {
        let mut text = String::new();
        for (i, instance) in self.instances.iter().enumerate() {
            let state = instance.consensus.as_ref().map(|c| {
                (
                    c.height(),
                    c.round(),
                    c.step(),
                    c.locked().map(|l| l.round),
                    c.valid().map(|v| v.round),
                )
            });
            text.push_str(&format!(
                "\n    instance {i} ({:?}, validator {}): decided {}, (height, round, step, locked round, valid round) = {:?}",
                instance.behaviour,
                instance.validator,
                instance.decided_height(),
                state
            ));
        }
        text
    }

    fn honest_instances(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.instances.len()).filter(|&i| self.instances[i].honest())
    }

    fn failure(&self, violation: Violation) -> Box<Failure> {
        Box::new(Failure {
            config: self.config.clone(),
            violation,
            step: self.steps,
            time_ms: self.now_ms,
        })
    }

    fn schedule(&mut self, delay_ms: u64, event: Event) {
        self.seq += 1;
        self.queue.push(Scheduled {
            time_ms: self.now_ms + delay_ms,
            seq: self.seq,
            event,
        });
    }

    fn config_for_node(&self) -> Config {
        Config {
            chain_id: CHAIN.into(),
            timeouts: timeouts(),
        }
    }

    /// First start of an instance.
    fn boot(&mut self, i: usize) -> Result<(), Box<Failure>> {
        let key = self.keys[self.instances[i].validator].clone();
        self.instances[i].consensus = Some(Consensus::new(self.config_for_node(), key));
        self.start(i)
    }

    /// Starts (or restarts) consensus at the height after the stored blocks, and the
    /// gossip tick.
    fn start(&mut self, i: usize) -> Result<(), Box<Failure>> {
        let height = self.instances[i].decided_height() + 1;
        let incarnation = self.instances[i].incarnation;
        self.schedule(
            GOSSIP_INTERVAL_MS,
            Event::Gossip {
                instance: i,
                incarnation,
            },
        );
        let validators = self.validators.clone();
        self.feed(i, Input::NewHeight { height, validators })
    }

    fn crash(&mut self, i: usize) {
        self.report.crashes += 1;
        let instance = &mut self.instances[i];
        instance.consensus = None;
        instance.incarnation += 1;
        let delay = self.rng.between(500, 8_000);
        self.schedule(delay, Event::Restart { instance: i });
    }

    fn restart(&mut self, i: usize) -> Result<(), Box<Failure>> {
        if self.instances[i].consensus.is_some() {
            return Ok(());
        }
        let key = self.keys[self.instances[i].validator].clone();
        let state = self.instances[i].disk.clone();
        self.instances[i].consensus = Some(Consensus::restore(self.config_for_node(), key, state));
        self.start(i)
    }

    /// Ends the chaos phase: faults off, partitions healed, crashed nodes restarted.
    fn heal(&mut self) -> Result<(), Box<Failure>> {
        self.chaos = false;
        self.network.faults = Faults::healed();
        self.network.heal_partition();
        for i in 0..self.instances.len() {
            if self.instances[i].honest() && self.instances[i].consensus.is_none() {
                self.instances[i].incarnation += 1;
                self.restart(i)?;
            }
        }
        Ok(())
    }

    /// Processes the next event.
    fn step(&mut self) -> Result<(), Box<Failure>> {
        let Some(next) = self.queue.pop() else {
            return Ok(());
        };
        self.steps += 1;
        self.now_ms = next.time_ms;
        self.trace.update(self.now_ms.to_le_bytes());
        match next.event {
            Event::Deliver { to, from, payload } => {
                self.trace.update([0, to as u8, from as u8]);
                self.deliver(to, from, payload)
            }
            Event::Timer {
                instance,
                incarnation,
                input,
            } => {
                self.trace.update([1, instance as u8]);
                if self.instances[instance].incarnation == incarnation {
                    self.feed(instance, input)
                } else {
                    Ok(())
                }
            }
            Event::Gossip {
                instance,
                incarnation,
            } => {
                self.trace.update([2, instance as u8]);
                if self.instances[instance].incarnation != incarnation
                    || self.instances[instance].consensus.is_none()
                {
                    return Ok(());
                }
                self.schedule(
                    GOSSIP_INTERVAL_MS,
                    Event::Gossip {
                        instance,
                        incarnation,
                    },
                );
                self.feed(instance, Input::Retransmit)
            }
            Event::Restart { instance } => {
                self.trace.update([3, instance as u8]);
                self.restart(instance)
            }
            Event::PartitionStart => {
                self.trace.update([4]);
                if self.chaos {
                    self.network.partition(&mut self.rng);
                    let heal_in = self.rng.between(2_000, 15_000);
                    self.schedule(heal_in, Event::PartitionHeal);
                }
                Ok(())
            }
            Event::PartitionHeal => {
                self.trace.update([5]);
                self.network.heal_partition();
                if self.chaos {
                    let next_in = self.rng.between(2_000, 20_000);
                    self.schedule(next_in, Event::PartitionStart);
                }
                Ok(())
            }
        }
    }

    fn deliver(&mut self, to: usize, from: usize, payload: Payload) -> Result<(), Box<Failure>> {
        self.report.delivered += 1;
        let Some(current) = self.instances[to].consensus.as_ref().map(|c| c.height()) else {
            return Ok(());
        };
        match payload {
            Payload::SyncRequest { height } => {
                if let Some(commit) = self.instances[to].store.get(&height).cloned() {
                    self.send(to, from, Payload::Consensus(Message::Commit(commit)));
                }
                Ok(())
            }
            Payload::Consensus(message) => {
                self.trace.update(encode(&message));
                let height = match &message {
                    Message::Proposal(p) => p.proposal.height,
                    Message::Vote(v) => v.vote.height,
                    Message::Commit(c) => c.height,
                };
                // Block sync: a peer is ahead, ask it for the commit we miss.
                if height > current
                    && self.now_ms
                        >= self.instances[to].last_sync_request_ms + SYNC_REQUEST_INTERVAL_MS
                {
                    self.instances[to].last_sync_request_ms = self.now_ms;
                    self.send(to, from, Payload::SyncRequest { height: current });
                }
                let input = match message {
                    Message::Proposal(proposal) => {
                        let valid = is_valid(&proposal.proposal.block_hash);
                        Input::Proposal { proposal, valid }
                    }
                    Message::Vote(vote) => Input::Vote(vote),
                    Message::Commit(commit) if commit.height == current => Input::Commit(commit),
                    Message::Commit(_) => return Ok(()),
                };
                self.feed(to, input)
            }
        }
    }

    /// Feeds one input to instance `i` and carries out the outputs, in order,
    /// including the inputs they cause (`ProposeValue`, `NewHeight`).
    fn feed(&mut self, i: usize, input: Input) -> Result<(), Box<Failure>> {
        let mut pending = VecDeque::from([input]);
        while let Some(input) = pending.pop_front() {
            let Some(consensus) = self.instances[i].consensus.as_mut() else {
                return Ok(());
            };
            let outputs = consensus.process(input);
            for output in outputs {
                if self.chaos
                    && self.config.crashes
                    && self.instances[i].honest()
                    && self.rng.chance(CRASH_MID_BATCH_PER_MILLE)
                {
                    // The rest of this batch is lost with the process.
                    self.crash(i);
                    return Ok(());
                }
                self.carry_out(i, output, &mut pending)?;
            }
        }
        Ok(())
    }

    fn carry_out(
        &mut self,
        i: usize,
        output: Output,
        pending: &mut VecDeque<Input>,
    ) -> Result<(), Box<Failure>> {
        match output {
            Output::PersistSafetyState(state) => {
                // What is persisted as signed counts as signed, even if a crash stops
                // it from being sent: it must not conflict with anything sent before
                // or after.
                if self.instances[i].honest() {
                    let validator = self.instances[i].validator;
                    let signed = [
                        state.last_proposal.clone().map(Message::Proposal),
                        state.last_prevote.clone().map(Message::Vote),
                        state.last_precommit.clone().map(Message::Vote),
                    ];
                    for message in signed.into_iter().flatten() {
                        self.invariants
                            .on_signed(validator, &message)
                            .map_err(|v| self.failure(v))?;
                    }
                }
                self.instances[i].disk = *state;
            }
            Output::Broadcast(message) => self.broadcast(i, message)?,
            Output::RequestValue { height, round } => {
                let block_hash = make_value(self.config.seed, height, round, i, true);
                pending.push_back(Input::ProposeValue {
                    height,
                    round,
                    block_hash,
                });
            }
            Output::ScheduleTimeout {
                height,
                round,
                step,
                duration_ms,
            } => {
                let incarnation = self.instances[i].incarnation;
                self.schedule(
                    duration_ms,
                    Event::Timer {
                        instance: i,
                        incarnation,
                        input: Input::Timeout {
                            height,
                            round,
                            step,
                        },
                    },
                );
            }
            Output::Decide {
                height,
                block_hash,
                commit,
                ..
            } => {
                self.trace.update(height.to_le_bytes());
                self.trace.update(block_hash.0);
                if self.instances[i].honest() {
                    self.invariants
                        .on_decide(height, block_hash, is_valid(&block_hash))
                        .map_err(|v| self.failure(v))?;
                }
                self.instances[i].store.insert(height, commit);
                pending.push_back(Input::NewHeight {
                    height: height + 1,
                    validators: self.validators.clone(),
                });
            }
            Output::Evidence(evidence) => {
                self.report.evidence += 1;
                let accused = evidence.validator_index() as usize;
                if self.config.behaviours.get(accused) == Some(&Behaviour::Honest) {
                    return Err(self.failure(Violation::FalseEvidence { validator: accused }));
                }
            }
            Output::Rejected(_) => {}
        }
        Ok(())
    }

    /// Sends a message from instance `i`, through its behaviour.
    fn broadcast(&mut self, i: usize, message: Message) -> Result<(), Box<Failure>> {
        let validator = self.instances[i].validator;
        let own = match &message {
            Message::Proposal(p) => p.validator_index as usize == validator,
            Message::Vote(v) => v.validator_index as usize == validator,
            Message::Commit(_) => false,
        };
        if let Message::Proposal(p) = &message {
            self.invariants.on_proposed(p.proposal.block_hash);
        }
        if own && self.instances[i].honest() {
            self.invariants
                .on_signed(validator, &message)
                .map_err(|v| self.failure(v))?;
        }
        let others: Vec<usize> = (0..self.instances.len()).filter(|&j| j != i).collect();
        let conflicting = match (&message, self.instances[i].behaviour, own) {
            (Message::Proposal(p), Behaviour::Equivocator, true) => {
                let second = self.equivocate_proposal(p);
                self.invariants.on_proposed(second.proposal.block_hash);
                Some(Message::Proposal(second))
            }
            (Message::Vote(v), Behaviour::DoubleVoter, true) => {
                Some(Message::Vote(self.double_vote(v)))
            }
            _ => None,
        };
        match conflicting {
            None => {
                for j in others {
                    self.send(i, j, Payload::Consensus(message.clone()));
                }
            }
            Some(second) => {
                // Some peers get one message and the rest the other: half and half, or
                // a single peer singled out (the split that best makes one honest node
                // see a quorum the others do not).
                let mut order = others;
                self.rng.shuffle(&mut order);
                let half = if self.rng.chance(500) {
                    1
                } else {
                    order.len() / 2
                };
                for (k, j) in order.into_iter().enumerate() {
                    let m = if k < half { &message } else { &second };
                    self.send(i, j, Payload::Consensus(m.clone()));
                }
            }
        }
        Ok(())
    }

    /// The Equivocator's second proposal for the same (height, round): another block,
    /// invalid half of the time.
    fn equivocate_proposal(&mut self, first: &SignedProposal) -> SignedProposal {
        let p = &first.proposal;
        let valid = self.rng.chance(500);
        let mut proposal = p.clone();
        proposal.block_hash = make_value(
            self.config.seed ^ 0xE9,
            p.height,
            p.round,
            first.validator_index as usize,
            valid,
        );
        let key = &self.keys[first.validator_index as usize];
        let signature = crypto::sign(key, PROPOSAL_DOMAIN, &encode(&proposal));
        SignedProposal {
            proposal,
            validator_index: first.validator_index,
            signature,
        }
    }

    /// The DoubleVoter's conflicting vote: nil for a block vote, a block for a nil one.
    fn double_vote(&mut self, first: &SignedVote) -> SignedVote {
        let mut vote: Vote = first.vote.clone();
        vote.block_hash = match vote.block_hash {
            Some(_) => None,
            None => Some(make_value(
                self.config.seed ^ 0xD0,
                vote.height,
                vote.round,
                first.validator_index as usize,
                self.rng.chance(500),
            )),
        };
        let key = &self.keys[first.validator_index as usize];
        let signature = crypto::sign(key, VOTE_DOMAIN, &encode(&vote));
        SignedVote {
            vote,
            validator_index: first.validator_index,
            signature,
        }
    }

    fn send(&mut self, from: usize, to: usize, payload: Payload) {
        let delays = self.network.delays(from, to, &mut self.rng);
        if delays.is_empty() {
            self.report.dropped += 1;
        }
        for delay in delays {
            self.schedule(
                delay,
                Event::Deliver {
                    to,
                    from,
                    payload: payload.clone(),
                },
            );
        }
    }
}

/// A valid 统一社会信用代码 for validator `index`, ascending with the index.
fn member_id(index: usize) -> MemberId {
    let first17 = format!("11350100{index:09}");
    let check = uscc_check_char(first17.as_bytes()).unwrap_or(b'0');
    match MemberId::parse(&format!("{first17}{}", check as char)) {
        Ok(id) => id,
        Err(e) => panic!("simulator member id {first17}: {e}"),
    }
}
