//! A throwaway PostgreSQL 15 cluster for the benchmarks that compare against it: installed
//! (Debian's) and started by `tests/benches/postgres.sh` on a free local port, stopped on drop.
//! The folder's ancestors must be readable by the `postgres` user (keep it under `target/`).

use std::path::{Path, PathBuf};

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/postgres.sh")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub struct Postgres {
    pub dir: PathBuf,
    port: u16,
}

impl Postgres {
    /// Starts the cluster in `dir` (created by initdb when empty) with the given
    /// `shared_buffers` and `work_mem`.
    pub fn start(dir: &Path, shared_buffers: &str, work_mem: &str) -> Postgres {
        let port = free_port();
        let status = std::process::Command::new("bash")
            .arg(script())
            .args(["start", &dir.display().to_string(), &port.to_string()])
            .args([shared_buffers, work_mem])
            .status()
            .unwrap();
        assert!(status.success(), "postgres.sh start failed");
        Postgres {
            dir: dir.to_path_buf(),
            port,
        }
    }

    pub fn connect(&self) -> postgres::Client {
        postgres::Client::connect(
            &format!(
                "host=127.0.0.1 port={} user=postgres dbname=postgres",
                self.port
            ),
            postgres::NoTls,
        )
        .unwrap()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = std::process::Command::new("bash")
            .arg(script())
            .args(["stop", &self.dir.display().to_string()])
            .status();
    }
}
