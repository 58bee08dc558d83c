//! The HTTP API (axum), as specified in `docs/spec/openapi.yaml`.
//!
//! Every error is JSON `{ "code", "message" }` with a stable code: node codes are listed
//! in the OpenAPI file; record rejections reuse the ledger's `RejectReason::code()`.
//! Bodies are limited to `api.max_body_bytes`. Operator routes need the bearer token and
//! sign with the node's key, taking nonces from the persisted [`NonceCounter`].
//! `?wait=commit` registers a waiter BEFORE the record is submitted, so a commit can
//! never slip between admission and waiting.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use ed25519_dalek::SigningKey;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};
use tongban_ledger::crypto::public_key;
use tongban_ledger::ids::{CaseId, ItemCode, LicenceId, MemberId, TypeCode};
use tongban_ledger::types::{
    Block, CaseMode, CaseState, Commit, Height, RecordBody, RecordPayload, SignedRecord,
};
use tongban_ledger::wire::{BatchError, RecordBatch};
use tongban_ledger::Hash32;

use crate::admission::{Admitted, Refused, Source, Submission};
use crate::ledger::Ledger;
use crate::mempool::Mempool;
use crate::metrics::Metrics;
use crate::nonce::NonceCounter;
use crate::status::StatusCell;
use crate::waiters::{Fate, Waiters};

/// Everything the handlers share.
#[derive(Debug)]
pub struct ApiState {
    /// The ledger (reads).
    pub ledger: Arc<Ledger>,
    /// The mempool (pending lookups).
    pub mempool: Arc<Mutex<Mempool>>,
    /// The admission queue.
    pub admission: mpsc::Sender<Submission>,
    /// `?wait=commit` callers.
    pub waiters: Arc<Waiters>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Status.
    pub status: Arc<StatusCell>,
    /// The node's key (operator routes).
    pub key: SigningKey,
    /// Operator nonces.
    pub nonces: Arc<NonceCounter>,
    /// `api.bearer_token`.
    pub bearer_token: String,
    /// `api.wait_timeout_ms`.
    pub wait_timeout: Duration,
}

/// Builds the router.
pub fn router(state: Arc<ApiState>, max_body_bytes: usize) -> Router {
    Router::new()
        .route("/v1/status", get(get_status))
        .route("/v1/records", post(post_record))
        .route("/v1/records/batch", post(post_record_batch))
        .route("/v1/records/{hash}", get(get_record))
        .route("/v1/licences", post(post_licence))
        .route("/v1/licences/{id}", get(get_licence))
        .route("/v1/licences/{id}/status", post(post_licence_status))
        .route("/v1/licences/{id}/proof", get(get_licence_proof))
        .route("/v1/cases", post(post_case))
        .route("/v1/cases/{id}", get(get_case))
        .route("/v1/cases/{id}/advance", post(post_case_advance))
        .route("/v1/members", get(get_members))
        .route("/v1/blocks/{height}", get(get_block))
        .route("/v1/catalog", get(get_catalog))
        .route("/metrics", get(get_metrics))
        .route("/healthz", get(get_health))
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route") })
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .with_state(state)
}

// ---------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------

/// An error answer: status and `{code, message}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    code: &'a str,
    message: &'a str,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    fn internal(message: impl std::fmt::Display) -> ApiError {
        tracing::error!("API internal error: {message}");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            message.to_string(),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            code: self.code,
            message: &self.message,
        };
        (self.status, Json(body)).into_response()
    }
}

impl From<Refused> for ApiError {
    fn from(refused: Refused) -> ApiError {
        let status = if refused.temporary {
            StatusCode::SERVICE_UNAVAILABLE
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        };
        ApiError::new(status, refused.code, refused.message)
    }
}

impl From<crate::ledger::LedgerError> for ApiError {
    fn from(e: crate::ledger::LedgerError) -> ApiError {
        ApiError::internal(e)
    }
}

type ApiResult<T> = Result<T, ApiError>;

