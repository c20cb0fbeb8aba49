//! The one sandboxed Rhai engine, built in [`build_engine`] and nowhere else, with the module
//! resolver that confines `import` to the rules, the wall-clock limit, and the translation of
//! Rhai's errors into [`PolicyError`]s that name the file, the position and the limit hit.

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use rhai::module_resolvers::ModuleResolver;
use rhai::packages::{
    BasicArrayPackage, BasicMapPackage, BasicMathPackage, BitFieldPackage, CorePackage,
    LogicPackage, MoreStringPackage, Package,
};
use rhai::{
    AST, CallFnOptions, Dynamic, Engine, EvalAltResult, INT, Module, ParseError, ParseErrorType,
    Position, Scope, Shared,
};

use super::helpers::{self, CalendarFault};
use super::{Hook, LimitKind, Limits, PolicyError};
use crate::calendar::Calendar;

/// Builds the policy engine: the only place a Rhai [`Engine`] is made, so that every script runs
/// under the same sandbox.
///
/// - Only pure packages: no `timestamp()` (the time package is left out), `sleep` replaced by an
///   error, `eval` disabled, `print`/`debug` go to tracing instead of stdout.
/// - Every limit set from [`Limits`] (a zero would mean "unlimited" to Rhai, so `Limits::check`
///   refuses zeros before this runs), plus the wall-clock limit checked from the progress callback.
/// - Strict variables and strict map properties, so that a misspelt variable fails at load time
///   and a misspelt input field (`input.real_nmae`) fails instead of reading as `()`.
/// - `import` resolves only the rules' own `lib/` modules, through [`RulesResolver`].
pub(super) fn build_engine(
    limits: &Limits,
    calendar: &Arc<Calendar>,
    modules: Arc<ModuleTable>,
) -> Engine {
    let mut engine = Engine::new_raw();
    // `StandardPackage` minus `BasicTimePackage` (the clock) and `BasicBlobPackage` (no use).
    engine.register_global_module(CorePackage::new().as_shared_module());
    engine.register_global_module(BitFieldPackage::new().as_shared_module());
    engine.register_global_module(LogicPackage::new().as_shared_module());
    engine.register_global_module(BasicMathPackage::new().as_shared_module());
    engine.register_global_module(BasicArrayPackage::new().as_shared_module());
    engine.register_global_module(BasicMapPackage::new().as_shared_module());
    engine.register_global_module(MoreStringPackage::new().as_shared_module());
    // The core package's `sleep` would block a worker beyond the reach of the wall-clock check;
    // functions registered on the engine itself take precedence over packages.
    engine.register_fn("sleep", |_: INT| -> Result<(), Box<EvalAltResult>> {
        Err("sleep is not available to policies: scripts must be pure".into())
    });
    engine.disable_symbol("eval");

    engine.set_max_operations(limits.max_operations);
    engine.set_max_call_levels(limits.max_call_depth);
    engine.set_max_expr_depths(limits.max_expr_depth, limits.max_expr_depth);
    engine.set_max_string_size(limits.max_string_bytes);
    engine.set_max_array_size(limits.max_array_len);
    engine.set_max_map_size(limits.max_map_len);
    engine.set_max_modules(limits.max_modules);
    engine.set_max_variables(limits.max_variables);
    engine.set_max_functions(limits.max_functions);
    engine.set_strict_variables(true);
    engine.set_fail_on_invalid_map_property(true);

    engine.on_progress(|operations| {
        // Reading the clock every 256 operations keeps its cost out of the measurements while
        // still stopping a runaway script within microseconds of its budget.
        if operations % 256 == 0 && DEADLINE.get().is_some_and(|at| Instant::now() >= at) {
            Some(Dynamic::from("wall_clock"))
        } else {
            None
        }
    });
    engine.on_print(|text| tracing::debug!(target: "hcp::policy", "print: {text}"));
    engine.on_debug(|text, source, position| {
        tracing::debug!(target: "hcp::policy", source = source.unwrap_or(""), %position, "debug: {text}")
    });

    helpers::register(&mut engine, calendar);
    engine.set_module_resolver(RulesResolver(modules));
    engine
}

