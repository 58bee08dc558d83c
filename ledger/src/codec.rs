//! The one place that touches bincode.
//!
//! Every signed or stored byte string in tongban is `encode(value)`: bincode 2.0.1 with
//! `config::legacy()` (fixed-width little-endian integers, u64 length prefixes, u32 enum
//! variant indexes, a one-byte `Option` tag). Decoding has a byte limit, so a hostile
//! length prefix cannot make us allocate more than [`MAX_DECODE_BYTES`], and rejects
//! trailing bytes, so one value has exactly one encoding that decodes.

use serde::{de::DeserializeOwned, Serialize};

/// Largest value `decode` will read. Blocks are the largest values we store or send.
pub const MAX_DECODE_BYTES: usize = 64 * 1024 * 1024;

fn config() -> bincode::config::Configuration<
    bincode::config::LittleEndian,
    bincode::config::Fixint,
    bincode::config::Limit<MAX_DECODE_BYTES>,
> {
    bincode::config::legacy().with_limit::<MAX_DECODE_BYTES>()
}

/// Why bytes did not decode.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// The bytes are not a valid encoding of the expected type (or exceed the limit).
    #[error("malformed bytes: {0}")]
    Malformed(String),
    /// A value decoded but bytes were left over.
    #[error("{extra} trailing bytes after the value")]
    TrailingBytes {
        /// How many bytes were left.
        extra: usize,
    },
}

/// Encodes a value. Our types contain only fixed structures, sequences of known length
/// and strings, which bincode always encodes, so this cannot fail for them.
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    match bincode::serde::encode_to_vec(value, config()) {
        Ok(bytes) => bytes,
        // Unreachable for tongban's types: a failure here is a programming error.
        Err(e) => panic!("encoding a tongban value failed: {e}"),
    }
}

/// Decodes exactly one value from `bytes`.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    let (value, read) = bincode::serde::decode_from_slice(bytes, config())
        .map_err(|e| CodecError::Malformed(e.to_string()))?;
    if read != bytes.len() {
        return Err(CodecError::TrailingBytes {
            extra: bytes.len() - read,
        });
    }
    Ok(value)
}

/// The variant index an encoded enum value starts with (the legacy configuration writes
/// it as a little-endian `u32`), or `None` if `bytes` are shorter than that. Lets a relay
/// tell kinds of message apart without decoding them; it says nothing about whether the
/// rest decodes.
pub fn variant_index(bytes: &[u8]) -> Option<u32> {
    let tag: [u8; 4] = bytes.get(..4)?.try_into().ok()?;
    Some(u32::from_le_bytes(tag))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_layout() {
        assert_eq!(encode(&1u32), vec![1, 0, 0, 0]);
        assert_eq!(encode(&"ab"), vec![2, 0, 0, 0, 0, 0, 0, 0, b'a', b'b']);
        assert_eq!(encode(&Some(7u8)), vec![1, 7]);
        assert_eq!(encode(&None::<u8>), vec![0]);
    }

    #[test]
    fn hostile_length_prefix_is_refused_without_allocating() {
        // A Vec<u8> claiming 2^62 elements.
        let mut bytes = (1u64 << 62).to_le_bytes().to_vec();
        bytes.extend_from_slice(&[0; 8]);
        assert!(matches!(
            decode::<Vec<u8>>(&bytes),
            Err(CodecError::Malformed(_))
        ));
    }

    #[test]
    fn trailing_bytes_are_refused() {
        assert!(matches!(
            decode::<u32>(&[1, 0, 0, 0, 9]),
            Err(CodecError::TrailingBytes { extra: 1 })
        ));
    }
}
