//! `tongban devnet`: a local network of N validators as separate `tongban-node`
//! processes on 127.0.0.1, with demo data.
//!
//! Layout of the devnet directory (everything reused when the command runs again, which
//! resumes the same chain):
//!
//! ```text
//! DIR/genesis.json          the chain's genesis (N validators, 3 admins)
//! DIR/keys/node-I.json      member keys (0600), also copied into each home by init
//! DIR/keys/admin-I.json     admin keys (0600)
//! DIR/node-I/               each node's home (config.toml, node_key.json, data/, node.log)
//! DIR/demo/                 demo documents and the proofs fetched by the demo
//! DIR/devnet.json           {"genesis", "nodes": [{"name", "api", "token", "home", "pid"}], …}
//! ```
//!
//! Nodes are started in their own process group, so Ctrl-C reaches only this command,
//! which then stops them in order (SIGTERM, then SIGKILL after a grace period).

use std::fs;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};
use tongban_ledger::ids::{uscc_check_char, MemberId};
use tongban_ledger::types::{ChainParams, Role};

use crate::client::NodeClient;
use crate::{genesis, keyfile};

/// Most nodes a devnet starts (each is a process with RocksDB and libp2p).
pub const MAX_DEVNET_NODES: usize = 16;
/// Admin keys in a devnet genesis; a proposal needs all three (more than 2/3).
pub const DEVNET_ADMINS: usize = 3;
/// Chain id of every devnet.
pub const DEVNET_CHAIN_ID: &str = "tongban-devnet";
/// Block interval of a devnet: short, so proofs and demos are quick.
pub const DEVNET_BLOCK_INTERVAL_MS: u64 = 1_000;
/// How long a node gets to exit after SIGTERM before SIGKILL.
pub const STOP_GRACE: Duration = Duration::from_secs(15);
/// How long to wait for every node to answer and commit a block.
pub const READY_TIMEOUT: Duration = Duration::from_secs(120);

/// Regions the demo departments serve (GB/T 2260): capitals of different provinces, so
/// the demo shows cross-provincial work.
const REGIONS: [(&str, &str); 8] = [
    ("110000", "北京市"),
    ("310000", "上海市"),
    ("350100", "福州市"),
    ("440100", "广州市"),
    ("510100", "成都市"),
    ("330100", "杭州市"),
    ("420100", "武汉市"),
    ("610100", "西安市"),
];

/// `DIR/devnet.json`: what scripts need to drive the network.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DevnetFile {
    /// The genesis file.
    pub genesis: PathBuf,
    /// The chain id.
    pub chain_id: String,
    /// The nodes.
    pub nodes: Vec<DevnetNode>,
    /// Admin key files.
    pub admin_keys: Vec<PathBuf>,
    /// Member key files, one per node, in node order.
    pub member_keys: Vec<PathBuf>,
}

/// One node of a devnet.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DevnetNode {
    /// `node-I`.
    pub name: String,
    /// `http://127.0.0.1:PORT`.
    pub api: String,
    /// The operator bearer token.
    pub token: String,
    /// The home directory.
    pub home: PathBuf,
    /// The process id.
    pub pid: u32,
    /// The node's member id.
    pub member_id: String,
}

