//! Policy host: the county policies (Rhai scripts under `rules/`) that decide deadlines, routing,
//! assessment, veto, invitations, default ratings and integrity flags.
//!
//! This module is the only code that touches Rhai; `rhai::Dynamic` and `rhai::AST` never leave it.
//! Callers hand in typed inputs (or JSON) and get typed outputs (or JSON) that have been checked
//! against each hook's contract, together with the content hash of the rules that decided
//! (`hook_version`), which is recorded next to every decision so that it can be replayed.
//!
//! Layout of a rules folder (`rules/`):
//!
//! ```text
//! default/<hook>.rhai          the city's policy; must define all seven hooks
//! default/lib/<name>.rhai      shared modules: `import "name" as x;`
//! default/tests/*.json         data cases for policy authors (see `testing`)
//! <county>/<hook>.rhai         a 6-digit county code overriding a hook for that county
//! <county>/lib/<name>.rhai     its own modules: `import "<county>/name" as x;`
//! <county>/tests/*.json        its data cases
//! ```
//!
//! Other folders (`calendar/`) are not policies and are skipped unless they hold `.rhai` files.
//!
//! A county's subtree (乡镇, 村, halls) is served by the county's scope: callers holding a 9- or
//! 12-digit region code pass it (or its first 6 digits) as `county`.

mod convert;
mod engine;
mod helpers;
mod hooks;
mod load;
mod testing;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use self::hooks::{
    AssessmentHook, DeadlineHook, DefaultRatingHook, HookIo, IntegrityHook, InvitationHook,
    Refusal, RoutingHook, VetoHook,
};
pub use self::testing::{TestFailure, TestReport, test_folder};
use crate::assessment::AssessmentPolicy;
use crate::calendar::{Calendar, CalendarError};
use crate::hooks::Ruling;
/// The hooks' typed inputs and outputs are domain types (`crate::hooks`); they are named here
/// too, where the host's callers have always found them.
pub use crate::hooks::{
    AssessmentInput, AssessmentItem, AssessmentOutput, AwaitingPhase, DeadlineInput,
    DeadlineOutput, DefaultRatingInput, DefaultRatingOutput, Flag, IntegrityInput, IntegrityOutput,
    Invitation, InvitationInput, InvitationOutput, InviteChannel, Phase, PhaseKind, Priority,
    RoutingInput, RoutingKind, RoutingOutput, UnitPeriodInput, VetoInput, VetoOutput, VetoReason,
    time_phase,
};

/// The seven policy hooks. A hook's script is `<scope>/<hook>.rhai` and defines `fn <hook>(input)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Hook {
    /// Phases and durations of a bad-review work order.
    Deadline,
    /// Responsible unit, category and priority of a work order or suggestion.
    Routing,
    /// A unit's score for a period, itemised.
    Assessment,
    /// Reasons that veto (一票否决) a unit for a period.
    Veto,
    /// When and how an unrated service is invited to be rated.
    Invitation,
    /// Whether and when an unrated service gets a default rating, and which.
    DefaultRating,
    /// Flags on suspicious ratings.
    Integrity,
}

impl Hook {
    pub const ALL: [Hook; 7] = [
        Hook::Deadline,
        Hook::Routing,
        Hook::Assessment,
        Hook::Veto,
        Hook::Invitation,
        Hook::DefaultRating,
        Hook::Integrity,
    ];

    /// The snake_case name: the function a script defines and the stem of its file.
    pub fn name(self) -> &'static str {
        match self {
            Hook::Deadline => "deadline",
            Hook::Routing => "routing",
            Hook::Assessment => "assessment",
            Hook::Veto => "veto",
            Hook::Invitation => "invitation",
            Hook::DefaultRating => "default_rating",
            Hook::Integrity => "integrity",
        }
    }

    /// `<hook>.rhai`.
    pub fn file_name(self) -> String {
        format!("{}.rhai", self.name())
    }
}

impl fmt::Display for Hook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Hook {
    type Err = PolicyError;

    fn from_str(name: &str) -> Result<Hook, PolicyError> {
        Hook::ALL
            .into_iter()
            .find(|hook| hook.name() == name)
            .ok_or_else(|| PolicyError::UnknownHook(name.to_owned()))
    }
}

