//! Sessions and sign-in against the real binary: a session ends on sign-out, on idleness, at
//! the end of its lifetime, and at once when its user is changed or disabled; sign-in is
//! throttled per address and per account, with the lockout audited.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{Duration, Utc};
use hcp_e2e::{Seeded, Session, start_seeded};
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery";

async fn status_of(session: &Session) -> u16 {
    session.try_get("/api/v1/me").await.unwrap().0
}

async fn login_attempt(url: &str, username: &str, password: &str) -> (u16, Option<String>, Value) {
    let response = reqwest::Client::new()
        .post(format!("{url}/api/v1/auth/login"))
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .unwrap();
    hcp_e2e::answer_of(response).await
}

fn user(username: &str, role: &str, scope: &str, disabled: bool) -> Value {
    json!({"username": username, "display_name": username, "role": role, "scope": scope,
        "password": PASSWORD, "disabled": disabled})
}

#[tokio::test]
async fn sign_out_and_user_changes_end_sessions_at_once() {
    let Seeded { admin, server, .. } = start_seeded("").await.unwrap();
    let url = &server.url;

    // Sign-out ends this session only.
    let first = admin
        .create_user("zhang", "supervisor", "410400")
        .await
        .unwrap();
    let second = Session::login(url, "zhang", PASSWORD).await.unwrap();
    assert_eq!(status_of(&first).await, 200);
    let (status, _) = first
        .try_post("/api/v1/auth/logout", &json!({}))
        .await
        .unwrap();
    assert_eq!(status, 204);
    assert_eq!(status_of(&first).await, 401);
    assert_eq!(status_of(&second).await, 200);

    // A role change ends it; so does a scope change, and disabling.
    admin
        .post(
            "/api/v1/admin/users",
            &user("zhang", "reviewer", "410400", false),
        )
        .await
        .unwrap();
    assert_eq!(
        status_of(&second).await,
        401,
        "a role change ends the session"
    );
    let third = Session::login(url, "zhang", PASSWORD).await.unwrap();
    let me = third.get("/api/v1/me").await.unwrap();
    assert_eq!(me["role"], "reviewer", "{me}");
    admin
        .post(
            "/api/v1/admin/users",
            &user("zhang", "reviewer", "410421", false),
        )
        .await
        .unwrap();
    assert_eq!(
        status_of(&third).await,
        401,
        "a scope change ends the session"
    );
    let fourth = Session::login(url, "zhang", PASSWORD).await.unwrap();
    admin
        .post(
            "/api/v1/admin/users",
            &user("zhang", "reviewer", "410421", true),
        )
        .await
        .unwrap();
    assert_eq!(status_of(&fourth).await, 401, "disabling ends the session");
    let (status, _, _) = login_attempt(url, "zhang", PASSWORD).await;
    assert_eq!(status, 401, "a disabled user cannot sign in");
    // Enabling again does not bring an ended session back.
    admin
        .post(
            "/api/v1/admin/users",
            &user("zhang", "reviewer", "410421", false),
        )
        .await
        .unwrap();
    assert_eq!(status_of(&fourth).await, 401);

    // Changing one's own password ends every session of theirs and opens one for the caller.
    let other_device = Session::login(url, "zhang", PASSWORD).await.unwrap();
    let this_device = Session::login(url, "zhang", PASSWORD).await.unwrap();
    let (status, body) = this_device
        .try_post(
            "/api/v1/auth/password",
            &json!({"current_password": "wrong password", "new_password": "another horse"}),
        )
        .await
        .unwrap();
    assert_eq!(status, 403, "{body}");
    let changed = this_device
        .post(
            "/api/v1/auth/password",
            &json!({"current_password": PASSWORD, "new_password": "another horse"}),
        )
        .await
        .unwrap();
    assert_eq!(status_of(&other_device).await, 401);
    assert_eq!(status_of(&this_device).await, 401);
    let renewed = Session {
        token: changed["token"].as_str().unwrap().to_string(),
        ..this_device
    };
    assert_eq!(status_of(&renewed).await, 200);
    assert_eq!(login_attempt(url, "zhang", PASSWORD).await.0, 401);
    assert_eq!(login_attempt(url, "zhang", "another horse").await.0, 200);

    // An administrator does not replace their own account (a stolen session cannot lock its
    // owner out; a slip cannot demote oneself).
    let (status, body) = admin
        .try_post(
            "/api/v1/admin/users",
            &user("admin", "reviewer", "410400", false),
        )
        .await
        .unwrap();
    assert_eq!(status, 403, "{body}");
    assert_eq!(status_of(&admin).await, 200);

    // A made-up or an old-style token opens nothing.
    let forged = Session {
        token: "hcps_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into(),
        ..renewed
    };
    assert_eq!(status_of(&forged).await, 401);

    // The audit trail has the sign-ins and the sign-out.
    let audit = admin.get_list("/api/v1/audit?limit=500").await.unwrap();
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|entry| entry["target"] == "zhang")
        .filter_map(|entry| entry["action"].as_str())
        .collect();
    for action in ["sign_in", "sign_out", "sign_in_failed"] {
        assert!(actions.contains(&action), "{action} not in {actions:?}");
    }
    // Filtered by what was done to whom; and a county's supervisor reads only what the users
    // of the county did, not the city's.
    let zhang = admin
        .get_list("/api/v1/audit?limit=500&target=zhang")
        .await
        .unwrap();
    assert!(
        zhang
            .as_array()
            .unwrap()
            .iter()
            .all(|entry| entry["target"] == "zhang"),
        "{zhang}"
    );
    assert!(!zhang.as_array().unwrap().is_empty());
    let county = admin
        .create_user("li", "supervisor", "410421")
        .await
        .unwrap();
    let seen = county.get_list("/api/v1/audit?limit=500").await.unwrap();
    let actors: Vec<&str> = seen
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|entry| entry["actor"].as_str())
        .collect();
    // zhang is a reviewer of 宝丰县 by now; admin, of the city, did the rest.
    assert!(
        actors.contains(&"li") && actors.contains(&"zhang"),
        "{actors:?}"
    );
    assert!(
        actors.iter().all(|actor| ["li", "zhang"].contains(actor)),
        "a county supervisor reads the county's users' entries only: {actors:?}"
    );
}

