//! The node's home directory: `config.toml`, `genesis.json`, `node_key.json` and `data/`.
//!
//! `init` creates it; `start` loads it with [`Home::load`], which refuses a missing or
//! bad file with a message naming the file and the field.

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use ed25519_dalek::SigningKey;
use rand_core::{OsRng, RngCore as _};
use serde::{Deserialize, Serialize};
use tongban_ledger::crypto::public_key;
use tongban_ledger::types::Genesis;
use tongban_ledger::PublicKey;

use crate::config::{Config, ConfigError};

/// Name of the configuration file in the home directory.
pub const CONFIG_FILE: &str = "config.toml";
/// Name of the genesis file.
pub const GENESIS_FILE: &str = "genesis.json";
/// Name of the key file (mode 0600).
pub const KEY_FILE: &str = "node_key.json";
/// Name of the data directory (RocksDB and the operator nonce counter).
pub const DATA_DIR: &str = "data";
/// Largest genesis file read, in bytes.
pub const MAX_GENESIS_BYTES: u64 = 16 * 1024 * 1024;
/// Largest key file read, in bytes.
pub const MAX_KEY_FILE_BYTES: u64 = 4096;

/// Why a home directory could not be created or loaded.
#[derive(Debug, thiserror::Error)]
pub enum HomeError {
    /// An IO failure on a named file.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: String,
        /// The IO error.
        source: std::io::Error,
    },
    /// `init` would overwrite an existing file.
    #[error("{0} already exists; refusing to overwrite it")]
    Exists(String),
    /// The configuration is bad.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The genesis file is bad.
    #[error("{path}: {message}")]
    Genesis {
        /// The file.
        path: String,
        /// What is wrong (names the field).
        message: String,
    },
    /// The key file is bad.
    #[error("{path}: {message}")]
    Key {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> HomeError + '_ {
    move |source| HomeError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// The `format` field of a key file (shared with the `tongban` CLI's `keygen`).
pub const KEY_FILE_FORMAT: &str = "tongban-ed25519-key/v1";

/// The key file's JSON form (the same as `tongban keygen` writes).
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyFile {
    /// Always [`KEY_FILE_FORMAT`].
    pub format: String,
    /// ed25519 public key, hex (the member key in genesis; the libp2p identity).
    pub public_key: PublicKey,
    /// ed25519 secret key (32-byte seed), hex.
    pub secret_key: String,
}

/// A loaded home directory.
#[derive(Debug)]
pub struct Home {
    /// The directory.
    pub dir: PathBuf,
    /// `config.toml`.
    pub config: Config,
    /// `genesis.json`.
    pub genesis: Genesis,
    /// The node's key.
    pub key: SigningKey,
}

impl Home {
    /// Directory of RocksDB and other node state.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.join(DATA_DIR)
    }

    /// Loads and checks every file.
    pub fn load(dir: &Path) -> Result<Home, HomeError> {
        let config = Config::load(&dir.join(CONFIG_FILE))?;
        let genesis = read_genesis(&dir.join(GENESIS_FILE))?;
        let key = read_key(&dir.join(KEY_FILE))?;
        Ok(Home {
            dir: dir.to_path_buf(),
            config,
            genesis,
            key,
        })
    }
}

/// What `init` is asked to do.
#[derive(Debug, Clone, Default)]
pub struct InitOptions {
    /// Node name.
    pub moniker: Option<String>,
    /// A genesis file to copy in.
    pub genesis: Option<PathBuf>,
    /// An existing key file to use instead of generating one.
    pub key: Option<PathBuf>,
    /// `p2p.listen`.
    pub p2p_listen: Option<String>,
    /// `api.listen`.
    pub api_listen: Option<String>,
    /// `p2p.bootstrap`.
    pub bootstrap: Vec<String>,
}

/// What `init` created.
#[derive(Debug)]
pub struct InitReport {
    /// The node's public key.
    pub public_key: PublicKey,
    /// Whether a genesis was copied in.
    pub has_genesis: bool,
}

/// Creates a home directory. Refuses to overwrite an existing config or key.
pub fn init(dir: &Path, options: &InitOptions) -> Result<InitReport, HomeError> {
    fs::create_dir_all(dir.join(DATA_DIR)).map_err(io_error(dir))?;
    let config_path = dir.join(CONFIG_FILE);
    let key_path = dir.join(KEY_FILE);
    for path in [&config_path, &key_path] {
        if path.exists() {
            return Err(HomeError::Exists(path.display().to_string()));
        }
    }
    let key = match &options.key {
        Some(path) => read_key(path)?,
        None => SigningKey::generate(&mut OsRng),
    };
    let mut token = [0u8; 24];
    OsRng.fill_bytes(&mut token);
    let moniker = options
        .moniker
        .clone()
        .unwrap_or_else(|| "tongban-node".to_string());
    let mut config = Config::new_default(&moniker, &hex::encode(token));
    if let Some(listen) = &options.p2p_listen {
        config.p2p.listen = listen.clone();
    }
    if let Some(listen) = &options.api_listen {
        config.api.listen = listen.clone();
    }
    config.p2p.bootstrap = options.bootstrap.clone();
    config.validate()?;
    let has_genesis = match &options.genesis {
        Some(path) => {
            // Check before copying, so init never leaves a bad genesis behind.
            read_genesis(path)?;
            fs::copy(path, dir.join(GENESIS_FILE)).map_err(io_error(path))?;
            true
        }
        None => false,
    };
    write_key(&key_path, &key)?;
    write_new_file(&config_path, config.to_commented_toml().as_bytes(), 0o600)?;
    Ok(InitReport {
        public_key: public_key(&key),
        has_genesis,
    })
}