/// The checks a script's returned map goes through, on their own: `output` (what a script
/// returned, as JSON) read strictly as `hook`'s output for `input` and checked against
/// `calendar`, exactly as the engine checks it after each call. Returns the checked output or
/// the refusal's reason. What the fuzzing harness (`fuzz/`) drives.
pub fn check_output(
    hook: Hook,
    input: &serde_json::Value,
    output: serde_json::Value,
    calendar: &Calendar,
) -> Result<serde_json::Value, String> {
    fn check<H: HookIo>(
        input: &serde_json::Value,
        output: serde_json::Value,
        calendar: &Calendar,
    ) -> Result<serde_json::Value, String> {
        let input: H::Input = serde_json::from_value(input.clone())
            .map_err(|error| format!("{} input: {error}", H::HOOK))?;
        let raw: H::Raw = serde_json::from_value(output).map_err(|error| error.to_string())?;
        let value = H::finish(raw, &input, calendar).map_err(|refusal| match refusal {
            Refusal::Output(message) => message,
            Refusal::Calendar(error) => error.to_string(),
        })?;
        serde_json::to_value(&value).map_err(|error| error.to_string())
    }
    match hook {
        Hook::Deadline => check::<DeadlineHook>(input, output, calendar),
        Hook::Routing => check::<RoutingHook>(input, output, calendar),
        Hook::Assessment => check::<AssessmentHook>(input, output, calendar),
        Hook::Veto => check::<VetoHook>(input, output, calendar),
        Hook::Invitation => check::<InvitationHook>(input, output, calendar),
        Hook::DefaultRating => check::<DefaultRatingHook>(input, output, calendar),
        Hook::Integrity => check::<IntegrityHook>(input, output, calendar),
    }
}

/// The sandbox limits every script runs under. None can be zero: to Rhai zero means unlimited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Operations per call (loop iterations, calls, expressions). Costs nothing measurable.
    pub max_operations: u64,
    /// Nested function calls (stops runaway recursion).
    pub max_call_depth: usize,
    /// Nesting depth of expressions, checked when compiling.
    pub max_expr_depth: usize,
    /// Bytes in one string.
    pub max_string_bytes: usize,
    /// Items in one array.
    pub max_array_len: usize,
    /// Entries in one map.
    pub max_map_len: usize,
    /// Modules one call may import.
    pub max_modules: usize,
    /// Variables alive at once in one call.
    pub max_variables: usize,
    /// Functions one file may define.
    pub max_functions: usize,
    /// Wall-clock time per call (and per module evaluation when loading).
    pub wall_clock: Duration,
}

impl Default for Limits {
    /// Generous for any real policy (the shipped ones use under 1% of each), tight enough that a
    /// runaway script costs a request at most 50 ms.
    fn default() -> Self {
        Limits {
            max_operations: 100_000,
            max_call_depth: 32,
            max_expr_depth: 64,
            max_string_bytes: 64 * 1024,
            max_array_len: 10_000,
            max_map_len: 10_000,
            max_modules: 16,
            max_variables: 1_000,
            max_functions: 256,
            wall_clock: Duration::from_millis(50),
        }
    }
}

impl Limits {
    fn check(&self) -> Result<(), PolicyError> {
        let counts = [
            ("max_operations", self.max_operations),
            ("max_call_depth", self.max_call_depth as u64),
            ("max_expr_depth", self.max_expr_depth as u64),
            ("max_string_bytes", self.max_string_bytes as u64),
            ("max_array_len", self.max_array_len as u64),
            ("max_map_len", self.max_map_len as u64),
            ("max_modules", self.max_modules as u64),
            ("max_variables", self.max_variables as u64),
            ("max_functions", self.max_functions as u64),
            (
                "wall_clock",
                self.wall_clock.as_nanos().min(u128::from(u64::MAX)) as u64,
            ),
        ];
        match counts.iter().find(|(_, value)| *value == 0) {
            Some((name, _)) => Err(PolicyError::InvalidInput(format!(
                "limit {name} is zero; rhai would read that as unlimited"
            ))),
            None => Ok(()),
        }
    }
}

/// Which limit stopped a script.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitKind {
    Operations,
    CallDepth,
    StringSize,
    ArraySize,
    MapSize,
    Modules,
    Variables,
    WallClock,
}

