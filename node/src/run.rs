//! Start-up: logging, the ledger, and the node's tasks.
//!
//! ```text
//!   network task ──NetEvent──▶ router ─┬─ records ──────▶ admission ──▶ mempool
//!                                      ├─ consensus, peers, sync answers ─▶ driver
//!                                      └─ sync requests ─▶ (blocking reads) ─▶ reply
//!   HTTP API ──▶ admission / ledger reads / waiters
//!   driver ──▶ consensus ──▶ {RocksDB (safety state, blocks), network, timers}
//! ```

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use tokio::sync::{mpsc, Notify};
use tongban_ledger::crypto::public_key;
use tongban_ledger::types::SignedRecord;

use crate::admission::{Admission, Source, Submission, ADMISSION_QUEUE, GOSSIP_BATCH_QUEUE};
use crate::api::{self, ApiState};
use crate::driver::{Driver, DriverConfig, DriverEvent, DRIVER_QUEUE};
use crate::home::Home;
use crate::ledger::Ledger;
use crate::mempool::{Mempool, MempoolLimits};
use crate::metrics::Metrics;
use crate::net::{self, NetEvent, NetLimits, Network, NetworkConfig, SyncResponse};
use crate::nonce::NonceCounter;
use crate::status::{NodeStatus, StatusCell};
use crate::waiters::Waiters;
use tongban_ledger::wire::RecordBatch;

/// File of the operator nonce counter, in the data directory.
pub const NONCE_FILE: &str = "operator_nonce";

/// Sets up logging from `RUST_LOG` or the config's `log_level`.
pub fn init_logging(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(level))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .try_init();
}

/// Runs the node until it is stopped (SIGINT/SIGTERM) or fails.
pub fn start(home: Home) -> anyhow::Result<()> {
    init_logging(&home.config.log_level);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("tongban")
        .build()
        .context("cannot start the tokio runtime")?;
    runtime.block_on(run(home))
}

