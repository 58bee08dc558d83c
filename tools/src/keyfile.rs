//! Key files: an ed25519 secret key on disk, readable by its owner only.
//!
//! The format is a small JSON object so that a human can see which public key a file
//! holds without the tool:
//!
//! ```json
//! { "format": "tongban-ed25519-key/v1", "public_key": "<64 hex>", "secret_key": "<64 hex>" }
//! ```
//!
//! A file holding only the 64 hex characters of the secret key is accepted too (what other
//! tools print). Writing refuses to replace an existing file, creates it with mode 0600
//! from the start (never a window in which it is world-readable), and syncs it.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use ed25519_dalek::SigningKey;
use serde::{Deserialize, Serialize};
use tongban_ledger::crypto::{public_key, verifying_key};
use tongban_ledger::PublicKey;

/// The `format` field of a key file.
pub const KEY_FILE_FORMAT: &str = "tongban-ed25519-key/v1";
/// Largest key file read; a key file is about 200 bytes.
pub const MAX_KEY_FILE_BYTES: u64 = 4 * 1024;

/// Why a key file could not be written or read, or a key argument not understood.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// The output file exists; keys are never overwritten.
    #[error("{0} already exists; refusing to overwrite a key file")]
    Exists(PathBuf),
    /// Reading or writing failed.
    #[error("{path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The file is larger than any key file.
    #[error("{0}: larger than {MAX_KEY_FILE_BYTES} bytes, not a key file")]
    TooLarge(PathBuf),
    /// The file is neither key-file JSON nor 64 hex characters.
    #[error("{path}: not a tongban key file ({detail})")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// The public key stored in the file does not belong to its secret key.
    #[error("{0}: public_key does not match secret_key")]
    Mismatch(PathBuf),
    /// A `--key` argument is neither a public key in hex nor a readable key file.
    #[error("{arg:?} is neither 64 hex characters of a public key nor a key file ({detail})")]
    BadKeyArgument {
        /// The argument.
        arg: String,
        /// Why.
        detail: String,
    },
    /// The public key is not a usable ed25519 key (not a curve point, or small order).
    #[error("{0} is not a valid ed25519 public key")]
    InvalidPublicKey(String),
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFileJson {
    format: String,
    public_key: PublicKey,
    secret_key: String,
}

/// Generates a fresh key from the operating system's random source.
pub fn generate() -> SigningKey {
    SigningKey::generate(&mut rand_core::OsRng)
}

/// Writes `key` to a new file at `path` with mode 0600; fails if `path` exists.
pub fn write_new(path: &Path, key: &SigningKey) -> Result<PublicKey, KeyFileError> {
    let public = public_key(key);
    let body = KeyFileJson {
        format: KEY_FILE_FORMAT.to_owned(),
        public_key: public,
        secret_key: hex::encode(key.to_bytes()),
    };
    let mut text = serde_json::to_string_pretty(&body).map_err(|e| KeyFileError::Malformed {
        path: path.to_owned(),
        detail: e.to_string(),
    })?;
    text.push('\n');
    let io = |source| KeyFileError::Io {
        path: path.to_owned(),
        source,
    };
    let mut options = OpenOptions::new();
    // create_new is O_EXCL: no race between "does it exist" and "create".
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            KeyFileError::Exists(path.to_owned())
        } else {
            io(e)
        }
    })?;
    file.write_all(text.as_bytes()).map_err(io)?;
    file.sync_all().map_err(io)?;
    Ok(public)
}

/// Reads a key file (JSON or bare secret hex).
pub fn read(path: &Path) -> Result<SigningKey, KeyFileError> {
    let io = |source| KeyFileError::Io {
        path: path.to_owned(),
        source,
    };
    let len = std::fs::metadata(path).map_err(io)?.len();
    if len > MAX_KEY_FILE_BYTES {
        return Err(KeyFileError::TooLarge(path.to_owned()));
    }
    let text = std::fs::read_to_string(path).map_err(io)?;
    parse(path, &text)
}

fn parse(path: &Path, text: &str) -> Result<SigningKey, KeyFileError> {
    let malformed = |detail: String| KeyFileError::Malformed {
        path: path.to_owned(),
        detail,
    };
    let trimmed = text.trim();
    let (secret_hex, stated_public) = if trimmed.starts_with('{') {
        let json: KeyFileJson =
            serde_json::from_str(trimmed).map_err(|e| malformed(e.to_string()))?;
        if json.format != KEY_FILE_FORMAT {
            return Err(malformed(format!(
                "format is {:?}, expected {KEY_FILE_FORMAT:?}",
                json.format
            )));
        }
        (json.secret_key, Some(json.public_key))
    } else {
        (trimmed.to_owned(), None)
    };
    let mut secret = [0u8; 32];
    hex::decode_to_slice(&secret_hex, &mut secret)
        .map_err(|e| malformed(format!("secret key: {e}")))?;
    let key = SigningKey::from_bytes(&secret);
    if let Some(stated) = stated_public {
        if stated != public_key(&key) {
            return Err(KeyFileError::Mismatch(path.to_owned()));
        }
    }
    Ok(key)
}

/// A public key given on the command line: 64 hex characters, or the path of a key file
/// (whose public key is used). The key must be a usable ed25519 key.
pub fn public_key_argument(arg: &str) -> Result<PublicKey, KeyFileError> {
    let key = match PublicKey::from_hex(arg.trim()) {
        Ok(key) => key,
        Err(hex_error) => {
            let path = Path::new(arg);
            if !path.exists() {
                return Err(KeyFileError::BadKeyArgument {
                    arg: arg.to_owned(),
                    detail: format!("as hex: {hex_error}; as a file: no such file"),
                });
            }
            public_key(&read(path)?)
        }
    };
    verifying_key(&key).map_err(|_| KeyFileError::InvalidPublicKey(key.to_hex()))?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refuse_overwrite() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("k.json");
        let key = generate();
        let public = write_new(&path, &key)?;
        assert_eq!(read(&path)?.to_bytes(), key.to_bytes());
        assert_eq!(public_key_argument(&path.to_string_lossy())?, public);
        assert_eq!(public_key_argument(&public.to_hex())?, public);
        let again = write_new(&path, &generate());
        assert!(matches!(again, Err(KeyFileError::Exists(_))));
        // The original key is still there.
        assert_eq!(read(&path)?.to_bytes(), key.to_bytes());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path)?.permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        Ok(())
    }

    #[test]
    fn bare_hex_secret_is_accepted() -> Result<(), Box<dyn std::error::Error>> {
        let key = SigningKey::from_bytes(&[7; 32]);
        let parsed = parse(
            Path::new("x"),
            &format!("{}\n", hex::encode(key.to_bytes())),
        )?;
        assert_eq!(parsed.to_bytes(), key.to_bytes());
        Ok(())
    }

    #[test]
    fn mismatched_public_key_is_refused() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let other = public_key(&SigningKey::from_bytes(&[8; 32]));
        let text = format!(
            r#"{{"format":"{KEY_FILE_FORMAT}","public_key":"{}","secret_key":"{}"}}"#,
            other.to_hex(),
            hex::encode(key.to_bytes())
        );
        assert!(matches!(
            parse(Path::new("x"), &text),
            Err(KeyFileError::Mismatch(_))
        ));
    }

    #[test]
    fn bad_key_arguments() {
        assert!(matches!(
            public_key_argument("nothex"),
            Err(KeyFileError::BadKeyArgument { .. })
        ));
        // All-zero is a small-order point.
        assert!(matches!(
            public_key_argument(&"00".repeat(32)),
            Err(KeyFileError::InvalidPublicKey(_))
        ));
    }
}
