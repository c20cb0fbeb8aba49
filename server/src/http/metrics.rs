//! Request counters and the Prometheus text exposition of `/metrics`.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::app::platform::Platform;

/// Middleware: counts every request by its route template (never the raw path, which would let
/// callers create unbounded label values).
pub async fn track(State(platform): State<Platform>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let method = method_label(request.method());
    let started = Instant::now();
    let response = next.run(request).await;
    platform.telemetry.observe(
        method,
        &route,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

/// A request's method as a label: the methods of HTTP, `other` for anything a caller made up
/// (a label value is kept for the life of the process, so callers must not choose it).
fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}

fn gauge(out: &mut String, name: &str, help: &str, kind: &str, value: impl std::fmt::Display) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
    );
}

/// Renders every metric. Blocking (reads store counters).
pub fn render(platform: &Platform) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# HELP hcp_http_requests_total HTTP requests by route and status.\n# TYPE hcp_http_requests_total counter"
    );
    let mut durations = String::new();
    if let Ok(requests) = platform.telemetry.requests() {
        for ((method, route, status), (count, seconds)) in requests.iter() {
            let labels = format!("method=\"{method}\",route=\"{route}\",status=\"{status}\"");
            let _ = writeln!(out, "hcp_http_requests_total{{{labels}}} {count}");
            let _ = writeln!(
                durations,
                "hcp_http_request_seconds_total{{{labels}}} {seconds:.6}"
            );
        }
    }
    let _ = writeln!(
        out,
        "# HELP hcp_http_request_seconds_total Time spent serving requests.\n# TYPE hcp_http_request_seconds_total counter\n{durations}# HELP hcp_ingest_items_total Ingested items by outcome.\n# TYPE hcp_ingest_items_total counter"
    );
    let metrics = &platform.telemetry;
    let workers = metrics.workers();
    if !workers.is_empty() {
        let _ = writeln!(
            out,
            "# HELP hcp_worker_running Whether this node runs the background worker now (1) or leaves it to another node of its partition (0).\n# TYPE hcp_worker_running gauge"
        );
        for (worker, running) in workers {
            let _ = writeln!(
                out,
                "hcp_worker_running{{worker=\"{worker}\"}} {}",
                u8::from(running)
            );
        }
    }
    for (outcome, counter) in [
        ("recorded", &metrics.ingest_recorded),
        ("duplicate", &metrics.ingest_duplicate),
        ("rejected", &metrics.ingest_rejected),
    ] {
        let _ = writeln!(
            out,
            "hcp_ingest_items_total{{outcome=\"{outcome}\"}} {}",
            counter.load(Ordering::Relaxed)
        );
    }
    let stats = platform.store.stats();
    gauge(
        &mut out,
        "hcp_store_commit_batches_total",
        "Group commits (one flush each).",
        "counter",
        stats.batches.load(Ordering::Relaxed),
    );
    gauge(
        &mut out,
        "hcp_store_commit_commands_total",
        "Commands applied by the committer.",
        "counter",
        stats.commands.load(Ordering::Relaxed),
    );
    gauge(
        &mut out,
        "hcp_store_flush_seconds_total",
        "Time spent in flushes.",
        "counter",
        format!(
            "{:.6}",
            stats.flush_micros.load(Ordering::Relaxed) as f64 / 1e6
        ),
    );
    let _ = writeln!(
        out,
        "# HELP hcp_store_commit_phase_seconds_total Committer time by phase of a batch (decide, log, project, policy, follow_ups; transaction is all of them and sled's commit).\n# TYPE hcp_store_commit_phase_seconds_total counter"
    );
    for phase in hcp_core::store::CommitPhase::ALL {
        let _ = writeln!(
            out,
            "hcp_store_commit_phase_seconds_total{{phase=\"{}\"}} {:.6}",
            phase.name(),
            stats.phase(phase) as f64 / 1e6
        );
    }
    if let Some((age, trees)) = platform.telemetry.tree_stats(&platform.store) {
        let _ = writeln!(
            out,
            "# HELP hcp_store_tree_entries Entries of each tree of the store, as of the last walk.\n# TYPE hcp_store_tree_entries gauge"
        );
        for tree in &trees {
            let _ = writeln!(
                out,
                "hcp_store_tree_entries{{tree=\"{}\"}} {}",
                tree.name, tree.entries
            );
        }
        let _ = writeln!(
            out,
            "# HELP hcp_store_tree_bytes Bytes of the keys and values of each tree (before sled's page overhead), as of the last walk.\n# TYPE hcp_store_tree_bytes gauge"
        );
        for tree in &trees {
            let _ = writeln!(
                out,
                "hcp_store_tree_bytes{{tree=\"{}\",part=\"key\"}} {}\nhcp_store_tree_bytes{{tree=\"{}\",part=\"value\"}} {}",
                tree.name, tree.key_bytes, tree.name, tree.value_bytes
            );
        }
        gauge(
            &mut out,
            "hcp_store_tree_stats_age_seconds",
            "Age of the tree figures (walked again in the background when older than 15 minutes).",
            "gauge",
            age.as_secs(),
        );
    }
    use hcp_core::store::EventLog as _;
    gauge(
        &mut out,
        "hcp_store_log_head",
        "Sequence number of the last log entry.",
        "gauge",
        platform.store.head().unwrap_or(0),
    );
    gauge(
        &mut out,
        "hcp_store_ratings",
        "Stored ratings.",
        "gauge",
        platform.store.rating_count(),
    );
    gauge(
        &mut out,
        "hcp_store_size_bytes",
        "Size of the sled files.",
        "gauge",
        platform.store.size_on_disk(),
    );
    render_calendar(&mut out, platform);
    render_coverage(&mut out, platform);
    render_rejections(&mut out, platform);
    let cache = &platform.public_cache;
    let _ = write!(
        out,
        "# HELP hcp_public_answers_total Answers of the public disclosure, served from the cache (hit) or computed (miss).\n# TYPE hcp_public_answers_total counter\nhcp_public_answers_total{{result=\"hit\"}} {}\nhcp_public_answers_total{{result=\"miss\"}} {}\n",
        cache.hits.load(Ordering::Relaxed),
        cache.computed.load(Ordering::Relaxed)
    );
    render_plugins(&mut out, platform);
    render_rules(&mut out, platform);
    render_loop(&mut out, platform);
    render_uplink(&mut out, platform);
    out
}

