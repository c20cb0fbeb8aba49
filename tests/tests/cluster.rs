//! Two `hcp serve` nodes of one partition sharing its log through a real nats-server: each
//! takes ratings, each lists every rating once, a rating sent to both is stored once, and a
//! node killed (SIGKILL) comes back on its folder with what the other took meanwhile.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use hcp_cluster::servers::NatsServers;
use hcp_e2e::{
    BAOFENG_FOUR_DAYS, Fixture, Server, Session, SmsGateway, TABLE_2027, adapter,
    baofeng_four_days, binary, by_event_id, rating, rectify_days, rules_copy, seed, write_config,
};
use serde_json::json;

/// A node's folder and configuration: the shared log on `nats`, the partition's key, its own
/// copy of the rules.
fn node_config(
    dir: &Path,
    nats: &str,
    key: &Path,
    workers: bool,
    gateway: &str,
) -> anyhow::Result<PathBuf> {
    let (rules, _) = rules_copy(dir)?;
    write_config(
        dir,
        &format!(
            "rules_dir = {:?}\n\n[security]\npii_key_file = \"{}\"\n\n[cluster]\nservers = [\"{nats}\"]\npartition = \"410400\"\nreplicas = 1\ncatch_up_ms = 100\nworkers = {workers}\nlease_secs = 3\n\n[messages]\ntimeout_ms = 1000\ngateway_url = {gateway:?}\n",
            rules.display().to_string(),
            key.display()
        ),
    )?;
    Ok(rules)
}

/// Two nodes of partition 410400 on one nats-server: A started first on an empty folder (it
/// creates the administrator and seeds the county), then B on an empty folder of its own; A
/// may run the workers, B only when `b_workers`.
struct Pair {
    a: Server,
    b: Server,
    admin_a: Session,
    admin_b: Session,
    fixture: Fixture,
    password: String,
    a_dir: PathBuf,
    /// A's rules folder.
    a_rules: PathBuf,
    /// B's rules folder.
    b_rules: PathBuf,
    _servers: NatsServers,
    _dir: tempfile::TempDir,
}

impl Pair {
    async fn start(b_workers: bool) -> anyhow::Result<Pair> {
        Pair::start_with(b_workers, "").await
    }

    /// [`Pair::start`] with the nodes' messages going to the SMS gateway at `gateway`.
    async fn start_with(b_workers: bool, gateway: &str) -> anyhow::Result<Pair> {
        let dir = tempfile::tempdir()?;
        let servers = NatsServers::start(1, &dir.path().join("nats"))?;
        let nats = servers.urls()[0].clone();
        // Every node of a partition seals and opens personal data with the same key.
        let key = dir.path().join("pii.key");
        let (a_dir, b_dir) = (dir.path().join("a"), dir.path().join("b"));
        let a_rules = node_config(&a_dir, &nats, &key, true, gateway)?;
        let b_rules = node_config(&b_dir, &nats, &key, b_workers, gateway)?;

        let a = start(&a_dir)?;
        let password = a
            .admin_password()
            .context("node A bootstraps the administrator")?;
        let admin_a = Session::login(&a.url, "admin", &password).await?;
        let fixture = seed(&admin_a).await?;
        // B fills its empty folder from the shared log: the administrator, the master data
        // and the source's key are A's.
        let b = start(&b_dir)?;
        anyhow::ensure!(
            b.admin_password().is_none(),
            "B created a second administrator"
        );
        let admin_b = Session::login(&b.url, "admin", &password).await?;
        Ok(Pair {
            a,
            b,
            admin_a,
            admin_b,
            fixture,
            password,
            a_dir,
            a_rules,
            b_rules,
            _servers: servers,
            _dir: dir,
        })
    }
}

fn start(dir: &Path) -> anyhow::Result<Server> {
    Server::start(
        &binary("debug")?,
        "serve",
        &dir.join("data"),
        Some(&dir.join("hcp.toml")),
    )
}

