//! Deterministic simulation of tongban consensus (TigerBeetle VOPR style).
//!
//! N real `tongban_consensus::Consensus` instances, with real ed25519 keys, exchange
//! messages over a simulated network ([`network`]) that drops, delays, reorders,
//! duplicates and partitions them, on a simulated clock. Honest validators crash (at
//! any point of an output batch, in particular after persisting and before sending)
//! and restart from their persisted safety state. Up to f validators are Byzantine,
//! as named mocks ([`Behaviour`]). After every step the [`invariants`] are checked:
//! agreement, validity, no double signing by honest validators, no evidence against
//! honest ones. After the chaos phase the network heals and every honest instance
//! must decide new heights within a bounded simulated time (liveness).
//!
//! Everything is a function of the seed: the same seed gives the same run, which the
//! trace hash of [`Report`] makes checkable.

pub mod invariants;
pub mod network;
pub mod rng;
mod world;

use std::fmt;

pub use invariants::Violation;
pub use world::World;

/// A Byzantine (or honest) behaviour of one validator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Behaviour {
    /// Follows the protocol.
    Honest,
    /// As proposer, sends two different proposals (one often invalid) to two halves
    /// of the network.
    Equivocator,
    /// Sends each of its votes to half the network and a conflicting vote to the other
    /// half.
    DoubleVoter,
    /// Sends nothing at all.
    Silent,
    /// Two honest instances sharing one key (Aptos "twins"): they propose different
    /// blocks and may vote differently in the same slot.
    Twin,
}

impl Behaviour {
    /// The Byzantine behaviours, in the order configurations cycle through them.
    pub const BYZANTINE: [Behaviour; 4] = [
        Behaviour::Equivocator,
        Behaviour::DoubleVoter,
        Behaviour::Silent,
        Behaviour::Twin,
    ];
}

/// One simulation run.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Number of validators (n = 3f + 1 for the intended fault tolerance).
    pub validators: usize,
    /// Behaviour of each validator (index = validator index); at most f non-honest.
    pub behaviours: Vec<Behaviour>,
    /// The seed.
    pub seed: u64,
    /// Events processed in the chaos phase.
    pub chaos_steps: u64,
    /// Whether honest validators crash and restart in the chaos phase.
    pub crashes: bool,
    /// After healing, each honest instance must decide this many new heights...
    pub liveness_heights: u64,
    /// ...within this much simulated time (ms).
    pub liveness_bound_ms: u64,
}

impl SimConfig {
    /// `validators` validators, `byzantine` of them Byzantine with behaviours and
    /// positions chosen from the seed.
    pub fn from_seed(validators: usize, byzantine: usize, seed: u64, chaos_steps: u64) -> Self {
        let mut rng = rng::Rng::new(seed ^ 0xB7E1_5163_0000_0000);
        let mut behaviours = vec![Behaviour::Honest; validators];
        let mut positions: Vec<usize> = (0..validators).collect();
        rng.shuffle(&mut positions);
        let first = rng.below(Behaviour::BYZANTINE.len() as u64) as usize;
        for (k, &position) in positions.iter().take(byzantine).enumerate() {
            behaviours[position] = Behaviour::BYZANTINE[(first + k) % Behaviour::BYZANTINE.len()];
        }
        SimConfig {
            validators,
            behaviours,
            seed,
            chaos_steps,
            crashes: true,
            liveness_heights: 2,
            liveness_bound_ms: 300_000,
        }
    }

    /// Largest number of faulty validators tolerated.
    pub fn max_faulty(&self) -> usize {
        self.validators.saturating_sub(1) / 3
    }
}

/// What a run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// SHA-256 over every event and decision, in order: equal for equal seeds.
    pub trace_hash: [u8; 32],
    /// Events processed.
    pub steps: u64,
    /// Simulated time at the end, ms.
    pub time_ms: u64,
    /// Heights decided (by some honest instance).
    pub heights: usize,
    /// Evidence reports seen.
    pub evidence: u64,
    /// Crashes of honest instances.
    pub crashes: u64,
    /// Messages delivered.
    pub delivered: u64,
    /// Messages dropped by faults or partitions.
    pub dropped: u64,
}

/// A failed run: the property, where, and how to replay it.
#[derive(Debug, Clone)]
pub struct Failure {
    /// The configuration.
    pub config: SimConfig,
    /// The broken property.
    pub violation: Violation,
    /// Step at which it broke.
    pub step: u64,
    /// Simulated time, ms.
    pub time_ms: u64,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "simulation failed: {:?} at step {} (t = {} ms)\n  seed {}, {} validators, behaviours {:?}\n  replay: SIM_SEED_START={} SIM_SEEDS=1 SIM_STEPS={} cargo test --release -p tongban-tests --test simulation",
            self.violation,
            self.step,
            self.time_ms,
            self.config.seed,
            self.config.validators,
            self.config.behaviours,
            self.config.seed,
            self.config.chaos_steps,
        )
    }
}

/// Runs one simulation.
pub fn run(config: SimConfig) -> Result<Report, Box<Failure>> {
    World::new(config).run()
}

/// `name` from the environment as a number, or `default`.
pub fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}
