//! Identifiers of DESIGN §3: types that can only hold valid values.
//!
//! Every identifier is parsed once, at the edge, by its `parse` function; a bad value
//! gets an [`IdError`] that says which rule it broke and where. Deserialisation goes
//! through the same parser (`serde(try_from = "String")`), so bytes from the network or
//! disk can never smuggle in an invalid identifier.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The 31 characters of GB 32100-2015, in value order (no I, O, S, V, Z).
pub const USCC_ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
/// The 36 characters of ISO/IEC 7064 MOD 37,36 (hybrid system), in value order.
pub const MOD37_36_ALPHABET: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// Longest serial accepted in a licence id or a case id.
pub const MAX_SERIAL_LEN: usize = 64;
/// Longest item code (事项编码).
pub const MAX_ITEM_CODE_LEN: usize = 64;

/// Which identifier an [`IdError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    /// 统一社会信用代码 of a department.
    MemberId,
    /// GB/T 2260 region code.
    Region,
    /// GB/T 36904 licence id.
    LicenceId,
    /// Licence type code (18-character department code + 3 digits).
    TypeCode,
    /// Case id.
    CaseId,
    /// Item code.
    ItemCode,
}

impl fmt::Display for IdKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IdKind::MemberId => "department id",
            IdKind::Region => "region code",
            IdKind::LicenceId => "licence id",
            IdKind::TypeCode => "licence type code",
            IdKind::CaseId => "case id",
            IdKind::ItemCode => "item code",
        })
    }
}

/// Why an identifier was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The identifier has the wrong number of characters.
    #[error("{kind}: expected {expected} characters, found {found}")]
    Length {
        /// Identifier kind.
        kind: IdKind,
        /// What the rule allows, e.g. "18" or "1..=64".
        expected: &'static str,
        /// Characters found.
        found: usize,
    },
    /// A character outside the identifier's alphabet.
    #[error("{kind}: character {character:?} at position {position} is not allowed")]
    Character {
        /// Identifier kind.
        kind: IdKind,
        /// 1-based position of the character.
        position: usize,
        /// The offending character.
        character: char,
    },
    /// The check character does not match.
    #[error("{kind}: check character is {found:?}, expected {expected:?}")]
    Checksum {
        /// Identifier kind.
        kind: IdKind,
        /// Check character computed from the rest.
        expected: char,
        /// Check character present.
        found: char,
    },
    /// The embedded region code is not a GB/T 2260 code.
    #[error("{kind}: {detail}")]
    Region {
        /// Identifier kind.
        kind: IdKind,
        /// What is wrong.
        detail: String,
    },
    /// The layout is wrong (missing parts, wrong prefix, wrong separators).
    #[error("{kind}: {detail}")]
    Layout {
        /// Identifier kind.
        kind: IdKind,
        /// What is wrong.
        detail: String,
    },
}

fn layout(kind: IdKind, detail: impl Into<String>) -> IdError {
    IdError::Layout {
        kind,
        detail: detail.into(),
    }
}

fn check_charset(
    kind: IdKind,
    s: &str,
    offset: usize,
    allowed: impl Fn(char) -> bool,
) -> Result<(), IdError> {
    match s.chars().enumerate().find(|(_, c)| !allowed(*c)) {
        Some((i, character)) => Err(IdError::Character {
            kind,
            position: offset + i + 1,
            character,
        }),
        None => Ok(()),
    }
}

