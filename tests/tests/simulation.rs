//! Deterministic simulation campaigns over 4, 7 and 10 validators with up to f
//! Byzantine mocks, crashes and a faulty network (see `tongban_tests::sim`).
//!
//! Controls: `SIM_SEEDS` (seeds per configuration), `SIM_SEED_START` (first seed),
//! `SIM_STEPS` (chaos-phase events per run). A failure prints the seed and the
//! command that replays it. With `--features mutation-no-lock` the locking rule is
//! removed and `mutation_no_lock_is_caught` expects an agreement violation.

// Each feature setting uses a different half of this file.
#![cfg_attr(feature = "mutation-no-lock", allow(dead_code, unused_imports))]
#![cfg_attr(not(feature = "mutation-no-lock"), allow(unused_imports))]

use tongban_tests::sim::{self, env_u64, Behaviour, Report, SimConfig, Violation};

const DEFAULT_SEEDS: u64 = 25;
/// Chaos-phase events per run for 4 validators; larger sets exchange more messages
/// per simulated second, so their default grows with n² (unless `SIM_STEPS` is set).
const DEFAULT_STEPS: u64 = 3_000;

fn default_steps(validators: usize) -> u64 {
    DEFAULT_STEPS * (validators * validators) as u64 / 16
}

/// Runs `SIM_SEEDS` seeds of `validators` validators with f Byzantine ones (none for
/// every fifth seed), panicking with the replay command on the first failure.
fn campaign(validators: usize) -> Vec<Report> {
    let seeds = env_u64("SIM_SEEDS", DEFAULT_SEEDS);
    let start = env_u64("SIM_SEED_START", 1);
    let steps = env_u64("SIM_STEPS", default_steps(validators));
    let mut reports = Vec::new();
    for seed in start..start + seeds {
        let f = (validators - 1) / 3;
        let byzantine = if seed % 5 == 0 { 0 } else { f };
        let config = SimConfig::from_seed(validators, byzantine, seed, steps);
        match sim::run(config) {
            Ok(report) => {
                eprintln!(
                    "seed {seed} n={validators}: {} heights, {} steps, {} s simulated, {} evidence, {} crashes, {} delivered, {} dropped",
                    report.heights,
                    report.steps,
                    report.time_ms / 1000,
                    report.evidence,
                    report.crashes,
                    report.delivered,
                    report.dropped
                );
                reports.push(report);
            }
            Err(failure) => panic!("{failure}"),
        }
    }
    reports
}

#[cfg(not(feature = "mutation-no-lock"))]
#[test]
fn four_validators() {
    let reports = campaign(4);
    assert!(reports.iter().all(|r| r.heights > 0));
}

#[cfg(not(feature = "mutation-no-lock"))]
#[test]
fn seven_validators() {
    let reports = campaign(7);
    assert!(reports.iter().all(|r| r.heights > 0));
}

#[cfg(not(feature = "mutation-no-lock"))]
#[test]
fn ten_validators() {
    let reports = campaign(10);
    assert!(reports.iter().all(|r| r.heights > 0));
}

/// Every Byzantine mock, alone, at each size, for one seed: each must be survivable.
#[cfg(not(feature = "mutation-no-lock"))]
#[test]
fn each_byzantine_mock_alone() {
    let start = env_u64("SIM_SEED_START", 1);
    for (k, behaviour) in Behaviour::BYZANTINE.into_iter().enumerate() {
        for validators in [4, 7] {
            let mut config = SimConfig::from_seed(validators, 0, start + k as u64, 1_500);
            let f = config.max_faulty();
            for b in config.behaviours.iter_mut().take(f) {
                *b = behaviour;
            }
            if let Err(failure) = sim::run(config) {
                panic!("{failure}");
            }
        }
    }
}

#[test]
fn same_seed_same_run() {
    let seed = env_u64("SIM_SEED_START", 1) + 1;
    let a = sim::run(SimConfig::from_seed(4, 1, seed, 1_000));
    let b = sim::run(SimConfig::from_seed(4, 1, seed, 1_000));
    let c = sim::run(SimConfig::from_seed(4, 1, seed + 1, 1_000));
    match (a, b, c) {
        (Ok(a), Ok(b), Ok(c)) => {
            assert_eq!(a.trace_hash, b.trace_hash);
            assert_eq!(a, b);
            assert_ne!(a.trace_hash, c.trace_hash);
        }
        // Under the mutation a run may legitimately fail; it must fail the same way.
        (Err(a), Err(b), _) => {
            assert_eq!(a.violation, b.violation);
            assert_eq!(a.step, b.step);
        }
        (a, b, _) => panic!(
            "same seed, different outcome: {:?} vs {:?}",
            a.map(|r| r.trace_hash),
            b.map(|r| r.trace_hash)
        ),
    }
}

/// With the locking rule removed, the simulator must find an agreement violation.
#[cfg(feature = "mutation-no-lock")]
#[test]
fn mutation_no_lock_is_caught() {
    let seeds = env_u64("SIM_SEEDS", 400);
    let start = env_u64("SIM_SEED_START", 1);
    for (tried, seed) in (start..start + seeds).enumerate() {
        let validators = [4, 7, 10][(seed % 3) as usize];
        let f = (validators - 1) / 3;
        let steps = env_u64("SIM_STEPS", default_steps(validators));
        let config = SimConfig::from_seed(validators, f, seed, steps);
        match sim::run(config) {
            Err(failure) if matches!(failure.violation, Violation::Agreement { .. }) => {
                eprintln!(
                    "mutation-no-lock caught after {} seed(s):\n{failure}",
                    tried + 1
                );
                return;
            }
            Err(failure) => eprintln!("seed {seed}: other failure: {failure}"),
            Ok(_) => {}
        }
    }
    panic!("mutation-no-lock was not caught in {seeds} seeds from {start}");
}
