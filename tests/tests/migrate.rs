//! `hcp migrate` on a seeded city: a schema v2 (or v3) data folder is refused with the command
//! to run, converted keeping every sequence number, verified, and afterwards answers every
//! query exactly as before, as it does after `hcp store compact`; a v2 folder whose chain is
//! broken is left as it was.
//!
//! The old folder is the demo city written back in the old format: the rating and case indexes
//! as a key per entry, a key per roll-up counter, a copy of each decision in the decisions
//! index and no count of the ratings stored (v2 and v3); for v2 also every value as the JSON text the v3 format
//! compresses (v2 wrote that same `serde_json` text) and the log chained over those bytes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use chrono::Utc;
use hcp_e2e::{Server, Session, binary, run_hcp, write_config};
use serde_json::Value;
use sha2::Digest;

/// Runs `hcp ARGS --data DATA --config CONFIG`: whether it succeeded, and what it wrote.
fn hcp(args: &[&str], data: &Path, config: &Path) -> (bool, String) {
    run_hcp(args, data, Some(config)).unwrap()
}

/// Writes the (closed) store of `data` back in the format of schema `version` (2 or 3).
fn write_as(data: &Path, version: u32) {
    let db = sled::open(data.join("store")).unwrap();
    for name in db.tree_names() {
        let tree = db.open_tree(&name).unwrap();
        if name.as_ref() == b"rating_index" || name.as_ref() == b"case_index" {
            write_index_as_keys(&tree, name.as_ref() == b"rating_index");
            continue;
        }
        if name.as_ref() == b"rollup" {
            write_rollup_as_keys(&tree);
            continue;
        }
        if name.as_ref() == b"decisions" {
            write_decisions_as_copies(&db, &tree, version);
            continue;
        }
        if version == 3 {
            continue;
        }
        if name.as_ref() == b"log" {
            let mut prev = String::new();
            let mut last = 0;
            for item in tree.iter() {
                let (key, value) = item.unwrap();
                let mut entry: hcp_core::event::LogEntry =
                    hcp_core::store::codec::decode(&value).unwrap();
                entry.prev_hash = prev;
                let bytes = serde_json::to_vec(&entry).unwrap();
                prev = hex(&sha2::Sha256::digest(&bytes));
                last = entry.seq;
                tree.insert(key, bytes).unwrap();
            }
            db.open_tree("chain")
                .unwrap()
                .insert(
                    "head",
                    serde_json::to_vec(&serde_json::json!({"seq": last, "hash": prev})).unwrap(),
                )
                .unwrap();
            continue;
        }
        for item in tree.iter() {
            let (key, value) = item.unwrap();
            // Counters and ids are stored as raw bytes, which may begin with the format byte.
            if value.first() == Some(&hcp_core::store::codec::ZSTD_DICT_1)
                && let Ok(json) = hcp_core::store::codec::json(&value)
            {
                let json = json.to_vec();
                tree.insert(key, json).unwrap();
            }
        }
    }
    db.insert("schema_version", &version.to_be_bytes()).unwrap();
    db.flush().unwrap();
}

/// The roll-up counters rewritten as schemas 2 and 3 kept them: a key per counter
/// (`unit_day | bucket | channel`, the count as 8 bytes), and no count of the ratings stored.
fn write_rollup_as_keys(tree: &sled::Tree) {
    use hcp_core::store::{counters, keys};
    tree.remove(keys::RATINGS_STORED).unwrap();
    let packed: Vec<_> = tree.iter().map(Result::unwrap).collect();
    tree.clear().unwrap();
    for (unit_day, value) in packed {
        for counter in counters::decode(&value).unwrap() {
            let mut key = unit_day.to_vec();
            key.extend_from_slice(&[counter.bucket, counter.channel]);
            tree.insert(key, &counter.count.to_be_bytes()).unwrap();
        }
    }
}

/// The decisions index rewritten as schemas 2 and 3 kept it: a copy of each decision (JSON
/// text for v2, the v3 format for v3) instead of a pointer into the log.
fn write_decisions_as_copies(db: &sled::Db, tree: &sled::Tree, version: u32) {
    use hcp_core::event::Event;
    use hcp_core::store::{codec, keys};
    let log = db.open_tree("log").unwrap();
    for item in tree.iter() {
        let (key, pointer) = item.unwrap();
        let (seq, index) = keys::parse_decision_pointer(&pointer).unwrap();
        let entry: hcp_core::event::LogEntry =
            codec::decode(&log.get(seq.to_be_bytes()).unwrap().unwrap()).unwrap();
        let decision = match entry.event {
            Event::DecisionRecorded { decision } => decision,
            Event::OrderChanged {
                decision: Some(decision),
                ..
            } => decision,
            Event::OrderOpened { decisions, .. } => decisions[index].clone(),
            other => panic!("a decision pointer at {other:?}"),
        };
        let value = if version == 2 {
            serde_json::to_vec(&decision).unwrap()
        } else {
            codec::encode(&decision).unwrap()
        };
        tree.insert(key, value).unwrap();
    }
}

