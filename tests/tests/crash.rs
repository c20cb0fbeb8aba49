//! Kills the real server with SIGKILL again and again while clients ingest, restarts it on the
//! same data folder, and checks that every acknowledged rating is stored exactly once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use hcp_e2e::{Fixture, Server, Session, binary, by_event_id, rating, seed};

const CLIENTS: usize = 8;
const KILLS: usize = 6;

/// What the clients were told: event id → rating id.
type Acks = Arc<Mutex<BTreeMap<String, u64>>>;

async fn client(
    number: usize,
    url: Arc<RwLock<String>>,
    fixture: Arc<Fixture>,
    acks: Acks,
    stop: Arc<AtomicBool>,
) -> usize {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let mut sent = 0;
    let mut retries = 0;
    loop {
        // A request that failed (the server died) is retried with the same event id until it
        // gets an answer; only then does the client move on, or stop.
        let event_id = format!("c{number}-e{sent}");
        let body = rating(
            &fixture,
            &event_id,
            &format!("P-{number}-{sent}"),
            "13912345678",
        );
        let base = url.read().unwrap().clone();
        let answer = http
            .post(format!("{base}/api/v1/sources/{}/ratings", fixture.source))
            .header("x-api-key", &fixture.api_key)
            .json(&body)
            .send()
            .await;
        match answer {
            Ok(response) if response.status().is_success() => {
                let status = response.status().as_u16();
                let value: serde_json::Value = response.json().await.unwrap();
                let id = value["id"].as_u64().unwrap();
                assert!(
                    status == 201 || (status == 200 && value["status"] == "duplicate"),
                    "{status} {value}"
                );
                let previous = acks.lock().unwrap().insert(event_id.clone(), id);
                assert!(previous.is_none(), "{event_id} acknowledged twice");
                sent += 1;
                if stop.load(Ordering::SeqCst) {
                    return retries;
                }
            }
            Ok(response) => panic!("unexpected answer {} for {event_id}", response.status()),
            Err(_) => {
                retries += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_rating_survives_sigkill_exactly_once() {
    let binary = binary("debug").unwrap();
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(&binary, "serve", data.path(), None).unwrap();
    let password = server
        .admin_password()
        .expect("first start prints the admin password");
    let admin = Session::login(&server.url, "admin", &password)
        .await
        .unwrap();
    let fixture = Arc::new(seed(&admin).await.unwrap());

    let url = Arc::new(RwLock::new(server.url.clone()));
    let acks: Acks = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|number| {
            tokio::spawn(client(
                number,
                url.clone(),
                fixture.clone(),
                acks.clone(),
                stop.clone(),
            ))
        })
        .collect();

    let mut server = Some(server);
    let mut acked_before_kill = Vec::new();
    for round in 0..KILLS {
        // Let the clients get a few hundred acknowledgements in, then kill mid-flight.
        let target = acks.lock().unwrap().len() + 150;
        while acks.lock().unwrap().len() < target {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tokio::time::sleep(Duration::from_millis(17 * round as u64)).await;
        server.take().unwrap().kill().unwrap();
        acked_before_kill.push(acks.lock().unwrap().len());
        let restarted = Server::start(&binary, "serve", data.path(), None).unwrap();
        *url.write().unwrap() = restarted.url.clone();
        server = Some(restarted);
    }
    stop.store(true, Ordering::SeqCst);
    let mut retries = 0;
    for client in clients {
        retries += client.await.unwrap();
    }
    let server = server.unwrap();
    let acks = acks.lock().unwrap().clone();
    assert!(
        retries > 0,
        "no request was cut off by a kill; the test proved nothing"
    );

    // Every acknowledged rating is there, once, under the id the client was given.
    let admin = Session::login(&server.url, "admin", &password)
        .await
        .unwrap();
    let today = hcp_e2e_today();
    let items = admin
        .all_ratings(&format!("unit=410421&from={}&to={}", today.0, today.1))
        .await
        .unwrap();
    assert!(
        items
            .iter()
            .all(|item| item["evaluator"]["phone"] == "139****5678")
    );
    let stored = by_event_id(&items).unwrap();
    assert_eq!(stored, acks, "stored ratings differ from acknowledged ones");
    println!(
        "{} ratings acknowledged over {KILLS} SIGKILLs (acks at each kill: {acked_before_kill:?}), {retries} requests cut off and retried, all stored exactly once",
        acks.len()
    );
    assert_eq!(server.stop().unwrap().code(), Some(0));
}

/// Yesterday and today in China time (ratings near midnight fall on either).
fn hcp_e2e_today() -> (chrono::NaiveDate, chrono::NaiveDate) {
    let today = (chrono::Utc::now() + chrono::Duration::hours(8)).date_naive();
    (today.pred_opt().unwrap(), today)
}