#[tokio::test]
async fn sessions_end_when_idle_and_at_the_end_of_their_life() {
    let start = Utc::now();
    let config = format!(
        "[clock]\nmanual_start = \"{}\"\n[workflow]\nsweep_secs = 0\n\
         [security]\ntoken_hours = 2\nidle_minutes = 30\nsessions_per_user = 2\n",
        start.to_rfc3339()
    );
    let Seeded { admin, server, .. } = start_seeded(&config).await.unwrap();
    let url = &server.url;
    // The administrator's session would idle out too; it moves the clock, so a second
    // administrator session is signed in whenever needed.
    admin.create_user("clock", "admin", "410400").await.unwrap();
    let clock = |at| async move {
        let session = Session::login(url, "clock", PASSWORD).await.unwrap();
        session.set_clock(at).await.unwrap();
    };

    let idle = admin
        .create_user("li", "supervisor", "410400")
        .await
        .unwrap();
    clock(start + Duration::minutes(29)).await;
    assert_eq!(status_of(&idle).await, 200, "29 minutes idle");
    clock(start + Duration::minutes(29 + 31)).await;
    assert_eq!(status_of(&idle).await, 401, "31 minutes idle");

    // A busy session ends at the end of its lifetime all the same.
    let busy = Session::login(url, "li", PASSWORD).await.unwrap();
    let opened = start + Duration::minutes(60);
    for minutes in [25, 50, 75, 100, 115] {
        clock(opened + Duration::minutes(minutes)).await;
        assert_eq!(status_of(&busy).await, 200, "{minutes} minutes in");
    }
    clock(opened + Duration::minutes(121)).await;
    assert_eq!(status_of(&busy).await, 401, "past its two hours");

    // Beyond two sessions per user, the oldest ends.
    let mut sessions = Vec::new();
    for minute in [122, 123, 124] {
        clock(opened + Duration::minutes(minute)).await;
        sessions.push(Session::login(url, "li", PASSWORD).await.unwrap());
    }
    assert_eq!(status_of(&sessions[0]).await, 401);
    assert_eq!(status_of(&sessions[1]).await, 200);
    assert_eq!(status_of(&sessions[2]).await, 200);
}

