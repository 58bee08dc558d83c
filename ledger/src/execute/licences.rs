//! Licence rules: issue, suspend, reinstate, revoke (DESIGN §4).
//!
//! Only an active member listed as an issuer of the type may issue; the id's type part
//! must be the type, and its issuer part the issuer's id or region. Only the issuer may
//! change a licence's status afterwards: `Active → Suspended → Active`,
//! `Active | Suspended → Revoked`, and nothing leaves `Revoked`. Superseding revokes the
//! old licence (same issuer) and links the two.

use crate::bytes::{Hash32, PublicKey};
use crate::ids::{LicenceId, TypeCode};
use crate::keys;
use crate::types::{LicenceRecord, LicenceStatus, Member};

use super::{check_len, read_licence, CheckError, Exec, RejectReason, MAX_REASON_BYTES};

/// The fields of an `IssueLicence` body.
pub(crate) struct IssueFields<'r> {
    pub(crate) licence_id: &'r LicenceId,
    pub(crate) type_code: &'r TypeCode,
    pub(crate) holder_commitment: &'r Hash32,
    pub(crate) document_hash: &'r Hash32,
    pub(crate) valid_from: u64,
    pub(crate) valid_until: Option<u64>,
    pub(crate) supersedes: Option<&'r LicenceId>,
}

/// The status a licence may move to from `from` with a suspend, reinstate or revoke.
fn status_change_allowed(from: LicenceStatus, to: LicenceStatus) -> bool {
    matches!(
        (from, to),
        (LicenceStatus::Active, LicenceStatus::Suspended)
            | (LicenceStatus::Suspended, LicenceStatus::Active)
            | (LicenceStatus::Active, LicenceStatus::Revoked)
            | (LicenceStatus::Suspended, LicenceStatus::Revoked)
    )
}

impl Exec<'_> {
    pub(crate) fn issue_licence(
        &mut self,
        author: &PublicKey,
        fields: IssueFields<'_>,
    ) -> Result<(), CheckError> {
        let member = self.member_author(author)?;
        let IssueFields {
            licence_id,
            type_code,
            holder_commitment,
            document_hash,
            valid_from,
            valid_until,
            supersedes,
        } = fields;

        if licence_id.type_code() != type_code.as_str() {
            return Err(RejectReason::TypeCodeMismatch {
                in_id: licence_id.type_code().to_owned(),
                type_code: type_code.clone(),
            }
            .into());
        }
        // The id names its issuer (GB/T 36904): a member may not mint ids under another
        // department's code, or a verifier would be misled about who issued it.
        let issuer_code = licence_id.issuer_code();
        if issuer_code != member.id.as_str() && issuer_code != member.region.as_str() {
            return Err(RejectReason::IssuerCodeMismatch {
                in_id: issuer_code.to_owned(),
                member_id: member.id.clone(),
            }
            .into());
        }
        let licence_type = self
            .licence_type(type_code)?
            .ok_or_else(|| RejectReason::UnknownLicenceType(type_code.clone()))?;
        if !licence_type.issuers.contains(&member.id) {
            return Err(RejectReason::NotTypeIssuer {
                member_id: member.id.clone(),
                type_code: type_code.clone(),
            }
            .into());
        }
        if let Some(until) = valid_until {
            if until <= valid_from {
                return Err(RejectReason::InvalidValidity {
                    valid_from,
                    valid_until: until,
                }
                .into());
            }
        }
        let key = keys::licence(licence_id);
        if super::reads::get::<LicenceRecord>(&self.state, &key, "licence")?.is_some() {
            return Err(RejectReason::LicenceExists(licence_id.clone()).into());
        }

        let height = self.ctx.height;
        if let Some(old_id) = supersedes {
            let mut old = read_licence(&self.state, old_id)?
                .ok_or_else(|| RejectReason::SupersedesUnknown(old_id.clone()))?;
            if old.issuer != member.id {
                return Err(RejectReason::SupersedesOtherIssuer {
                    licence_id: old_id.clone(),
                    issuer: old.issuer,
                }
                .into());
            }
            if old.status == LicenceStatus::Revoked {
                return Err(RejectReason::SupersedesRevoked(old_id.clone()).into());
            }
            old.status = LicenceStatus::Revoked;
            old.superseded_by = Some(licence_id.clone());
            old.status_reason = Some(format!("superseded by {licence_id}"));
            old.updated_height = height;
            self.state.put(keys::licence(old_id), &old);
        }

        let licence = LicenceRecord {
            licence_id: licence_id.clone(),
            type_code: type_code.clone(),
            issuer: member.id,
            holder_commitment: *holder_commitment,
            document_hash: *document_hash,
            valid_from,
            valid_until,
            supersedes: supersedes.cloned(),
            superseded_by: None,
            status: LicenceStatus::Active,
            status_reason: None,
            issued_height: height,
            updated_height: height,
        };
        self.state.put(key, &licence);
        Ok(())
    }

    pub(crate) fn suspend_licence(
        &mut self,
        author: &PublicKey,
        licence_id: &LicenceId,
        reason: &str,
    ) -> Result<(), CheckError> {
        check_len("reason", reason, MAX_REASON_BYTES)?;
        self.change_status(
            author,
            licence_id,
            LicenceStatus::Suspended,
            Some(reason.to_owned()),
        )
    }

    pub(crate) fn reinstate_licence(
        &mut self,
        author: &PublicKey,
        licence_id: &LicenceId,
    ) -> Result<(), CheckError> {
        self.change_status(author, licence_id, LicenceStatus::Active, None)
    }

    pub(crate) fn revoke_licence(
        &mut self,
        author: &PublicKey,
        licence_id: &LicenceId,
        reason: &str,
    ) -> Result<(), CheckError> {
        check_len("reason", reason, MAX_REASON_BYTES)?;
        self.change_status(
            author,
            licence_id,
            LicenceStatus::Revoked,
            Some(reason.to_owned()),
        )
    }

    fn change_status(
        &mut self,
        author: &PublicKey,
        licence_id: &LicenceId,
        to: LicenceStatus,
        reason: Option<String>,
    ) -> Result<(), CheckError> {
        let member: Member = self.member_author(author)?;
        let mut licence = read_licence(&self.state, licence_id)?
            .ok_or_else(|| RejectReason::UnknownLicence(licence_id.clone()))?;
        if licence.issuer != member.id {
            return Err(RejectReason::NotLicenceIssuer {
                licence_id: licence_id.clone(),
                issuer: licence.issuer,
                author: member.id,
            }
            .into());
        }
        if !status_change_allowed(licence.status, to) {
            return Err(RejectReason::InvalidStatusChange {
                licence_id: licence_id.clone(),
                from: licence.status,
                to,
            }
            .into());
        }
        licence.status = to;
        licence.status_reason = reason;
        licence.updated_height = self.ctx.height;
        self.state.put(keys::licence(licence_id), &licence);
        Ok(())
    }
}
