//! Fixed-size byte strings: hashes, public keys and signatures.
//!
//! In the binary encoding they are raw bytes with no length prefix (a bincode tuple,
//! written and read 16 bytes at a time as little-endian `u128`s, which the codec's
//! fixed-width little-endian integers make the same bytes); in JSON
//! (`is_human_readable`) they are lower-case hex strings.

use std::fmt;

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

/// Bytes per element of the binary form (see [`Serialize`] below): every length here is
/// a multiple of it.
const WORD: usize = 16;

macro_rules! byte_array {
    ($(#[$doc:meta])* $name:ident, $len:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub [u8; $len]);

        const _: () = assert!($len % WORD == 0);

        impl $name {
            /// Length in bytes.
            pub const LEN: usize = $len;

            /// The bytes.
            pub fn as_bytes(&self) -> &[u8; $len] {
                &self.0
            }

            /// Lower-case hex.
            pub fn to_hex(&self) -> String {
                hex::encode(self.0)
            }

            /// Parses lower- or upper-case hex of exactly the right length.
            pub fn from_hex(s: &str) -> Result<Self, hex::FromHexError> {
                let mut out = [0u8; $len];
                hex::decode_to_slice(s, &mut out)?;
                Ok(Self(out))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.to_hex())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.to_hex())
            }
        }

        impl From<[u8; $len]> for $name {
            fn from(bytes: [u8; $len]) -> Self {
                Self(bytes)
            }
        }

        impl std::str::FromStr for $name {
            type Err = hex::FromHexError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::from_hex(s)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                if serializer.is_human_readable() {
                    serializer.serialize_str(&self.to_hex())
                } else {
                    // 16 bytes per element, as little-endian u128s: under the codec's
                    // fixed-width little-endian integers these are the same raw bytes
                    // as a tuple of single bytes, in a sixteenth of the calls.
                    use serde::ser::SerializeTuple;
                    let mut tuple = serializer.serialize_tuple($len / WORD)?;
                    for chunk in self.0.chunks_exact(WORD) {
                        let mut word = [0u8; WORD];
                        word.copy_from_slice(chunk);
                        tuple.serialize_element(&u128::from_le_bytes(word))?;
                    }
                    tuple.end()
                }
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                if deserializer.is_human_readable() {
                    let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                    Self::from_hex(&s).map_err(|e| {
                        de::Error::custom(format!(
                            "expected {} hex characters: {e}",
                            2 * $len
                        ))
                    })
                } else {
                    struct Visitor;
                    impl<'de> de::Visitor<'de> for Visitor {
                        type Value = $name;
                        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                            write!(f, "{} bytes", $len)
                        }
                        fn visit_seq<A: de::SeqAccess<'de>>(
                            self,
                            mut seq: A,
                        ) -> Result<$name, A::Error> {
                            let mut out = [0u8; $len];
                            for (i, chunk) in out.chunks_exact_mut(WORD).enumerate() {
                                let word: u128 = seq
                                    .next_element()?
                                    .ok_or_else(|| de::Error::invalid_length(i * WORD, &self))?;
                                chunk.copy_from_slice(&word.to_le_bytes());
                            }
                            Ok($name(out))
                        }
                    }
                    deserializer.deserialize_tuple($len / WORD, Visitor)
                }
            }
        }
    };
}

byte_array!(
    /// A SHA-256 digest.
    Hash32,
    32
);
byte_array!(
    /// An ed25519 public key (the member's identity on the ledger and on the network).
    PublicKey,
    32
);
byte_array!(
    /// An ed25519 signature.
    Signature,
    64
);

impl Hash32 {
    /// All zeroes: the `prev_hash` placeholder nowhere used on chain but handy in tests.
    pub const ZERO: Hash32 = Hash32([0; 32]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_is_raw_and_json_is_hex() {
        let h = Hash32([0xab; 32]);
        assert_eq!(crate::codec::encode(&h), vec![0xab; 32]);
        let json = serde_json::to_string(&h).expect("json");
        assert_eq!(json, format!("\"{}\"", "ab".repeat(32)));
        let back: Hash32 = serde_json::from_str(&json).expect("parse");
        assert_eq!(back, h);
        let sig = Signature([7; 64]);
        let back: Signature = crate::codec::decode(&crate::codec::encode(&sig)).expect("decode");
        assert_eq!(back, sig);
        assert!(serde_json::from_str::<Hash32>("\"abcd\"").is_err());
    }

    /// Every byte in its place, in both directions, and a cut-short input refused.
    #[test]
    fn binary_bytes_keep_their_order() {
        let counting: [u8; 64] = std::array::from_fn(|i| i as u8);
        let sig = Signature(counting);
        assert_eq!(crate::codec::encode(&sig), counting.to_vec());
        let mut first = [0u8; 32];
        first.copy_from_slice(&counting[..32]);
        let key = PublicKey(first);
        assert_eq!(crate::codec::encode(&key), first.to_vec());
        assert_eq!(
            crate::codec::decode::<Signature>(&counting).expect("decode"),
            sig
        );
        assert_eq!(
            crate::codec::decode::<(PublicKey, u8)>(&counting[..33]).expect("decode"),
            (key, 32)
        );
        assert!(crate::codec::decode::<Signature>(&counting[..63]).is_err());
        assert!(crate::codec::decode::<Hash32>(&counting[..20]).is_err());
    }
}
