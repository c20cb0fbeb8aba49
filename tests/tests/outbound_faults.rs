//! The SMS gateway and the provincial platform slow, failing and hanging while ratings keep
//! coming, against the real binary, the SMS gateway stand-in and the simulated provincial
//! platform (`hcp province-sim`): each for a few seconds slow (answers under the time limit),
//! failing (500), then hanging (answers after the time limit: the gateway has taken the message,
//! the province the batch). Ingest is never refused meanwhile; once both answer again every
//! 差评's tracking SMS has gone out, each resend under its message's id with the same text (what
//! the gateway deduplicates on), and the province holds every rating exactly once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use hcp_e2e::{
    Province, Server, Session, SmsGateway, binary, rating, rules_copy, seed, write_config,
};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_failing_and_hanging_partners_lose_nothing_and_send_nothing_twice() {
    let dir = tempfile::tempdir().unwrap();
    let sms = SmsGateway::start().unwrap();
    let province = Province::start(&dir.path().join("province"), "127.0.0.1:0");
    let (rules, _) = rules_copy(dir.path()).unwrap();
    hcp_e2e::install_adapter(dir.path(), "henan-uplink").unwrap();
    let config = write_config(
        dir.path(),
        &format!(
            "rules_dir = {rules:?}\n\n\
             [workflow]\nsweep_secs = 1\n\n\
             [messages]\ngateway_url = \"{sms}\"\ntimeout_ms = 500\nretry_secs = 1\nmax_attempts = 50\n\n\
             [uplink]\nenabled = true\nendpoint = \"{province}/api/haocp/batch\"\nreconcile_endpoint = \"{province}/api/haocp/counts\"\n\
             batch_size = 10\ninterval_secs = 1\nretry_base_secs = 1\nretry_max_secs = 2\ntimeout_ms = 500\nreconcile_at = \"\"\n",
            rules = rules.display().to_string(),
            sms = sms.url(),
            province = province.url,
        ),
    )
    .unwrap();
    let server = Server::start(
        &binary("debug").unwrap(),
        "serve",
        &dir.path().join("data"),
        Some(&config),
    )
    .unwrap();
    let password = server.admin_password().unwrap();
    let admin = Session::login(&server.url, "admin", &password)
        .await
        .unwrap();
    let fixture = seed(&admin).await.unwrap();

    // Four phases of three seconds, ratings every 100 ms: slow, failing, hanging, then well.
    let mut bad = BTreeSet::new();
    let mut sent = 0;
    let phases: [(&str, Value, Duration, u32); 4] = [
        (
            "slow",
            json!({"mode": "late", "hang_ms": 200}),
            Duration::from_millis(300),
            0,
        ),
        (
            "failing",
            json!({"mode": "fail"}),
            Duration::ZERO,
            1_000_000,
        ),
        (
            "hanging",
            json!({"mode": "hang", "hang_ms": 1500}),
            Duration::from_millis(1500),
            0,
        ),
        ("well", json!({"mode": "ok"}), Duration::ZERO, 0),
    ];
    for (phase, province_mode, sms_delay, sms_failures) in phases {
        eprintln!("phase: {phase}");
        province.control(province_mode).await;
        sms.delay(sms_delay);
        sms.fail_next(sms_failures);
        let until = Instant::now() + Duration::from_secs(3);
        while Instant::now() < until {
            let event = format!("{phase}-{sent}");
            let mut item = rating(
                &fixture,
                &event,
                &format!("P-OUT-{sent}"),
                &format!("139{:08}", sent),
            );
            if sent % 3 == 0 {
                item["level"] = json!("very_dissatisfied");
                item["text"] = json!("等候时间太长");
                bad.insert(event.clone());
            }
            let (status, body) = fixture
                .ingest(&server.url, "ratings", &json!([item]))
                .await
                .unwrap();
            assert!(
                status == 200 && body["recorded"] == 1,
                "{phase}: ingest refused while the partners fail: {status} {body}"
            );
            sent += 1;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    // Every 差评's tracking SMS goes out; a resend carries the same id and text.
    let asked = Instant::now();
    let tracking = loop {
        let tracking = sms.of_purpose("tracking");
        let ids: BTreeSet<u64> = tracking
            .iter()
            .filter_map(|body| body["id"].as_u64())
            .collect();
        let answered = sms.received().len();
        if ids.len() >= bad.len() && answered > 0 || asked.elapsed() > Duration::from_secs(90) {
            break tracking;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let mut per_message: BTreeMap<u64, Vec<&Value>> = BTreeMap::new();
    for body in &tracking {
        per_message
            .entry(body["id"].as_u64().unwrap())
            .or_default()
            .push(body);
    }
    let resent = per_message.values().filter(|sends| sends.len() > 1).count();
    eprintln!(
        "tracking SMS: {} 差评, {} messages, {} requests, {resent} messages sent again under their id",
        bad.len(),
        per_message.len(),
        tracking.len()
    );
    assert_eq!(per_message.len(), bad.len(), "{per_message:?}");
    for (id, sends) in &per_message {
        assert!(
            sends.iter().all(|body| *body == sends[0]),
            "message {id} went out with different contents: {sends:?}"
        );
    }
    // The platform's own view: every message delivered, none given up.
    let messages = admin.get_list("/api/v1/messages?limit=500").await.unwrap();
    let states: BTreeMap<String, usize> =
        messages
            .as_array()
            .unwrap()
            .iter()
            .fold(BTreeMap::new(), |mut states, message| {
                *states
                    .entry(message["state"].as_str().unwrap_or("?").to_string())
                    .or_default() += 1;
                states
            });
    assert_eq!(states.get("failed"), None, "{states:?}");

    // The province holds every rating once.
    let asked = Instant::now();
    let state = loop {
        let state = province.state().await;
        if state["records"].as_u64() >= Some(sent) || asked.elapsed() > Duration::from_secs(90) {
            break state;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let batches = state["batches"].as_array().unwrap();
    let refused: u64 = batches
        .iter()
        .map(|batch| batch["refused"].as_u64().unwrap_or(0))
        .sum();
    let again = batches
        .iter()
        .filter(|batch| batch["received"].as_u64() > Some(1))
        .count();
    eprintln!(
        "province: {sent} ratings sent, {} records in {} batches, {again} received again under their number",
        state["records"],
        batches.len()
    );
    assert_eq!(state["records"], sent, "{state}");
    assert_eq!(refused, 0, "a record went up twice: {state}");
    drop(server);
}