/// The working-day calendar: its last official year, the alarm for a missing table, and the
/// provisional timing in force (as counted by the last sweep).
fn render_calendar(out: &mut String, platform: &Platform) {
    let calendar = platform.calendar();
    let status = platform.policies.status().calendar;
    gauge(
        out,
        "hcp_calendar_last_year",
        "Last year with an official holiday table.",
        "gauge",
        calendar.last_year(),
    );
    gauge(
        out,
        "hcp_calendar_table_missing",
        "1 when a holiday table that should be loaded by now is not (this year's, or from 1 November next year's).",
        "gauge",
        u8::from(status.missing_table.is_some()),
    );
    gauge(
        out,
        "hcp_calendar_missing_year",
        "The year whose official holiday table is missing (0 when none is).",
        "gauge",
        status.missing_table.unwrap_or(0),
    );
    gauge(
        out,
        "hcp_order_phases_provisional",
        "Work-order phases timed on a provisional year, as of the last sweep.",
        "gauge",
        status.timing.provisional_phases,
    );
    gauge(
        out,
        "hcp_order_phases_awaiting_table",
        "Work-order phases waiting untimed for a holiday table, as of the last sweep.",
        "gauge",
        status.timing.awaiting_phases,
    );
    gauge(
        out,
        "hcp_escalations_held_provisional",
        "督办 and 通报 held back by the last sweep because their instant is provisional.",
        "gauge",
        status.timing.held_escalations,
    );
}

