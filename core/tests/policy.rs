//! Policy host tests against real files: the shipped `rules/`, copies of it with one change, and
//! the deliberately broken fixtures under `core/tests/fixtures/`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use hcp_core::calendar::Calendar;
use hcp_core::model::{Channel, Level};
use hcp_core::policy::{
    AssessmentInput, DeadlineInput, DeadlineOutput, Hook, LimitKind, Limits, PhaseKind,
    PolicyError, PolicySet, test_folder,
};
use rust_decimal::Decimal;
use serde_json::json;

fn rules_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules")
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn calendar() -> Arc<Calendar> {
    Arc::new(Calendar::load_dir(&rules_dir().join("calendar")).unwrap())
}

fn shipped() -> PolicySet {
    PolicySet::load(&rules_dir(), calendar(), Limits::default()).unwrap()
}

fn shipped_files() -> BTreeMap<String, String> {
    shipped().files().clone()
}

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

/// The shipped files with `changes` applied (`None` removes a file).
fn with(changes: &[(&str, Option<&str>)]) -> BTreeMap<String, String> {
    let mut files = shipped_files();
    for (path, text) in changes {
        match text {
            Some(text) => files.insert((*path).to_owned(), (*text).to_owned()),
            None => files.remove(*path),
        };
    }
    files
}

fn build(files: &BTreeMap<String, String>) -> Result<PolicySet, PolicyError> {
    PolicySet::from_files(files, calendar(), Limits::default())
}

fn real_name_bad_review(received_at: &str) -> DeadlineInput {
    DeadlineInput {
        county: String::new(),
        area_code: String::new(),
        kind: hcp_core::policy::RoutingKind::BadReview,
        level: Some(Level::Dissatisfied),
        real_name: true,
        channel: Channel::HallDevice,
        task_code: "T1".into(),
        department: "D1".into(),
        indicators: vec!["510".into()],
        received_at: at(received_at),
    }
}

#[test]
fn shipped_rules_load_and_all_their_tests_pass() {
    let set = shipped();
    let report = set.run_tests();
    assert!(report.ok(), "{report}");
    assert!(report.passed >= 30, "{report}");
    let printed = report.to_string();
    assert_eq!(
        printed.lines().last(),
        Some(format!("{} passed, 0 failed", report.passed).as_str())
    );
    assert_eq!(set.version().len(), 64);
    // The same through the entry point `hcp rules test` uses.
    let again = test_folder(&rules_dir(), calendar(), Limits::default());
    assert_eq!(again, report);
}

#[test]
fn county_overrides_pick_their_scope_and_change_outputs() {
    let set = shipped();
    // (hook, county, expected scope)
    let cases = [
        (Hook::Deadline, "410421", "410421"),
        (Hook::Deadline, "410421100", "410421"),
        (Hook::Deadline, "410421100201", "410421"),
        (Hook::Deadline, "410482", "default"),
        (Hook::Deadline, "410402", "default"),
        (Hook::Deadline, "410400", "default"),
        (Hook::Assessment, "410482", "410482"),
        (Hook::Assessment, "410421", "default"),
        (Hook::Routing, "410421", "default"),
        (Hook::Routing, "not a code", "default"),
    ];
    for (hook, county, scope) in cases {
        assert_eq!(set.scope_for(hook, county), scope, "{hook} {county}");
    }

    // 宝丰县 rectifies real-name bad reviews in 5 working days, the city in 15.
    let input = real_name_bad_review("2026-02-13T10:00:00+08:00");
    let baofeng = set.deadline("410421", &input).unwrap();
    let city = set.deadline("410402", &input).unwrap();
    assert_eq!(baofeng.scope, "410421");
    assert_eq!(city.scope, "default");
    assert_eq!(
        baofeng.value.due(PhaseKind::Rectify),
        Some(at("2026-02-28T00:00:00+08:00"))
    );
    assert_eq!(
        city.value.due(PhaseKind::Rectify),
        Some(at("2026-03-13T00:00:00+08:00"))
    );
    // 非常不满意 is contacted within 4 hours in 宝丰县, within 1 working day elsewhere.
    let very = DeadlineInput {
        level: Some(Level::VeryDissatisfied),
        ..input.clone()
    };
    assert_eq!(
        set.deadline("410421", &very)
            .unwrap()
            .value
            .due(PhaseKind::Contact),
        Some(at("2026-02-13T14:00:00+08:00"))
    );
    assert_eq!(
        set.deadline("410402", &very)
            .unwrap()
            .value
            .due(PhaseKind::Contact),
        Some(at("2026-02-15T00:00:00+08:00"))
    );

    // 汝州市 weights 主动评价率 40 instead of 30.
    let metrics = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Decimal::from_str(v).unwrap()))
            .collect()
    };
    let unit = AssessmentInput {
        county: String::new(),
        unit: "U1".into(),
        unit_kind: "department".into(),
        period: "2026-03".into(),
        metrics: metrics(&[
            ("active_rate", "0.9512"),
            ("good_rate", "0.9988"),
            ("on_time_rectify_rate", "0.9"),
            ("callback_rate", "1"),
        ]),
        counts: BTreeMap::new(),
    };
    let ruzhou = set.assessment("410482", &unit).unwrap();
    let city = set.assessment("410402", &unit).unwrap();
    assert_eq!(ruzhou.value.total, Decimal::from_str("95.52").unwrap());
    assert_eq!(city.value.total, Decimal::from_str("95.50").unwrap());
    assert_eq!(ruzhou.value.items[0].weight, Decimal::from(40));
    assert_eq!(city.value.items[0].weight, Decimal::from(30));
}

