//! Proposals of systemic problems (从"点办理"到"批处理"): open bad reviews and complaints that
//! share a service item, an evaluation indicator or a problem category, and recur across windows
//! or across weeks, so that a supervisor can confirm them as one problem with one owner and plan.
//!
//! Pure: it reads a slice of orders and proposes; confirming a proposal is the store's
//! `OpenProblem` command. Indicator codes are data (the routing policy maps them to categories),
//! so nothing here knows what a code means; the suggested cause comes from the categories the
//! routing policy gave the orders.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::calendar::local_date;
use crate::workflow::{CauseClass, Order, OrderKind, OrderState};

/// Orders a proposal needs unless the caller asks for another number.
pub const DEFAULT_MIN_ORDERS: usize = 3;

/// Distinct windows, or distinct weeks, that make a shared trait recur rather than coincide.
pub const MIN_SPREAD: usize = 2;

/// Categories that say nothing in common: the routing policy's fallback and answered kinds.
const UNINFORMATIVE_CATEGORIES: [&str; 3] = ["", "other", "suggestion"];

/// What the orders of a proposal share.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum BasisKind {
    /// The same service item (taskCode).
    Item,
    /// The same evaluation indicator code (evalDetail).
    Indicator,
    /// The same problem category, as the routing policy classified the orders.
    Category,
}

impl BasisKind {
    pub fn name(self) -> &'static str {
        match self {
            BasisKind::Item => "item",
            BasisKind::Indicator => "indicator",
            BasisKind::Category => "category",
        }
    }
}

/// Which orders to consider and how many make a proposal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterOptions {
    /// Orders a proposal needs at least (never less than 2).
    pub min_orders: usize,
    /// First day (China time) an order may have been received on.
    pub from: Option<NaiveDate>,
    /// Last day (China time) an order may have been received on.
    pub to: Option<NaiveDate>,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions {
            min_orders: DEFAULT_MIN_ORDERS,
            from: None,
            to: None,
        }
    }
}

/// A cluster of orders a supervisor may confirm as one systemic problem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Proposal {
    /// `item:<taskCode>`, `indicator:<code>` or `category:<category>`; becomes the problem's
    /// `basis` when confirmed.
    pub basis: String,
    pub kind: BasisKind,
    pub value: String,
    /// Other bases shared by exactly the same orders, less highly ranked.
    pub also: Vec<String>,
    /// Order ids, ascending.
    pub orders: Vec<u64>,
    /// Rated windows, sorted.
    pub windows: Vec<String>,
    /// Rated departments, sorted.
    pub departments: Vec<String>,
    /// Responsible units (责任单位), sorted.
    pub units: Vec<String>,
    /// ISO weeks (China time) the orders were received in, `2026-W40`, sorted.
    pub weeks: Vec<String>,
    pub first_received: DateTime<Utc>,
    pub last_received: DateTime<Utc>,
    /// Orders from real-name evaluations (实名差评 must all be rectified on time).
    pub real_name: usize,
    /// A starting point for the supervisor, who decides the cause when confirming.
    pub suggested_cause: CauseClass,
    /// The one responsible unit of every order, when they share one.
    pub suggested_owner: Option<String>,
    /// orders × spread, where spread = windows + weeks − 1: more orders in more places and
    /// more weeks rank higher.
    pub score: u64,
}

/// Whether an order may join a proposal: a bad review or complaint that has not been rectified
/// yet and follows no problem (confirmation links every order of a proposal, and the workflow
/// links only such orders), received within the period.
pub fn eligible(order: &Order, options: &ClusterOptions) -> bool {
    let day = local_date(order.received_at);
    matches!(order.kind, OrderKind::BadReview | OrderKind::Complaint)
        && matches!(
            order.state,
            OrderState::Dispatched
                | OrderState::Accepted
                | OrderState::Verified
                | OrderState::Rectifying
        )
        && order.problem.is_none()
        && options.from.is_none_or(|from| day >= from)
        && options.to.is_none_or(|to| day <= to)
}

/// The cause a category most likely points to. Only a suggestion: a policy, system or
/// environment cause never blames staff, so the supervisor confirms it deliberately.
pub fn cause_of_category(category: &str) -> CauseClass {
    match category {
        "policy" => CauseClass::Policy,
        // Materials asked for again and again (一次性告知 failing) and long waits come from how
        // the service is organised more than from one person.
        "materials" | "waiting" | "process" => CauseClass::Process,
        "system" => CauseClass::System,
        "attitude" => CauseClass::Attitude,
        "environment" | "facilities" => CauseClass::Environment,
        _ => CauseClass::Other,
    }
}

