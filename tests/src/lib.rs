//! Helpers shared by the end-to-end tests and benchmarks: start the real `hcp` binary on a free
//! port and a data folder, sign in, create master data and sources over HTTP.
#![allow(clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use anyhow::{Context, bail};
use chrono::{DateTime, FixedOffset, TimeZone, Utc};
use serde_json::{Value, json};

/// The `hcp` binary under test: `$HCP_BIN`, else `target/<profile>/hcp` of this workspace.
/// The test command builds it first (`make test`).
pub fn binary(profile: &str) -> anyhow::Result<PathBuf> {
    if let Ok(path) = std::env::var("HCP_BIN") {
        return Ok(PathBuf::from(path));
    }
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let path = target.join(profile).join("hcp");
    if !path.exists() {
        bail!(
            "{} not found: build it first (`cargo build -p hcp-server --bin hcp`, done by `make test`)",
            path.display()
        );
    }
    Ok(path)
}

/// The repository's `rules/` folder.
pub fn rules_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules")
}

/// Runs `hcp ARGS --data DATA` (and `--config CONFIG` when given) from the repository root, as
/// an operator would: whether it succeeded, and what it wrote (stdout, then stderr).
pub fn run_hcp(
    args: &[&str],
    data: &Path,
    config: Option<&Path>,
) -> anyhow::Result<(bool, String)> {
    let mut command = Command::new(binary("debug")?);
    command
        .args(args)
        .arg("--data")
        .arg(data)
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."));
    if let Some(config) = config {
        command.arg("--config").arg(config);
    }
    let output = command.output()?;
    Ok((
        output.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    ))
}

/// A running `hcp` process.
pub struct Server {
    child: Child,
    pub url: String,
    /// The operations address (`/metrics`, `/readyz` with its detail), `--ops-listen`.
    pub ops_url: String,
    /// Every line the server printed on stdout before it was ready.
    pub banner: Vec<String>,
    /// Every line it logged (stderr), as it goes; also passed on to the test's own stderr.
    log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Starts `hcp <command> --listen 127.0.0.1:0 --ops-listen 127.0.0.1:0 --data <dir>` and
    /// waits for its URL.
    pub fn start(
        binary: &Path,
        command: &str,
        data: &Path,
        config: Option<&Path>,
    ) -> anyhow::Result<Server> {
        let mut process = Command::new(binary);
        process
            .arg(command)
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--ops-listen")
            .arg("127.0.0.1:0")
            .arg("--data")
            .arg(data)
            .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
            .env("HCP_LOG", "warn")
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(config) = config {
            process.arg("--config").arg(config);
        }
        let mut child = process
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let stdout = child.stdout.take().context("no stdout")?;
        let stderr = child.stderr.take().context("no stderr")?;
        let log: Arc<Mutex<Vec<String>>> = Arc::default();
        {
            let log = log.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    eprintln!("{line}");
                    if let Ok(mut log) = log.lock() {
                        log.push(line);
                    }
                }
            });
        }
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let mut banner = Vec::new();
        let mut url = None;
        let mut ops_url = None;
        // The banner ends with the listening line's companions; wait for the docs line.
        loop {
            match receiver.recv_timeout(Duration::from_secs(600)) {
                Ok(line) => {
                    if let Some(rest) = line.split("listening on ").nth(1) {
                        url = Some(rest.trim().to_string());
                    }
                    if let Some(rest) = line.split("operations: ").nth(1) {
                        ops_url = rest
                            .split("/metrics")
                            .next()
                            .map(|base| base.trim().to_string());
                    }
                    let done = line.contains("OpenAPI:");
                    banner.push(line);
                    if done {
                        break;
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    bail!("hcp did not become ready; it printed: {banner:?}");
                }
            }
        }
        // Lines printed right after (first administrator, demo notes) arrive promptly.
        while let Ok(line) = receiver.recv_timeout(Duration::from_millis(300)) {
            banner.push(line);
        }
        let url = url.context("no URL in the banner")?;
        let ops_url = ops_url.context("no operations address in the banner")?;
        Ok(Server {
            child,
            url,
            ops_url,
            banner,
            log,
        })
    }

    /// The lines logged so far.
    pub fn log(&self) -> Vec<String> {
        self.log.lock().map(|log| log.clone()).unwrap_or_default()
    }

    /// The password of the first administrator, printed once on an empty store.
    pub fn admin_password(&self) -> Option<String> {
        self.banner.iter().find_map(|line| {
            line.split("admin / ")
                .nth(1)
                .and_then(|rest| rest.split_whitespace().next())
                .map(String::from)
        })
    }

    /// The Prometheus text of `GET /metrics` on the operations address.
    pub async fn metrics(&self) -> anyhow::Result<String> {
        Ok(reqwest::get(format!("{}/metrics", self.ops_url))
            .await?
            .text()
            .await?)
    }

    /// `GET /readyz` on the operations address: the status and the detail.
    pub async fn readyz(&self) -> anyhow::Result<(u16, String)> {
        let response = reqwest::get(format!("{}/readyz", self.ops_url)).await?;
        let status = response.status().as_u16();
        Ok((status, response.text().await?))
    }

    /// Waits up to `timeout` for the process to end on its own; its exit status.
    pub fn wait_exit(&mut self, timeout: Duration) -> anyhow::Result<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            if std::time::Instant::now() >= deadline {
                bail!("hcp still runs after {timeout:?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILL: no shutdown code runs.
    pub fn kill(mut self) -> anyhow::Result<()> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }

    /// SIGTERM and wait for the graceful exit.
    pub fn stop(mut self) -> anyhow::Result<std::process::ExitStatus> {
        Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()?;
        Ok(self.child.wait()?)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP client signed in as a user.
pub struct Session {
    pub client: reqwest::Client,
    pub url: String,
    pub token: String,
}

impl Session {
    pub async fn login(url: &str, username: &str, password: &str) -> anyhow::Result<Session> {
        let client = reqwest::Client::new();
        let response = client
            .post(format!("{url}/api/v1/auth/login"))
            .json(&json!({"username": username, "password": password}))
            .send()
            .await?;
        if !response.status().is_success() {
            bail!("login as {username} failed: {}", response.status());
        }
        let body: Value = response.json().await?;
        let token = body["token"].as_str().context("no token")?.to_string();
        Ok(Session {
            client,
            url: url.to_string(),
            token,
        })
    }

    /// Any request; the status and the raw body.
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<(reqwest::StatusCode, String)> {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await?;
        let status = response.status();
        Ok((status, response.text().await?))
    }

    /// A request that must succeed; its JSON body.
    async fn expect_success(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<Value> {
        let (status, text) = self.send(method.clone(), path, body).await?;
        if !status.is_success() {
            bail!("{method} {path}: {status} {text}");
        }
        serde_json::from_str(&text).with_context(|| format!("{method} {path}: not JSON: {text}"))
    }

    /// A request of any outcome; the status and the JSON body (`null` when there is none).
    async fn attempt(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<(u16, Value)> {
        let (status, text) = self.send(method, path, body).await?;
        Ok((
            status.as_u16(),
            serde_json::from_str(&text).unwrap_or(Value::Null),
        ))
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.expect_success(reqwest::Method::GET, path, None).await
    }

    /// Every item of a list endpoint (`{items, next_cursor}`), following `next_cursor` through
    /// all pages, as one JSON array.
    pub async fn get_list(&self, path: &str) -> anyhow::Result<Value> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        let separator = if path.contains('?') { '&' } else { '?' };
        loop {
            let page = match &cursor {
                Some(cursor) => {
                    self.get(&format!("{path}{separator}cursor={cursor}"))
                        .await?
                }
                None => self.get(path).await?,
            };
            items.extend(page["items"].as_array().cloned().context("not a page")?);
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_string()),
                None => return Ok(Value::Array(items)),
            }
        }
    }

    /// A GET that must succeed; its body as text (a page, a report).
    pub async fn get_text(&self, path: &str) -> anyhow::Result<String> {
        let (status, text) = self.send(reqwest::Method::GET, path, None).await?;
        if !status.is_success() {
            bail!("GET {path}: {status} {text}");
        }
        Ok(text)
    }

    pub async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        self.expect_success(reqwest::Method::POST, path, Some(body))
            .await
    }

    pub async fn put(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        self.expect_success(reqwest::Method::PUT, path, Some(body))
            .await
    }

    /// A PUT that may be refused: the status and the JSON body (`null` when there is none).
    pub async fn try_put(&self, path: &str, body: &Value) -> anyhow::Result<(u16, Value)> {
        self.attempt(reqwest::Method::PUT, path, Some(body)).await
    }

    /// A GET that may be refused: the status and the JSON body (`null` when there is none).
    pub async fn try_get(&self, path: &str) -> anyhow::Result<(u16, Value)> {
        self.attempt(reqwest::Method::GET, path, None).await
    }

    /// A POST that may be refused: the status and the JSON body (`null` when there is none).
    pub async fn try_post(&self, path: &str, body: &Value) -> anyhow::Result<(u16, Value)> {
        self.attempt(reqwest::Method::POST, path, Some(body)).await
    }

    /// Creates a user (as this administrator) and signs them in.
    pub async fn create_user(
        &self,
        username: &str,
        role: &str,
        scope: &str,
    ) -> anyhow::Result<Session> {
        const PASSWORD: &str = "correct horse battery";
        self.post(
            "/api/v1/admin/users",
            &json!({"username": username, "display_name": username, "role": role,
                "scope": scope, "password": PASSWORD}),
        )
        .await?;
        Session::login(&self.url, username, PASSWORD).await
    }

    /// Moves the manual clock (`[clock] manual_start`) to `at`.
    pub async fn set_clock(&self, at: DateTime<Utc>) -> anyhow::Result<()> {
        self.post("/api/v1/admin/clock", &json!({"at": at})).await?;
        Ok(())
    }

    /// Moves the manual clock to `at` and sweeps as of it; the sweep's report.
    pub async fn sweep_at(&self, at: DateTime<Utc>) -> anyhow::Result<Value> {
        self.set_clock(at).await?;
        self.post("/api/v1/admin/sweep", &json!({"as_of": at}))
            .await
    }
}

