//! The Tendermint state machine: Algorithm 1 of "The latest gossip on BFT consensus"
//! (Buchman, Kwon, Milosevic 2018). `// Lnn` comments cite the numbered pseudo-code in
//! `docs/spec/consensus.md`, whose line numbers are the paper's.
//!
//! One handler per input (`on_new_height`, `on_proposal`, `on_vote`, `on_commit`,
//! `on_propose_value`, `on_timeout`, `on_retransmit`); after each state change,
//! `evaluate` re-checks every `upon` rule until none fires. The safety rules
//! themselves live in [`crate::safety`].

use ed25519_dalek::SigningKey;
use tongban_ledger::codec::encode;
use tongban_ledger::crypto::{self, PROPOSAL_DOMAIN, VOTE_DOMAIN};
use tongban_ledger::types::{
    Commit, Height, ProposalMessage, Round, SignedProposal, SignedVote, ValidatorSet, Vote,
    VoteKind,
};
use tongban_ledger::{Hash32, PublicKey};

use crate::io::{step_of, Config, Evidence, Input, InputError, Message, Output, Step};
use crate::safety::{self, RoundValue, SafetyState, SignDecision};
use crate::votes::{Added, HeightLog};
use crate::{MAX_BUFFERED_MESSAGES, MAX_ROUND_LOOKAHEAD, MAX_VALIDATORS, RETRANSMIT_ROUNDS};

/// One validator's (or observer's) consensus instance. See the crate docs.
#[derive(Debug)]
pub struct Consensus {
    config: Config,
    signing_key: SigningKey,
    public_key: PublicKey,
    /// `h_p`, `round_p`, `step_p`, lock, valid value, last signed messages.
    safety: SafetyState,
    /// The state last emitted as `PersistSafetyState`.
    persisted: SafetyState,
    /// A height has been started with `NewHeight`.
    started: bool,
    /// Built by `restore`: the first `NewHeight` at the restored height resumes the
    /// restored round and step instead of starting round 0.
    restored: bool,
    validators: ValidatorSet,
    own_index: Option<u32>,
    log: HeightLog,
    /// `decision_p[h_p]`: the commit of the current height once decided.
    decided: Option<Commit>,
    /// The commit of the previous height, re-sent to nodes that are behind.
    last_commit: Option<Commit>,
    /// L34 "for the first time", for `round_p`.
    prevote_timeout_scheduled: bool,
    /// L47 "for the first time", for `round_p`.
    precommit_timeout_scheduled: bool,
    /// L36 "for the first time", for `round_p`.
    polka_handled: bool,
    /// Messages for `h_p + 1`, replayed when that height starts.
    buffered: Vec<Input>,
}

impl Consensus {
    /// A new instance that has never signed anything. It does nothing until
    /// [`Input::NewHeight`].
    pub fn new(config: Config, signing_key: SigningKey) -> Self {
        Self::restore(config, signing_key, SafetyState::initial(0))
    }

    /// An instance restarted from the last persisted [`SafetyState`]. The first
    /// [`Input::NewHeight`] at `state.height` resumes its round and step, re-sending
    /// (never re-signing) what was already signed there; a `NewHeight` above it starts
    /// that height afresh (the blocks in between were stored or synced). Either way the
    /// last signed messages are kept, so nothing is ever signed twice.
    pub fn restore(config: Config, signing_key: SigningKey, state: SafetyState) -> Self {
        let public_key = crypto::public_key(&signing_key);
        Consensus {
            config,
            signing_key,
            public_key,
            persisted: state.clone(),
            restored: state.height > 0,
            safety: state,
            started: false,
            validators: ValidatorSet::default(),
            own_index: None,
            log: HeightLog::new(0),
            decided: None,
            last_commit: None,
            prevote_timeout_scheduled: false,
            precommit_timeout_scheduled: false,
            polka_handled: false,
            buffered: Vec::new(),
        }
    }

