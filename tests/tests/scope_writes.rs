//! The scope guard on writes (issue 12): a county's accounts act within their county only, the
//! city-wide acts are the root's, an assessment run is published only by its scope's owner and
//! only for an ended period, and the public ranking is the root's run. Against the real binary,
//! with two counties under the city: 宝丰县 (410421, the caller's) and 叶县 (410422, not theirs).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use hcp_e2e::{
    Fixture, Seeded, Session, beijing, manual_clock_config, rules_copy, seed_other_county,
    start_seeded_in,
};
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery";

/// The city with both counties, on the manual clock of Saturday 2026-12-05 10:00 (November has
/// ended, December has not), reading a copy of the rules (a rollback writes to it).
struct City {
    seeded: Seeded,
    other: Fixture,
}

impl City {
    async fn start() -> City {
        let dir = tempfile::tempdir().unwrap();
        let (_, config) = rules_copy(dir.path()).unwrap();
        let mut text = std::fs::read_to_string(&config).unwrap();
        text.push_str(&manual_clock_config(beijing(12, 5, 10)));
        std::fs::write(&config, text).unwrap();
        let seeded = start_seeded_in(dir, &config).await.unwrap();
        let other = seed_other_county(&seeded.admin).await.unwrap();
        for (id, window, department) in [
            ("S-BF-1", "W-BF-01", seeded.fixture.department.clone()),
            ("S-BF-2", "W-BF-01", seeded.fixture.department.clone()),
            ("S-YX-1", "W-YX-01", other.department.clone()),
        ] {
            seeded
                .admin
                .post(
                    "/api/v1/admin/master",
                    &json!({"kind": "staff", "record": {"id": id, "name": format!("工作人员{id}"), "department": department, "window": window}}),
                )
                .await
                .unwrap();
        }
        City { seeded, other }
    }

    fn admin(&self) -> &Session {
        &self.seeded.admin
    }

    async fn user(&self, username: &str, role: &str, scope: &str) -> Session {
        self.admin()
            .create_user(username, role, scope)
            .await
            .unwrap()
    }
}

/// The status and error code of a refused POST (`""` when it succeeded).
async fn refused(session: &Session, path: &str, body: &Value) -> (u16, String) {
    let (status, answer) = session.try_post(path, body).await.unwrap();
    let code = answer["error"]["code"].as_str().unwrap_or("").to_string();
    (status, code)
}

fn user(username: &str, role: &str, scope: &str) -> Value {
    json!({"username": username, "display_name": username, "role": role, "scope": scope,
        "password": PASSWORD})
}

fn master(kind: &str, record: Value) -> Value {
    json!({"kind": kind, "record": record})
}