/// 统一社会信用代码 check character (GB 32100), for building valid department codes.
pub fn credit_code(first17: &str) -> String {
    const CHARSET: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";
    const WEIGHTS: [usize; 17] = [
        1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
    ];
    let sum: usize = first17
        .chars()
        .zip(WEIGHTS)
        .map(|(ch, weight)| CHARSET.find(ch).expect("charset") * weight)
        .sum();
    let check = CHARSET.chars().nth((31 - sum % 31) % 31).expect("check");
    format!("{first17}{check}")
}

/// Minimal master data for a county of the root 410400, and a source scoped to it.
pub struct Fixture {
    pub department: String,
    pub source: String,
    pub api_key: String,
}

impl Fixture {
    /// Posts to the fixture's source (`ratings`, `service-events`) with its key, on the server at
    /// `url`; the status and the JSON body (`null` when there is none).
    pub async fn ingest(
        &self,
        url: &str,
        kind: &str,
        body: &Value,
    ) -> anyhow::Result<(u16, Value)> {
        let response = reqwest::Client::new()
            .post(format!("{url}/api/v1/sources/{}/{kind}", self.source))
            .header("x-api-key", &self.api_key)
            .json(body)
            .send()
            .await?;
        let status = response.status().as_u16();
        Ok((status, response.json().await.unwrap_or(Value::Null)))
    }
}

/// The credit code of department `letter` of 宝丰县: `A` is the [`Fixture`]'s, B and C are the
/// ones [`start_november`] adds.
pub fn department(letter: char) -> String {
    credit_code(&format!(
        "11410421MB000000{}",
        letter as u32 - 'A' as u32 + 1
    ))
}

/// Creates 宝丰县, a department, a hall with a window, an item and an ingest source.
pub async fn seed(admin: &Session) -> anyhow::Result<Fixture> {
    let department = department('A');
    let records = [
        json!({"kind": "org_unit", "record": {"id": "410421", "kind": "county", "name": "宝丰县", "parent": "410400"}}),
        json!({"kind": "org_unit", "record": {"id": department, "kind": "department", "name": "宝丰县市场监督管理局", "parent": "410421"}}),
        json!({"kind": "org_unit", "record": {"id": "H-BF", "kind": "hall", "name": "宝丰县政务服务中心", "parent": "410421"}}),
        json!({"kind": "org_unit", "record": {"id": "W-BF-01", "kind": "window", "name": "综合窗口1", "parent": "H-BF", "department": department, "has_device": true}}),
        json!({"kind": "item", "record": {"task_code": "T-QYSL", "name": "企业设立登记", "department": department, "task_type": "行政许可"}}),
    ];
    for record in &records {
        admin.post("/api/v1/admin/master", record).await?;
    }
    let issued = admin
        .post(
            "/api/v1/admin/sources",
            &json!({"id": "bf-devices", "name": "宝丰评价器", "scope": "410421"}),
        )
        .await?;
    Ok(Fixture {
        department,
        source: "bf-devices".into(),
        api_key: issued["api_key"]
            .as_str()
            .context("no api key")?
            .to_string(),
    })
}