async fn run(home: Home) -> anyhow::Result<()> {
    let config = home.config.clone();
    let own_key = public_key(&home.key);
    let ledger = Arc::new(
        Ledger::open(&home.data_dir().join("db"), &home.genesis)
            .context("cannot open the ledger")?,
    );
    let head = ledger.head();
    tracing::info!(
        chain_id = ledger.chain_id(),
        height = head.height,
        state_root = %head.state_root,
        key = %own_key,
        "ledger opened"
    );

    let metrics = Arc::new(Metrics::new());
    metrics.height.set(head.height as i64);
    let mempool = Arc::new(Mutex::new(Mempool::new(MempoolLimits {
        max_records: config.mempool.max_records,
        max_per_author: config.mempool.max_per_author,
    })));
    let waiters = Arc::new(Waiters::default());
    let records_added = Arc::new(Notify::new());

    // Network: the member key is the node identity; only active members may connect.
    let keypair = net::keypair_from_secret(home.key.to_bytes())?;
    let peer_id = keypair.public().to_peer_id();
    let network_config = NetworkConfig {
        listen: config.p2p.listen.parse().context("p2p.listen")?,
        bootstrap: config
            .p2p
            .bootstrap
            .iter()
            .map(|a| a.parse())
            .collect::<Result<_, _>>()
            .context("p2p.bootstrap")?,
        limits: NetLimits::default(),
    };
    let allowed = ledger.active_member_keys()?;
    let (network, mut net_events) = Network::spawn(network_config, keypair, allowed)?;

    let member_id = ledger.member_by_key(&own_key)?.map(|m| m.id.to_string());
    let status = Arc::new(StatusCell::new(NodeStatus {
        chain_id: ledger.chain_id().to_string(),
        genesis_hash: ledger.genesis_hash(),
        moniker: config.moniker.clone(),
        node_key: own_key,
        member_id,
        peer_id: peer_id.to_string(),
        height: head.height,
        head_hash: head.block_hash,
        state_root: head.state_root,
        time_ms: head.time_ms,
        round: 0,
        validators: ledger.validators_for(head.height + 1)?.len(),
        is_validator: false,
        connected_peers: 0,
        mempool_size: 0,
        syncing: false,
    }));

    // Admission.
    let (admission_tx, admission_rx) = mpsc::channel::<Submission>(ADMISSION_QUEUE);
    let admission = Admission {
        ledger: Arc::clone(&ledger),
        mempool: Arc::clone(&mempool),
        records_added: Arc::clone(&records_added),
        net: Some(network.clone()),
        metrics: Arc::clone(&metrics),
        waiters: Arc::clone(&waiters),
    };
    tokio::spawn(admission.run(admission_rx));

    // Record gossip waits for room in the admission queue instead of being dropped when
    // the API fills it: a record one node lacks while it holds the same author's next one
    // becomes stale once that one commits. Its own queue keeps the wait away from the
    // router, which also carries consensus messages.
    let (gossip_tx, mut gossip_rx) = mpsc::channel::<Vec<SignedRecord>>(GOSSIP_BATCH_QUEUE);
    {
        let admission_tx = admission_tx.clone();
        tokio::spawn(async move {
            while let Some(records) = gossip_rx.recv().await {
                for record in records {
                    let submission = Submission {
                        record,
                        source: Source::Gossip,
                        reply: None,
                    };
                    if admission_tx.send(submission).await.is_err() {
                        return;
                    }
                }
            }
        });
    }

    // Driver.
    let (driver_tx, driver_rx) = mpsc::channel::<DriverEvent>(DRIVER_QUEUE);
    let consensus_config = tongban_consensus::Config {
        chain_id: ledger.chain_id().to_string(),
        timeouts: tongban_consensus::TimeoutConfig {
            propose_base_ms: config.consensus.timeout_propose_ms,
            propose_delta_ms: config.consensus.timeout_propose_delta_ms,
            prevote_base_ms: config.consensus.timeout_prevote_ms,
            prevote_delta_ms: config.consensus.timeout_prevote_delta_ms,
            precommit_base_ms: config.consensus.timeout_precommit_ms,
            precommit_delta_ms: config.consensus.timeout_precommit_delta_ms,
        },
    };
    let driver = Driver::new(
        DriverConfig {
            propose_batch_delay: Duration::from_millis(config.consensus.propose_batch_delay_ms),
        },
        consensus_config,
        home.key.clone(),
        Arc::clone(&ledger),
        Arc::clone(&mempool),
        Arc::clone(&records_added),
        network.clone(),
        Arc::clone(&metrics),
        Arc::clone(&waiters),
        Arc::clone(&status),
        driver_tx.clone(),
    )?;

    // Router: network events to their consumers.
    {
        let ledger = Arc::clone(&ledger);
        let metrics = Arc::clone(&metrics);
        tokio::spawn(async move {
            while let Some(event) = net_events.recv().await {
                match event {
                    NetEvent::Record { from, bytes } => match RecordBatch::from_bytes(&bytes) {
                        Ok(RecordBatch(records)) => {
                            let count = records.len();
                            // Only a long backlog drops gossip; the records are in other
                            // mempools too and commit through them.
                            if gossip_tx.try_send(records).is_err() {
                                metrics.reject_many("mempool_full", count as u64);
                            }
                        }
                        Err(e) => {
                            metrics.bad_messages.inc();
                            tracing::debug!(%from, "undecodable record gossip: {e}");
                        }
                    },
                    NetEvent::Consensus { from, bytes } => {
                        if driver_tx
                            .send(DriverEvent::Consensus { from, bytes })
                            .await
                            .is_err()
                        {
                            return;
                        }
                    }
                    NetEvent::SyncRequest {
                        from,
                        request,
                        reply,
                    } => {
                        let ledger = Arc::clone(&ledger);
                        tokio::spawn(async move {
                            let blocks = tokio::task::spawn_blocking(move || {
                                synced_blocks(&ledger, request.from_height, request.max_blocks)
                            })
                            .await;
                            match blocks {
                                Ok(Ok(blocks)) => reply.send(SyncResponse { blocks }),
                                Ok(Err(e)) => tracing::error!(%from, "cannot answer sync: {e}"),
                                Err(e) => tracing::error!(%from, "sync answer task failed: {e}"),
                            }
                        });
                    }
                    NetEvent::PeerConnected(peer) => {
                        tracing::info!(%peer, "member connected");
                        if driver_tx
                            .send(DriverEvent::PeerConnected(peer))
                            .await
                            .is_err()
                        {
                            return;
                        }
                    }
                    NetEvent::PeerDisconnected(peer) => {
                        tracing::info!(%peer, "member disconnected");
                        if driver_tx
                            .send(DriverEvent::PeerDisconnected(peer))
                            .await
                            .is_err()
                        {
                            return;
                        }
                    }
                }
            }
        });
    }

    // HTTP API.
    let nonces = Arc::new(NonceCounter::open(
        &home.data_dir().join(NONCE_FILE),
        ledger.nonce_of(&own_key)?,
    )?);
    let api_state = Arc::new(ApiState {
        ledger: Arc::clone(&ledger),
        mempool: Arc::clone(&mempool),
        admission: admission_tx,
        waiters: Arc::clone(&waiters),
        metrics: Arc::clone(&metrics),
        status: Arc::clone(&status),
        key: home.key.clone(),
        nonces,
        bearer_token: config.api.bearer_token.clone(),
        wait_timeout: Duration::from_millis(config.api.wait_timeout_ms),
    });
    let api_address: SocketAddr = config.api.listen.parse().context("api.listen")?;
    let listener = tokio::net::TcpListener::bind(api_address)
        .await
        .with_context(|| format!("cannot listen on api.listen {api_address}"))?;
    let app = api::router(api_state, config.api.max_body_bytes);
    tracing::info!(api = %api_address, p2p = %config.p2p.listen, %peer_id, "node started");
    let api_task = tokio::spawn(async move { axum::serve(listener, app).await });

    tokio::select! {
        result = driver.run(driver_rx) => result.map_err(anyhow::Error::from),
        result = api_task => match result {
            Ok(Ok(())) => Err(anyhow::anyhow!("the HTTP API stopped")),
            Ok(Err(e)) => Err(anyhow::Error::from(e).context("the HTTP API failed")),
            Err(e) => Err(anyhow::Error::from(e).context("the HTTP API task failed")),
        },
        () = shutdown_signal() => {
            tracing::info!("stopping");
            Ok(())
        }
    }
}

/// The blocks and commits from `from_height`, for a peer's sync request.
fn synced_blocks(
    ledger: &Ledger,
    from_height: u64,
    max_blocks: u32,
) -> Result<Vec<Vec<u8>>, crate::ledger::LedgerError> {
    let head = ledger.head().height;
    let mut out = Vec::new();
    let mut height = from_height.max(1);
    while height <= head && out.len() < max_blocks as usize {
        match ledger.synced_block_bytes(height)? {
            Some(bytes) => out.push(bytes),
            None => break,
        }
        height += 1;
    }
    Ok(out)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