/// The media type of the codec's bytes: a record batch in (`wire::RecordBatch`), a block
/// with its commit out (`wire::SyncedBlock`), as nodes send them to each other.
const OCTET_STREAM: &str = "application/octet-stream";

/// The body, or the error for one that was too large or could not be read.
fn body_bytes(body: Result<Bytes, BytesRejection>) -> ApiResult<Bytes> {
    body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                rejection.body_text(),
            )
        } else {
            ApiError::bad_request("bad_request", rejection.body_text())
        }
    })
}

/// Whether a header's value names `media_type` (case-insensitive, parameters ignored;
/// for `Accept`, any of its comma-separated entries).
fn names_media_type(headers: &HeaderMap, name: header::HeaderName, media_type: &str) -> bool {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| {
            value.split(',').any(|entry| {
                entry
                    .split(';')
                    .next()
                    .is_some_and(|t| t.trim().eq_ignore_ascii_case(media_type))
            })
        })
}

/// Parses a JSON body: 413 when too large, 415 when not JSON, 400 `malformed_json` when it
/// is not JSON of the expected shape, 400 `invalid_id` when an identifier is invalid.
fn parse_body<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<T> {
    let body = body_bytes(body)?;
    if let Some(content_type) = headers.get(header::CONTENT_TYPE) {
        let is_json = content_type
            .to_str()
            .map(|v| {
                v.trim_start()
                    .to_ascii_lowercase()
                    .starts_with("application/json")
            })
            .unwrap_or(false);
        if !is_json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "the body must be application/json",
            ));
        }
    }
    // Straight into `T`: going through a `serde_json::Value` first built a tree of
    // every field of every record, about as costly as the parse itself.
    serde_json::from_slice(&body).map_err(|e| {
        if e.classify() != serde_json::error::Category::Data {
            return ApiError::bad_request("malformed_json", format!("not JSON: {e}"));
        }
        let message = e.to_string();
        if is_id_error(&message) {
            ApiError::bad_request("invalid_id", message)
        } else {
            ApiError::bad_request("malformed_json", message)
        }
    })
}

/// serde carries an identifier's `IdError` as its message, which starts with the
/// identifier kind (see `ledger::ids::IdKind`'s Display).
fn is_id_error(message: &str) -> bool {
    [
        "department id",
        "region code",
        "licence id",
        "licence type code",
        "case id",
        "item code",
    ]
    .iter()
    .any(|kind| message.starts_with(kind))
}

fn parse_path<T: std::str::FromStr>(text: &str) -> ApiResult<T>
where
    T::Err: std::fmt::Display,
{
    text.parse::<T>()
        .map_err(|e| ApiError::bad_request("invalid_id", e.to_string()))
}