/// Reads and checks a genesis file.
pub fn read_genesis(path: &Path) -> Result<Genesis, HomeError> {
    let bytes = read_limited(path, MAX_GENESIS_BYTES)?;
    let genesis: Genesis = serde_json::from_slice(&bytes).map_err(|e| HomeError::Genesis {
        path: path.display().to_string(),
        message: format!("not a valid genesis: {e}"),
    })?;
    crate::genesis::validate(&genesis).map_err(|message| HomeError::Genesis {
        path: path.display().to_string(),
        message,
    })?;
    Ok(genesis)
}

/// Reads a key file; refuses one that others can read.
pub fn read_key(path: &Path) -> Result<SigningKey, HomeError> {
    let key_error = |message: String| HomeError::Key {
        path: path.display().to_string(),
        message,
    };
    let mode = fs::metadata(path)
        .map_err(io_error(path))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(key_error(format!(
            "permissions {:o} let others read the key; run chmod 600",
            mode & 0o777
        )));
    }
    let bytes = read_limited(path, MAX_KEY_FILE_BYTES)?;
    let text = String::from_utf8_lossy(&bytes);
    let trimmed = text.trim();
    // A bare 64-hex secret (what other tools print) is accepted too.
    let (secret_hex, expected) = if trimmed.starts_with('{') {
        let file: KeyFile =
            serde_json::from_str(trimmed).map_err(|e| key_error(format!("not a key file: {e}")))?;
        if file.format != KEY_FILE_FORMAT {
            return Err(key_error(format!(
                "format {:?} is not {KEY_FILE_FORMAT:?}",
                file.format
            )));
        }
        (file.secret_key, Some(file.public_key))
    } else {
        (trimmed.to_string(), None)
    };
    let mut secret = [0u8; 32];
    hex::decode_to_slice(secret_hex.trim(), &mut secret)
        .map_err(|e| key_error(format!("secret_key: expected 64 hex characters: {e}")))?;
    let key = SigningKey::from_bytes(&secret);
    if expected.is_some_and(|expected| expected != public_key(&key)) {
        return Err(key_error(
            "public_key does not belong to secret_key".to_string(),
        ));
    }
    Ok(key)
}

/// Writes a key file with mode 0600 (refuses to overwrite).
pub fn write_key(path: &Path, key: &SigningKey) -> Result<(), HomeError> {
    let file = KeyFile {
        format: KEY_FILE_FORMAT.to_string(),
        public_key: public_key(key),
        secret_key: hex::encode(key.to_bytes()),
    };
    let mut json = serde_json::to_vec_pretty(&file).map_err(|e| HomeError::Key {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    json.push(b'\n');
    write_new_file(path, &json, 0o600)
}

fn write_new_file(path: &Path, bytes: &[u8], mode: u32) -> Result<(), HomeError> {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                HomeError::Exists(path.display().to_string())
            } else {
                HomeError::Io {
                    path: path.display().to_string(),
                    source: e,
                }
            }
        })?;
    file.write_all(bytes).map_err(io_error(path))?;
    file.sync_all().map_err(io_error(path))?;
    Ok(())
}

fn read_limited(path: &Path, limit: u64) -> Result<Vec<u8>, HomeError> {
    let size = fs::metadata(path).map_err(io_error(path))?.len();
    if size > limit {
        return Err(HomeError::Io {
            path: path.display().to_string(),
            source: std::io::Error::other(format!("file is {size} bytes, more than {limit}")),
        });
    }
    fs::read(path).map_err(io_error(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_writes_a_private_key_and_refuses_to_overwrite() {
        let dir = tempfile::tempdir().expect("tempdir");
        let report = init(dir.path(), &InitOptions::default()).expect("init");
        assert!(!report.has_genesis);
        let mode = fs::metadata(dir.path().join(KEY_FILE))
            .expect("key")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let key = read_key(&dir.path().join(KEY_FILE)).expect("key reads");
        assert_eq!(public_key(&key), report.public_key);
        assert!(matches!(
            init(dir.path(), &InitOptions::default()),
            Err(HomeError::Exists(_))
        ));
        let config = Config::load(&dir.path().join(CONFIG_FILE)).expect("config");
        assert!(config.api.bearer_token.len() >= 32);
    }

    #[test]
    fn readable_key_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        init(dir.path(), &InitOptions::default()).expect("init");
        let path = dir.path().join(KEY_FILE);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).expect("chmod");
        let message = read_key(&path).expect_err("refused").to_string();
        assert!(message.contains("chmod 600"), "{message}");
    }

    #[test]
    fn mismatched_key_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("k.json");
        let other = SigningKey::from_bytes(&[9; 32]);
        let text = format!(
            "{{\"format\":\"{KEY_FILE_FORMAT}\",\"public_key\":\"{}\",\"secret_key\":\"{}\"}}",
            public_key(&other),
            hex::encode([1u8; 32])
        );
        write_new_file(&path, text.as_bytes(), 0o600).expect("write");
        let message = read_key(&path).expect_err("refused").to_string();
        assert!(message.contains("does not belong"), "{message}");
    }
}