/// GB 32100 value of each byte, or `NOT_USCC`: one table look-up per character, because
/// member ids are parsed every time a stored licence type or member list is decoded.
const USCC_VALUES: [u8; 256] = {
    let mut table = [NOT_USCC; 256];
    let mut i = 0;
    while i < USCC_ALPHABET.len() {
        table[USCC_ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    table
};
/// Marks a byte outside the GB 32100 alphabet in [`USCC_VALUES`].
const NOT_USCC: u8 = u8::MAX;

/// GB 32100 value of a character, if it is in the alphabet.
fn uscc_value(c: u8) -> Option<u32> {
    match USCC_VALUES[usize::from(c)] {
        NOT_USCC => None,
        v => Some(u32::from(v)),
    }
}

/// The GB 32100 check character for the first 17 characters (which must be valid).
///
/// Weights are W_i = 3^(i-1) mod 31; C18 = 31 - (Σ C_i·W_i mod 31), with 31 mapped to 0.
pub fn uscc_check_char(first17: &[u8]) -> Option<u8> {
    let mut weight = 1u32;
    let mut sum = 0u32;
    for &c in first17.iter().take(17) {
        sum += uscc_value(c)? * weight;
        weight = (weight * 3) % 31;
    }
    let check = (31 - sum % 31) % 31;
    Some(USCC_ALPHABET[check as usize])
}

/// The ISO/IEC 7064 MOD 37,36 check character over `data` (digits and upper-case letters).
pub fn mod37_36_check_char(data: &[u8]) -> Option<u8> {
    const M: u32 = 36;
    let mut p = M;
    for &c in data {
        let v = match c {
            b'0'..=b'9' => u32::from(c - b'0'),
            b'A'..=b'Z' => u32::from(c - b'A') + 10,
            _ => return None,
        };
        let mut s = (p + v) % M;
        if s == 0 {
            s = M;
        }
        p = (s * 2) % (M + 1);
    }
    let check = (M + 1 - p) % M;
    Some(MOD37_36_ALPHABET[check as usize])
}

/// Province-level prefixes of GB/T 2260, plus `10` for national-level bodies
/// (as in `11100000000013338W`).
fn is_province_prefix(p: u32) -> bool {
    matches!(p, 10..=15 | 21..=23 | 31..=37 | 41..=46 | 50..=54 | 61..=65 | 71 | 81 | 82)
}

fn check_region_shape(kind: IdKind, code: &str) -> Result<(), IdError> {
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(IdError::Region {
            kind,
            detail: format!("region code {code:?} is not 6 digits"),
        });
    }
    let province: u32 = code[0..2].parse().unwrap_or(0);
    if !is_province_prefix(province) {
        return Err(IdError::Region {
            kind,
            detail: format!("region code {code:?}: {province:02} is not a province code"),
        });
    }
    Ok(())
}

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
        #[serde(try_from = "String")]
        pub struct $name(String);

        /// As its text, like a `String` (the same bytes in every format), without
        /// the copy that serde's `into = "String"` makes for each write.
        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl $name {
            /// The identifier as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(s: String) -> Result<Self, IdError> {
                Self::parse(&s)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::parse(s)
            }
        }
    };
}

string_id!(
    /// A department's 18-character 统一社会信用代码 (GB 32100-2015), checksum verified.
    MemberId
);

impl MemberId {
    /// Parses a 统一社会信用代码: 18 characters of the GB 32100 alphabet, characters
    /// 3..8 a GB/T 2260 region code, and a correct check character.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        parse_uscc(IdKind::MemberId, s, 0)?;
        Ok(MemberId(s.to_owned()))
    }

    /// The GB/T 2260 region embedded in characters 3..8.
    pub fn region_code(&self) -> &str {
        &self.0[2..8]
    }
}

fn parse_uscc(kind: IdKind, s: &str, offset: usize) -> Result<(), IdError> {
    // Fast path for the common, valid case: 18 bytes of the alphabet (hence ASCII).
    if s.len() == 18 && s.bytes().all(|b| uscc_value(b).is_some()) {
        check_region_shape(kind, &s[2..8])?;
        return check_uscc_checksum(kind, s.as_bytes());
    }
    if s.chars().count() != 18 {
        return Err(IdError::Length {
            kind,
            expected: "18",
            found: s.chars().count(),
        });
    }
    check_charset(kind, s, offset, |c| {
        c.is_ascii() && uscc_value(c as u8).is_some()
    })?;
    check_region_shape(kind, &s[2..8])?;
    check_uscc_checksum(kind, s.as_bytes())
}

/// Checks the 18th character of an 18-byte code of the GB 32100 alphabet.
fn check_uscc_checksum(kind: IdKind, bytes: &[u8]) -> Result<(), IdError> {
    let expected = uscc_check_char(&bytes[..17]).ok_or_else(|| layout(kind, "bad character"))?;
    if expected != bytes[17] {
        return Err(IdError::Checksum {
            kind,
            expected: char::from(expected),
            found: char::from(bytes[17]),
        });
    }
    Ok(())
}

string_id!(
    /// A 6-digit GB/T 2260 administrative division code (province, prefecture, county).
    RegionCode
);

impl RegionCode {
    /// Parses a region code: 6 digits whose first two name a province.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        if s.chars().count() != 6 {
            return Err(IdError::Length {
                kind: IdKind::Region,
                expected: "6",
                found: s.chars().count(),
            });
        }
        check_charset(IdKind::Region, s, 0, |c| c.is_ascii_digit())?;
        check_region_shape(IdKind::Region, s)?;
        Ok(RegionCode(s.to_owned()))
    }
}