fn check_bearer(state: &ApiState, headers: &HeaderMap) -> ApiResult<()> {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    // Compare without stopping at the first difference, so timing does not reveal how
    // much of a guess was right.
    let expected = state.bearer_token.as_bytes();
    let given = given.as_bytes();
    let mut difference = u8::from(expected.len() != given.len());
    for (i, byte) in expected.iter().enumerate() {
        difference |= byte ^ given.get(i).copied().unwrap_or(0);
    }
    if difference != 0 {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "operator routes need Authorization: Bearer <api.bearer_token>",
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------
// Submitting
// ---------------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
struct WaitQuery {
    wait: Option<String>,
}

impl WaitQuery {
    fn wait_for_commit(&self) -> ApiResult<bool> {
        match self.wait.as_deref() {
            None => Ok(false),
            Some("commit") => Ok(true),
            Some(other) => Err(ApiError::bad_request(
                "bad_request",
                format!("wait={other:?}: the only value is \"commit\""),
            )),
        }
    }
}

#[derive(Debug, Serialize)]
struct SubmitResponse {
    record_hash: Hash32,
    status: &'static str,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    duplicate: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    height: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    index: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    block_hash: Option<Hash32>,
}

async fn submit(
    state: &ApiState,
    record: SignedRecord,
    wait: bool,
    nonce: Option<u64>,
) -> ApiResult<Response> {
    let hash = record.hash();
    let waiter = if wait {
        Some(state.waiters.register(hash).map_err(|e| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "mempool_full",
                e.to_string(),
            )
        })?)
    } else {
        None
    };
    let (reply, answer) = oneshot::channel();
    let submission = Submission {
        record,
        source: Source::Api,
        reply: Some(reply),
    };
    if let Err(e) = state.admission.try_send(submission) {
        state.metrics.reject("mempool_full");
        let message = match e {
            mpsc::error::TrySendError::Full(_) => "the admission queue is full; try again later",
            mpsc::error::TrySendError::Closed(_) => "the node is shutting down",
        };
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "mempool_full",
            message,
        ));
    }
    let admitted = answer
        .await
        .map_err(|_| ApiError::internal("admission task stopped"))??;
    let (hash, admitted) = admitted;
    let mut response = SubmitResponse {
        record_hash: hash,
        status: "pending",
        duplicate: admitted != Admitted::New,
        nonce,
        height: None,
        index: None,
        block_hash: None,
    };
    if admitted == Admitted::AlreadyCommitted {
        if let Some(found) = state.ledger.record(&hash)? {
            response.status = "committed";
            response.height = Some(found.height);
            response.index = Some(found.index);
            response.block_hash = Some(found.block_hash);
            return Ok((StatusCode::OK, Json(response)).into_response());
        }
    }
    let Some(waiter) = waiter else {
        return Ok((StatusCode::ACCEPTED, Json(response)).into_response());
    };
    match tokio::time::timeout(state.wait_timeout, waiter).await {
        Ok(Ok(Fate::Committed {
            height,
            index,
            block_hash,
        })) => {
            response.status = "committed";
            response.height = Some(height);
            response.index = Some(index);
            response.block_hash = Some(block_hash);
            Ok((StatusCode::OK, Json(response)).into_response())
        }
        Ok(Ok(Fate::Rejected { code, message })) => {
            Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message))
        }
        Ok(Err(_)) => Err(ApiError::internal("commit waiter dropped")),
        Err(_) => Err(ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "wait_timeout",
            format!(
                "record {hash} not committed within {} ms; it may still commit (GET /v1/records/{hash})",
                state.wait_timeout.as_millis()
            ),
        )),
    }
}

async fn post_record(
    State(state): State<Arc<ApiState>>,
    Query(query): Query<WaitQuery>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let wait = query.wait_for_commit()?;
    let record: SignedRecord = parse_body(&headers, body)?;
    submit(&state, record, wait, None).await
}

/// Most records in one `POST /v1/records/batch`.
pub const MAX_SUBMIT_BATCH: usize = 1_000;

/// The answer for one record of a batch.
#[derive(Debug, Serialize)]
struct BatchItem {
    record_hash: Hash32,
    /// `pending`, `committed` or `refused`.
    status: &'static str,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    duplicate: bool,
    /// Why it was refused (the same codes as `POST /v1/records`).
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
    /// The refusal is temporary (the node is full): submit the record again later.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    retry: bool,
}

impl BatchItem {
    fn refused(record_hash: Hash32, refusal: Refused) -> BatchItem {
        BatchItem {
            record_hash,
            status: "refused",
            duplicate: false,
            code: Some(refusal.code),
            message: Some(refusal.message),
            retry: refusal.temporary,
        }
    }
}

#[derive(Debug, Serialize)]
struct BatchResponse {
    /// Records now pending or already committed.
    accepted: usize,
    /// Records refused (see each result's `code`).
    refused: usize,
    /// One result per submitted record, in order.
    results: Vec<BatchItem>,
}