async fn ingest(fixture: &Fixture, url: &str, events: &[&str]) -> anyhow::Result<()> {
    let items: Vec<_> = events
        .iter()
        .map(|event| {
            // One case per event id: the same event sent to two nodes is the same rating.
            let number = event
                .bytes()
                .fold(0u32, |hash, byte| (hash * 31 + u32::from(byte)) % 1_000_000);
            rating(
                fixture,
                event,
                &format!("41042120261206{number:06}"),
                "13800138000",
            )
        })
        .collect();
    let (status, body) = fixture.ingest(url, "ratings", &json!(items)).await?;
    anyhow::ensure!(
        status == 200 && body["rejected"] == 0,
        "{url}: {status} {body}"
    );
    Ok(())
}

/// Event id → rating id on a node, once every one of `expected` ratings is there.
async fn listed(node: &Session, expected: usize) -> anyhow::Result<BTreeMap<String, u64>> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let items = node.get_list("/api/v1/ratings?limit=500").await?;
        let stored = by_event_id(items.as_array().context("a list")?)?;
        if stored.len() >= expected || Instant::now() > deadline {
            return Ok(stored);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_of_a_partition_serve_the_same_ratings() -> anyhow::Result<()> {
    let Pair {
        a,
        b,
        admin_a,
        admin_b,
        fixture,
        password,
        a_dir,
        // Held to the end: the servers and the folders.
        _servers,
        _dir,
        ..
    } = Pair::start(false).await?;

    ingest(&fixture, &a.url, &["a-1", "a-2", "a-3", "both"]).await?;
    ingest(&fixture, &b.url, &["b-1", "b-2", "both"]).await?;
    let on_a = listed(&admin_a, 6).await?;
    let on_b = listed(&admin_b, 6).await?;
    assert_eq!(on_a.len(), 6, "{on_a:?}");
    assert_eq!(
        on_a, on_b,
        "both nodes list the same ratings under the same ids"
    );

    // A is killed; B takes more; A comes back on its own folder and catches up.
    a.kill()?;
    ingest(&fixture, &b.url, &["b-3", "b-4"]).await?;
    let a = start(&a_dir)?;
    let admin_a = Session::login(&a.url, "admin", &password).await?;
    let on_a = listed(&admin_a, 8).await?;
    let on_b = listed(&admin_b, 8).await?;
    assert_eq!(on_a.len(), 8, "{on_a:?}");
    assert_eq!(on_a, on_b);
    // Personal data sealed on one node opens on the other.
    let id = on_b["b-3"];
    let rating = admin_a.get(&format!("/api/v1/ratings/{id}")).await?;
    assert!(
        rating.to_string().contains("138****8000"),
        "the phone sealed on B is masked on A: {rating}"
    );
    // The key ring is the partition's: A opens what B sealed. A person erased on A is erased
    // on B (which holds the key in its cache) as soon as B reads the erasure in the log.
    let reveal = json!({"reason": "回访核实"});
    let path = format!("/api/v1/ratings/{id}/reveal");
    let revealed = admin_a.post(&path, &reveal).await?;
    assert_eq!(revealed["phone"], "13800138000", "{revealed}");
    assert_eq!(admin_b.post(&path, &reveal).await?["phone"], "13800138000");
    let erased = admin_a
        .post(
            "/api/v1/privacy/erasures",
            &json!({"phone": "13800138000", "reference": "集群删除核对"}),
        )
        .await?;
    assert_eq!(erased["held"], true, "{erased}");
    hcp_e2e::wait_until(Duration::from_secs(10), || async {
        admin_b
            .post(&path, &reveal)
            .await
            .is_ok_and(|revealed| revealed["erased"] == json!(["phone"]))
    })
    .await
    .context("B still opens the number erased on A")?;
    drop((a, b));
    Ok(())
}

/// A rule change saved on one node decides on another: 宝丰县's rectification deadline cut to
/// 4 working days is saved on A; B activates the same version from the shared log (its folder
/// rewritten to match) and its next 差评 gets the 4-day deadline. A broken save on A is refused
/// there and changes nothing anywhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_saved_on_one_node_decides_on_another() -> anyhow::Result<()> {
    let Pair {
        a,
        b,
        admin_a,
        admin_b,
        fixture,
        b_rules,
        _servers,
        _dir,
        ..
    } = Pair::start(false).await?;
    let original = admin_b.get("/api/v1/rules/status").await?["active_version"].clone();

    let mut county = baofeng_four_days(&admin_a).await?;
    let saved = admin_a
        .put(
            "/api/v1/rules/files",
            &json!({"county": "410421", "files": county}),
        )
        .await?["active_version"]
        .clone();
    assert_ne!(saved, original);

    let asked = Instant::now();
    loop {
        let status = admin_b.get("/api/v1/rules/status").await?;
        if status["active_version"] == saved {
            break;
        }
        assert!(
            asked.elapsed() < Duration::from_secs(30),
            "B never activated {saved}: {status}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    eprintln!(
        "the version saved on A was active on B {} ms later",
        asked.elapsed().as_millis()
    );
    assert_eq!(
        std::fs::read_to_string(b_rules.join("410421/deadline.rhai"))?,
        BAOFENG_FOUR_DAYS,
        "B's folder holds the version it runs"
    );

    // B's next 差评 is timed by the rules saved on A.
    let mut body = rating(&fixture, "bad-on-b", "4104212026120699001", "13900001111");
    body["level"] = json!("dissatisfied");
    body["text"] = json!("材料要求反复变化");
    let (status, recorded) = fixture.ingest(&b.url, "ratings", &body).await?;
    assert_eq!(status, 201, "{recorded}");
    let id = recorded["id"].as_u64().context("an id")?;
    assert_eq!(rectify_days(&admin_b, id).await?, 4);

    // A broken save is refused on A; B keeps the saved version.
    county.insert(
        "410421/deadline.rhai".into(),
        json!("fn deadline(input) {\n    let days = ;\n}\n"),
    );
    let (code, _) = admin_a
        .try_put(
            "/api/v1/rules/files",
            &json!({"county": "410421", "files": county}),
        )
        .await?;
    assert_eq!(code, 422);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        admin_b.get("/api/v1/rules/status").await?["active_version"],
        saved
    );
    drop((a, b));
    Ok(())
}