/// Creates 叶县 (410422) beside the [`Fixture`]'s 宝丰县, under the same root: a department, hall
/// H-YX with window W-YX-01, item T-YX and the ingest source `yx-devices`. What a 宝丰县 user
/// must not reach.
pub async fn seed_other_county(admin: &Session) -> anyhow::Result<Fixture> {
    let department = credit_code("11410422MB0000001");
    let records = [
        json!({"kind": "org_unit", "record": {"id": "410422", "kind": "county", "name": "叶县", "parent": "410400"}}),
        json!({"kind": "org_unit", "record": {"id": department, "kind": "department", "name": "叶县市场监督管理局", "parent": "410422"}}),
        json!({"kind": "org_unit", "record": {"id": "H-YX", "kind": "hall", "name": "叶县政务服务中心", "parent": "410422"}}),
        json!({"kind": "org_unit", "record": {"id": "W-YX-01", "kind": "window", "name": "综合窗口1", "parent": "H-YX", "department": department, "has_device": true}}),
        json!({"kind": "item", "record": {"task_code": "T-YX", "name": "食品经营许可", "department": department, "task_type": "行政许可"}}),
    ];
    for record in &records {
        admin.post("/api/v1/admin/master", record).await?;
    }
    let issued = admin
        .post(
            "/api/v1/admin/sources",
            &json!({"id": "yx-devices", "name": "叶县评价器", "scope": "410422"}),
        )
        .await?;
    Ok(Fixture {
        department,
        source: "yx-devices".into(),
        api_key: issued["api_key"]
            .as_str()
            .context("no api key")?
            .to_string(),
    })
}

/// A debug-build `hcp serve` signed into as the first administrator, with the [`Fixture`]
/// seeded; its folder (config, data) lives as long as this.
pub struct Seeded {
    pub server: Server,
    pub admin: Session,
    pub fixture: Fixture,
    /// The server's data folder, `<dir>/data`.
    pub data: PathBuf,
    pub dir: tempfile::TempDir,
}

/// Writes `text` as `<dir>/hcp.toml`; its path.
pub fn write_config(dir: &Path, text: &str) -> anyhow::Result<PathBuf> {
    let config = dir.join("hcp.toml");
    std::fs::write(&config, text)?;
    Ok(config)
}

/// The abuse limits of the end-to-end tests, unless a test sets its own `[limits]`: the tests
/// post and read from one address far faster than a citizen, and read their own writes on the
/// public pages at once, which the platform's cache of public answers would serve stale for
/// a minute. `tests/tests/abuse.rs` checks the limits and the cache themselves.
pub const TEST_LIMITS: &str = "\n[limits]\npublic_posts_per_minute = 100000\npublic_reads_per_minute = 100000\npublic_cache_entries = 0\n";

/// Appends [`TEST_LIMITS`] to the config file at `config` unless it has a `[limits]` table.
fn with_test_limits(config: &Path) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(config)?;
    if !text.contains("[limits]") {
        std::fs::write(config, text + TEST_LIMITS)?;
    }
    Ok(())
}

/// [`start_seeded_in`] a fresh folder, with `config` as its `hcp.toml`.
pub async fn start_seeded(config: &str) -> anyhow::Result<Seeded> {
    let dir = tempfile::tempdir()?;
    let config = write_config(dir.path(), config)?;
    start_seeded_in(dir, &config).await
}

/// Starts `hcp serve --config <config> --data <dir>/data`, signs in as the first administrator
/// and seeds the [`Fixture`]. What start-up must find goes in `dir` first: a rules copy
/// ([`rules_copy`]), adapters in `<dir>/data/plugins/`.
pub async fn start_seeded_in(dir: tempfile::TempDir, config: &Path) -> anyhow::Result<Seeded> {
    with_test_limits(config)?;
    let data = dir.path().join("data");
    let server = Server::start(&binary("debug")?, "serve", &data, Some(config))?;
    let password = server
        .admin_password()
        .context("no first administrator in the banner")?;
    let admin = Session::login(&server.url, "admin", &password).await?;
    let fixture = seed(&admin).await?;
    Ok(Seeded {
        server,
        admin,
        fixture,
        data,
        dir,
    })
}

impl Seeded {
    /// Posts `items` to the fixture's source (`ratings`, `service-events`); fails unless every
    /// one is recorded.
    pub async fn ingest_all(&self, kind: &str, items: Vec<Value>) -> anyhow::Result<()> {
        let (status, body) = self
            .fixture
            .ingest(&self.server.url, kind, &json!(items))
            .await?;
        if status != 200 || body["rejected"] != 0 {
            bail!("{kind}: {status} {body}");
        }
        Ok(())
    }
}

/// One user of each role a 差评's work order needs.
pub struct Roles {
    pub handler: Session,
    /// Of 宝丰县.
    pub supervisor: Session,
    /// Of the city: outside the county's departments.
    pub reviewer: Session,
    /// Of 宝丰县.
    pub agent: Session,
}

impl Roles {
    /// Creates them, in this order: the department handler `handler` of `handler_scope`, then
    /// `supervisor`, `reviewer` and `agent`.
    pub async fn create(
        admin: &Session,
        handler: &str,
        handler_scope: &str,
    ) -> anyhow::Result<Roles> {
        Ok(Roles {
            handler: admin
                .create_user(handler, "department_handler", handler_scope)
                .await?,
            supervisor: admin
                .create_user("supervisor", "supervisor", "410421")
                .await?,
            reviewer: admin.create_user("reviewer", "reviewer", "410400").await?,
            agent: admin
                .create_user("agent", "callback_agent", "410421")
                .await?,
        })
    }
}

