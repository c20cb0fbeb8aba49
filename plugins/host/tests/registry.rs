//! The registry: atomic replacement under concurrent calls, quarantine with backoff on an
//! injected clock, status, and loading a folder of plugins with their signatures.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use common::{HX_PJ200, component, rating_frame};
use ed25519_dalek::{Signer, SigningKey};
use hcp_core::clock::ManualClock;
use hcp_plugins::{Backoff, CallError, HostOptions, Limits, Plugin, PluginHost, Registry};

fn start() -> DateTime<Utc> {
    match DateTime::parse_from_rfc3339("2026-03-10T09:00:00+08:00") {
        Ok(instant) => instant.with_timezone(&Utc),
        Err(error) => panic!("bad test instant: {error}"),
    }
}

fn host_with(limits: Limits) -> PluginHost {
    match PluginHost::new(HostOptions {
        limits,
        ..HostOptions::default()
    }) {
        Ok(host) => host,
        Err(error) => panic!("host does not start: {error}"),
    }
}

fn registry(limits: Limits, backoff: Backoff) -> (Registry, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(start()));
    let registry = Registry::with_clock(host_with(limits), backoff, clock.clone());
    (registry, clock)
}

fn install(registry: &Registry, name: &str) -> Arc<Plugin> {
    match registry.install(&component(name), None, &format!("{name}.wasm")) {
        Ok(plugin) => plugin,
        Err(error) => panic!("{name} refused: {error}"),
    }
}

/// "ok", "malformed", "fault", "quarantined until +Ns": a call's outcome in one word or two.
fn outcome(result: Result<(Arc<Plugin>, Vec<hcp_plugins::Decoded>), CallError>) -> String {
    match result {
        Ok(_) => "ok".to_owned(),
        Err(CallError::Malformed(_)) => "malformed".to_owned(),
        Err(CallError::Quarantined { until, .. }) => {
            format!("quarantined until +{}s", (until - start()).num_seconds())
        }
        Err(error) if error.is_plugin_fault() => "fault".to_owned(),
        Err(error) => format!("other: {error}"),
    }
}

#[test]
fn faults_quarantine_with_doubling_backoff_and_a_success_resets() {
    // hx-pj200 loads with three records per call allowed (its samples fit); four frames are
    // then a plugin fault (output too large), one frame a success, an empty payload malformed.
    let (registry, clock) = registry(
        Limits {
            max_output_items: 3,
            ..Limits::default()
        },
        Backoff {
            threshold: 3,
            initial: Duration::from_secs(10),
            max: Duration::from_secs(40),
        },
    );
    install(&registry, "hx-pj200");
    let four: Vec<u8> = (1..=4).flat_map(rating_frame).collect();
    let one = rating_frame(9);

    // seconds to advance the clock by, payload, expected outcome
    let steps: Vec<(i64, &[u8], &str)> = vec![
        (0, &four, "fault"),
        (0, &four, "fault"),
        // A considered answer is not a fault, and resets the streak.
        (0, b"", "malformed"),
        (0, &four, "fault"),
        (0, &four, "fault"),
        (1, &four, "fault"), // third in a row at +1s: quarantined for 10 s
        (0, &one, "quarantined until +11s"),
        (9, &one, "quarantined until +11s"),
        (1, &four, "fault"), // +11s: runs again, faults, quarantined for 20 s
        (0, &one, "quarantined until +31s"),
        (20, &four, "fault"), // +31s: 40 s
        (40, &four, "fault"), // +71s: 40 s, the maximum
        (0, &four, "quarantined until +111s"),
        (40, &one, "ok"), // +111s: a success ends it all
        (0, &four, "fault"),
        (0, &four, "fault"),
        (0, &four, "fault"), // three faults again: back to 10 s
        (0, &one, "quarantined until +121s"),
    ];
    let mut found = Vec::new();
    let mut expected = Vec::new();
    for (advance, payload, wanted) in steps {
        clock.advance(TimeDelta::seconds(advance));
        found.push(outcome(registry.decode("hx-pj200", HX_PJ200, payload)));
        expected.push(wanted.to_owned());
    }
    assert_eq!(found, expected);

    let status = registry.status();
    assert_eq!(status.len(), 1);
    let status = &status[0];
    // Quarantined calls are refused without running and are not counted.
    assert_eq!(
        (status.calls, status.failures, status.consecutive_failures),
        (13, 11, 3)
    );
    assert_eq!(
        status.quarantined_until,
        Some(start() + TimeDelta::seconds(121))
    );
    assert!(
        status
            .last_error
            .as_deref()
            .is_some_and(|error| error.starts_with("plugin hx-pj200 1.0.0 returned too much")),
        "{:?}",
        status.last_error
    );
}

