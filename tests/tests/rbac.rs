//! The RBAC matrix (issue 12): every operation of the served OpenAPI document, asked by every
//! role and by nobody, about an object within the caller's county and one outside it, answers
//! the class of status the table below says. An operation of the document without a row fails
//! the test by name, and so does a row for an operation the document no longer has.
//!
//! The city: 宝丰县 (410421, the [`Fixture`]'s) and 叶县 (410422, [`seed_other_county`]) under
//! the root 平顶山市 (410400). Every account below the root is a 宝丰县 one, so each `{placeholder}`
//! of a row names a 宝丰县 object on the *inside* run and the 叶县 one on the *outside* run: a
//! rating, its work order and case, a service call, a systemic problem, a frozen run, a kept
//! rejection, a stored report, a region, a department, a source, a rules county.
//!
//! Classes: `ok` is a 2xx or a refusal of the request itself (400, 409, 422: the guard let it
//! through and the body or the state decided); `401`, `403` and `404` are what they say. Write
//! probes carry bodies that pass validation wherever the scope decides, so a 403 or 404 of the
//! guard is told apart from a 400 or 422. The probes run concurrently; each is written so that
//! any order gives the same class (a replayed rejection stays refused, a second confirmation is
//! 422, a rollback writes the active version back).
//!
//! Adding a route: add a row (the test names the operation until you do). Abuse limits are off
//! in this server's config so that no answer is a 429.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use hcp_e2e::{
    Fixture, Session, SmsGateway, beijing, beijing_at, rules_copy, seed_other_county,
    start_seeded_in,
};
use serde_json::{Value, json};

/// The roles, in the order of every row's expectations.
const ROLES: [&str; 9] = [
    "admin_city",
    "admin_county",
    "supervisor",
    "department_handler",
    "window_staff",
    "callback_agent",
    "reviewer",
    "rule_editor",
    "anonymous",
];

const PASSWORD: &str = "correct horse battery";

/// Operations that end the caller's session: each probe signs in anew for them.
const ENDS_SESSION: &[&str] = &["POST /api/v1/auth/logout"];

/// Capabilities of `GET /me` (what the console offers) and the operation each stands for: a
/// role lists the capability exactly when the matrix allows it the operation in its own region.
const CAPABILITY_ROWS: &[(&str, &str)] = &[
    ("live", "GET /api/v1/live"),
    ("orders.work", "POST /api/v1/orders/{id}/actions"),
    ("reveal", "POST /api/v1/ratings/{id}/reveal"),
    ("moderate", "POST /api/v1/ratings/{id}/moderation"),
    ("calls.read", "GET /api/v1/calls"),
    ("messages", "GET /api/v1/messages"),
    ("problems.confirm", "POST /api/v1/problems"),
    ("assessment", "POST /api/v1/assessments"),
    ("admin", "GET /api/v1/admin/users"),
    ("audit", "GET /api/v1/audit"),
    ("uplink.read", "GET /api/v1/admin/uplink"),
    ("uplink.run", "POST /api/v1/admin/uplink/run"),
    ("privacy.erase", "POST /api/v1/privacy/erasures"),
    ("rules.edit", "POST /api/v1/rules/check"),
];

/// One probe of an operation.
struct Row {
    /// The operation as the document names it: `METHOD /path/{param}`.
    op: &'static str,
    /// The request: `METHOD /path?query` with `{placeholders}` of the world.
    request: &'static str,
    /// A JSON body with `{placeholders}`; `wasm:…` sends the text as `application/wasm`.
    body: Option<&'static str>,
    /// The class each role gets about the inside object (in [`ROLES`] order).
    inside: &'static str,
    /// The same about the outside object, where the request names one.
    outside: Option<&'static str>,
}

const fn row(
    op: &'static str,
    request: &'static str,
    body: Option<&'static str>,
    inside: &'static str,
    outside: Option<&'static str>,
) -> Row {
    Row {
        op,
        request,
        body,
        inside,
        outside,
    }
}

