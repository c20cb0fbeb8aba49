//! The log's hash chain: a changed, removed or truncated entry is detected and named.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use hcp_core::clock::ManualClock;
use hcp_core::event::AuditEntry;
use hcp_core::pii::PiiKey;
use hcp_core::store::chain::Verification;
use hcp_core::store::codec;
use hcp_core::store::{Command, Store, StoreOptions};

fn open(dir: &std::path::Path) -> Store {
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 3, 10, 2, 0, 0).unwrap(),
    ));
    Store::open(
        dir,
        PiiKey::from_bytes([5; 32]),
        clock,
        StoreOptions::default(),
    )
    .unwrap()
}

/// A store with `count` audit entries (seq 1..=count), closed.
fn filled(count: u64) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let commands = (1..=count)
        .map(|index| Command::Audit {
            entry: AuditEntry {
                actor: "callback".into(),
                action: "reveal_evaluator".into(),
                target: format!("rating:{index}"),
                detail: "差评回访核实".into(),
            },
        })
        .collect();
    store.submit(commands).unwrap();
    store.close().unwrap();
    drop(store);
    dir
}

/// Changes the raw bytes of the log behind the store's back, as an intruder with file access.
fn tamper(dir: &std::path::Path, change: impl FnOnce(&sled::Tree)) {
    let db = hcp_core::store::open_sled(dir).unwrap();
    change(&db.open_tree("log").unwrap());
    db.flush().unwrap();
}

fn verify(dir: &std::path::Path) -> Verification {
    let store = open(dir);
    let result = store.verify_chain().unwrap();
    store.close().unwrap();
    result
}

#[test]
fn an_untouched_log_verifies_across_reopen_and_rebuild() {
    let dir = filled(20);
    assert_eq!(verify(dir.path()), Verification::Intact { entries: 20 });
    let store = open(dir.path());
    store.rebuild().unwrap();
    store
        .submit_one(Command::Audit {
            entry: AuditEntry {
                actor: "admin".into(),
                action: "after_rebuild".into(),
                target: "x".into(),
                detail: String::new(),
            },
        })
        .unwrap();
    store.close().unwrap();
    drop(store);
    assert_eq!(verify(dir.path()), Verification::Intact { entries: 21 });
}

/// A name, a change to the raw log, the entry the check must name, and words it must say.
type TamperCase = (
    &'static str,
    Box<dyn FnOnce(&sled::Tree)>,
    u64,
    &'static str,
);

#[test]
fn tampering_is_detected_and_the_entry_named() {
    let cases: [TamperCase; 4] = [
        (
            "a changed detail",
            Box::new(|log| {
                let key = 7u64.to_be_bytes();
                let bytes = log.get(key).unwrap().unwrap();
                let text = String::from_utf8(codec::json(&bytes).unwrap().to_vec())
                    .unwrap()
                    .replace("差评回访核实", "无");
                log.insert(key, codec::compress(text.into_bytes())).unwrap();
            }),
            7,
            "entry 7 was changed",
        ),
        (
            "a removed entry",
            Box::new(|log| {
                log.remove(12u64.to_be_bytes()).unwrap();
            }),
            12,
            "entry 12 is missing",
        ),
        (
            "a changed last entry",
            Box::new(|log| {
                let key = 20u64.to_be_bytes();
                let bytes = log.get(key).unwrap().unwrap();
                let text = String::from_utf8(codec::json(&bytes).unwrap().to_vec())
                    .unwrap()
                    .replace("callback", "nobody");
                log.insert(key, codec::compress(text.into_bytes())).unwrap();
            }),
            20,
            "entry 20 was changed",
        ),
        (
            "a truncated log",
            Box::new(|log| {
                log.remove(20u64.to_be_bytes()).unwrap();
            }),
            20,
            "the log ends at entry 19",
        ),
    ];
    for (name, change, seq, words) in cases {
        let dir = filled(20);
        tamper(dir.path(), change);
        match verify(dir.path()) {
            Verification::Broken {
                seq: found,
                problem,
            } => {
                assert_eq!(found, seq, "{name}: {problem}");
                assert!(problem.contains(words), "{name}: {problem}");
            }
            other => panic!("{name} went unnoticed: {other:?}"),
        }
    }
}