    /// Processes one input; the caller carries out the outputs in order.
    pub fn process(&mut self, input: Input) -> Vec<Output> {
        let mut out = Vec::new();
        self.dispatch(input, &mut out);
        if self.safety != self.persisted {
            self.persisted = self.safety.clone();
            // Persist before send: this comes before every broadcast of this batch.
            out.insert(0, Output::PersistSafetyState(Box::new(self.safety.clone())));
        }
        out
    }

    /// The current safety state (what the last `PersistSafetyState` carried, or
    /// will carry at the end of the current `process`).
    pub fn safety_state(&self) -> &SafetyState {
        &self.safety
    }

    /// `h_p`.
    pub fn height(&self) -> Height {
        self.safety.height
    }

    /// `round_p`.
    pub fn round(&self) -> Round {
        self.safety.round
    }

    /// `step_p`.
    pub fn step(&self) -> Step {
        self.safety.step
    }

    /// The lock (`lockedValue_p`, `lockedRound_p`).
    pub fn locked(&self) -> Option<RoundValue> {
        self.safety.locked
    }

    /// The valid value (`validValue_p`, `validRound_p`).
    pub fn valid(&self) -> Option<RoundValue> {
        self.safety.valid
    }

    /// The commit of the current height, once decided.
    pub fn decision(&self) -> Option<&Commit> {
        self.decided.as_ref()
    }

    /// This instance's index in the current validator set (`None`: observer).
    pub fn own_index(&self) -> Option<u32> {
        self.own_index
    }

    /// The public key this instance signs with.
    pub fn public_key(&self) -> &PublicKey {
        &self.public_key
    }

    fn dispatch(&mut self, input: Input, out: &mut Vec<Output>) {
        match input {
            Input::NewHeight { height, validators } => self.on_new_height(height, validators, out),
            Input::Proposal { proposal, valid } => self.on_proposal(proposal, valid, out),
            Input::Vote(vote) => self.on_vote(vote, out),
            Input::Commit(commit) => self.on_commit(commit, out),
            Input::ProposeValue {
                height,
                round,
                block_hash,
            } => self.on_propose_value(height, round, block_hash, out),
            Input::Timeout {
                height,
                round,
                step,
            } => self.on_timeout(height, round, step, out),
            Input::Retransmit => self.on_retransmit(out),
        }
    }

    // -----------------------------------------------------------------------------
    // Handlers
    // -----------------------------------------------------------------------------

    /// L10 (start), L52–L54 (next height).
    fn on_new_height(&mut self, height: Height, validators: ValidatorSet, out: &mut Vec<Output>) {
        if validators.is_empty() || validators.len() > MAX_VALIDATORS {
            out.push(Output::Rejected(InputError::BadValidatorSet {
                len: validators.len(),
                max: MAX_VALIDATORS,
            }));
            return;
        }
        let not_above = if self.started {
            height <= self.safety.height
        } else {
            height < self.safety.height
        };
        if not_above {
            out.push(Output::Rejected(InputError::HeightNotIncreasing {
                current: self.safety.height,
                got: height,
            }));
            return;
        }
        let resume = !self.started && self.restored && height == self.safety.height;
        if self
            .decided
            .as_ref()
            .is_some_and(|c| c.height.checked_add(1) == Some(height))
        {
            self.last_commit = self.decided.take();
        } else {
            self.last_commit = None;
        }
        self.decided = None;
        self.own_index = validators.index_of(&self.public_key).map(|i| i as u32);
        self.log = HeightLog::new(validators.len());
        self.validators = validators;
        self.started = true;
        self.restored = false;
        if resume {
            self.resume_round(out);
        } else {
            // L53: reset lock and valid value for the new height.
            self.safety.height = height;
            self.safety.locked = None;
            self.safety.valid = None;
            self.safety.valid_polka.clear();
            self.start_round(0, out);
        }
        let buffered = std::mem::take(&mut self.buffered);
        for input in buffered {
            if input_height(&input) == Some(height) {
                self.dispatch(input, out);
            }
        }
    }

