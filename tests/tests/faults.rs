//! The server SIGKILLed again and again under mixed load: ratings from devices, 差评 orders
//! accepted by a handler, county rules saved from the console and adapters swapped in the
//! plugins folder, all at once. After the last restart every acknowledged rating and accept is
//! there exactly once, the rules active are the last ones saved, the audit chain verifies, and
//! `hcp rebuild` gives back the same answers. `HCP_KILLS` sets the number of kills (10 here;
//! `scripts/soak.sh` runs 50 and more).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use hcp_e2e::{
    Fixture, Server, Session, adapter, answers, assert_same_answers, baofeng_four_days, binary,
    by_event_id, rating, rules_copy, run_hcp, seed, write_config,
};
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery";

fn kills() -> usize {
    std::env::var("HCP_KILLS")
        .ok()
        .and_then(|kills| kills.parse().ok())
        .unwrap_or(10)
}

/// The server's URL now (it changes with each restart).
type Url = Arc<RwLock<String>>;

#[derive(Default)]
struct Acknowledged {
    ratings: BTreeMap<String, u64>,
    accepts: BTreeSet<u64>,
    /// Rules versions saved, in order; whether the platform acknowledged each.
    saves: Vec<(String, bool)>,
    /// Requests cut off by a kill.
    cut: u64,
}

type Done = Arc<Mutex<Acknowledged>>;

/// Ratings one by one, every fourth a 差评; a request cut off goes again with its event id.
async fn devices(
    writer: usize,
    url: Url,
    fixture: Arc<Fixture>,
    done: Done,
    stop: Arc<AtomicBool>,
) {
    let mut index = 0u64;
    while !stop.load(Ordering::SeqCst) {
        index += 1;
        let event = format!("w{writer}-{index}");
        let mut body = rating(
            &fixture,
            &event,
            &format!("41042120261{writer}{index:07}"),
            "13912345678",
        );
        if index.is_multiple_of(4) {
            body["level"] = json!("dissatisfied");
            body["indicators"] = json!(["510"]);
            body["text"] = json!("窗口无人，等候超过一小时");
        }
        loop {
            let base = url.read().unwrap().clone();
            match fixture.ingest(&base, "ratings", &body).await {
                Ok((200 | 201, answer)) => {
                    let id = answer["id"].as_u64().unwrap();
                    let previous = done.lock().unwrap().ratings.insert(event.clone(), id);
                    assert!(previous.is_none(), "{event} acknowledged twice");
                    break;
                }
                Ok((status, answer)) if status < 500 => panic!("{event}: {status} {answer}"),
                _ => {
                    done.lock().unwrap().cut += 1;
                    tokio::time::sleep(Duration::from_millis(30)).await;
                }
            }
        }
    }
}

/// A session of `username` on the server at `url` now, signing in again after a restart.
async fn session(
    url: &Url,
    (username, password): (&str, &str),
    cached: &mut Option<Session>,
) -> Option<Session> {
    let base = url.read().unwrap().clone();
    if let Some(session) = cached.take()
        && session.url == base
    {
        return Some(session);
    }
    Session::login(&base, username, password).await.ok()
}

/// Accepts the 差评 orders it finds waiting.
async fn handler(url: Url, done: Done, stop: Arc<AtomicBool>) {
    let mut cached = None;
    let mut tried = BTreeSet::new();
    while !stop.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let Some(handler) = session(&url, ("handler", PASSWORD), &mut cached).await else {
            continue;
        };
        if let Ok(page) = handler
            .get("/api/v1/orders?kind=bad_review&limit=200")
            .await
        {
            let waiting: Vec<u64> = page["items"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|order| order["state"] == "dispatched")
                .filter_map(|order| order["id"].as_u64())
                .collect();
            for id in waiting {
                if !tried.insert(id) {
                    continue;
                }
                let step = json!({"type": "accept", "note": "受理"});
                match handler
                    .try_post(&format!("/api/v1/orders/{id}/actions"), &step)
                    .await
                {
                    Ok((200, _)) => {
                        done.lock().unwrap().accepts.insert(id);
                    }
                    Ok((422 | 409, _)) => {}
                    Ok((status, answer)) if status < 500 && status != 401 => {
                        panic!("accepting {id}: {status} {answer}")
                    }
                    _ => {
                        done.lock().unwrap().cut += 1;
                        break;
                    }
                }
            }
        }
        cached = Some(handler);
    }
}

