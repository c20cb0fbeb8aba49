//! WASM adapters in the running server: a vendor's file dropped into the plugins folder serves
//! without a restart; hostile guests are stopped by their limits while other sources keep being
//! served; replacing an adapter under concurrent ingest loses and duplicates nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hcp_e2e::{
    Fixture, Server, Session, adapter, binary, by_event_id, hx_heartbeat_frame, hx_rating_frame,
    rating, seed, wait_until, with_custom_section, zw_payload,
};
use serde_json::{Value, json};

struct Running {
    server: Server,
    admin: Session,
    fixture: Fixture,
    plugins: std::path::PathBuf,
    keys: BTreeMap<String, String>,
    _data: tempfile::TempDir,
}

/// A server with 宝丰县 seeded, devices `D-HX` (HX-PJ200) and `D-ZW` (ZW-E7) at window W-BF-01,
/// and one source per adapter id in `adapters` (source id = adapter id).
async fn start(adapters: &[&str]) -> Running {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(&binary("debug").unwrap(), "serve", data.path(), None).unwrap();
    let admin = Session::login(&server.url, "admin", &server.admin_password().unwrap())
        .await
        .unwrap();
    let fixture = seed(&admin).await.unwrap();
    for record in [
        json!({"kind": "device_model", "record": {"model": "HX-PJ200", "vendor": "华信智能", "min_press_interval_secs": 0}}),
        json!({"kind": "device_model", "record": {"model": "ZW-E7", "vendor": "正微科技"}}),
        json!({"kind": "device", "record": {"id": "D-HX", "model": "HX-PJ200", "window": "W-BF-01"}}),
        json!({"kind": "device", "record": {"id": "D-ZW", "model": "ZW-E7", "window": "W-BF-01"}}),
    ] {
        admin.post("/api/v1/admin/master", &record).await.unwrap();
    }
    let mut keys = BTreeMap::new();
    for id in adapters {
        let issued = admin
            .post(
                "/api/v1/admin/sources",
                &json!({"id": id, "name": id, "adapter": id, "scope": "410421"}),
            )
            .await
            .unwrap();
        keys.insert(
            id.to_string(),
            issued["api_key"].as_str().unwrap().to_string(),
        );
    }
    Running {
        plugins: data.path().join("plugins"),
        server,
        admin,
        fixture,
        keys,
        _data: data,
    }
}

