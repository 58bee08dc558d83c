//! Prometheus metrics served at `GET /metrics`.
//!
//! Metric handles are cheap clones of atomics; every task holds an `Arc<Metrics>` and
//! updates them directly. Label values are bounded: the only labelled family is
//! rejections by reason code, and reason codes are a fixed set of `&'static str`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// The `reason` label of rejected records.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    /// A stable reject code.
    pub reason: &'static str,
}

/// Every metric of the node.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Last committed height.
    pub height: Gauge,
    /// Current consensus round.
    pub round: Gauge,
    /// Records committed since start.
    pub committed_records: Counter,
    /// Blocks committed since start (by consensus or sync).
    pub committed_blocks: Counter,
    /// Blocks committed through block sync.
    pub synced_blocks: Counter,
    /// Records waiting in the mempool.
    pub mempool_size: Gauge,
    /// Connected member peers.
    pub connected_peers: Gauge,
    /// Seconds from a record's admission at this node to its commit.
    pub commit_latency_seconds: Histogram,
    /// Records refused, by reason code.
    pub rejected_records: Family<ReasonLabel, Counter>,
    /// Gossip messages dropped because they did not decode or were for another chain.
    pub bad_messages: Counter,
    /// Times own consensus messages were re-sent because consensus had not moved for a
    /// second (a stalled height, or a peer missing our votes).
    pub consensus_resends: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("tongban");
        let height = Gauge::default();
        let round = Gauge::default();
        let committed_records = Counter::default();
        let committed_blocks = Counter::default();
        let synced_blocks = Counter::default();
        let mempool_size = Gauge::default();
        let connected_peers = Gauge::default();
        // 5 ms .. ~80 s.
        let commit_latency_seconds = Histogram::new(exponential_buckets(0.005, 2.0, 15));
        let rejected_records = Family::<ReasonLabel, Counter>::default();
        let bad_messages = Counter::default();
        let consensus_resends = Counter::default();
        registry.register("height", "Last committed height", height.clone());
        registry.register("round", "Current consensus round", round.clone());
        registry.register(
            "committed_records",
            "Records committed since start",
            committed_records.clone(),
        );
        registry.register(
            "blocks_committed",
            "Blocks committed since start",
            committed_blocks.clone(),
        );
        registry.register(
            "synced_blocks",
            "Blocks committed through block sync",
            synced_blocks.clone(),
        );
        registry.register(
            "mempool_size",
            "Records waiting in the mempool",
            mempool_size.clone(),
        );
        registry.register(
            "connected_peers",
            "Connected member peers",
            connected_peers.clone(),
        );
        registry.register(
            "commit_latency_seconds",
            "Seconds from admission at this node to commit",
            commit_latency_seconds.clone(),
        );
        registry.register(
            "rejected_records",
            "Records refused, by reason code",
            rejected_records.clone(),
        );
        registry.register(
            "bad_messages",
            "Network messages dropped as malformed or for another chain",
            bad_messages.clone(),
        );
        registry.register(
            "consensus_resends",
            "Times own consensus messages were re-sent after a second without progress",
            consensus_resends.clone(),
        );
        Metrics {
            registry,
            height,
            round,
            committed_records,
            committed_blocks,
            synced_blocks,
            mempool_size,
            connected_peers,
            commit_latency_seconds,
            rejected_records,
            bad_messages,
            consensus_resends,
        }
    }

    /// Counts one refused record.
    pub fn reject(&self, reason: &'static str) {
        self.reject_many(reason, 1);
    }

    /// Counts `count` records refused for `reason`.
    pub fn reject_many(&self, reason: &'static str, count: u64) {
        self.rejected_records
            .get_or_create(&ReasonLabel { reason })
            .inc_by(count);
    }

    /// The Prometheus text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_exposition_names_every_metric() {
        let metrics = Metrics::new();
        metrics.height.set(7);
        metrics.reject("stale_nonce");
        metrics.commit_latency_seconds.observe(0.2);
        let text = metrics.encode();
        for needle in [
            "tongban_height 7",
            "tongban_round",
            "tongban_committed_records_total",
            "tongban_mempool_size",
            "tongban_connected_peers",
            "tongban_commit_latency_seconds_bucket",
            "tongban_rejected_records_total{reason=\"stale_nonce\"} 1",
        ] {
            assert!(text.contains(needle), "{needle} missing in\n{text}");
        }
    }
}
