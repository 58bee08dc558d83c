//! `config.toml`: the node's settings, their defaults, the commented file `init` writes,
//! and the checks that stop start-up with a message naming the bad field.
//!
//! Chain-wide settings (block interval, largest record, governance threshold) are NOT
//! here: they are chain parameters in the genesis and on the ledger, the same for every
//! node. This file holds only what each department chooses for its own node.

use std::net::SocketAddr;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// Largest `config.toml` read, in bytes; anything larger is certainly not a config.
pub const MAX_CONFIG_BYTES: u64 = 1024 * 1024;
/// Most bootstrap peers accepted.
pub const MAX_BOOTSTRAP_PEERS: usize = 256;
/// Shortest accepted bearer token, in characters.
pub const MIN_BEARER_TOKEN_CHARS: usize = 16;

/// Why the configuration was refused. `field` is the dotted TOML path.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The IO error.
        source: std::io::Error,
    },
    /// The file is not valid TOML of the expected shape (the message names the key).
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// The TOML error, naming the key and line.
        message: String,
    },
    /// A value is out of range or malformed.
    #[error("config field `{field}`: {message}")]
    Field {
        /// Dotted path of the field, e.g. `p2p.listen`.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
}

fn field(field: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError::Field {
        field,
        message: message.into(),
    }
}

/// The whole configuration file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// A name for this node in logs and `/v1/status`; not on the ledger.
    pub moniker: String,
    /// `tracing` filter, e.g. `info` or `tongban_node=debug,info`; `RUST_LOG` overrides it.
    pub log_level: String,
    /// Peer-to-peer network.
    pub p2p: P2pConfig,
    /// HTTP API.
    pub api: ApiConfig,
    /// Consensus timeouts.
    pub consensus: ConsensusConfig,
    /// Mempool limits.
    pub mempool: MempoolConfig,
}

/// `[p2p]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct P2pConfig {
    /// libp2p multiaddress to listen on, e.g. `/ip4/0.0.0.0/tcp/26656`.
    pub listen: String,
    /// Multiaddresses of other members' nodes to dial at start, e.g.
    /// `/ip4/10.0.0.2/tcp/26656`.
    pub bootstrap: Vec<String>,
}

/// `[api]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiConfig {
    /// Address of the HTTP API, e.g. `127.0.0.1:26657`.
    pub listen: String,
    /// Token operator routes require as `Authorization: Bearer <token>`.
    pub bearer_token: String,
    /// How long `?wait=commit` waits before answering 504 `wait_timeout`.
    pub wait_timeout_ms: u64,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
}

/// `[consensus]`: a timeout of round r is `base + r * delta`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsensusConfig {
    /// Wait for a proposal, round 0.
    pub timeout_propose_ms: u64,
    /// Added per round.
    pub timeout_propose_delta_ms: u64,
    /// Wait for more prevotes after 2f+1 of any kind, round 0.
    pub timeout_prevote_ms: u64,
    /// Added per round.
    pub timeout_prevote_delta_ms: u64,
    /// Wait for more precommits after 2f+1 of any kind, round 0.
    pub timeout_precommit_ms: u64,
    /// Added per round.
    pub timeout_precommit_delta_ms: u64,
    /// When the proposer has records waiting, it waits this long for more before
    /// proposing, so that a stream of records fills blocks instead of making many tiny ones.
    pub propose_batch_delay_ms: u64,
}

/// `[mempool]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MempoolConfig {
    /// Most records waiting; beyond it submitters get 503 `mempool_full`.
    pub max_records: usize,
    /// Most records waiting from one author.
    pub max_per_author: usize,
}

/// Hard ceiling on `mempool.max_records`, whatever the config says.
pub const MEMPOOL_MAX_RECORDS_CEILING: usize = 1_000_000;
/// Longest accepted consensus timeout, in ms.
pub const MAX_TIMEOUT_MS: u64 = 600_000;