/// Everything that can go wrong loading or running policies. Messages are lowercase and name
/// the file, position, hook or limit involved.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("cannot read rules at {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A file is where no rules file belongs (a misspelt hook name, a folder that is not a county).
    #[error("{file}: {message}")]
    Layout { file: String, message: String },
    #[error("{file}:{line}:{column}: {message}")]
    Compile {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    /// A script does not define its hook function as documented (e.g. an empty file).
    #[error("{file}: hook {hook}: {message}")]
    Contract {
        file: String,
        hook: Hook,
        message: String,
    },
    /// A test data file is malformed.
    #[error("{file}:{line}:{column}: {message}")]
    Tests {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    /// The script failed while running; `limit` says which sandbox limit stopped it, if one did.
    #[error("{file}:{line}:{column}: {message}")]
    Runtime {
        file: String,
        line: usize,
        column: usize,
        limit: Option<LimitKind>,
        message: String,
    },
    /// The script ran but returned something that breaks the hook's contract.
    #[error("{hook} policy of scope {scope} returned an invalid result: {message}")]
    Output {
        hook: Hook,
        scope: String,
        message: String,
    },
    /// Working-day arithmetic the calendar refuses (e.g. past the last loaded year).
    #[error(transparent)]
    Calendar(#[from] CalendarError),
    #[error(
        "unknown hook {0:?}, expected one of deadline, routing, assessment, veto, invitation, default_rating, integrity"
    )]
    UnknownHook(String),
    #[error("invalid input: {0}")]
    InvalidInput(String),
}

impl PolicyError {
    /// The sandbox limit that stopped a script, if that is what happened.
    pub fn limit(&self) -> Option<LimitKind> {
        match self {
            PolicyError::Runtime { limit, .. } => *limit,
            _ => None,
        }
    }
}

/// A JSON result of [`PolicySet::eval`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluated {
    pub output: serde_json::Value,
    /// Content hash of the rules that decided (see [`PolicySet::hook_version`]).
    pub hook_version: String,
    /// `default` or the county code whose folder served the hook.
    pub scope: String,
    /// The first year without an official holiday table the decision was counted on (a
    /// provisional table) or waits for; `None` when it rests on official tables only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provisional: Option<i32>,
}

/// A typed result: the value and which rules decided it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decided<T> {
    pub value: T,
    pub hook_version: String,
    pub scope: String,
    /// As [`Evaluated::provisional`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provisional: Option<i32>,
}

/// A compiled, contract-checked rules version. Cheap to clone and share between threads; a new
/// version is built beside the active one and swapped in whole.
#[derive(Clone)]
pub struct PolicySet {
    inner: Arc<load::Inner>,
}

impl fmt::Debug for PolicySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PolicySet")
            .field("version", &self.inner.version)
            .field("files", &self.inner.files.len())
            .finish_non_exhaustive()
    }
}

/// `410421` → `410421`; a 9- or 12-digit region code → its county (first 6 digits).
fn county_of(code: &str) -> Option<&str> {
    let digits = code.bytes().all(|b| b.is_ascii_digit());
    match code.len() {
        6 | 9 | 12 if digits => code.get(..6),
        _ => None,
    }
}

fn is_county_code(name: &str) -> bool {
    name.len() == 6 && name.bytes().all(|b| b.is_ascii_digit())
}

impl PolicySet {
    /// Reads a rules folder (`<dir>/default/`, `<dir>/<county>/`), compiles every script with the
    /// one engine, checks each hook's contract and parses the test data. `default/` must define
    /// every hook.
    pub fn load(
        dir: &Path,
        calendar: Arc<Calendar>,
        limits: Limits,
    ) -> Result<PolicySet, PolicyError> {
        let files = load::read_dir(dir)?;
        PolicySet::from_files(&files, calendar, limits)
    }

    /// The same from in-memory files (relative path with `/` → text), for candidates and for
    /// re-activating a stored version.
    pub fn from_files(
        files: &BTreeMap<String, String>,
        calendar: Arc<Calendar>,
        limits: Limits,
    ) -> Result<PolicySet, PolicyError> {
        limits.check()?;
        let inner = load::build(files, calendar, limits)?;
        Ok(PolicySet {
            inner: Arc::new(inner),
        })
    }

    /// Every file of this version, by relative path.
    pub fn files(&self) -> &BTreeMap<String, String> {
        &self.inner.files
    }