/// The matrix. Columns: admin_city admin_county supervisor department_handler window_staff
/// callback_agent reviewer rule_editor anonymous.
#[rustfmt::skip]
const MATRIX: &[Row] = &[
    // Operations.
    row("GET /healthz", "GET /healthz", None,
        "ok  ok  ok  ok  ok  ok  ok  ok  ok", None),
    row("GET /readyz", "GET /readyz", None,
        "ok  ok  ok  ok  ok  ok  ok  ok  ok", None),
    // Only the operations token (or the operations address) opens the metrics; no session does.
    row("GET /metrics", "GET /metrics", None,
        "401 401 401 401 401 401 401 401 401", None),
    // A backup: the operations token only, whatever the session.
    row("POST /backup", "POST /backup", Some(r#"{"to": "/nonexistent/rbac-backup"}"#),
        "401 401 401 401 401 401 401 401 401", None),

    // Signing in and the signed-in user.
    row("POST /api/v1/auth/login", "POST /api/v1/auth/login",
        Some(r#"{"username": "rbac-login", "password": "correct horse battery"}"#),
        "ok  ok  ok  ok  ok  ok  ok  ok  ok", None),
    row("GET /api/v1/me", "GET /api/v1/me", None,
        "ok  ok  ok  ok  ok  ok  ok  ok  401", None),
    row("POST /api/v1/auth/logout", "POST /api/v1/auth/logout", None,
        "ok  ok  ok  ok  ok  ok  ok  ok  401", None),
    // A new password too short: refused (400) after the session check, so nothing changes.
    row("POST /api/v1/auth/password", "POST /api/v1/auth/password",
        Some(r#"{"current_password": "correct horse battery", "new_password": "short"}"#),
        "ok  ok  ok  ok  ok  ok  ok  ok  401", None),

    // Ingest: a source's key, never a session.
    row("POST /api/v1/ingest/{source}", "POST /api/v1/ingest/{source}", Some(r#"{}"#),
        "401 401 401 401 401 401 401 401 401",
        Some("401 401 401 401 401 401 401 401 401")),
    row("POST /api/v1/sources/{source}/ratings", "POST /api/v1/sources/{source}/ratings",
        Some(r#"[]"#),
        "401 401 401 401 401 401 401 401 401",
        Some("401 401 401 401 401 401 401 401 401")),
    row("POST /api/v1/sources/{source}/service-events",
        "POST /api/v1/sources/{source}/service-events", Some(r#"[]"#),
        "401 401 401 401 401 401 401 401 401",
        Some("401 401 401 401 401 401 401 401 401")),

    // Ratings, cases, roll-ups, the org tree.
    row("GET /api/v1/ratings", "GET /api/v1/ratings?unit={region}", None,
        "ok  ok  ok  403 403 ok  ok  403 401",
        Some("ok  403 403 403 403 403 403 403 401")),
    row("GET /api/v1/ratings/{id}", "GET /api/v1/ratings/{rating}", None,
        "ok  ok  ok  ok  ok  ok  ok  403 401",
        Some("ok  404 404 404 404 404 404 403 401")),
    row("GET /api/v1/ratings/{id}/decisions", "GET /api/v1/ratings/{rating}/decisions", None,
        "ok  ok  ok  ok  ok  ok  ok  403 401",
        Some("ok  404 404 404 404 404 404 403 401")),
    row("POST /api/v1/ratings/{id}/reveal", "POST /api/v1/ratings/{rating}/reveal",
        Some(r#"{"reason": "差评回访核实"}"#),
        "ok  ok  403 ok  403 ok  403 403 401",
        Some("ok  404 403 404 403 404 403 403 401")),
    row("POST /api/v1/ratings/{id}/moderation", "POST /api/v1/ratings/{rating}/moderation",
        Some(r#"{"publish": false, "note": "含个人信息，不予公开"}"#),
        "403 403 403 403 403 403 ok  403 401",
        Some("403 403 403 403 403 403 404 403 401")),
    row("GET /api/v1/cases", "GET /api/v1/cases?unit={region}", None,
        "ok  ok  ok  403 403 ok  ok  403 401",
        Some("ok  403 403 403 403 403 403 403 401")),
    row("GET /api/v1/cases/{project_no}", "GET /api/v1/cases/{call_project}", None,
        "ok  ok  ok  ok  403 ok  ok  403 401",
        Some("ok  404 404 404 403 404 404 403 401")),
    row("GET /api/v1/rollups", "GET /api/v1/rollups?unit={region}", None,
        "ok  ok  ok  403 403 ok  ok  403 401",
        Some("ok  403 403 403 403 403 403 403 401")),
    row("GET /api/v1/org/{id}", "GET /api/v1/org/{region}", None,
        "ok  ok  ok  ok  ok  ok  ok  ok  401",
        Some("ok  ok  ok  ok  ok  ok  ok  ok  401")),
    row("GET /api/v1/devices", "GET /api/v1/devices?unit={region}", None,
        "ok  ok  ok  403 403 ok  ok  403 401",
        Some("ok  403 403 403 403 403 403 403 401")),
    row("GET /api/v1/devices/online-rate", "GET /api/v1/devices/online-rate?unit={region}", None,
        "ok  ok  ok  403 403 ok  ok  403 401",
        Some("ok  403 403 403 403 403 403 403 401")),

    // Administration: users, sources, master data, kept rejections, audit, adapters.
    row("GET /api/v1/admin/users", "GET /api/v1/admin/users", None,
        "ok  ok  403 403 403 403 403 403 401", None),
    row("POST /api/v1/admin/users", "POST /api/v1/admin/users",
        Some(r#"{"username": "rbac-user-{region}", "display_name": "x", "role": "supervisor", "scope": "{region}", "password": "correct horse battery"}"#),
        "ok  ok  403 403 403 403 403 403 401",
        Some("ok  403 403 403 403 403 403 403 401")),
    row("GET /api/v1/admin/sources", "GET /api/v1/admin/sources", None,
        "ok  ok  403 403 403 403 403 403 401", None),
    row("POST /api/v1/admin/sources", "POST /api/v1/admin/sources",
        Some(r#"{"id": "rbac-{region}", "name": "x", "scope": "{region}"}"#),
        "ok  ok  403 403 403 403 403 403 401",
        Some("ok  403 403 403 403 403 403 403 401")),
    row("POST /api/v1/admin/master", "POST /api/v1/admin/master",
        Some(r#"{"kind": "org_unit", "record": {"id": "W-RBAC-{region}", "kind": "window", "name": "x", "parent": "{hall}", "department": "{department}"}}"#),
        "ok  ok  403 403 403 403 403 403 401",
        Some("ok  403 403 403 403 403 403 403 401")),
    row("GET /api/v1/admin/rejections", "GET /api/v1/admin/rejections", None,
        "ok  ok  403 403 403 403 403 403 401", None),
    row("POST /api/v1/admin/rejections/{seq}/replay",
        "POST /api/v1/admin/rejections/{rejection}/replay", None,
        "ok  ok  403 403 403 403 403 403 401",
        Some("ok  404 403 403 403 403 403 403 401")),
    row("GET /api/v1/audit", "GET /api/v1/audit", None,
        "ok  ok  ok  403 403 403 403 403 401", None),
    row("GET /api/v1/admin/plugins", "GET /api/v1/admin/plugins", None,
        "ok  ok  403 403 403 403 403 403 401", None),
    row("POST /api/v1/admin/plugins", "POST /api/v1/admin/plugins", Some("wasm:not a component"),
        "ok  403 403 403 403 403 403 403 401", None),
    row("DELETE /api/v1/admin/plugins/{id}", "DELETE /api/v1/admin/plugins/rbac-no-such-adapter",
        None,
        "404 403 403 403 403 403 403 403 401", None),

    // Personal data: what is held (those who read the audit trail), erasing it (the city's
    // administrators only: a key destroyed is gone for every county).
    row("GET /api/v1/privacy", "GET /api/v1/privacy", None,
        "ok  ok  ok  403 403 403 403 403 401", None),
    row("POST /api/v1/privacy/sweep", "POST /api/v1/privacy/sweep", None,
        "ok  403 403 403 403 403 403 403 401", None),
    row("POST /api/v1/privacy/erasures", "POST /api/v1/privacy/erasures",
        Some(r#"{"phone": "13800009999", "reference": "rbac"}"#),
        "ok  403 403 403 403 403 403 403 401", None),

    // Rules.
    row("GET /api/v1/rules/status", "GET /api/v1/rules/status", None,
        "ok  ok  ok  ok  ok  ok  ok  ok  401", None),
    row("GET /api/v1/rules/versions", "GET /api/v1/rules/versions", None,
        "ok  ok  ok  ok  ok  ok  ok  ok  401", None),
    row("POST /api/v1/rules/rollback", "POST /api/v1/rules/rollback",
        Some(r#"{"version": "{version}", "county": "{region}"}"#),
        "ok  ok  403 403 403 403 403 ok  401",
        Some("ok  403 403 403 403 403 403 403 401")),
    // The whole folder: every county's rules.
    row("POST /api/v1/rules/rollback", "POST /api/v1/rules/rollback",
        Some(r#"{"version": "{version}"}"#),
        "ok  403 403 403 403 403 403 403 401", None),
    row("POST /api/v1/rules/eval", "POST /api/v1/rules/eval",
        Some(r#"{"hook": "deadline", "county": "{region}", "input": {}}"#),
        "ok  ok  ok  ok  ok  ok  ok  ok  401",
        Some("ok  403 403 403 403 403 403 403 401")),
    row("GET /api/v1/rules/files", "GET /api/v1/rules/files", None,
        "ok  ok  ok  ok  ok  ok  ok  ok  401", None),
    row("POST /api/v1/rules/check", "POST /api/v1/rules/check",
        Some(r#"{"files": {"default/deadline.rhai": "fn deadline(input) { #{ phases: [] } }"}}"#),
        "ok  ok  403 403 403 403 403 ok  401", None),
    // A file outside the county's folder: refused (422) after the role and scope checks, so
    // the probe never rewrites the rules the other probes run on.
    row("PUT /api/v1/rules/files", "PUT /api/v1/rules/files",
        Some(r#"{"county": "{region}", "files": {"default/deadline.rhai": "x"}}"#),
        "ok  ok  403 403 403 403 403 ok  401",
        Some("ok  403 403 403 403 403 403 403 401")),
    row("POST /api/v1/rules/what-if", "POST /api/v1/rules/what-if",
        Some(r#"{"files": {}, "period": "2026-03", "unit_kind": "region", "scope": "{region}"}"#),
        "ok  ok  ok  403 403 403 403 ok  401",
        Some("ok  403 403 403 403 403 403 403 401")),
    row("POST /api/v1/rules/simulate", "POST /api/v1/rules/simulate",
        Some(r#"{"unit": "{region}", "from": "2026-03-01", "to": "2026-03-31"}"#),
        "ok  ok  403 403 403 403 403 ok  401",
        Some("ok  403 403 403 403 403 403 403 401")),

    // Work orders, the intake, the call list, moderation, the sweep and the clock.
    row("GET /api/v1/orders", "GET /api/v1/orders", None,
        "ok  ok  ok  ok  ok  ok  ok  403 401", None),
    row("GET /api/v1/orders/{id}", "GET /api/v1/orders/{order}", None,
        "ok  ok  ok  ok  ok  ok  ok  403 401",
        Some("ok  404 404 404 404 404 404 403 401")),
    row("POST /api/v1/orders/{id}/actions", "POST /api/v1/orders/{order}/actions",
        Some(r#"{"type": "accept"}"#),
        "ok  ok  403 ok  403 403 403 403 401",
        Some("ok  404 404 404 404 404 404 404 401")),
    row("POST /api/v1/intake", "POST /api/v1/intake",
        Some(r#"{"kind": "suggestion", "area_code": "{region}", "text": "建议增加自助填表机"}"#),
        "ok  ok  ok  ok  ok  ok  ok  ok  ok",
        Some("ok  ok  ok  ok  ok  ok  ok  ok  ok")),
    row("GET /api/v1/calls", "GET /api/v1/calls", None,
        "ok  ok  ok  403 403 ok  403 403 401", None),
    row("POST /api/v1/calls/orders/{id}", "POST /api/v1/calls/orders/{order}",
        Some(r#"{"outcome": "satisfied", "note": "满意"}"#),
        "ok  ok  403 403 403 ok  403 403 401",
        Some("ok  404 404 404 404 404 404 404 401")),
    row("POST /api/v1/admin/sweep", "POST /api/v1/admin/sweep", Some(r#"{}"#),
        "ok  403 403 403 403 403 403 403 401", None),
    row("GET /api/v1/admin/clock", "GET /api/v1/admin/clock", None,
        "ok  ok  ok  ok  ok  ok  ok  ok  401", None),
    row("POST /api/v1/admin/clock", "POST /api/v1/admin/clock", Some(r#"{"at": "{now}"}"#),
        "ok  403 403 403 403 403 403 403 401", None),

    // Outreach: service calls, messages, the plan of a service act, the rating link.
    row("POST /api/v1/calls/services/{project_no}/{service_number}",
        "POST /api/v1/calls/services/{call_project}/1",
        Some(r#"{"outcome": "unreachable", "note": "无人接听"}"#),
        "ok  ok  403 403 403 ok  403 403 401",
        Some("ok  404 403 403 403 404 403 403 401")),
    row("POST /api/v1/calls/services/{project_no}/{service_number}/reveal",
        "POST /api/v1/calls/services/{call_project}/1/reveal",
        Some(r#"{"reason": "电话邀评"}"#),
        "ok  ok  403 403 403 ok  403 403 401",
        Some("ok  404 403 403 403 404 403 403 401")),
    row("GET /api/v1/messages", "GET /api/v1/messages", None,
        "ok  ok  ok  403 403 403 403 403 401", None),
    row("GET /api/v1/services/{project_no}/{service_number}/plan",
        "GET /api/v1/services/{call_project}/1/plan", None,
        "ok  ok  ok  ok  404 ok  ok  403 401",
        Some("ok  404 404 404 404 404 404 403 401")),
    row("GET /r/{token}", "GET /r/{token}", None,
        "404 404 404 404 404 404 404 404 404", None),
    row("POST /api/v1/public/rate/{token}", "POST /api/v1/public/rate/{token}",
        Some(r#"{"level": "satisfied"}"#),
        "404 404 404 404 404 404 404 404 404", None),

    // Windows' QR codes: the citizen's page (a forged token is unknown to everyone), and for
    // administrators the codes, their rotation and the posters.
    row("GET /w/{token}", "GET /w/{token}", None,
        "404 404 404 404 404 404 404 404 404", None),
    row("POST /w/{token}", "POST /w/{token}", Some(r#"{"level": "satisfied"}"#),
        "404 404 404 404 404 404 404 404 404", None),
    row("GET /api/v1/windows/qr", "GET /api/v1/windows/qr?unit={region}", None,
        "ok  ok  403 403 403 403 403 403 401",
        Some("ok  403 403 403 403 403 403 403 401")),
    row("POST /api/v1/windows/{id}/qr/rotate", "POST /api/v1/windows/{window}/qr/rotate", None,
        "ok  ok  403 403 403 403 403 403 401",
        Some("ok  404 403 403 403 403 403 403 401")),
    row("GET /api/v1/windows/{id}/poster.svg", "GET /api/v1/windows/{window}/poster.svg", None,
        "ok  ok  403 403 403 403 403 403 401",
        Some("ok  404 403 403 403 403 403 403 401")),
    row("GET /api/v1/windows/{id}/poster.pdf", "GET /api/v1/windows/{window}/poster.pdf", None,
        "ok  ok  403 403 403 403 403 403 401",
        Some("ok  404 403 403 403 403 403 403 401")),
    row("GET /api/v1/windows/posters.pdf", "GET /api/v1/windows/posters.pdf?unit={region}", None,
        "ok  ok  403 403 403 403 403 403 401",
        Some("ok  403 403 403 403 403 403 403 401")),

    // Systemic problems.
    row("GET /api/v1/problems/proposals", "GET /api/v1/problems/proposals?region={region}", None,
        "ok  ok  ok  403 403 403 403 403 401",
        Some("ok  403 403 403 403 403 403 403 401")),
    row("GET /api/v1/problems", "GET /api/v1/problems", None,
        "ok  ok  ok  ok  403 ok  ok  403 401", None),
    row("POST /api/v1/problems", "POST /api/v1/problems",
        Some(r#"{"title": "窗口排队时间长", "cause": "process", "owner": "{department}", "plan": "增开窗口", "due": "2026-04-30", "region": "{region}", "orders": [{order}]}"#),
        "ok  ok  ok  403 403 403 403 403 401",
        Some("ok  403 403 403 403 403 403 403 401")),
    row("GET /api/v1/problems/{id}", "GET /api/v1/problems/{problem}", None,
        "ok  ok  ok  ok  404 ok  ok  404 401",
        Some("ok  404 404 404 404 404 404 404 401")),
    row("POST /api/v1/problems/{id}/resolve", "POST /api/v1/problems/{problem}/resolve",
        Some(r#"{"action": "已增开窗口", "message": "您反映的排队问题已整改"}"#),
        "ok  ok  ok  ok  403 403 403 403 401",
        Some("ok  404 404 404 403 403 403 403 401")),

    // Analysis.
    row("GET /api/v1/analysis/attribution", "GET /api/v1/analysis/attribution?unit={region}",
        None,
        "ok  ok  ok  403 403 ok  ok  403 401",
        Some("ok  403 403 403 403 403 403 403 401")),
    row("GET /api/v1/analysis/hot-words", "GET /api/v1/analysis/hot-words?unit={region}", None,
        "ok  ok  ok  403 403 ok  ok  403 401",
        Some("ok  403 403 403 403 403 403 403 401")),
    row("GET /api/v1/analysis/alerts", "GET /api/v1/analysis/alerts?unit={region}", None,
        "ok  ok  ok  403 403 ok  ok  403 401",
        Some("ok  403 403 403 403 403 403 403 401")),

    // Metrics, coverage and assessment.
    row("GET /api/v1/stats", "GET /api/v1/stats?unit={region}", None,
        "ok  ok  ok  403 403 ok  ok  403 401",
        Some("ok  403 403 403 403 403 403 403 401")),
    // Each caller's own scope (a handler's is its department), then a region.
    row("GET /api/v1/live", "GET /api/v1/live", None,
        "ok  ok  ok  ok  403 ok  ok  403 401", None),
    row("GET /api/v1/live", "GET /api/v1/live?unit={region}", None,
        "ok  ok  ok  403 403 ok  ok  403 401",
        Some("ok  403 403 403 403 403 403 403 401")),
    row("GET /api/v1/stats/days", "GET /api/v1/stats/days?unit={region}", None,
        "ok  ok  ok  403 403 ok  ok  403 401",
        Some("ok  403 403 403 403 403 403 403 401")),
    row("GET /api/v1/stats/children", "GET /api/v1/stats/children?unit={region}&of=department",
        None,
        "ok  ok  ok  403 403 ok  ok  403 401",
        Some("ok  403 403 403 403 403 403 403 401")),
    row("GET /api/v1/coverage/sources", "GET /api/v1/coverage/sources?unit={region}", None,
        "ok  ok  ok  403 403 403 403 403 401",
        Some("ok  403 403 403 403 403 403 403 401")),
    row("GET /api/v1/assessments", "GET /api/v1/assessments", None,
        "ok  ok  ok  ok  ok  ok  ok  403 401", None),
    // Published (frozen) for an ended period: by the scope's owner or the root.
    row("POST /api/v1/assessments", "POST /api/v1/assessments",
        Some(r#"{"period": "2026-03", "unit_kind": "department", "scope": "{region}", "freeze": true}"#),
        "ok  ok  ok  403 403 403 403 403 401",
        Some("ok  403 403 403 403 403 403 403 401")),
    row("GET /api/v1/assessments/{seq}", "GET /api/v1/assessments/{run}", None,
        "ok  ok  ok  ok  ok  ok  ok  403 401",
        Some("ok  404 404 404 404 404 404 403 401")),
    // Window staff read only their own line of a run: a department's is not theirs.
    row("GET /api/v1/assessments/{seq}/units/{unit}",
        "GET /api/v1/assessments/{run}/units/{department}", None,
        "ok  ok  ok  ok  404 ok  ok  403 401",
        Some("ok  404 404 404 404 404 404 403 401")),

    // Reports.
    row("GET /api/v1/reports", "GET /api/v1/reports", None,
        "ok  ok  ok  403 403 403 403 403 401", None),
    row("GET /api/v1/reports/bulletin", "GET /api/v1/reports/bulletin?period=2026-03&scope={region}",
        None,
        "ok  ok  ok  403 403 403 403 403 401",
        Some("ok  403 403 403 403 403 403 403 401")),
    row("GET /api/v1/reports/semiannual",
        "GET /api/v1/reports/semiannual?period=2026-H1&scope={region}&format=html", None,
        "ok  ok  ok  403 403 403 403 403 401",
        Some("ok  403 403 403 403 403 403 403 401")),
    row("GET /api/v1/reports/files/{name}", "GET /api/v1/reports/files/{report}", None,
        "ok  ok  ok  403 403 403 403 403 401",
        Some("ok  404 404 403 403 403 403 403 401")),

    // The provincial uplink: the whole city's.
    row("GET /api/v1/admin/uplink", "GET /api/v1/admin/uplink", None,
        "ok  ok  ok  403 403 403 403 403 401", None),
    row("POST /api/v1/admin/uplink/run", "POST /api/v1/admin/uplink/run", Some(r#"{}"#),
        "ok  403 403 403 403 403 403 403 401", None),
    row("POST /api/v1/admin/uplink/reconcile", "POST /api/v1/admin/uplink/reconcile",
        Some(r#"{}"#),
        "ok  403 403 403 403 403 403 403 401", None),
    row("GET /api/v1/admin/uplink/reconciliations/{day}",
        "GET /api/v1/admin/uplink/reconciliations/2026-03-31", None,
        "404 404 404 403 403 403 403 403 401", None),
    row("GET /api/v1/admin/uplink/batches/{number}", "GET /api/v1/admin/uplink/batches/1", None,
        "404 404 404 403 403 403 403 403 401", None),
    row("POST /api/v1/admin/uplink/refused/{id}", "POST /api/v1/admin/uplink/refused/1",
        Some(r#"{"action": "dismiss", "note": "x"}"#),
        "ok  403 403 403 403 403 403 403 401", None),

    // The citizen's tracking link and the public disclosure: nobody signs in.
    row("GET /api/v1/track/{token}", "GET /api/v1/track/{token}", None,
        "404 404 404 404 404 404 404 404 404", None),
    row("POST /api/v1/track/{token}/evaluation", "POST /api/v1/track/{token}/evaluation",
        Some(r#"{"level": "satisfied"}"#),
        "404 404 404 404 404 404 404 404 404", None),
    row("POST /api/v1/track/{token}/confirm-phone", "POST /api/v1/track/{token}/confirm-phone",
        Some(r#"{"code": "123456"}"#),
        "404 404 404 404 404 404 404 404 404", None),
    row("GET /api/v1/public/regions", "GET /api/v1/public/regions", None,
        "ok  ok  ok  ok  ok  ok  ok  ok  ok", None),
    row("GET /api/v1/public/stats",
        "GET /api/v1/public/stats?dim=region&unit={region}&period=2026-03", None,
        "ok  ok  ok  ok  ok  ok  ok  ok  ok",
        Some("ok  ok  ok  ok  ok  ok  ok  ok  ok")),
    row("GET /api/v1/public/rankings",
        "GET /api/v1/public/rankings?of=department&period=2026-03&scope={region}", None,
        "ok  ok  ok  ok  ok  ok  ok  ok  ok",
        Some("ok  ok  ok  ok  ok  ok  ok  ok  ok")),
    row("GET /api/v1/public/rectified",
        "GET /api/v1/public/rectified?dim=region&unit={region}&period=2026-03", None,
        "ok  ok  ok  ok  ok  ok  ok  ok  ok",
        Some("ok  ok  ok  ok  ok  ok  ok  ok  ok")),
    row("GET /api/v1/public/comments",
        "GET /api/v1/public/comments?dim=region&unit={region}&period=2026-03", None,
        "ok  ok  ok  ok  ok  ok  ok  ok  ok",
        Some("ok  ok  ok  ok  ok  ok  ok  ok  ok")),
];

/// What an answer says about access.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// 2xx, or the request itself refused (400, 409, 422): the guard let it through.
    Passed,
    Unauthorized,
    Forbidden,
    NotFound,
}

impl Class {
    fn parse(code: &str) -> Class {
        match code {
            "ok" => Class::Passed,
            "401" => Class::Unauthorized,
            "403" => Class::Forbidden,
            "404" => Class::NotFound,
            other => panic!("unknown class {other:?} in the matrix"),
        }
    }

    /// The class of a status; `None` for one no row may expect (5xx, 429, a 413 or 415 of a
    /// probe that is not what it meant to send).
    fn of(status: u16) -> Option<Class> {
        match status {
            200..=299 | 400 | 409 | 422 => Some(Class::Passed),
            401 => Some(Class::Unauthorized),
            403 => Some(Class::Forbidden),
            404 => Some(Class::NotFound),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Class::Passed => "ok (2xx, 400, 409, 422)",
            Class::Unauthorized => "401",
            Class::Forbidden => "403",
            Class::NotFound => "404",
        }
    }
}

/// The expectations of one run of a row: a class per role.
fn classes(expected: &str, op: &str) -> Vec<Class> {
    let classes: Vec<Class> = expected.split_whitespace().map(Class::parse).collect();
    assert_eq!(
        classes.len(),
        ROLES.len(),
        "{op}: {expected:?} names {} classes, one per role is {}",
        classes.len(),
        ROLES.len()
    );
    classes
}

/// The operations of the served document: `METHOD /path`.
fn documented(doc: &Value) -> BTreeSet<String> {
    let mut operations = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in ["get", "post", "put", "delete", "patch"] {
            if item.get(method).is_some() {
                operations.insert(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    operations
}

/// What the placeholders stand for on one side.
type Names = BTreeMap<&'static str, String>;

/// The city the matrix asks about: the server, a session per role, and the names of the inside
/// and outside objects.
struct World {
    url: String,
    /// Each role's session token, in [`ROLES`] order (none for the anonymous caller).
    tokens: Vec<Option<String>>,
    /// Each role's user name and password, to open a session of its own for a probe that
    /// ends it ([`ENDS_SESSION`]).
    accounts: Vec<Option<(String, String)>>,
    inside: Names,
    outside: Names,
    _gateway: SmsGateway,
    _server: hcp_e2e::Seeded,
}

/// 2026-03-02 09:00 China time, a Monday; the matrix is asked on 04-01, after March's bulletin.
fn start() -> DateTime<Utc> {
    beijing_at(3, 2, 9, 0)
}

fn substitute(text: &str, names: &Names) -> String {
    let mut text = text.to_string();
    for (name, value) in names {
        text = text.replace(&format!("{{{name}}}"), value);
    }
    assert!(
        !text.contains("{region}") && !text.contains("{order}"),
        "a placeholder is left in {text}"
    );
    text
}

/// A service act `project`#1 completed at the county's window with the applicant's phone, and
/// when `bad`, its 差评 on the hall device naming the window's staff member.
async fn service_and_rating(
    url: &str,
    fixture: &Fixture,
    county: &str,
    (window, task, staff): (&str, &str, &str),
    project: &str,
    bad: bool,
) {
    let event = json!({
        "event_id": format!("svc-{project}"), "project_no": project, "project_name": "申请",
        "task_code": task, "department": fixture.department, "area_code": county,
        "service_number": 1, "service_name": "办结", "status": "completed",
        "occurred_at": start() - Duration::hours(1), "window": window,
        "applicant_phone": "13800001111",
    });
    let (status, body) = fixture
        .ingest(url, "service-events", &json!([event]))
        .await
        .unwrap();
    assert!(status == 200 && body["rejected"] == 0, "{body}");
    if !bad {
        return;
    }
    let rating = json!({
        "event_id": format!("r-{project}"), "project_no": project, "service_number": 1,
        "task_code": task, "department": fixture.department, "area_code": county,
        "window": window, "staff": staff, "level": "very_dissatisfied", "channel": "hall_device",
        "indicators": ["510"], "text": "排队时间太长",
        "evaluator": {"real_name": true, "phone": "13800002222"},
        "rated_at": start() - Duration::minutes(30),
    });
    let (status, body) = fixture
        .ingest(url, "ratings", &json!([rating]))
        .await
        .unwrap();
    assert!(status == 200 && body["rejected"] == 0, "{body}");
    // An item no master data knows: refused and kept, and refused again on every replay.
    let refused = json!({
        "event_id": format!("r-{project}-unknown"), "project_no": format!("{project}-X"),
        "service_number": 1, "task_code": "T-RBAC-UNKNOWN", "department": fixture.department,
        "area_code": county, "level": "satisfied", "channel": "hall_device",
        "rated_at": start() - Duration::minutes(20),
    });
    let (status, body) = fixture
        .ingest(url, "ratings", &json!([refused]))
        .await
        .unwrap();
    assert!(status == 200 && body["rejected"] == 1, "{body}");
}

impl World {
    async fn build() -> World {
        let gateway = SmsGateway::start().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (_, config) = rules_copy(dir.path()).unwrap();
        let mut text = std::fs::read_to_string(&config).unwrap();
        text.push_str(&format!(
            "[clock]\nmanual_start = {:?}\n[workflow]\nsweep_secs = 0\n[security]\ntoken_hours = 8760\nidle_minutes = 525600\n\
             [limits]\nlogin_per_address_per_minute = 0\nlogin_failures = 0\npublic_posts_per_minute = 0\n\
             [messages]\ngateway_url = {:?}\npublic_url = \"http://hcp.example/\"\n",
            start().to_rfc3339(),
            gateway.url(),
        ));
        std::fs::write(&config, text).unwrap();
        let seeded = start_seeded_in(dir, &config).await.unwrap();
        let url = seeded.server.url.clone();
        let admin = &seeded.admin;
        let ours = &seeded.fixture;
        let theirs = seed_other_county(admin).await.unwrap();
        for (id, department, window) in [
            ("S-BF-1", &ours.department, "W-BF-01"),
            ("S-YX-1", &theirs.department, "W-YX-01"),
        ] {
            admin
                .post(
                    "/api/v1/admin/master",
                    &json!({"kind": "staff", "record": {"id": id, "name": format!("工作人员{id}"), "department": department, "window": window}}),
                )
                .await
                .unwrap();
        }
        let accounts = [
            ("rbac-admin", "admin", "410421".to_string(), None),
            ("rbac-supervisor", "supervisor", "410421".into(), None),
            (
                "rbac-handler",
                "department_handler",
                ours.department.clone(),
                None,
            ),
            (
                "rbac-staff",
                "window_staff",
                "W-BF-01".into(),
                Some("S-BF-1"),
            ),
            ("rbac-agent", "callback_agent", "410421".into(), None),
            ("rbac-reviewer", "reviewer", "410421".into(), None),
            ("rbac-editor", "rule_editor", "410421".into(), None),
            ("rbac-login", "reviewer", "410421".into(), None),
        ];
        let mut tokens = vec![Some(admin.token.clone())];
        let mut logins = vec![Some((
            "admin".to_string(),
            seeded.server.admin_password().unwrap(),
        ))];
        for (username, role, scope, staff) in accounts {
            admin
                .post(
                    "/api/v1/admin/users",
                    &json!({"username": username, "display_name": username, "role": role,
                        "scope": scope, "staff_id": staff, "password": PASSWORD}),
                )
                .await
                .unwrap();
            if username != "rbac-login" {
                let session = Session::login(&url, username, PASSWORD).await.unwrap();
                tokens.push(Some(session.token));
                logins.push(Some((username.to_string(), PASSWORD.to_string())));
            }
        }
        tokens.push(None);
        logins.push(None);

        // March: a service on the call list and a 差评 with its order in each county.
        for (fixture, county, act, call, bad) in [
            (
                ours,
                "410421",
                ("W-BF-01", "T-QYSL", "S-BF-1"),
                "BF-CALL-1",
                "BF-BAD-1",
            ),
            (
                &theirs,
                "410422",
                ("W-YX-01", "T-YX", "S-YX-1"),
                "YX-CALL-1",
                "YX-BAD-1",
            ),
        ] {
            service_and_rating(&url, fixture, county, act, call, false).await;
            service_and_rating(&url, fixture, county, act, bad, true).await;
        }
        for hours in [24, 72] {
            admin
                .sweep_at(start() + Duration::hours(hours))
                .await
                .unwrap();
        }
        let (mut inside, mut outside) = (Names::new(), Names::new());
        for (names, county, fixture, hall, call, bad) in [
            (&mut inside, "410421", ours, "H-BF", "BF-CALL-1", "BF-BAD-1"),
            (
                &mut outside,
                "410422",
                &theirs,
                "H-YX",
                "YX-CALL-1",
                "YX-BAD-1",
            ),
        ] {
            let rating = admin.first_rating(bad).await.unwrap();
            let order = admin.bad_review_order(rating).await.unwrap()["id"]
                .as_u64()
                .unwrap();
            let plan = admin
                .get(&format!("/api/v1/services/{call}/1/plan"))
                .await
                .unwrap();
            assert_eq!(
                plan["call"]["state"], "open",
                "{call} is on the call list: {plan}"
            );
            names.insert("region", county.to_string());
            names.insert("department", fixture.department.clone());
            names.insert("hall", hall.to_string());
            names.insert(
                "window",
                if county == "410421" {
                    "W-BF-01"
                } else {
                    "W-YX-01"
                }
                .to_string(),
            );
            names.insert("source", fixture.source.clone());
            names.insert("rating", rating.to_string());
            names.insert("order", order.to_string());
            names.insert("call_project", call.to_string());
            let problem = admin
                .post(
                    "/api/v1/problems",
                    &json!({"title": "排队时间长", "cause": "process", "owner": fixture.department,
                        "plan": "增开窗口", "due": "2026-04-30", "region": county, "orders": [order]}),
                )
                .await
                .unwrap();
            names.insert("problem", problem["id"].to_string());
        }
        let rejections = admin.get_list("/api/v1/admin/rejections").await.unwrap();
        for names in [&mut inside, &mut outside] {
            let kept = rejections
                .as_array()
                .unwrap()
                .iter()
                .find(|rejection| rejection["source"] == names["source"].as_str())
                .unwrap_or_else(|| panic!("no rejection kept: {rejections}"));
            names.insert("rejection", kept["seq"].to_string());
        }

        // April 1st: March's bulletins are stored; March's runs are published by their owners.
        let now = beijing(4, 1, 10);
        admin.sweep_at(now).await.unwrap();
        for names in [&mut inside, &mut outside] {
            let region = names["region"].clone();
            let run = admin
                .post(
                    "/api/v1/assessments",
                    &json!({"period": "2026-03", "unit_kind": "department", "scope": region, "freeze": true}),
                )
                .await
                .unwrap();
            names.insert("run", run["frozen"].to_string());
            names.insert("report", format!("bulletin-2026-03-{region}.xlsx"));
            admin
                .get_text(&format!("/api/v1/reports/files/{}", names["report"]))
                .await
                .unwrap();
        }
        let version = admin.get("/api/v1/rules/status").await.unwrap()["active_version"]
            .as_str()
            .unwrap()
            .to_string();
        for names in [&mut inside, &mut outside] {
            names.insert("version", version.clone());
            names.insert("now", now.to_rfc3339());
            names.insert("token", "0123456789abcdef0123456789abcdef01424642".into());
        }
        World {
            url,
            tokens,
            accounts: logins,
            inside,
            outside,
            _gateway: gateway,
            _server: seeded,
        }
    }
}

/// Sends one probe; the status and the start of the body.
async fn probe(
    client: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    request: &str,
    body: Option<&str>,
) -> (u16, String) {
    let (method, path) = request.split_once(' ').expect("METHOD /path");
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a method");
    let mut builder = client.request(method, format!("{url}{path}"));
    if let Some(token) = token {
        builder = builder.bearer_auth(token);
    }
    builder = match body {
        Some(body) => match body.strip_prefix("wasm:") {
            Some(bytes) => builder
                .header("content-type", "application/wasm")
                .body(bytes.as_bytes().to_vec()),
            None => builder
                .header("content-type", "application/json")
                .body(body.to_string()),
        },
        None => builder,
    };
    let answer = builder.send().await.expect("an answer");
    let status = answer.status().as_u16();
    // A live stream never ends: its status is the answer.
    let streaming = answer
        .headers()
        .get("content-type")
        .is_some_and(|value| value.as_bytes().starts_with(b"text/event-stream"));
    if streaming {
        return (status, String::new());
    }
    let text = answer.text().await.unwrap_or_default();
    (status, text.chars().take(200).collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_operation_answers_every_role_as_the_matrix_says() {
    let world = Arc::new(World::build().await);
    let doc: Value = reqwest::get(format!("{}/api/v1/openapi.json", world.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let operations = documented(&doc);
    let covered: BTreeSet<String> = MATRIX.iter().map(|row| row.op.to_string()).collect();
    let missing: Vec<&String> = operations.difference(&covered).collect();
    let stale: Vec<&String> = covered.difference(&operations).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "the matrix must have a row for every documented operation and none for another:\n  \
         without a row: {missing:?}\n  rows for operations not documented: {stale:?}"
    );

    let client = reqwest::Client::new();
    let permits = Arc::new(tokio::sync::Semaphore::new(8));
    let mut probes = tokio::task::JoinSet::new();
    for row in MATRIX {
        let mut runs = vec![("inside", &world.inside, row.inside)];
        if let Some(outside) = row.outside {
            runs.push(("outside", &world.outside, outside));
        }
        for (side, names, expected) in runs {
            let expected = classes(expected, row.op);
            let request = substitute(row.request, names);
            let body = row.body.map(|body| substitute(body, names));
            for (index, role) in ROLES.iter().enumerate() {
                let (world, client, permits) = (world.clone(), client.clone(), permits.clone());
                let (request, body, want) = (request.clone(), body.clone(), expected[index]);
                probes.spawn(async move {
                    let _permit = permits.acquire().await.expect("permit");
                    // A probe that ends its session gets one of its own.
                    let own = match &world.accounts[index] {
                        Some((username, password)) if ENDS_SESSION.contains(&row.op) => Some(
                            Session::login(&world.url, username, password)
                                .await
                                .expect("a session of its own")
                                .token,
                        ),
                        _ => None,
                    };
                    let token = own.as_deref().or(world.tokens[index].as_deref());
                    let (status, text) =
                        probe(&client, &world.url, token, &request, body.as_deref()).await;
                    let got = Class::of(status);
                    (got != Some(want)).then(|| {
                        format!(
                            "  {} [{side}] as {role}: expected {}, got {status} {text}\n    ({request})",
                            row.op,
                            want.name()
                        )
                    })
                });
            }
        }
    }
    let mut wrong = Vec::new();
    let mut asked = 0;
    while let Some(result) = probes.join_next().await {
        asked += 1;
        if let Some(line) = result.expect("a probe") {
            wrong.push(line);
        }
    }
    // What `GET /me` tells the console each role may do is what the routes allow.
    for (index, role) in ROLES.iter().enumerate() {
        let Some(token) = world.tokens[index].as_deref() else {
            continue;
        };
        let me: serde_json::Value = client
            .get(format!("{}/api/v1/me", world.url))
            .bearer_auth(token)
            .send()
            .await
            .expect("an answer")
            .json()
            .await
            .expect("JSON");
        let listed = |name: &str| {
            me["capabilities"]
                .as_array()
                .is_some_and(|all| all.iter().any(|c| c == name))
        };
        for (capability, op) in CAPABILITY_ROWS {
            let row = MATRIX
                .iter()
                .find(|row| row.op == *op)
                .expect("a capability's row is in the matrix");
            let allowed = classes(row.inside, row.op)[index] == Class::Passed;
            if listed(capability) != allowed {
                wrong.push(format!(
                    "  GET /api/v1/me as {role}: capability {capability} is {}, but {op} is {}",
                    if listed(capability) {
                        "listed"
                    } else {
                        "not listed"
                    },
                    if allowed { "allowed" } else { "refused" },
                ));
            }
        }
    }
    wrong.sort();
    assert!(
        wrong.is_empty(),
        "{} of {asked} answers are not what the matrix says:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}