impl Config {
    /// The defaults `init` writes, with the given moniker and bearer token.
    pub fn new_default(moniker: &str, bearer_token: &str) -> Config {
        Config {
            moniker: moniker.to_string(),
            log_level: "info".to_string(),
            p2p: P2pConfig {
                listen: "/ip4/0.0.0.0/tcp/26656".to_string(),
                bootstrap: Vec::new(),
            },
            api: ApiConfig {
                listen: "127.0.0.1:26657".to_string(),
                bearer_token: bearer_token.to_string(),
                wait_timeout_ms: 30_000,
                max_body_bytes: 1024 * 1024,
            },
            consensus: ConsensusConfig {
                timeout_propose_ms: 3_000,
                timeout_propose_delta_ms: 500,
                timeout_prevote_ms: 1_000,
                timeout_prevote_delta_ms: 500,
                timeout_precommit_ms: 1_000,
                timeout_precommit_delta_ms: 500,
                propose_batch_delay_ms: 20,
            },
            mempool: MempoolConfig {
                max_records: 100_000,
                max_per_author: 20_000,
            },
        }
    }

    /// Reads and checks `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let shown = path.display().to_string();
        let read_error = |source| ConfigError::Read {
            path: shown.clone(),
            source,
        };
        let size = std::fs::metadata(path).map_err(read_error)?.len();
        if size > MAX_CONFIG_BYTES {
            return Err(ConfigError::Parse {
                path: shown,
                message: format!("file is {size} bytes, more than {MAX_CONFIG_BYTES}"),
            });
        }
        let text = std::fs::read_to_string(path).map_err(read_error)?;
        let config = Config::parse(&text).map_err(|e| match e {
            ConfigError::Parse { message, .. } => ConfigError::Parse {
                path: shown.clone(),
                message,
            },
            other => other,
        })?;
        Ok(config)
    }

    /// Parses and checks TOML text.
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: "config.toml".to_string(),
            message: e.to_string().trim().to_string(),
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Checks every field; the error names the first bad one.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.moniker.is_empty() || self.moniker.len() > 64 {
            return Err(field("moniker", "must be 1..=64 characters"));
        }
        if self.log_level.trim().is_empty() {
            return Err(field("log_level", "must not be empty (e.g. \"info\")"));
        }
        tracing_subscriber::EnvFilter::try_new(&self.log_level)
            .map_err(|e| field("log_level", format!("not a tracing filter: {e}")))?;
        self.p2p
            .listen
            .parse::<libp2p::Multiaddr>()
            .map_err(|e| field("p2p.listen", format!("not a multiaddress: {e}")))?;
        if self.p2p.bootstrap.len() > MAX_BOOTSTRAP_PEERS {
            return Err(field(
                "p2p.bootstrap",
                format!("at most {MAX_BOOTSTRAP_PEERS} peers"),
            ));
        }
        for address in &self.p2p.bootstrap {
            address.parse::<libp2p::Multiaddr>().map_err(|e| {
                field(
                    "p2p.bootstrap",
                    format!("{address:?} is not a multiaddress: {e}"),
                )
            })?;
        }
        self.api.listen.parse::<SocketAddr>().map_err(|e| {
            field(
                "api.listen",
                format!("not an address like 127.0.0.1:26657: {e}"),
            )
        })?;
        if self.api.bearer_token.chars().count() < MIN_BEARER_TOKEN_CHARS {
            return Err(field(
                "api.bearer_token",
                format!("must be at least {MIN_BEARER_TOKEN_CHARS} characters"),
            ));
        }
        if !self.api.bearer_token.chars().all(|c| c.is_ascii_graphic()) {
            return Err(field(
                "api.bearer_token",
                "must be printable ASCII without spaces",
            ));
        }
        if !(100..=600_000).contains(&self.api.wait_timeout_ms) {
            return Err(field("api.wait_timeout_ms", "must be 100..=600000"));
        }
        if !(1024..=64 * 1024 * 1024).contains(&self.api.max_body_bytes) {
            return Err(field("api.max_body_bytes", "must be 1024..=67108864"));
        }
        let c = &self.consensus;
        for (name, value) in [
            ("consensus.timeout_propose_ms", c.timeout_propose_ms),
            ("consensus.timeout_prevote_ms", c.timeout_prevote_ms),
            ("consensus.timeout_precommit_ms", c.timeout_precommit_ms),
        ] {
            if value == 0 || value > MAX_TIMEOUT_MS {
                return Err(field(name, format!("must be 1..={MAX_TIMEOUT_MS}")));
            }
        }
        for (name, value) in [
            (
                "consensus.timeout_propose_delta_ms",
                c.timeout_propose_delta_ms,
            ),
            (
                "consensus.timeout_prevote_delta_ms",
                c.timeout_prevote_delta_ms,
            ),
            (
                "consensus.timeout_precommit_delta_ms",
                c.timeout_precommit_delta_ms,
            ),
            ("consensus.propose_batch_delay_ms", c.propose_batch_delay_ms),
        ] {
            if value > MAX_TIMEOUT_MS {
                return Err(field(name, format!("must be at most {MAX_TIMEOUT_MS}")));
            }
        }
        if self.mempool.max_records == 0 || self.mempool.max_records > MEMPOOL_MAX_RECORDS_CEILING {
            return Err(field(
                "mempool.max_records",
                format!("must be 1..={MEMPOOL_MAX_RECORDS_CEILING}"),
            ));
        }
        if self.mempool.max_per_author == 0
            || self.mempool.max_per_author > self.mempool.max_records
        {
            return Err(field(
                "mempool.max_per_author",
                "must be 1..=mempool.max_records",
            ));
        }
        Ok(())
    }

    /// The file `init` writes: every setting, each with a comment saying what it does.
    pub fn to_commented_toml(&self) -> String {
        let quote = |s: &str| toml::Value::String(s.to_string()).to_string();
        let bootstrap: Vec<String> = self.p2p.bootstrap.iter().map(|b| quote(b)).collect();
        format!(
            r#"# tongban-node configuration. Chain-wide settings (block interval, record size,
# governance) are chain parameters in genesis.json, not here.

# A name for this node in logs and /v1/status; not on the ledger.
moniker = {moniker}

# Log filter (tracing EnvFilter syntax), e.g. "info" or "tongban_node=debug,info".
# The RUST_LOG environment variable overrides it.
log_level = {log_level}

[p2p]
# libp2p address to listen on for other members' nodes (TCP + Noise + Yamux).
listen = {p2p_listen}
# Addresses of other members' nodes to dial at start, e.g. ["/ip4/10.0.0.2/tcp/26656"].
# Only active members of the ledger's member list can connect, whatever is listed here.
bootstrap = [{bootstrap}]

[api]
# Address of the HTTP API (see docs/spec/openapi.yaml). Keep it on a private network:
# operator routes sign with this node's key.
listen = {api_listen}
# Operator routes (POST /v1/licences, /v1/cases ...) require
# "Authorization: Bearer <bearer_token>". Generated at random by `init`; keep it secret.
bearer_token = {bearer_token}
# How long ?wait=commit waits before answering 504 wait_timeout.
wait_timeout_ms = {wait_timeout_ms}
# Largest HTTP request body accepted, in bytes (413 body_too_large beyond).
max_body_bytes = {max_body_bytes}

[consensus]
# Tendermint timeouts: the timeout of round r is base + r * delta (milliseconds).
# Every validator should use the same values.
timeout_propose_ms = {tp}
timeout_propose_delta_ms = {tpd}
timeout_prevote_ms = {tv}
timeout_prevote_delta_ms = {tvd}
timeout_precommit_ms = {tc}
timeout_precommit_delta_ms = {tcd}
# When this node is the proposer and records wait, it waits this long for more records
# before proposing, so a stream of records fills blocks. Empty blocks are proposed after
# the chain parameter max_block_interval_ms.
propose_batch_delay_ms = {pbd}

[mempool]
# Most records waiting to be committed; beyond it submitters get 503 mempool_full.
max_records = {max_records}
# Most records waiting from one author (503 author_queue_full beyond).
max_per_author = {max_per_author}
"#,
            moniker = quote(&self.moniker),
            log_level = quote(&self.log_level),
            p2p_listen = quote(&self.p2p.listen),
            bootstrap = bootstrap.join(", "),
            api_listen = quote(&self.api.listen),
            bearer_token = quote(&self.api.bearer_token),
            wait_timeout_ms = self.api.wait_timeout_ms,
            max_body_bytes = self.api.max_body_bytes,
            tp = self.consensus.timeout_propose_ms,
            tpd = self.consensus.timeout_propose_delta_ms,
            tv = self.consensus.timeout_prevote_ms,
            tvd = self.consensus.timeout_prevote_delta_ms,
            tc = self.consensus.timeout_precommit_ms,
            tcd = self.consensus.timeout_precommit_delta_ms,
            pbd = self.consensus.propose_batch_delay_ms,
            max_records = self.mempool.max_records,
            max_per_author = self.mempool.max_per_author,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Config {
        Config::new_default("node-1", "0123456789abcdef0123")
    }

    #[test]
    fn commented_file_round_trips() {
        let mut config = sample();
        config.p2p.bootstrap = vec!["/ip4/127.0.0.1/tcp/1234".to_string()];
        let text = config.to_commented_toml();
        assert!(text.contains("# Operator routes"));
        let parsed = Config::parse(&text).expect("parses");
        assert_eq!(parsed, config);
    }

    fn error_of(text: String) -> String {
        Config::parse(&text)
            .expect_err("must be refused")
            .to_string()
    }

    #[test]
    fn bad_fields_are_named() {
        let text = sample().to_commented_toml();
        let cases = [
            (
                "listen = \"/ip4/0.0.0.0/tcp/26656\"",
                "listen = \"nonsense\"",
                "p2p.listen",
            ),
            (
                "listen = \"127.0.0.1:26657\"",
                "listen = \"localhost\"",
                "api.listen",
            ),
            (
                "bearer_token = \"0123456789abcdef0123\"",
                "bearer_token = \"short\"",
                "api.bearer_token",
            ),
            (
                "timeout_propose_ms = 3000",
                "timeout_propose_ms = 0",
                "consensus.timeout_propose_ms",
            ),
            (
                "max_records = 100000",
                "max_records = 0",
                "mempool.max_records",
            ),
            (
                "max_per_author = 20000",
                "max_per_author = 200001",
                "mempool.max_per_author",
            ),
            (
                "wait_timeout_ms = 30000",
                "wait_timeout_ms = 1",
                "api.wait_timeout_ms",
            ),
            ("log_level = \"info\"", "log_level = \"\"", "log_level"),
        ];
        for (from, to, name) in cases {
            assert!(text.contains(from), "{from}");
            let message = error_of(text.replacen(from, to, 1));
            assert!(message.contains(name), "{name}: {message}");
        }
    }

    #[test]
    fn unknown_and_missing_keys_are_named() {
        let text = sample().to_commented_toml();
        let message = error_of(text.replacen("[mempool]", "[mempool]\nmax_recrods = 5", 1));
        assert!(message.contains("max_recrods"), "{message}");
        let message = error_of(text.replacen("max_per_author = 20000", "", 1));
        assert!(message.contains("max_per_author"), "{message}");
        let message = error_of(text.replacen("max_records = 100000", "max_records = \"x\"", 1));
        assert!(message.contains("max_records"), "{message}");
    }
}
