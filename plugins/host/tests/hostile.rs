//! The hostile test guests (adapters/hostile/): each misbehaves in one way, is stopped with the
//! error that names it, and the same host goes on decoding with a good plugin right after.

mod common;

use std::time::Duration;

use common::{HX_PJ200, component, host, load, rating_frame};
use hcp_plugins::{CallError, HostOptions, Limits, PluginError, PluginHost};

fn host_with(limits: Limits) -> PluginHost {
    match PluginHost::new(HostOptions {
        limits,
        ..HostOptions::default()
    }) {
        Ok(host) => host,
        Err(error) => panic!("host does not start: {error}"),
    }
}

/// The host still serves a good plugin after a hostile one misbehaved.
fn still_decodes(host: &PluginHost) {
    let good = load(host, "hx-pj200");
    match good.decode(HX_PJ200, &rating_frame(1)) {
        Ok(items) => assert_eq!(items.len(), 1),
        Err(error) => panic!("good plugin failed after a hostile one: {error}"),
    }
}

/// What a hostile call is expected to end in, by variant and message.
fn check(host: &PluginHost, guest: &str, expected: fn(&CallError) -> bool, message: &str) {
    let plugin = load(host, guest);
    let error = match plugin.decode(HX_PJ200, b"payload") {
        Ok(items) => panic!("{guest} decoded {} items", items.len()),
        Err(error) => error,
    };
    assert!(expected(&error), "{guest}: unexpected {error:?}");
    assert!(error.is_plugin_fault(), "{guest}: {error}");
    assert!(
        error.to_string().starts_with(message),
        "{guest}: {error} (expected it to start with {message:?})"
    );
    still_decodes(host);
}

#[test]
fn a_runaway_loop_runs_out_of_fuel() {
    // A time limit far away, so that fuel decides even on a busy machine.
    let host = host_with(Limits {
        timeout: Duration::from_secs(30),
        ..Limits::default()
    });
    check(
        &host,
        "hostile-loop",
        |error| matches!(error, CallError::OutOfFuel { .. }),
        "plugin hostile-loop 1.0.0 ran out of fuel",
    );
}

#[test]
fn a_runaway_loop_with_fuel_to_spare_times_out() {
    let host = host_with(Limits {
        fuel: u64::MAX,
        timeout: Duration::from_millis(50),
        ..Limits::default()
    });
    check(
        &host,
        "hostile-loop",
        |error| matches!(error, CallError::Timeout { after, .. } if *after == Duration::from_millis(50)),
        "plugin hostile-loop 1.0.0 timed out after 50ms",
    );
}

#[test]
fn a_memory_hog_hits_the_memory_limit() {
    check(
        host(),
        "hostile-memory",
        |error| matches!(error, CallError::MemoryExceeded { limit, .. } if *limit == 64 << 20),
        "plugin hostile-memory 1.0.0 exceeded its memory limit of 67108864 bytes",
    );
}

#[test]
fn a_trap_is_reported_as_a_trap() {
    check(
        host(),
        "hostile-trap",
        |error| matches!(error, CallError::Trap { .. }),
        "plugin hostile-trap 1.0.0 trapped: wasm trap: wasm `unreachable` instruction executed",
    );
}

#[test]
fn a_flood_of_output_is_stopped() {
    // With the default 64 MiB the guest cannot even build its million ratings.
    check(
        host(),
        "hostile-output",
        |error| matches!(error, CallError::MemoryExceeded { .. }),
        "plugin hostile-output 1.0.0 exceeded its memory limit",
    );
    // Given the memory, time and fuel to build them (about 1.2 GiB), the host refuses to copy
    // them out: wasmtime's copy budget stops at the list's length, before any string.
    let generous = host_with(Limits {
        fuel: u64::MAX,
        timeout: Duration::from_secs(30),
        memory_bytes: 3 << 30,
        ..Limits::default()
    });
    check(
        &generous,
        "hostile-output",
        |error| matches!(error, CallError::OutputTooLarge { .. }),
        "plugin hostile-output 1.0.0 returned too much: more than 16777216 bytes (its output \
         limit) to copy out of the plugin",
    );
}

#[test]
fn output_limits_count_records_and_bytes() {
    // hx-pj200 ships three samples of at most two records with short texts, so it loads
    // under these.
    let host = host_with(Limits {
        max_output_items: 3,
        max_output_bytes: 2000,
        ..Limits::default()
    });
    let plugin = load(&host, "hx-pj200");
    let four: Vec<u8> = (1..=4).flat_map(rating_frame).collect();
    let long_comment = |bytes: usize| {
        common::Frame::Rating {
            sequence: 9,
            device: "HX-410421-0007",
            unix_time: 1_773_109_500,
            level: 4,
            indicators: &[],
            comment: &"慢".repeat(bytes / 3),
            project_no: "41042120260310000140",
            task_code: "11410421005343519X4000117005000",
            service_number: 1,
            staff: "",
            real_name: false,
            phone: "",
        }
        .encode()
    };
    let cases = [
        ("four records", four, "4 records; the limit is 3"),
        // Within wasmtime's copy budget (2000 + 1024 per allowed record), over the count.
        ("3 KB comment", long_comment(3000), "3"),
        // Over the copy budget: wasmtime stops copying.
        (
            "6 KB comment",
            long_comment(6000),
            "more than 2000 bytes (its output limit) to copy out of the plugin",
        ),
    ];
    for (name, payload, what_prefix) in cases {
        match plugin.decode(HX_PJ200, &payload) {
            Err(CallError::OutputTooLarge { what, .. }) => {
                assert!(what.starts_with(what_prefix), "{name}: {what}");
                if name == "3 KB comment" {
                    assert!(
                        what.ends_with("bytes of data; the limit is 2000"),
                        "{name}: {what}"
                    );
                }
            }
            other => panic!("{name}: expected output too large, got {other:?}"),
        }
    }
}

