//! Case rules: opening, and the whole state machine as a table of
//! (from, to, author role) → allowed, executed for real.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod execute_support;

use execute_support::*;
use tongban_ledger::execute::{case_transition_role, CaseRole, Mode, RejectReason, DAY_MS};
use tongban_ledger::ids::{CaseId, ItemCode, MemberId};
use tongban_ledger::types::{CaseMode, CaseState, MemberChange, MemberStatus, RecordBody};
use tongban_ledger::Hash32;

const ALL_STATES: [CaseState; 10] = [
    CaseState::Submitted,
    CaseState::Accepted,
    CaseState::MaterialsRequested,
    CaseState::InReview,
    CaseState::Approved,
    CaseState::Rejected,
    CaseState::LicenceIssued,
    CaseState::Delivered,
    CaseState::Closed,
    CaseState::Withdrawn,
];

/// DESIGN §4, written out independently of the implementation: every allowed
/// (from, to, who).
const ALLOWED: &[(CaseState, CaseState, CaseRole)] = {
    use CaseRole::*;
    use CaseState::*;
    &[
        (Submitted, Accepted, Accepting),
        (Accepted, MaterialsRequested, Accepting),
        (MaterialsRequested, Accepted, Accepting),
        (Accepted, InReview, Handling),
        (InReview, Approved, Handling),
        (InReview, Rejected, Handling),
        (Approved, LicenceIssued, Handling),
        (LicenceIssued, Delivered, Accepting),
        (Delivered, Closed, Accepting),
        (Rejected, Closed, Accepting),
        (Submitted, Withdrawn, Accepting),
        (Accepted, Withdrawn, Accepting),
        (MaterialsRequested, Withdrawn, Accepting),
        (InReview, Withdrawn, Accepting),
    ]
};

/// Member 0 accepts, members 1 and 2 handle, member 3 is unrelated; all four may issue
/// type 1. Item "ITEM-1" allows every mode with a 20-day limit.
struct Setup {
    w: World,
    item: ItemCode,
    t: tongban_ledger::ids::TypeCode,
}

fn setup() -> Setup {
    let mut w = World::new(4, 1);
    w.trust_signatures = true;
    let t = w.publish_type(1, &[0, 1, 2, 3]);
    let item = w.publish_item("ITEM-1", 20);
    Setup { w, item, t }
}

fn open_body(s: &Setup, case_id: &CaseId, accepting: &MemberId, deadline: u64) -> RecordBody {
    RecordBody::OpenCase {
        case_id: case_id.clone(),
        item_code: s.item.clone(),
        mode: CaseMode::RemoteAcceptance,
        accepting: accepting.clone(),
        handling: vec![s.w.id(1), s.w.id(2)],
        applicant_commitment: Hash32([3; 32]),
        deadline,
    }
}

fn deadline(w: &World) -> u64 {
    w.time_ms() + 10 * DAY_MS
}

/// Who (member index) makes each step of a path, and the path to reach each state.
fn path_to(state: CaseState) -> Vec<CaseState> {
    use CaseState::*;
    match state {
        Submitted => vec![],
        Accepted => vec![Accepted],
        MaterialsRequested => vec![Accepted, MaterialsRequested],
        InReview => vec![Accepted, InReview],
        Approved => vec![Accepted, InReview, Approved],
        Rejected => vec![Accepted, InReview, Rejected],
        LicenceIssued => vec![Accepted, InReview, Approved, LicenceIssued],
        Delivered => vec![Accepted, InReview, Approved, LicenceIssued, Delivered],
        Closed => vec![
            Accepted,
            InReview,
            Approved,
            LicenceIssued,
            Delivered,
            Closed,
        ],
        Withdrawn => vec![Withdrawn],
    }
}

fn actor_for(step: CaseState) -> usize {
    use CaseState::*;
    match step {
        InReview | Approved | Rejected | LicenceIssued => 1,
        _ => 0,
    }
}

/// Advances `case` to `to` as member `by`, issuing a licence of `by` first if needed.
fn advance_body(
    s: &mut Setup,
    case: &CaseId,
    to: CaseState,
    by: usize,
    serial: &str,
) -> RecordBody {
    let licence_id = if to == CaseState::LicenceIssued {
        let id = licence_id(&s.t, &s.w.id(by), serial);
        let k = s.w.member_key(by);
        let body = issue_body(&s.t, &id);
        s.w.ok(&k, body);
        Some(id)
    } else {
        None
    };
    RecordBody::AdvanceCase {
        case_id: case.clone(),
        to,
        evidence_hash: Some(Hash32([5; 32])),
        licence_id,
    }
}