/// A hand-built November of 宝丰县: [`start_seeded`] on the manual clock from Monday 2026-11-02
/// 10:00 ([`manual_clock_config`]), with departments B and C ([`department`]) beside the
/// fixture's: department `<letter>` is named `<name_prefix><letter>`, its window `W-BF-0<letter>`
/// (窗口<letter>, in hall H-BF) also gets the fields of `window(letter)` (how it is rated:
/// `{"has_device": true}`), and its item is `T-<letter>` (事项<letter>).
pub async fn start_november(
    name_prefix: &str,
    window: impl Fn(char) -> Value,
) -> anyhow::Result<Seeded> {
    let dir = tempfile::tempdir()?;
    let config = write_config(dir.path(), &manual_clock_config(beijing(11, 2, 10)))?;
    start_november_in(dir, &config, name_prefix, window).await
}

/// [`start_november`] from a folder prepared as [`start_seeded_in`] takes it, with `config` as
/// its `hcp.toml`: [`manual_clock_config`] from Monday 2026-11-02 10:00 and whatever a test
/// adds to it.
pub async fn start_november_in(
    dir: tempfile::TempDir,
    config: &Path,
    name_prefix: &str,
    window: impl Fn(char) -> Value,
) -> anyhow::Result<Seeded> {
    let seeded = start_seeded_in(dir, config).await?;
    for letter in ['B', 'C'] {
        let id = department(letter);
        let mut window_record = json!({"id": format!("W-BF-0{letter}"), "kind": "window",
            "name": format!("窗口{letter}"), "parent": "H-BF", "department": id});
        if let (Some(record), Value::Object(fields)) =
            (window_record.as_object_mut(), window(letter))
        {
            record.extend(fields);
        }
        for record in [
            json!({"kind": "org_unit", "record": {"id": id, "kind": "department", "name": format!("{name_prefix}{letter}"), "parent": "410421"}}),
            json!({"kind": "org_unit", "record": window_record}),
            json!({"kind": "item", "record": {"task_code": format!("T-{letter}"), "name": format!("事项{letter}"), "department": id, "task_type": "行政许可"}}),
        ] {
            seeded.admin.post("/api/v1/admin/master", &record).await?;
        }
    }
    Ok(seeded)
}

/// An instant of 2026, the year of every hand-built dataset, on the China clock (UTC+8).
pub fn beijing_at(month: u32, day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
    FixedOffset::east_opt(8 * 3600)
        .and_then(|china| {
            china
                .with_ymd_and_hms(2026, month, day, hour, minute, 0)
                .single()
        })
        .expect("an instant of 2026")
        .with_timezone(&Utc)
}

/// [`beijing_at`] on the hour.
pub fn beijing(month: u32, day: u32, hour: u32) -> DateTime<Utc> {
    beijing_at(month, day, hour, 0)
}

/// The config of a hand-built month: the manual clock from `start`, no background sweep,
/// sessions that outlive the clock's moves (a year), and the fixture's source granted the
/// platform's own channels ([`PLATFORM_CHANNELS_GRANTED`]).
pub fn manual_clock_config(start: DateTime<Utc>) -> String {
    format!(
        "[clock]\nmanual_start = \"{}\"\n[workflow]\nsweep_secs = 0\n[security]\ntoken_hours = 8760\nidle_minutes = 525600\n{PLATFORM_CHANNELS_GRANTED}",
        start.to_rfc3339()
    )
}

/// A hand-built month records ratings of every channel through the fixture's source: its
/// default ratings, phone and SMS ratings stand in for the platform's own, which only a source
/// granted those channels may report (`[ingest] channel_owners`).
pub const PLATFORM_CHANNELS_GRANTED: &str =
    "[ingest]\nchannel_owners = { bf-devices = [\"system_default\", \"phone\", \"sms\"] }\n";

/// A service act `project`#1 (受理, accepted) of 宝丰县 at a window, for an item of a department,
/// on Monday 2026-11-02 at 09:00: the services of the hand-built Novembers.
pub fn november_service(project: &str, (window, department, task): (&str, &str, &str)) -> Value {
    json!({
        "event_id": format!("svc-{project}"), "project_no": project, "task_code": task,
        "department": department, "area_code": "410421", "service_number": 1, "service_name": "受理",
        "status": "accepted", "occurred_at": beijing(11, 2, 9), "window": window,
    })
}

/// The first rating of [`november_service`] `project`, half an hour after it, from the hall
/// device and naming no indicator: real-name (phone 13900001111) or anonymous.
pub fn november_rating(
    project: &str,
    (window, department, task): (&str, &str, &str),
    level: &str,
    real_name: bool,
) -> Value {
    json!({
        "event_id": format!("r-{project}"), "project_no": project, "service_number": 1,
        "task_code": task, "department": department, "area_code": "410421", "window": window,
        "level": level, "channel": "hall_device", "indicators": [],
        "evaluator": if real_name { json!({"real_name": true, "phone": "13900001111"}) } else { json!({"real_name": false}) },
        "rated_at": beijing(11, 2, 9) + chrono::Duration::minutes(30),
    })
}

/// A canonical rating of service act `project_no`#1 at window W-BF-01.
pub fn rating(fixture: &Fixture, event_id: &str, project_no: &str, phone: &str) -> Value {
    json!({
        "event_id": event_id,
        "project_no": project_no,
        "service_number": 1,
        "task_code": "T-QYSL",
        "department": fixture.department,
        "area_code": "410421",
        "window": "W-BF-01",
        "level": "very_satisfied",
        "channel": "hall_device",
        "evaluator": {"real_name": true, "phone": phone},
        "rated_at": chrono::Utc::now().to_rfc3339(),
    })
}

/// A reference adapter or hostile guest built by `make adapters`.
pub fn adapter(name: &str) -> anyhow::Result<PathBuf> {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../target/adapters/{name}.wasm"));
    if !path.exists() {
        bail!(
            "{} not found: build the adapters first (`make adapters`, part of `make test`)",
            path.display()
        );
    }
    Ok(path)
}

/// Puts the reference adapter `name` into the plugins folder of the data folder `<dir>/data`.
pub fn install_adapter(dir: &Path, name: &str) -> anyhow::Result<()> {
    let plugins = dir.join("data/plugins");
    std::fs::create_dir_all(&plugins)?;
    std::fs::copy(adapter(name)?, plugins.join(format!("{name}.wasm")))?;
    Ok(())
}