/// Saves 宝丰县's rules from the console, the 4-day deadline and the shipped one in turn.
async fn editor(
    url: Url,
    done: Done,
    stop: Arc<AtomicBool>,
    (password, shipped): (String, BTreeMap<String, String>),
) {
    let mut cached = None;
    let mut turn = 0u64;
    while !stop.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(400)).await;
        let Some(admin) = session(&url, ("admin", &password), &mut cached).await else {
            continue;
        };
        turn += 1;
        let files: serde_json::Map<String, Value> = if turn.is_multiple_of(2) {
            shipped
                .iter()
                .map(|(path, text)| (path.clone(), json!(text)))
                .collect()
        } else {
            match baofeng_four_days(&admin).await {
                Ok(files) => files,
                Err(_) => continue,
            }
        };
        match admin
            .try_put(
                "/api/v1/rules/files",
                &json!({"county": "410421", "files": files}),
            )
            .await
        {
            Ok((200, answer)) => {
                let version = answer["active_version"].as_str().unwrap().to_string();
                done.lock().unwrap().saves.push((version, true));
            }
            Ok((status, answer)) if status < 500 && status != 401 => {
                panic!("saving rules: {status} {answer}")
            }
            _ => {
                let mut done = done.lock().unwrap();
                done.cut += 1;
                done.saves.push((String::new(), false));
            }
        }
        cached = Some(admin);
    }
}

/// Moves adapter files in and out of the plugins folder, as a vendor's update would.
async fn vendor(plugins: PathBuf, stop: Arc<AtomicBool>, swaps: Arc<AtomicU64>) {
    let components = [
        (
            "zw-e7.wasm",
            std::fs::read(adapter("zw-e7").unwrap()).unwrap(),
        ),
        (
            "yth-feed.wasm",
            std::fs::read(adapter("yth-feed").unwrap()).unwrap(),
        ),
    ];
    let mut turn = 0usize;
    while !stop.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let (name, bytes) = &components[turn % 2];
        let path = plugins.join(name);
        if path.exists() {
            std::fs::remove_file(&path).unwrap();
        } else {
            let temp = plugins.join(format!("{name}.tmp"));
            std::fs::write(&temp, bytes).unwrap();
            std::fs::rename(&temp, &path).unwrap();
        }
        swaps.fetch_add(1, Ordering::Relaxed);
        turn += 1;
    }
}

