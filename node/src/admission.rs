//! The admission pipeline: the only way into the mempool.
//!
//! Records arrive from the API and from record gossip into one bounded queue
//! ([`ADMISSION_QUEUE`]). One task drains it in batches of up to [`ADMISSION_BATCH`] and,
//! per batch: drops duplicates, checks size and chain id, verifies the signatures of the
//! rest in one `verify_many` call (batches of 64 to 512 over every core, on a blocking thread),
//! checks each survivor with the ledger's `check_record` against the latest committed
//! state (signature already verified), and inserts it. The mempool then remembers the
//! record by hash, so validating a block never verifies its signature again.
//!
//! Records submitted through this node's API are published to the other members once
//! admitted, packed into as few gossip messages as the size limit allows
//! (`tongban_ledger::wire::RecordBatch`); gossip relays the rest by itself.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{mpsc, oneshot, Notify};
use tongban_ledger::codec::encode;
use tongban_ledger::crypto::{sha256, verify_many, SignatureCheck};
use tongban_ledger::types::SignedRecord;
use tongban_ledger::wire::RecordBatch;
use tongban_ledger::Hash32;

use crate::ledger::{CheckOutcome, Ledger};
use crate::mempool::{Inserted, Mempool, MempoolError};
use crate::metrics::Metrics;
use crate::net::{GossipTopic, NetworkHandle};
use crate::waiters::{Fate, Waiters};

/// Capacity of the admission queue; a full queue answers 503 `mempool_full` at once.
pub const ADMISSION_QUEUE: usize = 8_192;
/// Record gossip messages (batches) waiting for room in the admission queue; gossip is
/// dropped only beyond this backlog.
pub const GOSSIP_BATCH_QUEUE: usize = 1_024;
/// Most records admitted per batch.
pub const ADMISSION_BATCH: usize = 1_024;

/// Where a record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// This node's API: publish to the other members once admitted.
    Api,
    /// Record gossip: gossipsub forwards it by itself.
    Gossip,
}

/// The answer to a submitter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admitted {
    /// Now waiting in the mempool.
    New,
    /// Already waiting in the mempool.
    Duplicate,
    /// Already committed (a re-submission).
    AlreadyCommitted,
}

/// Why a record was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Refused {
    /// Stable code (the ledger's `RejectReason::code()` or a mempool code).
    pub code: &'static str,
    /// For humans.
    pub message: String,
    /// Whether the refusal is temporary (mempool full): HTTP 503 rather than 422.
    pub temporary: bool,
}

impl Refused {
    fn permanent(code: &'static str, message: impl Into<String>) -> Refused {
        Refused {
            code,
            message: message.into(),
            temporary: false,
        }
    }
}

/// One record to admit.
#[derive(Debug)]
pub struct Submission {
    /// The record.
    pub record: SignedRecord,
    /// Where it came from.
    pub source: Source,
    /// Where the answer goes (gossip has nobody to answer).
    pub reply: Option<oneshot::Sender<Result<(Hash32, Admitted), Refused>>>,
}

/// What the admission task needs.
#[derive(Debug)]
pub struct Admission {
    /// The ledger (latest committed state).
    pub ledger: Arc<Ledger>,
    /// The mempool.
    pub mempool: Arc<std::sync::Mutex<Mempool>>,
    /// Told when records are added (the driver may be waiting for them to propose).
    pub records_added: Arc<Notify>,
    /// The network, to publish API records.
    pub net: Option<NetworkHandle>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// `?wait=commit` callers.
    pub waiters: Arc<Waiters>,
}

