//! The commands that talk to a node: `licence`, `case`, `member`, `catalog`.
//!
//! Operator commands (licence issue/status, case open/advance) go through the node's
//! operator routes, which sign with the node's own key behind the bearer token. Admin
//! commands (member propose/approve, catalog publish) are signed here with a local admin
//! key file and submitted as pre-signed records, so the admin key never leaves the
//! admin's machine.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use tongban_ledger::ids::{CaseId, ItemCode, LicenceId, MemberId, TypeCode};
use tongban_ledger::types::{
    CaseMode, CaseState, MemberChange, MemberStatus, RecordBody, Role, SignedRecord,
};
use tongban_ledger::Hash32;
use tongban_tools::client::{
    AdvanceCaseRequest, IssueLicenceRequest, LicenceStatusRequest, NodeClient, OpenCaseRequest,
    SubmitResponse,
};
use tongban_tools::records::{self, NonceClock};
use tongban_tools::{genesis, keyfile, timefmt};

/// Largest document or evidence file hashed (hashing streams would allow more, but a
/// licence document is a PDF or an image).
const MAX_DOCUMENT_BYTES: u64 = 256 * 1024 * 1024;

/// Where the node is and how to talk to it.
#[derive(Debug, Clone, Args)]
pub struct NodeArgs {
    /// The node's API address.
    #[arg(long, env = "TONGBAN_NODE", default_value = "http://127.0.0.1:26657")]
    pub node: String,
    /// Bearer token for operator routes (api.bearer_token of the node's config.toml).
    #[arg(long, env = "TONGBAN_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

impl NodeArgs {
    fn client(&self) -> Result<NodeClient> {
        Ok(NodeClient::new(&self.node, self.token.clone())?)
    }
}

/// Submitting: wait for the commit or not.
#[derive(Debug, Clone, Args)]
pub struct WaitArgs {
    /// Return once the node admitted the record, without waiting for the commit.
    #[arg(long)]
    pub no_wait: bool,
}

fn print_submit(args: &NodeArgs, what: &str, answer: &SubmitResponse) -> Result<()> {
    if args.json {
        println!("{}", serde_json::to_string_pretty(answer)?);
        return Ok(());
    }
    match answer.height {
        Some(height) => println!(
            "{what}: committed at height {height} (record {})",
            answer.record_hash
        ),
        None => println!(
            "{what}: {} (record {}){}",
            answer.status,
            answer.record_hash,
            if answer.duplicate {
                ", already known"
            } else {
                ""
            }
        ),
    }
    Ok(())
}

fn read_file_limited(path: &PathBuf) -> Result<Vec<u8>> {
    let len = std::fs::metadata(path)
        .with_context(|| format!("{}", path.display()))?
        .len();
    if len > MAX_DOCUMENT_BYTES {
        bail!("{}: larger than {MAX_DOCUMENT_BYTES} bytes", path.display());
    }
    std::fs::read(path).with_context(|| format!("{}", path.display()))
}

fn hash_arg(name: &str, value: &str) -> Result<Hash32> {
    Hash32::from_hex(value).with_context(|| format!("{name}: expected 64 hex characters"))
}

// ---------------------------------------------------------------------------------
// licence
// ---------------------------------------------------------------------------------

/// `tongban licence …`
#[derive(Debug, Subcommand)]
pub enum LicenceCommand {
    /// Issue a licence, signed by the node's member key (operator; needs --token).
    Issue(Box<LicenceIssue>),
    /// Suspend, reinstate or revoke a licence this node's member issued (operator).
    Status(LicenceStatus),
    /// Show a licence as held in the latest committed state.
    Show {
        /// The licence id.
        id: String,
        #[command(flatten)]
        node: NodeArgs,
    },
    /// Fetch a licence's proof bundle (check it offline with `tongban verify`).
    Proof {
        /// The licence id.
        id: String,
        /// Where to write the proof (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        node: NodeArgs,
    },
}

/// `tongban licence issue`
#[derive(Debug, Args)]
pub struct LicenceIssue {
    /// The full licence id; or give --type-code and --serial to compose one with this
    /// node's member id as issuer code.
    #[arg(long, conflicts_with_all = ["type_code", "serial"])]
    pub licence_id: Option<String>,
    /// 21-character licence type code.
    #[arg(long)]
    pub type_code: Option<String>,
    /// Serial (digits and upper-case letters).
    #[arg(long)]
    pub serial: Option<String>,
    /// Version (0..999).
    #[arg(long, default_value_t = 1)]
    pub version: u16,
    /// The holder's id (kept off the ledger: only sha256(salt ‖ id) is sent).
    #[arg(long, requires = "salt", conflicts_with = "holder_commitment")]
    pub holder_id: Option<String>,
    /// The salt for the holder commitment (keep it with the holder's file).
    #[arg(long)]
    pub salt: Option<String>,
    /// The holder commitment directly (64 hex).
    #[arg(long)]
    pub holder_commitment: Option<String>,
    /// The licence document (only its sha256 is sent).
    #[arg(long, conflicts_with = "document_hash")]
    pub document: Option<PathBuf>,
    /// The document's sha256 directly (64 hex).
    #[arg(long)]
    pub document_hash: Option<String>,
    /// Start of validity, Unix ms (default: now).
    #[arg(long)]
    pub valid_from: Option<u64>,
    /// End of validity, Unix ms.
    #[arg(long, conflicts_with = "valid_days")]
    pub valid_until: Option<u64>,
    /// Valid for this many days from --valid-from.
    #[arg(long)]
    pub valid_days: Option<u64>,
    /// A licence of this issuer that the new one replaces.
    #[arg(long)]
    pub supersedes: Option<String>,
    #[command(flatten)]
    pub wait: WaitArgs,
    #[command(flatten)]
    pub node: NodeArgs,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum StatusAction {
    Suspend,
    Reinstate,
    Revoke,
}

/// `tongban licence status`
#[derive(Debug, Args)]
pub struct LicenceStatus {
    /// The licence id.
    pub id: String,
    /// What to do.
    #[arg(long = "set", value_enum)]
    pub action: StatusAction,
    /// Why (required to suspend or revoke).
    #[arg(long)]
    pub reason: Option<String>,
    #[command(flatten)]
    pub wait: WaitArgs,
    #[command(flatten)]
    pub node: NodeArgs,
}

pub fn licence(command: LicenceCommand) -> Result<()> {
    match command {
        LicenceCommand::Issue(args) => licence_issue(*args),
        LicenceCommand::Status(args) => {
            let id = LicenceId::parse(&args.id)?;
            if !matches!(args.action, StatusAction::Reinstate) && args.reason.is_none() {
                bail!("--reason is required to suspend or revoke");
            }
            let action = match args.action {
                StatusAction::Suspend => "suspend",
                StatusAction::Reinstate => "reinstate",
                StatusAction::Revoke => "revoke",
            };
            let request = LicenceStatusRequest {
                action: action.into(),
                reason: args.reason.clone(),
            };
            let answer =
                args.node
                    .client()?
                    .set_licence_status(&id, &request, !args.wait.no_wait)?;
            print_submit(&args.node, &format!("{action} {id}"), &answer)
        }
        LicenceCommand::Show { id, node } => {
            let id = LicenceId::parse(&id)?;
            let answer = node.client()?.licence(&id)?;
            if node.json {
                println!("{}", serde_json::to_string_pretty(&answer)?);
                return Ok(());
            }
            let l = &answer.licence;
            println!("licence   {}", l.licence_id);
            println!("type      {}", l.type_code);
            println!("issuer    {}", l.issuer);
            match &l.status_reason {
                Some(reason) => println!("status    {:?} ({reason})", l.status),
                None => println!("status    {:?}", l.status),
            }
            println!(
                "valid     {} → {}",
                timefmt::utc(l.valid_from),
                l.valid_until.map_or("no end".to_owned(), timefmt::utc)
            );
            println!("document  sha256 {}", l.document_hash);
            println!("holder    commitment {}", l.holder_commitment);
            if let Some(s) = &l.supersedes {
                println!("replaces  {s}");
            }
            if let Some(s) = &l.superseded_by {
                println!("replaced by {s}");
            }
            println!(
                "issued at height {}, last changed at height {} (state at height {})",
                l.issued_height, l.updated_height, answer.height
            );
            Ok(())
        }
        LicenceCommand::Proof { id, out, node } => {
            let id = LicenceId::parse(&id)?;
            let bytes = node.client()?.licence_proof(&id)?;
            match out {
                Some(path) => {
                    std::fs::write(&path, &bytes)
                        .with_context(|| format!("writing {}", path.display()))?;
                    eprintln!(
                        "wrote the proof of {id} to {} ({} bytes); check it with\n  tongban verify --genesis genesis.json --proof {}",
                        path.display(),
                        bytes.len(),
                        path.display()
                    );
                }
                None => println!("{}", String::from_utf8_lossy(&bytes)),
            }
            Ok(())
        }
    }
}

fn licence_issue(args: LicenceIssue) -> Result<()> {
    let client = args.node.client()?;
    let licence_id = match (&args.licence_id, &args.type_code, &args.serial) {
        (Some(id), _, _) => LicenceId::parse(id)?,
        (None, Some(type_code), Some(serial)) => {
            let type_code = TypeCode::parse(type_code)?;
            let status = client.status()?;
            let issuer = status
                .member_id
                .context("the node has no member id; give --licence-id")?;
            LicenceId::compose(&type_code, issuer.as_str(), serial, args.version)?
        }
        _ => bail!("give --licence-id, or --type-code and --serial"),
    };
    let type_code = TypeCode::parse(licence_id.type_code())?;
    let holder_commitment = match (&args.holder_id, &args.salt, &args.holder_commitment) {
        (Some(id), Some(salt), None) => records::commitment(salt.as_bytes(), id),
        (None, None, Some(c)) => hash_arg("--holder-commitment", c)?,
        _ => bail!("give --holder-id with --salt, or --holder-commitment"),
    };
    let document_hash = match (&args.document, &args.document_hash) {
        (Some(path), None) => records::document_hash(&read_file_limited(path)?),
        (None, Some(h)) => hash_arg("--document-hash", h)?,
        _ => bail!("give --document FILE or --document-hash"),
    };
    let valid_from = args.valid_from.unwrap_or_else(records::now_ms);
    let valid_until = match (args.valid_until, args.valid_days) {
        (Some(t), _) => Some(t),
        (None, Some(days)) => Some(valid_from.saturating_add(days.saturating_mul(86_400_000))),
        (None, None) => None,
    };
    if let Some(until) = valid_until {
        if until <= valid_from {
            bail!("the validity ends before it starts");
        }
    }
    let supersedes = args
        .supersedes
        .as_deref()
        .map(LicenceId::parse)
        .transpose()?;
    let request = IssueLicenceRequest {
        licence_id: licence_id.clone(),
        type_code: type_code.to_string(),
        holder_commitment,
        document_hash,
        valid_from,
        valid_until,
        supersedes,
    };
    let answer = client.issue_licence(&request, !args.wait.no_wait)?;
    print_submit(&args.node, &format!("issue {licence_id}"), &answer)
}

// ---------------------------------------------------------------------------------
// case
// ---------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ModeArg {
    Online,
    RemoteAcceptance,
    MultiSite,
}

impl From<ModeArg> for CaseMode {
    fn from(m: ModeArg) -> CaseMode {
        match m {
            ModeArg::Online => CaseMode::Online,
            ModeArg::RemoteAcceptance => CaseMode::RemoteAcceptance,
            ModeArg::MultiSite => CaseMode::MultiSite,
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum StateArg {
    Accepted,
    MaterialsRequested,
    InReview,
    Approved,
    Rejected,
    LicenceIssued,
    Delivered,
    Closed,
    Withdrawn,
}

impl From<StateArg> for CaseState {
    fn from(s: StateArg) -> CaseState {
        match s {
            StateArg::Accepted => CaseState::Accepted,
            StateArg::MaterialsRequested => CaseState::MaterialsRequested,
            StateArg::InReview => CaseState::InReview,
            StateArg::Approved => CaseState::Approved,
            StateArg::Rejected => CaseState::Rejected,
            StateArg::LicenceIssued => CaseState::LicenceIssued,
            StateArg::Delivered => CaseState::Delivered,
            StateArg::Closed => CaseState::Closed,
            StateArg::Withdrawn => CaseState::Withdrawn,
        }
    }
}

/// `tongban case …`
#[derive(Debug, Subcommand)]
pub enum CaseCommand {
    /// Open a case; the node's member is the accepting member (operator).
    Open(CaseOpen),
    /// Move a case to another state, signed by the node's member (operator).
    Advance(CaseAdvance),
    /// Show a case and its timeline; an overdue case is flagged.
    Show {
        /// The case id.
        id: String,
        #[command(flatten)]
        node: NodeArgs,
    },
}

/// `tongban case open`
#[derive(Debug, Args)]
pub struct CaseOpen {
    /// The case id `<accepting member id>-<serial>`; or give --serial.
    #[arg(long, conflicts_with = "serial")]
    pub case_id: Option<String>,
    /// Serial; the case id becomes `<this node's member id>-<serial>`.
    #[arg(long)]
    pub serial: Option<String>,
    /// The catalogue item.
    #[arg(long)]
    pub item: String,
    /// How the case is handled.
    #[arg(long, value_enum, default_value = "online")]
    pub mode: ModeArg,
    /// A handling member (repeat).
    #[arg(long = "handling", required = true)]
    pub handling: Vec<String>,
    /// The applicant's id (only sha256(salt ‖ id) is sent).
    #[arg(long, requires = "salt", conflicts_with = "applicant_commitment")]
    pub applicant_id: Option<String>,
    /// The salt of the applicant commitment.
    #[arg(long)]
    pub salt: Option<String>,
    /// The applicant commitment directly (64 hex).
    #[arg(long)]
    pub applicant_commitment: Option<String>,
    /// Deadline, Unix ms (default: now + the item's time limit from the catalogue).
    #[arg(long)]
    pub deadline: Option<u64>,
    #[command(flatten)]
    pub wait: WaitArgs,
    #[command(flatten)]
    pub node: NodeArgs,
}

/// `tongban case advance`
#[derive(Debug, Args)]
pub struct CaseAdvance {
    /// The case id.
    pub id: String,
    /// The new state.
    #[arg(long, value_enum)]
    pub to: StateArg,
    /// A file of evidence (only its sha256 is sent).
    #[arg(long, conflicts_with = "evidence_hash")]
    pub evidence: Option<PathBuf>,
    /// The evidence hash directly (64 hex).
    #[arg(long)]
    pub evidence_hash: Option<String>,
    /// The licence issued (for `licence-issued`).
    #[arg(long)]
    pub licence_id: Option<String>,
    #[command(flatten)]
    pub wait: WaitArgs,
    #[command(flatten)]
    pub node: NodeArgs,
}

pub fn case(command: CaseCommand) -> Result<()> {
    match command {
        CaseCommand::Open(args) => {
            let client = args.node.client()?;
            let case_id = match (&args.case_id, &args.serial) {
                (Some(id), None) => CaseId::parse(id)?,
                (None, Some(serial)) => {
                    let member = client
                        .status()?
                        .member_id
                        .context("the node has no member id; give --case-id")?;
                    CaseId::parse(&format!("{member}-{serial}"))?
                }
                _ => bail!("give --case-id or --serial"),
            };
            let item = ItemCode::parse(&args.item)?;
            let handling = args
                .handling
                .iter()
                .map(|m| MemberId::parse(m))
                .collect::<Result<Vec<_>, _>>()?;
            let applicant_commitment =
                match (&args.applicant_id, &args.salt, &args.applicant_commitment) {
                    (Some(id), Some(salt), None) => records::commitment(salt.as_bytes(), id),
                    (None, None, Some(c)) => hash_arg("--applicant-commitment", c)?,
                    _ => bail!("give --applicant-id with --salt, or --applicant-commitment"),
                };
            let deadline = match args.deadline {
                Some(d) => d,
                None => {
                    let catalog = client.catalog()?;
                    let entry = catalog
                        .items
                        .iter()
                        .find(|i| i.item_code == item)
                        .with_context(|| format!("item {item} is not in the node's catalogue"))?;
                    // A little under the limit: the ledger measures it from the block
                    // time, which is a moment after now.
                    records::now_ms() + u64::from(entry.time_limit_days) * 86_400_000 - 60_000
                }
            };
            let request = OpenCaseRequest {
                case_id: case_id.clone(),
                item_code: item.to_string(),
                mode: args.mode.into(),
                handling,
                applicant_commitment,
                deadline,
            };
            let answer = client.open_case(&request, !args.wait.no_wait)?;
            print_submit(&args.node, &format!("open case {case_id}"), &answer)
        }
        CaseCommand::Advance(args) => {
            let id = CaseId::parse(&args.id)?;
            let evidence_hash = match (&args.evidence, &args.evidence_hash) {
                (Some(path), None) => Some(records::document_hash(&read_file_limited(path)?)),
                (None, Some(h)) => Some(hash_arg("--evidence-hash", h)?),
                _ => None,
            };
            let licence_id = args
                .licence_id
                .as_deref()
                .map(LicenceId::parse)
                .transpose()?;
            let to: CaseState = args.to.into();
            let request = AdvanceCaseRequest {
                to,
                evidence_hash,
                licence_id,
            };
            let answer = args
                .node
                .client()?
                .advance_case(&id, &request, !args.wait.no_wait)?;
            print_submit(&args.node, &format!("case {id} → {to:?}"), &answer)
        }
        CaseCommand::Show { id, node } => {
            let id = CaseId::parse(&id)?;
            let answer = node.client()?.case(&id)?;
            if node.json {
                println!("{}", serde_json::to_string_pretty(&answer)?);
                return Ok(());
            }
            let c = &answer.case;
            println!("case      {}", c.case_id);
            println!("item      {}   mode {:?}", c.item_code, c.mode);
            println!("accepting {}", c.accepting);
            let handling: Vec<&str> = c.handling.iter().map(|m| m.as_str()).collect();
            println!("handling  {}", handling.join(", "));
            println!("state     {:?}", c.state);
            if answer.overdue {
                println!(
                    "deadline  {}   OVERDUE by {}",
                    timefmt::utc(c.deadline),
                    timefmt::duration(answer.now_ms.saturating_sub(c.deadline))
                );
            } else {
                println!("deadline  {}", timefmt::utc(c.deadline));
            }
            println!("timeline:");
            for e in &c.timeline {
                let from = e.from.map_or("-".to_owned(), |s| format!("{s:?}"));
                let late = if e.time_ms > c.deadline {
                    "  (after the deadline)"
                } else {
                    ""
                };
                println!(
                    "  {}  h{:<6} {from:>18} → {:<18} by {}{}{}{late}",
                    timefmt::utc(e.time_ms),
                    e.height,
                    format!("{:?}", e.to),
                    e.by,
                    e.licence_id
                        .as_ref()
                        .map_or(String::new(), |l| format!("  licence {l}")),
                    e.evidence_hash
                        .as_ref()
                        .map_or(String::new(), |h| format!("  evidence {h}")),
                );
            }
            Ok(())
        }
    }
}

// ---------------------------------------------------------------------------------
// member and catalog (admin)
// ---------------------------------------------------------------------------------

/// Admin signing: the key file and the proposal id.
#[derive(Debug, Clone, Args)]
pub struct AdminArgs {
    /// The admin's key file.
    #[arg(long)]
    pub admin_key: PathBuf,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RoleArg {
    Validator,
    Observer,
}

impl From<RoleArg> for Role {
    fn from(r: RoleArg) -> Role {
        match r {
            RoleArg::Validator => Role::Validator,
            RoleArg::Observer => Role::Observer,
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum StatusArg {
    Active,
    Suspended,
}

/// `tongban member …`
#[derive(Debug, Subcommand)]
pub enum MemberCommand {
    /// List members, admins and validators.
    List {
        #[command(flatten)]
        node: NodeArgs,
    },
    /// Propose a member change (admin-signed).
    Propose {
        /// The proposal's id (default: the current time in ms).
        #[arg(long)]
        proposal_id: Option<u64>,
        #[command(subcommand)]
        change: ChangeArg,
    },
    /// Approve an open proposal (admin-signed).
    Approve {
        /// The proposal.
        #[arg(long)]
        proposal_id: u64,
        #[command(flatten)]
        admin: AdminArgs,
        #[command(flatten)]
        wait: WaitArgs,
        #[command(flatten)]
        node: NodeArgs,
    },
}

/// The change proposed.
#[derive(Debug, Subcommand)]
pub enum ChangeArg {
    /// Add a member.
    Add {
        /// The department's 统一社会信用代码.
        #[arg(long)]
        id: String,
        /// Its name.
        #[arg(long)]
        name: String,
        /// Its GB/T 2260 region.
        #[arg(long)]
        region: String,
        /// Its public key: 64 hex or a key file.
        #[arg(long)]
        key: String,
        /// Role (repeat).
        #[arg(long = "role", value_enum, required = true)]
        roles: Vec<RoleArg>,
        #[command(flatten)]
        admin: AdminArgs,
        #[command(flatten)]
        wait: WaitArgs,
        #[command(flatten)]
        node: NodeArgs,
    },
    /// Remove a member.
    Remove {
        /// The member.
        #[arg(long)]
        id: String,
        #[command(flatten)]
        admin: AdminArgs,
        #[command(flatten)]
        wait: WaitArgs,
        #[command(flatten)]
        node: NodeArgs,
    },
    /// Replace a member's key.
    RotateKey {
        /// The member.
        #[arg(long)]
        id: String,
        /// The new key: 64 hex or a key file.
        #[arg(long)]
        key: String,
        #[command(flatten)]
        admin: AdminArgs,
        #[command(flatten)]
        wait: WaitArgs,
        #[command(flatten)]
        node: NodeArgs,
    },
    /// Replace a member's roles.
    SetRoles {
        /// The member.
        #[arg(long)]
        id: String,
        /// Role (repeat).
        #[arg(long = "role", value_enum, required = true)]
        roles: Vec<RoleArg>,
        #[command(flatten)]
        admin: AdminArgs,
        #[command(flatten)]
        wait: WaitArgs,
        #[command(flatten)]
        node: NodeArgs,
    },
    /// Suspend or reinstate a member.
    SetStatus {
        /// The member.
        #[arg(long)]
        id: String,
        /// The new status.
        #[arg(long, value_enum)]
        status: StatusArg,
        #[command(flatten)]
        admin: AdminArgs,
        #[command(flatten)]
        wait: WaitArgs,
        #[command(flatten)]
        node: NodeArgs,
    },
    /// Add an admin key.
    AddAdmin {
        /// The key: 64 hex or a key file.
        #[arg(long)]
        key: String,
        #[command(flatten)]
        admin: AdminArgs,
        #[command(flatten)]
        wait: WaitArgs,
        #[command(flatten)]
        node: NodeArgs,
    },
    /// Remove an admin key.
    RemoveAdmin {
        /// The key: 64 hex or a key file.
        #[arg(long)]
        key: String,
        #[command(flatten)]
        admin: AdminArgs,
        #[command(flatten)]
        wait: WaitArgs,
        #[command(flatten)]
        node: NodeArgs,
    },
}

/// Signs `body` with the admin key (chain id from the node) and submits it.
pub fn submit_admin(
    admin: &AdminArgs,
    wait: &WaitArgs,
    node: &NodeArgs,
    body: RecordBody,
    what: &str,
) -> Result<SubmitResponse> {
    let key = keyfile::read(&admin.admin_key).context("--admin-key")?;
    let client = node.client()?;
    let chain_id = client.status()?.chain_id;
    let record: SignedRecord = records::sign(&key, &chain_id, NonceClock::new().next_nonce(), body);
    let answer = client.submit(&record, !wait.no_wait)?;
    print_submit(node, what, &answer)?;
    Ok(answer)
}

pub fn member(command: MemberCommand) -> Result<()> {
    match command {
        MemberCommand::List { node } => {
            let answer = node.client()?.members()?;
            if node.json {
                println!("{}", serde_json::to_string_pretty(&answer)?);
                return Ok(());
            }
            println!("members at height {}:", answer.height);
            for m in &answer.members {
                let roles: Vec<String> = m.roles.iter().map(|r| format!("{r:?}")).collect();
                let index = answer
                    .validators
                    .index_of(&m.key)
                    .map_or(String::new(), |i| format!("  validator #{i}"));
                println!(
                    "  {}  {:?}  region {}  {}  [{}]  key {}{index}",
                    m.id,
                    m.status,
                    m.region,
                    m.name,
                    roles.join(","),
                    m.key
                );
            }
            println!(
                "validators: {} (quorum {})",
                answer.validators.len(),
                answer.validators.quorum()
            );
            println!("admins:");
            for a in &answer.admins {
                println!("  {a}");
            }
            Ok(())
        }
        MemberCommand::Approve {
            proposal_id,
            admin,
            wait,
            node,
        } => {
            submit_admin(
                &admin,
                &wait,
                &node,
                RecordBody::Approve { proposal_id },
                &format!("approve proposal {proposal_id}"),
            )?;
            Ok(())
        }
        MemberCommand::Propose {
            proposal_id,
            change,
        } => {
            let proposal_id = proposal_id.unwrap_or_else(records::now_ms);
            let (change, admin, wait, node) = member_change(change)?;
            let what = format!("proposal {proposal_id} ({})", change_name(&change));
            submit_admin(
                &admin,
                &wait,
                &node,
                RecordBody::ProposeMemberChange {
                    proposal_id,
                    change,
                },
                &what,
            )?;
            if !node.json {
                println!(
                    "other admins approve it with: tongban member approve --proposal-id {proposal_id} --admin-key FILE --node {}",
                    node.node
                );
            }
            Ok(())
        }
    }
}

fn change_name(change: &MemberChange) -> &'static str {
    match change {
        MemberChange::Add(_) => "add member",
        MemberChange::Remove(_) => "remove member",
        MemberChange::RotateKey { .. } => "rotate key",
        MemberChange::SetRoles { .. } => "set roles",
        MemberChange::AddAdmin(_) => "add admin",
        MemberChange::RemoveAdmin(_) => "remove admin",
        MemberChange::SetParams(_) => "set parameters",
        MemberChange::SetStatus { .. } => "set status",
    }
}

fn roles(roles: &[RoleArg]) -> Vec<Role> {
    let mut out: Vec<Role> = roles.iter().map(|r| Role::from(*r)).collect();
    out.sort();
    out.dedup();
    out
}

fn member_change(change: ChangeArg) -> Result<(MemberChange, AdminArgs, WaitArgs, NodeArgs)> {
    Ok(match change {
        ChangeArg::Add {
            id,
            name,
            region,
            key,
            roles: r,
            admin,
            wait,
            node,
        } => {
            let key = keyfile::public_key_argument(&key).context("--key")?;
            let m = genesis::member(&id, &name, &region, key, &roles(&r))?;
            (MemberChange::Add(m), admin, wait, node)
        }
        ChangeArg::Remove {
            id,
            admin,
            wait,
            node,
        } => (
            MemberChange::Remove(MemberId::parse(&id)?),
            admin,
            wait,
            node,
        ),
        ChangeArg::RotateKey {
            id,
            key,
            admin,
            wait,
            node,
        } => (
            MemberChange::RotateKey {
                member_id: MemberId::parse(&id)?,
                new_key: keyfile::public_key_argument(&key).context("--key")?,
            },
            admin,
            wait,
            node,
        ),
        ChangeArg::SetRoles {
            id,
            roles: r,
            admin,
            wait,
            node,
        } => (
            MemberChange::SetRoles {
                member_id: MemberId::parse(&id)?,
                roles: roles(&r),
            },
            admin,
            wait,
            node,
        ),
        ChangeArg::SetStatus {
            id,
            status,
            admin,
            wait,
            node,
        } => (
            MemberChange::SetStatus {
                member_id: MemberId::parse(&id)?,
                status: match status {
                    StatusArg::Active => MemberStatus::Active,
                    StatusArg::Suspended => MemberStatus::Suspended,
                },
            },
            admin,
            wait,
            node,
        ),
        ChangeArg::AddAdmin {
            key,
            admin,
            wait,
            node,
        } => (
            MemberChange::AddAdmin(keyfile::public_key_argument(&key).context("--key")?),
            admin,
            wait,
            node,
        ),
        ChangeArg::RemoveAdmin {
            key,
            admin,
            wait,
            node,
        } => (
            MemberChange::RemoveAdmin(keyfile::public_key_argument(&key).context("--key")?),
            admin,
            wait,
            node,
        ),
    })
}

/// `tongban catalog …`
#[derive(Debug, Subcommand)]
pub enum CatalogCommand {
    /// List licence types and items.
    List {
        #[command(flatten)]
        node: NodeArgs,
    },
    /// Publish a licence type or an item (admin-signed).
    #[command(subcommand)]
    Publish(PublishArg),
}

/// What to publish.
#[derive(Debug, Subcommand)]
pub enum PublishArg {
    /// A licence type and who may issue it.
    Type {
        /// 21-character type code.
        #[arg(long)]
        type_code: String,
        /// Name, e.g. 营业执照.
        #[arg(long)]
        name: String,
        /// A member that may issue it (repeat).
        #[arg(long = "issuer", required = true)]
        issuers: Vec<String>,
        #[command(flatten)]
        admin: AdminArgs,
        #[command(flatten)]
        wait: WaitArgs,
        #[command(flatten)]
        node: NodeArgs,
    },
    /// A catalogue item (事项).
    Item {
        /// Item code.
        #[arg(long)]
        item_code: String,
        /// Name.
        #[arg(long)]
        name: String,
        /// Time limit in days.
        #[arg(long)]
        time_limit_days: u32,
        /// Allowed mode (repeat).
        #[arg(long = "mode", value_enum, required = true)]
        modes: Vec<ModeArg>,
        /// A licence type used as material (repeat).
        #[arg(long = "uses-type")]
        uses_types: Vec<String>,
        /// A licence type issued as a result (repeat).
        #[arg(long = "issues-type")]
        issues_types: Vec<String>,
        #[command(flatten)]
        admin: AdminArgs,
        #[command(flatten)]
        wait: WaitArgs,
        #[command(flatten)]
        node: NodeArgs,
    },
}

pub fn catalog(command: CatalogCommand) -> Result<()> {
    match command {
        CatalogCommand::List { node } => {
            let answer = node.client()?.catalog()?;
            if node.json {
                println!("{}", serde_json::to_string_pretty(&answer)?);
                return Ok(());
            }
            println!("licence types at height {}:", answer.height);
            for t in &answer.licence_types {
                let issuers: Vec<&str> = t.issuers.iter().map(|m| m.as_str()).collect();
                println!(
                    "  {}  {}  issuers: {}",
                    t.type_code,
                    t.name,
                    issuers.join(", ")
                );
            }
            println!("items:");
            for i in &answer.items {
                let modes: Vec<String> = i.modes.iter().map(|m| format!("{m:?}")).collect();
                println!(
                    "  {}  {}  {} days  modes: {}",
                    i.item_code,
                    i.name,
                    i.time_limit_days,
                    modes.join(",")
                );
            }
            Ok(())
        }
        CatalogCommand::Publish(PublishArg::Type {
            type_code,
            name,
            issuers,
            admin,
            wait,
            node,
        }) => {
            let body = RecordBody::PublishLicenceType {
                type_code: TypeCode::parse(&type_code)?,
                name,
                issuers: issuers
                    .iter()
                    .map(|m| MemberId::parse(m))
                    .collect::<Result<_, _>>()?,
            };
            submit_admin(
                &admin,
                &wait,
                &node,
                body,
                &format!("publish type {type_code}"),
            )?;
            Ok(())
        }
        CatalogCommand::Publish(PublishArg::Item {
            item_code,
            name,
            time_limit_days,
            modes,
            uses_types,
            issues_types,
            admin,
            wait,
            node,
        }) => {
            let parse_types = |v: &[String]| -> Result<Vec<TypeCode>> {
                Ok(v.iter()
                    .map(|t| TypeCode::parse(t))
                    .collect::<Result<_, _>>()?)
            };
            let body = RecordBody::PublishItem {
                item_code: ItemCode::parse(&item_code)?,
                name,
                time_limit_days,
                modes: modes.iter().map(|m| CaseMode::from(*m)).collect(),
                uses_types: parse_types(&uses_types)?,
                issues_types: parse_types(&issues_types)?,
            };
            submit_admin(
                &admin,
                &wait,
                &node,
                body,
                &format!("publish item {item_code}"),
            )?;
            Ok(())
        }
    }
}