    /// Restart inside a round after a crash: re-send what was signed in it and
    /// re-arm the timeout of the current step. Never signs anything new by itself.
    fn resume_round(&mut self, out: &mut Vec<Output>) {
        let round = self.safety.round;
        self.reset_round_flags();
        // The polka behind the valid value was verified before it was persisted.
        for vote in self.safety.valid_polka.clone() {
            if vote.vote.height == self.safety.height
                && (vote.validator_index as usize) < self.validators.len()
            {
                self.log
                    .saw_round(vote.validator_index as usize, vote.vote.round);
                self.log.add_vote(vote);
            }
        }
        match self.safety.step {
            Step::Propose => self.start_round(round, out),
            Step::Prevote | Step::Precommit => {
                let height = self.safety.height;
                for signed in [&self.safety.last_prevote, &self.safety.last_precommit]
                    .into_iter()
                    .flatten()
                    .filter(|v| v.vote.height == height && v.vote.round == round)
                    .cloned()
                    .collect::<Vec<_>>()
                {
                    out.push(Output::Broadcast(Message::Vote(signed.clone())));
                    self.log.add_vote(signed);
                }
                let step = self.safety.step;
                self.schedule_timeout(step, out);
            }
        }
    }

    fn on_proposal(&mut self, proposal: SignedProposal, valid: bool, out: &mut Vec<Output>) {
        let message = &proposal.proposal;
        if let Err(e) = self.check_height(&message.chain_id, message.height) {
            self.refuse_or_buffer(e, Input::Proposal { proposal, valid }, out);
            return;
        }
        if self.decided.is_some() {
            return;
        }
        let index = proposal.validator_index;
        let round = message.round;
        if let Err(e) = self.check_index(index) {
            out.push(Output::Rejected(e));
            return;
        }
        let expected = self
            .validators
            .proposer(self.safety.height, round)
            .and_then(|v| self.validators.index_of(&v.key));
        if expected != Some(index as usize) {
            out.push(Output::Rejected(InputError::NotProposer { round, index }));
            return;
        }
        if let Some(valid_round) = message.valid_round {
            if valid_round >= round {
                out.push(Output::Rejected(InputError::BadValidRound {
                    round,
                    valid_round,
                }));
                return;
            }
        }
        if let Err(e) = self.verify(index, &message.signing_bytes(), &proposal.signature) {
            out.push(Output::Rejected(e));
            return;
        }
        self.log.saw_round(index as usize, round);
        if round > self.safety.round.saturating_add(MAX_ROUND_LOOKAHEAD) {
            // Too far ahead to store; it still counts towards a round skip (L55).
            self.evaluate(out);
            return;
        }
        match self.log.add_proposal(proposal, valid) {
            Added::New => self.evaluate(out),
            Added::Duplicate | Added::Counted => {}
            Added::Conflict(evidence) => out.push(Output::Evidence(*evidence)),
        }
    }

    fn on_vote(&mut self, vote: SignedVote, out: &mut Vec<Output>) {
        if let Err(e) = self.check_height(&vote.vote.chain_id, vote.vote.height) {
            self.refuse_or_buffer(e, Input::Vote(vote), out);
            return;
        }
        if self.decided.is_some() {
            return;
        }
        let index = vote.validator_index;
        if let Err(e) = self.check_index(index) {
            out.push(Output::Rejected(e));
            return;
        }
        // Gossip delivers the same vote many times; a stored one was verified already.
        if self.log.contains(&vote) {
            return;
        }
        if let Err(e) = self.verify(index, &vote.vote.signing_bytes(), &vote.signature) {
            out.push(Output::Rejected(e));
            return;
        }
        let round = vote.vote.round;
        self.log.saw_round(index as usize, round);
        if round > self.safety.round.saturating_add(MAX_ROUND_LOOKAHEAD) {
            self.evaluate(out);
            return;
        }
        match self.log.add_vote(vote) {
            Added::New | Added::Counted => self.evaluate(out),
            Added::Duplicate => {}
            Added::Conflict(evidence) => {
                out.push(Output::Evidence(*evidence));
                self.evaluate(out);
            }
        }
    }