#[test]
fn hook_version_changes_only_for_the_hook_and_county_whose_file_changed() {
    let counties = ["410400", "410402", "410421", "410421100", "410482"];
    let versions = |set: &PolicySet| -> BTreeMap<(Hook, &str), String> {
        let mut all = BTreeMap::new();
        for hook in Hook::ALL {
            for county in counties {
                all.insert((hook, county), set.hook_version(hook, county));
            }
        }
        all
    };
    let base = shipped();
    let before = versions(&base);
    assert_ne!(
        before[&(Hook::Deadline, "410421")],
        before[&(Hook::Deadline, "410402")]
    );
    assert_eq!(
        before[&(Hook::Deadline, "410421")],
        before[&(Hook::Deadline, "410421100")]
    );

    // A comment added to 宝丰县's deadline file.
    let path = "410421/deadline.rhai";
    let edited = format!("{}\n// 2026-03 复核\n", base.files()[path]);
    let changed = build(&with(&[(path, Some(&edited))])).unwrap();
    assert_ne!(changed.version(), base.version());
    for ((hook, county), version) in versions(&changed) {
        let moved = version != before[&(hook, county)];
        let expected = hook == Hook::Deadline && county.starts_with("410421");
        assert_eq!(moved, expected, "{hook} {county}");
    }

    // The shared module: every hook that imports it moves, the others do not.
    let path = "default/lib/common.rhai";
    let edited = format!("{}\n// 2026-03 复核\n", base.files()[path]);
    let changed = build(&with(&[(path, Some(&edited))])).unwrap();
    for ((hook, county), version) in versions(&changed) {
        let moved = version != before[&(hook, county)];
        let imports_common = matches!(hook, Hook::Deadline | Hook::Assessment | Hook::Veto);
        assert_eq!(moved, imports_common, "{hook} {county}");
    }

    // Tests are part of the version but decide nothing.
    let path = "default/tests/veto.json";
    let edited = format!("{}\n", base.files()[path]);
    let changed = build(&with(&[(path, Some(&edited))])).unwrap();
    assert_ne!(changed.version(), base.version());
    assert_eq!(versions(&changed), before);
}

#[test]
fn an_empty_file_fails_the_contract_check() {
    // The editor's truncate-then-write: the first event sees an empty file, which compiles.
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in shipped_files() {
        let target = dir.path().join(&path);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::write(target, text).unwrap();
    }
    std::fs::write(dir.path().join("410421/deadline.rhai"), "").unwrap();
    let error = PolicySet::load(dir.path(), calendar(), Limits::default()).unwrap_err();
    match &error {
        PolicyError::Contract {
            file,
            hook,
            message,
        } => {
            assert_eq!(file, "410421/deadline.rhai");
            assert_eq!(*hook, Hook::Deadline);
            assert!(message.contains("empty"), "{message}");
        }
        other => panic!("expected a contract error, got {other}"),
    }

    // (replacement text, fragment of the contract message)
    let cases = [
        (
            "// 只有注释\n",
            "does not define fn deadline(input); it defines no function",
        ),
        ("fn deadlines(input) { 1 }", "it defines deadlines(input)"),
        ("fn deadline(a, b) { 1 }", "exactly one parameter"),
        ("fn deadline() { 1 }", "exactly one parameter"),
        ("private fn deadline(input) { 1 }", "private"),
    ];
    for (text, fragment) in cases {
        let error = build(&with(&[("default/deadline.rhai", Some(text))])).unwrap_err();
        assert!(
            matches!(&error, PolicyError::Contract { hook: Hook::Deadline, message, .. } if message.contains(fragment)),
            "{text:?}: {error}"
        );
    }

    let error = build(&with(&[("default/veto.rhai", None)])).unwrap_err();
    assert!(
        matches!(&error, PolicyError::Contract { hook: Hook::Veto, message, .. } if message.contains("every hook")),
        "{error}"
    );
}

#[test]
fn compile_errors_name_file_line_and_column() {
    // (path, text, expected "file:line:column", fragment of the message)
    let cases = [
        (
            "default/routing.rhai",
            "fn routing(input) {\n    let x = 1;\n    x +* 2\n}\n",
            "default/routing.rhai:3:8",
            "",
        ),
        (
            "default/routing.rhai",
            "fn routing(input) {\n    input.unit + undefined_name\n}\n",
            "default/routing.rhai:2:18",
            "undefined_name",
        ),
        (
            "default/lib/common.rhai",
            "fn phase(name, amount, unit) {\n  #{ phase: name,, }\n}\n",
            "default/lib/common.rhai:2:",
            "",
        ),
        (
            "default/routing.rhai",
            "fn routing(input) {\n  let s = \"\n}\n",
            "default/routing.rhai:2:",
            "",
        ),
        (
            "default/routing.rhai",
            "fn routing(input) {\n  eval(\"1\")\n}\n",
            "default/routing.rhai:2:3",
            "eval",
        ),
    ];
    for (path, text, place, fragment) in cases {
        let error = build(&with(&[(path, Some(text))])).unwrap_err();
        assert!(
            matches!(error, PolicyError::Compile { .. }),
            "{path}: {error:?}"
        );
        let shown = error.to_string();
        assert!(shown.starts_with(place), "{shown}");
        assert!(shown.contains(fragment), "{shown}");
    }

    // A rules folder that does not load is one failure of `hcp rules test`, with its position.
    let report = test_folder(
        &fixtures().join("syntax_error"),
        calendar(),
        Limits::default(),
    );
    assert_eq!((report.passed, report.failed), (0, 1));
    let failure = &report.failures[0];
    assert_eq!(
        (failure.file.as_str(), failure.line, failure.column),
        ("default/routing.rhai", 4, 8)
    );
    assert!(
        report.to_string().ends_with("0 passed, 1 failed\n"),
        "{report}"
    );
}

