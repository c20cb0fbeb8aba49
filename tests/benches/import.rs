//! Import benchmark: `hcp import` of a CSV of ratings under the provincial field names into a
//! fresh release `hcp` data folder, as an operator cutting a city over would run it. Reports the
//! wall time, ratings per second, the store's disk (files, and keys and values) per rating and
//! the importer's peak RSS; then starts `hcp serve` on the imported store and reports the time
//! until `/healthz` answers, its RSS and the first metrics a supervisor opens. Speed is
//! reported, never asserted; the import's own summary must say every row was recorded before
//! anything is reported.
//!
//! `HCP_BENCH_IMPORT_ROWS` rows (default 1,000,000) over the last 180 days, spread over the
//! fixture county's hall (`seed`): five levels in the demo's mix, four channels, a third real
//! name, 差评 with indicator codes. Runs in `make bench`, or alone:
//! `cargo bench -p hcp-e2e --bench import`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write as _;
use std::time::{Duration, Instant};

use chrono::{Days, Utc};
use hcp_e2e::{Server, Session, binary, seed};

/// The demo's level mix: 非常满意 … 非常不满意, per thousand (provincial codes 5 … 1).
const MIX: [(u32, u32); 5] = [(5, 800), (4, 100), (3, 60), (2, 30), (1, 10)];

fn write_csv(path: &std::path::Path, rows: u64, department: &str) {
    let file = std::fs::File::create(path).unwrap();
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    writeln!(
        out,
        "projectNo,serviceNumber,assessNumber,taskCode,deptCode,areaCode,window,satisfaction,pf,evalDetail,writingEvaluation,assessTime,userProp,userName,mobile"
    )
    .unwrap();
    let today = Utc::now().date_naive();
    for row in 0..rows {
        let day = today - Days::new(1 + row % 180);
        let per_mille = (row.wrapping_mul(2_654_435_761) % 1000) as u32;
        let mut acc = 0;
        let satisfaction = MIX
            .iter()
            .find(|(_, share)| {
                acc += share;
                per_mille < acc
            })
            .map_or(5, |(code, _)| *code);
        let bad = satisfaction <= 2;
        let real = row % 3 == 0;
        writeln!(
            out,
            "P{row:010},1,1,T-QYSL,{department},410421,W-BF-01,{satisfaction},{pf},{detail},{text},{day} {hour:02}:{minute:02}:{second:02},1,{name},{mobile}",
            pf = 1 + row % 4,
            detail = if bad { "\"501,502\"" } else { "" },
            text = if bad { "等候时间太长" } else { "" },
            hour = 9 + row % 8,
            minute = row % 60,
            second = (row / 60) % 60,
            name = if real { "张三" } else { "" },
            mobile = if real { "13800138000" } else { "" },
        )
        .unwrap();
    }
    out.flush().unwrap();
}