string_id!(
    /// A licence type code: the defining department's 18-character code + 3 digits.
    TypeCode
);

impl TypeCode {
    /// Parses a 21-character type code.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        parse_type_code(s, 0)?;
        Ok(TypeCode(s.to_owned()))
    }

    /// The department that defines the type.
    pub fn defining_department(&self) -> &str {
        &self.0[..18]
    }
}

fn parse_type_code(s: &str, offset: usize) -> Result<(), IdError> {
    let kind = IdKind::TypeCode;
    if s.chars().count() != 21 {
        return Err(IdError::Length {
            kind,
            expected: "21",
            found: s.chars().count(),
        });
    }
    // Byte offsets below are character offsets only for ASCII: refuse anything else
    // first, so that a multi-byte character can never put a slice off a boundary
    // (found by the `parse_ids` fuzz target).
    check_charset(kind, s, offset, |c| c.is_ascii())?;
    parse_uscc(kind, &s[..18], offset)?;
    check_charset(kind, &s[18..], offset + 18, |c| c.is_ascii_digit())
}

/// The fixed prefix of every GB/T 36904 licence id.
pub const LICENCE_ID_PREFIX: &str = "1.2.156.3005.2.";

string_id!(
    /// A GB/T 36904-2018 licence id (证照标识):
    /// `1.2.156.3005.2.<type>.<issuer>.<serial>.<version>.<check>`.
    LicenceId
);

impl LicenceId {
    /// Parses a licence id and verifies its MOD 37,36 check character.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let kind = IdKind::LicenceId;
        let rest = s
            .strip_prefix(LICENCE_ID_PREFIX)
            .ok_or_else(|| layout(kind, format!("must start with {LICENCE_ID_PREFIX:?}")))?;
        let parts: Vec<&str> = rest.split('.').collect();
        if parts.len() != 5 {
            return Err(layout(
                kind,
                format!(
                    "expected 5 dot-separated parts after the prefix (type, issuer, serial, version, check), found {}",
                    parts.len()
                ),
            ));
        }
        let (type_code, issuer, serial, version, check) =
            (parts[0], parts[1], parts[2], parts[3], parts[4]);
        let mut offset = LICENCE_ID_PREFIX.len();
        parse_type_code(type_code, offset).map_err(|e| retag(e, kind))?;
        offset += type_code.len() + 1;
        match issuer.len() {
            18 => parse_uscc(kind, issuer, offset)?,
            6 => {
                check_charset(kind, issuer, offset, |c| c.is_ascii_digit())?;
                check_region_shape(kind, issuer)?;
            }
            n => {
                return Err(layout(
                    kind,
                    format!("issuer code must be 18 characters (department) or 6 digits (region), found {n}"),
                ))
            }
        }
        offset += issuer.len() + 1;
        if serial.is_empty() || serial.len() > MAX_SERIAL_LEN {
            return Err(IdError::Length {
                kind,
                expected: "serial of 1..=64",
                found: serial.len(),
            });
        }
        check_charset(kind, serial, offset, |c| {
            c.is_ascii_digit() || c.is_ascii_uppercase()
        })?;
        offset += serial.len() + 1;
        if version.len() != 3 {
            return Err(IdError::Length {
                kind,
                expected: "version of 3 digits",
                found: version.len(),
            });
        }
        check_charset(kind, version, offset, |c| c.is_ascii_digit())?;
        offset += version.len() + 1;
        if check.chars().count() != 1 {
            return Err(IdError::Length {
                kind,
                expected: "check of 1 character",
                found: check.chars().count(),
            });
        }
        check_charset(kind, check, offset, |c| {
            c.is_ascii_digit() || c.is_ascii_uppercase()
        })?;
        let data = [type_code, issuer, serial, version].concat();
        let expected = mod37_36_check_char(data.as_bytes())
            .ok_or_else(|| layout(kind, "bad character in checked data"))?;
        if expected != check.as_bytes()[0] {
            return Err(IdError::Checksum {
                kind,
                expected: char::from(expected),
                found: char::from(check.as_bytes()[0]),
            });
        }
        Ok(LicenceId(s.to_owned()))
    }

    /// Builds a licence id from its parts, computing the check character.
    pub fn compose(
        type_code: &TypeCode,
        issuer: &str,
        serial: &str,
        version: u16,
    ) -> Result<Self, IdError> {
        let version = format!("{version:03}");
        let data = [type_code.as_str(), issuer, serial, &version].concat();
        let check = mod37_36_check_char(data.as_bytes()).ok_or_else(|| IdError::Layout {
            kind: IdKind::LicenceId,
            detail: "serial must be digits and upper-case letters".into(),
        })?;
        Self::parse(&format!(
            "{LICENCE_ID_PREFIX}{type_code}.{issuer}.{serial}.{version}.{}",
            char::from(check)
        ))
    }

    fn part(&self, index: usize) -> &str {
        self.0[LICENCE_ID_PREFIX.len()..]
            .split('.')
            .nth(index)
            .unwrap_or_default()
    }

    /// The licence type code embedded in the id.
    pub fn type_code(&self) -> &str {
        self.part(0)
    }

    /// The issuer code embedded in the id (department code or region code).
    pub fn issuer_code(&self) -> &str {
        self.part(1)
    }
}