/// A county administrator creates, replaces and moves nothing outside its county: no account
/// reaching wider than its own, no account of the city's, no key for the platform's own source or
/// another county's, no org unit moved into or out of its subtree.
#[tokio::test]
async fn a_county_administrator_writes_within_its_county_only() {
    let city = City::start().await;
    let county_admin = city.user("bf-admin", "admin", "410421").await;
    city.user("city-supervisor", "supervisor", "410400").await;
    let other_department = city.other.department.clone();
    let department = city.seeded.fixture.department.clone();

    let forbidden_users = [
        // An account scoped to the city root: wider than its maker's.
        user("bf-wide", "admin", "410400"),
        user("bf-elsewhere", "supervisor", "410422"),
        // The bootstrap administrator, and another account of the city: not replaced by reusing
        // their names.
        user("admin", "admin", "410421"),
        user("city-supervisor", "supervisor", "410421"),
        // Window staff linked to a staff record of the other county.
        json!({"username": "bf-staff", "display_name": "x", "role": "window_staff",
            "scope": "W-BF-01", "staff_id": "S-YX-1", "password": PASSWORD}),
    ];
    for body in &forbidden_users {
        assert_eq!(
            refused(&county_admin, "/api/v1/admin/users", body).await,
            (403, "forbidden".into()),
            "{body}"
        );
    }
    // The city's accounts kept their reach.
    let users = city.admin().get_list("/api/v1/admin/users").await.unwrap();
    let scope_of = |name: &str| {
        users
            .as_array()
            .unwrap()
            .iter()
            .find(|user| user["username"] == name)
            .map(|user| user["scope"].clone())
    };
    assert_eq!(scope_of("admin"), Some(json!("410400")));
    assert_eq!(scope_of("city-supervisor"), Some(json!("410400")));
    assert_eq!(scope_of("bf-wide"), None);

    // Within its county it manages accounts, and lists only those.
    county_admin
        .post(
            "/api/v1/admin/users",
            &json!({"username": "bf-staff", "display_name": "x", "role": "window_staff",
                "scope": "W-BF-01", "staff_id": "S-BF-1", "password": PASSWORD}),
        )
        .await
        .unwrap();
    county_admin
        .post(
            "/api/v1/admin/users",
            &user("bf-handler", "department_handler", &department),
        )
        .await
        .unwrap();
    let listed: Vec<String> = county_admin
        .get_list("/api/v1/admin/users")
        .await
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|user| user["username"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(listed.len(), 3, "{listed:?}");
    for name in ["bf-admin", "bf-staff", "bf-handler"] {
        assert!(listed.contains(&name.to_string()), "{listed:?}");
    }

    // Sources: not the city's, not the platform's own, not another county's re-keyed.
    for body in [
        json!({"id": "bf-wide", "name": "x", "scope": "410400"}),
        json!({"id": "system", "name": "x", "scope": "410421"}),
        json!({"id": "yx-devices", "name": "x", "scope": "410421"}),
    ] {
        assert_eq!(
            refused(&county_admin, "/api/v1/admin/sources", &body).await,
            (403, "forbidden".into()),
            "{body}"
        );
    }
    // Nobody issues a key for the platform's own source, the city's administrator neither.
    assert_eq!(
        refused(
            city.admin(),
            "/api/v1/admin/sources",
            &json!({"id": "system", "name": "x", "scope": "410400"})
        )
        .await,
        (403, "forbidden".into())
    );
    county_admin
        .post(
            "/api/v1/admin/sources",
            &json!({"id": "bf-system", "name": "宝丰县业务系统", "scope": "410421"}),
        )
        .await
        .unwrap();
    let sources: Vec<Value> = county_admin
        .get_list("/api/v1/admin/sources")
        .await
        .unwrap()
        .as_array()
        .unwrap()
        .clone();
    assert!(
        sources.iter().all(|source| source["scope"] == "410421"),
        "{sources:?}"
    );
    assert_eq!(sources.len(), 2, "{sources:?}");

    // Master data: nothing made, replaced or moved across the county's border.
    let forbidden_master = [
        master(
            "org_unit",
            json!({"id": "410423", "kind": "county", "name": "鲁山县", "parent": "410400"}),
        ),
        master(
            "org_unit",
            json!({"id": "H-BF", "kind": "hall", "name": "宝丰县政务服务中心", "parent": "410422"}),
        ),
        master(
            "org_unit",
            json!({"id": "H-YX", "kind": "hall", "name": "叶县政务服务中心", "parent": "410421"}),
        ),
        master(
            "org_unit",
            json!({"id": "W-BF-09", "kind": "window", "name": "窗口9", "parent": "H-BF", "department": other_department}),
        ),
        // Its own county, moved elsewhere in the tree.
        master(
            "org_unit",
            json!({"id": "410421", "kind": "county", "name": "宝丰县", "parent": "410422"}),
        ),
        master(
            "staff",
            json!({"id": "S-YX-2", "name": "x", "department": other_department, "window": "W-YX-01"}),
        ),
        master(
            "staff",
            json!({"id": "S-YX-1", "name": "x", "department": department, "window": "W-BF-01"}),
        ),
        master(
            "item",
            json!({"task_code": "T-YX", "name": "x", "department": department}),
        ),
        master(
            "device",
            json!({"id": "DEV-YX-1", "model": "HX-PJ200", "window": "W-YX-01"}),
        ),
        master(
            "device_model",
            json!({"model": "HX-PJ200", "vendor": "x", "min_press_interval_secs": 0}),
        ),
    ];
    for body in &forbidden_master {
        assert_eq!(
            refused(&county_admin, "/api/v1/admin/master", body).await,
            (403, "forbidden".into()),
            "{body}"
        );
    }
    let hall = city.admin().get("/api/v1/org/H-BF").await.unwrap();
    assert_eq!(hall["unit"]["parent"], "410421");
    // Within the county: a new window, a device at it, its own county renamed in place.
    for body in [
        master(
            "org_unit",
            json!({"id": "W-BF-09", "kind": "window", "name": "窗口9", "parent": "H-BF", "department": department}),
        ),
        master(
            "device",
            json!({"id": "DEV-BF-9", "model": "HX-PJ200", "window": "W-BF-09"}),
        ),
        master(
            "org_unit",
            json!({"id": "410421", "kind": "county", "name": "宝丰县", "parent": "410400"}),
        ),
    ] {
        county_admin
            .post("/api/v1/admin/master", &body)
            .await
            .unwrap();
    }
    // An unknown parent is the store's to name, as before.
    assert_eq!(
        refused(
            &county_admin,
            "/api/v1/admin/master",
            &master(
                "org_unit",
                json!({"id": "H-NEW", "kind": "hall", "name": "x", "parent": "410499"})
            )
        )
        .await
        .0,
        422
    );
}

/// The reproduction of issue 12: the 宝丰县 supervisor ran a sweep of the whole city. Sweeps, the
/// clock, the uplink, adapters and rollbacks of the whole rules folder are the root's acts.
#[tokio::test]
async fn city_wide_acts_are_refused_below_the_root() {
    let city = City::start().await;
    let county_admin = city.user("bf-admin", "admin", "410421").await;
    let county_supervisor = city.user("bf-supervisor", "supervisor", "410421").await;
    let version = city.admin().get("/api/v1/rules/status").await.unwrap()["active_version"]
        .as_str()
        .unwrap()
        .to_string();
    let as_of = json!({"as_of": beijing(12, 30, 8)});
    for (session, path, body) in [
        (&county_supervisor, "/api/v1/admin/sweep", &as_of),
        (&county_supervisor, "/api/v1/admin/sweep", &json!({})),
        (&county_admin, "/api/v1/admin/sweep", &json!({})),
        (
            &county_admin,
            "/api/v1/admin/clock",
            &json!({"at": beijing(12, 30, 8)}),
        ),
        (&county_admin, "/api/v1/admin/uplink/run", &json!({})),
        (&county_admin, "/api/v1/admin/uplink/reconcile", &json!({})),
        (
            &county_admin,
            "/api/v1/admin/uplink/refused/1",
            &json!({"action": "dismiss"}),
        ),
        (
            &county_admin,
            "/api/v1/rules/rollback",
            &json!({"version": version}),
        ),
    ] {
        assert_eq!(
            refused(session, path, body).await,
            (403, "forbidden".into()),
            "{path} {body}"
        );
    }
    for request in [
        county_admin
            .client
            .post(format!("{}/api/v1/admin/plugins", county_admin.url))
            .header("content-type", "application/wasm")
            .body(b"\0asm not really".to_vec()),
        county_admin
            .client
            .delete(format!("{}/api/v1/admin/plugins/zw-e7", county_admin.url)),
    ] {
        let answer = request
            .bearer_auth(&county_admin.token)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status().as_u16(), 403);
    }
    // Nothing moved: no sweep ran, the clock stands, no order was flagged.
    let clock = city.admin().get("/api/v1/admin/clock").await.unwrap();
    assert_eq!(
        clock["now"]
            .as_str()
            .unwrap()
            .parse::<chrono::DateTime<chrono::Utc>>()
            .unwrap(),
        beijing(12, 5, 10)
    );
    // The root's administrator and supervisor may.
    let city_supervisor = city.user("city-supervisor", "supervisor", "410400").await;
    city_supervisor
        .post("/api/v1/admin/sweep", &json!({}))
        .await
        .unwrap();
    city.admin()
        .post("/api/v1/admin/clock", &json!({"at": beijing(12, 5, 11)}))
        .await
        .unwrap();
    let (status, _) = city
        .admin()
        .try_post("/api/v1/admin/uplink/run", &json!({}))
        .await
        .unwrap();
    assert_eq!(
        status, 409,
        "not enabled here, but not refused for who asks"
    );
}

