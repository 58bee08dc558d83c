//! A blocking client for the node's HTTP API (`docs/spec/openapi.yaml`).
//!
//! Responses are decoded straight into the ledger's types, whose deserialisers validate
//! every identifier, so a node (or anything pretending to be one) cannot hand the CLI an
//! invalid id. Every body read is bounded by [`MAX_RESPONSE_BYTES`].

use std::io::Read;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tongban_ledger::ids::{CaseId, LicenceId, MemberId};
use tongban_ledger::types::{
    CaseMode, CaseRecord, CaseState, CatalogItem, ChainParams, LicenceRecord, LicenceType, Member,
    SignedRecord, ValidatorSet,
};
use tongban_ledger::wire::{RecordBatch, SyncedBlock};
use tongban_ledger::{Hash32, PublicKey};

/// The media type of the codec's bytes (`docs/spec/openapi.yaml`).
const OCTET_STREAM: &str = "application/octet-stream";

/// Largest response body read (a proof bundle with a long validator-set history is the
/// largest answer; blocks of 10,000 records are a few MiB).
pub const MAX_RESPONSE_BYTES: u64 = 64 * 1024 * 1024;
/// How long one request may take, including `?wait=commit` (the node's own wait timeout
/// is shorter, so it answers 504 first).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Why an API call failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The node answered with an error (`{code, message}`).
    #[error("node answered {status}: {code}: {message}")]
    Node {
        /// HTTP status.
        status: u16,
        /// Stable error code.
        code: String,
        /// Human message.
        message: String,
    },
    /// The request did not reach the node or the answer did not arrive.
    #[error("cannot reach {url}")]
    Transport {
        /// The URL.
        url: String,
        /// The error.
        source: reqwest::Error,
    },
    /// The answer is not what the API promises.
    #[error("unexpected answer from {url}: {detail}")]
    Decode {
        /// The URL.
        url: String,
        /// What is wrong.
        detail: String,
    },
}

impl ApiError {
    /// The stable error code of a node error.
    pub fn code(&self) -> Option<&str> {
        match self {
            ApiError::Node { code, .. } => Some(code),
            _ => None,
        }
    }
}

#[derive(Deserialize)]
struct ErrorBody {
    code: String,
    message: String,
}

/// `GET /v1/status`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Status {
    /// The chain.
    pub chain_id: String,
    /// Hash of the genesis.
    pub genesis_hash: Hash32,
    /// The node's name.
    pub moniker: String,
    /// The node's key.
    pub node_key: PublicKey,
    /// The node's member id, if it is a member.
    #[serde(default)]
    pub member_id: Option<MemberId>,
    /// libp2p PeerId.
    pub peer_id: String,
    /// Last committed height.
    pub height: u64,
    /// Head block hash.
    pub head_hash: Hash32,
    /// State root at the head.
    pub state_root: Hash32,
    /// Head block time.
    pub time_ms: u64,
    /// Current round.
    pub round: u32,
    /// Number of validators.
    pub validators: u64,
    /// Whether this node votes.
    pub is_validator: bool,
    /// Connected peers.
    pub connected_peers: u64,
    /// Records waiting.
    pub mempool_size: u64,
    /// Catching up.
    pub syncing: bool,
}

/// The answer to a submission.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SubmitResponse {
    /// The record's hash.
    pub record_hash: Hash32,
    /// `pending` or `committed`.
    pub status: String,
    /// Already known to the node.
    #[serde(default)]
    pub duplicate: bool,
    /// Nonce used (operator routes).
    #[serde(default)]
    pub nonce: Option<u64>,
    /// Height, when committed.
    #[serde(default)]
    pub height: Option<u64>,
    /// Position in the block.
    #[serde(default)]
    pub index: Option<u32>,
    /// Block hash, when committed.
    #[serde(default)]
    pub block_hash: Option<Hash32>,
}

/// One record's result in `POST /v1/records/batch`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BatchItem {
    /// The record's hash.
    pub record_hash: Hash32,
    /// `pending`, `committed` or `refused`.
    pub status: String,
    /// Already known to the node.
    #[serde(default)]
    pub duplicate: bool,
    /// Why it was refused.
    #[serde(default)]
    pub code: Option<String>,
    /// Why it was refused, for humans.
    #[serde(default)]
    pub message: Option<String>,
    /// The refusal is temporary: submit again later.
    #[serde(default)]
    pub retry: bool,
}

/// The answer to `POST /v1/records/batch`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BatchAnswer {
    /// Records pending or already committed.
    pub accepted: usize,
    /// Records refused.
    pub refused: usize,
    /// One result per record, in the order submitted.
    pub results: Vec<BatchItem>,
}