/// An index of posting chunks rewritten as the key per entry of schemas 2 and 3: `unit_day`
/// and the rating id (its level, channel and flags as the value) or the project number.
fn write_index_as_keys(tree: &sled::Tree, ratings: bool) {
    use hcp_core::store::postings;
    let chunks: Vec<_> = postings::chunks(tree).map(Result::unwrap).collect();
    tree.clear().unwrap();
    for (unit_day, records) in chunks {
        for record in records {
            let mut key = unit_day.clone();
            if ratings {
                let (id, level, channel, flags) = postings::parse_rating_record(&record).unwrap();
                key.extend_from_slice(&id.to_be_bytes());
                tree.insert(key, &[level, channel, flags]).unwrap();
            } else {
                key.extend_from_slice(&record);
                tree.insert(key, &[]).unwrap();
            }
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The answers of the demo city's administrator.
async fn answers(server: &Server) -> Vec<(String, Value)> {
    let admin = Session::login(&server.url, "admin", "demo-2026")
        .await
        .unwrap();
    hcp_e2e::answers(&admin).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_v2_demo_city_migrates_and_answers_every_query_as_before() {
    migrates_and_answers_as_before(2, 4).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_v3_demo_city_migrates_and_answers_every_query_as_before() {
    migrates_and_answers_as_before(3, 4).await;
}

/// Seeds a demo city of `history_days` (the demo's orders need four), writes it back as schema `version`, migrates it and
/// compacts it, comparing the answers after each with those before.
async fn migrates_and_answers_as_before(version: u32, history_days: u32) {
    let dir = tempfile::tempdir().unwrap();
    let start = Utc::now().format("%Y-%m-%dT02:00:00Z");
    let config = write_config(
        dir.path(),
        &format!(
            "[demo]\nhistory_days = {history_days}\nservices_per_day = 300\nlive_per_second = 0\n[workflow]\nsweep_secs = 0\n[clock]\nmanual_start = \"{start}\"\n[security]\ntoken_hours = 8760\nidle_minutes = 525600\n"
        ),
    )
    .unwrap();
    let data = dir.path().join("data");
    let binary = binary("debug").unwrap();
    Server::start(&binary, "demo", &data, Some(&config))
        .unwrap()
        .stop()
        .unwrap();
    let server = Server::start(&binary, "serve", &data, Some(&config)).unwrap();
    let before = answers(&server).await;
    assert!(
        before[0].1["items"].as_array().unwrap().len() > 10,
        "the demo city has orders: {}",
        before[0].1
    );
    server.stop().unwrap();
    let (_, verified) = hcp(&["audit", "verify"], &data, &config);
    let entries: u64 = verified.split_whitespace().next().unwrap().parse().unwrap();

    write_as(&data, version);
    // An old folder opened by this build says which command converts it.
    let (ok, said) = hcp(&["audit", "verify"], &data, &config);
    assert!(!ok, "{said}");
    assert!(
        said.contains(&format!("schema version {version}")),
        "{said}"
    );
    assert!(said.contains("hcp migrate --data"), "{said}");

    let (ok, said) = hcp(&["migrate"], &data, &config);
    assert!(ok, "{said}");
    assert!(
        said.contains(&format!("migrated {entries} log entries")),
        "{said}"
    );
    assert!(said.contains("index entries compared"), "{said}");
    assert!(
        data.join(format!("store.v{version}"))
            .join("conf")
            .is_file(),
        "{said}"
    );
    // The new chain holds, one entry longer: the migration's own, which names the old head.
    let (ok, verified) = hcp(&["audit", "verify"], &data, &config);
    assert!(ok, "{verified}");
    assert!(
        verified.starts_with(&format!("{} log entries verified", entries + 1)),
        "{verified}"
    );
    let (ok, said) = hcp(&["migrate"], &data, &config);
    assert!(ok && said.contains("nothing to do"), "{said}");

    let server = Server::start(&binary, "serve", &data, Some(&config)).unwrap();
    let after = answers(&server).await;
    hcp_e2e::assert_same_answers(&before, &after, "the migration");
    let admin = Session::login(&server.url, "admin", "demo-2026")
        .await
        .unwrap();
    let audit = admin
        .get(&format!(
            "/api/v1/audit?target=schema:{}",
            hcp_core::event::SCHEMA_VERSION
        ))
        .await
        .unwrap();
    let detail = audit["items"][0]["detail"].as_str().unwrap_or_default();
    assert!(detail.contains(&format!("{entries} entries")), "{audit}");
    server.stop().unwrap();

    // A compaction copies the store into a fresh folder, checked, and changes nothing it says.
    let (ok, said) = hcp(&["store", "compact"], &data, &config);
    assert!(ok, "{said}");
    assert!(said.contains("copied and checked"), "{said}");
    assert!(
        data.join("store.pre-compact").join("conf").is_file(),
        "{said}"
    );
    let (ok, verified) = hcp(&["audit", "verify"], &data, &config);
    assert!(ok, "{verified}");
    let server = Server::start(&binary, "serve", &data, Some(&config)).unwrap();
    let compacted = answers(&server).await;
    hcp_e2e::assert_same_answers(&before, &compacted, "the compaction");
    server.stop().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_v2_folder_with_a_broken_chain_is_not_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "").unwrap();
    let data = dir.path().join("data");
    let binary = binary("debug").unwrap();
    Server::start(&binary, "serve", &data, Some(&config))
        .unwrap()
        .stop()
        .unwrap();
    write_as(&data, 2);
    {
        let db = sled::open(data.join("store")).unwrap();
        let log = db.open_tree("log").unwrap();
        let key = 2u64.to_be_bytes();
        let text = String::from_utf8(log.get(key).unwrap().unwrap().to_vec()).unwrap();
        log.insert(key, text.replacen("\"at\":\"", "\"at\":\"1", 1).as_bytes())
            .unwrap();
        db.flush().unwrap();
    }
    let (ok, said) = hcp(&["migrate"], &data, &config);
    assert!(!ok, "{said}");
    assert!(said.contains("the v2 chain is broken at entry 2"), "{said}");
    assert!(!data.join("store.v2").exists());
    let (_, said) = hcp(&["audit", "verify"], &data, &config);
    assert!(
        said.contains("schema version 2"),
        "the folder stays v2: {said}"
    );
}