    /// A commit certificate from the network: decide if it proves more than 2/3
    /// precommits for a block at the current height (block sync; L49 without waiting
    /// for the precommits one by one).
    fn on_commit(&mut self, commit: Commit, out: &mut Vec<Output>) {
        if !self.started {
            out.push(Output::Rejected(InputError::NotStarted));
            return;
        }
        if commit.height != self.safety.height {
            out.push(Output::Rejected(if commit.height < self.safety.height {
                InputError::StaleHeight {
                    current: self.safety.height,
                    got: commit.height,
                }
            } else {
                InputError::FutureHeight {
                    current: self.safety.height,
                    got: commit.height,
                }
            }));
            return;
        }
        if self.decided.is_some() {
            return;
        }
        if let Err(e) = self.verify_commit(&commit) {
            out.push(Output::Rejected(e));
            return;
        }
        out.push(Output::Decide {
            height: commit.height,
            round: commit.round,
            block_hash: commit.block_hash,
            commit: commit.clone(),
        });
        self.decided = Some(commit);
    }

    /// L18: the application's value for our own proposal.
    fn on_propose_value(
        &mut self,
        height: Height,
        round: Round,
        block_hash: Hash32,
        out: &mut Vec<Output>,
    ) {
        // A late answer for a round we have left is simply dropped.
        if !self.started
            || self.decided.is_some()
            || height != self.safety.height
            || round != self.safety.round
            || self.safety.step != Step::Propose
            || !self.is_proposer(round)
        {
            return;
        }
        // L19 with validRound_p = −1 (we only ask for a value when validValue_p = nil).
        self.propose(block_hash, None, out);
        self.evaluate(out);
    }

    /// L57–L67.
    fn on_timeout(&mut self, height: Height, round: Round, step: Step, out: &mut Vec<Output>) {
        if !self.started
            || self.decided.is_some()
            || height != self.safety.height
            || round != self.safety.round
        {
            return;
        }
        match step {
            // L57–L60
            Step::Propose if self.safety.step == Step::Propose => {
                self.safety.step = Step::Prevote;
                self.sign_vote(VoteKind::Prevote, None, out);
            }
            // L61–L64
            Step::Prevote if self.safety.step == Step::Prevote => {
                self.safety.step = Step::Precommit;
                self.sign_vote(VoteKind::Precommit, None, out);
            }
            // L65–L67
            Step::Precommit => self.start_round(round.saturating_add(1), out),
            _ => return,
        }
        self.evaluate(out);
    }

    fn on_retransmit(&mut self, out: &mut Vec<Output>) {
        if !self.started {
            return;
        }
        if let Some(commit) = &self.decided {
            out.push(Output::Broadcast(Message::Commit(commit.clone())));
            return;
        }
        if let Some(commit) = &self.last_commit {
            out.push(Output::Broadcast(Message::Commit(commit.clone())));
        }
        let round = self.safety.round;
        if let Some(p) = self.log.proposal(round) {
            out.push(Output::Broadcast(Message::Proposal(p.signed.clone())));
        }
        // The polka behind our valid value lets the next proposer's re-proposal (L28)
        // be prevoted by nodes that missed those prevotes.
        if let Some(valid) = self.safety.valid {
            if valid.round < round {
                if let Some(p) = self.log.proposal(valid.round) {
                    out.push(Output::Broadcast(Message::Proposal(p.signed.clone())));
                }
                for vote in
                    self.log
                        .votes_for(valid.round, VoteKind::Prevote, Some(&valid.block_hash))
                {
                    out.push(Output::Broadcast(Message::Vote(vote)));
                }
            }
        }
        // Our own votes of the current and the last few rounds: a validator still in
        // an earlier round needs them to reach the quorum that arms its timeouts
        // (L34, L47); one that is further behind catches up by the round skip (L55).
        if let Some(index) = self.own_index {
            let first = round.saturating_sub(RETRANSMIT_ROUNDS);
            for r in first..=round {
                for kind in [VoteKind::Prevote, VoteKind::Precommit] {
                    for vote in self.log.votes_by(r, kind, index) {
                        out.push(Output::Broadcast(Message::Vote(vote)));
                    }
                }
            }
        }
    }

