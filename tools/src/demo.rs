//! The devnet's demo: licence types and items published by the admins, a few licences
//! issued, one revoked, a case opened and accepted, and a proof fetched from a different
//! node and checked offline.
//!
//! Every step first looks whether its result is already on the ledger, so running the
//! devnet again on the same directory resumes the chain without duplicating demo data.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use ed25519_dalek::SigningKey;
use tongban_ledger::ids::{CaseId, ItemCode, LicenceId, TypeCode};
use tongban_ledger::types::{CaseMode, CaseState, RecordBody};

use crate::client::{
    AdvanceCaseRequest, ApiError, IssueLicenceRequest, LicenceStatusRequest, NodeClient,
    OpenCaseRequest,
};
use crate::devnet::Layout;
use crate::keyfile;
use crate::records::{self, NonceClock};
use crate::verify;

/// Why the demo failed.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// An API call failed.
    #[error("{what}")]
    Api {
        /// The step.
        what: String,
        /// The error.
        source: ApiError,
    },
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

fn api(what: &str) -> impl FnOnce(ApiError) -> DemoError + '_ {
    move |source| DemoError::Api {
        what: what.to_owned(),
        source,
    }
}

fn other(e: impl std::fmt::Display) -> DemoError {
    DemoError::Other(e.to_string())
}

/// What the demo did, for the summary.
#[derive(Debug, Default)]
pub struct DemoReport {
    /// Lines describing each step.
    pub lines: Vec<String>,
    /// The licences issued.
    pub licences: Vec<LicenceId>,
    /// The revoked licence.
    pub revoked: Option<LicenceId>,
    /// The demo case.
    pub case: Option<CaseId>,
    /// The document of the first licence.
    pub document: Option<PathBuf>,
    /// The proof fetched from another node.
    pub proof: Option<PathBuf>,
    /// The verdict of the offline check.
    pub verdict: Option<verify::Report>,
}

/// The licence type codes of the demo: `<node-1's id>001` (营业执照) and
/// `<node-2's id>002` (食品经营许可证; node-1's if there is one node).
pub fn demo_type_codes(layout: &Layout) -> Result<(TypeCode, TypeCode), DemoError> {
    let first = &layout.homes[0].member_id;
    let second = &layout.homes.get(1).unwrap_or(&layout.homes[0]).member_id;
    Ok((
        TypeCode::parse(&format!("{first}001")).map_err(other)?,
        TypeCode::parse(&format!("{second}002")).map_err(other)?,
    ))
}

fn exists<T>(result: Result<T, ApiError>, what: &str) -> Result<bool, DemoError> {
    match result {
        Ok(_) => Ok(true),
        Err(e) if e.code() == Some("not_found") => Ok(false),
        Err(e) => Err(api(what)(e)),
    }
}

