//! What a signed-in caller may do, named for clients (the console shows a screen or a button
//! only when its capability is listed). The server stays the authority: every route checks its
//! own rule, and this list is kept equal to those rules by the RBAC end-to-end test, which
//! compares it with what each role is actually allowed.

use hcp_core::auth::{Permission, Principal, Role};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::AppError;
use super::platform::Platform;

/// The signed-in user, where their scope sits, and what they may do.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Me {
    #[serde(flatten)]
    pub principal: Principal,
    /// Name of the scope's org unit (`平顶山市`, `宝丰县`).
    pub scope_name: String,
    /// Whether the scope is the root of the org tree (city-wide acts need it).
    pub root: bool,
    /// Whether the platform runs on the manual clock (simulations, tests).
    pub manual_clock: bool,
    /// What the caller may do, by name (see [`capabilities`]).
    pub capabilities: Vec<String>,
}

/// The capabilities of `role` scoped at the root (`root`) or below it. Each mirrors the check
/// of the routes it names.
pub fn capabilities(role: Role, root: bool) -> Vec<&'static str> {
    use Role::*;
    let mut out = Vec::new();
    let mut grant = |name: &'static str, when: bool| {
        if when {
            out.push(name);
        }
    };
    let reads = role.allows(Permission::ReadRatings);
    // GET /ratings, /cases, /rollups, /stats, /orders, /analysis/*
    grant("read", reads);
    // Live counters of today (window staff see results up to yesterday only).
    grant("live", reads && role.sees_live_ratings());
    // POST /orders/{id}/actions: accept … close, answer.
    grant("orders.work", matches!(role, DepartmentHandler | Admin));
    // POST /orders/{id}/actions: appeal.
    grant(
        "orders.appeal",
        matches!(role, DepartmentHandler | WindowStaff),
    );
    // POST /orders/{id}/actions: decide_transfer.
    grant("orders.transfer", matches!(role, Supervisor | Admin));
    // POST /orders/{id}/actions: decide_appeal.
    grant("appeals.decide", role == Reviewer);
    // GET /calls; POST /orders/{id}/actions: callback.
    grant(
        "calls.read",
        matches!(role, CallbackAgent | Supervisor | Admin),
    );
    grant("callbacks", matches!(role, CallbackAgent | Admin));
    // POST /ratings/{id}/reveal
    grant("reveal", role.allows(Permission::RevealEvaluator));
    // POST /ratings/{id}/moderation
    grant("moderate", role == Reviewer);
    // GET /problems
    grant("problems.read", reads && role != WindowStaff);
    // POST /problems (confirm a proposal)
    grant("problems.confirm", matches!(role, Supervisor | Admin));
    // POST /problems/{id}/resolve
    grant(
        "problems.resolve",
        matches!(role, Supervisor | Admin | DepartmentHandler),
    );
    // POST /assessments, GET /assessments
    grant("assessment", matches!(role, Supervisor | Admin));
    // POST /reports/*
    grant("reports", matches!(role, Supervisor | Admin));
    // GET /messages
    grant("messages", matches!(role, Supervisor | Admin));
    // GET /rules/*; POST /rules/eval
    grant("rules.read", reads || matches!(role, RuleEditor | Admin));
    // PUT /rules/files, POST /rules/simulate, /rules/rollback, /rules/test, /rules/what-if
    grant("rules.edit", matches!(role, RuleEditor | Admin));
    // GET /admin/users, /admin/sources; POST /admin/master, /admin/users, /admin/sources
    grant("admin", role == Admin);
    // GET /audit
    grant("audit", role.allows(Permission::ReadAudit));
    // GET /devices, /devices/online-rate, /coverage/sources (adapters: `admin`)
    grant("devices", reads);
    // POST/DELETE /admin/plugins, device models
    grant("adapters.manage", role == Admin && root);
    // GET /admin/uplink
    grant("uplink.read", matches!(role, Supervisor | Admin));
    // POST /admin/uplink/run, /admin/uplink/reconcile
    grant("uplink.run", role == Admin && root);
    // POST /privacy/sweep, /privacy/erasures: a key destroyed is gone for the whole city
    grant("privacy.erase", role == Admin && root);
    // POST /admin/sweep
    grant("sweep", matches!(role, Supervisor | Admin) && root);
    // The hall display of today's aggregate satisfaction: live figures of a hall, so not for
    // window staff (results up to yesterday) nor a department's handler (no hall in scope).
    grant(
        "hall_screen",
        reads && role.sees_live_ratings() && role != DepartmentHandler,
    );
    out
}

/// The caller as the console sees them. Blocking (reads the org tree).
pub fn me(platform: &Platform, principal: &Principal) -> Result<Me, AppError> {
    let unit = platform.store.org_unit(&principal.scope)?;
    let root = unit.as_ref().is_some_and(|unit| unit.parent.is_none());
    Ok(Me {
        principal: principal.clone(),
        scope_name: unit.map(|unit| unit.name).unwrap_or_default(),
        root,
        manual_clock: platform.manual_clock.is_some(),
        capabilities: capabilities(principal.role, root)
            .into_iter()
            .map(String::from)
            .collect(),
    })
}