#[test]
fn calls_to_unknown_or_removed_plugins_say_so() {
    let (registry, _) = registry(Limits::default(), Backoff::default());
    install(&registry, "zw-e7");
    assert!(registry.get("zw-e7").is_some());
    assert!(registry.remove("zw-e7"));
    assert!(!registry.remove("zw-e7"));
    assert!(registry.get("zw-e7").is_none());
    assert_eq!(
        outcome(registry.decode("zw-e7", "application/json", b"{}")),
        "other: no plugin with id zw-e7 is installed"
    );
}

#[test]
fn a_new_installation_replaces_the_old_atomically_under_concurrent_calls() {
    // There is one build of each reference adapter, so the two "versions" are two
    // installations of the same bytes: distinct `Plugin`s, told apart by identity and by
    // installation time. What is checked is the swap, which does not depend on the bytes.
    let (registry, clock) = registry(Limits::default(), Backoff::default());
    let old = install(&registry, "hx-pj200");
    let payload = rating_frame(1);
    let threads = 4;
    let installed = Arc::new(AtomicBool::new(false));
    let barrier = Arc::new(Barrier::new(threads + 1));

    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let registry = registry.clone();
            let installed = Arc::clone(&installed);
            let barrier = Arc::clone(&barrier);
            let payload = payload.clone();
            std::thread::spawn(move || {
                let mut seen = Vec::new();
                barrier.wait();
                // Calls keep going until some that started after the install returned.
                let mut after_install = 0;
                while after_install < 20 {
                    let started_after_install = installed.load(Ordering::SeqCst);
                    let result = registry.decode("hx-pj200", HX_PJ200, &payload);
                    seen.push((
                        started_after_install,
                        result.map(|(plugin, items)| (plugin, items.len())),
                    ));
                    if started_after_install {
                        after_install += 1;
                    }
                }
                seen
            })
        })
        .collect();

    barrier.wait();
    // Let the workers run on the old version for a moment first.
    while registry.status().first().map_or(0, |status| status.calls) < 20 {
        std::thread::yield_now();
    }
    clock.advance(TimeDelta::minutes(5));
    let new = install(&registry, "hx-pj200");
    installed.store(true, Ordering::SeqCst);
    assert!(!Arc::ptr_eq(&old, &new));

    let (mut on_old, mut on_new) = (0, 0);
    for worker in workers {
        let Ok(seen) = worker.join() else {
            panic!("a worker panicked");
        };
        for (started_after_install, result) in seen {
            let (plugin, items) = match result {
                Ok(decoded) => decoded,
                Err(error) => panic!("a call failed during the swap: {error}"),
            };
            assert_eq!(items, 1);
            if Arc::ptr_eq(&plugin, &new) {
                on_new += 1;
            } else if Arc::ptr_eq(&plugin, &old) {
                assert!(
                    !started_after_install,
                    "a call after the install ran on the old version"
                );
                on_old += 1;
            } else {
                panic!("a call ran on a plugin that was never installed");
            }
        }
    }
    assert!(
        on_old > 0 && on_new >= threads * 20,
        "old {on_old}, new {on_new}"
    );
    let status = registry.status();
    assert_eq!(status.len(), 1);
    assert_eq!(status[0].installed_at, start() + TimeDelta::minutes(5));
}