#[test]
fn imports_are_confined_to_the_rules_modules() {
    // (script, fragment of the error)
    let cases = [
        (
            "import \"../calendar/2026\" as c;\nfn routing(input) { 1 }",
            "not a rules module",
        ),
        (
            "import \"/etc/passwd\" as c;\nfn routing(input) { 1 }",
            "not a rules module",
        ),
        (
            "import \"nope\" as c;\nfn routing(input) { 1 }",
            "there is no default/lib/nope.rhai",
        ),
    ];
    for (text, fragment) in cases {
        let error = build(&with(&[("default/routing.rhai", Some(text))])).unwrap_err();
        let shown = error.to_string();
        assert!(shown.starts_with("default/routing.rhai:1:8"), "{shown}");
        assert!(shown.contains(fragment), "{shown}");
    }

    let cycle = with(&[
        (
            "default/lib/a.rhai",
            Some("import \"b\" as b;\nfn one() { 1 }"),
        ),
        (
            "default/lib/b.rhai",
            Some("import \"a\" as a;\nfn two() { 2 }"),
        ),
    ]);
    let error = build(&cycle).unwrap_err();
    assert!(error.to_string().contains("import cycle"), "{error}");

    // A county module, imported by its county path.
    let county_module = with(&[
        (
            "410421/lib/local.rhai",
            Some("fn category() { \"baofeng\" }"),
        ),
        (
            "410421/routing.rhai",
            Some(
                "import \"410421/local\" as local;\nfn routing(input) { #{ unit: input.department, category: local::category(), priority: \"normal\" } }",
            ),
        ),
    ]);
    let set = build(&county_module).unwrap();
    let out = set
        .eval(
            Hook::Routing,
            "410421",
            &json!({"kind": "bad_review", "channel": "pc", "department": "D1"}),
        )
        .unwrap();
    assert_eq!(out.output["category"], "baofeng");
    assert_eq!(out.scope, "410421");

    // Files where no rules file belongs are refused by name, not ignored.
    for path in [
        "default/deadlines.rhai",
        "41042/deadline.rhai",
        "default/notes.md",
        "default/lib/Bad-Name.rhai",
    ] {
        let error = build(&with(&[(path, Some("fn x() {}"))])).unwrap_err();
        assert!(
            matches!(&error, PolicyError::Layout { file, .. } if file == path),
            "{path}: {error}"
        );
    }
}

/// The shipped files with `410402/<hook>.rhai` set to `text`.
fn county_script(hook: Hook, text: &str, limits: Limits) -> PolicySet {
    let path = format!("410402/{}", hook.file_name());
    PolicySet::from_files(&with(&[(&path, Some(text))]), calendar(), limits).unwrap()
}

fn routing_input() -> serde_json::Value {
    json!({"kind": "bad_review", "channel": "pc", "department": "D1"})
}

#[test]
fn runaway_scripts_are_stopped_by_their_limits() {
    // (script, limits, the limit that must stop it, fragment of the message)
    let tight_clock = Limits {
        max_operations: u64::MAX,
        wall_clock: Duration::from_millis(30),
        ..Limits::default()
    };
    let cases = [
        (
            "fn routing(input) {\n    loop { }\n}",
            Limits::default(),
            LimitKind::Operations,
            "max_operations",
        ),
        (
            "fn routing(input) {\n    deeper(0)\n}\nfn deeper(n) {\n    deeper(n + 1)\n}",
            Limits::default(),
            LimitKind::CallDepth,
            "max_call_depth",
        ),
        (
            "fn routing(input) {\n    loop { }\n}",
            tight_clock,
            LimitKind::WallClock,
            "30 ms",
        ),
        (
            "fn routing(input) {\n    let s = \"x\";\n    loop { s += s; }\n}",
            Limits::default(),
            LimitKind::StringSize,
            "max_string_bytes",
        ),
        (
            "fn routing(input) {\n    let a = [];\n    loop { a.push(1); }\n}",
            Limits {
                max_array_len: 100,
                ..Limits::default()
            },
            LimitKind::ArraySize,
            "max_array_len",
        ),
    ];
    for (text, limits, kind, fragment) in cases {
        let set = county_script(Hook::Routing, text, limits);
        let started = std::time::Instant::now();
        let error = set
            .eval(Hook::Routing, "410402", &routing_input())
            .unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(5), "{text}");
        assert_eq!(error.limit(), Some(kind), "{text}: {error}");
        let shown = error.to_string();
        assert!(shown.starts_with("410402/routing.rhai:"), "{shown}");
        assert!(shown.contains(fragment), "{shown}");
    }

    // Zero would mean "unlimited" to Rhai: refused.
    let error = PolicySet::from_files(
        &shipped_files(),
        calendar(),
        Limits {
            max_operations: 0,
            ..Limits::default()
        },
    )
    .unwrap_err();
    assert!(error.to_string().contains("max_operations"), "{error}");
}