/// A memory figure of a running process from its status (`VmHWM:` peak, `VmRSS:` current),
/// in bytes.
fn memory(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with(field))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn dir_size(path: &std::path::Path) -> u64 {
    std::fs::read_dir(path)
        .map(|entries| {
            entries
                .flatten()
                .map(|entry| match entry.metadata() {
                    Ok(meta) if meta.is_dir() => dir_size(&entry.path()),
                    Ok(meta) => meta.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

fn main() {
    let rows: u64 = std::env::var("HCP_BENCH_IMPORT_ROWS")
        .ok()
        .and_then(|value| value.replace('_', "").parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let binary = binary("release").unwrap();
    let data = dir.path().join("hcp");
    let server = Server::start(&binary, "serve", &data, None).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let password = server.admin_password().unwrap();
    let fixture = runtime.block_on(async {
        let admin = Session::login(&server.url, "admin", &password)
            .await
            .unwrap();
        seed(&admin).await.unwrap()
    });
    server.stop().unwrap();
    let csv = dir.path().join("ratings.csv");
    write_csv(&csv, rows, &fixture.department);
    let csv_bytes = std::fs::metadata(&csv).unwrap().len();
    let store_before = dir_size(&data.join("store"));

    let started = Instant::now();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut child = std::process::Command::new(&binary)
        .current_dir(&root)
        .args(["import", "--source", &fixture.source, "--kind", "ratings"])
        .args(["--format", "csv", "--batch", "5000", "--data"])
        .arg(&data)
        .arg(&csv)
        .env("HCP_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut rss = 0;
    while child.try_wait().unwrap().is_none() {
        rss = memory(child.id(), "VmHWM:").unwrap_or(rss).max(rss);
        std::thread::sleep(Duration::from_millis(100));
    }
    let seconds = started.elapsed().as_secs_f64();
    let output = child.wait_with_output().unwrap();
    let said = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(output.status.success(), "{said}");
    assert!(
        said.contains(&format!(
            "{rows} records: recorded: {rows}, duplicates: 0, refused: 0"
        )),
        "{said}"
    );
    let store = dir_size(&data.join("store")) - store_before;

    let stats = std::process::Command::new(&binary)
        .current_dir(&root)
        .args(["store", "stats", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    let stats = String::from_utf8_lossy(&stats.stdout).to_string();
    let logical: u64 = stats
        .lines()
        .find(|line| line.starts_with("keys and values:"))
        .and_then(|line| line.split_whitespace().nth(3))
        .and_then(|bytes| bytes.parse().ok())
        .unwrap_or(0);

    println!(
        "hcp import of {rows} ratings (CSV {:.1} MB, batches of 5,000):",
        csv_bytes as f64 / 1e6
    );
    println!(
        "  {seconds:.1} s, {:.0} ratings/s; store on disk {:.1} MB = {:.0} B per rating; keys and values {:.0} B per rating; importer peak RSS {:.0} MB",
        rows as f64 / seconds,
        store as f64 / 1e6,
        store as f64 / rows as f64,
        logical as f64 / rows as f64,
        rss as f64 / 1e6,
    );
    println!("{said}");
    println!("{stats}");
    restarted(&runtime, &binary, &data, &password, rows);
}

/// `hcp serve` on the imported store: the time until `/healthz` answers, the resident memory
/// once it serves, and the metrics a supervisor opens first (medians of 5).
fn restarted(
    runtime: &tokio::runtime::Runtime,
    binary: &std::path::Path,
    data: &std::path::Path,
    password: &str,
    rows: u64,
) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    let child = std::process::Command::new(binary)
        .current_dir(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .args(["--ops-listen", "127.0.0.1:0", "--data"])
        .arg(data)
        .env("HCP_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Stopped however this ends, a failed query included.
    let server = Stopped(child);
    let http = reqwest::Client::new();
    let up = runtime.block_on(async {
        loop {
            if let Ok(response) = http.get(format!("{url}/healthz")).send().await
                && response.status().is_success()
            {
                return started.elapsed();
            }
            assert!(
                started.elapsed() < Duration::from_secs(600),
                "hcp serve did not answer /healthz"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    let queries = runtime.block_on(async {
        let admin = Session::login(&url, "admin", password).await.unwrap();
        let today = Utc::now().date_naive();
        let month = today - Days::new(30);
        let quarter = today - Days::new(92);
        let half_year = today - Days::new(181);
        let mut timed = Vec::new();
        for (what, path) in [
            (
                "the county, the last 30 days",
                format!("/api/v1/stats?unit=410421&from={month}&to={today}"),
            ),
            (
                "the county by day, 93 days",
                format!("/api/v1/stats/days?unit=410421&from={quarter}&to={today}"),
            ),
            (
                "every window of the city, 181 days",
                format!("/api/v1/stats/children?unit=410400&of=window&from={half_year}&to={today}"),
            ),
        ] {
            let mut times = Vec::new();
            for _ in 0..5 {
                let begun = Instant::now();
                admin.get(&path).await.unwrap();
                times.push(begun.elapsed());
            }
            times.sort();
            timed.push((what, times[2]));
        }
        timed
    });
    let rss = memory(server.0.id(), "VmRSS:").unwrap_or(0);
    drop(server);
    println!(
        "hcp serve on the {rows} imported ratings: /healthz after {:.2} s, RSS {:.0} MB after the queries",
        up.as_secs_f64(),
        rss as f64 / 1e6
    );
    for (what, median) in queries {
        println!(
            "  metrics of {what}: {:.1} ms (median of 5)",
            median.as_secs_f64() * 1e3
        );
    }
}

/// A child process killed when dropped.
struct Stopped(std::process::Child);

impl Drop for Stopped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
