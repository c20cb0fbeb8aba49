//! `hcp audit verify` on the real binary: an intact log passes; a stored audit entry changed
//! behind the platform's back fails the check, which names the entry.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use hcp_e2e::{Server, Session, binary, rating, run_hcp, seed};
use serde_json::{Value, json};

fn verify(data: &std::path::Path) -> (bool, String) {
    hcp(&["audit", "verify"], data)
}

/// Runs `hcp ARGS --data DATA`; whether it succeeded and what it wrote.
fn hcp(args: &[&str], data: &std::path::Path) -> (bool, String) {
    run_hcp(args, data, None).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_audit_entry_fails_verification_naming_it() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(&binary("debug").unwrap(), "serve", data.path(), None).unwrap();
    let admin = Session::login(&server.url, "admin", &server.admin_password().unwrap())
        .await
        .unwrap();
    let fixture = seed(&admin).await.unwrap();
    let response = reqwest::Client::new()
        .post(format!(
            "{}/api/v1/sources/{}/ratings",
            server.url, fixture.source
        ))
        .header("x-api-key", &fixture.api_key)
        .json(&rating(&fixture, "e1", "P1", "13812341234"))
        .send()
        .await
        .unwrap();
    let id = response.json::<Value>().await.unwrap()["id"]
        .as_u64()
        .unwrap();
    let revealed = admin
        .post(
            &format!("/api/v1/ratings/{id}/reveal"),
            &json!({"reason": "差评回访核实"}),
        )
        .await
        .unwrap();
    let audit_seq = revealed["audit_seq"].as_u64().unwrap();
    assert_eq!(server.stop().unwrap().code(), Some(0));

    let (intact, report) = verify(data.path());
    assert!(intact, "{report}");
    assert!(report.contains("chain is intact"), "{report}");

    // The operator's view of where the bytes go: every tree, and the bytes per rating.
    let (ok, stats) = hcp(&["store", "stats"], data.path());
    assert!(ok, "{stats}");
    for tree in ["log", "rating_index", "orders", "sessions"] {
        assert!(
            stats
                .lines()
                .any(|line| line.starts_with(&format!("{tree} "))),
            "no {tree} row: {stats}"
        );
    }
    assert!(stats.contains("1 ratings: "), "{stats}");

    // Somebody with file access rewrites who revealed the phone number.
    {
        let db = sled::Config::new()
            .path(data.path().join("store"))
            .open()
            .unwrap();
        let log = db.open_tree("log").unwrap();
        let key = audit_seq.to_be_bytes();
        let bytes = log.get(key).unwrap().unwrap();
        let text = hcp_core::store::codec::json(&bytes).unwrap().to_vec();
        let forged = String::from_utf8(text.clone())
            .unwrap()
            .replace("\"actor\":\"admin\"", "\"actor\":\"nobody\"");
        assert_ne!(forged.as_bytes(), text, "the entry holds the actor");
        log.insert(key, hcp_core::store::codec::compress(forged.into_bytes()))
            .unwrap();
        db.flush().unwrap();
    }
    let (intact, report) = verify(data.path());
    assert!(!intact, "tampering went unnoticed: {report}");
    assert!(
        report.contains(&format!("entry {audit_seq} was changed")),
        "{report}"
    );
}

#[test]
fn commands_that_read_a_data_folder_refuse_one_without_a_store() {
    let parent = tempfile::tempdir().unwrap();
    let typo = parent.path().join("dta");
    for args in [
        &["audit", "verify"][..],
        &["store", "stats"],
        &["store", "compact"],
        &["migrate"],
        &["rebuild"],
        &["rules", "rollback", "v1"],
        &["backup", "--to", "/nonexistent/hcp-backup"],
    ] {
        let (ok, said) = hcp(args, &typo);
        assert!(!ok, "{args:?} succeeded on an empty path: {said}");
        assert!(said.contains("holds no store"), "{args:?}: {said}");
        assert!(
            said.contains("dta"),
            "{args:?} does not name the folder: {said}"
        );
        assert!(!typo.exists(), "{args:?} created {}", typo.display());
    }
}
