//! Multi-process cluster harness: real `tongban-node` binaries on 127.0.0.1.
//!
//! The binary is the one cargo built next to the test executable
//! (`current_exe()/../../tongban-node`): run `cargo build --release --bins` (or
//! `cargo build --bins` for debug tests) before the cluster tests. Each node gets a home
//! directory in a temporary directory, free ports, its own deterministic key, and a log
//! file (`node.log` in its home) that a failing test prints the end of.

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use serde_json::Value;
use tongban_ledger::crypto::public_key;
use tongban_ledger::ids::{uscc_check_char, MemberId, RegionCode, TypeCode};
use tongban_ledger::types::{
    ChainParams, Genesis, Member, MemberStatus, RecordBody, RecordPayload, Role, SignedRecord,
};
use tongban_ledger::PublicKey;

/// The chain id of test clusters.
pub const CHAIN_ID: &str = "tongban-cluster-test";
/// How long a cluster operation may take before the test fails.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(60);

/// A deterministic key for test participant `seed`.
pub fn test_key(seed: u8) -> SigningKey {
    let mut secret = [0u8; 32];
    secret[0] = seed;
    secret[31] = 0x5a;
    SigningKey::from_bytes(&secret)
}

/// A valid 统一社会信用代码 for test member `n` (region 110000).
pub fn member_id(n: u32) -> MemberId {
    let first17 = format!("91110000{:09}", 100_000 + n);
    let check = uscc_check_char(first17.as_bytes()).expect("digits are valid USCC characters");
    MemberId::parse(&format!("{first17}{}", char::from(check))).expect("valid member id")
}

/// The type code of the test licence type, defined by member 1.
pub fn type_code() -> TypeCode {
    TypeCode::parse(&format!("{}001", member_id(1))).expect("valid type code")
}

/// A free TCP port on 127.0.0.1, outside the range the kernel takes outgoing
/// connections' ports from (`tongban_tools::devnet::free_ports`).
pub fn free_port() -> u16 {
    tongban_tools::devnet::free_ports(1)
        .ok()
        .and_then(|ports| ports.first().copied())
        .expect("a free port")
}

/// The `tongban-node` binary next to the test executable.
pub fn node_binary() -> PathBuf {
    crate::binaries::binary("tongban-node")
}

/// One node of a cluster.
#[derive(Debug)]
pub struct Node {
    /// Its index in the cluster.
    pub index: usize,
    /// Home directory.
    pub home: PathBuf,
    /// Its key.
    pub key: SigningKey,
    /// Its member id (if it is a member).
    pub member_id: MemberId,
    /// HTTP API base URL.
    pub api: String,
    /// p2p port.
    pub p2p_port: u16,
    /// Bearer token.
    pub token: String,
    child: Option<Child>,
}

impl Node {
    /// The node's public key.
    pub fn public_key(&self) -> PublicKey {
        public_key(&self.key)
    }

    /// The node's p2p address.
    pub fn p2p_addr(&self) -> String {
        format!("/ip4/127.0.0.1/tcp/{}", self.p2p_port)
    }

