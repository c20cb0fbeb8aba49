//! Policy tests for bureau editors: data cases beside the scripts (`<scope>/tests/*.json`), run by
//! `hcp rules test` and before any rules version becomes active.
//!
//! A test file is a JSON array of cases:
//!
//! ```json
//! [{ "name": "实名差评 春节前", "county": "410421", "input": { … },
//!    "expect": { "phases": [ … ] } },
//!  { "name": "跨年", "input": { … }, "expect_error": "2027" }]
//! ```
//!
//! `hook` defaults to the file name (`deadline.json`); `county` to the scope's county (410400, the
//! city, for `default/`). `expect` is matched against the hook's checked output: objects match when
//! every key given matches (other keys are ignored), arrays item by item with the same length,
//! decimals by value (`"28.50"` = `"28.5"` = `28.5`), instants by the moment they name (a China
//! time `+08:00` equals its UTC `Z` form). `expect_error` passes when the call fails with a message
//! containing the text.

use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use chrono::DateTime;
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::Value;

use super::engine::position_of;
use super::{Hook, Limits, PolicyError, PolicySet, county_of, is_county_code};
use crate::calendar::Calendar;

/// The county default cases run for: 平顶山市 itself, which no county folder overrides.
const CITY: &str = "410400";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCase {
    name: String,
    #[serde(default)]
    hook: Option<Hook>,
    #[serde(default)]
    county: Option<String>,
    input: Value,
    #[serde(default)]
    expect: Option<Value>,
    #[serde(default)]
    expect_error: Option<String>,
}

enum Expect {
    Output(Value),
    Error(String),
}

/// One parsed case with the place it was written.
pub(super) struct TestCase {
    file: String,
    line: usize,
    column: usize,
    name: String,
    hook: Hook,
    county: String,
    input: Value,
    expect: Expect,
}

/// Parses one test file; malformed files fail the load with their position.
pub(super) fn parse(file: &str, text: &str, scope: &str) -> Result<Vec<TestCase>, PolicyError> {
    let raw: Vec<RawCase> = serde_json::from_str(text).map_err(|e| PolicyError::Tests {
        file: file.to_owned(),
        line: e.line(),
        column: e.column(),
        message: strip_position(&e.to_string()),
    })?;
    let stem = file
        .rsplit('/')
        .next()
        .and_then(|name| name.strip_suffix(".json"))
        .unwrap_or_default();
    let mut cursor = 0;
    let mut cases = Vec::with_capacity(raw.len());
    for case in raw {
        // serde_json keeps no positions in values: find the case by its name, in order.
        let needle = serde_json::to_string(&case.name).unwrap_or_default();
        let (line, column) = match text.get(cursor..).and_then(|rest| rest.find(&needle)) {
            Some(found) => {
                cursor += found + needle.len();
                position_of(text, cursor - needle.len())
            }
            None => (0, 0),
        };
        let fail = |message: String| PolicyError::Tests {
            file: file.to_owned(),
            line,
            column,
            message: format!("case {:?}: {message}", case.name),
        };
        if case.name.trim().is_empty() {
            return Err(fail("the name is empty".to_owned()));
        }
        let Some(hook) = case.hook.or_else(|| stem.parse().ok()) else {
            return Err(fail(format!(
                "no hook: name the file after a hook (deadline.json …) or give \"hook\", not {stem}.json"
            )));
        };
        let county = case.county.clone().unwrap_or_else(|| {
            if is_county_code(scope) {
                scope.to_owned()
            } else {
                CITY.to_owned()
            }
        });
        if county_of(&county).is_none() {
            return Err(fail(format!("county {county:?} is not a 6-digit code")));
        }
        let expect = match (case.expect, case.expect_error) {
            (Some(output), None) => Expect::Output(output),
            (None, Some(fragment)) => Expect::Error(fragment),
            _ => {
                return Err(fail(
                    "give exactly one of \"expect\" (the output) or \"expect_error\" (a fragment of the error)"
                        .to_owned(),
                ));
            }
        };
        cases.push(TestCase {
            file: file.to_owned(),
            line,
            column,
            name: case.name,
            hook,
            county,
            input: case.input,
            expect,
        });
    }
    Ok(cases)
}

fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(index) => message[..index].to_owned(),
        None => message.to_owned(),
    }
}

/// One failed case (or a rules folder that did not load).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestFailure {
    pub file: String,
    /// 1-based; 0 when unknown.
    pub line: usize,
    pub column: usize,
    /// The case name.
    pub case: String,
    /// `None` when the rules did not load at all.
    pub hook: Option<Hook>,
    pub county: String,
    /// What differs, e.g. `phases[2].due: expected "…", got "…"`.
    pub message: String,
    pub expected: String,
    pub actual: String,
}

/// The outcome of a test run. Its `Display` lists the failures and ends with `N passed, N failed`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TestReport {
    pub passed: usize,
    pub failed: usize,
    pub failures: Vec<TestFailure>,
}

impl TestReport {
    /// Whether every case passed.
    pub fn ok(&self) -> bool {
        self.failed == 0
    }
}

impl fmt::Display for TestReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for failure in &self.failures {
            write!(
                f,
                "FAIL {}:{}:{}: {}",
                failure.file, failure.line, failure.column, failure.case
            )?;
            match failure.hook {
                Some(hook) => writeln!(f, " ({hook}, county {})", failure.county)?,
                None => writeln!(f)?,
            }
            writeln!(f, "    {}", failure.message)?;
            if !failure.expected.is_empty() {
                writeln!(f, "    expected: {}", failure.expected)?;
            }
            if !failure.actual.is_empty() {
                writeln!(f, "    actual:   {}", failure.actual)?;
            }
        }
        writeln!(f, "{} passed, {} failed", self.passed, self.failed)
    }
}

pub(super) fn run(set: &PolicySet) -> TestReport {
    let mut report = TestReport::default();
    for case in &set.inner.tests {
        let outcome = set.eval(case.hook, &case.county, &case.input);
        let failure = |message: String, expected: String, actual: String| TestFailure {
            file: case.file.clone(),
            line: case.line,
            column: case.column,
            case: case.name.clone(),
            hook: Some(case.hook),
            county: case.county.clone(),
            message,
            expected,
            actual,
        };
        let failed = match (&case.expect, outcome) {
            (Expect::Output(expected), Ok(evaluated)) => mismatch(expected, &evaluated.output, "")
                .map(|message| {
                    failure(message, expected.to_string(), evaluated.output.to_string())
                }),
            (Expect::Output(expected), Err(error)) => Some(failure(
                format!("the hook failed: {error}"),
                expected.to_string(),
                String::new(),
            )),
            (Expect::Error(fragment), Ok(evaluated)) => Some(failure(
                format!("expected an error containing {fragment:?}, the hook succeeded"),
                String::new(),
                evaluated.output.to_string(),
            )),
            (Expect::Error(fragment), Err(error)) => {
                let message = error.to_string();
                (!message.contains(fragment.as_str())).then(|| {
                    failure(
                        format!("the error does not contain {fragment:?}"),
                        fragment.clone(),
                        message,
                    )
                })
            }
        };
        match failed {
            Some(failure) => {
                report.failed += 1;
                report.failures.push(failure);
            }
            None => report.passed += 1,
        }
    }
    report
}

/// Loads a rules folder and runs its tests; a folder that does not load is one failure naming
/// the file and position, so `hcp rules test` reports it the same way.
pub fn test_folder(dir: &Path, calendar: Arc<Calendar>, limits: Limits) -> TestReport {
    match PolicySet::load(dir, calendar, limits) {
        Ok(set) => set.run_tests(),
        Err(error) => {
            let (file, line, column) = match &error {
                PolicyError::Compile {
                    file, line, column, ..
                }
                | PolicyError::Tests {
                    file, line, column, ..
                }
                | PolicyError::Runtime {
                    file, line, column, ..
                } => (file.clone(), *line, *column),
                PolicyError::Layout { file, .. } | PolicyError::Contract { file, .. } => {
                    (file.clone(), 0, 0)
                }
                PolicyError::Io { path, .. } => (path.display().to_string(), 0, 0),
                _ => (dir.display().to_string(), 0, 0),
            };
            TestReport {
                passed: 0,
                failed: 1,
                failures: vec![TestFailure {
                    file,
                    line,
                    column,
                    case: "loading the rules".to_owned(),
                    hook: None,
                    county: String::new(),
                    message: error.to_string(),
                    expected: String::new(),
                    actual: String::new(),
                }],
            }
        }
    }
}