/// A county's rule editor rolls back its own county's folder only; the whole folder is the
/// root's.
#[tokio::test]
async fn a_county_rule_editor_rolls_back_only_its_county() {
    let city = City::start().await;
    let editor = city.user("bf-editor", "rule_editor", "410421").await;
    let city_editor = city.user("city-editor", "rule_editor", "410400").await;
    let version = city.admin().get("/api/v1/rules/status").await.unwrap()["active_version"]
        .as_str()
        .unwrap()
        .to_string();
    for body in [
        json!({"version": version, "county": "410422"}),
        json!({"version": version}),
    ] {
        assert_eq!(
            refused(&editor, "/api/v1/rules/rollback", &body).await,
            (403, "forbidden".into()),
            "{body}"
        );
    }
    assert_eq!(
        refused(
            &editor,
            "/api/v1/rules/rollback",
            &json!({"version": version, "county": "default"})
        )
        .await,
        (422, "invalid_field".into())
    );
    let rolled = editor
        .post(
            "/api/v1/rules/rollback",
            &json!({"version": version, "county": "410421"}),
        )
        .await
        .unwrap();
    assert_eq!(rolled["active_version"], version);
    city_editor
        .post(
            "/api/v1/rules/rollback",
            &json!({"version": version, "county": "410422"}),
        )
        .await
        .unwrap();
    city_editor
        .post("/api/v1/rules/rollback", &json!({"version": version}))
        .await
        .unwrap();
}