    // -----------------------------------------------------------------------------
    // The `upon` rules
    // -----------------------------------------------------------------------------

    /// Re-checks every `upon` rule until none fires.
    fn evaluate(&mut self, out: &mut Vec<Output>) {
        // Each pass either changes the step, the round or a "first time" flag, or
        // decides, so this terminates; the bound is a guard against a logic error.
        for _ in 0..64 {
            if self.decided.is_some() {
                return;
            }
            if self.try_decide(out) {
                return;
            }
            if self.try_skip_round(out) {
                continue;
            }
            if self.safety.step == Step::Propose
                && (self.try_prevote_fresh(out) || self.try_prevote_repropose(out))
            {
                continue;
            }
            if self.try_schedule_prevote_timeout(out) {
                continue;
            }
            if self.try_polka(out) {
                continue;
            }
            if self.try_nil_polka(out) {
                continue;
            }
            if self.try_schedule_precommit_timeout(out) {
                continue;
            }
            return;
        }
    }

    /// L22–L27.
    fn try_prevote_fresh(&mut self, out: &mut Vec<Output>) -> bool {
        let round = self.safety.round;
        let Some(p) = self.log.proposal(round) else {
            return false;
        };
        if p.signed.proposal.valid_round.is_some() {
            return false;
        }
        let value = p.signed.proposal.block_hash;
        // L23
        let vote_for = safety::may_prevote_fresh(self.safety.locked.as_ref(), p.valid, &value)
            .then_some(value);
        // L27 (the step changes before the vote is signed so the guard sees it)
        self.safety.step = Step::Prevote;
        // L24 / L26
        self.sign_vote(VoteKind::Prevote, vote_for, out);
        true
    }

    /// L28–L33.
    fn try_prevote_repropose(&mut self, out: &mut Vec<Output>) -> bool {
        let round = self.safety.round;
        let Some(p) = self.log.proposal(round) else {
            return false;
        };
        let Some(valid_round) = p.signed.proposal.valid_round else {
            return false;
        };
        let value = p.signed.proposal.block_hash;
        let valid = p.valid;
        if valid_round >= round
            || self.log.count(valid_round, VoteKind::Prevote, Some(&value)) < self.quorum()
        {
            return false;
        }
        // L29
        let vote_for =
            safety::may_prevote_repropose(self.safety.locked.as_ref(), valid, valid_round, &value)
                .then_some(value);
        self.safety.step = Step::Prevote; // L33
        self.sign_vote(VoteKind::Prevote, vote_for, out); // L30 / L32
        true
    }

    /// L34–L35.
    fn try_schedule_prevote_timeout(&mut self, out: &mut Vec<Output>) -> bool {
        if self.safety.step != Step::Prevote
            || self.prevote_timeout_scheduled
            || self.log.count_any(self.safety.round, VoteKind::Prevote) < self.quorum()
        {
            return false;
        }
        self.prevote_timeout_scheduled = true;
        self.schedule_timeout(Step::Prevote, out);
        true
    }

