//! The simulated network: per-message drop, delay (which reorders), duplication, and
//! partitions that form and heal. Every decision comes from the world's seeded PRNG.

use super::rng::Rng;

/// How badly the network behaves while the run is in its chaos phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Faults {
    /// Probability (‰) that a message is lost.
    pub drop_per_mille: u64,
    /// Probability (‰) that a message is delivered twice.
    pub duplicate_per_mille: u64,
    /// Smallest delay, ms.
    pub delay_min_ms: u64,
    /// Usual largest delay, ms.
    pub delay_max_ms: u64,
    /// Probability (‰) of a long delay (reorders messages across rounds).
    pub long_delay_per_mille: u64,
    /// Largest long delay, ms.
    pub long_delay_max_ms: u64,
    /// Whether partitions form.
    pub partitions: bool,
}

impl Faults {
    /// Chaos-phase faults of an intensity chosen from `rng`: loss from 5% to 35%,
    /// long delays from 2% to 15%, so that campaigns cover mild and harsh networks.
    pub fn chaos_from(rng: &mut Rng) -> Self {
        const DROPS: [u64; 4] = [50, 100, 200, 350];
        const LONG_DELAYS: [u64; 3] = [20, 50, 150];
        Faults {
            drop_per_mille: DROPS[rng.below(DROPS.len() as u64) as usize],
            long_delay_per_mille: LONG_DELAYS[rng.below(LONG_DELAYS.len() as u64) as usize],
            ..Faults::chaos()
        }
    }

    /// The chaos-phase defaults.
    pub fn chaos() -> Self {
        Faults {
            drop_per_mille: 100,
            duplicate_per_mille: 50,
            delay_min_ms: 5,
            delay_max_ms: 300,
            long_delay_per_mille: 50,
            long_delay_max_ms: 4_000,
            partitions: true,
        }
    }

    /// A healed network: no loss, no duplicates, short delays, no partitions.
    pub fn healed() -> Self {
        Faults {
            drop_per_mille: 0,
            duplicate_per_mille: 0,
            delay_min_ms: 5,
            delay_max_ms: 100,
            long_delay_per_mille: 0,
            long_delay_max_ms: 100,
            partitions: false,
        }
    }
}

/// Link state: the current faults and partition.
#[derive(Debug, Clone)]
pub struct Network {
    /// Current faults.
    pub faults: Faults,
    /// Partition group of each instance; instances in different groups cannot talk.
    /// All zero when there is no partition.
    group: Vec<u8>,
}

impl Network {
    /// A network of `instances` endpoints with `faults`.
    pub fn new(instances: usize, faults: Faults) -> Self {
        Network {
            faults,
            group: vec![0; instances],
        }
    }

    /// Splits the instances into two random non-empty groups; half the time one
    /// group is a single instance (an isolated node).
    pub fn partition(&mut self, rng: &mut Rng) {
        let n = self.group.len();
        let mut order: Vec<usize> = (0..n).collect();
        rng.shuffle(&mut order);
        let cut = if rng.chance(500) {
            1
        } else {
            rng.between(1, n as u64 - 1) as usize
        };
        for (position, &instance) in order.iter().enumerate() {
            self.group[instance] = u8::from(position >= cut);
        }
    }

    /// Removes the partition.
    pub fn heal_partition(&mut self) {
        self.group.iter_mut().for_each(|g| *g = 0);
    }

    /// Whether any partition is in place.
    pub fn is_partitioned(&self) -> bool {
        self.group.iter().any(|&g| g != 0)
    }

    /// The delivery delays (ms) of one message from `from` to `to`: empty if it is
    /// lost, two entries if it is duplicated.
    pub fn delays(&self, from: usize, to: usize, rng: &mut Rng) -> Vec<u64> {
        if self.group.get(from) != self.group.get(to) {
            return Vec::new();
        }
        let f = self.faults;
        if rng.chance(f.drop_per_mille) {
            return Vec::new();
        }
        let copies = if rng.chance(f.duplicate_per_mille) {
            2
        } else {
            1
        };
        (0..copies)
            .map(|_| {
                if rng.chance(f.long_delay_per_mille) {
                    rng.between(f.delay_max_ms, f.long_delay_max_ms)
                } else {
                    rng.between(f.delay_min_ms, f.delay_max_ms)
                }
            })
            .collect()
    }
}