/// A county's rollback puts back its own folder and leaves the others' as they are now.
#[tokio::test]
async fn a_county_rollback_rewrites_only_its_folder() {
    let dir = tempfile::tempdir().unwrap();
    let (rules, config) = rules_copy(dir.path()).unwrap();
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&manual_clock_config(beijing(12, 5, 10)));
    std::fs::write(&config, text).unwrap();
    let seeded = start_seeded_in(dir, &config).await.unwrap();
    let admin = &seeded.admin;
    let active = || async {
        admin.get("/api/v1/rules/status").await.unwrap()["active_version"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let original = active().await;
    // The city's folder changes, then the county's; each change is activated in turn (the
    // watcher reloads it), so the last version holds both.
    let county = rules.join("410421/deadline.rhai");
    let city = rules.join("default/veto.rhai");
    let county_text = std::fs::read_to_string(&county).unwrap();
    let city_changed = format!(
        "{}\n// changed by the city\n",
        std::fs::read_to_string(&city).unwrap()
    );
    let county_changed = format!("{county_text}\n// changed by the county\n");
    let mut previous = original.clone();
    for (path, text) in [(&city, &city_changed), (&county, &county_changed)] {
        let temporary = path.with_extension("tmp");
        std::fs::write(&temporary, text).unwrap();
        std::fs::rename(&temporary, path).unwrap();
        hcp_e2e::wait_until(std::time::Duration::from_secs(30), || async {
            active().await != previous
        })
        .await
        .unwrap();
        previous = active().await;
    }
    let rolled = admin
        .post(
            "/api/v1/rules/rollback",
            &json!({"version": original, "county": "410421"}),
        )
        .await
        .unwrap();
    assert_ne!(
        rolled["active_version"], original,
        "the city's change stays"
    );
    assert_ne!(
        rolled["active_version"],
        previous.as_str(),
        "the county's is undone"
    );
    assert_eq!(std::fs::read_to_string(&county).unwrap(), county_text);
    assert_eq!(std::fs::read_to_string(&city).unwrap(), city_changed);
}

/// A run is published (frozen) by its scope's owner only, for a period that has ended; the
/// public ranking is the root's run of the period asked for, whatever a county published after.
#[tokio::test]
async fn runs_are_frozen_by_their_owner_for_ended_periods_and_the_public_sees_the_roots() {
    let city = City::start().await;
    let supervisor = city.user("bf-supervisor", "supervisor", "410421").await;
    let freeze = |period: &str, scope: &str, kind: &str| json!({"period": period, "unit_kind": kind, "scope": scope, "freeze": true});

    // December has not ended on 12-05.
    assert_eq!(
        refused(
            &supervisor,
            "/api/v1/assessments",
            &freeze("2026-12", "410421", "department")
        )
        .await,
        (422, "period_not_ended".into())
    );
    assert_eq!(
        refused(
            city.admin(),
            "/api/v1/assessments",
            &freeze("2026", "410400", "department")
        )
        .await,
        (422, "period_not_ended".into())
    );
    // Not the owner: a hall's run is its hall's to publish (or the root's); the city's run is
    // not the county's, and lies outside its scope anyway.
    for (scope, kind) in [("H-BF", "window"), ("410400", "department")] {
        assert_eq!(
            refused(
                &supervisor,
                "/api/v1/assessments",
                &freeze("2026-11", scope, kind)
            )
            .await
            .0,
            403,
            "{scope}"
        );
    }
    // A run that is not frozen may be of any period and any unit within the scope.
    supervisor
        .post(
            "/api/v1/assessments",
            &json!({"period": "2026-12", "unit_kind": "window", "scope": "H-BF"}),
        )
        .await
        .unwrap();

    let public = reqwest::Client::new();
    let ranking = |query: &'static str| {
        let request = public.get(format!(
            "{}/api/v1/public/rankings{query}",
            city.seeded.server.url
        ));
        async move {
            let answer = request.send().await.unwrap();
            let status = answer.status().as_u16();
            (status, answer.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    // The county publishes its own: the public city ranking still has none.
    supervisor
        .post(
            "/api/v1/assessments",
            &freeze("2026-11", "410421", "department"),
        )
        .await
        .unwrap();
    assert_eq!(ranking("?of=department").await.0, 404);
    assert_eq!(ranking("?of=department&period=2026-11").await.0, 404);
    let (status, county) = ranking("?of=department&period=2026-11&scope=410421").await;
    assert_eq!((status, county["scope"].clone()), (200, json!("410421")));

    // The city publishes; a county publishing after it does not take its place.
    city.admin()
        .post(
            "/api/v1/assessments",
            &freeze("2026-11", "410400", "department"),
        )
        .await
        .unwrap();
    supervisor
        .post(
            "/api/v1/assessments",
            &freeze("2026-11", "410421", "department"),
        )
        .await
        .unwrap();
    for query in ["?of=department", "?of=department&period=2026-11"] {
        let (status, body) = ranking(query).await;
        assert_eq!(status, 200, "{query}: {body}");
        assert_eq!(body["scope"], "410400", "{query}: {body}");
    }
    // The root's administrator owns every scope.
    city.admin()
        .post(
            "/api/v1/assessments",
            &freeze("2026-11", "410422", "department"),
        )
        .await
        .unwrap();
}

/// Window staff reading a frozen run of staff see their own line only.
#[tokio::test]
async fn window_staff_see_only_their_own_line_of_a_frozen_run() {
    let city = City::start().await;
    let supervisor = city.user("bf-supervisor", "supervisor", "410421").await;
    city.admin()
        .post(
            "/api/v1/admin/users",
            &json!({"username": "bf-staff", "display_name": "x", "role": "window_staff",
                "scope": "W-BF-01", "staff_id": "S-BF-1", "password": PASSWORD}),
        )
        .await
        .unwrap();
    let staff = Session::login(&city.seeded.server.url, "bf-staff", PASSWORD)
        .await
        .unwrap();
    let run = supervisor
        .post(
            "/api/v1/assessments",
            &json!({"period": "2026-11", "unit_kind": "staff", "freeze": true}),
        )
        .await
        .unwrap();
    let seq = run["frozen"].as_u64().unwrap();
    let mut whole: Vec<&str> = run["units"]
        .as_array()
        .unwrap()
        .iter()
        .map(|unit| unit["unit"].as_str().unwrap())
        .collect();
    whole.sort_unstable();
    assert_eq!(whole, ["S-BF-1", "S-BF-2"]);

    let seen = staff
        .get(&format!("/api/v1/assessments/{seq}"))
        .await
        .unwrap();
    let units = seen["units"].as_array().unwrap();
    assert_eq!(units.len(), 1, "{seen}");
    assert_eq!(units[0]["unit"], "S-BF-1");
    let listed = staff.get_list("/api/v1/assessments").await.unwrap();
    assert_eq!(listed[0]["units"], 1, "{listed}");
    staff
        .get(&format!("/api/v1/assessments/{seq}/units/S-BF-1"))
        .await
        .unwrap();
    let (status, _) = staff
        .try_get(&format!("/api/v1/assessments/{seq}/units/S-BF-2"))
        .await
        .unwrap();
    assert_eq!(status, 404);
    // Their supervisor sees the whole run.
    let whole_again = supervisor
        .get(&format!("/api/v1/assessments/{seq}"))
        .await
        .unwrap();
    assert_eq!(whole_again["units"].as_array().unwrap().len(), 2);
}