/// `POST /v1/records/batch`: up to [`MAX_SUBMIT_BATCH`] pre-signed records in one call,
/// for a department system that issues in bulk. Every record is admitted on its own
/// (one record's refusal does not affect the others) and gets its own result; the call
/// answers once each is pending or refused. Records enter the admission queue in the
/// order given, so one author's records keep their nonce order; when the queue fills, the
/// record that did not fit and every later one are refused with `retry: true`.
async fn post_record_batch(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let records: Vec<SignedRecord> =
        if names_media_type(&headers, header::CONTENT_TYPE, OCTET_STREAM) {
            // The record gossip's own form: no JSON to parse for a bulk submitter.
            match RecordBatch::from_bytes(&body_bytes(body)?) {
                Ok(batch) => batch.0,
                Err(BatchError::Codec(e)) => {
                    return Err(ApiError::bad_request("malformed_batch", e.to_string()))
                }
                // Too many or none: the size check below gives its answer.
                Err(BatchError::Empty) => Vec::new(),
                Err(e @ BatchError::TooMany { .. }) => {
                    return Err(ApiError::bad_request("bad_batch_size", e.to_string()))
                }
            }
        } else {
            parse_body(&headers, body)?
        };
    if records.is_empty() || records.len() > MAX_SUBMIT_BATCH {
        return Err(ApiError::bad_request(
            "bad_batch_size",
            format!(
                "a batch holds 1..={MAX_SUBMIT_BATCH} records, this one {}",
                records.len()
            ),
        ));
    }
    let mut queued = Vec::with_capacity(records.len());
    let mut full = false;
    for record in records {
        let hash = record.hash();
        if full {
            queued.push((hash, None));
            continue;
        }
        let (reply, answer) = oneshot::channel();
        let submission = Submission {
            record,
            source: Source::Api,
            reply: Some(reply),
        };
        if state.admission.try_send(submission).is_ok() {
            queued.push((hash, Some(answer)));
        } else {
            full = true;
            queued.push((hash, None));
        }
    }
    let mut results = Vec::with_capacity(queued.len());
    for (hash, answer) in queued {
        let Some(answer) = answer else {
            state.metrics.reject("mempool_full");
            results.push(BatchItem::refused(
                hash,
                Refused {
                    code: "mempool_full",
                    message: "the admission queue is full; try again later".to_string(),
                    temporary: true,
                },
            ));
            continue;
        };
        let item = match answer
            .await
            .map_err(|_| ApiError::internal("admission task stopped"))?
        {
            Ok((hash, admitted)) => BatchItem {
                record_hash: hash,
                status: if admitted == Admitted::AlreadyCommitted {
                    "committed"
                } else {
                    "pending"
                },
                duplicate: admitted != Admitted::New,
                code: None,
                message: None,
                retry: false,
            },
            Err(refusal) => BatchItem::refused(hash, refusal),
        };
        results.push(item);
    }
    let refused = results.iter().filter(|r| r.status == "refused").count();
    let response = BatchResponse {
        accepted: results.len() - refused,
        refused,
        results,
    };
    Ok((StatusCode::OK, Json(response)).into_response())
}

/// Signs `body` with the node's key and the next operator nonce, and submits it.
async fn submit_operator(state: &ApiState, body: RecordBody, wait: bool) -> ApiResult<Response> {
    let nonce = state.nonces.next().map_err(ApiError::internal)?;
    let record = RecordPayload {
        chain_id: state.ledger.chain_id().to_string(),
        author: public_key(&state.key),
        nonce,
        body,
    }
    .sign(&state.key);
    submit(state, record, wait, Some(nonce)).await
}

fn own_member_id(state: &ApiState) -> ApiResult<MemberId> {
    match state.ledger.member_by_key(&public_key(&state.key))? {
        Some(member) => Ok(member.id),
        None => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "not_a_member",
            "this node's key is not a member's key",
        )),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct IssueLicenceRequest {
    licence_id: LicenceId,
    type_code: TypeCode,
    holder_commitment: Hash32,
    document_hash: Hash32,
    valid_from: u64,
    #[serde(default)]
    valid_until: Option<u64>,
    #[serde(default)]
    supersedes: Option<LicenceId>,
}

