//! `tongban bench`: a load generator that submits signed `IssueLicence` records to a
//! local network and measures committed records per second and commit latency.
//!
//! How it measures, so the figures can be judged:
//! - authors: `concurrency` bench departments are added as observer members by
//!   governance first (admin-signed proposals and approvals), so that every worker signs
//!   with its own key and its nonces arrive at one node in order;
//! - every record is signed before the clock starts;
//! - worker `w` submits its author's records in order to node `w mod nodes`, without
//!   waiting for the commit: `batch` records per call (`POST /v1/records/batch`, the way a
//!   department system issuing in bulk would), or one per call (`POST /v1/records`) with
//!   `--batch 1`; records refused as temporary (node full) are sent again after a pause;
//! - with `--max-pending P`, a worker waits before a call while it would put more than
//!   P records in flight: sent (counted from the moment the call starts, so records
//!   still waiting in a node's admission count too) and not yet seen committed. The
//!   load so follows what the network commits and latency is not dominated by a
//!   growing queue (closed loop); without it the load is as fast as the nodes admit;
//! - a collector polls one node for new blocks and notes, for every bench record, the
//!   moment it saw the block that committed it; latency is that moment minus the moment
//!   the record was submitted, so it includes the poll interval ([`POLL_INTERVAL`]);
//! - throughput is committed records divided by the time from the first submission to
//!   the last commit seen.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use tongban_ledger::crypto::public_key;
use tongban_ledger::ids::{LicenceId, MemberId, TypeCode};
use tongban_ledger::types::{MemberChange, RecordBody, Role, SignedRecord};
use tongban_ledger::PublicKey;

use crate::client::{ApiError, NodeClient};
use crate::devnet::{demo_member_id, DevnetFile};
use crate::records::{self, NonceClock};
use crate::{genesis, keyfile};

/// Most records one run submits (all are held in memory, pre-signed).
pub const MAX_BENCH_RECORDS: usize = 2_000_000;
/// Most concurrent workers (each is a thread and a bench member).
pub const MAX_CONCURRENCY: usize = 256;
/// How often the collector asks for new blocks.
pub const POLL_INTERVAL: Duration = Duration::from_millis(20);
/// How long after the last submission the collector waits for stragglers.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(60);
/// Pause before retrying a submission the node refused with 503 (mempool full).
pub const BACKOFF: Duration = Duration::from_millis(5);
/// Longest a worker waiting for `--max-pending` room sleeps before it looks again; the
/// collector wakes it as soon as it sees records commit.
pub const PENDING_POLL: Duration = Duration::from_millis(50);
/// Most records per batch call (the node's `MAX_SUBMIT_BATCH`).
pub const MAX_SUBMIT_BATCH: usize = 1_000;

/// Why the bench could not run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// An API call failed.
    #[error("{what}")]
    Api {
        /// The step.
        what: String,
        /// The error.
        source: ApiError,
    },
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

fn other(e: impl std::fmt::Display) -> BenchError {
    BenchError::Other(e.to_string())
}

fn api(what: &str) -> impl FnOnce(ApiError) -> BenchError + '_ {
    move |source| BenchError::Api {
        what: what.to_owned(),
        source,
    }
}

/// The bench's settings (also its command-line options).
#[derive(Debug, Clone, clap::Args)]
pub struct BenchOptions {
    /// Records to submit.
    #[arg(long, default_value_t = 50_000)]
    pub records: usize,
    /// Concurrent submitters (each a bench member with its own key).
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// Records per API call (`POST /v1/records/batch`); 1 submits each record on its own
    /// (`POST /v1/records`).
    #[arg(long, default_value_t = 100)]
    pub batch: usize,
    /// Most records submitted and not yet committed, over all submitters (closed loop,
    /// so latency is not a growing queue); 0 = no limit (open loop: as fast as the nodes
    /// admit, and latency then measures the queue).
    #[arg(long, default_value_t = 2_000)]
    pub max_pending: usize,
}

