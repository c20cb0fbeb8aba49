//! Assessment: the metrics of every unit of a kind under a region for a period, scored and vetoed
//! by the county policies, ranked by the engine; frozen runs; the names of the units assessed.
//! The API, the reports and `hcp` all assess through here.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use hcp_core::assessment::{self, AssessmentRun, Candidate, Period};
use hcp_core::auth::Principal;
use hcp_core::model::OrgKind;
use hcp_core::policy::PolicySet;
use hcp_core::store::{Command, Dim, LoopCommand, Store, county_of};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::{AppError, Platform};

/// The wire name of a dimension (`department`), as query strings and assessment runs carry it.
pub fn dim_name(dim: Dim) -> String {
    serde_json::to_value(dim)
        .ok()
        .and_then(|value| value.as_str().map(String::from))
        .unwrap_or_default()
}

/// The name of a unit, item or staff member; its id when it has none. Blocking.
pub fn unit_name(store: &Store, dim: Dim, unit: &str) -> Result<String, AppError> {
    Ok(match dim {
        Dim::Staff => store.staff(unit)?.map(|staff| staff.name),
        Dim::Item => store.item(unit)?.map(|item| item.name),
        _ => store.org_unit(unit)?.map(|unit| unit.name),
    }
    .unwrap_or_else(|| unit.to_string()))
}

/// [`unit_name`]s, read once each (a report or an analysis names the same units many times).
/// Blocking.
pub struct Names<'a> {
    store: &'a Store,
    known: HashMap<(Dim, String), String>,
}