async fn post_licence(
    State(state): State<Arc<ApiState>>,
    Query(query): Query<WaitQuery>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    check_bearer(&state, &headers)?;
    let wait = query.wait_for_commit()?;
    let request: IssueLicenceRequest = parse_body(&headers, body)?;
    let body = RecordBody::IssueLicence {
        licence_id: request.licence_id,
        type_code: request.type_code,
        holder_commitment: request.holder_commitment,
        document_hash: request.document_hash,
        valid_from: request.valid_from,
        valid_until: request.valid_until,
        supersedes: request.supersedes,
    };
    submit_operator(&state, body, wait).await
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
enum StatusAction {
    Suspend,
    Reinstate,
    Revoke,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LicenceStatusRequest {
    action: StatusAction,
    #[serde(default)]
    reason: Option<String>,
}

async fn post_licence_status(
    State(state): State<Arc<ApiState>>,
    Path(id): Path<String>,
    Query(query): Query<WaitQuery>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    check_bearer(&state, &headers)?;
    let wait = query.wait_for_commit()?;
    let licence_id: LicenceId = parse_path(&id)?;
    let request: LicenceStatusRequest = parse_body(&headers, body)?;
    let reason = || {
        request
            .reason
            .clone()
            .filter(|r| !r.trim().is_empty())
            .ok_or_else(|| {
                ApiError::bad_request("bad_request", "reason is required to suspend or revoke")
            })
    };
    let body = match request.action {
        StatusAction::Suspend => RecordBody::SuspendLicence {
            licence_id,
            reason: reason()?,
        },
        StatusAction::Reinstate => RecordBody::ReinstateLicence { licence_id },
        StatusAction::Revoke => RecordBody::RevokeLicence {
            licence_id,
            reason: reason()?,
        },
    };
    submit_operator(&state, body, wait).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OpenCaseRequest {
    case_id: CaseId,
    item_code: ItemCode,
    mode: CaseMode,
    handling: Vec<MemberId>,
    applicant_commitment: Hash32,
    deadline: u64,
}

async fn post_case(
    State(state): State<Arc<ApiState>>,
    Query(query): Query<WaitQuery>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    check_bearer(&state, &headers)?;
    let wait = query.wait_for_commit()?;
    let request: OpenCaseRequest = parse_body(&headers, body)?;
    let accepting = own_member_id(&state)?;
    let body = RecordBody::OpenCase {
        case_id: request.case_id,
        item_code: request.item_code,
        mode: request.mode,
        accepting,
        handling: request.handling,
        applicant_commitment: request.applicant_commitment,
        deadline: request.deadline,
    };
    submit_operator(&state, body, wait).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AdvanceCaseRequest {
    to: CaseState,
    #[serde(default)]
    evidence_hash: Option<Hash32>,
    #[serde(default)]
    licence_id: Option<LicenceId>,
}

async fn post_case_advance(
    State(state): State<Arc<ApiState>>,
    Path(id): Path<String>,
    Query(query): Query<WaitQuery>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    check_bearer(&state, &headers)?;
    let wait = query.wait_for_commit()?;
    let case_id: CaseId = parse_path(&id)?;
    let request: AdvanceCaseRequest = parse_body(&headers, body)?;
    let body = RecordBody::AdvanceCase {
        case_id,
        to: request.to,
        evidence_hash: request.evidence_hash,
        licence_id: request.licence_id,
    };
    submit_operator(&state, body, wait).await
}

// ---------------------------------------------------------------------------------
// Reads
// ---------------------------------------------------------------------------------

async fn get_status(State(state): State<Arc<ApiState>>) -> Json<crate::status::NodeStatus> {
    let mut status = state.status.get();
    status.mempool_size = state
        .mempool
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .len();
    Json(status)
}

async fn get_record(
    State(state): State<Arc<ApiState>>,
    Path(hash): Path<String>,
) -> ApiResult<Response> {
    let hash = Hash32::from_hex(&hash).map_err(|e| {
        ApiError::bad_request(
            "bad_request",
            format!("record hash: expected 64 hex characters: {e}"),
        )
    })?;
    if let Some(found) = state.ledger.record(&hash)? {
        return Ok(Json(found.into_json(hash)).into_response());
    }
    let pending = state
        .mempool
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&hash)
        .map(|entry| (*entry.record).clone());
    match pending {
        Some(record) => Ok(Json(serde_json::json!({
            "record_hash": hash,
            "status": "pending",
            "record": record,
        }))
        .into_response()),
        None => Err(ApiError::not_found(format!(
            "record {hash} is neither committed nor pending here"
        ))),
    }
}

async fn get_licence(
    State(state): State<Arc<ApiState>>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let id: LicenceId = parse_path(&id)?;
    let (height, licence) = state.ledger.licence(&id)?;
    match licence {
        Some(licence) => {
            Ok(Json(serde_json::json!({ "height": height, "licence": licence })).into_response())
        }
        None => Err(ApiError::not_found(format!(
            "licence {id} is not on the ledger"
        ))),
    }
}

async fn get_licence_proof(
    State(state): State<Arc<ApiState>>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let id: LicenceId = parse_path(&id)?;
    let ledger = Arc::clone(&state.ledger);
    let now_ms = crate::clock::now_ms();
    let bundle = tokio::task::spawn_blocking(move || ledger.licence_proof(&id, now_ms))
        .await
        .map_err(ApiError::internal)??;
    match bundle {
        Some(bundle) => Ok(Json(bundle).into_response()),
        None => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            "no block is committed yet: there is no signed header to prove against",
        )),
    }
}

async fn get_case(
    State(state): State<Arc<ApiState>>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let id: CaseId = parse_path(&id)?;
    let (height, case) = state.ledger.case(&id)?;
    let now_ms = crate::clock::now_ms();
    match case {
        Some(case) => Ok(Json(serde_json::json!({
            "height": height,
            "now_ms": now_ms,
            "overdue": case.is_overdue(now_ms),
            "case": case,
        }))
        .into_response()),
        None => Err(ApiError::not_found(format!(
            "case {id} is not on the ledger"
        ))),
    }
}

async fn get_members(State(state): State<Arc<ApiState>>) -> ApiResult<Response> {
    let members = state.ledger.members()?;
    Ok(Json(members).into_response())
}

async fn get_catalog(State(state): State<Arc<ApiState>>) -> ApiResult<Response> {
    let catalog = state.ledger.catalog()?;
    Ok(Json(catalog).into_response())
}

/// `GET /v1/blocks/{height}`, serialized straight from the block (`json!` first built
/// a `serde_json::Value` of every record's every field).
#[derive(Serialize)]
struct BlockAnswer<'a> {
    height: Height,
    block_hash: Hash32,
    block: &'a Block,
    commit: &'a Commit,
}

