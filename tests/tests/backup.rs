//! Backups while the platform serves: `hcp backup` asks the running platform (through the
//! operations token) for a full backup while ratings keep arriving, then an incremental one;
//! `hcp restore` puts both into a fresh folder, whose chain verifies and which answers every
//! query as the original does. A backup that was tampered with is refused.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use hcp_e2e::{
    Fixture, Seeded, Server, Session, answers, assert_same_answers, binary, rating, run_hcp,
    start_seeded_in, write_config,
};
use serde_json::json;

const OPS_TOKEN: &str = "backup-test-operations-token-0123456789";

/// Posts ratings to `url` one by one until `stop`; counts those recorded.
async fn load(fixture: Arc<Fixture>, url: String, stop: Arc<AtomicBool>, done: Arc<AtomicU64>) {
    let mut index = 0u64;
    while !stop.load(Ordering::Relaxed) {
        index += 1;
        let mut body = rating(
            &fixture,
            &format!("load-{index}"),
            &format!("4104212026120{index:07}"),
            "13800138000",
        );
        if index.is_multiple_of(5) {
            body["level"] = json!("dissatisfied");
            body["indicators"] = json!(["510"]);
            body["text"] = json!("排队时间过长");
        }
        let (status, answer) = fixture.ingest(&url, "ratings", &body).await.unwrap();
        assert_eq!(status, 201, "{answer}");
        done.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn backup(data: &Path, config: &Path, to: &Path, since: Option<&Path>) -> String {
    let mut args = vec!["backup", "--to", to.to_str().unwrap()];
    if let Some(since) = since {
        args.extend(["--since", since.to_str().unwrap()]);
    }
    let (ok, output) = run_hcp(&args, data, Some(config)).unwrap();
    assert!(ok, "{output}");
    output
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_while_ratings_arrive_restores_to_the_same_city() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("ops.token");
    std::fs::write(&token, OPS_TOKEN).unwrap();
    let config = write_config(
        dir.path(),
        &format!(
            "[ops]\ntoken_file = {:?}\n\n[workflow]\nsweep_secs = 0\n",
            token.display().to_string()
        ),
    )
    .unwrap();
    let Seeded {
        server,
        admin,
        fixture,
        data,
        dir,
    } = start_seeded_in(dir, &config).await.unwrap();
    let fixture = Arc::new(fixture);
    let (stop, done) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicU64::new(0)),
    );
    let writer = tokio::spawn(load(
        fixture.clone(),
        server.url.clone(),
        stop.clone(),
        done.clone(),
    ));
    tokio::time::sleep(Duration::from_secs(1)).await;

    // A full backup while the ratings keep coming: the running platform writes it.
    let full = dir.path().join("backup-1");
    let during = done.load(Ordering::Relaxed);
    let output = tokio::task::spawn_blocking({
        let (data, config, full) = (data.clone(), config.clone(), full.clone());
        move || backup(&data, &config, &full, None)
    })
    .await
    .unwrap();
    let after = done.load(Ordering::Relaxed);
    eprintln!("{output}");
    assert!(
        output.contains("written to") && output.contains("verified"),
        "{output}"
    );
    assert!(
        after > during,
        "ingest went on during the backup ({during} → {after})"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    writer.await.unwrap();

    // What came after, as an incremental backup; then the restore of both.
    let incremental = dir.path().join("backup-2");
    let output = backup(&data, &config, &incremental, Some(&full));
    assert!(output.contains("written to"), "{output}");
    let restored = dir.path().join("restored");
    std::fs::create_dir_all(restored.join("keys")).unwrap();
    std::fs::copy(data.join("keys/pii.key"), restored.join("keys/pii.key")).unwrap();
    let (ok, output) = run_hcp(
        &[
            "restore",
            "--from",
            full.to_str().unwrap(),
            "--from",
            incremental.to_str().unwrap(),
        ],
        &restored,
        Some(&config),
    )
    .unwrap();
    assert!(ok, "{output}");
    let (ok, output) = run_hcp(&["audit", "verify"], &restored, Some(&config)).unwrap();
    assert!(ok && output.contains("the chain is intact"), "{output}");

    // The restored folder answers every query as the original does.
    let before = answers(&admin).await.unwrap();
    let ratings = before
        .iter()
        .find(|(path, _)| path.starts_with("/api/v1/ratings"))
        .map(|(_, answer)| answer["items"].as_array().unwrap().len())
        .unwrap();
    assert!(ratings > 50, "{ratings} ratings");
    let copy = Server::start(&binary("debug").unwrap(), "serve", &restored, Some(&config)).unwrap();
    let password = server.admin_password().unwrap();
    let copy_admin = Session::login(&copy.url, "admin", &password).await.unwrap();
    let after = answers(&copy_admin).await.unwrap();
    assert_same_answers(&before, &after, "the backup and restore");

    // The key ring came with the backup: the restored platform opens the personal data the
    // original opens.
    let first = before
        .iter()
        .find(|(path, _)| path.starts_with("/api/v1/ratings"))
        .and_then(|(_, answer)| answer["items"][0]["id"].as_u64())
        .unwrap();
    let reveal = json!({"reason": "恢复演练核对"});
    let path = format!("/api/v1/ratings/{first}/reveal");
    let original = admin.post(&path, &reveal).await.unwrap();
    let restored_reveal = copy_admin.post(&path, &reveal).await.unwrap();
    assert!(
        original["phone"]
            .as_str()
            .is_some_and(|phone| phone.len() == 11),
        "{original}"
    );
    assert_eq!(
        original["phone"], restored_reveal["phone"],
        "{restored_reveal}"
    );
    // The retention sweep at today's date (the system clock) erases nothing of today's.
    let swept = admin
        .post("/api/v1/privacy/sweep", &json!({}))
        .await
        .unwrap();
    assert_eq!(swept["destroyed"], json!([]), "{swept}");
    let held = admin.get("/api/v1/privacy").await.unwrap();
    let this_month = chrono::Utc::now().format("%Y-%m").to_string();
    assert!(held.to_string().contains(&this_month), "{held}");
    assert_eq!(
        admin.post(&path, &reveal).await.unwrap()["phone"],
        original["phone"]
    );

    // Out of order, or tampered with, a backup is refused.
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir_all(elsewhere.join("keys")).unwrap();
    std::fs::copy(data.join("keys/pii.key"), elsewhere.join("keys/pii.key")).unwrap();
    let (ok, output) = run_hcp(
        &["restore", "--from", incremental.to_str().unwrap()],
        &elsewhere,
        Some(&config),
    )
    .unwrap();
    assert!(!ok && output.contains("full backup"), "{output}");
    let mut bytes = std::fs::read(full.join("log.bin")).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x55;
    std::fs::write(full.join("log.bin"), bytes).unwrap();
    let other = dir.path().join("tampered");
    std::fs::create_dir_all(other.join("keys")).unwrap();
    std::fs::copy(data.join("keys/pii.key"), other.join("keys/pii.key")).unwrap();
    let (ok, output) = run_hcp(
        &["restore", "--from", full.to_str().unwrap()],
        &other,
        Some(&config),
    )
    .unwrap();
    assert!(
        !ok && output.contains("not the file its manifest describes"),
        "{output}"
    );
    drop((server, copy));
}