#[test]
fn runtime_errors_point_at_the_line() {
    // (script, expected "file:line:column" prefix, fragment)
    let cases = [
        (
            "fn routing(input) {\n    let x = 1;\n    if input.real_nmae { x = 2; }\n    x\n}",
            "410402/routing.rhai:3:14",
            "real_nmae",
        ),
        (
            "fn routing(input) {\n    throw \"没有责任单位\";\n}",
            "410402/routing.rhai:2:5",
            "没有责任单位",
        ),
        // An error inside a shared module points into the module, where the fault shows.
        (
            "import \"common\" as common;\nfn routing(input) {\n    common::total(5)\n}",
            "default/lib/common.rhai:",
            "iterable",
        ),
    ];
    for (text, place, fragment) in cases {
        let set = county_script(Hook::Routing, text, Limits::default());
        let error = set
            .eval(Hook::Routing, "410402", &routing_input())
            .unwrap_err();
        assert!(matches!(error, PolicyError::Runtime { .. }), "{error:?}");
        let shown = error.to_string();
        assert!(shown.starts_with(place), "{shown}");
        assert!(shown.contains(fragment), "{shown}");
    }
}

#[test]
fn scripts_are_pure() {
    // (script, fragment of the error)
    let cases = [
        ("fn routing(input) { timestamp() }", "timestamp"),
        ("fn routing(input) { sleep(1) }", "sleep is not available"),
    ];
    for (text, fragment) in cases {
        let set = county_script(Hook::Routing, text, Limits::default());
        let error = set
            .eval(Hook::Routing, "410402", &routing_input())
            .unwrap_err();
        assert!(error.to_string().contains(fragment), "{error}");
    }
    // print and debug go to tracing, not stdout, and do not fail the call.
    let set = county_script(
        Hook::Routing,
        "fn routing(input) { print(\"x\"); debug(input); #{ unit: \"D\", category: \"other\", priority: \"low\" } }",
        Limits::default(),
    );
    assert!(set.eval(Hook::Routing, "410402", &routing_input()).is_ok());
}

/// The shipped rules on the official tables followed by provisional years.
fn shipped_provisional() -> PolicySet {
    let calendar = Calendar::load_dir(&rules_dir().join("calendar"))
        .unwrap()
        .with_provisional()
        .unwrap();
    PolicySet::load(&rules_dir(), Arc::new(calendar), Limits::default()).unwrap()
}

/// (phase, due in China time, provisional) of each timed phase.
type Timed = Vec<(PhaseKind, String, bool)>;

/// The timed phases of a decision, and the phases that wait with their year.
fn timing(output: &DeadlineOutput) -> (Timed, Vec<(PhaseKind, i32)>) {
    let china = |due: DateTime<Utc>| {
        due.with_timezone(&hcp_core::calendar::china_tz())
            .format("%Y-%m-%d %H:%M")
            .to_string()
    };
    (
        output
            .phases
            .iter()
            .map(|phase| (phase.phase, china(phase.due), phase.provisional))
            .collect(),
        output
            .awaiting
            .iter()
            .map(|phase| (phase.phase, phase.year))
            .collect(),
    )
}