/// `GET /v1/licences/{id}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LicenceAnswer {
    /// Height of the state read.
    pub height: u64,
    /// The licence.
    pub licence: LicenceRecord,
}

/// `GET /v1/cases/{id}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CaseAnswer {
    /// Height of the state read.
    pub height: u64,
    /// The node's clock.
    pub now_ms: u64,
    /// Past its deadline without a decision.
    pub overdue: bool,
    /// The case.
    pub case: CaseRecord,
}

/// `GET /v1/members`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MembersAnswer {
    /// Height of the state read.
    pub height: u64,
    /// Members.
    pub members: Vec<Member>,
    /// Admin keys.
    pub admins: Vec<PublicKey>,
    /// Validator set.
    pub validators: ValidatorSet,
    /// Chain parameters.
    #[serde(default)]
    pub params: Option<ChainParams>,
}

/// `GET /v1/catalog`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CatalogAnswer {
    /// Height of the state read.
    pub height: u64,
    /// Licence types.
    pub licence_types: Vec<LicenceType>,
    /// Items.
    pub items: Vec<CatalogItem>,
}

/// `GET /v1/records/{hash}` (the fields the CLI uses; the rest is kept as JSON).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecordAnswer {
    /// The record's hash.
    pub record_hash: Hash32,
    /// `pending` or `committed`.
    pub status: String,
    /// Height, when committed.
    #[serde(default)]
    pub height: Option<u64>,
}

/// `POST /v1/licences`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IssueLicenceRequest {
    /// The licence id.
    pub licence_id: LicenceId,
    /// Its type code.
    pub type_code: String,
    /// `sha256(salt ‖ holder id)`.
    pub holder_commitment: Hash32,
    /// `sha256(document)`.
    pub document_hash: Hash32,
    /// Start of validity, Unix ms.
    pub valid_from: u64,
    /// End of validity, Unix ms.
    pub valid_until: Option<u64>,
    /// The licence replaced.
    pub supersedes: Option<LicenceId>,
}

/// `POST /v1/licences/{id}/status`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LicenceStatusRequest {
    /// `suspend`, `reinstate` or `revoke`.
    pub action: String,
    /// Why (required for suspend and revoke).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `POST /v1/cases`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OpenCaseRequest {
    /// The case id.
    pub case_id: CaseId,
    /// The item code.
    pub item_code: String,
    /// The mode.
    pub mode: CaseMode,
    /// Handling members.
    pub handling: Vec<MemberId>,
    /// `sha256(salt ‖ applicant id)`.
    pub applicant_commitment: Hash32,
    /// Deadline, Unix ms.
    pub deadline: u64,
}

/// `POST /v1/cases/{id}/advance`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AdvanceCaseRequest {
    /// The new state.
    pub to: CaseState,
    /// Evidence hash.
    pub evidence_hash: Option<Hash32>,
    /// Licence issued.
    pub licence_id: Option<LicenceId>,
}

/// A client of one node.
#[derive(Debug, Clone)]
pub struct NodeClient {
    base: String,
    token: Option<String>,
    http: reqwest::blocking::Client,
}

