//! The county policies in the running server, as a bureau editor meets them: a saved change to
//! a county's deadline takes effect for new bad reviews (decisions already made keep theirs),
//! naming the new version; a script with a syntax error leaves the old version serving and the
//! status says where; one request rolls back.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use hcp_e2e::{
    BAOFENG_FOUR_DAYS, BAOFENG_FOUR_DAYS_TEST, Seeded, Server, Session, rating, rules_copy,
    start_seeded_in, wait_until,
};
use serde_json::{Value, json};

/// Writes a file the way an editor's "save" ends up: the new content in place.
fn save(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

struct Editor {
    server: Server,
    admin: Session,
    fixture: hcp_e2e::Fixture,
    rules: PathBuf,
    _dir: tempfile::TempDir,
}

impl Editor {
    /// Records a canonical rating and returns its id; flags and rules never refuse one.
    async fn record(&self, body: &Value) -> u64 {
        let (status, recorded) = self
            .fixture
            .ingest(&self.server.url, "ratings", body)
            .await
            .unwrap();
        assert_eq!(status, 201, "{recorded}");
        recorded["id"].as_u64().unwrap()
    }

    async fn decisions(&self, id: u64) -> Value {
        self.admin
            .get_list(&format!("/api/v1/ratings/{id}/decisions"))
            .await
            .unwrap()
    }

    async fn status(&self) -> Value {
        self.admin.get("/api/v1/rules/status").await.unwrap()
    }

    async fn active_version(&self) -> String {
        self.status().await["active_version"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Records a real-name 差评 in 宝丰县 and returns its deadline decision.
    async fn bad_review(&self, event: &str) -> Value {
        let mut body = rating(&self.fixture, event, &format!("P-{event}"), "13900001111");
        body["level"] = json!("dissatisfied");
        body["text"] = json!("材料要求反复变化");
        let id = self.record(&body).await;
        let decisions = self.decisions(id).await;
        assert!(
            decisions
                .as_array()
                .unwrap()
                .iter()
                .any(|decision| decision["hook"] == "routing"
                    && decision["output"]["unit"] == self.fixture.department),
            "谁办理谁负责: routed to the rated department: {decisions}"
        );
        let deadline = decisions
            .as_array()
            .unwrap()
            .iter()
            .find(|decision| decision["hook"] == "deadline")
            .cloned()
            .unwrap_or_else(|| panic!("no deadline decision for rating {id}: {decisions}"));
        assert_eq!(deadline["county"], "410421");
        deadline
    }
}

fn rectify_days(decision: &Value) -> u64 {
    decision["output"]["phases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|phase| phase["phase"] == "rectify")
        .and_then(|phase| phase["amount"].as_u64())
        .unwrap_or_else(|| panic!("no rectify phase: {decision}"))
}

async fn start() -> Editor {
    let dir = tempfile::tempdir().unwrap();
    let (rules, config) = rules_copy(dir.path()).unwrap();
    let Seeded {
        server,
        admin,
        fixture,
        dir,
        ..
    } = start_seeded_in(dir, &config).await.unwrap();
    Editor {
        server,
        admin,
        fixture,
        rules,
        _dir: dir,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bureau_editor_changes_a_county_deadline_breaks_a_script_and_rolls_back() {
    let editor = start().await;
    let original = editor.active_version().await;
    let hooks = &editor.status().await["hooks"];
    assert_eq!(hooks["410421"]["deadline"]["scope"], "410421", "{hooks}");
    assert_eq!(hooks["410421"]["routing"]["scope"], "default");
    assert_eq!(hooks["410400"]["deadline"]["scope"], "default");
    let before = editor.bad_review("before").await;
    assert_eq!(
        rectify_days(&before),
        5,
        "宝丰县 ships 5 working days for real-name 差评"
    );
    assert_eq!(before["scope"], "410421");

    // The editor saves the new rule and its updated test.
    save(
        &editor.rules.join("410421/tests/deadline.json"),
        BAOFENG_FOUR_DAYS_TEST,
    );
    save(
        &editor.rules.join("410421/deadline.rhai"),
        BAOFENG_FOUR_DAYS,
    );
    wait_until(Duration::from_secs(30), || async {
        editor.active_version().await != original
    })
    .await
    .unwrap_or_else(|error| panic!("new rules not active: {error}"));
    let changed = editor.active_version().await;
    let after = editor.bad_review("after").await;
    assert_eq!(rectify_days(&after), 4);
    assert_ne!(
        after["hook_version"], before["hook_version"],
        "the decision names the new rules"
    );
    // The decision made before keeps its deadline.
    let id = before["rating_id"].as_u64().unwrap();
    let kept = editor.decisions(id).await;
    assert_eq!(rectify_days(&kept[0]), 5);

    // A syntax error: refused, the old version keeps serving, the status says where.
    save(
        &editor.rules.join("410421/deadline.rhai"),
        "fn deadline(input) {\n    let days = ;\n}\n",
    );
    wait_until(Duration::from_secs(30), || async {
        !editor.status().await["last_error"].is_null()
    })
    .await
    .unwrap();
    let status = editor.status().await;
    let error = status["last_error"].as_str().unwrap();
    assert!(error.contains("410421/deadline.rhai:2:"), "{error}");
    assert_eq!(status["active_version"], changed);
    let metrics = editor.server.metrics().await.unwrap();
    assert!(
        metrics.contains("hcp_rules_error 1"),
        "the refusal shows in /metrics"
    );
    assert_eq!(rectify_days(&editor.bad_review("while-broken").await), 4);

    // One request rolls back to the shipped version: files restored, decisions follow.
    let rolled = editor
        .admin
        .post("/api/v1/rules/rollback", &json!({"version": original}))
        .await
        .unwrap();
    assert_eq!(rolled["active_version"], original);
    let restored = std::fs::read_to_string(editor.rules.join("410421/deadline.rhai")).unwrap();
    assert!(
        restored.contains("if input.real_name || input.kind == \"complaint\" { 5 }"),
        "{restored}"
    );
    assert_eq!(rectify_days(&editor.bad_review("rolled-back").await), 5);
    let versions = editor
        .admin
        .get_list("/api/v1/rules/versions")
        .await
        .unwrap();
    let reasons: Vec<&str> = versions
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons.first(), Some(&"start-up"));
    assert!(
        reasons.last().unwrap().starts_with("rollback to"),
        "{reasons:?}"
    );

    // Simulation: replaying today's 差评 through the 4-day version shows the deadlines it moves.
    let simulated = editor
        .admin
        .post(
            "/api/v1/rules/simulate",
            &json!({"version": changed, "unit": "410421", "from": today(), "to": today()}),
        )
        .await
        .unwrap();
    // Four 差评 today, each with a deadline and a route.
    assert_eq!(simulated["compared"], 8, "{simulated}");
    assert_eq!(
        simulated["changed"], 4,
        "every real-name 差评 of 宝丰县 moves its deadline; routes stay: {simulated}"
    );
    assert!(
        simulated["changes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|change| change["hook"] == "deadline")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn integrity_flags_mark_a_rating_without_dropping_it() {
    let editor = start().await;
    // A window QR-code rating of a service act no business system reported: flagged.
    let mut body = rating(&editor.fixture, "qr-1", "P-QR-1", "13900002222");
    body["channel"] = json!("qr_code");
    let id = editor.record(&body).await;
    let decisions = editor.decisions(id).await;
    let integrity = decisions
        .as_array()
        .unwrap()
        .iter()
        .find(|decision| decision["hook"] == "integrity")
        .unwrap_or_else(|| panic!("no integrity decision: {decisions}"));
    assert_eq!(
        integrity["output"]["flags"][0]["code"], "no_open_service",
        "{integrity}"
    );
    assert!(!integrity["hook_version"].as_str().unwrap().is_empty());
    // A clean rating records no integrity decision at all.
    let id = editor
        .record(&rating(
            &editor.fixture,
            "clean-1",
            "P-CLEAN-1",
            "13900003333",
        ))
        .await;
    let decisions = editor.decisions(id).await;
    assert_eq!(decisions, json!([]));
}

fn today() -> String {
    (chrono::Utc::now() + chrono::Duration::hours(8))
        .date_naive()
        .to_string()
}

/// The console's way: the editor reads the active files, checks a candidate (its tests run,
/// nothing changes), saves the county's folder (activated at once), has a broken save refused
/// with the folder untouched, and compares the assessment under a candidate with the current.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_checks_saves_and_compares_a_county_folder() {
    let editor = start().await;
    let original = editor.active_version().await;
    let active = editor.admin.get("/api/v1/rules/files").await.unwrap();
    assert_eq!(active["version"], original);
    let mut files: serde_json::Map<String, Value> = active["files"].as_object().unwrap().clone();
    assert!(
        files.contains_key("410421/deadline.rhai"),
        "{:?}",
        files.keys()
    );

    // The new script with the old test: the check runs the test and says what fails, where.
    files.insert("410421/deadline.rhai".into(), json!(BAOFENG_FOUR_DAYS));
    let checked = editor
        .admin
        .post("/api/v1/rules/check", &json!({"files": files}))
        .await
        .unwrap();
    assert_eq!(checked["ok"], false, "{checked}");
    assert!(checked["failed"].as_u64().unwrap() >= 1, "{checked}");
    assert!(
        checked["failures"][0]["file"]
            .as_str()
            .unwrap()
            .starts_with("410421/tests/"),
        "{checked}"
    );
    assert_eq!(
        editor.active_version().await,
        original,
        "a check activates nothing"
    );
    // With its test updated it passes.
    files.insert(
        "410421/tests/deadline.json".into(),
        json!(BAOFENG_FOUR_DAYS_TEST),
    );
    let checked = editor
        .admin
        .post("/api/v1/rules/check", &json!({"files": files}))
        .await
        .unwrap();
    assert_eq!(checked["ok"], true, "{checked}");

    // Saving the county's folder activates it.
    let county: serde_json::Map<String, Value> = files
        .iter()
        .filter(|(path, _)| path.starts_with("410421/"))
        .map(|(path, text)| (path.clone(), text.clone()))
        .collect();
    let status = editor
        .admin
        .put(
            "/api/v1/rules/files",
            &json!({"county": "410421", "files": county}),
        )
        .await
        .unwrap();
    assert_ne!(status["active_version"], original, "{status}");
    assert_eq!(rectify_days(&editor.bad_review("saved").await), 4);
    let on_disk = std::fs::read_to_string(editor.rules.join("410421/deadline.rhai")).unwrap();
    assert_eq!(on_disk, BAOFENG_FOUR_DAYS);

    // A broken save is refused with file and line; the folder and the version stay.
    let saved = status["active_version"].clone();
    let mut broken = county.clone();
    broken.insert(
        "410421/deadline.rhai".into(),
        json!("fn deadline(input) {\n    let days = ;\n}\n"),
    );
    let (code, refusal) = editor
        .admin
        .try_put(
            "/api/v1/rules/files",
            &json!({"county": "410421", "files": broken}),
        )
        .await
        .unwrap();
    assert_eq!(code, 422, "{refusal}");
    assert!(
        refusal["error"]["message"]
            .as_str()
            .unwrap()
            .contains("410421/deadline.rhai:2:"),
        "{refusal}"
    );
    assert_eq!(editor.active_version().await, saved);
    let on_disk = std::fs::read_to_string(editor.rules.join("410421/deadline.rhai")).unwrap();
    assert_eq!(
        on_disk, BAOFENG_FOUR_DAYS,
        "a refused save leaves the folder as it was"
    );

    // A path out of the folder is refused before anything is written.
    let (code, _) = editor
        .admin
        .try_put(
            "/api/v1/rules/files",
            &json!({"county": "410421", "files": {"410421/../../escape.rhai": "x"}}),
        )
        .await
        .unwrap();
    assert_eq!(code, 422);
    assert!(!editor.rules.join("../escape.rhai").exists());

    // What-if: the current assessment beside a candidate's, nothing recorded.
    let compared = editor
        .admin
        .post(
            "/api/v1/rules/what-if",
            &json!({"files": files, "period": "2026", "unit_kind": "region", "scope": "410400"}),
        )
        .await
        .unwrap();
    assert_eq!(compared["current"]["period"], "2026");
    assert_eq!(
        compared["current"]["units"].as_array().unwrap().len(),
        compared["candidate"]["units"].as_array().unwrap().len()
    );
    assert_eq!(
        compared["candidate"]["rules_version"]
            .as_str()
            .unwrap()
            .len(),
        64
    );
}