    /// L36–L43.
    fn try_polka(&mut self, out: &mut Vec<Output>) -> bool {
        let round = self.safety.round;
        if self.polka_handled || self.safety.step < Step::Prevote {
            return false;
        }
        let Some(p) = self.log.proposal(round) else {
            return false;
        };
        let value = p.signed.proposal.block_hash;
        if !p.valid || self.log.count(round, VoteKind::Prevote, Some(&value)) < self.quorum() {
            return false;
        }
        self.polka_handled = true;
        let current = RoundValue {
            round,
            block_hash: value,
        };
        // L37
        if safety::lock_on_polka(self.safety.step) {
            self.safety.locked = Some(current); // L38–L39
            self.safety.step = Step::Precommit; // L41
            self.sign_vote(VoteKind::Precommit, Some(value), out); // L40
        }
        self.safety.valid = Some(current); // L42–L43
        let mut polka = self.log.votes_for(round, VoteKind::Prevote, Some(&value));
        polka.truncate(self.quorum());
        self.safety.valid_polka = polka;
        true
    }

    /// L44–L46.
    fn try_nil_polka(&mut self, out: &mut Vec<Output>) -> bool {
        if self.safety.step != Step::Prevote
            || self.log.count(self.safety.round, VoteKind::Prevote, None) < self.quorum()
        {
            return false;
        }
        self.safety.step = Step::Precommit; // L46
        self.sign_vote(VoteKind::Precommit, None, out); // L45
        true
    }

    /// L47–L48.
    fn try_schedule_precommit_timeout(&mut self, out: &mut Vec<Output>) -> bool {
        if self.precommit_timeout_scheduled
            || self.log.count_any(self.safety.round, VoteKind::Precommit) < self.quorum()
        {
            return false;
        }
        self.precommit_timeout_scheduled = true;
        self.schedule_timeout(Step::Precommit, out);
        true
    }

    /// L49–L51. Deviation (see the spec): the decision needs more than 2/3 precommits
    /// for `id(v)` but not the proposal itself; at least f+1 of those precommits are
    /// honest and each checked `valid(v)` (L36), and the node fetches the block by hash.
    fn try_decide(&mut self, out: &mut Vec<Output>) -> bool {
        let quorum = self.quorum();
        let Some((round, value)) = self.log.decided_round(quorum) else {
            return false;
        };
        let signatures: Vec<(u32, tongban_ledger::Signature)> = self
            .log
            .votes_for(round, VoteKind::Precommit, Some(&value))
            .into_iter()
            .map(|v| (v.validator_index, v.signature))
            .collect();
        let commit = Commit {
            height: self.safety.height,
            round,
            block_hash: value,
            signatures,
        };
        out.push(Output::Decide {
            height: self.safety.height,
            round,
            block_hash: value,
            commit: commit.clone(),
        });
        self.decided = Some(commit);
        true
    }

    /// L55–L56, counted per validator: if at least f+1 validators sent a message for
    /// round `r` or later, with `r > round_p`, at least one of them is honest and has
    /// reached `r`, so we start round `r`.
    fn try_skip_round(&mut self, out: &mut Vec<Output>) -> bool {
        let f_plus_one = self.validators.max_faulty() + 1;
        match self.log.skip_round(f_plus_one) {
            Some(round) if round > self.safety.round => {
                self.start_round(round, out);
                true
            }
            _ => false,
        }
    }

    // -----------------------------------------------------------------------------
    // Actions
    // -----------------------------------------------------------------------------