/// Runs the demo against a ready network.
pub fn run(layout: &Layout) -> Result<DemoReport, DemoError> {
    let mut report = DemoReport::default();
    let homes = &layout.homes;
    let first = &homes[0];
    let second = homes.get(1).unwrap_or(first);
    let last = homes.last().unwrap_or(first);
    let issuer = NodeClient::new(&first.api, Some(first.token.clone())).map_err(api("client"))?;
    let acceptor =
        NodeClient::new(&second.api, Some(second.token.clone())).map_err(api("client"))?;
    let verifier_node = NodeClient::new(&last.api, None).map_err(api("client"))?;
    let admins: Vec<SigningKey> = layout
        .admin_keys
        .iter()
        .map(|p| keyfile::read(p))
        .collect::<Result<_, _>>()
        .map_err(other)?;
    let admin = admins
        .first()
        .ok_or_else(|| DemoError::Other("no admin keys".into()))?;
    let mut nonces = NonceClock::new();

    // 1. The catalogue (admin-signed records).
    let (type_a, type_b) = demo_type_codes(layout)?;
    let item_a = ItemCode::parse("DEVNET-QYKB-001").map_err(other)?;
    let item_b = ItemCode::parse("DEVNET-SPJY-002").map_err(other)?;
    let catalog = issuer.catalog().map_err(api("read the catalogue"))?;
    let publish: Vec<(bool, RecordBody, String)> = vec![
        (
            catalog.licence_types.iter().any(|t| t.type_code == type_a),
            RecordBody::PublishLicenceType {
                type_code: type_a.clone(),
                name: "营业执照 (business licence)".into(),
                issuers: vec![first.member_id.clone(), second.member_id.clone()],
            },
            format!(
                "licence type {type_a} 营业执照, issuers {} and {}",
                first.name, second.name
            ),
        ),
        (
            catalog.licence_types.iter().any(|t| t.type_code == type_b),
            RecordBody::PublishLicenceType {
                type_code: type_b.clone(),
                name: "食品经营许可证 (food business permit)".into(),
                issuers: vec![second.member_id.clone()],
            },
            format!(
                "licence type {type_b} 食品经营许可证, issuer {}",
                second.name
            ),
        ),
        (
            catalog.items.iter().any(|i| i.item_code == item_a),
            RecordBody::PublishItem {
                item_code: item_a.clone(),
                name: "企业开办 (opening a business)".into(),
                time_limit_days: 3,
                modes: vec![CaseMode::Online, CaseMode::RemoteAcceptance],
                uses_types: vec![],
                issues_types: vec![type_a.clone()],
            },
            format!("item {item_a} 企业开办, 3 days"),
        ),
        (
            catalog.items.iter().any(|i| i.item_code == item_b),
            RecordBody::PublishItem {
                item_code: item_b.clone(),
                name: "食品经营许可 (food business permit)".into(),
                time_limit_days: 20,
                modes: vec![CaseMode::RemoteAcceptance, CaseMode::MultiSite],
                uses_types: vec![type_a.clone()],
                issues_types: vec![type_b.clone()],
            },
            format!("item {item_b} 食品经营许可, 20 days"),
        ),
    ];
    for (present, body, what) in publish {
        if present {
            report
                .lines
                .push(format!("catalogue: {what} (already published)"));
            continue;
        }
        let record = records::sign(admin, &layout.chain_id, nonces.next_nonce(), body);
        let answer = issuer
            .submit(&record, true)
            .map_err(api(&format!("publish {what}")))?;
        report.lines.push(format!(
            "catalogue: published {what} at height {}",
            answer.height.unwrap_or_default()
        ));
    }

    // 2. Licences issued by node-1 through its operator route; the third is revoked.
    let demo_dir = layout.dir.join("demo");
    std::fs::create_dir_all(&demo_dir).map_err(other)?;
    for n in 1..=3u32 {
        let serial = format!("2026{n:07}");
        let id =
            LicenceId::compose(&type_a, first.member_id.as_str(), &serial, 1).map_err(other)?;
        let document =
            format!("营业执照 (devnet demo)\nlicence {id}\nholder: 示例科技有限公司 {n}\n");
        let doc_path = demo_dir.join(format!("licence-{n}.txt"));
        std::fs::write(&doc_path, &document).map_err(other)?;
        if n == 1 {
            report.document = Some(doc_path.clone());
        }
        if exists(issuer.licence(&id), "read a licence")? {
            report.lines.push(format!("licence: {id} (already issued)"));
        } else {
            let now = records::now_ms();
            let request = IssueLicenceRequest {
                licence_id: id.clone(),
                type_code: type_a.to_string(),
                holder_commitment: records::commitment(
                    b"devnet-demo-salt",
                    &format!("91110000DEMO{n:05}"),
                ),
                document_hash: records::document_hash(document.as_bytes()),
                valid_from: now.saturating_sub(60_000),
                valid_until: Some(now + 5 * 365 * 86_400_000),
                supersedes: None,
            };
            let answer = issuer
                .issue_licence(&request, true)
                .map_err(api("issue a licence"))?;
            report.lines.push(format!(
                "licence: {} issued {id} at height {} (document {})",
                first.name,
                answer.height.unwrap_or_default(),
                doc_path.display()
            ));
        }
        report.licences.push(id);
    }
    if let Some(id) = report.licences.get(2).cloned() {
        let current = issuer.licence(&id).map_err(api("read a licence"))?;
        if current.licence.status == tongban_ledger::types::LicenceStatus::Revoked {
            report
                .lines
                .push(format!("licence: {id} (already revoked)"));
        } else {
            let answer = issuer
                .set_licence_status(
                    &id,
                    &LicenceStatusRequest {
                        action: "revoke".into(),
                        reason: Some("devnet demo: revoked to show the REVOKED verdict".into()),
                    },
                    true,
                )
                .map_err(api("revoke a licence"))?;
            report.lines.push(format!(
                "licence: {} revoked {id} at height {}",
                first.name,
                answer.height.unwrap_or_default()
            ));
        }
        report.revoked = Some(id);
    }

    // 3. A cross-regional case: accepted by node-2 (异地代收代办), handled by node-1.
    let case_id = CaseId::parse(&format!("{}-DEVNET0001", second.member_id)).map_err(other)?;
    if exists(acceptor.case(&case_id), "read a case")? {
        report.lines.push(format!("case: {case_id} (already open)"));
    } else {
        let request = OpenCaseRequest {
            case_id: case_id.clone(),
            item_code: item_a.to_string(),
            mode: CaseMode::RemoteAcceptance,
            handling: vec![first.member_id.clone()],
            applicant_commitment: records::commitment(b"devnet-demo-salt", "110101199001011234"),
            deadline: records::now_ms() + 2 * 86_400_000,
        };
        let answer = acceptor
            .open_case(&request, true)
            .map_err(api("open a case"))?;
        report.lines.push(format!(
            "case: {} opened {case_id} (item {item_a}, handled by {}) at height {}",
            second.name,
            first.name,
            answer.height.unwrap_or_default()
        ));
        let answer = acceptor
            .advance_case(
                &case_id,
                &AdvanceCaseRequest {
                    to: CaseState::Accepted,
                    evidence_hash: None,
                    licence_id: None,
                },
                true,
            )
            .map_err(api("accept the case"))?;
        report.lines.push(format!(
            "case: {} accepted {case_id} at height {}",
            second.name,
            answer.height.unwrap_or_default()
        ));
    }
    report.case = Some(case_id);

    // 4. A proof of licence 1 fetched from the LAST node (not the issuer) and checked
    //    offline against nothing but the genesis file.
    if let Some(id) = report.licences.first().cloned() {
        let bytes = verifier_node
            .licence_proof(&id)
            .map_err(api("fetch a proof"))?;
        let proof_path = demo_dir.join("proof-licence-1.json");
        std::fs::write(&proof_path, &bytes).map_err(other)?;
        let g = verify::read_genesis(&layout.genesis).map_err(other)?;
        let document = report
            .document
            .as_ref()
            .map(std::fs::read)
            .transpose()
            .map_err(other)?;
        let verdict =
            verify::verify_bytes(&g, &bytes, document.as_deref(), None, records::now_ms());
        report.lines.push(format!(
            "verify: proof of {id} fetched from {} ({}), checked offline with the document: {}",
            last.name, last.api, verdict.verdict
        ));
        report.proof = Some(proof_path);
        report.verdict = Some(verdict);
    }
    // Proofs that show the other verdicts, kept for the tour and the tests: the revoked
    // licence, and a licence id nobody issued (a proof of absence).
    if let Some(id) = report.revoked.clone() {
        let bytes = verifier_node
            .licence_proof(&id)
            .map_err(api("fetch a proof"))?;
        std::fs::write(demo_dir.join("proof-revoked.json"), &bytes).map_err(other)?;
    }
    let unknown =
        LicenceId::compose(&type_a, first.member_id.as_str(), "2026999999", 1).map_err(other)?;
    let bytes = verifier_node
        .licence_proof(&unknown)
        .map_err(api("fetch a proof of absence"))?;
    std::fs::write(demo_dir.join("proof-unknown.json"), &bytes).map_err(other)?;
    Ok(report)
}