impl Running {
    async fn raw(&self, source: &str, content_type: &str, body: Vec<u8>) -> (u16, Value) {
        let response = reqwest::Client::new()
            .post(format!("{}/api/v1/ingest/{source}", self.server.url))
            .header("x-api-key", &self.keys[source])
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// A canonical rating through the built-in adapter: proves the server keeps serving.
    async fn canonical(&self, event: &str) -> u16 {
        reqwest::Client::new()
            .post(format!(
                "{}/api/v1/sources/{}/ratings",
                self.server.url, self.fixture.source
            ))
            .header("x-api-key", &self.fixture.api_key)
            .json(&rating(
                &self.fixture,
                event,
                &format!("P-{event}"),
                "13900000000",
            ))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    async fn status(&self) -> Vec<Value> {
        let view = self.admin.get("/api/v1/admin/plugins").await.unwrap();
        view["plugins"].as_array().cloned().unwrap_or_default()
    }

    async fn load_failures(&self) -> Vec<Value> {
        let view = self.admin.get("/api/v1/admin/plugins").await.unwrap();
        view["load_failures"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    async fn drop_in(&self, name: &str) {
        std::fs::create_dir_all(&self.plugins).unwrap();
        std::fs::copy(
            adapter(name).unwrap(),
            self.plugins.join(format!("{name}.wasm")),
        )
        .unwrap();
    }

    /// Waits until the adapter `id` is active with `sha256` (any version when None).
    async fn wait_active(&self, id: &str, sha256: Option<&str>) {
        let active = wait_until(Duration::from_secs(60), || async {
            self.status().await.iter().any(|status| {
                status["id"] == id && sha256.is_none_or(|sha| status["sha256"] == sha)
            })
        })
        .await;
        if let Err(error) = active {
            panic!("{id} not active: {error}; status {:?}", self.status().await);
        }
    }
}

fn unix_now() -> u32 {
    u32::try_from(chrono::Utc::now().timestamp()).unwrap()
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vendor_adapter_dropped_into_the_folder_serves_without_a_restart() {
    let running = start(&["hx-pj200"]).await;
    let frame = |sequence, project: &str| {
        hx_rating_frame(
            sequence,
            "D-HX",
            unix_now() - 5,
            4,
            project,
            "T-QYSL",
            "窗口人员态度冷淡",
        )
    };

    // Before the adapter exists the payload is refused for now, and kept.
    let (status, body) = running
        .raw("hx-pj200", "application/vnd.hx-pj200", frame(1, "HX-P1"))
        .await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "adapter_unavailable");

    running.drop_in("hx-pj200").await;
    running.wait_active("hx-pj200", None).await;

    let (status, body) = running
        .raw("hx-pj200", "application/vnd.hx-pj200", frame(2, "HX-P2"))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["recorded"], 1, "{body}");
    let id = body["results"][0]["id"].as_u64().unwrap();
    let stored = running
        .admin
        .get(&format!("/api/v1/ratings/{id}"))
        .await
        .unwrap();
    assert_eq!(stored["level"], "dissatisfied", "device level 4 is 不满意");
    assert_eq!(stored["device"], "D-HX");
    assert_eq!(
        stored["attribution"]["window"], "W-BF-01",
        "filled from the device registry"
    );
    assert_eq!(stored["area_code"], "410421");
    assert_eq!(stored["evaluator"]["phone"], "138****1234");

    // A damaged frame: refused with the adapter's reason, kept.
    let mut damaged = frame(3, "HX-P3");
    let last = damaged.len() - 1;
    damaged[last] ^= 0xff;
    let (status, body) = running
        .raw("hx-pj200", "application/vnd.hx-pj200", damaged)
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "malformed");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("crc"),
        "{body}"
    );

    // The payload refused before installation replays now.
    let kept = running
        .admin
        .get_list("/api/v1/admin/rejections")
        .await
        .unwrap();
    let first = kept
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["reason"]["code"] == "adapter_unavailable")
        .unwrap();
    let replayed = running
        .admin
        .post(
            &format!("/api/v1/admin/rejections/{}/replay", first["seq"]),
            &json!({}),
        )
        .await
        .unwrap();
    assert_eq!(replayed["recorded"], 1, "{replayed}");