thread_local! {
    /// The instant the script running on this thread must stop by. A thread-local because the
    /// progress callback is shared by every call, while each call has its own deadline.
    static DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Arms the wall-clock limit for the script about to run on this thread; disarms on drop.
struct WallClock {
    previous: Option<Instant>,
}

impl WallClock {
    fn start(limits: &Limits) -> WallClock {
        let previous = DEADLINE.get();
        // A nested start (a module evaluated while a script compiles) keeps the outer budget.
        if previous.is_none() {
            DEADLINE.set(Instant::now().checked_add(limits.wall_clock));
        }
        WallClock { previous }
    }
}

impl Drop for WallClock {
    fn drop(&mut self) {
        DEADLINE.set(self.previous);
    }
}

// ---------------------------------------------------------------------------------------------
// modules

/// The importable modules of one rules version: `<scope>/lib/<name>.rhai` files, evaluated once
/// and cached, with a record of which ones each compilation pulled in (for hook versions).
pub(super) struct ModuleTable {
    /// import path → (file, text)
    sources: BTreeMap<String, (String, String)>,
    limits: Limits,
    state: Mutex<ResolverState>,
}

#[derive(Default)]
struct ResolverState {
    cache: BTreeMap<String, Shared<Module>>,
    /// import path → the import paths its own top level imports.
    deps: BTreeMap<String, BTreeSet<String>>,
    in_progress: Vec<String>,
    /// Import paths resolved since the last [`ModuleTable::take_session`].
    used: BTreeSet<String>,
    /// The first detailed error since the last session, with the module's own file and position.
    error: Option<PolicyError>,
}

impl ModuleTable {
    /// `modules` maps import paths (`name`, `410421/name`) to their file and text.
    pub(super) fn new(modules: BTreeMap<String, (String, String)>, limits: &Limits) -> Self {
        ModuleTable {
            sources: modules,
            limits: limits.clone(),
            state: Mutex::new(ResolverState::default()),
        }
    }

    pub(super) fn import_paths(&self) -> Vec<String> {
        self.sources.keys().cloned().collect()
    }

    fn state(&self) -> MutexGuard<'_, ResolverState> {
        // The state is a cache and a record; a panic elsewhere cannot leave it inconsistent in a
        // way that matters more than refusing to load, so a poisoned lock is simply taken over.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Clears and returns what the last compilation used (the transitive closure, as files) and
    /// its first module error.
    fn take_session(&self) -> (BTreeSet<String>, Option<PolicyError>) {
        let mut state = self.state();
        let used = std::mem::take(&mut state.used);
        let error = state.error.take();
        let mut closure = BTreeSet::new();
        let mut stack: Vec<String> = used.into_iter().collect();
        while let Some(path) = stack.pop() {
            if closure.insert(path.clone())
                && let Some(next) = state.deps.get(&path)
            {
                stack.extend(next.iter().cloned());
            }
        }
        let files = closure
            .iter()
            .filter_map(|path| self.sources.get(path).map(|(file, _)| file.clone()))
            .collect();
        (files, error)
    }

    fn record_error(&self, error: PolicyError) {
        let mut state = self.state();
        if state.error.is_none() {
            state.error = Some(error);
        }
    }

    fn evaluate(
        &self,
        engine: &Engine,
        file: &str,
        text: &str,
    ) -> Result<Shared<Module>, PolicyError> {
        let mut ast = engine.compile(text).map_err(|e| parse_error(file, &e))?;
        ast.set_source(file);
        let _clock = WallClock::start(&self.limits);
        Module::eval_ast_as_new(Scope::new(), &ast, engine)
            .map(Shared::new)
            .map_err(|e| script_error(&e, file, (0, 0), &self.limits))
    }
}

/// Maps an import path to its file: `"name"` → `default/lib/name.rhai`, `"410421/name"` →
/// `410421/lib/name.rhai`. Anything else (`..`, absolute paths, extensions) is refused, which is
/// what confines imports to the rules folder.
pub(super) fn import_file(path: &str) -> Option<String> {
    let valid_name = |name: &str| {
        !name.is_empty()
            && name.len() <= 64
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    };
    match path.split('/').collect::<Vec<_>>().as_slice() {
        [name] if valid_name(name) => Some(format!("default/lib/{name}.rhai")),
        [county, name] if super::is_county_code(county) && valid_name(name) => {
            Some(format!("{county}/lib/{name}.rhai"))
        }
        _ => None,
    }
}

struct RulesResolver(Arc<ModuleTable>);

impl ModuleResolver for RulesResolver {
    fn resolve(
        &self,
        engine: &Engine,
        _source: Option<&str>,
        path: &str,
        position: Position,
    ) -> Result<Shared<Module>, Box<EvalAltResult>> {
        let table = &self.0;
        let not_found = |message: String| {
            Box::new(EvalAltResult::ErrorInModule(
                path.to_owned(),
                Box::new(EvalAltResult::ErrorRuntime(message.into(), Position::NONE)),
                position,
            ))
        };
        let Some(file) = import_file(path) else {
            return Err(not_found(format!(
                "import {path:?} is not a rules module: write \"name\" for default/lib/name.rhai or \"<county code>/name\" for <county code>/lib/name.rhai"
            )));
        };
        let Some((file, text)) = table.sources.get(path) else {
            return Err(not_found(format!("import {path:?}: there is no {file}")));
        };
        {
            let mut state = table.state();
            if let Some(parent) = state.in_progress.last().cloned() {
                state
                    .deps
                    .entry(parent)
                    .or_default()
                    .insert(path.to_owned());
            }
            state.used.insert(path.to_owned());
            if let Some(module) = state.cache.get(path) {
                return Ok(module.clone());
            }
            if state.in_progress.iter().any(|p| p == path) {
                let chain = state.in_progress.join(" → ");
                drop(state);
                let message = format!("import cycle: {chain} → {path}");
                table.record_error(PolicyError::Compile {
                    file: file.clone(),
                    line: 0,
                    column: 0,
                    message: message.clone(),
                });
                return Err(not_found(message));
            }
            state.in_progress.push(path.to_owned());
        }
        // The lock is released while the module runs: its own imports come back here.
        let result = table.evaluate(engine, file, text);
        let mut state = table.state();
        state.in_progress.pop();
        match result {
            Ok(module) => {
                state.cache.insert(path.to_owned(), module.clone());
                Ok(module)
            }
            Err(error) => {
                let message = error.to_string();
                drop(state);
                table.record_error(error);
                Err(not_found(message))
            }
        }
    }
}

/// Evaluates every module once, so that a broken module fails the load even if nothing imports
/// it yet.
pub(super) fn preload_modules(
    engine: &Engine,
    table: &Arc<ModuleTable>,
) -> Result<(), PolicyError> {
    let resolver = RulesResolver(table.clone());
    for path in table.import_paths() {
        let _ = table.take_session();
        if let Err(error) = resolver.resolve(engine, None, &path, Position::NONE) {
            let (_, recorded) = table.take_session();
            return Err(
                recorded.unwrap_or_else(|| script_error(&error, &path, (0, 0), &table.limits))
            );
        }
    }
    let _ = table.take_session();
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// compiling and calling

/// Compiles a hook file into a self-contained AST (its imports resolved and embedded now, so a
/// call never resolves anything) and returns the module files it depends on.
pub(super) fn compile_hook(
    engine: &Engine,
    table: &ModuleTable,
    file: &str,
    text: &str,
) -> Result<(AST, BTreeSet<String>), PolicyError> {
    let _ = table.take_session();
    let compiled = {
        let _clock = WallClock::start(&table.limits);
        engine.compile_into_self_contained(&Scope::new(), text)
    };
    let (used, module_error) = table.take_session();
    match compiled {
        Ok(mut ast) => {
            ast.set_source(file);
            Ok((ast, used))
        }
        Err(error) => Err(module_error.unwrap_or_else(|| compile_failure(&error, file, text))),
    }
}

/// Calls `fn <hook>(input)` with a fresh scope under every limit.
pub(super) fn call_hook(
    engine: &Engine,
    limits: &Limits,
    ast: &AST,
    hook: Hook,
    file: &str,
    fn_position: (usize, usize),
    input: Dynamic,
) -> Result<Dynamic, PolicyError> {
    let _clock = WallClock::start(limits);
    // `eval_ast` runs the file's top level first so that `const`s and imports are in place;
    // `rewind_scope` drops whatever it declared, so no call sees another's leftovers.
    let options = CallFnOptions::new().eval_ast(true).rewind_scope(true);
    engine
        .call_fn_with_options::<Dynamic>(options, &mut Scope::new(), ast, hook.name(), (input,))
        .map_err(|error| script_error(&error, file, fn_position, limits))
}

// ---------------------------------------------------------------------------------------------
// errors

fn parse_error(file: &str, error: &ParseError) -> PolicyError {
    let position = error.position();
    PolicyError::Compile {
        file: file.to_owned(),
        line: position.line().unwrap_or(0),
        column: position.position().unwrap_or(0),
        message: parse_message(error.err_type()),
    }
}

fn parse_message(kind: &ParseErrorType) -> String {
    let hint = match kind {
        ParseErrorType::ExprTooDeep => " (limit max_expr_depth)",
        ParseErrorType::TooManyFunctions => " (limit max_functions)",
        ParseErrorType::LiteralTooLarge(..) => " (limit max_string_bytes)",
        _ => "",
    };
    format!("{}{hint}", lowercase_first(&kind.to_string()))
}

/// A compilation that failed outside a module: a parse error of the file itself, or an import
/// that names no module (Rhai reports those without a position, so the import is looked up).
fn compile_failure(error: &EvalAltResult, file: &str, text: &str) -> PolicyError {
    match error {
        EvalAltResult::ErrorParsing(kind, position) => PolicyError::Compile {
            file: file.to_owned(),
            line: position.line().unwrap_or(0),
            column: position.position().unwrap_or(0),
            message: parse_message(kind),
        },
        EvalAltResult::ErrorInModule(path, inner, _) => {
            let (line, column) = locate(text, &format!("{path:?}"));
            PolicyError::Compile {
                file: file.to_owned(),
                line,
                column,
                message: message_of(inner),
            }
        }
        other => {
            let position = other.position();
            PolicyError::Compile {
                file: file.to_owned(),
                line: position.line().unwrap_or(0),
                column: position.position().unwrap_or(0),
                message: message_of(other),
            }
        }
    }
}

/// Translates a runtime error. Nested calls are unwrapped to the innermost error, whose file is
/// the source of the function it happened in; errors Rhai raises without a position (limits) point
/// at the innermost call site, or at `fn <hook>` itself.
pub(super) fn script_error(
    error: &EvalAltResult,
    file: &str,
    fn_position: (usize, usize),
    limits: &Limits,
) -> PolicyError {
    let mut current = error;
    let mut current_file = file.to_owned();
    let mut call_site: Option<(String, Position)> = None;
    loop {
        match current {
            EvalAltResult::ErrorInFunctionCall(_, source, inner, position) => {
                if !position.is_none() {
                    call_site = Some((current_file.clone(), *position));
                }
                if !source.is_empty() {
                    current_file = source.clone();
                }
                current = inner;
            }
            EvalAltResult::ErrorInModule(_, inner, position) => {
                if !position.is_none() {
                    call_site = Some((current_file.clone(), *position));
                }
                current = inner;
            }
            _ => break,
        }
    }
    if let EvalAltResult::ErrorRuntime(value, _) = current
        && let Some(fault) = value.clone().try_cast::<CalendarFault>()
    {
        return PolicyError::Calendar(fault.into_error());
    }
    let position = current.position();
    let (file, line, column) = if !position.is_none() {
        (
            current_file,
            position.line().unwrap_or(0),
            position.position().unwrap_or(0),
        )
    } else if let Some((site_file, site)) = call_site {
        (
            site_file,
            site.line().unwrap_or(0),
            site.position().unwrap_or(0),
        )
    } else {
        (file.to_owned(), fn_position.0, fn_position.1)
    };
    let (limit, message) = classify(current, limits);
    PolicyError::Runtime {
        file,
        line,
        column,
        limit,
        message,
    }
}

fn classify(error: &EvalAltResult, limits: &Limits) -> (Option<LimitKind>, String) {
    match error {
        EvalAltResult::ErrorTooManyOperations(_) => (
            Some(LimitKind::Operations),
            format!(
                "operation limit hit: more than {} operations (limit max_operations); an endless loop?",
                limits.max_operations
            ),
        ),
        EvalAltResult::ErrorStackOverflow(_) => (
            Some(LimitKind::CallDepth),
            format!(
                "call depth limit hit: more than {} nested calls (limit max_call_depth); runaway recursion?",
                limits.max_call_depth
            ),
        ),
        EvalAltResult::ErrorTerminated(..) => (
            Some(LimitKind::WallClock),
            format!(
                "wall-clock limit hit: ran longer than {} ms (limit wall_clock)",
                limits.wall_clock.as_millis()
            ),
        ),
        EvalAltResult::ErrorTooManyModules(_) => (
            Some(LimitKind::Modules),
            format!(
                "module limit hit: more than {} modules (limit max_modules)",
                limits.max_modules
            ),
        ),
        EvalAltResult::ErrorTooManyVariables(_) => (
            Some(LimitKind::Variables),
            format!(
                "variable limit hit: more than {} variables (limit max_variables)",
                limits.max_variables
            ),
        ),
        EvalAltResult::ErrorDataTooLarge(what, _) => {
            let what = what.to_lowercase();
            let (kind, limit, max) = if what.contains("string") {
                (
                    LimitKind::StringSize,
                    "max_string_bytes",
                    limits.max_string_bytes,
                )
            } else if what.contains("map") {
                (LimitKind::MapSize, "max_map_len", limits.max_map_len)
            } else {
                (LimitKind::ArraySize, "max_array_len", limits.max_array_len)
            };
            (
                Some(kind),
                format!("size limit hit: {what} over {max} (limit {limit})"),
            )
        }
        EvalAltResult::ErrorParsing(kind, _) => (None, parse_message(kind)),
        other => (None, message_of(other)),
    }
}

/// The message without Rhai's trailing `(line 3, position 5)`: the position is reported apart.
fn message_of(error: &EvalAltResult) -> String {
    if let EvalAltResult::ErrorRuntime(value, _) = error
        && value.is_string()
    {
        // A thrown or helper-raised string: show it as written, without Rhai's prefix.
        return value.to_string();
    }
    let text = error.to_string();
    let position = error.position();
    let text = if position.is_none() {
        text.as_str()
    } else {
        let suffix = format!(" ({position})");
        text.strip_suffix(suffix.as_str()).unwrap_or(&text)
    };
    lowercase_first(text)
}

fn lowercase_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// 1-based line and column of the first occurrence of `needle`, or (0, 0).
pub(super) fn locate(text: &str, needle: &str) -> (usize, usize) {
    let Some(offset) = text.find(needle) else {
        return (0, 0);
    };
    position_of(text, offset)
}

/// 1-based line and column (in characters) of a byte offset.
pub(super) fn position_of(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    (line, column)
}