fn iso_week(at: DateTime<Utc>) -> String {
    let week = local_date(at).iso_week();
    format!("{:04}-W{:02}", week.year(), week.week())
}

/// Proposes clusters among `orders`, best first. Orders that are not [`eligible`] are ignored.
/// The result does not depend on the order of the input.
pub fn propose(orders: &[Order], options: &ClusterOptions) -> Vec<Proposal> {
    let min_orders = options.min_orders.max(2);
    let mut groups: BTreeMap<(BasisKind, &str), BTreeMap<u64, &Order>> = BTreeMap::new();
    for order in orders.iter().filter(|order| eligible(order, options)) {
        let mut keys: Vec<(BasisKind, &str)> = Vec::new();
        if !order.task_code.is_empty() {
            keys.push((BasisKind::Item, order.task_code.as_str()));
        }
        for code in &order.indicators {
            if !code.is_empty() {
                keys.push((BasisKind::Indicator, code.as_str()));
            }
        }
        if !UNINFORMATIVE_CATEGORIES.contains(&order.category.as_str()) {
            keys.push((BasisKind::Category, order.category.as_str()));
        }
        for key in keys {
            groups.entry(key).or_default().insert(order.id, order);
        }
    }

    let mut proposals: Vec<Proposal> = groups
        .into_iter()
        .filter_map(|((kind, value), members)| proposal(kind, value, &members, min_orders))
        .collect();
    proposals.sort_by(|left, right| {
        right
            .score
            .cmp(&left.score)
            .then(right.orders.len().cmp(&left.orders.len()))
            .then(left.kind.cmp(&right.kind))
            .then(left.value.cmp(&right.value))
    });

    // The same orders under several bases are one cluster: keep the best-ranked basis and
    // name the others.
    let mut merged: Vec<Proposal> = Vec::new();
    for proposal in proposals {
        match merged
            .iter_mut()
            .find(|kept| kept.orders == proposal.orders)
        {
            Some(kept) => kept.also.push(proposal.basis),
            None => merged.push(proposal),
        }
    }
    merged
}

fn proposal(
    kind: BasisKind,
    value: &str,
    members: &BTreeMap<u64, &Order>,
    min_orders: usize,
) -> Option<Proposal> {
    if members.len() < min_orders {
        return None;
    }
    let windows = sorted(members.values().filter_map(|order| order.window.clone()));
    let weeks = sorted(members.values().map(|order| iso_week(order.received_at)));
    if windows.len() < MIN_SPREAD && weeks.len() < MIN_SPREAD {
        return None;
    }
    let departments = sorted(members.values().map(|order| order.department.clone()));
    let units = sorted(members.values().map(|order| order.unit.clone()));
    let first_received = members.values().map(|order| order.received_at).min()?;
    let last_received = members.values().map(|order| order.received_at).max()?;
    let suggested_cause = match kind {
        BasisKind::Category => cause_of_category(value),
        BasisKind::Item | BasisKind::Indicator => {
            cause_of_category(&dominant_category(members.values().copied()))
        }
    };
    let spread = windows.len().max(1) + weeks.len() - 1;
    let count = members.len();
    Some(Proposal {
        basis: format!("{}:{value}", kind.name()),
        kind,
        value: value.to_string(),
        also: Vec::new(),
        orders: members.keys().copied().collect(),
        suggested_owner: match units.as_slice() {
            [only] => Some(only.clone()),
            _ => None,
        },
        windows,
        departments,
        units,
        weeks,
        first_received,
        last_received,
        real_name: members.values().filter(|order| order.real_name).count(),
        suggested_cause,
        score: u64::try_from(count.saturating_mul(spread)).unwrap_or(u64::MAX),
    })
}

/// Distinct values, sorted.
fn sorted(values: impl Iterator<Item = String>) -> Vec<String> {
    values.collect::<BTreeSet<_>>().into_iter().collect()
}