    // A heartbeat shows in the device's health: 2 ratings stored, 2 counted, none missing.
    let (status, body) = running
        .raw(
            "hx-pj200",
            "application/vnd.hx-pj200",
            hx_heartbeat_frame(4, "D-HX", unix_now(), 2),
        )
        .await;
    assert_eq!((status, &body["recorded"]), (200, &json!(1)), "{body}");
    let devices = running
        .admin
        .get_list("/api/v1/devices?unit=410421")
        .await
        .unwrap();
    let device = devices
        .as_array()
        .unwrap()
        .iter()
        .find(|device| device["id"] == "D-HX")
        .unwrap()
        .clone();
    assert_eq!(device["online"], true, "{device}");
    assert_eq!(device["state"]["ratings_stored"], 2);
    assert_eq!(device["missing_ratings"], 0);
    let rates = running
        .admin
        .get("/api/v1/devices/online-rate?unit=410421")
        .await
        .unwrap();
    assert_eq!(rates[0]["hall"], "H-BF");
    assert_eq!(rates[0]["devices"], 2);
    assert_eq!(rates[0]["online"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_adapters_are_stopped_and_the_server_keeps_serving() {
    let runtime_hostiles = [
        "hostile-loop",
        "hostile-memory",
        "hostile-trap",
        "hostile-output",
    ];
    let running = start(&runtime_hostiles).await;
    for name in runtime_hostiles
        .iter()
        .chain(&["hostile-abi", "hostile-import", "hostile-samples"])
    {
        running.drop_in(name).await;
    }
    for name in runtime_hostiles {
        running.wait_active(name, None).await;
    }
    // Refused at installation, each with its reason, and never active.
    wait_until(Duration::from_secs(60), || async {
        let text = serde_json::to_string(&running.load_failures().await).unwrap();
        [
            "hostile-abi.wasm",
            "hostile-import.wasm",
            "hostile-samples.wasm",
        ]
        .iter()
        .all(|file| text.contains(file))
    })
    .await
    .unwrap();
    let status = serde_json::to_string(&running.load_failures().await).unwrap();
    assert!(
        status.contains("2.0.0"),
        "the wrong contract major is named: {status}"
    );
    assert!(
        status.contains("wasi:filesystem"),
        "the forbidden import is named: {status}"
    );

    let mut event = 0;
    for name in runtime_hostiles {
        let (status, body) = running.raw(name, "application/json", b"{}".to_vec()).await;
        assert_eq!(status, 503, "{name}: {body}");
        assert_eq!(body["error"]["code"], "adapter_failed", "{name}: {body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(name) && message.contains("1.0.0"),
            "{name} names the plugin and version: {message}"
        );
        event += 1;
        assert_eq!(
            running.canonical(&format!("alive-{event}")).await,
            201,
            "still serving after {name}"
        );
    }

    // Three faults in a row quarantine the adapter: it fails fast, and it is reported.
    for _ in 0..3 {
        running
            .raw("hostile-trap", "application/json", b"{}".to_vec())
            .await;
    }
    let started = std::time::Instant::now();
    let (status, body) = running
        .raw("hostile-trap", "application/json", b"{}".to_vec())
        .await;
    assert_eq!(status, 503);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("quarantine"),
        "{body}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    let trap = running
        .status()
        .await
        .into_iter()
        .find(|status| status["id"] == "hostile-trap")
        .unwrap();
    assert!(!trap["quarantined_until"].is_null(), "{trap}");
    // Quarantined calls are refused without running: three faults, then fast refusals.
    assert_eq!(trap["failures"], 3, "{trap}");
    assert_eq!(running.canonical("alive-last").await, 201);
    let metrics = running.server.metrics().await.unwrap();
    for line in [
        "hcp_plugin_quarantined{plugin=\"hostile-trap\"} 1",
        "hcp_plugin_failures_total{plugin=\"hostile-trap\"} 3",
        "hcp_plugin_load_failures 3",
    ] {
        assert!(metrics.contains(line), "{line} missing from /metrics");
    }
    // Every refused payload was kept for replay.
    let kept = running
        .admin
        .get_list("/api/v1/admin/rejections?limit=100")
        .await
        .unwrap();
    assert!(
        kept.as_array()
            .unwrap()
            .iter()
            .filter(|row| row["reason"]["code"] == "adapter_failed")
            .count()
            >= 7
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replacing_an_adapter_under_concurrent_ingest_loses_and_duplicates_nothing() {
    let running = Arc::new(start(&["zw-e7"]).await);
    running.drop_in("zw-e7").await;
    running.wait_active("zw-e7", None).await;

    let stop = Arc::new(AtomicBool::new(false));
    let acks: Arc<Mutex<BTreeMap<String, u64>>> = Arc::default();
    let clients: Vec<_> = (0..4)
        .map(|client| {
            let running = running.clone();
            let stop = stop.clone();
            let acks = acks.clone();
            tokio::spawn(async move {
                let mut sent = 0u32;
                while !stop.load(Ordering::SeqCst) {
                    let record = format!("R{client}-{sent}");
                    let payload =
                        zw_payload("D-ZW", &record, &format!("ZW-{client}-{sent}"), "T-QYSL", 1);
                    let (status, body) = running
                        .raw(
                            "zw-e7",
                            "application/json",
                            serde_json::to_vec(&payload).unwrap(),
                        )
                        .await;
                    assert_eq!(
                        status, 200,
                        "request {record} failed during a replacement: {body}"
                    );
                    assert_eq!(body["recorded"], 1, "{body}");
                    let previous = acks.lock().unwrap().insert(
                        format!("D-ZW-{record}"),
                        body["results"][0]["id"].as_u64().unwrap(),
                    );
                    assert!(previous.is_none());
                    sent += 1;
                }
            })
        })
        .collect();

    let original = std::fs::read(adapter("zw-e7").unwrap()).unwrap();
    for build in 1..=5 {
        let rebuilt = with_custom_section(
            &original,
            "hcp-test-build",
            format!("build {build}").as_bytes(),
        );
        let sha = sha256_hex(&rebuilt);
        let target = running.plugins.join("zw-e7.wasm");
        let temp = running.plugins.join("zw-e7.wasm.part");
        std::fs::write(&temp, &rebuilt).unwrap();
        std::fs::rename(&temp, &target).unwrap();
        running.wait_active("zw-e7", Some(&sha)).await;
    }
    stop.store(true, Ordering::SeqCst);
    for client in clients {
        client.await.unwrap();
    }
    let acks = acks.lock().unwrap().clone();
    assert!(
        acks.len() > 20,
        "too little traffic to prove anything: {}",
        acks.len()
    );

    let items = running
        .admin
        .all_ratings("dim=window&unit=W-BF-01")
        .await
        .unwrap();
    let stored = by_event_id(&items).unwrap();
    assert_eq!(stored, acks);
    let installs = running
        .admin
        .get_list("/api/v1/audit?limit=100")
        .await
        .unwrap();
    let count = installs
        .as_array()
        .unwrap()
        .iter()
        .filter(|entry| entry["action"] == "plugin_installed")
        .count();
    assert_eq!(count, 6, "one audit entry per installed build");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_adapter_uploaded_by_an_administrator_is_validated_installed_and_kept() {
    let running = start(&["zw-e7"]).await;
    let upload = |bytes: Vec<u8>| {
        reqwest::Client::new()
            .post(format!("{}/api/v1/admin/plugins", running.server.url))
            .bearer_auth(&running.admin.token)
            .header("content-type", "application/wasm")
            .body(bytes)
            .send()
    };
    // A component that imports WASI is refused with the reason; nothing is installed.
    let response = upload(std::fs::read(adapter("hostile-import").unwrap()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 422);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("wasi:filesystem"),
        "{body}"
    );
    assert!(running.status().await.is_empty());

    let response = upload(std::fs::read(adapter("zw-e7").unwrap()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
    let status: Value = response.json().await.unwrap();
    assert_eq!(
        (&status["id"], &status["version"]),
        (&json!("zw-e7"), &json!("1.0.0"))
    );
    // Written into the folder, so a restart loads it again.
    assert!(running.plugins.join("zw-e7.wasm").exists());
    let payload = zw_payload("D-ZW", "U1", "ZW-U1", "T-QYSL", 2);
    let (code, body) = running
        .raw(
            "zw-e7",
            "application/json",
            serde_json::to_vec(&payload).unwrap(),
        )
        .await;
    assert_eq!((code, &body["recorded"]), (200, &json!(1)), "{body}");

    // Removal takes the file away and refuses payloads for now (kept for replay).
    let response = reqwest::Client::new()
        .delete(format!("{}/api/v1/admin/plugins/zw-e7", running.server.url))
        .bearer_auth(&running.admin.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 204);
    assert!(!running.plugins.join("zw-e7.wasm").exists());
    let payload = zw_payload("D-ZW", "U2", "ZW-U2", "T-QYSL", 2);
    let (code, body) = running
        .raw(
            "zw-e7",
            "application/json",
            serde_json::to_vec(&payload).unwrap(),
        )
        .await;
    assert_eq!(
        (code, &body["error"]["code"]),
        (503, &json!("adapter_unavailable")),
        "{body}"
    );
}