/// The "where to look" text printed after the demo.
pub fn where_to_look(layout: &Layout, report: &DemoReport, devnet_json: &Path) -> String {
    let mut s = String::new();
    let first = &layout.homes[0];
    let last = layout.homes.last().unwrap_or(first);
    let _ = writeln!(s, "\nnodes:");
    for h in &layout.homes {
        let _ = writeln!(
            s,
            "  {}  {}  member {}  home {}  log {}",
            h.name,
            h.api,
            h.member_id,
            h.home.display(),
            h.home.join("node.log").display()
        );
    }
    let _ = writeln!(s, "genesis: {}", layout.genesis.display());
    let _ = writeln!(
        s,
        "scripts: {} (API addresses, tokens, pids)",
        devnet_json.display()
    );
    let _ = writeln!(s, "\ntry:");
    let _ = writeln!(s, "  tongban member list --node {}", last.api);
    let _ = writeln!(s, "  tongban catalog list --node {}", last.api);
    if let Some(id) = report.licences.first() {
        let _ = writeln!(s, "  tongban licence show {id} --node {}", last.api);
        let _ = writeln!(
            s,
            "  tongban licence proof {id} --node {} --out proof.json",
            last.api
        );
        let doc = report
            .document
            .as_ref()
            .map_or(String::new(), |d| format!(" --document {}", d.display()));
        let _ = writeln!(
            s,
            "  tongban verify --genesis {} --proof proof.json{doc}",
            layout.genesis.display()
        );
    }
    if let Some(id) = &report.revoked {
        let _ = writeln!(
            s,
            "  tongban licence proof {id} --node {} --out revoked.json && tongban verify --genesis {} --proof revoked.json   # REVOKED, exit 3",
            last.api,
            layout.genesis.display()
        );
    }
    if let Some(case) = &report.case {
        let _ = writeln!(s, "  tongban case show {case} --node {}", first.api);
    }
    let _ = writeln!(
        s,
        "  TONGBAN_TOKEN={} tongban licence status <licence id> --set suspend --reason \"...\" --node {}",
        first.token, first.api
    );
    s
}