impl Admission {
    /// Runs until every sender of `queue` is gone.
    pub async fn run(self, mut queue: mpsc::Receiver<Submission>) {
        let this = Arc::new(self);
        let mut batch = Vec::with_capacity(ADMISSION_BATCH);
        loop {
            batch.clear();
            if queue.recv_many(&mut batch, ADMISSION_BATCH).await == 0 {
                return;
            }
            let work = std::mem::take(&mut batch);
            let admitted = {
                let this = Arc::clone(&this);
                tokio::task::spawn_blocking(move || this.admit_batch(work)).await
            };
            let to_publish = match admitted {
                Ok(to_publish) => to_publish,
                Err(e) => {
                    tracing::error!("admission batch failed: {e}");
                    continue;
                }
            };
            if let Some(net) = &this.net {
                if to_publish.is_empty() {
                    continue;
                }
                // One gossip message per batch, not per record: each message pays its
                // own transport signature at the sender and check at every receiver.
                let max = net.max_payload(GossipTopic::Records);
                let (messages, too_large) = RecordBatch::pack(to_publish, max);
                if !too_large.is_empty() {
                    tracing::warn!(
                        records = too_large.len(),
                        "records larger than a gossip message are not gossiped; they \
                         commit when this node proposes"
                    );
                }
                for bytes in messages {
                    if let Err(e) = net.publish_record(bytes).await {
                        // No peer yet, or a full queue: the records stay in our mempool
                        // and commit when this node proposes.
                        tracing::debug!("records not gossiped: {e}");
                    }
                }
            }
        }
    }

    /// Admits a batch; returns the API records to publish, in admission order, with their
    /// encoded lengths.
    fn admit_batch(&self, batch: Vec<Submission>) -> Vec<(SignedRecord, usize)> {
        let params = self.ledger.params();
        let chain_id = self.ledger.chain_id().to_string();
        let mut prepared: Vec<(Submission, Hash32, usize)> = Vec::with_capacity(batch.len());
        for submission in batch {
            let bytes = encode(&submission.record);
            let hash = sha256(&[&bytes]);
            if bytes.len() > params.max_record_bytes as usize {
                self.answer(
                    submission,
                    Err(Refused::permanent(
                        "record_too_large",
                        format!(
                            "record is {} bytes, the limit is {}",
                            bytes.len(),
                            params.max_record_bytes
                        ),
                    )),
                );
                continue;
            }
            if submission.record.payload.chain_id != chain_id {
                let message = format!(
                    "record is for chain {:?}, this is {chain_id:?}",
                    submission.record.payload.chain_id
                );
                self.answer(
                    submission,
                    Err(Refused::permanent("wrong_chain_id", message)),
                );
                continue;
            }
            let (duplicate, full) = {
                let mempool = self.lock_mempool();
                let relayed = submission.source == Source::Gossip;
                let full = (!mempool.has_room(relayed)).then(|| mempool.limits().max_records);
                (mempool.contains(&hash), full)
            };
            if duplicate {
                self.answer_ok(submission, hash, Admitted::Duplicate);
                continue;
            }
            if let Some(limit) = full {
                // Refused before paying for the signature.
                self.refuse(submission, mempool_refusal(&MempoolError::Full(limit)));
                continue;
            }
            prepared.push((submission, hash, bytes.len()));
        }
        if prepared.is_empty() {
            return Vec::new();
        }

        // Verify every signature of the batch at once: this is the largest cost per
        // record, paid exactly once.
        let signing_bytes: Vec<Vec<u8>> = prepared
            .iter()
            .map(|(s, _, _)| s.record.payload.signing_bytes())
            .collect();
        let checks: Vec<SignatureCheck<'_>> = prepared
            .iter()
            .zip(&signing_bytes)
            .map(|((s, _, _), bytes)| {
                (
                    &s.record.payload.author,
                    bytes.as_slice(),
                    &s.record.signature,
                )
            })
            .collect();
        let signatures = verify_many(&checks);
        drop(checks);

        // The ledger's rules for every record with a good signature, in one pass over
        // the head state.
        let mut verified = Vec::with_capacity(prepared.len());
        for (item, signature) in prepared.into_iter().zip(signatures) {
            match signature {
                Ok(()) => verified.push(item),
                Err(_) => self.refuse(
                    item.0,
                    Refused::permanent("bad_signature", "the signature does not verify"),
                ),
            }
        }
        let now_ms = crate::clock::now_ms();
        let outcomes = {
            let items: Vec<_> = verified
                .iter()
                .map(|(s, hash, len)| (&s.record, *hash, *len))
                .collect();
            self.ledger.check_records(&items, now_ms)
        };
        let mut to_publish = Vec::new();
        let mut added = false;
        for ((submission, hash, len), outcome) in verified.into_iter().zip(outcomes) {
            match outcome {
                CheckOutcome::Ok => {}
                CheckOutcome::Committed => {
                    self.answer_ok(submission, hash, Admitted::AlreadyCommitted);
                    continue;
                }
                CheckOutcome::Rejected { code, message } => {
                    self.refuse(submission, Refused::permanent(code, message));
                    continue;
                }
                CheckOutcome::Failed(message) => {
                    self.refuse(
                        submission,
                        Refused {
                            code: "internal",
                            message,
                            temporary: true,
                        },
                    );
                    continue;
                }
            }
            let inserted = {
                let mut mempool = self.lock_mempool();
                // Checked again: earlier records of this batch may have used the room.
                let relayed = submission.source == Source::Gossip;
                let result = if mempool.has_room(relayed) {
                    mempool.insert(
                        Arc::new(submission.record.clone()),
                        hash,
                        len,
                        Instant::now(),
                    )
                } else {
                    Err(MempoolError::Full(mempool.limits().max_records))
                };
                self.metrics.mempool_size.set(mempool.len() as i64);
                result
            };
            match inserted {
                Ok(Inserted::New) => {
                    added = true;
                    if submission.source == Source::Api {
                        to_publish.push((submission.record.clone(), len));
                    }
                    self.answer_ok(submission, hash, Admitted::New);
                }
                Ok(Inserted::Duplicate) => self.answer_ok(submission, hash, Admitted::Duplicate),
                Err(error) => self.refuse(submission, mempool_refusal(&error)),
            }
        }
        if added {
            self.records_added.notify_one();
        }
        to_publish
    }