/// An answer's status, `Retry-After` and JSON body (`null` when there is none).
pub async fn answer_of(response: reqwest::Response) -> (u16, Option<String>, Value) {
    let status = response.status().as_u16();
    let retry = response
        .headers()
        .get("retry-after")
        .and_then(|value| value.to_str().ok())
        .map(str::to_string);
    (status, retry, response.json().await.unwrap_or(Value::Null))
}

/// The same component with a custom section appended: identical behaviour, different bytes and
/// sha256 — a stand-in for a vendor's rebuild when testing replacement.
pub fn with_custom_section(component: &[u8], name: &str, payload: &[u8]) -> Vec<u8> {
    fn leb128(mut value: usize, out: &mut Vec<u8>) {
        loop {
            let byte = (value & 0x7f) as u8;
            value >>= 7;
            if value == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }
    let mut content = Vec::new();
    leb128(name.len(), &mut content);
    content.extend_from_slice(name.as_bytes());
    content.extend_from_slice(payload);
    let mut out = component.to_vec();
    out.push(0);
    leb128(content.len(), &mut out);
    out.extend_from_slice(&content);
    out
}

/// CRC-16/CCITT-FALSE, as the HX-PJ200 frames carry it.
pub fn crc16_ccitt(bytes: &[u8]) -> u16 {
    let mut crc: u16 = 0xffff;
    for byte in bytes {
        crc ^= u16::from(*byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

fn str8(out: &mut Vec<u8>, text: &str) {
    out.push(u8::try_from(text.len()).expect("short string"));
    out.extend_from_slice(text.as_bytes());
}

fn hx_frame(kind: u8, sequence: u32, device: &str, body: &[u8]) -> Vec<u8> {
    let mut checked = vec![1, kind];
    checked.extend_from_slice(&sequence.to_be_bytes());
    str8(&mut checked, device);
    checked.extend_from_slice(body);
    let mut frame = vec![0xa5, 0x5a];
    frame.extend_from_slice(&checked);
    frame.extend_from_slice(&crc16_ccitt(&checked).to_be_bytes());
    frame
}

/// An HX-PJ200 rating frame (see adapters/hx-pj200/README.md). `level` uses the device's
/// numbering, 1 = 非常满意 … 5 = 非常不满意.
pub fn hx_rating_frame(
    sequence: u32,
    device: &str,
    unix: u32,
    level: u8,
    project_no: &str,
    task_code: &str,
    comment: &str,
) -> Vec<u8> {
    let mut body = unix.to_be_bytes().to_vec();
    body.push(level);
    body.push(0);
    body.extend_from_slice(
        &u16::try_from(comment.len())
            .expect("short comment")
            .to_be_bytes(),
    );
    body.extend_from_slice(comment.as_bytes());
    str8(&mut body, project_no);
    str8(&mut body, task_code);
    body.push(1);
    str8(&mut body, "");
    body.push(1);
    str8(&mut body, "13812341234");
    hx_frame(1, sequence, device, &body)
}

/// An HX-PJ200 heartbeat frame.
pub fn hx_heartbeat_frame(sequence: u32, device: &str, unix: u32, ratings_total: u32) -> Vec<u8> {
    let mut body = unix.to_be_bytes().to_vec();
    body.extend_from_slice(&ratings_total.to_be_bytes());
    str8(&mut body, "PJ200-1.4.2");
    hx_frame(2, sequence, device, &body)
}

/// A ZW-E7 upload with one record (see adapters/zw-e7/README.md); `score` 1 = 非常满意.
pub fn zw_payload(
    device: &str,
    record_id: &str,
    project_no: &str,
    task_code: &str,
    score: u8,
) -> Value {
    let now = (chrono::Utc::now() + chrono::Duration::hours(8))
        .format("%Y-%m-%d %H:%M:%S")
        .to_string();
    json!({
        "deviceSn": device,
        "records": [{
            "recId": record_id,
            "evalTime": now,
            "score": score,
            "tags": if score >= 4 { json!(["510"]) } else { json!([]) },
            "bizNo": project_no,
            "itemCode": task_code,
            "serviceNo": 1,
            "realName": false
        }]
    })
}

/// Polls `check` every 50 ms until it holds or `timeout` passes (for watchers that run on
/// their own thread in another process; never a fixed sleep).
pub async fn wait_until<F, Fut>(timeout: Duration, mut check: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + timeout;
    while std::time::Instant::now() < deadline {
        if check().await {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("condition not met within {timeout:?}")
}

/// Copies a folder recursively (tests edit a copy of `rules/`, never the repository's).
pub fn copy_dir(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

/// A copy of the repository's rules in `dir/rules` and a config file pointing at it.
pub fn rules_copy(dir: &Path) -> anyhow::Result<(PathBuf, PathBuf)> {
    let rules = dir.join("rules");
    copy_dir(&rules_dir(), &rules)?;
    let config = dir.join("hcp.toml");
    std::fs::write(
        &config,
        format!("rules_dir = {:?}\n", rules.display().to_string()),
    )?;
    Ok((rules, config))
}

impl Session {
    /// The id of the first rating of service act `project`#1.
    pub async fn first_rating(&self, project: &str) -> anyhow::Result<u64> {
        let case = self.get(&format!("/api/v1/cases/{project}")).await?;
        case["services"][0]["ratings"][0]
            .as_u64()
            .with_context(|| format!("no rating of {project}: {case}"))
    }

    /// The 差评 work order of rating `rating`, from the first 500 such orders.
    pub async fn bad_review_order(&self, rating: u64) -> anyhow::Result<Value> {
        let page = self.get("/api/v1/orders?kind=bad_review&limit=500").await?;
        page["items"]
            .as_array()
            .and_then(|orders| orders.iter().find(|order| order["rating_id"] == rating))
            .cloned()
            .with_context(|| format!("no order for rating {rating}: {page}"))
    }

    /// The id of the 差评 work order of the first rating of service act `project`#1.
    pub async fn order_of(&self, project: &str) -> anyhow::Result<u64> {
        let rating = self.first_rating(project).await?;
        self.bad_review_order(rating).await?["id"]
            .as_u64()
            .with_context(|| format!("no id of the order for {project}"))
    }

    /// Takes `steps` on work order `order`, in turn; each must succeed.
    pub async fn steps(&self, order: u64, steps: &[Value]) -> anyhow::Result<()> {
        for step in steps {
            self.post(&format!("/api/v1/orders/{order}/actions"), step)
                .await?;
        }
        Ok(())
    }

    /// Every rating a `/api/v1/ratings` query lists, following the cursor through all pages.
    pub async fn all_ratings(&self, query: &str) -> anyhow::Result<Vec<Value>> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut path = format!("/api/v1/ratings?{query}&limit=500");
            if let Some(cursor) = &cursor {
                path.push_str(&format!("&cursor={cursor}"));
            }
            let page = self.get(&path).await?;
            items.extend(page["items"].as_array().cloned().unwrap_or_default());
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_string()),
                None => return Ok(items),
            }
        }
    }
}

/// Event id → rating id of listed ratings; fails if an event or an id is listed twice.
pub fn by_event_id(items: &[Value]) -> anyhow::Result<std::collections::BTreeMap<String, u64>> {
    let mut stored = std::collections::BTreeMap::new();
    let mut ids = std::collections::BTreeSet::new();
    for item in items {
        let event = item["event_id"]
            .as_str()
            .context("no event id")?
            .to_string();
        let id = item["id"].as_u64().context("no id")?;
        if !ids.insert(id) {
            bail!("rating id {id} listed twice");
        }
        if stored.insert(event.clone(), id).is_some() {
            bail!("{event} stored twice");
        }
    }
    Ok(stored)
}

/// One request the [`SmsGateway`] received.
#[derive(Debug, Clone)]
pub struct SmsRequest {
    pub authorization: Option<String>,
    /// The JSON body (`null` when it was none).
    pub body: Value,
}

#[derive(Default)]
struct GatewayState {
    received: Vec<SmsRequest>,
    /// Requests still to answer with 500.
    fail_next: u32,
    /// Answers to give next, before anything else.
    scripted: std::collections::VecDeque<Scripted>,
    /// How long each answer waits.
    delay: Duration,
}

/// An answer of the [`SmsGateway`]: status (code and reason), headers, body.
type Scripted = (String, Vec<(String, String)>, String);

/// A certificate authority made for one test and a server certificate it signed for 127.0.0.1
/// and `localhost`: what the TLS stand-ins serve, and what a test trusts (`ca_file`) or not.
pub struct TestCa {
    /// The CA certificate, PEM.
    pub ca_pem: String,
    server: Arc<rustls::ServerConfig>,
}

impl TestCa {
    pub fn generate() -> anyhow::Result<TestCa> {
        let ca_key = rcgen::KeyPair::generate()?;
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new())?;
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "hcp test CA");
        let ca = ca_params.self_signed(&ca_key)?;
        let key = rcgen::KeyPair::generate()?;
        let leaf = rcgen::CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()])?
            .signed_by(&key, &ca, &ca_key)?;
        // The one crypto provider built in (ring) is the process's default.
        let server = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(
                vec![leaf.der().clone()],
                rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
            )?;
        Ok(TestCa {
            ca_pem: ca.pem(),
            server: Arc::new(server),
        })
    }

    /// Writes the CA certificate to `<dir>/ca.pem`; its path.
    pub fn write_ca(&self, dir: &Path) -> anyhow::Result<PathBuf> {
        let path = dir.join("ca.pem");
        std::fs::write(&path, &self.ca_pem)?;
        Ok(path)
    }
}

