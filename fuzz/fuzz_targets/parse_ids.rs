//! Identifiers arrive as text everywhere (URLs, JSON bodies, CLI arguments). All six
//! parsers run on any UTF-8; none may panic, an accepted id keeps its text, and the
//! accessors that slice an accepted id must not panic either.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tongban_ledger::ids::{CaseId, ItemCode, LicenceId, MemberId, RegionCode, TypeCode};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(id) = MemberId::parse(s) {
        assert_eq!(id.as_str(), s);
        let _ = id.region_code();
    }
    if let Ok(id) = RegionCode::parse(s) {
        assert_eq!(id.as_str(), s);
    }
    if let Ok(id) = TypeCode::parse(s) {
        assert_eq!(id.as_str(), s);
        let _ = id.defining_department();
    }
    if let Ok(id) = LicenceId::parse(s) {
        assert_eq!(id.as_str(), s);
        let _ = (id.type_code(), id.issuer_code());
    }
    if let Ok(id) = CaseId::parse(s) {
        assert_eq!(id.as_str(), s);
        let _ = id.accepting_member();
    }
    if let Ok(id) = ItemCode::parse(s) {
        assert_eq!(id.as_str(), s);
    }
});
