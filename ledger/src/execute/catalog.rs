//! Catalogue rules: publishing licence types and items (DESIGN §4).
//!
//! Both are admin-signed and take effect at once (later records of the same block see
//! them). Publishing an existing code replaces its entry; the sorted code lists
//! (`LICENCE_TYPE_LIST`, `ITEM_LIST`) gain new codes and are bounded.

use crate::bytes::PublicKey;
use crate::ids::{ItemCode, MemberId, TypeCode};
use crate::keys;
use crate::types::{CaseMode, CatalogItem, LicenceType};

use super::{
    check_len, check_list, has_duplicates, insert_sorted, read_item_list, read_licence_type,
    read_licence_type_list, read_member, CheckError, Exec, RejectReason, MAX_ISSUERS_PER_TYPE,
    MAX_ITEMS, MAX_ITEM_TYPES, MAX_LICENCE_TYPES, MAX_NAME_BYTES, MAX_TIME_LIMIT_DAYS,
};

/// The fields of a `PublishItem` body.
pub(crate) struct ItemFields<'r> {
    pub(crate) item_code: &'r ItemCode,
    pub(crate) name: &'r str,
    pub(crate) time_limit_days: u32,
    pub(crate) modes: &'r [CaseMode],
    pub(crate) uses_types: &'r [TypeCode],
    pub(crate) issues_types: &'r [TypeCode],
}

fn check_name(name: &str) -> Result<(), RejectReason> {
    check_len("name", name, MAX_NAME_BYTES)?;
    if name.trim().is_empty() {
        return Err(RejectReason::InvalidCatalogEntry("name is empty"));
    }
    Ok(())
}

impl Exec<'_> {
    pub(crate) fn publish_licence_type(
        &mut self,
        author: &PublicKey,
        type_code: &TypeCode,
        name: &str,
        issuers: &[MemberId],
    ) -> Result<(), CheckError> {
        self.admin_author(author)?;
        check_name(name)?;
        check_list("issuers", issuers, MAX_ISSUERS_PER_TYPE)?;
        if issuers.is_empty() {
            return Err(RejectReason::InvalidCatalogEntry("issuers is empty").into());
        }
        if has_duplicates(issuers) {
            return Err(RejectReason::InvalidCatalogEntry("issuers repeats a member").into());
        }
        for id in issuers {
            if read_member(&self.state, id)?.is_none() {
                return Err(RejectReason::UnknownMember(id.clone()).into());
            }
        }
        let mut list = read_licence_type_list(&self.state)?;
        if !insert_sorted(&mut list, type_code.clone(), MAX_LICENCE_TYPES) {
            return Err(RejectReason::CatalogFull {
                what: "licence type",
                max: MAX_LICENCE_TYPES,
            }
            .into());
        }
        self.state.put(keys::licence_type_list(), &list);
        self.state.put(
            keys::licence_type(type_code),
            &LicenceType {
                type_code: type_code.clone(),
                name: name.to_owned(),
                issuers: issuers.to_vec(),
            },
        );
        Ok(())
    }

    pub(crate) fn publish_item(
        &mut self,
        author: &PublicKey,
        fields: ItemFields<'_>,
    ) -> Result<(), CheckError> {
        self.admin_author(author)?;
        let ItemFields {
            item_code,
            name,
            time_limit_days,
            modes,
            uses_types,
            issues_types,
        } = fields;
        check_name(name)?;
        if time_limit_days == 0 || time_limit_days > MAX_TIME_LIMIT_DAYS {
            return Err(
                RejectReason::InvalidCatalogEntry("time_limit_days must be 1..=3650").into(),
            );
        }
        if modes.is_empty() {
            return Err(RejectReason::InvalidCatalogEntry("modes is empty").into());
        }
        // Three modes exist; a longer list necessarily repeats one.
        check_list("modes", modes, 3)?;
        let mut seen_modes: Vec<CaseMode> = Vec::new();
        for mode in modes {
            if seen_modes.contains(mode) {
                return Err(RejectReason::InvalidCatalogEntry("modes repeats a mode").into());
            }
            seen_modes.push(*mode);
        }
        for (field, types) in [("uses_types", uses_types), ("issues_types", issues_types)] {
            check_list(field, types, MAX_ITEM_TYPES)?;
            if has_duplicates(types) {
                return Err(RejectReason::InvalidCatalogEntry("a type list repeats a type").into());
            }
            for code in types {
                if read_licence_type(&self.state, code)?.is_none() {
                    return Err(RejectReason::UnknownLicenceType(code.clone()).into());
                }
            }
        }
        let mut list = read_item_list(&self.state)?;
        if !insert_sorted(&mut list, item_code.clone(), MAX_ITEMS) {
            return Err(RejectReason::CatalogFull {
                what: "item",
                max: MAX_ITEMS,
            }
            .into());
        }
        self.state.put(keys::item_list(), &list);
        self.state.put(
            keys::item(item_code),
            &CatalogItem {
                item_code: item_code.clone(),
                name: name.to_owned(),
                time_limit_days,
                modes: modes.to_vec(),
                uses_types: uses_types.to_vec(),
                issues_types: issues_types.to_vec(),
            },
        );
        Ok(())
    }
}
