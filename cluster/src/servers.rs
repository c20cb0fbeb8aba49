//! nats-server processes on loopback, for the tests and benchmarks: one node, or a JetStream
//! cluster whose nodes can be killed (SIGKILL) and started again on their own data.
//!
//! The binary is the release `cluster/nats-server.sh` installs (into `target/tools/`, on the
//! first use); `HCP_NATS_SERVER` names another one.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// When the servers write JetStream's files through to the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sync {
    /// Every message before it is acknowledged (`sync_interval: always`): an acknowledged
    /// block survives a power loss of every server, as a flushed batch of the embedded store
    /// survives its machine's.
    EveryWrite,
    /// nats-server's default (every two minutes): an acknowledged block survives the loss of
    /// servers short of a quorum, held in the memory of the others, not a power loss of all.
    Periodic,
}

/// A node of a running set.
struct Node {
    name: String,
    client_port: u16,
    config: PathBuf,
    process: Option<Child>,
}

/// nats-server nodes with JetStream, clustered when there are several. Dropping it kills them.
pub struct NatsServers {
    binary: PathBuf,
    nodes: Vec<Node>,
}

#[derive(Debug, thiserror::Error)]
pub enum ServersError {
    #[error("cannot install nats-server (cluster/nats-server.sh): {0}")]
    Install(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("nats-server {node} did not take connections within {seconds} s; see {log}")]
    NotReady {
        node: String,
        seconds: u64,
        log: String,
    },
}

/// The nats-server binary, installed when missing.
pub fn binary() -> Result<PathBuf, ServersError> {
    if let Ok(path) = std::env::var("HCP_NATS_SERVER") {
        return Ok(PathBuf::from(path));
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("nats-server.sh");
    let output = Command::new(&script)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|error| ServersError::Install(format!("{}: {error}", script.display())))?;
    if !output.status.success() {
        return Err(ServersError::Install(format!(
            "{} exited with {}",
            script.display(),
            output.status
        )));
    }
    let path = String::from_utf8_lossy(&output.stdout).trim().to_string();
    Ok(PathBuf::from(path))
}

fn free_port() -> Result<u16, ServersError> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl NatsServers {
    /// Starts `count` nodes (1, or a cluster of 3 or more) with their data in `dir`, and waits
    /// until each takes connections. The cluster elects its JetStream leaders on its own; a
    /// client retries until it has (see [`crate::Journal::connect`]).
    pub fn start(count: usize, dir: &Path) -> Result<NatsServers, ServersError> {
        NatsServers::start_with(count, dir, Sync::EveryWrite)
    }

    /// [`NatsServers::start`] with the servers' disk synchronisation chosen.
    pub fn start_with(count: usize, dir: &Path, sync: Sync) -> Result<NatsServers, ServersError> {
        let binary = binary()?;
        let sync = match sync {
            Sync::EveryWrite => "  sync_interval: always\n",
            Sync::Periodic => "",
        };
        let client_ports = (0..count)
            .map(|_| free_port())
            .collect::<Result<Vec<_>, _>>()?;
        let route_ports = (0..count)
            .map(|_| free_port())
            .collect::<Result<Vec<_>, _>>()?;
        let routes = route_ports
            .iter()
            .map(|port| format!("\"nats://127.0.0.1:{port}\""))
            .collect::<Vec<_>>()
            .join(", ");
        let mut nodes = Vec::with_capacity(count);
        for index in 0..count {
            let name = format!("n{}", index + 1);
            let data = dir.join(&name);
            std::fs::create_dir_all(&data)?;
            let cluster = if count > 1 {
                format!(
                    "cluster {{\n  name: hcp\n  listen: \"127.0.0.1:{}\"\n  routes: [{routes}]\n}}\n",
                    route_ports[index]
                )
            } else {
                String::new()
            };
            let config = dir.join(format!("{name}.conf"));
            std::fs::write(
                &config,
                format!(
                    "server_name: {name}\nlisten: \"127.0.0.1:{}\"\nmax_payload: 8MB\n\
                     log_file: \"{}\"\n\
                     jetstream {{\n  store_dir: \"{}\"\n  max_memory_store: 64MB\n  max_file_store: 8GB\n{sync}}}\n{cluster}",
                    client_ports[index],
                    dir.join(format!("{name}.log")).display(),
                    data.display(),
                ),
            )?;
            nodes.push(Node {
                name,
                client_port: client_ports[index],
                config,
                process: None,
            });
        }
        let mut servers = NatsServers { binary, nodes };
        for index in 0..count {
            servers.spawn(index)?;
        }
        for index in 0..count {
            servers.wait_ready(index)?;
        }
        Ok(servers)
    }

    fn spawn(&mut self, index: usize) -> Result<(), ServersError> {
        let node = &mut self.nodes[index];
        let child = Command::new(&self.binary)
            .arg("-c")
            .arg(&node.config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        node.process = Some(child);
        Ok(())
    }

    fn wait_ready(&self, index: usize) -> Result<(), ServersError> {
        let node = &self.nodes[index];
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", node.client_port)).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        Err(ServersError::NotReady {
            node: node.name.clone(),
            seconds: 20,
            log: node.config.with_extension("log").display().to_string(),
        })
    }

    /// Client URLs of every node, in order.
    pub fn urls(&self) -> Vec<String> {
        self.nodes
            .iter()
            .map(|node| format!("nats://127.0.0.1:{}", node.client_port))
            .collect()
    }

    /// The index of the node called `name` (`n1`, `n2`, …).
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|node| node.name == name)
    }

    /// Kills a node at once (SIGKILL): no goodbye to the cluster, nothing flushed.
    pub fn kill(&mut self, index: usize) -> Result<(), ServersError> {
        if let Some(mut child) = self.nodes[index].process.take() {
            child.kill()?;
            child.wait()?;
        }
        Ok(())
    }

    /// Starts a killed node again on its data, and waits until it takes connections.
    pub fn restart(&mut self, index: usize) -> Result<(), ServersError> {
        self.kill(index)?;
        self.spawn(index)?;
        self.wait_ready(index)
    }
}

impl Drop for NatsServers {
    fn drop(&mut self) {
        for index in 0..self.nodes.len() {
            let _ = self.kill(index);
        }
    }
}