#[test]
fn transition_table_matches_design() {
    for from in ALL_STATES {
        for to in ALL_STATES {
            let expected = ALLOWED
                .iter()
                .find(|(f, t, _)| *f == from && *t == to)
                .map(|(_, _, r)| *r);
            assert_eq!(
                case_transition_role(from, to),
                expected,
                "{from:?} -> {to:?}"
            );
        }
    }
}

#[test]
fn every_transition_by_every_role_executed() {
    let mut s = setup();
    let roles = [
        (0usize, CaseRole::Accepting),
        (1, CaseRole::Handling),
        (3, CaseRole::Unrelated),
    ];
    let mut serial = 0u32;
    let mut allowed_seen = 0;
    for from in ALL_STATES {
        for to in ALL_STATES {
            for (by, role) in roles {
                serial += 1;
                let case = case_id(&s.w.id(0), &format!("C{serial}"));
                let k0 = s.w.member_key(0);
                let body = open_body(&s, &case, &s.w.id(0), deadline(&s.w));
                s.w.ok(&k0, body);
                for (i, step) in path_to(from).into_iter().enumerate() {
                    let actor = actor_for(step);
                    let body = advance_body(&mut s, &case, step, actor, &format!("P{serial}X{i}"));
                    let k = s.w.member_key(actor);
                    s.w.ok(&k, body);
                }
                assert_eq!(s.w.case(&case).unwrap().state, from);

                let allowed = ALLOWED
                    .iter()
                    .any(|(f, t, r)| *f == from && *t == to && *r == role);
                let body = advance_body(&mut s, &case, to, by, &format!("T{serial}"));
                let k = s.w.member_key(by);
                if allowed {
                    allowed_seen += 1;
                    let before = s.w.case(&case).unwrap();
                    s.w.ok(&k, body);
                    let after = s.w.case(&case).unwrap();
                    assert_eq!(after.state, to, "{from:?} -> {to:?} by {role:?}");
                    assert_eq!(after.timeline.len(), before.timeline.len() + 1);
                    let event = after.timeline.last().unwrap();
                    assert_eq!(event.from, Some(from));
                    assert_eq!(event.to, to);
                    assert_eq!(event.by, s.w.id(by));
                    assert_eq!(event.height, s.w.height);
                    assert_eq!(event.evidence_hash, Some(Hash32([5; 32])));
                } else {
                    let transition_exists = ALLOWED.iter().any(|(f, t, _)| *f == from && *t == to);
                    let code = if transition_exists {
                        "transition_not_permitted"
                    } else {
                        "invalid_case_transition"
                    };
                    let reason = s.w.reject(&k, body, code);
                    if !transition_exists {
                        assert_eq!(reason, RejectReason::InvalidCaseTransition { from, to });
                    }
                }
            }
        }
    }
    assert_eq!(allowed_seen, ALLOWED.len());
}

#[test]
fn open_case_writes_submitted_with_timeline() {
    let mut s = setup();
    let case = case_id(&s.w.id(0), "OPEN1");
    let k0 = s.w.member_key(0);
    let d = deadline(&s.w);
    let body = open_body(&s, &case, &s.w.id(0), d);
    s.w.ok(&k0, body);
    let c = s.w.case(&case).unwrap();
    assert_eq!(c.state, CaseState::Submitted);
    assert_eq!(c.deadline, d);
    assert_eq!(c.accepting, s.w.id(0));
    assert_eq!(c.timeline.len(), 1);
    assert_eq!(c.timeline[0].from, None);
    assert_eq!(c.timeline[0].to, CaseState::Submitted);
    assert_eq!(c.timeline[0].time_ms, T0 + s.w.height * BLOCK_MS);
    assert!(!c.is_overdue(d));
    assert!(c.is_overdue(d + 1));
}