fn retag(e: IdError, kind: IdKind) -> IdError {
    match e {
        IdError::Length {
            expected, found, ..
        } => IdError::Length {
            kind,
            expected,
            found,
        },
        IdError::Character {
            position,
            character,
            ..
        } => IdError::Character {
            kind,
            position,
            character,
        },
        IdError::Checksum {
            expected, found, ..
        } => IdError::Checksum {
            kind,
            expected,
            found,
        },
        IdError::Region { detail, .. } => IdError::Region { kind, detail },
        IdError::Layout { detail, .. } => IdError::Layout { kind, detail },
    }
}

string_id!(
    /// A case id: the accepting member's id, `-`, and a serial unique to that member.
    CaseId
);

impl CaseId {
    /// Parses `<member id>-<serial>` where serial is 1..=64 of `[0-9A-Za-z-]`.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let kind = IdKind::CaseId;
        let (member, serial) = match (s.get(..18), s.get(18..)) {
            (Some(m), Some(rest)) => (
                m,
                rest.strip_prefix('-')
                    .ok_or_else(|| layout(kind, "expected '-' after the 18-character member id"))?,
            ),
            _ => return Err(layout(kind, "expected <18-character member id>-<serial>")),
        };
        parse_uscc(IdKind::CaseId, member, 0)?;
        if serial.is_empty() || serial.len() > MAX_SERIAL_LEN {
            return Err(IdError::Length {
                kind,
                expected: "serial of 1..=64",
                found: serial.len(),
            });
        }
        check_charset(kind, serial, 19, |c| c.is_ascii_alphanumeric() || c == '-')?;
        Ok(CaseId(s.to_owned()))
    }

    /// The id of the member that accepted the case.
    pub fn accepting_member(&self) -> &str {
        &self.0[..18]
    }
}

string_id!(
    /// An item code (事项编码): 1..=64 characters of `[0-9A-Za-z-]`; opaque.
    ItemCode
);