impl NodeClient {
    /// A client of the node at `base` (e.g. `http://127.0.0.1:26657`).
    pub fn new(base: &str, token: Option<String>) -> Result<Self, ApiError> {
        let http = reqwest::blocking::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|source| ApiError::Transport {
                url: base.to_owned(),
                source,
            })?;
        Ok(NodeClient {
            base: base.trim_end_matches('/').to_owned(),
            token,
            http,
        })
    }

    /// The node's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    fn wait_query(wait: bool) -> &'static str {
        if wait {
            "?wait=commit"
        } else {
            ""
        }
    }

    fn send(
        &self,
        request: reqwest::blocking::RequestBuilder,
        url: &str,
    ) -> Result<Vec<u8>, ApiError> {
        let request = match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        };
        let response = request.send().map_err(|source| ApiError::Transport {
            url: url.to_owned(),
            source,
        })?;
        let status = response.status();
        let mut body = Vec::new();
        response
            .take(MAX_RESPONSE_BYTES + 1)
            .read_to_end(&mut body)
            .map_err(|e| ApiError::Decode {
                url: url.to_owned(),
                detail: format!("reading the body: {e}"),
            })?;
        if body.len() as u64 > MAX_RESPONSE_BYTES {
            return Err(ApiError::Decode {
                url: url.to_owned(),
                detail: format!("body larger than {MAX_RESPONSE_BYTES} bytes"),
            });
        }
        if status.is_success() {
            return Ok(body);
        }
        match serde_json::from_slice::<ErrorBody>(&body) {
            Ok(e) => Err(ApiError::Node {
                status: status.as_u16(),
                code: e.code,
                message: e.message,
            }),
            Err(_) => Err(ApiError::Node {
                status: status.as_u16(),
                code: "http_error".into(),
                message: String::from_utf8_lossy(&body).chars().take(500).collect(),
            }),
        }
    }

    fn decode<T: DeserializeOwned>(url: &str, body: &[u8]) -> Result<T, ApiError> {
        serde_json::from_slice(body).map_err(|e| ApiError::Decode {
            url: url.to_owned(),
            detail: e.to_string(),
        })
    }

    fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ApiError> {
        let url = self.url(path);
        let body = self.send(self.http.get(&url), &url)?;
        Self::decode(&url, &body)
    }

    /// GET returning the raw body (for proof bundles written to a file unchanged).
    pub fn get_raw(&self, path: &str) -> Result<Vec<u8>, ApiError> {
        let url = self.url(path);
        self.send(self.http.get(&url), &url)
    }

    fn post<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> Result<T, ApiError> {
        let url = self.url(path);
        let body = self.send(self.http.post(&url).json(body), &url)?;
        Self::decode(&url, &body)
    }

    /// `GET /v1/status`.
    pub fn status(&self) -> Result<Status, ApiError> {
        self.get("/v1/status")
    }

    /// `GET /healthz`: whether the node answers.
    pub fn healthy(&self) -> bool {
        let url = self.url("/healthz");
        self.send(self.http.get(&url).timeout(Duration::from_secs(2)), &url)
            .is_ok()
    }

    /// `POST /v1/records`.
    pub fn submit(&self, record: &SignedRecord, wait: bool) -> Result<SubmitResponse, ApiError> {
        self.post(&format!("/v1/records{}", Self::wait_query(wait)), record)
    }

    /// `POST /v1/records/batch`: several records in one call, one result each. The
    /// records go in the codec's form (`RecordBatch` bytes), which the node decodes
    /// without a JSON parse.
    pub fn submit_batch(&self, records: &[SignedRecord]) -> Result<BatchAnswer, ApiError> {
        let url = self.url("/v1/records/batch");
        let request = self
            .http
            .post(&url)
            .header(reqwest::header::CONTENT_TYPE, OCTET_STREAM)
            .body(RecordBatch::bytes_of(records));
        let body = self.send(request, &url)?;
        Self::decode(&url, &body)
    }

    /// `GET /v1/blocks/{height}` in the codec's form, decoded: the block and its commit.
    pub fn synced_block(&self, height: u64) -> Result<SyncedBlock, ApiError> {
        let url = self.url(&format!("/v1/blocks/{height}"));
        let request = self
            .http
            .get(&url)
            .header(reqwest::header::ACCEPT, OCTET_STREAM);
        let body = self.send(request, &url)?;
        SyncedBlock::from_bytes(&body).map_err(|e| ApiError::Decode {
            url,
            detail: e.to_string(),
        })
    }

    /// `GET /v1/records/{hash}`.
    pub fn record(&self, hash: &Hash32) -> Result<RecordAnswer, ApiError> {
        self.get(&format!("/v1/records/{hash}"))
    }

    /// `POST /v1/licences`.
    pub fn issue_licence(
        &self,
        request: &IssueLicenceRequest,
        wait: bool,
    ) -> Result<SubmitResponse, ApiError> {
        self.post(&format!("/v1/licences{}", Self::wait_query(wait)), request)
    }

    /// `POST /v1/licences/{id}/status`.
    pub fn set_licence_status(
        &self,
        id: &LicenceId,
        request: &LicenceStatusRequest,
        wait: bool,
    ) -> Result<SubmitResponse, ApiError> {
        self.post(
            &format!("/v1/licences/{id}/status{}", Self::wait_query(wait)),
            request,
        )
    }

    /// `GET /v1/licences/{id}`.
    pub fn licence(&self, id: &LicenceId) -> Result<LicenceAnswer, ApiError> {
        self.get(&format!("/v1/licences/{id}"))
    }

    /// `GET /v1/licences/{id}/proof`, as the bytes the node sent.
    pub fn licence_proof(&self, id: &LicenceId) -> Result<Vec<u8>, ApiError> {
        self.get_raw(&format!("/v1/licences/{id}/proof"))
    }

    /// `POST /v1/cases`.
    pub fn open_case(
        &self,
        request: &OpenCaseRequest,
        wait: bool,
    ) -> Result<SubmitResponse, ApiError> {
        self.post(&format!("/v1/cases{}", Self::wait_query(wait)), request)
    }

    /// `POST /v1/cases/{id}/advance`.
    pub fn advance_case(
        &self,
        id: &CaseId,
        request: &AdvanceCaseRequest,
        wait: bool,
    ) -> Result<SubmitResponse, ApiError> {
        self.post(
            &format!("/v1/cases/{id}/advance{}", Self::wait_query(wait)),
            request,
        )
    }

    /// `GET /v1/cases/{id}`.
    pub fn case(&self, id: &CaseId) -> Result<CaseAnswer, ApiError> {
        self.get(&format!("/v1/cases/{id}"))
    }

    /// `GET /v1/members`.
    pub fn members(&self) -> Result<MembersAnswer, ApiError> {
        self.get("/v1/members")
    }

    /// `GET /v1/catalog`.
    pub fn catalog(&self) -> Result<CatalogAnswer, ApiError> {
        self.get("/v1/catalog")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;

    /// Answers one HTTP request with `status` and `body`; returns the request as text.
    fn one_shot(status: &str, body: &str) -> (String, std::thread::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let status = status.to_owned();
        let body = body.to_owned();
        let handle = std::thread::spawn(move || {
            let (stream, _) = listener.accept().expect("accept");
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut request = String::new();
            let mut content_length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    content_length = v.trim().parse().unwrap_or(0);
                }
                request.push_str(&line);
            }
            let mut payload = vec![0u8; content_length];
            std::io::Read::read_exact(&mut reader, &mut payload).expect("body");
            request.push_str(&String::from_utf8_lossy(&payload));
            let mut stream = stream;
            let answer = format!(
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            stream.write_all(answer.as_bytes()).expect("write");
            request
        });
        (url, handle)
    }

    fn licence_id() -> LicenceId {
        LicenceId::parse(
            "1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.001.U",
        )
        .expect("valid id")
    }

    #[test]
    fn node_errors_keep_their_code() {
        let (url, server) = one_shot(
            "422 Unprocessable Entity",
            r#"{"code":"stale_nonce","message":"nonce 5 is not above 9"}"#,
        );
        let client = NodeClient::new(&url, Some("secret".into())).expect("client");
        let request = LicenceStatusRequest {
            action: "revoke".into(),
            reason: Some("fraud".into()),
        };
        let err = client
            .set_licence_status(&licence_id(), &request, true)
            .expect_err("422");
        assert_eq!(err.code(), Some("stale_nonce"));
        assert!(matches!(err, ApiError::Node { status: 422, .. }));
        let seen = server.join().expect("server");
        assert!(
            seen.starts_with(&format!(
                "POST /v1/licences/{}/status?wait=commit ",
                licence_id()
            )),
            "{seen}"
        );
        assert!(seen.contains("authorization: Bearer secret"), "{seen}");
        assert!(seen.contains(r#""action":"revoke""#), "{seen}");
    }

    #[test]
    fn submit_answers_decode() {
        let hash = "ab".repeat(32);
        let (url, server) = one_shot(
            "200 OK",
            &format!(r#"{{"record_hash":"{hash}","status":"committed","height":7,"index":0}}"#),
        );
        let client = NodeClient::new(&url, None).expect("client");
        let request = IssueLicenceRequest {
            licence_id: licence_id(),
            type_code: "11100000000013338W011".into(),
            holder_commitment: Hash32([1; 32]),
            document_hash: Hash32([2; 32]),
            valid_from: 1,
            valid_until: None,
            supersedes: None,
        };
        let answer = client.issue_licence(&request, false).expect("answer");
        assert_eq!(answer.height, Some(7));
        assert_eq!(answer.record_hash.to_hex(), hash);
        let seen = server.join().expect("server");
        assert!(seen.starts_with("POST /v1/licences HTTP/1.1"), "{seen}");
        assert!(
            !seen.contains("authorization"),
            "no token, no header: {seen}"
        );
        assert!(seen.contains(r#""valid_until":null"#), "{seen}");
    }

    #[test]
    fn an_invalid_id_from_a_node_is_refused() {
        // A licence answer whose issuer is not a valid department id.
        let (url, server) = one_shot("200 OK", r#"{"height":1,"licence":{"issuer":"X"}}"#);
        let client = NodeClient::new(&url, None).expect("client");
        let err = client.licence(&licence_id()).expect_err("bad answer");
        assert!(matches!(err, ApiError::Decode { .. }), "{err}");
        server.join().expect("server");
    }
}
