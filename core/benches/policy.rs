//! Microseconds per policy call, for each hook, on the shipped rules: `cargo bench -p hcp-core
//! --bench policy`. Each call is the whole path a caller pays for: input → script map, the Rhai
//! call under every limit, output checks and (for deadlines) the calendar.
//!
//! The inputs are the first data case of each `rules/default/tests/<hook>.json`, so the numbers
//! follow the shipped policies. Without `--bench` (as under `cargo test --all-targets`) it runs a
//! few iterations only, as a smoke test.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hcp_core::calendar::Calendar;
use hcp_core::policy::{DeadlineInput, Hook, Limits, PolicySet};

fn main() {
    let full = std::env::args().any(|arg| arg == "--bench");
    let iterations: u32 = if full { 20_000 } else { 50 };
    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules");
    let calendar = Arc::new(Calendar::load_dir(&rules.join("calendar")).unwrap());

    let started = Instant::now();
    let set = PolicySet::load(&rules, calendar.clone(), Limits::default()).unwrap();
    println!(
        "load + compile + contract checks of rules/: {:>8.0} µs",
        micros(started.elapsed(), 1)
    );

    for (hook, county) in [
        (Hook::Deadline, "410402"),
        (Hook::Deadline, "410421"),
        (Hook::Routing, "410402"),
        (Hook::Assessment, "410402"),
        (Hook::Assessment, "410482"),
        (Hook::Veto, "410402"),
        (Hook::Invitation, "410402"),
        (Hook::DefaultRating, "410402"),
        (Hook::Integrity, "410402"),
    ] {
        let input = first_input(&rules, hook);
        // Warm up caches and the allocator before timing.
        for _ in 0..iterations / 10 + 1 {
            black_box(set.eval(hook, county, &input).unwrap());
        }
        let started = Instant::now();
        for _ in 0..iterations {
            black_box(set.eval(hook, county, black_box(&input)).unwrap());
        }
        println!(
            "{:<15} county {county} ({:<7}) {:>8.2} µs/call",
            hook.name(),
            set.scope_for(hook, county),
            micros(started.elapsed(), iterations)
        );
    }

    // The typed wrapper skips the JSON → input parse that `eval` does.
    let typed: DeadlineInput = serde_json::from_value(first_input(&rules, Hook::Deadline)).unwrap();
    let started = Instant::now();
    for _ in 0..iterations {
        black_box(set.deadline("410402", black_box(&typed)).unwrap());
    }
    println!(
        "deadline typed  county 410402 (default) {:>8.2} µs/call",
        micros(started.elapsed(), iterations)
    );

    // For scale: the calendar arithmetic alone, five phases.
    let started = Instant::now();
    for _ in 0..iterations {
        for amount in [1, 2, 15, 17, 3] {
            black_box(
                calendar
                    .due(
                        typed.received_at,
                        amount,
                        hcp_core::calendar::DurationUnit::WorkingDays,
                    )
                    .unwrap(),
            );
        }
    }
    println!(
        "calendar only, five due instants        {:>8.2} µs/call",
        micros(started.elapsed(), iterations)
    );
}

fn first_input(rules: &Path, hook: Hook) -> serde_json::Value {
    let path = rules.join(format!("default/tests/{}.json", hook.name()));
    let cases: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    cases
        .into_iter()
        .find(|case| case.get("expect").is_some())
        .and_then(|case| case.get("input").cloned())
        .unwrap()
}

fn micros(elapsed: Duration, iterations: u32) -> f64 {
    elapsed.as_secs_f64() * 1e6 / f64::from(iterations)
}