/// The result, also written as JSON.
#[derive(Debug, Clone, Serialize)]
pub struct BenchResult {
    /// Validators in the network.
    pub nodes: usize,
    /// Records submitted.
    pub records_submitted: usize,
    /// Records seen committed.
    pub records_committed: usize,
    /// Records the nodes refused (422) or that never committed within the drain timeout.
    pub records_lost: usize,
    /// Committed records per second, first submission to last commit.
    pub records_per_second: f64,
    /// Commit latency percentiles, ms.
    pub latency_ms_p50: f64,
    /// 95th percentile.
    pub latency_ms_p95: f64,
    /// 99th percentile.
    pub latency_ms_p99: f64,
    /// Largest latency.
    pub latency_ms_max: f64,
    /// Seconds from the first submission to the last commit.
    pub duration_s: f64,
    /// Workers.
    pub concurrency: usize,
    /// Records per API call.
    pub batch: usize,
    /// `--max-pending` (0 = no limit).
    pub max_pending: usize,
    /// Cores of this machine (shared by all nodes and the bench itself).
    pub cpu_cores: usize,
    /// Blocks that held bench records.
    pub blocks: usize,
    /// 503 answers retried.
    pub retries: u64,
}

/// A bench author: a member id and key.
struct Author {
    member_id: MemberId,
    key: SigningKey,
}

/// Submits one admin's records so that all of them commit, and waits for the last.
///
/// A validator builds its block from the records it holds, each author's in nonce
/// order; one that has a later record but not yet an earlier one (record gossip from
/// separate API calls can arrive in either order) commits the later one, and the
/// earlier one is then refused as stale. Records admitted in one call are one gossip
/// message and arrive together, in order. Then the last is submitted again, waiting:
/// once it commits, every earlier one has.
fn submit_in_order(client: &NodeClient, records: &[SignedRecord]) -> Result<(), BenchError> {
    for chunk in records.chunks(MAX_SUBMIT_BATCH) {
        let answer = client
            .submit_batch(chunk)
            .map_err(api("register bench members"))?;
        if let Some(refused) = answer.results.iter().find(|r| r.status == "refused") {
            return Err(other(format!(
                "register bench members: record {} refused: {}",
                refused.record_hash,
                refused.message.as_deref().unwrap_or("no reason given")
            )));
        }
        if let Some(last) = chunk.last() {
            client
                .submit(last, true)
                .map_err(api("register bench members"))?;
        }
    }
    Ok(())
}

/// Adds the bench authors as observer members (skipping those already members) and
/// publishes the bench licence type with them as issuers.
fn register(
    devnet: &DevnetFile,
    client: &NodeClient,
    authors: &[Author],
    type_code: &TypeCode,
) -> Result<(), BenchError> {
    let admins: Vec<SigningKey> = devnet
        .admin_keys
        .iter()
        .map(|p| keyfile::read(p))
        .collect::<Result<_, _>>()
        .map_err(other)?;
    let members = client.members().map_err(api("read members"))?;
    let threshold = members
        .params
        .as_ref()
        .map(|p| p.governance_threshold)
        .unwrap_or_else(|| tongban_ledger::types::ChainParams::default().governance_threshold);
    let needed = (1..=members.admins.len())
        .find(|k| threshold.is_reached(*k, members.admins.len()))
        .ok_or_else(|| other("the governance threshold cannot be reached"))?;
    if needed > admins.len() {
        return Err(other(format!(
            "{needed} admin approvals needed, {} admin keys in the devnet file",
            admins.len()
        )));
    }
    let missing: Vec<&Author> = authors
        .iter()
        .filter(|a| !members.members.iter().any(|m| m.id == a.member_id))
        .collect();
    let chain_id = &devnet.chain_id;
    if !missing.is_empty() {
        let base = records::now_ms();
        for (round, admin) in admins.iter().take(needed).enumerate() {
            let mut nonces = NonceClock::new();
            let mut round_records = Vec::with_capacity(missing.len());
            for (i, a) in missing.iter().enumerate() {
                let proposal_id = base + i as u64;
                let body = if round == 0 {
                    let m = genesis::member(
                        a.member_id.as_str(),
                        &format!("bench department {}", a.member_id),
                        a.member_id.region_code(),
                        public_key(&a.key),
                        &[Role::Observer],
                    )
                    .map_err(other)?;
                    RecordBody::ProposeMemberChange {
                        proposal_id,
                        change: MemberChange::Add(m),
                    }
                } else {
                    RecordBody::Approve { proposal_id }
                };
                round_records.push(records::sign(admin, chain_id, nonces.next_nonce(), body));
            }
            submit_in_order(client, &round_records)?;
        }
    }
    let record = records::sign(
        &admins[0],
        chain_id,
        NonceClock::new().next_nonce(),
        RecordBody::PublishLicenceType {
            type_code: type_code.clone(),
            name: "bench licence".into(),
            issuers: authors.iter().map(|a| a.member_id.clone()).collect(),
        },
    );
    client
        .submit(&record, true)
        .map_err(api("publish the bench licence type"))?;
    let members = client.members().map_err(api("read members"))?;
    let absent = authors
        .iter()
        .filter(|a| !members.members.iter().any(|m| m.id == a.member_id))
        .count();
    if absent > 0 {
        return Err(other(format!(
            "{absent} bench members are not members after governance"
        )));
    }
    Ok(())
}