/// Regression for issue 10: one phase reaching a year without a table no longer makes the whole
/// decision fail; each phase is timed on its own.
#[test]
fn each_phase_is_timed_on_its_own_past_the_last_official_year() {
    use PhaseKind::*;
    // Sunday 2026-12-20: the next working day is Monday 12-21.
    let input = real_name_bad_review("2026-12-20T10:00:00+08:00");

    // Official tables only (provisional timing off): the phases that reach 2027 wait for its
    // table; the others are exact.
    let decided = shipped().deadline("410402", &input).unwrap();
    assert_eq!(
        timing(&decided.value),
        (
            vec![
                (Contact, "2026-12-22 00:00".into(), false),
                (Verify, "2026-12-23 00:00".into(), false),
                (Appeal, "2026-12-24 00:00".into(), false),
            ],
            vec![(Rectify, 2027), (Feedback, 2027), (Callback, 2027)],
        )
    );
    assert_eq!(decided.provisional, Some(2027));
    assert_eq!(
        decided.value.awaiting[0].from,
        at("2026-12-20T10:00:00+08:00")
    );

    // With provisional years: the same phases are timed on the provisional 2027 (1 January off),
    // and marked. Rectify: 9 working days 12-21..=12-31, then 01-04..=01-08 and 01-11.
    let decided = shipped_provisional().deadline("410402", &input).unwrap();
    assert_eq!(
        timing(&decided.value),
        (
            vec![
                (Contact, "2026-12-22 00:00".into(), false),
                (Verify, "2026-12-23 00:00".into(), false),
                (Rectify, "2027-01-12 00:00".into(), true),
                (Feedback, "2027-01-14 00:00".into(), true),
                (Callback, "2027-01-19 00:00".into(), true),
                (Appeal, "2026-12-24 00:00".into(), false),
            ],
            vec![],
        )
    );
    assert_eq!(decided.provisional, Some(2027));
    // Well inside the official tables nothing is provisional.
    let inside = shipped_provisional()
        .deadline("410402", &real_name_bad_review("2026-06-01T10:00:00+08:00"))
        .unwrap();
    assert_eq!(inside.provisional, None);
    assert!(inside.value.phases.iter().all(|phase| !phase.provisional));

    // A helper inside a script counts on the provisional year too, and the decision says so:
    // 7 working days from Monday 12-28 are 12-29..=12-31 and 01-04..=01-07.
    let evaluated = shipped_provisional()
        .eval(
            Hook::DefaultRating,
            "410402",
            &json!({"completed_at": "2026-12-28T10:00:00+08:00"}),
        )
        .unwrap();
    assert_eq!(evaluated.provisional, Some(2027));
    assert_eq!(evaluated.output["at"], json!("2027-01-07T16:00:00Z"));
    // Without provisional years the helper's own arithmetic is refused, naming the year.
    let error = shipped()
        .eval(
            Hook::DefaultRating,
            "410402",
            &json!({"completed_at": "2026-12-28T10:00:00+08:00"}),
        )
        .unwrap_err();
    assert!(
        matches!(
            error,
            PolicyError::Calendar(hcp_core::calendar::CalendarError::YearNotLoaded { year: 2027 })
        ),
        "{error}"
    );
    // The next call on the same thread starts clean: nothing provisional is carried over.
    let clean = shipped_provisional()
        .eval(
            Hook::DefaultRating,
            "410402",
            &json!({"completed_at": "2026-06-01T10:00:00+08:00"}),
        )
        .unwrap();
    assert_eq!(clean.provisional, None);

    // 宝丰县's very dissatisfied real-name order: 5 working days from 12-28 reach 2027, its hours
    // do not; each phase on its own.
    let very = DeadlineInput {
        level: Some(Level::VeryDissatisfied),
        received_at: at("2026-12-28T10:00:00+08:00"),
        ..input
    };
    let decided = shipped().deadline("410421", &very).unwrap();
    assert!(!decided.value.awaiting.is_empty());
    assert!(!decided.value.phases.is_empty(), "{:?}", decided.value);
    let both = shipped_provisional().deadline("410421", &very).unwrap();
    assert!(both.value.awaiting.is_empty());
    assert!(both.value.phases.iter().any(|phase| phase.provisional));
    assert!(both.value.phases.iter().any(|phase| !phase.provisional));
}

#[test]
fn shipped_rules_pass_their_tests_with_provisional_years_too() {
    let report = shipped_provisional().run_tests();
    assert!(report.ok(), "{report}");
}