    /// Content hash of the whole set: sha256 hex over the sorted paths and contents.
    pub fn version(&self) -> &str {
        &self.inner.version
    }

    /// The calendar the helpers and due instants use.
    pub fn calendar(&self) -> &Arc<Calendar> {
        &self.inner.calendar
    }

    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    /// Content hash of what decides `hook` for `county`: the serving file (the county's if it
    /// overrides, else the default one) and every module it imports, directly or not. Record it
    /// next to each decision. An unknown or malformed county gets the default scope's version.
    pub fn hook_version(&self, hook: Hook, county: &str) -> String {
        self.inner
            .compiled(hook, county)
            .map(|c| c.hook_version.clone())
            .unwrap_or_default()
    }

    /// Which scope serves `county` for `hook`: the county's folder if it defines that hook, else
    /// `"default"`. `county` is a 6-digit county code; a 9- or 12-digit region code is served by
    /// its county (the first 6 digits).
    pub fn scope_for(&self, hook: Hook, county: &str) -> &str {
        self.inner.scope_for(hook, county)
    }

    /// Runs one hook on a JSON input (the hook's input type as JSON) and returns its checked
    /// output as JSON; for deadlines, with the due instants.
    pub fn eval(
        &self,
        hook: Hook,
        county: &str,
        input: &serde_json::Value,
    ) -> Result<Evaluated, PolicyError> {
        match hook {
            Hook::Deadline => self.eval_json::<DeadlineHook>(county, input),
            Hook::Routing => self.eval_json::<RoutingHook>(county, input),
            Hook::Assessment => self.eval_json::<AssessmentHook>(county, input),
            Hook::Veto => self.eval_json::<VetoHook>(county, input),
            Hook::Invitation => self.eval_json::<InvitationHook>(county, input),
            Hook::DefaultRating => self.eval_json::<DefaultRatingHook>(county, input),
            Hook::Integrity => self.eval_json::<IntegrityHook>(county, input),
        }
    }

    /// Phases of a bad-review work order with their due instants.
    pub fn deadline(
        &self,
        county: &str,
        input: &DeadlineInput,
    ) -> Result<Decided<DeadlineOutput>, PolicyError> {
        self.run::<DeadlineHook>(county, input)
    }

    /// Responsible unit, category and priority.
    pub fn routing(
        &self,
        county: &str,
        input: &RoutingInput,
    ) -> Result<Decided<RoutingOutput>, PolicyError> {
        self.run::<RoutingHook>(county, input)
    }

    /// A unit's score for a period with its breakdown.
    pub fn assessment(
        &self,
        county: &str,
        input: &AssessmentInput,
    ) -> Result<Decided<AssessmentOutput>, PolicyError> {
        self.run::<AssessmentHook>(county, input)
    }

    /// Reasons to veto a unit for a period; the caller applies the veto when there are any.
    pub fn veto(
        &self,
        county: &str,
        input: &VetoInput,
    ) -> Result<Decided<VetoOutput>, PolicyError> {
        self.run::<VetoHook>(county, input)
    }

    /// The invitation plan of an unrated service.
    pub fn invitation(
        &self,
        county: &str,
        input: &InvitationInput,
    ) -> Result<Decided<InvitationOutput>, PolicyError> {
        self.run::<InvitationHook>(county, input)
    }

    /// Whether and when an unrated service gets a default rating.
    pub fn default_rating(
        &self,
        county: &str,
        input: &DefaultRatingInput,
    ) -> Result<Decided<DefaultRatingOutput>, PolicyError> {
        self.run::<DefaultRatingHook>(county, input)
    }

    /// Integrity flags of one rating.
    pub fn integrity(
        &self,
        county: &str,
        input: &IntegrityInput,
    ) -> Result<Decided<IntegrityOutput>, PolicyError> {
        self.run::<IntegrityHook>(county, input)
    }

    /// Runs every data case beside the scripts.
    pub fn run_tests(&self) -> TestReport {
        testing::run(self)
    }