/// 应接尽接 for the root region and each county: expected sources and those connected, and
/// each expected source that is silent.
fn render_coverage(out: &mut String, platform: &Platform) {
    let today = hcp_core::calendar::local_date(platform.clock.now());
    let Ok(Some(root)) = platform.root_unit() else {
        return;
    };
    let mut regions = vec![root.clone()];
    if let Ok(units) = platform.store.org_units() {
        regions.extend(
            units
                .into_iter()
                .filter(|unit| {
                    unit.kind == hcp_core::model::OrgKind::County
                        && unit.parent.as_deref() == Some(root.as_str())
                })
                .map(|unit| unit.id),
        );
    }
    let mut expected = String::new();
    let mut connected = String::new();
    let mut silent = String::new();
    for region in &regions {
        let Ok(coverage) = crate::app::coverage::region_coverage(
            platform,
            region,
            crate::app::coverage::recent(today, 7),
            today,
            today,
        ) else {
            continue;
        };
        let _ = writeln!(
            expected,
            "hcp_sources_expected{{region=\"{region}\"}} {}",
            coverage.connected.denominator
        );
        let _ = writeln!(
            connected,
            "hcp_sources_connected{{region=\"{region}\"}} {}",
            coverage.connected.numerator
        );
        if region == &root {
            for source in coverage.sources.iter().filter(|s| s.expected) {
                let _ = writeln!(
                    silent,
                    "hcp_source_silent{{source=\"{}\"}} {}",
                    source.id,
                    u8::from(!source.connected)
                );
            }
        }
    }
    let _ = write!(
        out,
        "# HELP hcp_sources_expected Business systems and device fleets expected to report (应接尽接), by region.\n# TYPE hcp_sources_expected gauge\n{expected}\
         # HELP hcp_sources_connected Expected sources that delivered within [coverage] silent_after_working_days working days, by region.\n# TYPE hcp_sources_connected gauge\n{connected}\
         # HELP hcp_source_silent 1 when an expected source has been silent for longer than allowed.\n# TYPE hcp_source_silent gauge\n{silent}"
    );
}

/// Refused payloads kept for replay per source, and those evicted past
/// `[limits] kept_rejections_per_source` (oldest first).
fn render_rejections(out: &mut String, platform: &Platform) {
    let Ok(sources) = platform.store.kept_rejections() else {
        return;
    };
    let mut kept = String::new();
    let mut evicted = String::new();
    for source in sources {
        let _ = writeln!(
            kept,
            "hcp_rejections_kept{{source=\"{}\"}} {}",
            source.source, source.kept
        );
        let _ = writeln!(
            evicted,
            "hcp_rejections_evicted_total{{source=\"{}\"}} {}",
            source.source, source.evicted
        );
    }
    let _ = write!(
        out,
        "# HELP hcp_rejections_kept Refused payloads kept (sealed) for replay, by source.\n# TYPE hcp_rejections_kept gauge\n{kept}\
         # HELP hcp_rejections_evicted_total Kept payloads evicted, oldest first, because their source kept more than its cap.\n# TYPE hcp_rejections_evicted_total counter\n{evicted}"
    );
}

/// The provincial uplink: lag, the batch in flight and its failed sends, refused records.
fn render_uplink(out: &mut String, platform: &Platform) {
    use hcp_core::store::EventLog as _;
    let store = &platform.store;
    let Ok(state) = store.uplink_state() else {
        return;
    };
    let head = store.head().unwrap_or(state.cursor);
    gauge(
        out,
        "hcp_uplink_lag_entries",
        "Log entries not yet settled with the provincial platform.",
        "gauge",
        head.saturating_sub(state.cursor),
    );
    gauge(
        out,
        "hcp_uplink_in_flight_attempts",
        "Failed sends of the batch waiting for the province's answer (0 when none waits).",
        "gauge",
        state.in_flight.as_ref().map_or(0, |flight| flight.attempts),
    );
    gauge(
        out,
        "hcp_uplink_records_accepted_total",
        "Records the provincial platform accepted.",
        "counter",
        state.records_accepted,
    );
    gauge(
        out,
        "hcp_uplink_refused_records",
        "Records refused by the province (or not sent) waiting for a replay or a dismissal.",
        "gauge",
        store.uplink_refused().map_or(0, |refused| refused.len()),
    );
}