impl ItemCode {
    /// Parses an item code.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let kind = IdKind::ItemCode;
        if s.is_empty() || s.len() > MAX_ITEM_CODE_LEN {
            return Err(IdError::Length {
                kind,
                expected: "1..=64",
                found: s.chars().count(),
            });
        }
        check_charset(kind, s, 0, |c| c.is_ascii_alphanumeric() || c == '-')?;
        Ok(ItemCode(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_worked_example_is_valid() {
        let id = MemberId::parse("91350100M000100Y43").expect("valid");
        assert_eq!(id.region_code(), "350100");
    }

    #[test]
    fn design_licence_example_is_valid() {
        let s = "1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.001.U";
        let id = LicenceId::parse(s).expect("valid");
        assert_eq!(id.type_code(), "11100000000013338W011");
        assert_eq!(id.issuer_code(), "11430000006122244L");
        let bad = s.replace(".U", ".V");
        assert!(matches!(
            LicenceId::parse(&bad),
            Err(IdError::Checksum { expected: 'U', .. })
        ));
    }

    #[test]
    fn member_id_errors_name_the_rule() {
        assert!(matches!(
            MemberId::parse("91350100M000100Y4"),
            Err(IdError::Length { found: 17, .. })
        ));
        assert!(matches!(
            MemberId::parse("91350100M000100I43"),
            Err(IdError::Character {
                position: 16,
                character: 'I',
                ..
            })
        ));
        assert!(matches!(
            MemberId::parse("91350100M000100Y44"),
            Err(IdError::Checksum {
                expected: '3',
                found: '4',
                ..
            })
        ));
        assert!(matches!(
            MemberId::parse("91990100M000100Y43"),
            Err(IdError::Region { .. })
        ));
    }

    #[test]
    fn other_ids() {
        assert!(RegionCode::parse("350100").is_ok());
        assert!(RegionCode::parse("990100").is_err());
        assert!(RegionCode::parse("35010").is_err());
        assert!(CaseId::parse("91350100M000100Y43-2026-0001").is_ok());
        assert!(CaseId::parse("91350100M000100Y43_1").is_err());
        assert!(CaseId::parse("91350100M000100Y43-").is_err());
        assert!(ItemCode::parse("11350100-000-XK-001").is_ok());
        assert!(ItemCode::parse("").is_err());
        assert!(ItemCode::parse("a b").is_err());
        let t = TypeCode::parse("11100000000013338W011").expect("type");
        let id = LicenceId::compose(&t, "350100", "A1", 1).expect("compose");
        assert!(LicenceId::parse(id.as_str()).is_ok());
    }

    #[test]
    fn serde_rejects_invalid_ids() {
        let ok: Result<MemberId, _> = serde_json::from_str("\"91350100M000100Y43\"");
        assert!(ok.is_ok());
        let bad: Result<MemberId, _> = serde_json::from_str("\"91350100M000100Y44\"");
        assert!(bad.is_err());
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn uscc_body() -> impl Strategy<Value = String> {
            // Two leading characters, a region code with a real province, 9 more characters.
            let ch = proptest::sample::select(USCC_ALPHABET.to_vec());
            let province = proptest::sample::select(vec![11u32, 35, 44, 65, 82]);
            (
                proptest::collection::vec(ch.clone(), 2),
                province,
                0u32..10_000,
                proptest::collection::vec(ch, 9),
            )
                .prop_map(|(head, p, rest, tail)| {
                    format!(
                        "{}{p:02}{rest:04}{}",
                        String::from_utf8(head).unwrap_or_default(),
                        String::from_utf8(tail).unwrap_or_default()
                    )
                })
        }

        fn with_check(body: &str) -> String {
            let c = uscc_check_char(body.as_bytes()).unwrap_or(b'?');
            format!("{body}{}", char::from(c))
        }

        proptest! {
            #[test]
            fn generated_member_ids_are_accepted(body in uscc_body()) {
                let id = with_check(&body);
                prop_assert!(MemberId::parse(&id).is_ok(), "{id}");
            }

            #[test]
            fn every_single_substitution_is_rejected(body in uscc_body(), pos in 0usize..18, sub in 0usize..31) {
                let id = with_check(&body);
                let mut bytes = id.clone().into_bytes();
                let replacement = USCC_ALPHABET[sub];
                prop_assume!(bytes[pos] != replacement);
                bytes[pos] = replacement;
                let changed = String::from_utf8(bytes).unwrap_or_default();
                prop_assert!(MemberId::parse(&changed).is_err(), "{changed} accepted after substituting position {pos}");
            }

            #[test]
            fn every_licence_id_substitution_is_rejected(serial in "[0-9A-Z]{1,20}", version in 0u16..1000, pos_seed in any::<usize>(), sub in 0usize..36) {
                let t = TypeCode::parse("11100000000013338W011").map_err(|e| TestCaseError::fail(e.to_string()))?;
                let id = LicenceId::compose(&t, "11430000006122244L", &serial, version).map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert!(LicenceId::parse(id.as_str()).is_ok());
                // Substitute one character of the checked data or the check character.
                let s = id.as_str();
                let positions: Vec<usize> = s.char_indices()
                    .filter(|(i, c)| *i >= LICENCE_ID_PREFIX.len() && *c != '.')
                    .map(|(i, _)| i).collect();
                let pos = positions[pos_seed % positions.len()];
                let mut bytes = s.as_bytes().to_vec();
                let replacement = MOD37_36_ALPHABET[sub];
                prop_assume!(bytes[pos] != replacement);
                bytes[pos] = replacement;
                let changed = String::from_utf8(bytes).unwrap_or_default();
                prop_assert!(LicenceId::parse(&changed).is_err(), "{changed} accepted");
            }
        }
    }
}