/// Why the devnet could not be set up or run.
#[derive(Debug, thiserror::Error)]
pub enum DevnetError {
    /// Bad arguments or an inconsistent directory.
    #[error("{0}")]
    Setup(String),
    /// A file operation failed.
    #[error("{path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// `tongban-node` failed.
    #[error("tongban-node {what} failed: {detail}")]
    Node {
        /// What was run.
        what: String,
        /// What it said.
        detail: String,
    },
    /// The nodes did not come up.
    #[error("the network is not ready after {0:?}: {1}")]
    NotReady(Duration, String),
    /// Building the genesis failed.
    #[error(transparent)]
    Genesis(#[from] genesis::GenesisError),
    /// A key file failed.
    #[error(transparent)]
    Key(#[from] keyfile::KeyFileError),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DevnetError + '_ {
    move |source| DevnetError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The `tongban-node` binary next to the running executable (how releases and
/// `cargo build --bins` lay them out).
pub fn node_binary() -> Result<PathBuf, DevnetError> {
    let exe = std::env::current_exe().map_err(|e| DevnetError::Setup(e.to_string()))?;
    let dir = exe
        .parent()
        .ok_or_else(|| DevnetError::Setup("the executable has no directory".into()))?;
    let bin = dir.join("tongban-node");
    if bin.is_file() {
        Ok(bin)
    } else {
        Err(DevnetError::Setup(format!(
            "{} not found: build it with `cargo build --release --bins`",
            bin.display()
        )))
    }
}

/// A valid 统一社会信用代码 for demo department `index` in `region`: registration
/// authority 1 (organs), type 1, the region, an organisation code (a 6-character tag + 3 digits), and
/// the GB 32100 check character.
pub fn demo_member_id(region: &str, tag: &str, index: usize) -> Result<MemberId, DevnetError> {
    let first17 = format!("11{region}{tag}{index:03}");
    let check = uscc_check_char(first17.as_bytes())
        .ok_or_else(|| DevnetError::Setup(format!("bad demo id {first17}")))?;
    MemberId::parse(&format!("{first17}{}", char::from(check)))
        .map_err(|e| DevnetError::Setup(e.to_string()))
}

/// The member id of devnet node `i` (1-based).
pub fn node_member_id(i: usize) -> Result<MemberId, DevnetError> {
    let (region, _) = REGIONS[(i - 1) % REGIONS.len()];
    demo_member_id(region, "DPTNET", i)
}

/// Ports handed out for local nodes: below Linux's default ephemeral range
/// (32768–60999), from which the kernel takes the local port of every outgoing
/// connection. A port bound to `:0` comes from that range, so a connection opened between
/// choosing it and the node binding it could take it ("address already in use", seen in
/// the cluster tests); a port from here cannot be taken that way.
pub const LOCAL_PORTS: std::ops::Range<u16> = 20_000..32_768;

/// `count` distinct ports of [`LOCAL_PORTS`] that are free on 127.0.0.1 now. Each process
/// starts at its own place in the range and goes on from where its last call ended, so
/// that processes choosing ports at the same moment rarely try the same ones.
pub fn free_ports(count: usize) -> Result<Vec<u16>, std::io::Error> {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(u32::MAX);
    let span = u32::from(LOCAL_PORTS.end - LOCAL_PORTS.start);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let start = std::process::id().wrapping_mul(7_919).wrapping_add(nanos) % span;
    let _ = NEXT.compare_exchange(u32::MAX, start, Ordering::SeqCst, Ordering::SeqCst);
    // Hold every listener until all ports are chosen, so no port is handed out twice.
    let mut listeners = Vec::with_capacity(count);
    let mut tried = 0;
    while listeners.len() < count {
        if tried == span {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AddrInUse,
                format!("fewer than {count} free ports in {LOCAL_PORTS:?}"),
            ));
        }
        tried += 1;
        let offset = NEXT.fetch_add(1, Ordering::SeqCst) % span;
        // `offset < span`, and `span` fits in u16.
        let port = LOCAL_PORTS.start + u16::try_from(offset).unwrap_or(0);
        if let Ok(listener) = TcpListener::bind(("127.0.0.1", port)) {
            listeners.push(listener);
        }
    }
    listeners
        .iter()
        .map(|l| l.local_addr().map(|a| a.port()))
        .collect()
}

fn run_node_command(node_bin: &Path, args: &[&str]) -> Result<String, DevnetError> {
    let out = Command::new(node_bin)
        .args(args)
        .output()
        .map_err(io(node_bin))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        return Err(DevnetError::Node {
            what: args.first().copied().unwrap_or_default().to_owned(),
            detail: format!("{}{}", stdout, String::from_utf8_lossy(&out.stderr)),
        });
    }
    Ok(stdout)
}

/// A node's home as set up on disk.
#[derive(Debug, Clone)]
pub struct NodeHome {
    /// `node-I`.
    pub name: String,
    /// The directory.
    pub home: PathBuf,
    /// `http://127.0.0.1:PORT`.
    pub api: String,
    /// The bearer token.
    pub token: String,
    /// Member id.
    pub member_id: MemberId,
}

fn read_home(name: &str, home: &Path, member_id: MemberId) -> Result<NodeHome, DevnetError> {
    let path = home.join("config.toml");
    let text = fs::read_to_string(&path).map_err(io(&path))?;
    let config: toml::Value = toml::from_str(&text)
        .map_err(|e| DevnetError::Setup(format!("{}: {e}", path.display())))?;
    let field = |name: &str| {
        config
            .get("api")
            .and_then(|a| a.get(name))
            .and_then(|v| v.as_str())
            .map(str::to_owned)
            .ok_or_else(|| DevnetError::Setup(format!("{}: no api.{name}", path.display())))
    };
    Ok(NodeHome {
        name: name.to_owned(),
        home: home.to_owned(),
        api: format!("http://{}", field("listen")?),
        token: field("bearer_token")?,
        member_id,
    })
}

/// The set-up devnet: genesis, keys and homes.
#[derive(Debug, Clone)]
pub struct Layout {
    /// The directory.
    pub dir: PathBuf,
    /// The genesis file.
    pub genesis: PathBuf,
    /// The chain id.
    pub chain_id: String,
    /// The nodes.
    pub homes: Vec<NodeHome>,
    /// Admin key files.
    pub admin_keys: Vec<PathBuf>,
    /// Member key files.
    pub member_keys: Vec<PathBuf>,
    /// Whether this run created the chain (false: resumed).
    pub created: bool,
}

/// Creates the devnet in `dir`, or finds the one already there.
pub fn prepare(dir: &Path, nodes: usize, node_bin: &Path) -> Result<Layout, DevnetError> {
    if nodes == 0 || nodes > MAX_DEVNET_NODES {
        return Err(DevnetError::Setup(format!(
            "--nodes must be 1..={MAX_DEVNET_NODES}"
        )));
    }
    let genesis_path = dir.join("genesis.json");
    let keys = dir.join("keys");
    let admin_keys: Vec<PathBuf> = (1..=DEVNET_ADMINS)
        .map(|i| keys.join(format!("admin-{i}.json")))
        .collect();
    if genesis_path.exists() {
        return resume(dir, nodes, genesis_path, admin_keys);
    }
    if keys.exists() {
        // Keys without a genesis.json are left over from an interrupted first run: no
        // chain was ever started with them, so they are made afresh.
        fs::remove_dir_all(&keys).map_err(io(&keys))?;
    }
    fs::create_dir_all(&keys).map_err(io(&keys))?;
    let demo = dir.join("demo");
    fs::create_dir_all(&demo).map_err(io(&demo))?;

    let params = ChainParams {
        max_block_interval_ms: DEVNET_BLOCK_INTERVAL_MS,
        ..ChainParams::default()
    };
    let mut g = genesis::new_genesis(DEVNET_CHAIN_ID, crate::records::now_ms(), params)?;
    let mut member_keys = Vec::new();
    for i in 1..=nodes {
        let path = keys.join(format!("node-{i}.json"));
        let public = keyfile::write_new(&path, &keyfile::generate())?;
        let (region, region_name) = REGIONS[(i - 1) % REGIONS.len()];
        let id = node_member_id(i)?;
        let name = format!("{region_name}政务服务管理局 (devnet node-{i})");
        let member = genesis::member(id.as_str(), &name, region, public, &[Role::Validator])?;
        genesis::add_member(&mut g, member)?;
        member_keys.push(path);
    }
    for path in &admin_keys {
        let public = keyfile::write_new(path, &keyfile::generate())?;
        genesis::add_admin(&mut g, public)?;
    }
    // Written to a temporary name first: genesis.json is what marks the directory as a
    // finished devnet, so it must appear only after every home exists.
    g.validate()
        .map_err(|e| DevnetError::Setup(format!("the devnet genesis is invalid: {e}")))?;
    let genesis_tmp = dir.join("genesis.building.json");
    let _ = fs::remove_file(&genesis_tmp);
    genesis::write(&genesis_tmp, &g, true)?;

    let ports = free_ports(2 * nodes).map_err(io(Path::new("127.0.0.1")))?;
    let p2p: Vec<u16> = ports[..nodes].to_vec();
    let api: Vec<u16> = ports[nodes..].to_vec();
    let mut homes = Vec::new();
    for i in 1..=nodes {
        let home = dir.join(format!("node-{i}"));
        if home.exists() {
            // Left over from an interrupted first run: the genesis was never finished,
            // so nothing in it belongs to a chain.
            fs::remove_dir_all(&home).map_err(io(&home))?;
        }
        let name = format!("node-{i}");
        let p2p_listen = format!("/ip4/127.0.0.1/tcp/{}", p2p[i - 1]);
        let api_listen = format!("127.0.0.1:{}", api[i - 1]);
        let mut args: Vec<String> = vec![
            "init".into(),
            "--home".into(),
            home.display().to_string(),
            "--moniker".into(),
            name.clone(),
            "--genesis".into(),
            genesis_tmp.display().to_string(),
            "--key".into(),
            member_keys[i - 1].display().to_string(),
            "--p2p-listen".into(),
            p2p_listen,
            "--api-listen".into(),
            api_listen,
        ];
        for (j, port) in p2p.iter().enumerate() {
            if j != i - 1 {
                args.push("--bootstrap".into());
                args.push(format!("/ip4/127.0.0.1/tcp/{port}"));
            }
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run_node_command(node_bin, &args)?;
        homes.push(read_home(&name, &home, node_member_id(i)?)?);
    }
    fs::rename(&genesis_tmp, &genesis_path).map_err(io(&genesis_path))?;
    Ok(Layout {
        dir: dir.to_owned(),
        genesis: genesis_path,
        chain_id: g.chain_id,
        homes,
        admin_keys,
        member_keys,
        created: true,
    })
}

fn resume(
    dir: &Path,
    nodes: usize,
    genesis_path: PathBuf,
    admin_keys: Vec<PathBuf>,
) -> Result<Layout, DevnetError> {
    let g = genesis::read(&genesis_path)?;
    let existing = g.members.len();
    if existing != nodes {
        return Err(DevnetError::Setup(format!(
            "{} holds a devnet of {existing} nodes; run with --nodes {existing} or use another --dir",
            dir.display()
        )));
    }
    let mut homes = Vec::new();
    let mut member_keys = Vec::new();
    for i in 1..=nodes {
        let home = dir.join(format!("node-{i}"));
        homes.push(read_home(&format!("node-{i}"), &home, node_member_id(i)?)?);
        member_keys.push(dir.join("keys").join(format!("node-{i}.json")));
    }
    Ok(Layout {
        dir: dir.to_owned(),
        genesis: genesis_path,
        chain_id: g.chain_id,
        homes,
        admin_keys,
        member_keys,
        created: false,
    })
}

/// Running node processes; stopped on drop if not stopped before.
#[derive(Debug)]
pub struct Processes {
    children: Vec<(String, Child)>,
}

impl Processes {
    /// The process ids, in node order.
    pub fn pids(&self) -> Vec<u32> {
        self.children.iter().map(|(_, c)| c.id()).collect()
    }

    /// Nodes that have exited, with their status.
    pub fn exited(&mut self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (name, child) in &mut self.children {
            if let Ok(Some(status)) = child.try_wait() {
                out.push((name.clone(), status.to_string()));
            }
        }
        out
    }

    /// SIGTERM to every node, then SIGKILL to those still running after [`STOP_GRACE`].
    /// Returns one line per node saying how it ended.
    pub fn stop(&mut self) -> Vec<String> {
        for (_, child) in &mut self.children {
            if let Ok(None) = child.try_wait() {
                if let Ok(pid) = i32::try_from(child.id()) {
                    let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
                }
            }
        }
        let deadline = Instant::now() + STOP_GRACE;
        let mut report = Vec::new();
        for (name, child) in &mut self.children {
            loop {
                match child.try_wait() {
                    Ok(Some(status)) => {
                        report.push(format!("{name}: stopped ({status})"));
                        break;
                    }
                    Ok(None) if Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(100))
                    }
                    _ => {
                        let _ = child.kill();
                        let _ = child.wait();
                        report.push(format!(
                            "{name}: did not stop within {STOP_GRACE:?} of SIGTERM; killed"
                        ));
                        break;
                    }
                }
            }
        }
        self.children.clear();
        report
    }
}