/// The guests refused at installation, each with the reason an administrator can act on.
#[test]
fn bad_plugins_are_refused_at_installation() {
    /// Whether the error is the expected one.
    type Matches = fn(&PluginError) -> bool;
    let cases: [(&str, Matches, &str); 3] = [
        (
            "hostile-abi",
            |error| matches!(error, PluginError::UnsupportedContract { found } if found == "2.0.0"),
            "plugin is built against contract 2.0.0; this platform supports 1.x",
        ),
        (
            "hostile-import",
            |error| {
                matches!(error, PluginError::Imports { names }
                    if names.iter().any(|name| name.starts_with("wasi:filesystem/types@0.2")))
            },
            "plugin imports wasi:",
        ),
        (
            "hostile-samples",
            |error| {
                matches!(error, PluginError::SampleFailed { index: 0, error, .. }
                    if matches!(**error, CallError::Malformed(_)))
            },
            "plugin hostile-samples 1.0.0 fails its own sample 0: malformed payload: \
             hostile-samples refuses every payload",
        ),
    ];
    for (guest, expected, message) in cases {
        let error = match host().load(&component(guest), None) {
            Ok(plugin) => panic!("{guest} was accepted as {}", plugin.info.id),
            Err(error) => error,
        };
        assert!(expected(&error), "{guest}: unexpected {error:?}");
        assert!(
            error.to_string().starts_with(message),
            "{guest}: {error} (expected it to start with {message:?})"
        );
        still_decodes(host());
    }
    let imports = match host().load(&component("hostile-import"), None) {
        Err(error) => error.to_string(),
        Ok(_) => String::new(),
    };
    assert!(
        imports.contains("wasi:filesystem/types@0.2.")
            && imports.ends_with(
                "adapters must import nothing (build for wasm32-unknown-unknown and wrap the \
             module with `wasm-tools component new`)"
            ),
        "{imports}"
    );
}

#[test]
fn garbage_is_not_a_component() {
    let cases: [(&str, &[u8], &str); 3] = [
        ("empty", b"", "not a valid webassembly component: "),
        ("text", b"hello", "not a valid webassembly component: "),
        // A core module (the step before `wasm-tools component new`).
        (
            "core module",
            b"\0asm\x01\0\0\0",
            "not a valid webassembly component: this is a core webassembly module; wrap it \
             into a component with `wasm-tools component new`",
        ),
    ];
    for (name, bytes, message) in cases {
        match host().load(bytes, None) {
            Err(error @ PluginError::NotAComponent { .. }) => {
                assert!(error.to_string().starts_with(message), "{name}: {error}")
            }
            other => panic!("{name}: expected not a component, got {other:?}"),
        }
    }
    let too_large = host_with(Limits {
        max_component_bytes: 1000,
        ..Limits::default()
    });
    match too_large.load(&component("hx-pj200"), None) {
        Err(PluginError::TooLarge { limit: 1000, .. }) => {}
        other => panic!("expected too large, got {other:?}"),
    }
}

#[test]
fn more_calls_than_the_concurrency_limit_wait_instead_of_failing() {
    // 2: pooled instances, 0: instances allocated on demand.
    for max_concurrent_calls in [2, 0] {
        let host = match PluginHost::new(HostOptions {
            limits: Limits {
                fuel: u64::MAX,
                timeout: Duration::from_millis(30),
                max_concurrent_calls,
                ..Limits::default()
            },
            ..HostOptions::default()
        }) {
            Ok(host) => host,
            Err(error) => panic!("host does not start: {error}"),
        };
        let looping = load(&host, "hostile-loop");
        let good = load(&host, "hx-pj200");
        let outcomes: Vec<String> = std::thread::scope(|scope| {
            let calls: Vec<_> = (0..6)
                .map(|index| {
                    let (looping, good) = (&looping, &good);
                    scope.spawn(move || {
                        let result = if index % 2 == 0 {
                            looping.decode(HX_PJ200, b"x").map(|items| items.len())
                        } else {
                            good.decode(HX_PJ200, &rating_frame(index))
                                .map(|items| items.len())
                        };
                        match result {
                            Ok(items) => format!("{items} item"),
                            Err(CallError::Timeout { .. }) => "timeout".to_owned(),
                            Err(error) => format!("unexpected: {error}"),
                        }
                    })
                })
                .collect();
            calls
                .into_iter()
                .map(|call| call.join().unwrap_or_else(|_| "panicked".to_owned()))
                .collect()
        });
        assert_eq!(
            outcomes,
            [
                "timeout", "1 item", "timeout", "1 item", "timeout", "1 item"
            ],
            "max_concurrent_calls {max_concurrent_calls}"
        );
    }
}