    /// L11–L21.
    fn start_round(&mut self, round: Round, out: &mut Vec<Output>) {
        self.safety.round = round; // L12
        self.safety.step = Step::Propose; // L13
        self.reset_round_flags();
        // L21. Also armed when we are the proposer: if the application never answers
        // `RequestValue`, the round still moves on (L57 requires step = propose, so the
        // timeout is harmless once we have proposed).
        self.schedule_timeout(Step::Propose, out);
        if !self.is_proposer(round) {
            return;
        }
        // L14
        match safety::guard_proposal(&self.safety, self.safety.height, round) {
            SignDecision::Resend(signed) => {
                out.push(Output::Broadcast(Message::Proposal(signed.clone())));
                self.log.add_proposal(signed, true);
            }
            SignDecision::Refuse => {}
            SignDecision::Sign => match self.safety.valid {
                // L15–L16, L19
                Some(valid) => self.propose(valid.block_hash, Some(valid.round), out),
                // L18
                None => out.push(Output::RequestValue {
                    height: self.safety.height,
                    round,
                }),
            },
        }
    }

    /// L19: sign (or re-send) and broadcast our proposal, and take it as received.
    fn propose(&mut self, block_hash: Hash32, valid_round: Option<Round>, out: &mut Vec<Output>) {
        let Some(index) = self.own_index else {
            return;
        };
        let (height, round) = (self.safety.height, self.safety.round);
        let signed = match safety::guard_proposal(&self.safety, height, round) {
            SignDecision::Refuse => return,
            SignDecision::Resend(signed) => signed,
            SignDecision::Sign => {
                let proposal = ProposalMessage {
                    chain_id: self.config.chain_id.clone(),
                    height,
                    round,
                    block_hash,
                    valid_round,
                };
                let signature =
                    crypto::sign(&self.signing_key, PROPOSAL_DOMAIN, &encode(&proposal));
                let signed = SignedProposal {
                    proposal,
                    validator_index: index,
                    signature,
                };
                self.safety.last_proposal = Some(signed.clone());
                signed
            }
        };
        out.push(Output::Broadcast(Message::Proposal(signed.clone())));
        // Our own value is valid: we built and executed it (or it is our valid value).
        self.log.saw_round(index as usize, round);
        self.log.add_proposal(signed, true);
    }

    /// Signs (or re-sends) our vote of `kind` for `value` in the current round,
    /// broadcasts it and counts it. Observers sign nothing.
    fn sign_vote(&mut self, kind: VoteKind, value: Option<Hash32>, out: &mut Vec<Output>) {
        let Some(index) = self.own_index else {
            return;
        };
        let (height, round) = (self.safety.height, self.safety.round);
        debug_assert_eq!(step_of(kind), self.safety.step);
        let signed = match safety::guard_vote(&self.safety, kind, height, round) {
            SignDecision::Refuse => return,
            SignDecision::Resend(signed) => signed,
            SignDecision::Sign => {
                let vote = Vote {
                    chain_id: self.config.chain_id.clone(),
                    height,
                    round,
                    kind,
                    block_hash: value,
                };
                let signature = crypto::sign(&self.signing_key, VOTE_DOMAIN, &encode(&vote));
                let signed = SignedVote {
                    vote,
                    validator_index: index,
                    signature,
                };
                match kind {
                    VoteKind::Prevote => self.safety.last_prevote = Some(signed.clone()),
                    VoteKind::Precommit => self.safety.last_precommit = Some(signed.clone()),
                }
                signed
            }
        };
        out.push(Output::Broadcast(Message::Vote(signed.clone())));
        self.log.saw_round(index as usize, round);
        self.log.add_vote(signed);
    }

    fn schedule_timeout(&self, step: Step, out: &mut Vec<Output>) {
        out.push(Output::ScheduleTimeout {
            height: self.safety.height,
            round: self.safety.round,
            step,
            duration_ms: self.config.timeouts.duration_ms(step, self.safety.round),
        });
    }

    fn reset_round_flags(&mut self) {
        self.prevote_timeout_scheduled = false;
        self.precommit_timeout_scheduled = false;
        self.polka_handled = false;
    }

    // -----------------------------------------------------------------------------
    // Checks
    // -----------------------------------------------------------------------------

    fn quorum(&self) -> usize {
        self.validators.quorum()
    }

