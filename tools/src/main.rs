//! `tongban`: keys, genesis, devnet, licence, case, member and catalogue commands,
//! offline verification and the load generator.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use tongban_ledger::types::{ChainParams, Role};
use tongban_tools::{bench, demo, devnet, genesis, keyfile, verify};

mod cmd_api;

#[derive(Debug, Parser)]
#[command(
    name = "tongban",
    version,
    about = "tongban (通办): keys, genesis, devnet, licences, cases, members, catalogue, offline verification, bench"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Generate an ed25519 key file (mode 0600; never overwrites) and print its public key.
    Keygen {
        /// Where to write the key file.
        #[arg(long)]
        out: PathBuf,
        /// Print the public key as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Build a genesis.json.
    #[command(subcommand)]
    Genesis(GenesisCommand),
    /// Issue, suspend, revoke, show licences and fetch their proofs (node API).
    #[command(subcommand)]
    Licence(cmd_api::LicenceCommand),
    /// Open, advance and show cases (node API).
    #[command(subcommand)]
    Case(cmd_api::CaseCommand),
    /// List members; propose and approve member changes (admin-signed).
    #[command(subcommand)]
    Member(cmd_api::MemberCommand),
    /// List the catalogue; publish licence types and items (admin-signed).
    #[command(subcommand)]
    Catalog(cmd_api::CatalogCommand),
    /// Check a licence proof offline, with nothing but the genesis file (DESIGN §5).
    #[command(after_help = verify::EXIT_CODE_HELP)]
    Verify {
        /// The chain's genesis file: the only thing trusted.
        #[arg(long)]
        genesis: PathBuf,
        /// The proof bundle (from `tongban licence proof` or GET /v1/licences/{id}/proof).
        #[arg(long)]
        proof: PathBuf,
        /// The document presented; its sha256 must match the licence's document hash.
        #[arg(long)]
        document: Option<PathBuf>,
        /// Refuse a proof whose block is older than this many seconds.
        #[arg(long)]
        max_age: Option<u64>,
        /// Print the verdict as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Start a local network of N validators on 127.0.0.1 with demo data.
    Devnet {
        /// Number of validators.
        #[arg(long, default_value_t = 4)]
        nodes: usize,
        /// Directory of the devnet (reused: running again resumes the same chain).
        #[arg(long, default_value = "devnet")]
        dir: PathBuf,
        /// Stop the nodes and exit after the demo (for tests and CI).
        #[arg(long)]
        exit_after_demo: bool,
        /// Skip the demo data.
        #[arg(long)]
        no_demo: bool,
    },
    /// Load a network with signed IssueLicence records; report committed records/s and
    /// commit latency percentiles.
    Bench {
        /// Validators of the local network started for the bench (ignored with --devnet).
        #[arg(long, default_value_t = 4)]
        nodes: usize,
        #[command(flatten)]
        options: bench::BenchOptions,
        /// Write the result as JSON to this file.
        #[arg(long)]
        json: Option<PathBuf>,
        /// Target the running devnet described by this devnet.json instead of starting one.
        #[arg(long)]
        devnet: Option<PathBuf>,
        /// Directory of the network started for the bench, kept afterwards (default: a
        /// new one under the temporary directory, removed when the bench ends).
        #[arg(long, conflicts_with = "devnet")]
        dir: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum GenesisCommand {
    /// Create a new genesis with no members and no admins.
    New(GenesisNew),
    /// Add an initial member (department).
    AddMember(GenesisAddMember),
    /// Add an initial admin key.
    AddAdmin {
        /// The genesis file to change.
        #[arg(long)]
        genesis: PathBuf,
        /// The admin's public key: 64 hex characters or a key file.
        #[arg(long)]
        key: String,
    },
}

#[derive(Debug, Args)]
struct GenesisNew {
    /// The chain id (1..64 characters of [A-Za-z0-9._-]).
    #[arg(long)]
    chain_id: String,
    /// Where to write the genesis (refuses to overwrite).
    #[arg(long)]
    out: PathBuf,
    /// Governance threshold: a proposal applies with MORE than this share of admins.
    #[arg(long, default_value = "2/3")]
    threshold: String,
    /// Genesis time, Unix ms (default: now).
    #[arg(long)]
    genesis_time_ms: Option<u64>,
    /// Blocks after which an unapplied proposal expires.
    #[arg(long, default_value_t = ChainParams::default().proposal_expiry_blocks)]
    proposal_expiry_blocks: u64,
    /// Most records in one block.
    #[arg(long, default_value_t = ChainParams::default().max_block_records)]
    max_block_records: u32,
    /// Largest encoded record, bytes.
    #[arg(long, default_value_t = ChainParams::default().max_record_bytes)]
    max_record_bytes: u32,
    /// A block is proposed at least this often, ms.
    #[arg(long, default_value_t = ChainParams::default().max_block_interval_ms)]
    max_block_interval_ms: u64,
}

#[derive(Debug, Args)]
struct GenesisAddMember {
    /// The genesis file to change.
    #[arg(long)]
    genesis: PathBuf,
    /// The department's 18-character 统一社会信用代码.
    #[arg(long)]
    id: String,
    /// The department's name.
    #[arg(long)]
    name: String,
    /// 6-digit GB/T 2260 region code.
    #[arg(long)]
    region: String,
    /// The member's public key: 64 hex characters or a key file.
    #[arg(long)]
    key: String,
    /// Role (repeat for several).
    #[arg(long = "role", value_enum, required = true)]
    roles: Vec<cmd_api::RoleArg>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

/// Exit code for any error that is not a verdict (bad arguments, unreadable files, API
/// errors). clap uses 2 for usage errors.
const EXIT_ERROR: u8 = 1;

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Keygen { out, json } => {
            let key = keyfile::generate();
            let public = keyfile::write_new(&out, &key)?;
            if json {
                println!(
                    "{}",
                    serde_json::json!({ "public_key": public, "file": out })
                );
            } else {
                println!("{public}");
                eprintln!("wrote {} (mode 0600)", out.display());
            }
        }
        Command::Genesis(g) => genesis_command(g)?,
        Command::Licence(c) => cmd_api::licence(c)?,
        Command::Case(c) => cmd_api::case(c)?,
        Command::Member(c) => cmd_api::member(c)?,
        Command::Catalog(c) => cmd_api::catalog(c)?,
        Command::Verify {
            genesis,
            proof,
            document,
            max_age,
            json,
        } => {
            let report = verify::verify_files(
                &genesis,
                &proof,
                document.as_deref(),
                max_age.map(|s| s.saturating_mul(1000)),
                tongban_tools::records::now_ms(),
            )?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                println!("{}", verify::render(&report));
            }
            return Ok(ExitCode::from(report.exit_code));
        }
        Command::Devnet {
            nodes,
            dir,
            exit_after_demo,
            no_demo,
        } => devnet_command(nodes, &dir, exit_after_demo, no_demo)?,
        Command::Bench {
            nodes,
            options,
            json,
            devnet,
            dir,
        } => bench_command(nodes, options, json, devnet, dir)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn genesis_command(command: GenesisCommand) -> Result<()> {
    match command {
        GenesisCommand::New(args) => {
            let params = ChainParams {
                governance_threshold: genesis::parse_threshold(&args.threshold)?,
                proposal_expiry_blocks: args.proposal_expiry_blocks,
                max_block_records: args.max_block_records,
                max_record_bytes: args.max_record_bytes,
                max_block_interval_ms: args.max_block_interval_ms,
            };
            let g = genesis::new_genesis(
                &args.chain_id,
                args.genesis_time_ms
                    .unwrap_or_else(tongban_tools::records::now_ms),
                params,
            )?;
            genesis::write(&args.out, &g, true)?;
            println!("wrote {} (chain id {})", args.out.display(), g.chain_id);
            report_completeness(&g);
        }
        GenesisCommand::AddMember(args) => {
            let mut g = genesis::read(&args.genesis)?;
            let key = keyfile::public_key_argument(&args.key).context("--key")?;
            let roles: Vec<Role> = args.roles.iter().map(|r| Role::from(*r)).collect();
            let m = genesis::member(&args.id, &args.name, &args.region, key, &roles)?;
            genesis::add_member(&mut g, m)?;
            genesis::write(&args.genesis, &g, false)?;
            println!(
                "added member {} to {} ({} members)",
                args.id,
                args.genesis.display(),
                g.members.len()
            );
            report_completeness(&g);
        }
        GenesisCommand::AddAdmin { genesis: path, key } => {
            let mut g = genesis::read(&path)?;
            let key = keyfile::public_key_argument(&key).context("--key")?;
            genesis::add_admin(&mut g, key)?;
            genesis::write(&path, &g, false)?;
            println!(
                "added admin {key} to {} ({} admins)",
                path.display(),
                g.admins.len()
            );
            report_completeness(&g);
        }
    }
    Ok(())
}

/// Says whether the genesis would start a chain (the ledger's own check, the one a node
/// runs), or what it still lacks.
fn report_completeness(g: &tongban_ledger::types::Genesis) {
    match g.validate() {
        Ok(()) => println!("the genesis is complete: a node will accept it"),
        Err(e) => println!("not yet complete: {e}"),
    }
}

fn devnet_command(
    nodes: usize,
    dir: &std::path::Path,
    exit_after_demo: bool,
    no_demo: bool,
) -> Result<()> {
    let node_bin = devnet::node_binary()?;
    std::fs::create_dir_all(dir).with_context(|| format!("{}", dir.display()))?;
    let dir = dir
        .canonicalize()
        .with_context(|| format!("{}", dir.display()))?;
    let layout = devnet::prepare(&dir, nodes, &node_bin)?;
    println!(
        "{} devnet of {} validators in {} (chain {})",
        if layout.created {
            "created a"
        } else {
            "resuming the"
        },
        layout.homes.len(),
        dir.display(),
        layout.chain_id
    );
    // Ctrl-C is watched from the start, so an interrupt during start-up or the demo
    // still stops every node that was started.
    let interrupted = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    {
        let flag = interrupted.clone();
        std::thread::spawn(move || {
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                if rt.block_on(tokio::signal::ctrl_c()).is_ok() {
                    flag.store(true, std::sync::atomic::Ordering::SeqCst);
                }
            }
        });
    }
    let mut processes = devnet::start(&layout, &node_bin)?;
    let devnet_json = devnet::write_devnet_file(&layout, &processes.pids())?;
    println!(
        "started {} nodes; waiting for the first block…",
        layout.homes.len()
    );
    let outcome = (|| -> Result<()> {
        devnet::wait_ready(&layout.homes, &mut processes, 1)?;
        println!("the network is committing blocks");
        if !no_demo {
            let report = demo::run(&layout)?;
            for line in &report.lines {
                println!("  {line}");
            }
            if let Some(v) = &report.verdict {
                println!("\n{}", verify::render(v));
                if v.exit_code != verify::EXIT_VALID {
                    anyhow::bail!("the demo proof did not verify");
                }
            }
            println!("{}", demo::where_to_look(&layout, &report, &devnet_json));
        }
        Ok(())
    })();
    if let Err(e) = outcome {
        eprintln!("error: {e:#}; stopping the nodes");
        for line in processes.stop() {
            eprintln!("  {line}");
        }
        return Err(e);
    }
    if !exit_after_demo {
        println!("running; press Ctrl-C to stop all nodes");
        let mut reported = std::collections::BTreeSet::new();
        while !interrupted.load(std::sync::atomic::Ordering::SeqCst) {
            for (name, status) in processes.exited() {
                if reported.insert(name.clone()) {
                    eprintln!("warning: {name} exited ({status}); see its node.log");
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(300));
        }
        println!("\nstopping…");
    }
    for line in processes.stop() {
        println!("  {line}");
    }
    println!("all nodes stopped; run the same command again to resume this chain");
    Ok(())
}

fn bench_command(
    nodes: usize,
    options: bench::BenchOptions,
    json: Option<PathBuf>,
    devnet_file: Option<PathBuf>,
    dir: Option<PathBuf>,
) -> Result<()> {
    // A network in a directory of our own choosing is removed when the bench ends
    // (each run leaves about 200 MB of RocksDB data); one in `--dir` is kept.
    let mut temporary = None;
    let (file, mut processes) = match devnet_file {
        Some(path) => (devnet::read_devnet_file(&path)?, None),
        None => {
            let node_bin = devnet::node_binary()?;
            let dir = dir.unwrap_or_else(|| {
                let dir = std::env::temp_dir().join(format!(
                    "tongban-bench-{}",
                    tongban_tools::records::now_ms()
                ));
                temporary = Some(dir.clone());
                dir
            });
            std::fs::create_dir_all(&dir).with_context(|| format!("{}", dir.display()))?;
            let dir = dir.canonicalize()?;
            let layout = devnet::prepare(&dir, nodes, &node_bin)?;
            let mut processes = devnet::start(&layout, &node_bin)?;
            let path = devnet::write_devnet_file(&layout, &processes.pids())?;
            eprintln!(
                "started {} validators in {}; waiting for the first block…",
                nodes,
                dir.display()
            );
            devnet::wait_ready(&layout.homes, &mut processes, 1)?;
            (devnet::read_devnet_file(&path)?, Some(processes))
        }
    };
    let result = bench::run(&file, &options);
    if let Some(p) = processes.as_mut() {
        for line in p.stop() {
            eprintln!("  {line}");
        }
    }
    if let Some(dir) = temporary {
        if let Err(e) = std::fs::remove_dir_all(&dir) {
            eprintln!("could not remove {}: {e}", dir.display());
        }
    }
    let result = result?;
    println!(
        "{} validators, {} cores: {} of {} records committed in {:.2} s = {:.0} records/s; commit latency p50 {:.0} ms, p95 {:.0} ms, p99 {:.0} ms (max {:.0} ms); {} blocks, {} retries after 503",
        result.nodes,
        result.cpu_cores,
        result.records_committed,
        result.records_submitted,
        result.duration_s,
        result.records_per_second,
        result.latency_ms_p50,
        result.latency_ms_p95,
        result.latency_ms_p99,
        result.latency_ms_max,
        result.blocks,
        result.retries
    );
    if let Some(path) = json {
        std::fs::write(&path, serde_json::to_string_pretty(&result)? + "\n")
            .with_context(|| format!("{}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}