#[test]
fn decimals_do_not_drift() {
    // With binary floats 0.1 + 0.2 is 0.30000000000000004 and these items would not sum to 0.3.
    let script = r#"
fn assessment(input) {
    if 0.1 + 0.2 != 0.3 { throw "float drift"; }
    let items = [
        #{ item: "a", weight: 0.1, value: input.metrics.a, score: 0.1 * input.metrics.a },
        #{ item: "b", weight: 0.2, value: input.metrics.b, score: 0.2 * input.metrics.b },
    ];
    #{ total: 0.3, items: items }
}
"#;
    let set = county_script(Hook::Assessment, script, Limits::default());
    let out = set
        .eval(
            Hook::Assessment,
            "410402",
            &json!({"unit": "U", "period": "2026-03", "metrics": {"a": "1", "b": "1.0"}}),
        )
        .unwrap();
    assert_eq!(out.output["total"], "0.3");
    assert_eq!(out.output["items"][1]["score"], "0.2");

    // Sums over many small items stay exact: 0.01 × 100 = 1.
    let script = r#"
fn assessment(input) {
    let items = [];
    for i in 0..100 { items.push(#{ item: `i${i}`, weight: 0.01, value: 1, score: 0.01 }); }
    let total = 0.0;
    for item in items { total += item.score; }
    #{ total: total, items: items }
}
"#;
    let set = county_script(Hook::Assessment, script, Limits::default());
    let out = set
        .eval(
            Hook::Assessment,
            "410402",
            &json!({"unit": "U", "period": "2026-03"}),
        )
        .unwrap();
    assert_eq!(out.output["total"], "1");
}

#[test]
fn outputs_that_break_the_contract_are_refused() {
    let deadline_input = json!({
        "level": "dissatisfied", "real_name": true, "channel": "pc",
        "received_at": "2026-03-02T10:00:00+08:00"
    });
    let unit_input = json!({"unit": "U", "period": "2026-03"});
    // (hook, script, input, fragment of the refusal)
    let cases = [
        (
            Hook::Deadline,
            r#"fn deadline(input) { #{ phases: [ #{ phase: "contact", amout: 1, unit: "hours" } ] } }"#,
            &deadline_input,
            "amout",
        ),
        (
            Hook::Deadline,
            r#"fn deadline(input) { #{ phases: [ #{ phase: "contact", amount: 1, unit: "days" } ] } }"#,
            &deadline_input,
            "days",
        ),
        (
            Hook::Deadline,
            r#"fn deadline(input) { #{ phases: [ #{ phase: "contact", amount: 0, unit: "hours" } ] } }"#,
            &deadline_input,
            "amount 0",
        ),
        (
            Hook::Deadline,
            r#"fn deadline(input) { #{ phases: [ #{ phase: "contact", amount: -1, unit: "hours" } ] } }"#,
            &deadline_input,
            "-1",
        ),
        (
            Hook::Deadline,
            r#"fn deadline(input) { #{ phases: [ #{ phase: "rectfy", amount: 1, unit: "hours" } ] } }"#,
            &deadline_input,
            "rectfy",
        ),
        (
            Hook::Deadline,
            r#"fn deadline(input) { let p = #{ phase: "contact", amount: 1, unit: "hours" }; #{ phases: [p, p] } }"#,
            &deadline_input,
            "twice",
        ),
        (
            Hook::Deadline,
            r#"fn deadline(input) { #{ phases: [] } }"#,
            &deadline_input,
            "empty",
        ),
        (
            Hook::Deadline,
            r#"fn deadline(input) { #{ phases: [], note: "x" } }"#,
            &deadline_input,
            "note",
        ),
        (
            Hook::Assessment,
            r#"fn assessment(input) { #{ total: 100, items: [ #{ item: "a", weight: 100, value: 1, score: 99.99 } ] } }"#,
            &unit_input,
            "items sum to 99.99 but total is 100",
        ),
        (
            Hook::Assessment,
            r#"fn assessment(input) { #{ total: 101, items: [ #{ item: "a", weight: 101, value: 1, score: 101 } ] } }"#,
            &unit_input,
            "outside 0..=100",
        ),
        (
            Hook::Veto,
            r#"fn veto(input) { #{ reasons: [ #{ code: "Late!", reason: "x" } ] } }"#,
            &unit_input,
            "snake_case",
        ),
        (
            Hook::DefaultRating,
            r#"fn default_rating(input) { #{ apply: true, level: "dissatisfied", at: input.completed_at } }"#,
            &json!({"completed_at": "2026-03-02T10:00:00+08:00"}),
            "never be a bad review",
        ),
        (
            Hook::Invitation,
            r#"fn invitation(input) { #{ invitations: [ #{ channel: "sms", at: add_hours(input.completed_at, 0 - 0) }, #{ channel: "sms", at: "2026-01-01T00:00:00Z" } ] } }"#,
            &json!({"completed_at": "2026-03-02T10:00:00+08:00"}),
            "before completed_at",
        ),
        (
            Hook::Integrity,
            r#"fn integrity(input) { #{ flags: [ #{ code: "x", reason: "y" } ], score: 3 } }"#,
            &json!({"channel": "pc", "level": "satisfied", "pressed_at": "2026-03-02T10:00:00+08:00"}),
            "score",
        ),
        (
            Hook::Routing,
            r#"fn routing(input) { #{ unit: "D", category: "other", priority: "normal", f: || 1 } }"#,
            &routing_input(),
            "f is a Fn",
        ),
    ];
    for (hook, script, input, fragment) in cases {
        let set = county_script(hook, script, Limits::default());
        let error = set.eval(hook, "410402", input).unwrap_err();
        assert!(
            matches!(&error, PolicyError::Output { hook: h, scope, .. } if *h == hook && scope == "410402"),
            "{script}: {error}"
        );
        assert!(error.to_string().contains(fragment), "{script}: {error}");
    }
}

#[test]
fn json_eval_checks_its_input() {
    let set = shipped();
    let input = json!({
        "level": "dissatisfied", "real_name": true, "channel": "hall_device",
        "received_at": "2026-02-13T10:00:00+08:00"
    });
    let out = set.eval(Hook::Deadline, "410421", &input).unwrap();
    assert_eq!(out.scope, "410421");
    assert_eq!(out.hook_version, set.hook_version(Hook::Deadline, "410421"));
    assert_eq!(out.output["phases"][2]["phase"], "rectify");
    assert_eq!(out.output["phases"][2]["due"], "2026-02-27T16:00:00Z");

    // (county, input, fragment of the refusal)
    let mut other_county = input.clone();
    other_county["county"] = json!("410482");
    let mut typo = input.clone();
    typo["real_nam"] = json!(true);
    let mut bad_level = input.clone();
    bad_level["level"] = json!("angry");
    let cases = [
        ("4104", &input, "6-digit"),
        ("410421", &other_county, "differs"),
        ("410421", &typo, "real_nam"),
        ("410421", &bad_level, "angry"),
    ];
    for (county, input, fragment) in cases {
        let error = set.eval(Hook::Deadline, county, input).unwrap_err();
        assert!(
            matches!(&error, PolicyError::InvalidInput(m) if m.contains(fragment)),
            "{error}"
        );
    }
}

#[test]
fn the_test_runner_reports_failures_with_positions() {
    let set = PolicySet::load(
        &fixtures().join("failing_tests"),
        calendar(),
        Limits::default(),
    )
    .unwrap();
    let report = set.run_tests();
    assert_eq!((report.passed, report.failed), (2, 3), "{report}");
    let found: Vec<(&str, usize, usize, &str)> = report
        .failures
        .iter()
        .map(|f| (f.file.as_str(), f.line, f.column, f.case.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            (
                "default/tests/deadline.json",
                9,
                13,
                "fails: expects 15 working days"
            ),
            (
                "default/tests/deadline.json",
                15,
                13,
                "fails: expects an error that does not happen"
            ),
            (
                "default/tests/routing.json",
                8,
                13,
                "fails: expects a key the output does not have"
            ),
        ]
    );
    assert_eq!(
        report.failures[0].message,
        "phases[0].amount: expected 15, got 5"
    );
    assert!(report.failures[2].message.contains("no team"));
    let printed = report.to_string();
    assert!(
        printed.contains("FAIL default/tests/deadline.json:9:13: fails: expects 15 working days (deadline, county 410400)"),
        "{printed}"
    );
    assert_eq!(printed.lines().last(), Some("2 passed, 3 failed"));

    // Malformed test data fails the load with its position.
    let mut files = set.files().clone();
    files.insert(
        "default/tests/veto.json".into(),
        "[\n  { \"name\": \"x\", \"input\": {}, \"expect\": {}, \"expcet_error\": \"y\" }\n]"
            .into(),
    );
    let error = PolicySet::from_files(&files, calendar(), Limits::default()).unwrap_err();
    assert!(
        matches!(&error, PolicyError::Tests { file, line: 2, .. } if file == "default/tests/veto.json"),
        "{error}"
    );
    assert!(error.to_string().contains("expcet_error"), "{error}");
    files.insert(
        "default/tests/veto.json".into(),
        "[{ \"name\": \"x\", \"input\": {} }]".into(),
    );
    let error = PolicySet::from_files(&files, calendar(), Limits::default()).unwrap_err();
    assert!(error.to_string().contains("exactly one of"), "{error}");
    files.insert(
        "default/tests/misc.json".into(),
        "[{ \"name\": \"x\", \"input\": {}, \"expect\": {} }]".into(),
    );
    let error = PolicySet::from_files(&files, calendar(), Limits::default()).unwrap_err();
    assert!(error.to_string().contains("no hook"), "{error}");
}

#[test]
fn hooks_have_stable_names() {
    for hook in Hook::ALL {
        assert_eq!(Hook::from_str(hook.name()).unwrap(), hook);
        assert_eq!(
            serde_json::to_value(hook).unwrap(),
            json!(hook.name()),
            "{hook}"
        );
        assert_eq!(hook.file_name(), format!("{hook}.rhai"));
    }
    assert_eq!(Hook::DefaultRating.name(), "default_rating");
    assert!(matches!(
        Hook::from_str("deadlines"),
        Err(PolicyError::UnknownHook(_))
    ));
}

#[test]
fn a_policy_set_is_shared_between_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<PolicySet>();
    let set = shipped();
    let input = real_name_bad_review("2026-02-13T10:00:00+08:00");
    let expected = set.deadline("410421", &input).unwrap();
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                for _ in 0..50 {
                    assert_eq!(set.deadline("410421", &input).unwrap(), expected);
                }
            });
        }
    });
}