#[test]
fn open_case_rejections() {
    let mut s = setup();
    let k0 = s.w.member_key(0);
    let k1 = s.w.member_key(1);
    let d = deadline(&s.w);

    // Case id of member 0, opened by member 1.
    let case = case_id(&s.w.id(0), "R1");
    let body = open_body(&s, &case, &s.w.id(0), d);
    s.w.reject(&k1, body, "case_accepting_mismatch");
    // accepting differs from the author.
    let body = open_body(&s, &case, &s.w.id(1), d);
    s.w.reject(&k0, body, "case_accepting_mismatch");
    // Case id of another member, accepting and author agree.
    let case1 = case_id(&s.w.id(1), "R1");
    let body = open_body(&s, &case1, &s.w.id(0), d);
    s.w.reject(&k0, body, "case_accepting_mismatch");

    // Unknown item.
    let mut body = open_body(&s, &case, &s.w.id(0), d);
    if let RecordBody::OpenCase { item_code, .. } = &mut body {
        *item_code = tongban_ledger::ids::ItemCode::parse("NOPE").unwrap();
    }
    s.w.reject(&k0, body, "unknown_item");

    // Mode not allowed by the item.
    let admin = s.w.admin(0);
    s.w.ok(
        &admin,
        RecordBody::PublishItem {
            item_code: item_code("ONLINE-ONLY"),
            name: "Online only".into(),
            time_limit_days: 5,
            modes: vec![CaseMode::Online],
            uses_types: vec![],
            issues_types: vec![],
        },
    );
    let mut body = open_body(&s, &case, &s.w.id(0), d);
    if let RecordBody::OpenCase {
        item_code: i, mode, ..
    } = &mut body
    {
        *i = item_code("ONLINE-ONLY");
        *mode = CaseMode::MultiSite;
    }
    s.w.reject(&k0, body, "mode_not_allowed");

    // Handling: empty, duplicate, unknown, inactive.
    let with_handling = |s: &Setup, h: Vec<MemberId>| {
        let mut body = open_body(s, &case, &s.w.id(0), d);
        if let RecordBody::OpenCase { handling, .. } = &mut body {
            *handling = h;
        }
        body
    };
    let body = with_handling(&s, vec![]);
    s.w.reject(&k0, body, "invalid_handling");
    let body = with_handling(&s, vec![s.w.id(1), s.w.id(1)]);
    s.w.reject(&k0, body, "invalid_handling");
    let body = with_handling(&s, vec![member_id(77)]);
    s.w.reject(&k0, body, "handling_member_unknown");
    let body = with_handling(&s, (0..40).map(member_id).collect());
    s.w.reject(&k0, body, "list_too_long");
    s.w.ok(
        &admin,
        RecordBody::ProposeMemberChange {
            proposal_id: 1,
            change: MemberChange::SetStatus {
                member_id: s.w.id(2),
                status: MemberStatus::Suspended,
            },
        },
    );
    let body = with_handling(&s, vec![s.w.id(1), s.w.id(2)]);
    s.w.reject(&k0, body, "handling_member_inactive");

    // Deadlines: not after the block time, or beyond the 20-day limit.
    let now = s.w.time_ms();
    let mut body = with_handling(&s, vec![s.w.id(1)]);
    if let RecordBody::OpenCase { deadline, .. } = &mut body {
        *deadline = now;
    }
    s.w.reject(&k0, body, "deadline_in_past");
    let mut body = with_handling(&s, vec![s.w.id(1)]);
    if let RecordBody::OpenCase { deadline, .. } = &mut body {
        *deadline = now + 20 * DAY_MS + 1;
    }
    let reason = s.w.reject(&k0, body, "deadline_beyond_limit");
    assert_eq!(
        reason,
        RejectReason::DeadlineBeyondLimit {
            deadline: now + 20 * DAY_MS + 1,
            latest: now + 20 * DAY_MS
        }
    );
    // Exactly at the limit is fine.
    let mut body = with_handling(&s, vec![s.w.id(1)]);
    if let RecordBody::OpenCase { deadline, .. } = &mut body {
        *deadline = now + 20 * DAY_MS;
    }
    s.w.ok(&k0, body);
    // Exists.
    let body = with_handling(&s, vec![s.w.id(1)]);
    s.w.reject(&k0, body, "case_exists");
}

