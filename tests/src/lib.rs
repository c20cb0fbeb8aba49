//! Helpers shared by the end-to-end tests and benchmarks: start the real `hcp` binary on a free
//! port and a data folder, sign in, create master data and sources over HTTP.
#![allow(clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context, bail};
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

/// A running `hcp` process.
pub struct Server {
    child: Child,
    pub url: String,
    /// Every line the server printed on stdout before it was ready.
    pub banner: Vec<String>,
}

impl Server {
    /// Starts `hcp <command> --listen 127.0.0.1:0 --data <dir>` and waits for its URL.
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
            .arg("--data")
            .arg(data)
            .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
            .env("HCP_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some(config) = config {
            process.arg("--config").arg(config);
        }
        let mut child = process
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let stdout = child.stdout.take().context("no stdout")?;
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
        // The banner ends with the listening line's companions; wait for the docs line.
        loop {
            match receiver.recv_timeout(Duration::from_secs(600)) {
                Ok(line) => {
                    if let Some(rest) = line.split("listening on ").nth(1) {
                        url = Some(rest.trim().to_string());
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
        Ok(Server { child, url, banner })
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

    pub async fn get(&self, path: &str) -> anyhow::Result<Value> {
        let response = self
            .client
            .get(format!("{}{path}", self.url))
            .bearer_auth(&self.token)
            .send()
            .await?;
        let status = response.status();
        let body: Value = response.json().await?;
        if !status.is_success() {
            bail!("GET {path}: {status} {body}");
        }
        Ok(body)
    }

    pub async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        let response = self
            .client
            .post(format!("{}{path}", self.url))
            .bearer_auth(&self.token)
            .json(body)
            .send()
            .await?;
        let status = response.status();
        let body: Value = response.json().await?;
        if !status.is_success() {
            bail!("POST {path}: {status} {body}");
        }
        Ok(body)
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

/// Creates 宝丰县, a department, a hall with a window, an item and an ingest source.
pub async fn seed(admin: &Session) -> anyhow::Result<Fixture> {
    let department = credit_code("11410421MB0000001");
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
