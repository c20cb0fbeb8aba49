//! The province deployment under faults: three nats-servers holding one R3 stream, three `hcp
//! serve` nodes of one partition that all compete for the workers, the SMS gateway stand-in and
//! the simulated provincial platform (`hcp province-sim`) watching. Under ingest and work-order
//! load a county rule saved on one node decides on another a second later, the stream's leader
//! is SIGKILLed, then the node that runs the workers; both come back.
//! Afterwards every acknowledged rating and order step is on every node exactly once, the
//! workers run on another node, every tracking SMS went out (once, but for the one message the
//! killed node may have had in flight, sent again under its id) and every rating reached the
//! province in one batch only.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use hcp_cluster::servers::NatsServers;
use hcp_e2e::{
    Fixture, Province, Server, Session, SmsGateway, baofeng_four_days, binary, by_event_id, rating,
    rectify_days, rules_copy, seed, write_config,
};
use serde_json::{Value, json};

/// How long the load runs around the two kills.
const LOAD: Duration = Duration::from_secs(24);

/// One `hcp serve` node's folder and configuration: the shared log on every server, the
/// partition's key, the workers with leases of 3 s, sweeps and uplink runs every second.
fn node_config(
    dir: &Path,
    nats: &[String],
    key: &Path,
    sms: &str,
    province: &str,
) -> anyhow::Result<PathBuf> {
    let (rules, _) = rules_copy(dir)?;
    hcp_e2e::install_adapter(dir, "henan-uplink")?;
    let servers: Vec<String> = nats.iter().map(|url| format!("{url:?}")).collect();
    write_config(
        dir,
        &format!(
            "rules_dir = {rules:?}\n\n\
             [security]\npii_key_file = {key:?}\n\n\
             [cluster]\nservers = [{servers}]\npartition = \"410400\"\nreplicas = 3\ncatch_up_ms = 100\nworkers = true\nlease_secs = 3\n\n\
             [workflow]\nsweep_secs = 1\n\n\
             [messages]\ngateway_url = \"{sms}\"\ntimeout_ms = 1000\nretry_secs = 1\n\n\
             [uplink]\nenabled = true\nendpoint = \"{province}/api/haocp/batch\"\nreconcile_endpoint = \"{province}/api/haocp/counts\"\n\
             batch_size = 25\ninterval_secs = 1\nretry_base_secs = 1\nretry_max_secs = 2\ntimeout_ms = 2000\nreconcile_at = \"\"\n",
            rules = rules.display().to_string(),
            key = key.display().to_string(),
            servers = servers.join(", "),
        ),
    )
}

fn start(dir: &Path) -> anyhow::Result<Server> {
    Server::start(
        &binary("debug")?,
        "serve",
        &dir.join("data"),
        Some(&dir.join("hcp.toml")),
    )
}

/// A node as the load sees it: its URL and its handler's session, `None` while it is down.
type Live = Arc<Mutex<Vec<Option<(String, Arc<Session>)>>>>;

fn live_nodes(live: &Live) -> Vec<(usize, String, Arc<Session>)> {
    live.lock()
        .unwrap()
        .iter()
        .enumerate()
        .filter_map(|(index, node)| {
            node.as_ref()
                .map(|(url, handler)| (index, url.clone(), handler.clone()))
        })
        .collect()
}

/// What the load was told was done.
#[derive(Default)]
struct Acknowledged {
    /// Event ids of ratings answered 200/201.
    ratings: BTreeSet<String>,
    /// Bad reviews among them (each opens a 差评 order with a tracking SMS).
    bad: BTreeSet<String>,
    /// Orders whose `accept` was answered 200.
    accepted: BTreeSet<u64>,
    /// Requests that failed on a node going down (then retried on another).
    failed_over: u64,
}

/// A canonical rating for event `event`; every fourth one a real-name 差评.
fn rating_body(fixture: &Fixture, event: &str, index: u64) -> (Value, bool) {
    let mut body = rating(
        fixture,
        event,
        &format!("4104212026120{index:07}"),
        &format!("139{index:08}"),
    );
    let bad = index.is_multiple_of(4);
    if bad {
        body["level"] = json!("dissatisfied");
        body["indicators"] = json!(["510"]);
        body["text"] = json!("排队时间过长，窗口人员不在岗");
    }
    (body, bad)
}