    /// Starts the process.
    pub fn start(&mut self) {
        assert!(self.child.is_none(), "node {} already running", self.index);
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.home.join("node.log"))
            .expect("log file");
        let child = Command::new(node_binary())
            .arg("start")
            .arg("--home")
            .arg(&self.home)
            .env(
                "RUST_LOG",
                std::env::var("CLUSTER_LOG").unwrap_or_else(|_| "info".to_string()),
            )
            .stdout(Stdio::from(log.try_clone().expect("log")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn tongban-node");
        self.child = Some(child);
    }

    /// kill -9.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Whether the process is running.
    pub fn is_running(&mut self) -> bool {
        match &mut self.child {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// The last lines of the node's log.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = fs::read_to_string(self.home.join("node.log")).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// GET a JSON document; `(status, body)`.
    pub fn get(&self, path: &str) -> (u16, Value) {
        request(&client(), "GET", &format!("{}{path}", self.api), None, None)
    }

    /// POST JSON (with the bearer token); `(status, body)`.
    pub fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        request(
            &client(),
            "POST",
            &format!("{}{path}", self.api),
            Some(body.to_string().into_bytes()),
            Some(&self.token),
        )
    }

    /// POST raw bytes (with the bearer token).
    pub fn post_raw(&self, path: &str, body: Vec<u8>, token: Option<&str>) -> (u16, Value) {
        request(
            &client(),
            "POST",
            &format!("{}{path}", self.api),
            Some(body),
            token,
        )
    }

    /// POST bytes as `application/octet-stream` (with the bearer token); `(status, body)`.
    pub fn post_bytes(&self, path: &str, body: Vec<u8>) -> (u16, Value) {
        let response = client()
            .post(format!("{}{path}", self.api))
            .header("content-type", "application/octet-stream")
            .bearer_auth(&self.token)
            .body(body)
            .send();
        answer(response)
    }

    /// GET asking for `application/octet-stream`; `(status, content type, body)`.
    pub fn get_bytes(&self, path: &str) -> (u16, String, Vec<u8>) {
        let response = client()
            .get(format!("{}{path}", self.api))
            .header("accept", "application/octet-stream")
            .send();
        match response {
            Ok(response) => {
                let status = response.status().as_u16();
                let content_type = response
                    .headers()
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                let body = response.bytes().map(|b| b.to_vec()).unwrap_or_default();
                (status, content_type, body)
            }
            Err(e) => (0, String::new(), e.to_string().into_bytes()),
        }
    }

    /// Submits a pre-signed record.
    pub fn submit(&self, record: &SignedRecord, wait: bool) -> (u16, Value) {
        let path = if wait {
            "/v1/records?wait=commit"
        } else {
            "/v1/records"
        };
        self.post(path, &serde_json::to_value(record).expect("record JSON"))
    }

    /// `/v1/status`, if the node answers.
    pub fn status(&self) -> Option<Value> {
        let (code, body) = self.get("/v1/status");
        (code == 200).then_some(body)
    }

    /// The value of an unlabelled metric from `/metrics`, 0 when absent.
    pub fn metric(&self, name: &str) -> u64 {
        let (_, metrics) = self.get("/metrics");
        metrics
            .as_str()
            .unwrap_or_default()
            .lines()
            .find_map(|l| {
                l.strip_prefix(name)
                    .and_then(|v| v.trim().parse::<f64>().ok())
            })
            .map_or(0, |v| v as u64)
    }

    /// Committed height, 0 when the node does not answer.
    pub fn height(&self) -> u64 {
        self.status()
            .and_then(|s| s["height"].as_u64())
            .unwrap_or(0)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(90))
        .build()
        .expect("http client")
}

fn request(
    client: &reqwest::blocking::Client,
    method: &str,
    url: &str,
    body: Option<Vec<u8>>,
    token: Option<&str>,
) -> (u16, Value) {
    let mut builder = match method {
        "POST" => client.post(url),
        _ => client.get(url),
    };
    if let Some(body) = body {
        builder = builder
            .header("content-type", "application/json")
            .body(body);
    }
    if let Some(token) = token {
        builder = builder.bearer_auth(token);
    }
    answer(builder.send())
}

/// `(status, body as JSON, or as a string when it is not JSON)`; status 0 when the
/// request failed.
fn answer(response: reqwest::Result<reqwest::blocking::Response>) -> (u16, Value) {
    match response {
        Ok(response) => {
            let status = response.status().as_u16();
            let text = response.text().unwrap_or_default();
            let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
            (status, value)
        }
        Err(e) => (0, Value::String(e.to_string())),
    }
}

/// A cluster of nodes sharing one genesis.
#[derive(Debug)]
pub struct Cluster {
    /// The temporary directory holding every home.
    pub dir: tempfile::TempDir,
    /// The genesis.
    pub genesis: Genesis,
    /// Admin keys.
    pub admins: Vec<SigningKey>,
    /// The nodes.
    pub nodes: Vec<Node>,
    admin_nonce: u64,
}

impl Cluster {
    /// `validators` validator nodes (members 1..=validators) and `admins` admin keys;
    /// blocks at least every `block_interval_ms`. Nodes are initialised, not started.
    pub fn new(validators: usize, admins: usize, block_interval_ms: u64) -> Cluster {
        let dir = tempfile::Builder::new()
            .prefix("tongban-cluster-")
            .tempdir()
            .expect("tempdir");
        let admin_keys: Vec<SigningKey> = (0..admins).map(|i| test_key(200 + i as u8)).collect();
        let members: Vec<Member> = (1..=validators)
            .map(|n| Member {
                id: member_id(n as u32),
                name: format!("测试部门 {n}"),
                region: RegionCode::parse("110000").expect("region"),
                key: public_key(&test_key(n as u8)),
                roles: vec![Role::Validator],
                status: MemberStatus::Active,
            })
            .collect();
        let genesis = Genesis {
            chain_id: CHAIN_ID.to_string(),
            genesis_time_ms: now_ms(),
            members,
            admins: admin_keys.iter().map(public_key).collect(),
            params: ChainParams {
                max_block_interval_ms: block_interval_ms,
                ..ChainParams::default()
            },
        };
        let genesis_path = dir.path().join("genesis.json");
        fs::write(
            &genesis_path,
            serde_json::to_vec_pretty(&genesis).expect("genesis JSON"),
        )
        .expect("write genesis");
        let mut cluster = Cluster {
            dir,
            genesis,
            admins: admin_keys,
            nodes: Vec::new(),
            admin_nonce: now_ms() * 1_000,
        };
        for n in 1..=validators {
            cluster.add_node(test_key(n as u8), member_id(n as u32));
        }
        cluster
    }

    /// Initialises one more node home (not started) with `key`; it bootstraps from every
    /// existing node.
    pub fn add_node(&mut self, key: SigningKey, member_id: MemberId) -> usize {
        let index = self.nodes.len();
        let home = self.dir.path().join(format!("node{index}"));
        fs::create_dir_all(&home).expect("home");
        let key_path = self.dir.path().join(format!("key{index}.json"));
        let key_json = serde_json::json!({
            "format": "tongban-ed25519-key/v1",
            "public_key": public_key(&key),
            "secret_key": hex::encode(key.to_bytes()),
        });
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&key_path)
            .expect("key file");
        file.write_all(key_json.to_string().as_bytes())
            .expect("write key");
        let p2p_port = free_port();
        let api_port = free_port();
        let mut command = Command::new(node_binary());
        command
            .arg("init")
            .arg("--home")
            .arg(&home)
            .arg("--moniker")
            .arg(format!("node{index}"))
            .arg("--genesis")
            .arg(self.dir.path().join("genesis.json"))
            .arg("--key")
            .arg(&key_path)
            .arg("--p2p-listen")
            .arg(format!("/ip4/127.0.0.1/tcp/{p2p_port}"))
            .arg("--api-listen")
            .arg(format!("127.0.0.1:{api_port}"));
        for node in &self.nodes {
            command.arg("--bootstrap").arg(node.p2p_addr());
        }
        let output = command.output().expect("run tongban-node init");
        assert!(
            output.status.success(),
            "init failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        // Shorter consensus timeouts than production: the tests run on loopback.
        let config_path = home.join("config.toml");
        let config = fs::read_to_string(&config_path).expect("config");
        let config = config
            .replace("timeout_propose_ms = 3000", "timeout_propose_ms = 1500")
            .replace("timeout_prevote_ms = 1000", "timeout_prevote_ms = 500")
            .replace("timeout_precommit_ms = 1000", "timeout_precommit_ms = 500")
            .replace("wait_timeout_ms = 30000", "wait_timeout_ms = 60000");
        fs::write(&config_path, &config).expect("config");
        let token = config
            .lines()
            .find_map(|l| l.strip_prefix("bearer_token = "))
            .map(|v| v.trim_matches('"').to_string())
            .expect("bearer_token in config");
        self.nodes.push(Node {
            index,
            home,
            key,
            member_id,
            api: format!("http://127.0.0.1:{api_port}"),
            p2p_port,
            token,
            child: None,
        });
        index
    }

    /// Starts every node.
    pub fn start_all(&mut self) {
        for node in &mut self.nodes {
            node.start();
        }
    }

    /// Waits until `condition` holds, or fails the test with every node's log tail.
    pub fn wait_for(
        &self,
        what: &str,
        timeout: Duration,
        mut condition: impl FnMut(&Cluster) -> bool,
    ) {
        let started = Instant::now();
        while started.elapsed() < timeout {
            if condition(self) {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        self.dump_logs();
        panic!("timed out after {timeout:?} waiting for {what}");
    }

    /// Prints the end of every node's log.
    pub fn dump_logs(&self) {
        for node in &self.nodes {
            eprintln!(
                "===== node{} log tail =====\n{}",
                node.index,
                node.log_tail(60)
            );
        }
    }

    /// Asserts that every node holds the same block at `height` as node 0.
    pub fn assert_same_block(&self, height: u64) {
        let (_, reference) = self.nodes[0].get(&format!("/v1/blocks/{height}"));
        for node in &self.nodes[1..] {
            let (code, block) = node.get(&format!("/v1/blocks/{height}"));
            assert_eq!(code, 200, "{block}");
            assert_eq!(
                block["block_hash"], reference["block_hash"],
                "node {}",
                node.index
            );
        }
    }

    /// Waits until every node in `nodes` has committed at least `height`.
    pub fn wait_height(&self, nodes: &[usize], height: u64) {
        self.wait_for(
            &format!("height {height} on nodes {nodes:?}"),
            DEFAULT_WAIT,
            |c| nodes.iter().all(|&i| c.nodes[i].height() >= height),
        );
    }

    /// An admin record, signed with admin `admin`.
    pub fn admin_record(&mut self, admin: usize, body: RecordBody) -> SignedRecord {
        self.admin_nonce += 1;
        RecordPayload {
            chain_id: CHAIN_ID.to_string(),
            author: public_key(&self.admins[admin]),
            nonce: self.admin_nonce,
            body,
        }
        .sign(&self.admins[admin])
    }
}

/// Now, Unix ms.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