async fn get_block(
    State(state): State<Arc<ApiState>>,
    Path(height): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let head = state.ledger.head().height;
    let height = if height == "latest" {
        head
    } else {
        height.parse::<u64>().map_err(|_| {
            ApiError::bad_request(
                "bad_request",
                format!("height {height:?}: expected a number ≥ 1 or \"latest\""),
            )
        })?
    };
    if height == 0 {
        return Err(ApiError::not_found("height 0 is the genesis, not a block"));
    }
    let not_found = || ApiError::not_found(format!("no block at height {height} (head is {head})"));
    if names_media_type(&headers, header::ACCEPT, OCTET_STREAM) {
        // The stored bytes as they are, for a reader that decodes them itself.
        let bytes = state
            .ledger
            .synced_block_bytes(height)?
            .ok_or_else(not_found)?;
        return Ok(([(header::CONTENT_TYPE, OCTET_STREAM)], bytes).into_response());
    }
    match state.ledger.block(height)? {
        Some((block, commit)) => Ok(Json(BlockAnswer {
            block_hash: block.header.hash(),
            block: &block,
            commit: &commit,
            height,
        })
        .into_response()),
        None => Err(not_found()),
    }
}

async fn get_metrics(State(state): State<Arc<ApiState>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.encode(),
    )
        .into_response()
}