#[test]
fn helpers_compute_on_the_loaded_calendar() {
    // Each row is [actual, expected]; the script throws on the first that differs.
    let script = r#"
fn routing(input) {
    let checks = [
        [is_working_day("2026-02-14"), true],
        [is_working_day("2026-02-16"), false],
        [is_working_day("2026-02-14T01:00:00Z"), true],
        [weekday("2026-02-14"), 6],
        [working_days_between("2026-02-13", "2026-02-24"), 2],
        [working_days_between("2026-02-24", "2026-02-13"), 0],
        [local_date("2026-02-13T16:30:00Z"), "2026-02-14"],
        [local_hour("2026-02-13T16:30:00Z"), 0],
        [add_working_days("2026-02-13T10:00:00+08:00", 1), "2026-02-14T16:00:00Z"],
        [add_working_days("2026-02-13T10:00:00+08:00", 0), "2026-02-13T16:00:00Z"],
        [add_natural_days("2026-02-13T10:00:00+08:00", 1), "2026-02-14T16:00:00Z"],
        [add_natural_days("2031-02-13T10:00:00+08:00", 1), "2031-02-14T16:00:00Z"],
        [add_hours("2026-02-13T10:00:00+08:00", 4), "2026-02-13T06:00:00Z"],
        [seconds_between("2026-02-13T10:00:00+08:00", "2026-02-13T10:01:00+08:00"), 60],
        [percent(0.875, 1), "87.5%"],
        [percent(1, 0), "100%"],
        [parse_decimal("0.9512") * 30, 28.536],
        [(0.9505 * 30).round_half_up(2), 28.52],
        [7 / 2, 3],
        [7 / 2.0, 3.5],
    ];
    for (check, index) in checks {
        if check[0] != check[1] {
            throw `check ${index}: ${check[0]} != ${check[1]}`;
        }
    }
    let category = switch "511" { "510" | "511" => "waiting", _ => "other" };
    #{ unit: "D", category: category, priority: "normal" }
}
"#;
    let set = county_script(Hook::Routing, script, Limits::default());
    let out = set.eval(Hook::Routing, "410402", &routing_input()).unwrap();
    assert_eq!(out.output["category"], "waiting");

    // Helpers refuse bad arguments with their own name in the message.
    for (call, fragment) in [
        (
            "add_hours(\"2026-02-13\", 1)",
            "add_hours: \"2026-02-13\" is not an RFC 3339 instant",
        ),
        (
            "add_working_days(\"2026-02-13T10:00:00Z\", -1)",
            "-1 is not a count",
        ),
        ("is_working_day(\"2026-13-01\")", "is not a date"),
        ("is_working_day(\"2027-01-04\")", "2027"),
    ] {
        let script = format!(
            "fn routing(input) {{ {call}; #{{ unit: \"D\", category: \"other\", priority: \"low\" }} }}"
        );
        let set = county_script(Hook::Routing, &script, Limits::default());
        let error = set
            .eval(Hook::Routing, "410402", &routing_input())
            .unwrap_err();
        assert!(error.to_string().contains(fragment), "{call}: {error}");
    }
}