#[test]
fn a_failed_installation_keeps_the_old_version_and_is_reported_by_origin() {
    let (registry, clock) = registry(Limits::default(), Backoff::default());
    let good = component("hx-pj200");
    let Ok(first) = registry.install(&good, None, "hx-pj200.wasm") else {
        panic!("hx-pj200 refused");
    };
    clock.advance(TimeDelta::seconds(30));
    let refused = registry.install(b"not wasm", None, "hx-pj200.wasm");
    assert!(refused.is_err());
    let still = registry.get("hx-pj200");
    assert!(still.is_some_and(|plugin| Arc::ptr_eq(&plugin, &first)));
    let failures = registry.load_failures();
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].origin, "hx-pj200.wasm");
    assert_eq!(failures[0].at, start() + TimeDelta::seconds(30));
    assert!(
        failures[0]
            .error
            .starts_with("not a valid webassembly component"),
        "{}",
        failures[0].error
    );
    // A clean installation from the same origin clears the report.
    assert!(registry.install(&good, None, "hx-pj200.wasm").is_ok());
    assert!(registry.load_failures().is_empty());
}

#[test]
fn a_folder_of_plugins_loads_in_name_order_with_signatures() {
    let dir = match tempfile::tempdir() {
        Ok(dir) => dir,
        Err(error) => panic!("no temporary folder: {error}"),
    };
    let vendor = SigningKey::from_bytes(&[7; 32]);
    let stranger = SigningKey::from_bytes(&[8; 32]);
    let write = |name: &str, bytes: &[u8]| {
        if let Err(error) = std::fs::write(dir.path().join(name), bytes) {
            panic!("cannot write {name}: {error}");
        }
    };
    let hx = component("hx-pj200");
    let zw = component("zw-e7");
    let henan = component("henan-uplink");
    write("hx-pj200.wasm", &hx);
    write("hx-pj200.wasm.sig", &vendor.sign(&hx).to_bytes());
    write("zw-e7.wasm", &zw);
    write("henan-uplink.wasm", &henan);
    write("henan-uplink.wasm.sig", &stranger.sign(&henan).to_bytes());
    write("README.txt", b"not a plugin");

    let host = match PluginHost::new(HostOptions {
        trusted_keys: vec![vendor.verifying_key().to_bytes()],
        require_signature: true,
        ..HostOptions::default()
    }) {
        Ok(host) => host,
        Err(error) => panic!("host does not start: {error}"),
    };
    let clock = Arc::new(ManualClock::new(start()));
    let registry = Registry::with_clock(host, Backoff::default(), clock);
    let results: Vec<String> = registry
        .load_dir(dir.path())
        .into_iter()
        .map(|(path, result)| {
            let name = path
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_default();
            match result {
                Ok(plugin) => format!("{name}: {} {}", plugin.info.id, plugin.info.version),
                Err(error) => format!(
                    "{name}: {}",
                    error.to_string().split(':').next().unwrap_or("")
                ),
            }
        })
        .collect();
    assert_eq!(
        results,
        [
            "henan-uplink.wasm: plugin signature is not valid",
            "hx-pj200.wasm: hx-pj200 1.0.0",
            "zw-e7.wasm: plugin is not signed and this platform requires signatures",
        ]
    );

    let status = match serde_json::to_value(registry.status()) {
        Ok(status) => status,
        Err(error) => panic!("status does not serialize: {error}"),
    };
    let hx_status = &status[0];
    assert_eq!(hx_status["id"], "hx-pj200");
    assert_eq!(hx_status["kind"], "hall_device");
    assert_eq!(hx_status["origin"], "hx-pj200.wasm");
    assert_eq!(hx_status["sha256"].as_str().map(str::len), Some(64));
    assert_eq!(hx_status["installed_at"], "2026-03-10T01:00:00Z");
    assert_eq!(hx_status["quarantined_until"], serde_json::Value::Null);
    let failed: Vec<String> = registry
        .load_failures()
        .into_iter()
        .map(|failure| failure.origin)
        .collect();
    assert_eq!(failed, ["henan-uplink.wasm", "zw-e7.wasm"]);
}