/// A stand-in for the SMS gateway the platform posts to: a real HTTP server on a local socket,
/// on its own thread (the platform's sender blocks), that keeps every request and answers
/// `200 {"id":"gw-<n>"}` (the n-th request), or 500 while told to fail.
pub struct SmsGateway {
    url: String,
    state: Arc<Mutex<GatewayState>>,
}

impl SmsGateway {
    /// Listens on a free port of 127.0.0.1.
    pub fn start() -> anyhow::Result<SmsGateway> {
        SmsGateway::listen(None)
    }

    /// Listens on a free port of 127.0.0.1 over TLS, with a certificate of `ca`: an `https://`
    /// URL. A client that does not trust `ca` fails its handshake, and nothing is received.
    pub fn start_tls(ca: &TestCa) -> anyhow::Result<SmsGateway> {
        SmsGateway::listen(Some(ca.server.clone()))
    }

    fn listen(tls: Option<Arc<rustls::ServerConfig>>) -> anyhow::Result<SmsGateway> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        let url = format!("{scheme}://{}/sms/send", listener.local_addr()?);
        let state = Arc::new(Mutex::new(GatewayState::default()));
        let shared = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                if stream
                    .set_read_timeout(Some(Duration::from_secs(30)))
                    .is_err()
                {
                    continue;
                }
                match &tls {
                    None => {
                        let mut stream = stream;
                        SmsGateway::answer(&mut stream, &shared);
                    }
                    Some(config) => {
                        let Ok(connection) = rustls::ServerConnection::new(config.clone()) else {
                            continue;
                        };
                        let mut stream = rustls::StreamOwned::new(connection, stream);
                        SmsGateway::answer(&mut stream, &shared);
                        stream.conn.send_close_notify();
                        let _ = stream.flush();
                    }
                }
            }
        });
        Ok(SmsGateway { url, state })
    }

    /// Gives `status` (a status line's code and reason), the `headers` and `body` as the next
    /// answer, before anything else.
    pub fn answer_next(&self, status: &str, headers: &[(&str, &str)], body: &str) {
        self.state
            .lock()
            .expect("gateway state")
            .scripted
            .push_back((
                status.to_string(),
                headers
                    .iter()
                    .map(|(name, value)| (name.to_string(), value.to_string()))
                    .collect(),
                body.to_string(),
            ));
    }

    /// A gateway that never answers: it takes each connection and drops it unread, so every
    /// call fails without an answer. It holds its port, so no other server of a parallel test
    /// can take it over and answer in its place (which a port merely let go allowed).
    pub fn closed() -> anyhow::Result<SmsGateway> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let url = format!("http://{}/sms/send", listener.local_addr()?);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                drop(stream);
            }
        });
        Ok(SmsGateway {
            url,
            state: Arc::default(),
        })
    }

    /// The URL to configure as `[messages] gateway_url`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Answers the next `count` requests with 500.
    pub fn fail_next(&self, count: u32) {
        self.state.lock().expect("gateway state").fail_next = count;
    }

    /// Waits `delay` before each answer from now on (slow below the platform's time limit,
    /// hanging above it: the request is kept as received either way).
    pub fn delay(&self, delay: Duration) {
        self.state.lock().expect("gateway state").delay = delay;
    }

    /// Every request received so far, in order, failed ones included.
    pub fn received(&self) -> Vec<SmsRequest> {
        self.state.lock().expect("gateway state").received.clone()
    }

    /// The bodies received so far with this `purpose`.
    pub fn of_purpose(&self, purpose: &str) -> Vec<Value> {
        self.received()
            .into_iter()
            .map(|request| request.body)
            .filter(|body| body["purpose"] == purpose)
            .collect()
    }

    /// Reads one request, keeps it and answers; a request cut short is dropped unanswered.
    fn answer(stream: &mut (impl Read + Write), state: &Mutex<GatewayState>) {
        let Ok((authorization, body)) = SmsGateway::read_request(stream) else {
            return;
        };
        let (status, headers, answer, delay) = {
            let mut state = state.lock().expect("gateway state");
            state.received.push(SmsRequest {
                authorization,
                body: serde_json::from_slice(&body).unwrap_or(Value::Null),
            });
            let number = state.received.len();
            let (status, headers, answer) = if let Some(scripted) = state.scripted.pop_front() {
                scripted
            } else if state.fail_next > 0 {
                state.fail_next -= 1;
                (
                    "500 Internal Server Error".to_string(),
                    Vec::new(),
                    "{\"error\":\"busy\"}".to_string(),
                )
            } else {
                (
                    "200 OK".to_string(),
                    Vec::new(),
                    format!("{{\"id\":\"gw-{number}\"}}"),
                )
            };
            (status, headers, answer, state.delay)
        };
        // Taken, then answered late (or after the caller gave up).
        std::thread::sleep(delay);
        let mut head = format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
            answer.len()
        );
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        let _ = write!(stream, "{head}\r\n{answer}");
        let _ = stream.flush();
    }

    /// The headers up to the blank line (however the reads split them), then exactly
    /// `Content-Length` bytes of body; the `Authorization` header and the body.
    fn read_request(stream: &mut impl Read) -> std::io::Result<(Option<String>, Vec<u8>)> {
        let mut bytes = Vec::new();
        let mut chunk = [0u8; 4096];
        let mut read_more = |bytes: &mut Vec<u8>| -> std::io::Result<()> {
            let read = stream.read(&mut chunk)?;
            if read == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            bytes.extend_from_slice(&chunk[..read]);
            Ok(())
        };
        let body_start = loop {
            if let Some(end) = bytes.windows(4).position(|window| window == b"\r\n\r\n") {
                break end + 4;
            }
            read_more(&mut bytes)?;
        };
        let head = String::from_utf8_lossy(&bytes[..body_start]).to_string();
        let mut length = 0usize;
        let mut authorization = None;
        for line in head.lines().skip(1) {
            if let Some((name, value)) = line.split_once(':') {
                match name.trim().to_ascii_lowercase().as_str() {
                    "content-length" => {
                        length = value
                            .trim()
                            .parse()
                            .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidData))?;
                    }
                    "authorization" => authorization = Some(value.trim().to_string()),
                    _ => {}
                }
            }
        }
        while bytes.len() < body_start + length {
            read_more(&mut bytes)?;
        }
        Ok((
            authorization,
            bytes[body_start..body_start + length].to_vec(),
        ))
    }
}