    fn is_proposer(&self, round: Round) -> bool {
        self.validators
            .proposer(self.safety.height, round)
            .is_some_and(|v| v.key == self.public_key)
            && self.own_index.is_some()
    }

    /// Chain and height of a message against ours.
    fn check_height(&self, chain_id: &str, height: Height) -> Result<(), InputError> {
        if chain_id != self.config.chain_id {
            return Err(InputError::WrongChain {
                expected: self.config.chain_id.clone(),
                got: chain_id.to_owned(),
            });
        }
        if !self.started {
            return Err(InputError::NotStarted);
        }
        let current = self.safety.height;
        if height < current {
            return Err(InputError::StaleHeight {
                current,
                got: height,
            });
        }
        if height > current {
            return Err(InputError::FutureHeight {
                current,
                got: height,
            });
        }
        Ok(())
    }

    /// Refuses a message, except one for the next height, which is kept (bounded)
    /// and replayed when that height starts: a proposal for `h+1` often arrives
    /// before the node has stored block `h`.
    fn refuse_or_buffer(&mut self, error: InputError, input: Input, out: &mut Vec<Output>) {
        match error {
            InputError::FutureHeight { current, got } if current.checked_add(1) == Some(got) => {
                if self.buffered.len() >= MAX_BUFFERED_MESSAGES {
                    out.push(Output::Rejected(InputError::BufferFull {
                        limit: MAX_BUFFERED_MESSAGES,
                    }));
                } else if !self.buffered.contains(&input) {
                    self.buffered.push(input);
                }
            }
            // Late messages for a height we have left are normal under gossip.
            InputError::StaleHeight { .. } => {}
            other => out.push(Output::Rejected(other)),
        }
    }

    fn check_index(&self, index: u32) -> Result<(), InputError> {
        if (index as usize) < self.validators.len() {
            Ok(())
        } else {
            Err(InputError::UnknownValidator {
                index,
                len: self.validators.len(),
            })
        }
    }

    fn verify(
        &self,
        index: u32,
        signing_bytes: &[u8],
        signature: &tongban_ledger::Signature,
    ) -> Result<(), InputError> {
        let validator =
            self.validators
                .validators
                .get(index as usize)
                .ok_or(InputError::UnknownValidator {
                    index,
                    len: self.validators.len(),
                })?;
        crypto::verify(&validator.key, signing_bytes, signature)
            .map_err(|_| InputError::BadSignature { index })
    }

    /// More than 2/3 distinct validators, ascending, each signature a valid precommit
    /// for the commit's (height, round, block).
    fn verify_commit(&self, commit: &Commit) -> Result<(), InputError> {
        verify_commit(&self.config.chain_id, &self.validators, commit)
    }
}

/// Checks a commit certificate against a validator set: more than two thirds of
/// distinct validators, ascending by index, each with a valid precommit signature for
/// (`chain_id`, height, round, `Some(block_hash)`). This is the ledger's one commit
/// checker (`tongban_ledger::proof::verify_signatures`, the rule verifiers apply too),
/// with its typed error carried as the reason.
pub fn verify_commit(
    chain_id: &str,
    validators: &ValidatorSet,
    commit: &Commit,
) -> Result<(), InputError> {
    tongban_ledger::proof::verify_signatures(chain_id, validators, commit).map_err(|e| {
        InputError::BadCommit {
            reason: e.to_string(),
        }
    })
}

fn input_height(input: &Input) -> Option<Height> {
    match input {
        Input::Proposal { proposal, .. } => Some(proposal.proposal.height),
        Input::Vote(vote) => Some(vote.vote.height),
        Input::Commit(commit) => Some(commit.height),
        _ => None,
    }
}

impl Evidence {
    /// The misbehaving validator's index.
    pub fn validator_index(&self) -> u32 {
        match self {
            Evidence::DuplicateVote { first, .. } => first.validator_index,
            Evidence::DuplicateProposal { first, .. } => first.validator_index,
        }
    }
}