impl Drop for Processes {
    fn drop(&mut self) {
        if !self.children.is_empty() {
            self.stop();
        }
    }
}

/// Starts every node of the layout, logging to `HOME/node.log`.
pub fn start(layout: &Layout, node_bin: &Path) -> Result<Processes, DevnetError> {
    for h in &layout.homes {
        if NodeClient::new(&h.api, None)
            .map(|c| c.healthy())
            .unwrap_or(false)
        {
            return Err(DevnetError::Setup(format!(
                "{} already answers on {}: is this devnet already running? (see {}/devnet.json)",
                h.name,
                h.api,
                layout.dir.display()
            )));
        }
    }
    let mut processes = Processes {
        children: Vec::new(),
    };
    for h in &layout.homes {
        let log_path = h.home.join("node.log");
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(io(&log_path))?;
        let log2 = log.try_clone().map_err(io(&log_path))?;
        let child = Command::new(node_bin)
            .arg("start")
            .arg("--home")
            .arg(&h.home)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            // Own process group: a terminal's Ctrl-C reaches only `tongban`, which stops
            // the nodes in order.
            .process_group(0)
            .spawn()
            .map_err(io(node_bin))?;
        processes.children.push((h.name.clone(), child));
    }
    Ok(processes)
}

/// Writes `DIR/devnet.json`.
pub fn write_devnet_file(layout: &Layout, pids: &[u32]) -> Result<PathBuf, DevnetError> {
    let file = DevnetFile {
        genesis: layout.genesis.clone(),
        chain_id: layout.chain_id.clone(),
        nodes: layout
            .homes
            .iter()
            .zip(pids)
            .map(|(h, pid)| DevnetNode {
                name: h.name.clone(),
                api: h.api.clone(),
                token: h.token.clone(),
                home: h.home.clone(),
                pid: *pid,
                member_id: h.member_id.to_string(),
            })
            .collect(),
        admin_keys: layout.admin_keys.clone(),
        member_keys: layout.member_keys.clone(),
    };
    let path = layout.dir.join("devnet.json");
    let text =
        serde_json::to_string_pretty(&file).map_err(|e| DevnetError::Setup(e.to_string()))?;
    fs::write(&path, text + "\n").map_err(io(&path))?;
    Ok(path)
}