#[tokio::test]
async fn sign_in_is_throttled_per_account_and_per_address() {
    let config = "[limits]\nlogin_failures = 3\nlogin_lockout_seconds = 600\n\
                  login_per_address_per_minute = 12\n";
    let Seeded { admin, server, .. } = start_seeded(config).await.unwrap();
    let url = &server.url;
    admin
        .create_user("wang", "reviewer", "410400")
        .await
        .unwrap();

    for _ in 0..2 {
        assert_eq!(login_attempt(url, "wang", "guess guess").await.0, 401);
    }
    // The third failure locks the account: even the right password is refused now.
    assert_eq!(login_attempt(url, "wang", "guess guess").await.0, 401);
    let (status, retry, body) = login_attempt(url, "wang", PASSWORD).await;
    assert_eq!(status, 429, "{body}");
    let retry: u64 = retry.expect("Retry-After").parse().unwrap();
    assert!((1..=600).contains(&retry), "{retry}");
    assert_eq!(body["error"]["code"], "too_many_requests", "{body}");
    // An unknown account locks the same way, so a lockout tells nothing about who exists.
    for _ in 0..3 {
        assert_eq!(login_attempt(url, "nobody", "guess guess").await.0, 401);
    }
    assert_eq!(login_attempt(url, "nobody", "guess guess").await.0, 429);
    let audit = admin.get_list("/api/v1/audit?limit=500").await.unwrap();
    assert!(
        audit
            .as_array()
            .unwrap()
            .iter()
            .any(|entry| entry["action"] == "account_locked" && entry["target"] == "wang"),
        "the lockout is audited"
    );

    // Twelve attempts a minute from one address: attempts at other names run out of them
    // (faster than one refills every five seconds).
    let mut refused = None;
    for attempt in 0..40 {
        let (status, retry, body) = login_attempt(url, &format!("someone{attempt}"), "guess").await;
        if status == 429 {
            refused = Some((retry, body));
            break;
        }
        assert_eq!(status, 401, "{body}");
    }
    let (retry, body) = refused.expect("the address limit answers 429");
    assert!(retry.is_some(), "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("from this address"), "{message}");
    // A signed-in session is not affected by the address limit.
    assert_eq!(status_of(&admin).await, 200);
}

#[tokio::test]
async fn sessions_survive_a_restart_and_sign_outs_stay() {
    let Seeded {
        admin,
        server,
        data,
        dir,
        ..
    } = start_seeded("").await.unwrap();
    let kept = admin
        .create_user("zhao", "supervisor", "410400")
        .await
        .unwrap();
    let ended = Session::login(&server.url, "zhao", PASSWORD).await.unwrap();
    ended
        .try_post("/api/v1/auth/logout", &json!({}))
        .await
        .unwrap();
    server.kill().unwrap();
    let config = dir.path().join("hcp.toml");
    let server = hcp_e2e::Server::start(
        &hcp_e2e::binary("debug").unwrap(),
        "serve",
        &data,
        Some(&config),
    )
    .unwrap();
    let kept = Session {
        url: server.url.clone(),
        ..kept
    };
    let ended = Session {
        url: server.url.clone(),
        ..ended
    };
    assert_eq!(status_of(&kept).await, 200);
    assert_eq!(status_of(&ended).await, 401);
}
