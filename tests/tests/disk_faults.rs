//! The data folder on a small file system of its own (a 64 MiB tmpfs mounted for the test):
//! filled up, then made read-only, while ratings keep coming. Every write the disk cannot take
//! is refused with 503 and `Retry-After` and a reason, nothing refused is half-written, and once
//! space (or write access) returns the same platform process takes the retried ratings, every
//! acknowledged rating there once and the chain intact. Mounting needs root, as the project's
//! set-up does.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use hcp_e2e::{Fixture, by_event_id, rating, run_hcp, start_seeded_in, write_config};
use serde_json::{Value, json};

/// A tmpfs mounted for the test, unmounted when dropped.
struct Mount {
    path: PathBuf,
}

impl Mount {
    fn new(path: &Path, size: &str) -> Mount {
        std::fs::create_dir_all(path).unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(path)
            .status()
            .expect("mount runs");
        assert!(
            status.success(),
            "mounting a tmpfs at {} failed: the disk fault tests need root (as `make setup` does)",
            path.display()
        );
        Mount {
            path: path.to_path_buf(),
        }
    }

    fn remount(&self, mode: &str) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,{mode}")])
            .arg(&self.path)
            .status()
            .unwrap();
        assert!(status.success(), "remount {mode}");
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

/// Writes a file of zeros until the file system is full; its path.
fn fill(dir: &Path) -> PathBuf {
    let path = dir.join("filler");
    let mut file = std::fs::File::create(&path).unwrap();
    let chunk = vec![0u8; 64 * 1024];
    while file.write_all(&chunk).is_ok() {}
    let _ = file.sync_all();
    path
}

/// One rating, its answer: status, `Retry-After`, body.
async fn send(fixture: &Fixture, url: &str, event: &str) -> (u16, Option<String>, Value) {
    let body = json!([rating(
        fixture,
        event,
        &format!("P-DISK-{event}"),
        "13800138000"
    )]);
    let response = reqwest::Client::new()
        .post(format!("{url}/api/v1/sources/{}/ratings", fixture.source))
        .header("x-api-key", &fixture.api_key)
        .timeout(Duration::from_secs(30))
        .json(&body)
        .send()
        .await
        .unwrap();
    hcp_e2e::answer_of(response).await
}

/// Sends ratings `prefix-0`, `prefix-1`… until `refusals` in a row are refused; the events
/// acknowledged and those refused. Every refusal must be a 503 with `Retry-After` and a reason.
async fn until_refused(
    fixture: &Fixture,
    url: &str,
    prefix: &str,
    refusals: usize,
) -> (Vec<String>, Vec<String>) {
    let (mut acknowledged, mut refused) = (Vec::new(), Vec::new());
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut in_a_row = 0;
    let mut index = 0;
    while in_a_row < refusals {
        assert!(
            Instant::now() < deadline,
            "the disk never refused a write ({} acknowledged)",
            acknowledged.len()
        );
        let event = format!("{prefix}-{index}");
        index += 1;
        let (status, retry, body) = send(fixture, url, &event).await;
        match status {
            200 if body["recorded"] == 1 || body["duplicates"] == 1 => {
                acknowledged.push(event);
                in_a_row = 0;
            }
            503 => {
                assert!(retry.is_some(), "503 without Retry-After: {body}");
                assert!(
                    body["error"]["message"]
                        .as_str()
                        .is_some_and(|m| !m.is_empty()),
                    "503 without a reason: {body}"
                );
                refused.push(event);
                in_a_row += 1;
            }
            other => panic!("{event}: {other} {body}"),
        }
    }
    (acknowledged, refused)
}

/// Sends `events` again until each is acknowledged (the same process, no restart).
async fn retried(fixture: &Fixture, url: &str, events: &[String]) {
    let deadline = Instant::now() + Duration::from_secs(60);
    for event in events {
        loop {
            let (status, _, body) = send(fixture, url, event).await;
            if status == 200 && (body["recorded"] == 1 || body["duplicates"] == 1) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{event} still refused after space returned: {status} {body}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_or_read_only_disk_refuses_writes_and_recovers_without_a_restart() {
    let outer = tempfile::tempdir().unwrap();
    let mount = Mount::new(&outer.path().join("disk"), "64m");
    let dir = tempfile::tempdir_in(&mount.path).unwrap();
    let config = write_config(dir.path(), "[workflow]\nsweep_secs = 0\n").unwrap();
    let seeded = start_seeded_in(dir, &config).await.unwrap();
    let (url, fixture) = (seeded.server.url.clone(), &seeded.fixture);

    // Full: writes are refused, each with its reason; freed, the same process takes them.
    let mut acknowledged = Vec::new();
    for index in 0..3 {
        let event = format!("before-{index}");
        let (status, _, body) = send(fixture, &url, &event).await;
        assert_eq!(
            (status, body["recorded"].clone()),
            (200, json!(1)),
            "{body}"
        );
        acknowledged.push(event);
    }
    let filler = fill(&mount.path);
    let (during, refused) = until_refused(fixture, &url, "full", 5).await;
    eprintln!(
        "disk full: {} acknowledged after filling, {} refused",
        during.len(),
        refused.len()
    );
    acknowledged.extend(during);
    let (status, body) = seeded.server.readyz().await.unwrap();
    eprintln!("readyz on a full disk: {status} {body}");
    std::fs::remove_file(&filler).unwrap();
    retried(fixture, &url, &refused).await;
    acknowledged.extend(refused);

    // A file system is made read-only only without writers (or by its own errors): a platform
    // started on a data folder mounted read-only says so and stops; writable again, the folder
    // serves as before.
    let password = seeded.server.admin_password().unwrap();
    let hcp_e2e::Seeded {
        server,
        fixture,
        data,
        dir,
        ..
    } = seeded;
    let fixture = &fixture;
    server.stop().unwrap();
    mount.remount("ro");
    let output = Command::new(hcp_e2e::binary("debug").unwrap())
        .args(["serve", "--config"])
        .arg(&config)
        .arg("--data")
        .arg(&data)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&output.stderr).to_string()
        + &String::from_utf8_lossy(&output.stdout);
    eprintln!("{said}");
    assert!(!output.status.success(), "{said}");
    assert!(said.contains("read-only"), "{said}");
    mount.remount("rw");
    let server = hcp_e2e::Server::start(
        &hcp_e2e::binary("debug").unwrap(),
        "serve",
        &data,
        Some(&config),
    )
    .unwrap();
    let admin = hcp_e2e::Session::login(&server.url, "admin", &password)
        .await
        .unwrap();
    let (status, _, body) = send(fixture, &server.url, "after-read-only").await;
    assert_eq!(status, 200, "{body}");
    acknowledged.push("after-read-only".into());

    // Every acknowledged rating is there once; nothing refused is there twice.
    let ratings = admin.all_ratings("").await.unwrap();
    let stored: BTreeMap<String, u64> = by_event_id(&ratings).unwrap();
    for event in &acknowledged {
        assert!(stored.contains_key(event), "{event} acknowledged and lost");
    }
    let events: Vec<&str> = ratings
        .iter()
        .filter_map(|rating| rating["event_id"].as_str())
        .collect();
    assert_eq!(events.len(), stored.len(), "a rating stored twice");

    server.stop().unwrap();
    let (ok, output) = run_hcp(&["audit", "verify"], &data, Some(&config)).unwrap();
    assert!(ok && output.contains("the chain is intact"), "{output}");
    drop(dir);
    drop(mount);
}