/// Reads a `devnet.json`.
pub fn read_devnet_file(path: &Path) -> Result<DevnetFile, DevnetError> {
    let text = fs::read_to_string(path).map_err(io(path))?;
    serde_json::from_str(&text).map_err(|e| DevnetError::Setup(format!("{}: {e}", path.display())))
}

/// Waits until every node answers and the chain has committed at least `min_height`.
pub fn wait_ready(
    homes: &[NodeHome],
    processes: &mut Processes,
    min_height: u64,
) -> Result<(), DevnetError> {
    let start = Instant::now();
    let clients: Vec<NodeClient> = homes
        .iter()
        .map(|h| NodeClient::new(&h.api, None))
        .collect::<Result<_, _>>()
        .map_err(|e| DevnetError::Setup(e.to_string()))?;
    loop {
        let exited = processes.exited();
        if !exited.is_empty() {
            let what: Vec<String> = exited
                .iter()
                .map(|(n, s)| format!("{n} exited ({s}); see its node.log"))
                .collect();
            return Err(DevnetError::NotReady(start.elapsed(), what.join("; ")));
        }
        let mut waiting = Vec::new();
        for (h, c) in homes.iter().zip(&clients) {
            match c.status() {
                Ok(s) if s.height >= min_height => {}
                Ok(s) => waiting.push(format!("{} at height {}", h.name, s.height)),
                Err(e) => waiting.push(format!("{}: {e}", h.name)),
            }
        }
        if waiting.is_empty() {
            return Ok(());
        }
        if start.elapsed() > READY_TIMEOUT {
            return Err(DevnetError::NotReady(READY_TIMEOUT, waiting.join("; ")));
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_ids_are_valid_and_distinct() -> Result<(), DevnetError> {
        let ids: Vec<MemberId> = (1..=MAX_DEVNET_NODES)
            .map(node_member_id)
            .collect::<Result<_, _>>()?;
        let mut sorted = ids.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), ids.len());
        Ok(())
    }

    #[test]
    fn free_ports_are_distinct_and_outside_the_ephemeral_range() -> Result<(), std::io::Error> {
        let mut ports = free_ports(8)?;
        ports.extend(free_ports(8)?);
        assert!(ports.iter().all(|p| LOCAL_PORTS.contains(p)), "{ports:?}");
        ports.sort_unstable();
        ports.dedup();
        assert_eq!(ports.len(), 16);
        Ok(())
    }
}