/// The closed loop: open orders by state, overdue phases, unanswered escalations, messages
/// waiting for the gateway.
fn render_loop(out: &mut String, platform: &Platform) {
    use hcp_core::workflow::FlagKind;
    let Ok(orders) = platform.store.open_orders() else {
        return;
    };
    let now = platform.clock.now();
    let mut by_state: std::collections::BTreeMap<String, u64> = Default::default();
    let mut overdue = 0u64;
    let mut real_name_overdue = 0u64;
    let mut supervised = 0u64;
    let mut noticed = 0u64;
    let mut untimed = 0u64;
    for order in &orders {
        let state = serde_json::to_value(order.state)
            .ok()
            .and_then(|value| value.as_str().map(String::from))
            .unwrap_or_default();
        *by_state.entry(state).or_default() += 1;
        let late = order.deadlines.iter().any(|d| {
            d.phase != hcp_core::policy::PhaseKind::Appeal && d.done_at.is_none() && now >= d.due
        });
        overdue += u64::from(late);
        real_name_overdue += u64::from(late && order.real_name);
        let flagged = |kind| {
            order
                .deadlines
                .iter()
                .any(|d| d.done_at.is_none() && d.raised(kind))
        };
        supervised += u64::from(flagged(FlagKind::Supervision));
        noticed += u64::from(flagged(FlagKind::Notice));
        untimed += u64::from(order.deadline_error.is_some());
    }
    let _ = writeln!(
        out,
        "# HELP hcp_orders_open Open work orders by state.\n# TYPE hcp_orders_open gauge"
    );
    for (state, count) in &by_state {
        let _ = writeln!(out, "hcp_orders_open{{state=\"{state}\"}} {count}");
    }
    gauge(
        out,
        "hcp_orders_overdue",
        "Open orders with a phase past its due instant.",
        "gauge",
        overdue,
    );
    gauge(
        out,
        "hcp_orders_real_name_overdue",
        "Open real-name orders with a phase past its due instant (the target is 0).",
        "gauge",
        real_name_overdue,
    );
    gauge(
        out,
        "hcp_orders_supervised",
        "Open orders with an unfinished phase under 督办.",
        "gauge",
        supervised,
    );
    gauge(
        out,
        "hcp_orders_noticed",
        "Open orders with an unfinished phase under 通报.",
        "gauge",
        noticed,
    );
    gauge(
        out,
        "hcp_orders_without_deadlines",
        "Open orders whose deadline policy failed (a missing holiday table, a failing rule).",
        "gauge",
        untimed,
    );
    if let Ok(pending) = platform.store.pending_messages() {
        gauge(
            out,
            "hcp_messages_pending",
            "Messages waiting for the SMS gateway.",
            "gauge",
            pending.len(),
        );
    }
}

/// Per adapter: calls, faults, quarantine, and which version and build is active.
fn render_plugins(out: &mut String, platform: &Platform) {
    let statuses = platform.plugins.status();
    let now = platform.clock.now();
    let families = [
        (
            "hcp_plugin_calls_total",
            "counter",
            "Calls into an adapter that ran.",
        ),
        (
            "hcp_plugin_failures_total",
            "counter",
            "Calls that ended in an adapter fault (trap, limit).",
        ),
        (
            "hcp_plugin_quarantined",
            "gauge",
            "1 while the adapter is quarantined.",
        ),
        (
            "hcp_plugin_info",
            "gauge",
            "The active build of each adapter (always 1).",
        ),
    ];
    for (name, kind, help) in families {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for status in &statuses {
            let id = &status.id;
            let value = match name {
                "hcp_plugin_calls_total" => status.calls,
                "hcp_plugin_failures_total" => status.failures,
                "hcp_plugin_quarantined" => {
                    u64::from(status.quarantined_until.is_some_and(|until| until > now))
                }
                _ => {
                    let _ = writeln!(
                        out,
                        "{name}{{plugin=\"{id}\",version=\"{}\",sha256=\"{}\"}} 1",
                        status.version, status.sha256
                    );
                    continue;
                }
            };
            let _ = writeln!(out, "{name}{{plugin=\"{id}\"}} {value}");
        }
    }
    gauge(
        out,
        "hcp_plugin_load_failures",
        "Adapter files whose last installation failed.",
        "gauge",
        platform.plugins.load_failures().len(),
    );
}

/// The rules lifecycle: which version serves, reloads, refusals.
fn render_rules(out: &mut String, platform: &Platform) {
    let status = platform.policies.status();
    let _ = writeln!(
        out,
        "# HELP hcp_rules_info The active rules version (always 1).\n# TYPE hcp_rules_info gauge\nhcp_rules_info{{version=\"{}\"}} 1",
        status.active_version
    );
    gauge(
        out,
        "hcp_rules_reloads_total",
        "Reloads attempted after a change of the rules folder.",
        "counter",
        status.reloads,
    );
    gauge(
        out,
        "hcp_rules_failed_reloads_total",
        "Candidates refused (compile, contract or tests).",
        "counter",
        status.failed_reloads,
    );
    gauge(
        out,
        "hcp_rules_error",
        "1 while the last candidate was refused.",
        "gauge",
        u8::from(status.last_error.is_some()),
    );
    if let Some(at) = status.activated_at {
        gauge(
            out,
            "hcp_rules_activated_timestamp_seconds",
            "When the active version was activated.",
            "gauge",
            at.timestamp(),
        );
    }
}