    fn refuse(&self, submission: Submission, refused: Refused) {
        self.answer(submission, Err(refused));
    }

    fn answer_ok(&self, submission: Submission, hash: Hash32, admitted: Admitted) {
        self.answer(submission, Ok((hash, admitted)));
    }

    fn answer(&self, submission: Submission, result: Result<(Hash32, Admitted), Refused>) {
        if let Err(refused) = &result {
            self.metrics.reject(refused.code);
            // Someone may wait for this record's commit (an API caller registers before
            // submitting): tell them it will not come.
            if !refused.temporary && !self.waiters.is_empty() {
                let hash = submission.record.hash();
                self.waiters.resolve(
                    &hash,
                    &Fate::Rejected {
                        code: refused.code,
                        message: refused.message.clone(),
                    },
                );
            }
        }
        if let Some(reply) = submission.reply {
            // The API caller may have gone away.
            let _ = reply.send(result);
        }
    }

    fn lock_mempool(&self) -> std::sync::MutexGuard<'_, Mempool> {
        self.mempool.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn mempool_refusal(error: &MempoolError) -> Refused {
    let temporary = !matches!(error, MempoolError::NonceInUse(_));
    Refused {
        code: error.code(),
        message: error.to_string(),
        temporary,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;
    use tongban_ledger::crypto::public_key;
    use tongban_ledger::ids::{uscc_check_char, MemberId, RegionCode, TypeCode};
    use tongban_ledger::types::{
        ChainParams, Genesis, Member, MemberStatus, RecordBody, RecordPayload, Role,
    };

    use crate::mempool::MempoolLimits;

    fn member_id(n: u32) -> MemberId {
        let first17 = format!("91110000{:09}", 100_000 + n);
        let check = uscc_check_char(first17.as_bytes()).expect("valid characters");
        MemberId::parse(&format!("{first17}{}", char::from(check))).expect("valid id")
    }

    fn publish(admin: &SigningKey, chain_id: &str, nonce: u64, name: &str) -> SignedRecord {
        RecordPayload {
            chain_id: chain_id.to_string(),
            author: public_key(admin),
            nonce,
            body: RecordBody::PublishLicenceType {
                type_code: TypeCode::parse(&format!("{}001", member_id(1))).expect("type"),
                name: name.to_string(),
                issuers: vec![member_id(1)],
            },
        }
        .sign(admin)
    }

    async fn submit(
        queue: &mpsc::Sender<Submission>,
        record: SignedRecord,
    ) -> Result<(Hash32, Admitted), Refused> {
        let (reply, answer) = oneshot::channel();
        queue
            .send(Submission {
                record,
                source: Source::Api,
                reply: Some(reply),
            })
            .await
            .expect("queue open");
        answer.await.expect("answered")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn admission_checks_in_order_and_changes_nothing_on_refusal() {
        let dir = tempfile::tempdir().expect("tempdir");
        let validator = SigningKey::from_bytes(&[1; 32]);
        let admin = SigningKey::from_bytes(&[9; 32]);
        let genesis = Genesis {
            chain_id: "admission-test".to_string(),
            genesis_time_ms: 1_000,
            members: vec![Member {
                id: member_id(1),
                name: "一".to_string(),
                region: RegionCode::parse("110000").expect("region"),
                key: public_key(&validator),
                roles: vec![Role::Validator],
                status: MemberStatus::Active,
            }],
            admins: vec![public_key(&admin)],
            params: ChainParams::default(),
        };
        let ledger = Arc::new(Ledger::open(dir.path(), &genesis).expect("ledger"));
        let mempool = Arc::new(std::sync::Mutex::new(Mempool::new(MempoolLimits {
            max_records: 2,
            max_per_author: 2,
        })));
        let metrics = Arc::new(Metrics::new());
        let admission = Admission {
            ledger,
            mempool: Arc::clone(&mempool),
            records_added: Arc::new(Notify::new()),
            net: None,
            metrics: Arc::clone(&metrics),
            waiters: Arc::new(Waiters::default()),
        };
        let (queue, receiver) = mpsc::channel(16);
        tokio::spawn(admission.run(receiver));

        let good = publish(&admin, "admission-test", 1, "营业执照");
        let (hash, admitted) = submit(&queue, good.clone()).await.expect("admitted");
        assert_eq!(admitted, Admitted::New);
        assert_eq!(hash, good.hash());
        assert_eq!(
            submit(&queue, good).await.expect("dup").1,
            Admitted::Duplicate
        );

        let mut forged = publish(&admin, "admission-test", 2, "x");
        forged.signature.0[0] ^= 1;
        assert_eq!(
            submit(&queue, forged).await.expect_err("forged").code,
            "bad_signature"
        );
        let other_chain = publish(&admin, "another-chain", 3, "x");
        assert_eq!(
            submit(&queue, other_chain).await.expect_err("chain").code,
            "wrong_chain_id"
        );
        let not_admin = publish(&validator, "admission-test", 1, "x");
        assert_eq!(
            submit(&queue, not_admin).await.expect_err("author").code,
            "not_admin"
        );
        let same_nonce = publish(&admin, "admission-test", 1, "another name");
        let refused = submit(&queue, same_nonce).await.expect_err("nonce");
        assert_eq!(refused.code, "nonce_in_use");
        assert!(!refused.temporary);

        let second = publish(&admin, "admission-test", 4, "y");
        submit(&queue, second).await.expect("room for two");
        let third = publish(&admin, "admission-test", 5, "z");
        let full = submit(&queue, third).await.expect_err("full");
        assert_eq!(full.code, "mempool_full");
        assert!(full.temporary);

        assert_eq!(mempool.lock().expect("lock").len(), 2);
        let text = metrics.encode();
        assert!(text.contains("reason=\"bad_signature\"} 1"), "{text}");
    }
}