#[test]
fn advance_rejections() {
    let mut s = setup();
    let k0 = s.w.member_key(0);
    let k1 = s.w.member_key(1);
    let k2 = s.w.member_key(2);
    let case = case_id(&s.w.id(0), "ADV");
    let body = open_body(&s, &case, &s.w.id(0), deadline(&s.w));
    s.w.ok(&k0, body);

    s.w.reject(
        &k0,
        advance(&case_id(&s.w.id(0), "NONE"), CaseState::Accepted),
        "unknown_case",
    );
    // A licence id with a transition other than LicenceIssued.
    let id = licence_id(&s.t, &s.w.id(0), "L0");
    s.w.ok(&k0, issue_body(&s.t, &id));
    s.w.reject(
        &k0,
        RecordBody::AdvanceCase {
            case_id: case.clone(),
            to: CaseState::Accepted,
            evidence_hash: None,
            licence_id: Some(id),
        },
        "licence_id_not_expected",
    );
    for step in [
        CaseState::Accepted,
        CaseState::InReview,
        CaseState::Approved,
    ] {
        let k = if step == CaseState::Accepted {
            &k0
        } else {
            &k1
        };
        s.w.ok(k, advance(&case, step));
    }
    // LicenceIssued without a licence, with an unknown one, with another's licence.
    s.w.reject(
        &k1,
        advance(&case, CaseState::LicenceIssued),
        "licence_id_missing",
    );
    let with_licence = |id: &tongban_ledger::ids::LicenceId| RecordBody::AdvanceCase {
        case_id: case.clone(),
        to: CaseState::LicenceIssued,
        evidence_hash: None,
        licence_id: Some(id.clone()),
    };
    let ghost = licence_id(&s.t, &s.w.id(1), "GHOST");
    s.w.reject(&k1, with_licence(&ghost), "unknown_licence");
    let of_2 = licence_id(&s.t, &s.w.id(2), "L2");
    s.w.ok(&k2, issue_body(&s.t, &of_2));
    s.w.reject(&k1, with_licence(&of_2), "not_licence_issuer");
    // Member 2 handles too and issued it: fine.
    s.w.ok(&k2, with_licence(&of_2));
    let c = s.w.case(&case).unwrap();
    assert_eq!(c.state, CaseState::LicenceIssued);
    assert_eq!(c.timeline.last().unwrap().licence_id.as_ref(), Some(&of_2));
}

#[test]
fn member_both_accepting_and_handling_may_do_both() {
    let mut s = setup();
    let k0 = s.w.member_key(0);
    let case = case_id(&s.w.id(0), "BOTH");
    let mut body = open_body(&s, &case, &s.w.id(0), deadline(&s.w));
    if let RecordBody::OpenCase { handling, .. } = &mut body {
        *handling = vec![s.w.id(0)];
    }
    s.w.ok(&k0, body);
    for step in [
        CaseState::Accepted,
        CaseState::InReview,
        CaseState::Rejected,
        CaseState::Closed,
    ] {
        s.w.ok(&k0, advance(&case, step));
    }
    assert_eq!(s.w.case(&case).unwrap().timeline.len(), 5);
}

#[test]
fn timeline_is_capped() {
    let mut s = setup();
    let k0 = s.w.member_key(0);
    let case = case_id(&s.w.id(0), "LOOP");
    let body = open_body(&s, &case, &s.w.id(0), deadline(&s.w));
    s.w.ok(&k0, body);
    s.w.ok(&k0, advance(&case, CaseState::Accepted));
    // Fill the timeline by bouncing Accepted ↔ MaterialsRequested in big blocks.
    let max = tongban_ledger::execute::MAX_CASE_TIMELINE;
    let mut len = 2;
    let mut state = CaseState::Accepted;
    let mut records = Vec::new();
    while len < max {
        state = if state == CaseState::Accepted {
            CaseState::MaterialsRequested
        } else {
            CaseState::Accepted
        };
        records.push(s.w.record(&k0, advance(&case, state)));
        len += 1;
    }
    let outcome = s.w.block(&records, Mode::Validate).unwrap();
    assert_eq!(outcome.kept.len(), records.len());
    assert_eq!(s.w.case(&case).unwrap().timeline.len(), max);
    let next = if state == CaseState::Accepted {
        CaseState::MaterialsRequested
    } else {
        CaseState::Accepted
    };
    s.w.reject(&k0, advance(&case, next), "timeline_full");
}

#[test]
fn case_transitions_see_earlier_records_of_the_block() {
    let mut s = setup();
    let k0 = s.w.member_key(0);
    let k1 = s.w.member_key(1);
    let case = case_id(&s.w.id(0), "INBLOCK");
    let body = open_body(&s, &case, &s.w.id(0), deadline(&s.w));
    let open = s.w.record(&k0, body);
    let accept = s.w.record(&k0, advance(&case, CaseState::Accepted));
    let review = s.w.record(&k1, advance(&case, CaseState::InReview));
    let outcome = s.w.block(&[open, accept, review], Mode::Validate).unwrap();
    assert_eq!(outcome.kept, vec![0, 1, 2]);
    let c = s.w.case(&case).unwrap();
    assert_eq!(c.state, CaseState::InReview);
    assert_eq!(c.timeline.len(), 3);
}