async fn get_health(State(state): State<Arc<ApiState>>) -> Response {
    let height = state.status.get().height;
    Json(serde_json::json!({ "status": "ok", "height": height })).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tongban_ledger::crypto::sha256;
    use tongban_ledger::types::BlockHeader;

    /// A valid licence id (ending in its check character `E`).
    const LICENCE: &str =
        "1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000404.001.E";

    fn record(key: &SigningKey, nonce: u64) -> SignedRecord {
        RecordPayload {
            chain_id: "test-chain".into(),
            author: public_key(key),
            nonce,
            body: RecordBody::Approve { proposal_id: nonce },
        }
        .sign(key)
    }

    fn parse(body: &str) -> ApiResult<Vec<SignedRecord>> {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            "application/json".parse().expect("header"),
        );
        parse_body(&headers, Ok(Bytes::from(body.to_string())))
    }

    #[test]
    fn a_block_answer_is_the_json_of_its_parts() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let header = BlockHeader {
            chain_id: "test-chain".into(),
            height: 5,
            time_ms: 1_700_000_000_000,
            prev_hash: sha256(&[b"prev".as_slice()]),
            records_root: sha256(&[b"records".as_slice()]),
            state_root: sha256(&[b"state".as_slice()]),
            validators_hash: sha256(&[b"validators".as_slice()]),
            next_validators_hash: sha256(&[b"next".as_slice()]),
            proposer: public_key(&key),
        };
        let block = Block {
            header,
            records: vec![record(&key, 1), record(&key, 2)],
        };
        let commit = Commit {
            height: 5,
            round: 1,
            block_hash: block.header.hash(),
            signatures: vec![(0, record(&key, 3).signature)],
        };
        let answer = serde_json::to_value(BlockAnswer {
            height: 5,
            block_hash: block.header.hash(),
            block: &block,
            commit: &commit,
        })
        .expect("serialize");
        // The form the API answered with before it serialized the block directly.
        let expected = serde_json::json!({
            "height": 5,
            "block_hash": block.header.hash(),
            "block": block,
            "commit": commit,
        });
        assert_eq!(answer, expected);
    }

    #[test]
    fn bodies_parse_straight_into_their_type_with_the_same_refusals() {
        let key = SigningKey::from_bytes(&[9; 32]);
        let records = vec![record(&key, 1), record(&key, 2)];
        let text = serde_json::to_string(&records).expect("serialize");
        assert_eq!(parse(&text).expect("parse"), records);

        for not_json in ["[", "", "[{\"payload\": }]", "[] trailing"] {
            let refused = parse(not_json).expect_err(not_json);
            assert_eq!(refused.code, "malformed_json", "{not_json}");
            assert!(
                refused.message.starts_with("not JSON"),
                "{}",
                refused.message
            );
        }
        // Where the shape is wrong before the syntax is, the parse stops at the shape.
        assert_eq!(parse("{not json").expect_err("map").code, "malformed_json");
        // JSON, but not records.
        let refused = parse("[{\"payload\": 1}]").expect_err("shape");
        assert_eq!(refused.code, "malformed_json");
        assert!(
            !refused.message.starts_with("not JSON"),
            "{}",
            refused.message
        );
        // A record whose licence id breaks its check character.
        let mut value = serde_json::json!([RecordPayload {
            chain_id: "test-chain".into(),
            author: public_key(&key),
            nonce: 1,
            body: RecordBody::SuspendLicence {
                licence_id: LICENCE.parse().expect("id"),
                reason: "test".into(),
            },
        }
        .sign(&key)]);
        let body = &mut value[0]["payload"]["body"]["SuspendLicence"];
        assert!(body.is_object(), "{value}");
        body["licence_id"] = serde_json::Value::from(LICENCE.replace(".E", ".F"));
        let refused = parse(&value.to_string()).expect_err("bad id");
        assert_eq!(refused.code, "invalid_id", "{}", refused.message);
    }
}