/// One submitting thread: its author's records, in nonce order.
struct Worker {
    w: usize,
    start: Instant,
    client: NodeClient,
    submit_ns: Arc<Vec<Vec<AtomicU64>>>,
    submitted: Arc<AtomicUsize>,
    refused: Arc<AtomicUsize>,
    retries: Arc<AtomicU64>,
    first_error: Arc<Mutex<Option<String>>>,
    /// Records in flight, for `--max-pending`.
    window: Arc<Window>,
}

/// The closed loop of `--max-pending`: records in flight, from the moment a worker
/// sends them (so records inside a slow call count, not only accepted ones) until the
/// collector sees them commit. Room only ever opens when a count changes, and waiting
/// workers are woken then (polling every 2 ms from each of 32 workers cost about 2% of
/// the machine's CPU in a bench run).
struct Window {
    /// `--max-pending` (0 = no limit).
    max: usize,
    counts: Mutex<WindowCounts>,
    changed: Condvar,
}

#[derive(Default)]
struct WindowCounts {
    /// Records sent (or being sent) and not refused.
    sent: usize,
    /// Of those, the ones seen committed.
    committed: usize,
}

impl WindowCounts {
    fn pending(&self) -> usize {
        self.sent.saturating_sub(self.committed)
    }
}

impl Window {
    fn new(max: usize) -> Window {
        Window {
            max,
            counts: Mutex::default(),
            changed: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, WindowCounts> {
        self.counts.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until `more` records fit under the limit (a call always fits when nothing
    /// is pending), then counts them as sent.
    fn reserve(&self, more: usize) {
        let mut counts = self.lock();
        while self.max != 0 && counts.pending() != 0 && counts.pending() + more > self.max {
            counts = match self.changed.wait_timeout(counts, PENDING_POLL) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
        counts.sent += more;
    }

    /// Takes back `count` reserved records the node did not accept (refused, or to be
    /// sent again).
    fn release(&self, count: usize) {
        if count == 0 {
            return;
        }
        let mut counts = self.lock();
        counts.sent = counts.sent.saturating_sub(count);
        drop(counts);
        self.changed.notify_all();
    }

    /// The collector has seen `count` bench records commit in all.
    fn set_committed(&self, count: usize) {
        self.lock().committed = count;
        self.changed.notify_all();
    }
}

impl Worker {
    fn now_ns(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }

    fn accepted(&self, i: usize, at_ns: u64) {
        self.submit_ns[self.w][i].store(at_ns, Ordering::Relaxed);
        self.submitted.fetch_add(1, Ordering::Relaxed);
    }

    fn lost(&self, count: usize, error: impl FnOnce() -> String) {
        self.refused.fetch_add(count, Ordering::Relaxed);
        if let Ok(mut slot) = self.first_error.lock() {
            slot.get_or_insert_with(error);
        }
    }

    /// `POST /v1/records` per record, retrying on 503.
    fn one_by_one(&self, list: &[SignedRecord]) {
        for (i, record) in list.iter().enumerate() {
            self.window.reserve(1);
            loop {
                let t = self.now_ns();
                match self.client.submit(record, false) {
                    Ok(_) => {
                        self.accepted(i, t);
                        break;
                    }
                    Err(ApiError::Node { status: 503, .. }) => {
                        // Still reserved: it is sent again.
                        self.retries.fetch_add(1, Ordering::Relaxed);
                        std::thread::sleep(BACKOFF);
                    }
                    Err(e) => {
                        self.window.release(1);
                        self.lost(1, || e.to_string());
                        break;
                    }
                }
            }
        }
    }

    /// `POST /v1/records/batch` with `batch` records per call. Records refused as
    /// temporary are sent again (with the rest of the list after them, so nonce order
    /// holds); a call that fails as a whole is retried on 503 and ends the worker
    /// otherwise.
    fn in_batches(&self, list: &[SignedRecord], batch: usize) {
        let mut next = 0;
        while next < list.len() {
            let end = (next + batch).min(list.len());
            self.window.reserve(end - next);
            let t = self.now_ns();
            let answer = match self.client.submit_batch(&list[next..end]) {
                Ok(answer) => answer,
                Err(ApiError::Node { status: 503, .. }) => {
                    self.window.release(end - next);
                    self.retries.fetch_add(1, Ordering::Relaxed);
                    std::thread::sleep(BACKOFF);
                    continue;
                }
                Err(e) => {
                    self.window.release(end - next);
                    self.lost(list.len() - next, || e.to_string());
                    return;
                }
            };
            // Resume at the first record refused as temporary.
            let mut resume = end;
            for (k, item) in answer.results.iter().enumerate() {
                let i = next + k;
                match item.status.as_str() {
                    "refused" if item.retry => {
                        resume = i;
                        break;
                    }
                    "refused" => {
                        self.window.release(1);
                        self.lost(1, || {
                            format!(
                                "{}: {}",
                                item.code.as_deref().unwrap_or("refused"),
                                item.message.as_deref().unwrap_or("")
                            )
                        });
                    }
                    _ => self.accepted(i, t),
                }
            }
            // The records from `resume` on are reserved again when they are re-sent.
            self.window.release(end - resume);
            if resume < end {
                self.retries.fetch_add(1, Ordering::Relaxed);
                std::thread::sleep(BACKOFF);
            }
            next = resume;
        }
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Runs the bench against the network of `devnet`.
pub fn run(devnet: &DevnetFile, options: &BenchOptions) -> Result<BenchResult, BenchError> {
    if options.records == 0 || options.records > MAX_BENCH_RECORDS {
        return Err(other(format!("--records must be 1..={MAX_BENCH_RECORDS}")));
    }
    if options.batch == 0 || options.batch > MAX_SUBMIT_BATCH {
        return Err(other(format!("--batch must be 1..={MAX_SUBMIT_BATCH}")));
    }
    if options.concurrency == 0 || options.concurrency > MAX_CONCURRENCY {
        return Err(other(format!(
            "--concurrency must be 1..={MAX_CONCURRENCY}"
        )));
    }
    let clients: Vec<NodeClient> = devnet
        .nodes
        .iter()
        .map(|n| NodeClient::new(&n.api, None))
        .collect::<Result<_, _>>()
        .map_err(api("client"))?;
    let first = clients
        .first()
        .ok_or_else(|| other("the devnet file lists no nodes"))?;
    let first_member = MemberId::parse(
        &devnet
            .nodes
            .first()
            .map(|n| n.member_id.clone())
            .unwrap_or_default(),
    )
    .map_err(other)?;
    let type_code = TypeCode::parse(&format!("{first_member}099")).map_err(other)?;

    // Bench authors are deterministic per index, so a second run reuses the members the
    // first one registered.
    let authors: Vec<Author> = (0..options.concurrency)
        .map(|i| {
            let mut seed = [0u8; 32];
            seed[..8].copy_from_slice(&(i as u64).to_le_bytes());
            seed[8..].copy_from_slice(&[0xBE; 24]);
            Ok(Author {
                member_id: demo_member_id("110000", "BENCHM", i).map_err(other)?,
                key: SigningKey::from_bytes(&seed),
            })
        })
        .collect::<Result<_, BenchError>>()?;
    eprintln!(
        "registering {} bench members and the bench licence type…",
        authors.len()
    );
    register(devnet, first, &authors, &type_code)?;

    // Pre-sign everything before the clock starts.
    eprintln!("signing {} records…", options.records);
    let run_tag = format!("{:X}", records::now_ms() / 1000);
    let nonce_base = records::now_ns();
    let now = records::now_ms();
    let mut per_worker: Vec<Vec<SignedRecord>> = vec![Vec::new(); authors.len()];
    for k in 0..options.records {
        let w = k % authors.len();
        let a = &authors[w];
        let serial = format!("B{run_tag}{k:08}");
        let licence_id =
            LicenceId::compose(&type_code, a.member_id.as_str(), &serial, 1).map_err(other)?;
        let body = RecordBody::IssueLicence {
            licence_id,
            type_code: type_code.clone(),
            holder_commitment: records::commitment(b"bench", &serial),
            document_hash: records::document_hash(serial.as_bytes()),
            valid_from: now,
            valid_until: None,
            supersedes: None,
        };
        let nonce = nonce_base + per_worker[w].len() as u64;
        per_worker[w].push(records::sign(&a.key, &devnet.chain_id, nonce, body));
    }
    let mut index: HashMap<(PublicKey, u64), (usize, usize)> = HashMap::new();
    for (w, list) in per_worker.iter().enumerate() {
        for (i, r) in list.iter().enumerate() {
            index.insert((r.payload.author, r.payload.nonce), (w, i));
        }
    }
    let submit_ns: Vec<Vec<AtomicU64>> = per_worker
        .iter()
        .map(|l| (0..l.len()).map(|_| AtomicU64::new(u64::MAX)).collect())
        .collect();
    let submit_ns = Arc::new(submit_ns);
    let refused = Arc::new(AtomicUsize::new(0));
    let submitted = Arc::new(AtomicUsize::new(0));
    let window = Arc::new(Window::new(options.max_pending));
    let retries = Arc::new(AtomicU64::new(0));
    let first_error: Arc<Mutex<Option<String>>> = Arc::new(Mutex::new(None));
    let start_height = first.status().map_err(api("status"))?.height;

    let bar = ProgressBar::new(options.records as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "{elapsed_precise} [{bar:40}] {pos}/{len} committed {per_sec} {msg}",
        )
        .map_err(other)?,
    );
    let start = Instant::now();
    let mut workers = Vec::new();
    for (w, list) in per_worker.into_iter().enumerate() {
        let client = clients[w % clients.len()].clone();
        let submit_ns = submit_ns.clone();
        let refused = refused.clone();
        let submitted = submitted.clone();
        let window = window.clone();
        let retries = retries.clone();
        let first_error = first_error.clone();
        let batch = options.batch;
        workers.push(std::thread::spawn(move || {
            let worker = Worker {
                w,
                start,
                client,
                submit_ns,
                submitted,
                window,
                refused,
                retries,
                first_error,
            };
            if batch == 1 {
                worker.one_by_one(&list);
            } else {
                worker.in_batches(&list, batch);
            }
        }));
    }

    // Collector: follow the chain on node 0.
    let mut commit_ns: HashMap<(usize, usize), u64> = HashMap::new();
    let mut height = start_height;
    let mut blocks = 0usize;
    let mut last_commit_ns = 0u64;
    let mut submissions_done_at: Option<Instant> = None;
    loop {
        let head = first.status().map_err(api("status"))?.height;
        while height < head {
            height += 1;
            // The codec's form: JSON of a block of 10,000 records cost the node and the
            // bench more CPU than the records' own admission checks.
            let block = first
                .synced_block(height)
                .map_err(api("read a block"))?
                .block;
            let seen = start.elapsed().as_nanos() as u64;
            let mut here = 0;
            for r in &block.records {
                if let Some(&(w, i)) = index.get(&(r.payload.author, r.payload.nonce)) {
                    if commit_ns.insert((w, i), seen).is_none() {
                        here += 1;
                    }
                }
            }
            if here > 0 {
                blocks += 1;
                last_commit_ns = seen;
                bar.set_position(commit_ns.len() as u64);
                window.set_committed(commit_ns.len());
            }
        }
        let sub = submitted.load(Ordering::Relaxed);
        let lost = refused.load(Ordering::Relaxed);
        bar.set_message(format!("submitted {sub}, refused {lost}"));
        if sub + lost >= options.records {
            let done_at = *submissions_done_at.get_or_insert_with(Instant::now);
            if commit_ns.len() >= sub || done_at.elapsed() > DRAIN_TIMEOUT {
                break;
            }
        }
        std::thread::sleep(POLL_INTERVAL);
    }
    bar.finish();
    for w in workers {
        let _ = w.join();
    }
    if let Ok(slot) = first_error.lock() {
        if let Some(e) = slot.as_ref() {
            eprintln!("first refusal: {e}");
        }
    }

    let mut latencies: Vec<f64> = commit_ns
        .iter()
        .filter_map(|(&(w, i), &c)| {
            let s = submit_ns[w][i].load(Ordering::Relaxed);
            (s != u64::MAX).then(|| c.saturating_sub(s) as f64 / 1e6)
        })
        .collect();
    latencies.sort_by(f64::total_cmp);
    let committed = commit_ns.len();
    let duration_s = last_commit_ns as f64 / 1e9;
    Ok(BenchResult {
        nodes: devnet.nodes.len(),
        records_submitted: options.records,
        records_committed: committed,
        records_lost: options.records - committed,
        records_per_second: if duration_s > 0.0 {
            committed as f64 / duration_s
        } else {
            0.0
        },
        latency_ms_p50: percentile(&latencies, 50.0),
        latency_ms_p95: percentile(&latencies, 95.0),
        latency_ms_p99: percentile(&latencies, 99.0),
        latency_ms_max: latencies.last().copied().unwrap_or(0.0),
        duration_s,
        concurrency: options.concurrency,
        batch: options.batch,
        max_pending: options.max_pending,
        cpu_cores: std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        blocks,
        retries: retries.load(Ordering::Relaxed),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_counts_records_inside_a_call_and_frees_room_on_commit() {
        let window = Arc::new(Window::new(100));
        window.reserve(60);
        // Nothing accepted yet, but 60 are being sent: 60 more do not fit.
        let (done, waited) = std::sync::mpsc::channel();
        let other = {
            let window = Arc::clone(&window);
            std::thread::spawn(move || {
                window.reserve(60);
                let _ = done.send(());
            })
        };
        assert!(waited.recv_timeout(Duration::from_millis(200)).is_err());
        // 30 commit: 30 pending + 60 fits.
        window.set_committed(30);
        assert!(waited.recv_timeout(Duration::from_secs(5)).is_ok());
        other.join().expect("reserving thread");
        assert_eq!(window.lock().pending(), 90);
        // Refused or re-sent records give their room back.
        window.release(50);
        assert_eq!(window.lock().pending(), 40);
        // No limit: never waits.
        let unlimited = Window::new(0);
        unlimited.reserve(1_000);
        unlimited.reserve(1_000);
        assert_eq!(unlimited.lock().pending(), 2_000);
    }

    #[test]
    fn a_call_larger_than_the_window_goes_when_nothing_is_pending() {
        let window = Window::new(100);
        window.reserve(500);
        assert_eq!(window.lock().pending(), 500);
    }

    #[test]
    fn percentiles() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), 50.0);
        assert_eq!(percentile(&v, 99.0), 99.0);
        assert_eq!(percentile(&v, 100.0), 100.0);
        assert_eq!(percentile(&[], 50.0), 0.0);
    }

    #[test]
    fn bench_ids_are_valid() -> Result<(), BenchError> {
        for i in 0..MAX_CONCURRENCY {
            demo_member_id("110000", "BENCHM", i).map_err(other)?;
        }
        Ok(())
    }
}