/// The first place where `actual` does not match `expected`, as `path: expected …, got …`.
fn mismatch(expected: &Value, actual: &Value, path: &str) -> Option<String> {
    let here = if path.is_empty() { "output" } else { path };
    match (expected, actual) {
        (Value::Object(want), Value::Object(got)) => want.iter().find_map(|(key, value)| {
            let inner = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            match got.get(key) {
                Some(found) => mismatch(value, found, &inner),
                None => Some(format!(
                    "{inner}: expected {value}, the output has no {key}"
                )),
            }
        }),
        (Value::Array(want), Value::Array(got)) => {
            if want.len() != got.len() {
                return Some(format!(
                    "{here}: expected {} items, got {}",
                    want.len(),
                    got.len()
                ));
            }
            want.iter()
                .zip(got)
                .enumerate()
                .find_map(|(index, (w, g))| mismatch(w, g, &format!("{path}[{index}]")))
        }
        _ if expected == actual || same_scalar(expected, actual) => None,
        _ => Some(format!(
            "{here}: expected {expected}, got {}",
            in_offset_of(expected, actual)
        )),
    }
}

/// An instant shown in the offset the author wrote the expectation in (China time, usually),
/// so that the two can be compared at a glance.
fn in_offset_of(expected: &Value, actual: &Value) -> String {
    if let (Value::String(want), Value::String(got)) = (expected, actual)
        && let (Ok(want), Ok(got)) = (
            DateTime::parse_from_rfc3339(want),
            DateTime::parse_from_rfc3339(got),
        )
        && want.offset() != got.offset()
    {
        let shown = got.with_timezone(want.offset()).to_rfc3339();
        return format!("{:?} ({actual})", shown);
    }
    actual.to_string()
}

/// Decimals compare by value and instants by the moment, so that authors can write `28.5` for
/// `"28.50"` and China time for a UTC instant.
fn same_scalar(expected: &Value, actual: &Value) -> bool {
    let text = |value: &Value| match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    let (Some(want), Some(got)) = (text(expected), text(actual)) else {
        return false;
    };
    if let (Ok(w), Ok(g)) = (
        DateTime::parse_from_rfc3339(&want),
        DateTime::parse_from_rfc3339(&got),
    ) {
        return w == g;
    }
    let decimal_like = want.contains('.') || got.contains('.') || expected.is_number();
    match (Decimal::from_str(&want), Decimal::from_str(&got)) {
        (Ok(w), Ok(g)) if decimal_like => w == g,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use serde_json::json;

    #[test]
    fn matching_rules() {
        let cases = [
            (json!({"a": 1}), json!({"a": 1, "b": 2}), true),
            (json!({"a": 1}), json!({"a": 2}), false),
            (json!({"a": [1, 2]}), json!({"a": [1]}), false),
            (json!({"total": 28.5}), json!({"total": "28.50"}), true),
            (json!({"total": "28.5"}), json!({"total": "28.51"}), false),
            (
                json!("2026-02-15T00:00:00+08:00"),
                json!("2026-02-14T16:00:00Z"),
                true,
            ),
            (json!("410421"), json!("0410421"), false),
            (json!({"x": null}), json!({}), false),
        ];
        for (expected, actual, matches) in cases {
            assert_eq!(
                mismatch(&expected, &actual, "").is_none(),
                matches,
                "{expected} vs {actual}"
            );
        }
        assert_eq!(
            mismatch(&json!({"p": [{"d": 1}]}), &json!({"p": [{"d": 2}]}), ""),
            Some("p[0].d: expected 1, got 2".to_owned())
        );
    }
}