fn start(data: &Path, config: &Path) -> Server {
    Server::start(&binary("debug").unwrap(), "serve", data, Some(config)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_write_of_a_mixed_load_survives_repeated_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let (rules, _) = rules_copy(dir.path()).unwrap();
    let config = write_config(
        dir.path(),
        &format!(
            "rules_dir = {:?}\n\n[workflow]\nsweep_secs = 0\n\n[limits]\npublic_posts_per_minute = 100000\npublic_reads_per_minute = 100000\nlogin_per_address_per_minute = 100000\n",
            rules.display().to_string()
        ),
    )
    .unwrap();
    let data = dir.path().join("data");
    let plugins = data.join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::copy(adapter("hx-pj200").unwrap(), plugins.join("hx-pj200.wasm")).unwrap();

    let server = start(&data, &config);
    let password = server.admin_password().unwrap();
    let admin = Session::login(&server.url, "admin", &password)
        .await
        .unwrap();
    let fixture = Arc::new(seed(&admin).await.unwrap());
    admin
        .create_user("handler", "department_handler", &fixture.department)
        .await
        .unwrap();
    let shipped: BTreeMap<String, String> =
        admin.get("/api/v1/rules/files").await.unwrap()["files"]
            .as_object()
            .unwrap()
            .iter()
            .filter(|(path, _)| path.starts_with("410421/"))
            .map(|(path, text)| (path.clone(), text.as_str().unwrap().to_string()))
            .collect();

    let url: Url = Arc::new(RwLock::new(server.url.clone()));
    let done: Done = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let swaps = Arc::new(AtomicU64::new(0));
    let mut load = Vec::new();
    for writer in 0..4 {
        load.push(tokio::spawn(devices(
            writer,
            url.clone(),
            fixture.clone(),
            done.clone(),
            stop.clone(),
        )));
    }
    load.push(tokio::spawn(handler(
        url.clone(),
        done.clone(),
        stop.clone(),
    )));
    load.push(tokio::spawn(editor(
        url.clone(),
        done.clone(),
        stop.clone(),
        (password.clone(), shipped),
    )));
    load.push(tokio::spawn(vendor(
        plugins.clone(),
        stop.clone(),
        swaps.clone(),
    )));

    let kills = kills();
    let mut server = Some(server);
    for round in 0..kills {
        let target = done.lock().unwrap().ratings.len() + 60;
        while done.lock().unwrap().ratings.len() < target {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tokio::time::sleep(Duration::from_millis(13 * (round % 20) as u64)).await;
        server.take().unwrap().kill().unwrap();
        let restarted = start(&data, &config);
        *url.write().unwrap() = restarted.url.clone();
        server = Some(restarted);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::SeqCst);
    for task in load {
        task.await.unwrap();
    }
    let server = server.unwrap();
    let done = std::mem::take(&mut *done.lock().unwrap());
    eprintln!(
        "{kills} SIGKILLs: {} ratings, {} accepts, {} rule saves ({} acknowledged), {} adapter swaps acknowledged or done; {} requests cut off and retried",
        done.ratings.len(),
        done.accepts.len(),
        done.saves.len(),
        done.saves.iter().filter(|(_, acked)| *acked).count(),
        swaps.load(Ordering::Relaxed),
        done.cut
    );
    assert!(
        done.cut > 0,
        "no request was cut off by a kill: the test proved nothing"
    );

    // Every acknowledged rating once, under its id; every acknowledged accept once.
    let admin = Session::login(&server.url, "admin", &password)
        .await
        .unwrap();
    let stored = by_event_id(&admin.all_ratings("").await.unwrap()).unwrap();
    let lost: Vec<&String> = done
        .ratings
        .iter()
        .filter(|(event, id)| stored.get(*event) != Some(*id))
        .map(|(event, _)| event)
        .collect();
    assert!(
        lost.is_empty(),
        "acknowledged ratings lost or renumbered: {lost:?}"
    );
    let orders = admin
        .get_list("/api/v1/orders?kind=bad_review")
        .await
        .unwrap();
    let mut accepted = BTreeSet::new();
    for order in orders.as_array().unwrap() {
        let accepts = order["history"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|step| step["action"] == "accept")
            .count();
        assert!(accepts <= 1, "accepted {accepts} times: {order}");
        if accepts == 1 {
            accepted.insert(order["id"].as_u64().unwrap());
        }
    }
    let missing: Vec<&u64> = done.accepts.difference(&accepted).collect();
    assert!(missing.is_empty(), "acknowledged accepts lost: {missing:?}");
    // The rules active are those of the last acknowledged save, or of a later one whose answer
    // a kill cut off.
    let active = admin.get("/api/v1/rules/status").await.unwrap()["active_version"]
        .as_str()
        .unwrap()
        .to_string();
    let versions = admin
        .get("/api/v1/rules/versions")
        .await
        .unwrap()
        .to_string();
    if let Some(last) = done.saves.iter().rposition(|(_, acked)| *acked) {
        assert!(
            versions.contains(&done.saves[last].0),
            "an acknowledged rules version is not recorded"
        );
        let later_or_last =
            active == done.saves[last].0 || done.saves[last + 1..].iter().all(|(_, acked)| !*acked);
        assert!(
            later_or_last,
            "active {active} is not the last saved version"
        );
    }

    // The adapters installed are the files the folder holds after the last swap.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let installed: BTreeSet<String> = admin.get("/api/v1/admin/plugins").await.unwrap()["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|status| status["origin"].as_str().unwrap().to_string())
        .collect();
    let files: BTreeSet<String> = std::fs::read_dir(&plugins)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().to_string())
        .filter(|name| name.ends_with(".wasm"))
        .collect();
    assert_eq!(installed, files);

    // The chain verifies, and a rebuild from the log gives back the same answers.
    let before = answers(&admin).await.unwrap();
    assert_eq!(server.stop().unwrap().code(), Some(0));
    let (ok, output) = run_hcp(&["audit", "verify"], &data, Some(&config)).unwrap();
    assert!(ok && output.contains("the chain is intact"), "{output}");
    let (ok, output) = run_hcp(&["rebuild"], &data, Some(&config)).unwrap();
    assert!(ok, "{output}");
    let server = start(&data, &config);
    let admin = Session::login(&server.url, "admin", &password)
        .await
        .unwrap();
    let after = answers(&admin).await.unwrap();
    assert_same_answers(&before, &after, "the rebuild");
    drop(server);
}