/// 宝丰县's deadline policy with a real-name 差评 rectified in 4 working days instead of 5: the
/// county rule an editor changes in the rules tests.
pub const BAOFENG_FOUR_DAYS: &str = r#"// 宝丰县：实名差评 4 个工作日内整改（由 5 日缩短）。
import "common" as common;

fn deadline(input) {
    let contact = if input.level == "very_dissatisfied" {
        common::phase("contact", 4, "hours")
    } else {
        common::phase("contact", 1, "working_days")
    };
    let rectify_days = if input.real_name { 4 } else { 15 };
    #{
        phases: [
            contact,
            common::phase("verify", 2, "working_days"),
            common::phase("rectify", rectify_days, "working_days"),
            common::phase("feedback", rectify_days + 2, "working_days"),
            common::phase("appeal", 3, "working_days"),
        ]
    }
}
"#;

/// The county's test, updated with the script: across the 2026 Spring Festival.
pub const BAOFENG_FOUR_DAYS_TEST: &str = r#"[
  {
    "name": "宝丰县实名差评：4 个工作日内整改（春节前一天提出）",
    "input": {
      "level": "dissatisfied", "real_name": true, "channel": "hall_device",
      "received_at": "2026-02-13T10:00:00+08:00"
    },
    "expect": {
      "phases": [
        { "phase": "contact", "amount": 1, "due": "2026-02-15T00:00:00+08:00" },
        { "phase": "verify" },
        { "phase": "rectify", "amount": 4, "unit": "working_days", "due": "2026-02-27T00:00:00+08:00" },
        { "phase": "feedback", "amount": 6, "due": "2026-03-01T00:00:00+08:00" },
        { "phase": "appeal" }
      ]
    }
  }
]
"#;

/// `hcp province-sim` (the simulated provincial platform) in its own process.
pub struct Province {
    child: Child,
    pub url: String,
    listen: String,
    data: PathBuf,
}

impl Province {
    /// Starts it on `listen` (`127.0.0.1:0`: a free port) with its journal in `data`.
    pub fn start(data: &Path, listen: &str) -> Province {
        let mut child = Command::new(binary("debug").expect("the hcp binary"))
            .args(["province-sim", "--listen", listen, "--data"])
            .arg(data)
            .env("HCP_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting the simulator");
        let stdout = child.stdout.take().expect("its stdout");
        let mut lines = BufReader::new(stdout).lines();
        let url = loop {
            let line = lines
                .next()
                .expect("the simulator printed nothing")
                .expect("a line");
            if let Some(rest) = line.split("listening on ").nth(1) {
                break rest.trim().to_string();
            }
        };
        // Keep draining its stdout so it never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines.by_ref() {});
        let listen = url.trim_start_matches("http://").to_string();
        Province {
            child,
            url,
            listen,
            data: data.to_path_buf(),
        }
    }