impl<'a> Names<'a> {
    pub fn new(store: &'a Store) -> Names<'a> {
        Names {
            store,
            known: HashMap::new(),
        }
    }

    /// The [`unit_name`] of `id`.
    pub fn of(&mut self, dim: Dim, id: &str) -> Result<String, AppError> {
        let key = (dim, id.to_string());
        if let Some(name) = self.known.get(&key) {
            return Ok(name.clone());
        }
        let name = unit_name(self.store, dim, id)?;
        self.known.insert(key, name.clone());
        Ok(name)
    }
}

/// The units of a kind under a region: `(dim, id, name, county)`. Blocking.
pub fn units_under(
    platform: &Platform,
    scope: &str,
    of: Dim,
) -> Result<Vec<(Dim, String, String, String)>, AppError> {
    let store = &platform.store;
    let county = |id: &str| -> Result<String, AppError> {
        let regions = store.ancestors(of, id)?;
        Ok(regions
            .iter()
            .find(|code| code.len() >= 6 && code.bytes().all(|b| b.is_ascii_digit()))
            .map(|code| county_of(code))
            .unwrap_or_else(|| county_of(scope)))
    };
    let mut units = Vec::new();
    match of {
        Dim::Staff => {
            for staff in store.staff_list()? {
                if store.within(Dim::Staff, &staff.id, scope)? {
                    units.push((of, staff.id.clone(), staff.name, county(&staff.id)?));
                }
            }
        }
        Dim::Item => {
            for item in store.items()? {
                if store.within(Dim::Item, &item.task_code, scope)? {
                    units.push((
                        of,
                        item.task_code.clone(),
                        item.name,
                        county(&item.task_code)?,
                    ));
                }
            }
        }
        _ => {
            for unit in store.org_units()? {
                let kind_matches = match of {
                    Dim::Region => unit.kind.is_region() && unit.parent.as_deref() == Some(scope),
                    Dim::Hall => matches!(unit.kind, OrgKind::Hall | OrgKind::ServicePoint),
                    Dim::Department => unit.kind == OrgKind::Department,
                    Dim::Window => unit.kind == OrgKind::Window,
                    Dim::Staff | Dim::Item => false,
                };
                if kind_matches && unit.id != scope && store.within(Dim::Region, &unit.id, scope)? {
                    units.push((of, unit.id.clone(), unit.name, county(&unit.id)?));
                }
            }
        }
    }
    units.sort_by(|a, b| a.1.cmp(&b.1));
    Ok(units)
}

/// Assesses every unit of a kind under `scope` for a period with the rules `set` (callers
/// pass `platform.policies.active()`; a report passes one set to all its rankings), reading the
/// orders' state as of `as_of` (`POST /api/v1/assessments` passes the platform clock's now).
/// Blocking.
pub fn assess(
    platform: &Platform,
    set: &PolicySet,
    period: &str,
    unit_kind: Dim,
    scope: &str,
    as_of: DateTime<Utc>,
) -> Result<AssessmentRun, AppError> {
    let Period { from, to } = Period::parse(period).map_err(AppError::BadRequest)?;
    let units = units_under(platform, scope, unit_kind)?;
    let keys: Vec<(Dim, String)> = units
        .iter()
        .map(|(dim, id, ..)| (*dim, id.clone()))
        .collect();
    let metrics = platform
        .store
        .unit_metrics(&keys, from, to, as_of, &platform.metric_settings)?;
    let candidates = units
        .into_iter()
        .zip(metrics)
        .map(|((_, unit, name, county), metrics)| Candidate {
            unit,
            name,
            county,
            metrics,
        })
        .collect();
    let kind = dim_name(unit_kind);
    let units = assessment::assess(set, period, &kind, candidates);
    Ok(AssessmentRun {
        period: period.to_string(),
        from,
        to,
        unit_kind: kind,
        scope: scope.to_string(),
        as_of,
        rules_version: set.version().to_string(),
        calendar_version: platform.calendar().version(),
        settings: platform.metric_settings.clone(),
        units,
    })
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RunView {
    /// Log sequence number of the frozen run, when frozen.
    pub frozen: Option<u64>,
    #[serde(flatten)]
    pub run: AssessmentRun,
}

/// A signed-in user's assessment run of the units of a kind under `scope` (default: their own,
/// which it must lie within) for a period, with the active rules as of now; recorded as
/// published when `freeze`, after which later edits of rules or data never change it. Only the
/// scope's owner publishes ([`crate::app::scope::Scope::ensure_run_owner`]), and only a period
/// that has ended (China time): a period still running is 422 `period_not_ended`. Blocking.
pub fn run_assessment(
    platform: &Platform,
    principal: &Principal,
    period: &str,
    unit_kind: Dim,
    scope: Option<String>,
    freeze: bool,
) -> Result<RunView, AppError> {
    let scope = scope.unwrap_or_else(|| principal.scope.clone());
    let guard = platform.scope();
    guard.ensure_unit(principal, Dim::Region, &scope)?;
    if freeze {
        guard.ensure_run_owner(principal, &scope)?;
        let Period { to, .. } = Period::parse(period).map_err(AppError::BadRequest)?;
        let today = hcp_core::calendar::local_date(platform.clock.now());
        if to >= today {
            return Err(AppError::Unprocessable(hcp_core::validate::Reason {
                code: "period_not_ended".into(),
                message: format!(
                    "{} ends on {to}: a run is published (frozen) only for a period that has \
                     ended; run it without `freeze` to see it now",
                    period.trim()
                ),
            }));
        }
    }
    let run = assess(
        platform,
        &platform.policies.active(),
        period,
        unit_kind,
        &scope,
        platform.clock.now(),
    )?;
    let frozen = if freeze {
        Some(
            platform.record(Command::Loop(LoopCommand::FreezeAssessment {
                actor: principal.username.clone(),
                run: Box::new(run.clone()),
            }))?,
        )
    } else {
        None
    };
    Ok(RunView { frozen, run })
}

/// The published (frozen) run the public sees of a kind of unit (`department`, `hall`): the
/// last frozen of `scope`, by default the root of the org tree (so that no region's own run
/// stands in for the city's), for `period`, by default whichever was published last. Blocking.
pub fn published_run(
    platform: &Platform,
    unit_kind: &str,
    period: Option<&str>,
    scope: Option<&str>,
) -> Result<Option<AssessmentRun>, AppError> {
    let scope = match scope {
        Some(scope) => scope.to_string(),
        None => match platform.root_unit()? {
            Some(root) => root,
            None => return Ok(None),
        },
    };
    Ok(platform
        .store
        .frozen_assessments()?
        .into_iter()
        .filter(|(_, run)| {
            run.unit_kind == unit_kind
                && run.scope == scope
                && period.is_none_or(|period| run.period.trim() == period)
        })
        .max_by_key(|(seq, _)| *seq)
        .map(|(_, run)| run))
}
