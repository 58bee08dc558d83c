//! `tongban-node`: `init` creates a home directory, `start` runs the node from it.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tongban_node::home::{self, InitOptions};

/// jemalloc rather than glibc's allocator: a node allocates and frees many small
/// objects per record (decoded records, ids, state values) from several threads, and
/// multi-megabyte buffers per block; under the 4-node bench glibc's malloc, free and
/// page faults on fresh mappings took about a quarter of the CPU; jemalloc made the bench 16% faster
/// (docs/adr/0006-node-allocator.md).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Debug, Parser)]
#[command(
    name = "tongban-node",
    version,
    about = "The tongban ledger node a department runs"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a home directory: node key (0600), config.toml, and optionally genesis.json.
    Init {
        /// The home directory.
        #[arg(long)]
        home: PathBuf,
        /// A name for this node in logs and /v1/status.
        #[arg(long)]
        moniker: Option<String>,
        /// A genesis file to copy in as genesis.json.
        #[arg(long)]
        genesis: Option<PathBuf>,
        /// Use this key file (JSON {public_key, secret_key}) instead of generating a key.
        #[arg(long)]
        key: Option<PathBuf>,
        /// p2p.listen, e.g. /ip4/0.0.0.0/tcp/26656.
        #[arg(long)]
        p2p_listen: Option<String>,
        /// api.listen, e.g. 127.0.0.1:26657.
        #[arg(long)]
        api_listen: Option<String>,
        /// p2p.bootstrap entries (repeatable).
        #[arg(long)]
        bootstrap: Vec<String>,
    },
    /// Run the node from its home directory.
    Start {
        /// The home directory.
        #[arg(long)]
        home: PathBuf,
    },
    /// Print the node's public key (hex).
    ShowKey {
        /// The home directory.
        #[arg(long)]
        home: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tongban-node: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Init {
            home,
            moniker,
            genesis,
            key,
            p2p_listen,
            api_listen,
            bootstrap,
        } => {
            let options = InitOptions {
                moniker,
                genesis,
                key,
                p2p_listen,
                api_listen,
                bootstrap,
            };
            let report = home::init(&home, &options)?;
            println!("initialised {}", home.display());
            println!("public key: {}", report.public_key);
            if !report.has_genesis {
                println!(
                    "no genesis yet: copy the chain's genesis.json into {} before `start`",
                    home.display()
                );
            }
            Ok(())
        }
        Command::ShowKey { home } => {
            let key = home::read_key(&home.join(home::KEY_FILE))?;
            println!("{}", tongban_ledger::crypto::public_key(&key));
            Ok(())
        }
        Command::Start { home } => {
            let home = home::Home::load(&home)?;
            tongban_node::run::start(home)
        }
    }
}