    /// SIGKILL: the province is gone; nothing answers on its port.
    pub fn kill(&mut self) {
        self.child.kill().expect("killing the simulator");
        self.child.wait().expect("its exit");
    }

    /// The same province again, on the same address and data.
    pub fn restart(&mut self) {
        let again = Province::start(&self.data, &self.listen);
        let old = std::mem::replace(self, again);
        drop(old);
    }

    /// `POST /sim/control`: how it answers from now on.
    pub async fn control(&self, body: Value) {
        let response = reqwest::Client::new()
            .post(format!("{}/sim/control", self.url))
            .json(&body)
            .send()
            .await
            .expect("the simulator answers");
        assert!(response.status().is_success());
    }

    /// `GET /sim/state`: the batches it took (number, hash, times received), the records
    /// counted, the requests.
    pub async fn state(&self) -> Value {
        reqwest::get(format!("{}/sim/state", self.url))
            .await
            .expect("the simulator answers")
            .json()
            .await
            .expect("its state")
    }
}

impl Drop for Province {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// 宝丰县's files of the active rules with the rectification deadline cut to 4 working days
/// ([`BAOFENG_FOUR_DAYS`] and its test), as `PUT /api/v1/rules/files` takes them.
pub async fn baofeng_four_days(admin: &Session) -> anyhow::Result<serde_json::Map<String, Value>> {
    let mut county = serde_json::Map::new();
    for (path, text) in admin.get("/api/v1/rules/files").await?["files"]
        .as_object()
        .context("files")?
    {
        if path.starts_with("410421/") {
            county.insert(path.clone(), text.clone());
        }
    }
    county.insert("410421/deadline.rhai".into(), json!(BAOFENG_FOUR_DAYS));
    county.insert(
        "410421/tests/deadline.json".into(),
        json!(BAOFENG_FOUR_DAYS_TEST),
    );
    Ok(county)
}

/// The working days the deadline policy gave rating `id`'s rectification phase, as the
/// rating's decisions record it.
pub async fn rectify_days(admin: &Session, id: u64) -> anyhow::Result<Value> {
    let decisions = admin
        .get_list(&format!("/api/v1/ratings/{id}/decisions"))
        .await?;
    let deadline = decisions
        .as_array()
        .context("decisions")?
        .iter()
        .find(|decision| decision["hook"] == "deadline")
        .cloned()
        .with_context(|| format!("no deadline decision: {decisions}"))?;
    let rectify = deadline["output"]["phases"]
        .as_array()
        .context("phases")?
        .iter()
        .find(|phase| phase["phase"] == "rectify")
        .cloned()
        .with_context(|| format!("no rectify phase: {deadline}"))?;
    Ok(rectify["amount"].clone())
}

/// A stand-in official 2027 table for the tests (the real one is not published yet): weekdays
/// work but 1 and 4 January, so every provisional due in January moves by a day.
pub const TABLE_2027: &str = "year = 2027\nsource = \"test table\"\noff = [\"2027-01-01\", \"2027-01-04\"]\nmakeup = []\nworking_days = 259\n";

/// That two series of [`answers`] are the same, path by path; names the first difference.
pub fn assert_same_answers(before: &[(String, Value)], after: &[(String, Value)], what: &str) {
    assert_eq!(before.len(), after.len());
    for ((path, old), (_, new)) in before.iter().zip(after) {
        assert!(
            old == new,
            "{path} answers otherwise after {what}: {}",
            first_difference(old, new)
        );
    }
}

/// Where two answers part, as a JSON pointer and the two values.
pub fn first_difference(old: &Value, new: &Value) -> String {
    fn walk(old: &Value, new: &Value, at: String) -> Option<String> {
        match (old, new) {
            (Value::Object(a), Value::Object(b)) => a.keys().chain(b.keys()).find_map(|key| {
                walk(
                    a.get(key).unwrap_or(&Value::Null),
                    b.get(key).unwrap_or(&Value::Null),
                    format!("{at}/{key}"),
                )
            }),
            (Value::Array(a), Value::Array(b)) if a.len() == b.len() => a
                .iter()
                .zip(b)
                .enumerate()
                .find_map(|(index, (a, b))| walk(a, b, format!("{at}/{index}"))),
            _ if old == new => None,
            _ => Some(format!("{at}: {old} -> {new}")),
        }
    }
    walk(old, new, String::new()).unwrap_or_default()
}

/// What an administrator is answered across the platform (orders, ratings, cases, statistics,
/// roll-ups, assessments, problems, calls, messages, devices, rules, uplink, users, the public
/// page, the first orders and their decisions), path by path, the server's own address
/// replaced: what must not change when the same record is served from another folder.
pub async fn answers(admin: &Session) -> anyhow::Result<Vec<(String, Value)>> {
    let mut paths: Vec<String> = [
        "/api/v1/orders?limit=500",
        "/api/v1/ratings?limit=500",
        "/api/v1/cases?limit=200",
        "/api/v1/stats",
        "/api/v1/stats/days",
        "/api/v1/rollups",
        "/api/v1/assessments",
        "/api/v1/problems",
        "/api/v1/calls",
        "/api/v1/messages",
        "/api/v1/devices",
        "/api/v1/analysis/hot-words",
        "/api/v1/rules/versions",
        "/api/v1/admin/uplink",
        "/api/v1/admin/users",
        "/api/v1/public/stats",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    let orders = admin.get("/api/v1/orders?limit=20").await?;
    for order in orders["items"].as_array().context("orders")? {
        paths.push(format!("/api/v1/orders/{}", order["id"]));
        if let Some(rating) = order["rating_id"].as_u64() {
            paths.push(format!("/api/v1/ratings/{rating}/decisions"));
        }
    }
    let mut out = Vec::new();
    for path in paths {
        // Links carry the server's address, which is another port on another start.
        let text = admin.get(&path).await?.to_string();
        let text = text.replace(&admin.url, "http://hcp");
        let mut answer: Value = serde_json::from_str(&text)?;
        if path == "/api/v1/admin/uplink"
            && let Some(answer) = answer.as_object_mut()
        {
            // The log's head moves with each sign-in.
            answer.remove("head");
            answer.remove("lag_entries");
        }
        out.push((path.clone(), answer));
    }
    Ok(out)
}