/// Sends ratings one per request to the live nodes in turn until `stop`; a request that fails
/// goes again, with the same event id, to the next node.
async fn ingest_load(
    writer: u64,
    fixture: Arc<Fixture>,
    live: Live,
    stop: Arc<AtomicBool>,
    done: Arc<Mutex<Acknowledged>>,
) {
    let mut turn = writer as usize;
    let mut index = 0;
    while !stop.load(Ordering::Relaxed) {
        index += 1;
        let number = writer * 100_000 + index;
        let event = format!("w{writer}-{index}");
        let (body, bad) = rating_body(&fixture, &event, number);
        for _ in 0..20 {
            let nodes = live_nodes(&live);
            if nodes.is_empty() {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
            turn += 1;
            let (_, url, _) = &nodes[turn % nodes.len()];
            match fixture.ingest(url, "ratings", &body).await {
                Ok((200 | 201, _)) => {
                    let mut done = done.lock().unwrap();
                    done.ratings.insert(event.clone());
                    if bad {
                        done.bad.insert(event.clone());
                    }
                    break;
                }
                Ok((status, answer)) if status != 503 && status < 500 => {
                    panic!("{url} refused {event}: {status} {answer}")
                }
                _ => {
                    done.lock().unwrap().failed_over += 1;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(15)).await;
    }
}

/// Accepts the 差评 orders it finds, each through the next live node's handler, until `stop`.
/// An accept answered 200 is acknowledged; one cut off by a node going down is not, and the
/// next node may then find the order accepted already (422).
async fn order_load(live: Live, stop: Arc<AtomicBool>, done: Arc<Mutex<Acknowledged>>) {
    let mut turn = 0;
    let mut tried = BTreeSet::new();
    while !stop.load(Ordering::Relaxed) {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let nodes = live_nodes(&live);
        if nodes.is_empty() {
            continue;
        }
        turn += 1;
        let (_, _, handler) = &nodes[turn % nodes.len()];
        let Ok(page) = handler
            .get("/api/v1/orders?kind=bad_review&limit=500")
            .await
        else {
            continue;
        };
        let open: Vec<u64> = page["items"]
            .as_array()
            .map(|orders| {
                orders
                    .iter()
                    .filter(|order| order["state"] == "dispatched")
                    .filter_map(|order| order["id"].as_u64())
                    .collect()
            })
            .unwrap_or_default();
        for id in open {
            if stop.load(Ordering::Relaxed) || !tried.insert(id) {
                continue;
            }
            let nodes = live_nodes(&live);
            turn += 1;
            let (_, _, handler) = &nodes[turn % nodes.len()];
            let step = json!({"type": "accept", "note": "受理"});
            match handler
                .try_post(&format!("/api/v1/orders/{id}/actions"), &step)
                .await
            {
                Ok((200, _)) => {
                    done.lock().unwrap().accepted.insert(id);
                }
                Ok((422 | 409, _)) => {}
                Ok((status, answer)) if status != 503 && status < 500 && status != 401 => {
                    panic!("accepting order {id}: {status} {answer}")
                }
                _ => done.lock().unwrap().failed_over += 1,
            }
        }
    }
}

/// Whether the node whose operations address is `ops` runs `worker` now, as `/metrics` says.
async fn runs(ops: &str, worker: &str) -> bool {
    let Ok(response) = reqwest::get(format!("{ops}/metrics")).await else {
        return false;
    };
    let text = response.text().await.unwrap_or_default();
    let line = format!("hcp_worker_running{{worker=\"{worker}\"}} ");
    text.lines()
        .find_map(|row| row.strip_prefix(&line))
        .is_some_and(|value| value.trim() == "1")
}

/// The index of the node that runs both workers, waiting up to 30 s for one to.
async fn worker_node(servers: &[Option<Server>]) -> anyhow::Result<usize> {
    let asked = Instant::now();
    loop {
        for (index, server) in servers.iter().enumerate() {
            if let Some(server) = server
                && runs(&server.ops_url, "sweep").await
                && runs(&server.ops_url, "uplink").await
            {
                return Ok(index);
            }
        }
        anyhow::ensure!(
            asked.elapsed() < Duration::from_secs(30),
            "no node runs both workers"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_lose_nothing_when_the_stream_leader_then_the_workers_node_is_killed()
-> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut nats = NatsServers::start(3, &dir.path().join("nats"))?;
    let urls = nats.urls();
    let province = Province::start(&dir.path().join("province"), "127.0.0.1:0");
    let sms = SmsGateway::start()?;
    let key = dir.path().join("pii.key");
    let dirs: Vec<PathBuf> = ["a", "b", "c"]
        .iter()
        .map(|name| dir.path().join(name))
        .collect();
    for node in &dirs {
        node_config(node, &urls, &key, sms.url(), &province.url)?;
    }

    // A creates the administrator and the county; B and C fill their folders from the log.
    let mut servers: Vec<Option<Server>> = vec![Some(start(&dirs[0])?)];
    let first = servers[0].as_ref().unwrap();
    let password = first.admin_password().context("A bootstraps")?;
    let admin = Session::login(&first.url, "admin", &password).await?;
    let fixture = Arc::new(seed(&admin).await?);
    admin
        .create_user("handler", "department_handler", &fixture.department)
        .await?;
    for node in &dirs[1..] {
        servers.push(Some(start(node)?));
    }
    let live: Live = Arc::default();
    for server in servers.iter().flatten() {
        let handler = Session::login(&server.url, "handler", "correct horse battery").await?;
        live.lock()
            .unwrap()
            .push(Some((server.url.clone(), Arc::new(handler))));
    }

    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(Mutex::new(Acknowledged::default()));
    let mut load = Vec::new();
    for writer in 0..3 {
        load.push(tokio::spawn(ingest_load(
            writer,
            fixture.clone(),
            live.clone(),
            stop.clone(),
            done.clone(),
        )));
    }
    load.push(tokio::spawn(order_load(
        live.clone(),
        stop.clone(),
        done.clone(),
    )));
    let began = Instant::now();

    // Under the load, a county rule saved on A decides on C a second later.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let admin_c = Session::login(&servers[2].as_ref().unwrap().url, "admin", &password).await?;
    let files = baofeng_four_days(&admin).await?;
    let saved = admin
        .put(
            "/api/v1/rules/files",
            &json!({"county": "410421", "files": files}),
        )
        .await?["active_version"]
        .clone();
    let saved_at = Instant::now();
    while admin_c.get("/api/v1/rules/status").await?["active_version"] != saved
        && saved_at.elapsed() < Duration::from_secs(1)
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    eprintln!(
        "the rules saved on A were active on C after {} ms",
        saved_at.elapsed().as_millis()
    );
    tokio::time::sleep(Duration::from_secs(1).saturating_sub(saved_at.elapsed())).await;
    let (mut body, _) = rating_body(&fixture, "rule-on-c", 4);
    body["project_no"] = json!("4104212026129999999");
    let (status, recorded) = fixture
        .ingest(&servers[2].as_ref().unwrap().url, "ratings", &body)
        .await?;
    assert_eq!(status, 201, "{recorded}");
    let id = recorded["id"].as_u64().context("an id")?;
    assert_eq!(
        rectify_days(&admin_c, id).await?,
        4,
        "C times a 差评 by the rule saved on A a second before"
    );
    {
        let mut done = done.lock().unwrap();
        done.ratings.insert("rule-on-c".into());
        done.bad.insert("rule-on-c".into());
    }

    // The stream's leader goes first.
    tokio::time::sleep(Duration::from_secs(5).saturating_sub(began.elapsed())).await;
    let probe = hcp_cluster::Journal::connect(hcp_cluster::JournalConfig::new(urls.clone(), 3))
        .await
        .context("a probe of the stream")?;
    let leader = probe.leader().await?.context("the stream has a leader")?;
    let killed_server = nats.index_of(&leader).context("the leader is ours")?;
    nats.kill(killed_server)?;
    eprintln!(
        "{:.1} s: killed the stream leader {leader}",
        began.elapsed().as_secs_f64()
    );

    // Then the node that runs the workers.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let killed_node = worker_node(&servers).await?;
    live.lock().unwrap()[killed_node] = None;
    servers[killed_node].take().unwrap().kill()?;
    let killed_at = Instant::now();
    eprintln!(
        "{:.1} s: killed node {killed_node}, which ran the workers",
        began.elapsed().as_secs_f64()
    );
    let successor = worker_node(&servers).await?;
    assert_ne!(successor, killed_node);
    eprintln!(
        "node {successor} runs the workers {} ms after the kill (leases of 3 s)",
        killed_at.elapsed().as_millis()
    );

    // Both come back while the load goes on.
    tokio::time::sleep(Duration::from_secs(3)).await;
    nats.restart(killed_server)?;
    let back = start(&dirs[killed_node])?;
    let handler = Session::login(&back.url, "handler", "correct horse battery").await?;
    live.lock().unwrap()[killed_node] = Some((back.url.clone(), Arc::new(handler)));
    servers[killed_node] = Some(back);
    tokio::time::sleep(LOAD.saturating_sub(began.elapsed())).await;
    stop.store(true, Ordering::Relaxed);
    for task in load {
        task.await?;
    }
    let done = std::mem::take(&mut *done.lock().unwrap());
    eprintln!(
        "acknowledged: {} ratings ({} 差评), {} accepts; {} requests failed over",
        done.ratings.len(),
        done.bad.len(),
        done.accepted.len(),
        done.failed_over
    );
    assert!(done.ratings.len() > 100 && !done.accepted.is_empty());

    // Every node: each acknowledged rating once, the same ids everywhere, each acknowledged
    // accept once in its order's history and no order accepted twice.
    let mut first_view: Option<BTreeMap<String, u64>> = None;
    for server in servers.iter().flatten() {
        let admin = Session::login(&server.url, "admin", &password).await?;
        let mut stored = BTreeMap::new();
        let asked = Instant::now();
        while asked.elapsed() < Duration::from_secs(60) {
            stored = by_event_id(&admin.all_ratings("").await?)?;
            if done.ratings.iter().all(|event| stored.contains_key(event)) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let missing: Vec<&String> = done
            .ratings
            .iter()
            .filter(|event| !stored.contains_key(*event))
            .collect();
        assert!(missing.is_empty(), "{}: missing {missing:?}", server.url);
        match &first_view {
            None => first_view = Some(stored),
            Some(view) => assert_eq!(view, &stored, "{} differs", server.url),
        }
        let orders = admin.get_list("/api/v1/orders?kind=bad_review").await?;
        let orders = orders.as_array().context("orders")?;
        let mut accepted = BTreeSet::new();
        for order in orders {
            let accepts = order["history"]
                .as_array()
                .context("a history")?
                .iter()
                .filter(|step| step["action"] == "accept")
                .count();
            assert!(accepts <= 1, "accepted {accepts} times: {order}");
            if accepts == 1 {
                accepted.insert(order["id"].as_u64().context("an id")?);
            }
        }
        let lost: Vec<&u64> = done.accepted.difference(&accepted).collect();
        assert!(lost.is_empty(), "{}: accepts lost {lost:?}", server.url);
    }
    let stored = first_view.context("a node")?;

    // The workers: every 差评's tracking SMS went out once; every rating went up once.
    let asked = Instant::now();
    let tracking = loop {
        let tracking: Vec<Value> = sms.of_purpose("tracking");
        let ids: BTreeSet<u64> = tracking
            .iter()
            .filter_map(|body| body["id"].as_u64())
            .collect();
        if ids.len() >= done.bad.len() || asked.elapsed() > Duration::from_secs(60) {
            break tracking;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let mut per_message: BTreeMap<u64, usize> = BTreeMap::new();
    for body in &tracking {
        *per_message
            .entry(body["id"].as_u64().context("an id")?)
            .or_default() += 1;
    }
    let twice: Vec<(&u64, &usize)> = per_message.iter().filter(|(_, sent)| **sent > 1).collect();
    eprintln!(
        "tracking SMS: {} messages, {} requests, sent more than once: {twice:?}",
        per_message.len(),
        tracking.len()
    );
    assert!(per_message.len() >= done.bad.len(), "{per_message:?}");
    // Each answer is recorded before the next message goes: the killed node can have left
    // unrecorded only the one message it had in flight, which its successor sent again under
    // the same id (the gateway's idempotency key). Nothing else goes twice.
    assert!(
        twice.len() <= 1 && twice.iter().all(|(_, sent)| **sent == 2),
        "messages sent twice: {twice:?}"
    );

    let asked = Instant::now();
    let state = loop {
        let state = province.state().await;
        if state["records"].as_u64() >= Some(stored.len() as u64)
            || asked.elapsed() > Duration::from_secs(60)
        {
            break state;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let batches = state["batches"].as_array().context("batches")?;
    let refused: u64 = batches
        .iter()
        .map(|batch| batch["refused"].as_u64().unwrap_or(0))
        .sum();
    let resent: Vec<&Value> = batches
        .iter()
        .filter(|batch| batch["received"].as_u64() > Some(1))
        .collect();
    eprintln!(
        "province: {} records in {} batches; batches received again under their number: {}",
        state["records"],
        batches.len(),
        resent.len()
    );
    assert_eq!(state["records"], stored.len(), "{state}");
    assert_eq!(refused, 0, "a record went up twice: {state}");
    drop(servers);
    Ok(())
}