    fn eval_json<H: HookIo>(
        &self,
        county: &str,
        input: &serde_json::Value,
    ) -> Result<Evaluated, PolicyError> {
        let typed: H::Input = serde_json::from_value(input.clone())
            .map_err(|e| PolicyError::InvalidInput(format!("{} input: {e}", H::HOOK)))?;
        let decided = self.run::<H>(county, &typed)?;
        let output = serde_json::to_value(&decided.value).map_err(|e| PolicyError::Output {
            hook: H::HOOK,
            scope: decided.scope.clone(),
            message: e.to_string(),
        })?;
        Ok(Evaluated {
            output,
            hook_version: decided.hook_version,
            scope: decided.scope,
            provisional: decided.provisional,
        })
    }

    /// The one path every call takes: input → script map, call under the limits, returned map →
    /// strict output type → the hook's own checks (and, for deadlines, the calendar).
    fn run<H: HookIo>(
        &self,
        county: &str,
        input: &H::Input,
    ) -> Result<Decided<H::Output>, PolicyError> {
        let hook = H::HOOK;
        let county = county_of(county).ok_or_else(|| {
            PolicyError::InvalidInput(format!(
                "county {county:?} is not a 6-digit county code (or a 9/12-digit region code)"
            ))
        })?;
        let mut json = serde_json::to_value(input)
            .map_err(|e| PolicyError::InvalidInput(format!("{hook} input: {e}")))?;
        if let Some(fields) = json.as_object_mut() {
            match fields.get("county").and_then(|c| c.as_str()) {
                None | Some("") => {
                    fields.insert("county".to_owned(), county.into());
                }
                Some(given) if county_of(given) == Some(county) => {}
                Some(given) => {
                    return Err(PolicyError::InvalidInput(format!(
                        "input county {given} differs from the county asked for, {county}"
                    )));
                }
            }
        }
        let script_input =
            convert::to_script(&json, H::DECIMAL_MAPS).map_err(PolicyError::InvalidInput)?;
        let compiled = self.inner.compiled(hook, county).ok_or_else(|| {
            // `build` guarantees default/ defines every hook; this is a bug, not a user error.
            PolicyError::Contract {
                file: format!("default/{}", hook.file_name()),
                hook,
                message: "no script serves this hook".to_owned(),
            }
        })?;
        helpers::reset_provisional();
        let returned = engine::call_hook(
            &self.inner.engine,
            &self.inner.limits,
            &compiled.ast,
            hook,
            &compiled.file,
            compiled.fn_position,
            script_input,
        )?;
        let output_error = |message: String| PolicyError::Output {
            hook,
            scope: compiled.scope.clone(),
            message,
        };
        let returned = convert::from_script(&returned).map_err(output_error)?;
        let raw: H::Raw =
            serde_json::from_value(returned).map_err(|e| output_error(e.to_string()))?;
        let noted = helpers::take_provisional();
        let value =
            H::finish(raw, input, &self.inner.calendar).map_err(|refusal| match refusal {
                Refusal::Output(message) => output_error(message),
                Refusal::Calendar(error) => PolicyError::Calendar(error),
            })?;
        let provisional = [noted, H::provisional(&value, &self.inner.calendar)]
            .into_iter()
            .flatten()
            .min();
        Ok(Decided {
            value,
            hook_version: compiled.hook_version.clone(),
            scope: compiled.scope.clone(),
            provisional,
        })
    }
}

/// The assessment reaches the county's assessment and veto hooks through this. A failed hook
/// still names the rules that failed, so that the run records which version to fix.
impl AssessmentPolicy for PolicySet {
    type Error = PolicyError;

    fn score(
        &self,
        county: &str,
        input: &AssessmentInput,
    ) -> Ruling<AssessmentOutput, PolicyError> {
        match self.assessment(county, input) {
            Ok(decided) => Ruling {
                outcome: Ok(decided.value),
                hook_version: decided.hook_version,
            },
            Err(error) => Ruling {
                outcome: Err(error),
                hook_version: self.hook_version(Hook::Assessment, county),
            },
        }
    }

    fn veto_reasons(
        &self,
        county: &str,
        input: &VetoInput,
    ) -> Ruling<Vec<VetoReason>, PolicyError> {
        match self.veto(county, input) {
            Ok(decided) => Ruling {
                outcome: Ok(decided.value.reasons),
                hook_version: decided.hook_version,
            },
            Err(error) => Ruling {
                outcome: Err(error),
                hook_version: self.hook_version(Hook::Veto, county),
            },
        }
    }
}