/// Whether the node whose operations address is `ops` runs `worker` now, as `/metrics` says.
async fn runs(ops: &str, worker: &str) -> anyhow::Result<bool> {
    let text = reqwest::get(format!("{ops}/metrics")).await?.text().await?;
    let line = format!("hcp_worker_running{{worker=\"{worker}\"}} ");
    let value = text
        .lines()
        .find_map(|row| row.strip_prefix(&line))
        .with_context(|| format!("no {line} in /metrics"))?;
    Ok(value.trim() == "1")
}

/// Both nodes may run the workers; one at a time does, by lease. When that node is killed
/// (SIGKILL), the other takes its workers over once the lease expires (3 s here).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_workers_move_to_another_node_when_theirs_is_killed() -> anyhow::Result<()> {
    let Pair {
        a,
        b,
        _servers,
        _dir,
        ..
    } = Pair::start(true).await?;
    let started = Instant::now();
    // A started first and took the leases; B asks for them in vain.
    while !(runs(&a.ops_url, "sweep").await? && runs(&a.ops_url, "uplink").await?) {
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(30),
            "A never took the leases"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(!runs(&b.ops_url, "sweep").await?, "two nodes run the sweep");
    assert!(
        !runs(&b.ops_url, "uplink").await?,
        "two nodes run the uplink"
    );

    a.kill()?;
    let killed = Instant::now();
    while !(runs(&b.ops_url, "sweep").await? && runs(&b.ops_url, "uplink").await?) {
        anyhow::ensure!(
            killed.elapsed() < Duration::from_secs(60),
            "B never took the workers over"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!(
        "B runs the workers {} ms after A was killed (leases of 3 s)",
        killed.elapsed().as_millis()
    );
    drop(b);
    Ok(())
}

/// An anonymous POST of `body` to `url`: the status and the JSON body.
async fn post(url: &str, body: &serde_json::Value) -> anyhow::Result<(u16, serde_json::Value)> {
    let response = reqwest::Client::new().post(url).json(body).send().await?;
    let status = response.status().as_u16();
    Ok((status, response.json().await.unwrap_or_default()))
}

/// Behind a load balancer a person's requests reach any node: a session opened on A is good
/// on B and a sign-out on B ends it on A; failed sign-ins on A lock the account on B; a phone
/// code sent through A is checked on B, and its wrong attempts are counted on both together.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_may_be_sent_to_either_node() -> anyhow::Result<()> {
    let gateway = SmsGateway::start()?;
    let Pair {
        a,
        b,
        admin_a,
        admin_b,
        fixture,
        password,
        _servers,
        _dir,
        ..
    } = Pair::start_with(false, gateway.url()).await?;

    // A session of A on B, and signed out on B.
    let handler = admin_a
        .create_user("handler", "department_handler", &fixture.department)
        .await?;
    let on_b = Session {
        client: reqwest::Client::new(),
        url: b.url.clone(),
        token: handler.token.clone(),
    };
    let orders = on_b.get("/api/v1/orders?limit=5").await?;
    assert!(orders["items"].is_array(), "{orders}");
    let (status, _) = on_b.try_post("/api/v1/auth/logout", &json!({})).await?;
    assert_eq!(status, 204);
    let (status, _) = handler.try_get("/api/v1/orders?limit=5").await?;
    assert_eq!(status, 401, "signed out on B, the token still works on A");

    // Five wrong passwords on A lock the account on B.
    for _ in 0..5 {
        let (status, _) = post(
            &format!("{}/api/v1/auth/login", a.url),
            &json!({"username": "handler", "password": "not the password"}),
        )
        .await?;
        assert_eq!(status, 401);
    }
    let (status, body) = post(
        &format!("{}/api/v1/auth/login", b.url),
        &json!({"username": "handler", "password": "correct horse battery"}),
    )
    .await?;
    assert_eq!(status, 429, "B lets in an account A locked: {body}");
    assert!(Session::login(&b.url, "admin", &password).await.is_ok());

    // A complaint through A: the code goes out; a wrong code on B, then on A, then the right
    // one on B.
    let (status, receipt) = post(
        &format!("{}/api/v1/intake", a.url),
        &json!({"kind": "complaint", "area_code": "410421", "department": fixture.department,
                "text": "窗口人员态度不好，反复要求补交材料", "phone": "13900007777"}),
    )
    .await?;
    assert_eq!(status, 201, "{receipt}");
    assert_eq!(receipt["phone"]["state"], "code_sent", "{receipt}");
    let confirm = receipt["phone"]["confirm_url"]
        .as_str()
        .context("a confirmation link")?;
    let path = &confirm[confirm.find("/api/").context("an API path")?..];
    admin_a.post("/api/v1/admin/sweep", &json!({})).await?;
    let text = gateway
        .of_purpose("confirmation")
        .first()
        .and_then(|body| body["text"].as_str().map(String::from))
        .context("the code was sent")?;
    let code: String = text
        .split("验证码")
        .nth(1)
        .context("a code in the text")?
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let left = |body: &serde_json::Value| body["error"]["message"].as_str().map(String::from);
    let (status, first) = post(&format!("{}{path}", b.url), &json!({"code": wrong})).await?;
    assert_eq!(status, 422, "{first}");
    let (status, second) = post(&format!("{}{path}", a.url), &json!({"code": wrong})).await?;
    assert_eq!(status, 422, "{second}");
    assert_ne!(
        left(&first),
        left(&second),
        "the nodes count a code's wrong attempts together"
    );
    let (status, body) = post(&format!("{}{path}", b.url), &json!({"code": code})).await?;
    assert_eq!(status, 200, "the code sent through A is good on B: {body}");
    assert_eq!(body["masked"], "139****7777");
    drop((a, b, admin_b));
    Ok(())
}

/// The year-end step on a shared partition: the next year's holiday table dropped into A's
/// calendar folder is activated there and, through the log, on B, whose folder then holds it
/// too; B restarted on a folder without it keeps the table.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_holiday_table_added_on_one_node_is_active_on_another() -> anyhow::Result<()> {
    let Pair {
        a,
        b,
        admin_b,
        password,
        a_rules,
        b_rules,
        _servers,
        _dir,
        ..
    } = Pair::start(false).await?;
    let years = |status: &serde_json::Value| status["calendar"]["official_years"].clone();
    let before = admin_b.get("/api/v1/rules/status").await?;
    assert_eq!(years(&before), json!([2025, 2026]), "{before}");

    std::fs::write(a_rules.join("calendar/2027.toml"), TABLE_2027)?;
    let written = Instant::now();
    loop {
        let status = admin_b.get("/api/v1/rules/status").await?;
        if years(&status) == json!([2025, 2026, 2027]) {
            break;
        }
        assert!(
            written.elapsed() < Duration::from_secs(30),
            "B never took the 2027 table: {status}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    eprintln!(
        "the 2027 table written on A was active on B {} ms later",
        written.elapsed().as_millis()
    );
    assert_eq!(
        std::fs::read_to_string(b_rules.join("calendar/2027.toml"))?,
        TABLE_2027,
        "B's folder holds the tables it runs"
    );

    // B stopped, its copy of the table lost, started again: the partition's log wins over a
    // folder holding tables it has moved on from.
    b.kill()?;
    std::fs::remove_file(b_rules.join("calendar/2027.toml"))?;
    let b = start(b_rules.parent().context("B's folder")?)?;
    let admin_b = Session::login(&b.url, "admin", &password).await?;
    let restarted = Instant::now();
    while years(&admin_b.get("/api/v1/rules/status").await?) != json!([2025, 2026, 2027]) {
        assert!(
            restarted.elapsed() < Duration::from_secs(30),
            "B restarted on a stale folder lost the 2027 table"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(b_rules.join("calendar/2027.toml").exists());
    drop((a, b));
    Ok(())
}

/// The adapter files a node's administrator sees installed (`origin` → sha256).
async fn installed(admin: &Session) -> anyhow::Result<BTreeMap<String, String>> {
    let view = admin.get("/api/v1/admin/plugins").await?;
    Ok(view["plugins"]
        .as_array()
        .context("plugins")?
        .iter()
        .filter_map(|status| {
            Some((
                status["origin"].as_str()?.to_string(),
                status["sha256"].as_str()?.to_string(),
            ))
        })
        .collect())
}

/// Waits up to 30 s for `ready` to hold of B's adapters; how long it took.
async fn until_b(
    admin_b: &Session,
    ready: impl Fn(&BTreeMap<String, String>) -> bool,
) -> anyhow::Result<Duration> {
    let asked = Instant::now();
    loop {
        let adapters = installed(admin_b).await?;
        if ready(&adapters) {
            return Ok(asked.elapsed());
        }
        anyhow::ensure!(
            asked.elapsed() < Duration::from_secs(30),
            "B's adapters: {adapters:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Adapters follow the log: a component dropped into A's plugins folder is installed on B (and
/// written into B's folder); one A refuses never reaches B; a file removed on A goes on B.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_adapter_installed_on_one_node_is_installed_on_another() -> anyhow::Result<()> {
    let Pair {
        a,
        b,
        admin_a,
        admin_b,
        a_dir,
        b_rules,
        _servers,
        _dir,
        ..
    } = Pair::start(false).await?;
    let a_plugins = a_dir.join("data/plugins");
    let b_plugins = b_rules.parent().context("B's folder")?.join("data/plugins");
    std::fs::create_dir_all(&a_plugins)?;

    let component = std::fs::read(adapter("hx-pj200")?)?;
    std::fs::write(a_plugins.join("hx-pj200.wasm"), &component)?;
    let took = until_b(&admin_b, |adapters| adapters.contains_key("hx-pj200.wasm")).await?;
    eprintln!(
        "the adapter dropped into A's folder was installed on B {} ms later",
        took.as_millis()
    );
    assert_eq!(installed(&admin_a).await?, installed(&admin_b).await?);
    assert_eq!(std::fs::read(b_plugins.join("hx-pj200.wasm"))?, component);

    // Refused on A (its component lacks the interface), so never offered to B.
    std::fs::write(
        a_plugins.join("hostile-abi.wasm"),
        std::fs::read(adapter("hostile-abi")?)?,
    )?;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(!installed(&admin_a).await?.contains_key("hostile-abi.wasm"));
    assert!(!installed(&admin_b).await?.contains_key("hostile-abi.wasm"));
    assert!(!b_plugins.join("hostile-abi.wasm").exists());

    std::fs::remove_file(a_plugins.join("hx-pj200.wasm"))?;
    until_b(&admin_b, |adapters| !adapters.contains_key("hx-pj200.wasm")).await?;
    assert!(!b_plugins.join("hx-pj200.wasm").exists());
    drop((a, b));
    Ok(())
}