#[test]
fn modules_export_functions_and_constants() {
    let files = with(&[
        (
            "default/lib/thresholds.rhai",
            Some("export const STREAK = 3;\nfn label() { \"streak\" }"),
        ),
        (
            "410402/integrity.rhai",
            Some(
                "import \"thresholds\" as t;\nfn integrity(input) {\n    if input.top_streak_before + 1 >= t::STREAK { #{ flags: [ #{ code: t::label(), reason: \"x\" } ] } } else { #{ flags: [] } }\n}",
            ),
        ),
    ]);
    let set = build(&files).unwrap();
    let input = json!({"channel": "hall_device", "level": "very_satisfied",
        "pressed_at": "2026-03-02T10:00:00+08:00", "top_streak_before": 2, "open_service": true});
    let out = set.eval(Hook::Integrity, "410402", &input).unwrap();
    assert_eq!(out.output["flags"][0]["code"], "streak");
    // The county's integrity hook version covers the module it imports.
    let edited = with(&[
        (
            "default/lib/thresholds.rhai",
            Some("export const STREAK = 4;\nfn label() { \"streak\" }"),
        ),
        (
            "410402/integrity.rhai",
            Some(&files["410402/integrity.rhai"]),
        ),
    ]);
    let edited = build(&edited).unwrap();
    assert_ne!(
        edited.hook_version(Hook::Integrity, "410402"),
        set.hook_version(Hook::Integrity, "410402")
    );
    assert_eq!(
        edited.hook_version(Hook::Integrity, "410421"),
        set.hook_version(Hook::Integrity, "410421")
    );
    assert_eq!(
        edited
            .eval(Hook::Integrity, "410402", &input)
            .unwrap()
            .output["flags"],
        json!([])
    );
}

#[test]
fn nested_imports_work_and_count_in_the_hook_version() {
    let files = with(&[
        (
            "default/lib/inner.rhai",
            Some("fn category() { \"nested\" }"),
        ),
        (
            "default/lib/outer.rhai",
            Some("import \"inner\" as inner;\nfn category() { inner::category() }"),
        ),
        (
            "410402/routing.rhai",
            Some(
                "import \"outer\" as outer;\nfn routing(input) { #{ unit: \"D\", category: outer::category(), priority: \"low\" } }",
            ),
        ),
    ]);
    let set = build(&files).unwrap();
    let out = set.eval(Hook::Routing, "410402", &routing_input()).unwrap();
    assert_eq!(out.output["category"], "nested");

    let mut edited = files.clone();
    edited.insert(
        "default/lib/inner.rhai".into(),
        "fn category() { \"nested_again\" }".into(),
    );
    let edited = build(&edited).unwrap();
    assert_ne!(
        edited.hook_version(Hook::Routing, "410402"),
        set.hook_version(Hook::Routing, "410402")
    );
    assert_eq!(
        edited.hook_version(Hook::Routing, "410421"),
        set.hook_version(Hook::Routing, "410421")
    );
    let out = edited
        .eval(Hook::Routing, "410402", &routing_input())
        .unwrap();
    assert_eq!(out.output["category"], "nested_again");
}

#[test]
fn editor_quirks_are_handled() {
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in shipped_files() {
        let target = dir.path().join(&path);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::write(target, text).unwrap();
    }
    // A byte-order mark (Notepad's UTF-8) is not code; swap and backup files are not rules.
    let routing = dir.path().join("default/routing.rhai");
    let text = std::fs::read_to_string(&routing).unwrap();
    std::fs::write(&routing, format!("\u{feff}{text}")).unwrap();
    let tests = dir.path().join("default/tests/routing.json");
    let text = std::fs::read_to_string(&tests).unwrap();
    std::fs::write(&tests, format!("\u{feff}{text}")).unwrap();
    std::fs::write(dir.path().join("default/.routing.rhai.swp"), [0u8, 1, 2]).unwrap();
    std::fs::write(dir.path().join("default/routing.rhai~"), "broken {").unwrap();
    let set = PolicySet::load(dir.path(), calendar(), Limits::default()).unwrap();
    assert!(set.run_tests().ok());

    // GBK (the default of editors on Chinese Windows) is refused with what to do about it.
    std::fs::write(
        dir.path().join("410421/deadline.rhai"),
        [b'/', b'/', 0xcb, 0xce, 0xb7, 0xe1, b'\n'],
    )
    .unwrap();
    let error = PolicySet::load(dir.path(), calendar(), Limits::default()).unwrap_err();
    assert!(
        matches!(&error, PolicyError::Layout { file, message } if file == "410421/deadline.rhai" && message.contains("UTF-8")),
        "{error}"
    );

    // A folder that is neither default/ nor a county code but holds scripts is refused, and one
    // without scripts (calendar/) is not a policy folder at all.
    std::fs::remove_file(dir.path().join("410421/deadline.rhai")).unwrap();
    std::fs::create_dir_all(dir.path().join("baofeng")).unwrap();
    std::fs::write(
        dir.path().join("baofeng/deadline.rhai"),
        "fn deadline(input) {}",
    )
    .unwrap();
    let error = PolicySet::load(dir.path(), calendar(), Limits::default()).unwrap_err();
    assert!(
        error.to_string().contains("baofeng/ is not a scope"),
        "{error}"
    );
    let error =
        PolicySet::load(&dir.path().join("missing"), calendar(), Limits::default()).unwrap_err();
    assert!(matches!(error, PolicyError::Io { .. }), "{error}");
}