/// The most frequent informative category among orders (ties: the first by name), or "".
fn dominant_category<'a>(orders: impl Iterator<Item = &'a Order>) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for order in orders {
        if !UNINFORMATIVE_CATEGORIES.contains(&order.category.as_str()) {
            *counts.entry(order.category.as_str()).or_default() += 1;
        }
    }
    let mut best: Option<(&str, usize)> = None;
    for (category, count) in counts {
        if best.is_none_or(|(_, most)| count > most) {
            best = Some((category, count));
        }
    }
    best.map(|(category, _)| category.to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use chrono::TimeZone;

    /// 2026-09-28 (a Monday) plus `days`, 10:00 China time.
    fn day(days: u32) -> DateTime<Utc> {
        crate::calendar::china_tz()
            .with_ymd_and_hms(2026, 9, 28, 10, 0, 0)
            .single()
            .expect("valid")
            .with_timezone(&Utc)
            + chrono::TimeDelta::days(i64::from(days))
    }

    /// An open, dispatched bad review: `id`, window ("" for none), item, indicators, category,
    /// days after the first day. Built from JSON so that fields the proposals never read keep
    /// their defaults.
    fn order(
        id: u64,
        window: &str,
        item: &str,
        indicators: &[&str],
        category: &str,
        on: u32,
    ) -> Order {
        serde_json::from_value(serde_json::json!({
            "id": id,
            "kind": "bad_review",
            "rating_id": id - 1,
            "county": "410421",
            "area_code": "410421",
            "regions": ["410421", "410400"],
            "department": format!("D-{window}"),
            "window": (!window.is_empty()).then_some(window),
            "task_code": item,
            "unit": format!("D-{window}"),
            "category": category,
            "priority": "normal",
            "real_name": id % 2 == 1,
            "level": "dissatisfied",
            "indicators": indicators,
            "text": "",
            "reachable": true,
            "received_at": day(on),
            "opened_at": day(on),
            "state": "dispatched",
            "deadlines": [],
            "notice_after": 2,
            "policy_version": "v",
            "tracking_hash": "",
            "transfers": 0,
            "calls": [],
            "reopened": 0,
            "history": [],
        }))
        .expect("an order")
    }

    fn render(proposal: &Proposal) -> String {
        let mut line = format!(
            "{} orders={:?} windows={} weeks={} real_name={} cause={:?} owner={} score={}",
            proposal.basis,
            proposal.orders,
            proposal.windows.join(","),
            proposal.weeks.join(","),
            proposal.real_name,
            proposal.suggested_cause,
            proposal.suggested_owner.as_deref().unwrap_or("-"),
            proposal.score,
        );
        if !proposal.also.is_empty() {
            line.push_str(&format!(" also={}", proposal.also.join(",")));
        }
        line
    }

    /// Proposes with `options`, and again with the input reversed: both must match `expected`.
    fn check(orders: &[Order], options: &ClusterOptions, expected: &[&str]) {
        let rendered: Vec<String> = propose(orders, options).iter().map(render).collect();
        assert_eq!(rendered, expected, "proposals");
        let mut reversed = orders.to_vec();
        reversed.reverse();
        let again: Vec<String> = propose(&reversed, options).iter().map(render).collect();
        assert_eq!(again, rendered, "independent of the input order");
    }

    #[test]
    fn same_indicator_across_two_windows_is_one_cluster_with_every_shared_basis() {
        let orders = [
            order(2, "W1", "T", &["510"], "waiting", 0),
            order(4, "W2", "T", &["510"], "waiting", 1),
            order(6, "W1", "T", &["510"], "waiting", 2),
        ];
        check(
            &orders,
            &ClusterOptions::default(),
            &[
                "item:T orders=[2, 4, 6] windows=W1,W2 weeks=2026-W40 real_name=0 cause=Process owner=- score=6 also=indicator:510,category:waiting",
            ],
        );
    }

    #[test]
    fn one_window_over_several_weeks_recurs() {
        let orders = [
            order(3, "W1", "T1", &["517"], "system", 0),
            order(5, "W1", "T2", &["517"], "system", 7),
            order(7, "W1", "T3", &["517"], "system", 14),
        ];
        check(
            &orders,
            &ClusterOptions::default(),
            &[
                "indicator:517 orders=[3, 5, 7] windows=W1 weeks=2026-W40,2026-W41,2026-W42 real_name=3 cause=System owner=D-W1 score=9 also=category:system",
            ],
        );
    }

    #[test]
    fn one_window_in_one_week_or_too_few_orders_propose_nothing() {
        let same_place = [
            order(2, "W1", "T", &["501"], "attitude", 0),
            order(4, "W1", "T", &["501"], "attitude", 1),
            order(6, "W1", "T", &["501"], "attitude", 2),
        ];
        check(&same_place, &ClusterOptions::default(), &[]);
        let two = [
            order(2, "W1", "T", &["501"], "attitude", 0),
            order(4, "W2", "T", &["501"], "attitude", 8),
        ];
        check(&two, &ClusterOptions::default(), &[]);
        let options = ClusterOptions {
            min_orders: 2,
            ..ClusterOptions::default()
        };
        check(
            &two,
            &options,
            &[
                "item:T orders=[2, 4] windows=W1,W2 weeks=2026-W40,2026-W41 real_name=0 cause=Attitude owner=- score=6 also=indicator:501,category:attitude",
            ],
        );
        // Asking for a single order still needs two to call anything shared.
        let options = ClusterOptions {
            min_orders: 0,
            ..ClusterOptions::default()
        };
        check(&two[..1], &options, &[]);
    }

    #[test]
    fn orders_that_cannot_join_a_problem_are_left_out() {
        let mut closed = order(8, "W3", "T", &["510"], "waiting", 0);
        closed.state = OrderState::Closed;
        let mut linked = order(10, "W3", "T", &["510"], "waiting", 0);
        linked.problem = Some(1);
        linked.state = OrderState::Rectifying;
        let mut fed_back = order(12, "W3", "T", &["510"], "waiting", 0);
        fed_back.state = OrderState::FeedbackGiven;
        let mut appealing = order(14, "W3", "T", &["510"], "waiting", 0);
        appealing.state = OrderState::Appealing;
        let mut suggestion = order(16, "W3", "T", &["510"], "waiting", 0);
        suggestion.kind = OrderKind::Suggestion;
        let mut complaint = order(18, "", "T", &["510"], "waiting", 0);
        complaint.kind = OrderKind::Complaint;
        complaint.state = OrderState::Verified;
        let orders = [
            order(2, "W1", "T", &["510"], "waiting", 0),
            order(4, "W2", "T", &["510"], "waiting", 0),
            closed,
            linked,
            fed_back,
            appealing,
            suggestion,
            complaint,
        ];
        check(
            &orders,
            &ClusterOptions::default(),
            &[
                "item:T orders=[2, 4, 18] windows=W1,W2 weeks=2026-W40 real_name=0 cause=Process owner=- score=6 also=indicator:510,category:waiting",
            ],
        );
    }

    #[test]
    fn the_period_bounds_the_days_received_in_china_time() {
        let orders = [
            order(2, "W1", "T", &["502"], "materials", 0),
            order(4, "W2", "T", &["502"], "materials", 1),
            order(6, "W1", "T", &["502"], "materials", 2),
            order(8, "W2", "T", &["502"], "materials", 9),
        ];
        let options = ClusterOptions {
            from: Some(NaiveDate::from_ymd_opt(2026, 9, 29).expect("date")),
            to: Some(NaiveDate::from_ymd_opt(2026, 10, 7).expect("date")),
            ..ClusterOptions::default()
        };
        check(
            &orders,
            &options,
            &[
                "item:T orders=[4, 6, 8] windows=W1,W2 weeks=2026-W40,2026-W41 real_name=0 cause=Process owner=- score=9 also=indicator:502,category:materials",
            ],
        );
        let options = ClusterOptions {
            to: Some(NaiveDate::from_ymd_opt(2026, 9, 29).expect("date")),
            ..ClusterOptions::default()
        };
        check(&orders, &options, &[]);
    }

    #[test]
    fn overlapping_clusters_rank_by_orders_times_spread() {
        let orders = [
            // Waiting at the item T across three windows.
            order(2, "W1", "T", &["510"], "waiting", 0),
            order(4, "W2", "T", &["510"], "waiting", 0),
            order(6, "W3", "T", &["510"], "waiting", 1),
            // A system fault across items and weeks at one window; one also waited.
            order(8, "W1", "U", &["517"], "system", 0),
            order(10, "W1", "V", &["517", "510"], "system", 7),
            order(12, "W1", "U", &["517"], "system", 14),
            // Unclassified: never clustered by category.
            order(14, "W2", "X", &[], "other", 0),
            order(16, "W3", "Y", &[], "other", 0),
            order(18, "W1", "Z", &[], "other", 0),
        ];
        check(
            &orders,
            &ClusterOptions::default(),
            &[
                "indicator:510 orders=[2, 4, 6, 10] windows=W1,W2,W3 weeks=2026-W40,2026-W41 real_name=0 cause=Process owner=- score=16",
                "item:T orders=[2, 4, 6] windows=W1,W2,W3 weeks=2026-W40 real_name=0 cause=Process owner=- score=9 also=category:waiting",
                "indicator:517 orders=[8, 10, 12] windows=W1 weeks=2026-W40,2026-W41,2026-W42 real_name=0 cause=System owner=D-W1 score=9 also=category:system",
            ],
        );
    }

    #[test]
    fn causes_follow_the_category_and_policy_never_blames_staff() {
        for (category, cause, blames_staff) in [
            ("policy", CauseClass::Policy, false),
            ("system", CauseClass::System, false),
            ("environment", CauseClass::Environment, false),
            ("materials", CauseClass::Process, true),
            ("waiting", CauseClass::Process, true),
            ("attitude", CauseClass::Attitude, true),
            ("other", CauseClass::Other, true),
        ] {
            assert_eq!(cause_of_category(category), cause, "{category}");
            assert_eq!(cause.blames_staff(), blames_staff, "{category}");
        }
    }
}
